//! `SHA256SUMS` in the coreutils format (`<64 hex>  <relative path>`, one line per file, sorted),
//! so that an auditor checks a signed output with nothing but `sha256sum -c SHA256SUMS`.
//!
//! Paths are `/`-separated and relative to the directory holding `SHA256SUMS`. Names that
//! coreutils would have to escape (backslash, newline) are refused rather than escaped, because
//! siemproof never writes such names and an escaped line is easy to misread.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::Path;

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};

/// The checksum list's file name.
pub const SUMS: &str = "SHA256SUMS";
/// The minisign signature of [`SUMS`], where `minisign -Vm SHA256SUMS` looks for it.
pub const SIG: &str = "SHA256SUMS.minisig";

/// The largest file a signed output may hold (the evidence bundle's own limit).
pub const MAX_FILE_BYTES: u64 = crate::evidence::MAX_FILE_BYTES;

/// Relative path → lowercase hex SHA-256.
pub type Sums = BTreeMap<String, String>;

/// Whether a relative path is one `SHA256SUMS` may list (no escaping needed, stays inside).
pub fn is_listable(rel: &str) -> bool {
    crate::evidence::is_safe_relative_path(rel) && !rel.contains('\n') && !rel.contains('\r')
}

/// Streams a file through SHA-256, refusing anything that is not a regular file.
pub fn hash_file(path: &Path) -> Result<String> {
    let meta =
        fs::symlink_metadata(path).with_context(|| format!("{}: cannot read", path.display()))?;
    if !meta.file_type().is_file() {
        bail!("{}: not a regular file", path.display());
    }
    let mut f = fs::File::open(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f
            .read(&mut buf)
            .with_context(|| format!("{}: cannot read", path.display()))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// What a directory walk found: regular files, and entries that are not (symlinks, devices).
#[derive(Debug, Default)]
pub struct Walk {
    pub files: Vec<String>,
    pub irregular: Vec<String>,
}

/// Lists every entry below `root` as a relative `/` path, sorted; directories are descended,
/// symbolic links are never followed.
pub fn walk(root: &Path) -> Result<Walk> {
    let mut w = Walk::default();
    for e in crate::files::walk_tree(root)? {
        if e.regular {
            w.files.push(e.rel);
        } else {
            w.irregular.push(e.rel);
        }
    }
    w.files.sort();
    w.irregular.sort();
    Ok(w)
}

/// Hashes every regular file below `root` except the checksum list and its signature.
pub fn compute(root: &Path) -> Result<Sums> {
    let w = walk(root)?;
    if let Some(bad) = w.irregular.first() {
        bail!(
            "{}: is a symbolic link or special file; a signed output holds regular files only",
            root.join(bad).display()
        );
    }
    let mut sums = Sums::new();
    for rel in w.files {
        if rel == SUMS || rel == SIG {
            continue;
        }
        if !is_listable(&rel) {
            bail!(
                "{}: this file name cannot be listed in SHA256SUMS",
                root.join(&rel).display()
            );
        }
        let h = hash_file(&root.join(&rel))?;
        sums.insert(rel, h);
    }
    Ok(sums)
}

/// Renders the list as `sha256sum` writes it (text mode: two spaces).
pub fn render(sums: &Sums) -> String {
    let mut s = String::new();
    for (path, hash) in sums {
        s.push_str(hash);
        s.push_str("  ");
        s.push_str(path);
        s.push('\n');
    }
    s
}

/// Parses a `SHA256SUMS` text; `name` is used in errors. Accepts text (`  `) and binary (` *`)
/// markers, refuses escaped names, duplicate paths and paths that leave the directory.
pub fn parse(text: &str, name: &str) -> Result<Sums> {
    let mut sums = Sums::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.is_empty() {
            continue;
        }
        if line.len() < 67 || line.starts_with('\\') {
            bail!("{name}: line {n}: not `<sha256>  <path>`");
        }
        let (hash, rest) = line.split_at(64);
        if !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            bail!("{name}: line {n}: {hash:?} is not a hex SHA-256");
        }
        let path = rest
            .strip_prefix("  ")
            .or_else(|| rest.strip_prefix(" *"))
            .with_context(|| format!("{name}: line {n}: not `<sha256>  <path>`"))?;
        if !is_listable(path) {
            bail!("{name}: line {n}: unsafe path {path:?}");
        }
        if sums
            .insert(path.to_string(), hash.to_ascii_lowercase())
            .is_some()
        {
            bail!("{name}: line {n}: {path} is listed twice");
        }
    }
    Ok(sums)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_unsafe_lines() {
        let mut s = Sums::new();
        s.insert("results.json".into(), "a".repeat(64));
        s.insert("evidence/raw/arm/x.json".into(), "b".repeat(64));
        let text = render(&s);
        assert_eq!(parse(&text, "S").unwrap(), s);
        assert!(parse(&format!("{}  ../etc/passwd\n", "a".repeat(64)), "S").is_err());
        assert!(parse(&format!("{}  /etc/passwd\n", "a".repeat(64)), "S").is_err());
        assert!(parse(&format!("{}  x\n", "z".repeat(64)), "S").is_err());
        let dup = format!("{h}  x\n{h}  x\n", h = "a".repeat(64));
        assert!(parse(&dup, "S").is_err());
    }
}
