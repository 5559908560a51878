//! Writing evidence bundles atomically: files go into a temporary directory beside the target,
//! the manifest is written last, and the directory is renamed into place only when complete.
//!
//! An interrupted run therefore leaves either the previous bundle or the new one, never half of
//! one. `collect`, `probe` and the fixture tools all write through this one type.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};

use super::manifest::{Item, Manifest};
use super::{is_safe_relative_path, sha256_hex};

pub struct BundleWriter {
    target: PathBuf,
    tmp: tempfile::TempDir,
    pub manifest: Manifest,
}

impl BundleWriter {
    /// Starts a bundle that will be placed at `target` by [`BundleWriter::finish`].
    pub fn new(target: &Path, manifest: Manifest) -> Result<BundleWriter> {
        let parent = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        fs::create_dir_all(&parent)
            .with_context(|| format!("{}: cannot create directory", parent.display()))?;
        let tmp = tempfile::Builder::new()
            .prefix(".siemproof-bundle-")
            .tempdir_in(&parent)
            .with_context(|| {
                format!("{}: cannot create a temporary directory", parent.display())
            })?;
        Ok(BundleWriter {
            target: target.to_path_buf(),
            tmp,
            manifest,
        })
    }

    /// Starts from an existing bundle's files and manifest (e.g. to merge probe results).
    pub fn extend(target: &Path, existing: &Path, manifest: Manifest) -> Result<BundleWriter> {
        let w = BundleWriter::new(target, manifest)?;
        for item in &w.manifest.items {
            if let Some(p) = &item.path {
                let to = w.tmp.path().join(p);
                if let Some(dir) = to.parent() {
                    fs::create_dir_all(dir)?;
                }
                fs::copy(existing.join(p), &to)
                    .with_context(|| format!("{}: cannot copy", existing.join(p).display()))?;
            }
        }
        Ok(w)
    }

    /// Adds a file body and its manifest item (path, sha256 and bytes are filled in here).
    pub fn add_file(&mut self, mut item: Item, path: &str, bytes: &[u8]) -> Result<()> {
        if !is_safe_relative_path(path) {
            bail!("refusing unsafe bundle path {path:?}");
        }
        if self
            .manifest
            .items
            .iter()
            .any(|i| i.path.as_deref() == Some(path))
        {
            // Replacing a file (e.g. re-running probe) drops the old item.
            self.manifest
                .items
                .retain(|i| i.path.as_deref() != Some(path));
        }
        let full = self.tmp.path().join(path);
        if let Some(dir) = full.parent() {
            fs::create_dir_all(dir)?;
        }
        fs::write(&full, bytes).with_context(|| format!("{}: cannot write", full.display()))?;
        item.path = Some(path.to_string());
        item.sha256 = Some(sha256_hex(bytes));
        item.bytes = Some(bytes.len() as u64);
        self.manifest.items.push(item);
        Ok(())
    }

    /// Records a failed request (no body).
    pub fn add_failure(&mut self, item: Item) {
        self.manifest.items.push(item);
    }

    /// Returns a unique file name `raw/<plane>/<kind>[.<n>].json` for the next page of a kind.
    pub fn next_raw_path(&self, plane: &str, kind: &str) -> String {
        let n = self
            .manifest
            .items
            .iter()
            .filter(|i| i.kind == kind && i.path.is_some())
            .count();
        if n == 0 {
            format!("raw/{plane}/{kind}.json")
        } else {
            format!("raw/{plane}/{kind}.{n}.json")
        }
    }

    /// Writes the manifest and moves the bundle into place, replacing any previous one.
    pub fn finish(self, collected_at: Option<DateTime<Utc>>) -> Result<PathBuf> {
        let mut manifest = self.manifest;
        if let Some(at) = collected_at {
            manifest.collected_at = at;
        }
        let json = serde_json::to_vec_pretty(&manifest)?;
        fs::write(self.tmp.path().join("manifest.json"), json)?;
        let tmp = self.tmp.keep();
        replace_dir(&tmp, &self.target)?;
        Ok(self.target)
    }
}

/// Moves `from` to `to`, replacing an existing directory at `to` with as small a window as the
/// filesystem allows: the old one is renamed aside first and removed only after the swap.
pub fn replace_dir(from: &Path, to: &Path) -> Result<()> {
    if to.exists() {
        let aside = to.with_file_name(format!(
            ".{}.old-{}",
            to.file_name().and_then(|s| s.to_str()).unwrap_or("out"),
            std::process::id()
        ));
        fs::rename(to, &aside)
            .with_context(|| format!("{}: cannot move the previous output aside", to.display()))?;
        if let Err(e) = fs::rename(from, to) {
            let _ = fs::rename(&aside, to);
            return Err(e).with_context(|| format!("{}: cannot move into place", to.display()));
        }
        let _ = fs::remove_dir_all(&aside);
    } else {
        fs::rename(from, to)
            .with_context(|| format!("{}: cannot move into place", to.display()))?;
    }
    Ok(())
}
