//! `siemproof export`: one `.tar.gz` holding a signed output (reports, results, the evidence
//! bundle, SHA256SUMS and its signature) under a single top-level directory
//! `siemproof-<run id>/`, and the safe extraction `verify` uses to read such an archive.
//!
//! The archive is written reproducibly (sorted entries, mode 0644, owner 0, the audit clock as
//! mtime). Extraction trusts nothing: absolute paths, `..`, links, devices, oversized entries
//! and too many entries are refused before anything is written outside the temporary directory.

use std::fs;
use std::io::Write;
use std::path::{Component, Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};

use super::sums::{self, SIG, SUMS};
use super::EVIDENCE_DIR;
use crate::results::Results;

/// The most entries an archive may hold.
pub const MAX_ENTRIES: usize = 200_000;
/// The most bytes all entries together may expand to.
pub const MAX_TOTAL_BYTES: u64 = 4 * 1024 * 1024 * 1024;

/// What `export` wrote.
#[derive(Debug)]
pub struct Exported {
    pub archive: PathBuf,
    pub top: String,
    pub files: usize,
    pub signed_now: bool,
}

/// Builds the archive. With `sk`, the staged copy is (re)signed; without it, `results_dir`
/// must already be signed and unchanged since (checked against its SHA256SUMS).
pub fn export(
    results_dir: &Path,
    bundle: Option<&Path>,
    sk: Option<&minisign::SecretKey>,
    out: &Path,
) -> Result<Exported> {
    let results = Results::load(&results_dir.join("results.json"))?;
    let top = format!("siemproof-{}", results.run.id);
    let stage = tempfile::Builder::new()
        .prefix(".siemproof-export-")
        .tempdir()
        .context("cannot create a temporary directory")?;
    let root = stage.path().join(&top);
    fs::create_dir_all(&root)?;
    let resign = sk.is_some() || bundle.is_some();
    let walk = sums::walk(results_dir)?;
    if let Some(bad) = walk.irregular.first() {
        bail!(
            "{}: is a symbolic link or special file; refusing to export it",
            results_dir.join(bad).display()
        );
    }
    for rel in &walk.files {
        let from_evidence = rel.starts_with(&format!("{EVIDENCE_DIR}/"));
        if (bundle.is_some() && from_evidence) || (resign && (rel == SUMS || rel == SIG)) {
            continue;
        }
        let to = root.join(rel);
        if let Some(p) = to.parent() {
            fs::create_dir_all(p)?;
        }
        fs::copy(results_dir.join(rel), &to)
            .with_context(|| format!("{}: cannot copy", results_dir.join(rel).display()))?;
    }
    if let Some(b) = bundle {
        super::copy_bundle_into(b, &root)?;
    }
    match sk {
        Some(sk) => {
            super::sign_dir(&root, sk)?;
        }
        None if bundle.is_some() => bail!(
            "adding the bundle changes what is signed: pass --sign KEY (or sign the directory first with `siemproof sign`)"
        ),
        None => {
            let listed_path = root.join(SUMS);
            let text = fs::read_to_string(&listed_path).map_err(|_| {
                anyhow!(
                    "{}: not signed (no {SUMS}); pass --sign KEY",
                    results_dir.display()
                )
            })?;
            if !root.join(SIG).is_file() {
                bail!("{}: no {SIG}; pass --sign KEY", results_dir.display());
            }
            let listed = sums::parse(&text, &listed_path.display().to_string())?;
            let actual = sums::compute(&root)?;
            if listed != actual {
                bail!(
                    "{}: files changed since signing (run `siemproof verify` to see which); re-sign with --sign KEY",
                    results_dir.display()
                );
            }
        }
    }
    let mtime = chrono::DateTime::parse_from_rfc3339(&results.run.as_of)
        .map(|t| t.timestamp().max(0) as u64)
        .unwrap_or(0);
    let files = sums::walk(&root)?.files;
    write_tar_gz(&root, &top, &files, mtime, out)?;
    Ok(Exported {
        archive: out.to_path_buf(),
        top,
        files: files.len(),
        signed_now: sk.is_some(),
    })
}

fn write_tar_gz(root: &Path, top: &str, files: &[String], mtime: u64, out: &Path) -> Result<()> {
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    let tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("{}: cannot create a temporary file", dir.display()))?;
    let gz = flate2::write::GzEncoder::new(tmp, flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    for rel in files {
        let bytes = fs::read(root.join(rel))?;
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(mtime);
        tar.append_data(&mut h, format!("{top}/{rel}"), bytes.as_slice())
            .with_context(|| format!("{}: cannot add {rel}", out.display()))?;
    }
    let gz = tar.into_inner()?;
    let mut tmp = gz.finish()?;
    tmp.flush()?;
    tmp.persist(out)
        .with_context(|| format!("{}: cannot write", out.display()))?;
    Ok(())
}

