//! Writing evidence bundles atomically: files go into a temporary directory beside the target,
//! the manifest is written last, and the directory is renamed into place only when complete.
//!
//! An interrupted run therefore leaves either the previous bundle or the new one, never half of
//! one. `collect`, `probe` and the fixture tools all write through this one type. Every file is
//! fsynced before the rename (see [`crate::files`]), and this is the one place evidence is
//! written: manifest URLs, error messages and kept headers pass through [`crate::redact`] here.

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
        crate::files::register_temporary(tmp.path());
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
        crate::files::write_synced(&full, bytes)?;
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
        // The Blob service lists in XML, kept as it came (a lease blob's content is JSON).
        let xml = crate::evidence::kinds::kind(kind)
            .is_some_and(|k| k.paging == crate::evidence::kinds::Paging::NextMarker);
        let ext = if plane == "blob" && xml {
            "xml"
        } else {
            "json"
        };
        if n == 0 {
            format!("raw/{plane}/{kind}.{ext}")
        } else {
            format!("raw/{plane}/{kind}.{n}.{ext}")
        }
    }

    /// Writes the manifest and moves the bundle into place, replacing any previous one.
    pub fn finish(self, collected_at: Option<DateTime<Utc>>) -> Result<PathBuf> {
        self.finish_signed(collected_at, None)
    }

    /// [`BundleWriter::finish`], signing the manifest (`manifest.json.minisig`) inside the
    /// temporary directory first, so the bundle appears signed or not at all.
    pub fn finish_signed(
        self,
        collected_at: Option<DateTime<Utc>>,
        key: Option<&minisign::SecretKey>,
    ) -> Result<PathBuf> {
        let mut manifest = self.manifest;
        if let Some(at) = collected_at {
            manifest.collected_at = at;
        }
        for item in &mut manifest.items {
            redact_item(item);
        }
        let json = serde_json::to_vec_pretty(&manifest)?;
        crate::files::write_synced(&self.tmp.path().join("manifest.json"), &json)?;
        if let Some(sk) = key {
            let sig = crate::sign::manifest::signature_text(&json, &manifest.tenant_id, sk)?;
            crate::files::write_synced(
                &self.tmp.path().join(crate::sign::manifest::SIG),
                sig.as_bytes(),
            )?;
        }
        crate::files::sync_tree_public(self.tmp.path())?;
        let tmp = self.tmp.keep();
        let r = replace_dir(&tmp, &self.target).inspect_err(|_| {
            let _ = fs::remove_dir_all(&tmp);
        });
        crate::files::unregister_temporary(&tmp);
        r?;
        Ok(self.target)
    }
}

/// Redacts what a manifest item copies out of API data: the URL (paging links have carried SAS
/// signatures and tokens), Microsoft's error message, and the kept response headers.
fn redact_item(item: &mut Item) {
    if let Some(src) = &mut item.source {
        crate::redact::in_place(&mut src.url);
    }
    if let Some(e) = &mut item.error {
        crate::redact::in_place(&mut e.message);
        crate::redact::in_place(&mut e.code);
    }
    if let Some(h) = &mut item.headers {
        for v in h.values_mut() {
            crate::redact::in_place(v);
        }
    }
    if let Some(scope) = &mut item.scope {
        crate::redact::in_place(scope);
    }
}

pub use crate::files::replace_dir;