/// Extracts `archive` into the (empty) directory `dest` and returns the directory holding
/// SHA256SUMS: `dest` itself or its single top-level directory.
pub fn extract(archive: &Path, dest: &Path) -> Result<PathBuf> {
    let name = archive.display().to_string();
    let f = fs::File::open(archive).with_context(|| format!("{name}: cannot read"))?;
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(f));
    // tar's own unpacking (path checks, parents created inside `dest` only), told never to
    // replace a file already extracted, and to keep no owner, setuid bit or timestamp.
    ar.set_overwrite(false);
    ar.set_preserve_permissions(false);
    ar.set_preserve_ownerships(false);
    ar.set_preserve_mtime(false);
    ar.set_unpack_xattrs(false);
    ar.set_mask(0o022);
    let mut total: u64 = 0;
    let entries = ar
        .entries()
        .with_context(|| format!("{name}: not a .tar.gz archive"))?;
    for (n, entry) in entries.enumerate() {
        if n >= MAX_ENTRIES {
            bail!("{name}: more than {MAX_ENTRIES} entries; refusing");
        }
        let mut entry = entry.with_context(|| format!("{name}: not a .tar.gz archive"))?;
        let raw_path = entry
            .path()
            .with_context(|| format!("{name}: entry {n} has an unreadable path"))?
            .into_owned();
        let shown = raw_path.display().to_string();
        let rel = safe_relative(&raw_path).ok_or_else(|| {
            anyhow!("{name}: entry {shown:?} has an unsafe path (absolute or `..`); refusing")
        })?;
        let kind = entry.header().entry_type();
        match kind {
            tar::EntryType::Directory => {}
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let size = entry.header().size()?;
                if size > crate::files::max_file_bytes() {
                    bail!(
                        "{name}: entry {shown:?} is {size} bytes, over the {}-byte limit; refusing",
                        crate::files::max_file_bytes()
                    );
                }
                total += size;
                if total > MAX_TOTAL_BYTES {
                    bail!("{name}: expands to more than {MAX_TOTAL_BYTES} bytes; refusing");
                }
                if rel.as_os_str().is_empty() {
                    bail!("{name}: entry {shown:?} has an empty path; refusing");
                }
            }
            other => bail!(
                "{name}: entry {shown:?} is a {other:?} (links and special files are refused)"
            ),
        }
        if rel.as_os_str().is_empty() {
            continue;
        }
        let unpacked = entry.unpack_in(dest).map_err(|e| {
            if dest.join(&rel).is_file() && kind != tar::EntryType::Directory {
                anyhow!("{name}: entry {shown:?} appears twice; refusing")
            } else {
                anyhow!("{name}: entry {shown:?} cannot be extracted: {e}")
            }
        })?;
        if !unpacked {
            bail!("{name}: entry {shown:?} has an unsafe path; refusing");
        }
        // A member whose mode makes it unreadable (or writable by others) is read as 0644.
        if kind != tar::EntryType::Directory {
            set_readable(&dest.join(&rel))?;
        }
    }
    if dest.join(SUMS).exists() {
        return Ok(dest.to_path_buf());
    }
    let tops: Vec<PathBuf> = fs::read_dir(dest)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    match tops.as_slice() {
        [one] if one.is_dir() => Ok(one.clone()),
        _ => bail!("{name}: expected one top-level directory holding {SUMS}"),
    }
}

#[cfg(unix)]
fn set_readable(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o644))
        .with_context(|| format!("{}: cannot set its permissions", path.display()))
}

#[cfg(not(unix))]
fn set_readable(_: &Path) -> Result<()> {
    Ok(())
}

/// A tar path as a relative path of normal components (`./` allowed), or None when unsafe.
fn safe_relative(p: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(s) => {
                let s = s.to_str()?;
                if s.contains('\\') || s.contains('\0') {
                    return None;
                }
                out.push(s);
            }
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_tar_paths_are_refused() {
        assert!(safe_relative(Path::new("/etc/passwd")).is_none());
        assert!(safe_relative(Path::new("a/../../b")).is_none());
        assert_eq!(
            safe_relative(Path::new("./a/b.json")),
            Some(PathBuf::from("a/b.json"))
        );
    }

    fn archive_of(dir: &Path, members: &[(&str, u32, &[u8])]) -> PathBuf {
        let path = dir.join("a.tar.gz");
        let gz = flate2::write::GzEncoder::new(
            fs::File::create(&path).unwrap(),
            flate2::Compression::fast(),
        );
        let mut tar = tar::Builder::new(gz);
        for (name, mode, body) in members {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(body.len() as u64);
            h.set_mode(*mode);
            tar.append_data(&mut h, name, *body).unwrap();
        }
        tar.into_inner().unwrap().finish().unwrap();
        path
    }

    #[cfg(unix)]
    #[test]
    fn members_come_out_readable_without_setuid_or_world_write() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let a = archive_of(
            tmp.path(),
            &[("b/SHA256SUMS", 0o4777, b"x"), ("b/hidden", 0o000, b"y")],
        );
        let dest = tmp.path().join("out");
        fs::create_dir(&dest).unwrap();
        let top = extract(&a, &dest).unwrap();
        for f in ["SHA256SUMS", "hidden"] {
            let mode = fs::metadata(top.join(f)).unwrap().permissions().mode() & 0o7777;
            assert_eq!(mode, 0o644, "{f}");
        }
    }

    #[test]
    fn a_duplicate_member_is_refused_not_replaced() {
        let tmp = tempfile::tempdir().unwrap();
        let a = archive_of(
            tmp.path(),
            &[
                ("b/SHA256SUMS", 0o644, b"first"),
                ("./b/SHA256SUMS", 0o644, b"second"),
            ],
        );
        let dest = tmp.path().join("out");
        fs::create_dir(&dest).unwrap();
        let e = extract(&a, &dest).unwrap_err().to_string();
        assert!(e.contains("appears twice"), "{e}");
        assert_eq!(fs::read(dest.join("b/SHA256SUMS")).unwrap(), b"first");
    }
}
