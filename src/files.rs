//! File-system safety for every command that reads or writes: bounded reads, the rule for what
//! an output path may already hold, and output sets written all-or-nothing.
//!
//! Reads: no single file siemproof reads (evidence, manifest, results.json, config, templates,
//! attestations, archive members) may exceed [`max_file_bytes`] (256 MiB unless
//! `--max-file-mib` / `SIEMPROOF_MAX_FILE_MIB` says otherwise); the error names the file.
//!
//! Writes: an output goes into a [`Staging`] directory beside its target (same file system),
//! every file is fsynced, and the directory is renamed into place in one step; the previous
//! output is moved aside first and removed only after the swap, so a failure at any point
//! leaves it intact and the error says so. [`check_target`] decides beforehand whether the
//! target may be replaced at all: an absent path or an empty directory always, an earlier
//! output of the same kind as the command allows, anything else never (nothing is touched).

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use anyhow::{bail, Context, Result};

/// The default bound of one file read: 256 MiB.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;

static MAX_FILE_BYTES: AtomicU64 = AtomicU64::new(DEFAULT_MAX_FILE_BYTES);

/// The bound of one file read for this process.
pub fn max_file_bytes() -> u64 {
    MAX_FILE_BYTES.load(Ordering::Relaxed)
}

/// Sets the bound of one file read (from `--max-file-mib`).
pub fn set_max_file_bytes(bytes: u64) {
    MAX_FILE_BYTES.store(bytes.max(1), Ordering::Relaxed);
}

/// Why a bounded read failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{path}: {bytes} bytes is larger than the {limit}-byte limit for one file (raise it with --max-file-mib)")]
    TooLarge {
        path: PathBuf,
        bytes: u64,
        limit: u64,
    },
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Reads a whole file, refusing one above [`max_file_bytes`] (also when it grows while read).
pub fn read_bounded(path: &Path) -> Result<Vec<u8>, ReadError> {
    let limit = max_file_bytes();
    let io = |source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    };
    let f = fs::File::open(path).map_err(io)?;
    let len = f.metadata().map_err(io)?.len();
    if len > limit {
        return Err(ReadError::TooLarge {
            path: path.to_path_buf(),
            bytes: len,
            limit,
        });
    }
    let mut buf = Vec::with_capacity(len as usize);
    f.take(limit + 1).read_to_end(&mut buf).map_err(io)?;
    if buf.len() as u64 > limit {
        return Err(ReadError::TooLarge {
            path: path.to_path_buf(),
            bytes: buf.len() as u64,
            limit,
        });
    }
    Ok(buf)
}

/// [`read_bounded`] as UTF-8 text.
pub fn read_text_bounded(path: &Path) -> Result<String> {
    let bytes = read_bounded(path)?;
    String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("{}: not UTF-8 text", path.display()))
}

/// What kind of output a command writes, for [`check_target`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputKind {
    /// An evidence bundle (`collect`, `probe`).
    Bundle,
    /// A report directory (`audit`, `report`).
    Report,
    /// A fleet's portfolio (`fleet report`).
    Portfolio,
}

/// What [`check_target`] found at an output path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Nothing there, or an empty directory.
    Fresh,
    /// An earlier output of the same kind.
    Previous,
}

/// Top-level names a report directory may hold (what `audit` and `sign` write).
const REPORT_NAMES: &[&str] = &[
    "results.json",
    "report.html",
    "report.md",
    "report.junit.xml",
    "report.sarif",
    "findings.jsonl",
    "findings.csv",
    "findings.leef",
    "findings.cef",
    "report.hdf.json",
    "compliance.md",
    "period.json",
    "period.md",
    "period.html",
    "oscal",
    crate::sign::EVIDENCE_DIR,
    crate::sign::sums::SUMS,
    crate::sign::sums::SIG,
];

/// Top-level names a portfolio directory may hold (what `fleet report` writes).
const PORTFOLIO_NAMES: &[&str] = &[
    "portfolio.json",
    "portfolio.md",
    "portfolio.html",
    "tenants",
    crate::sign::sums::SUMS,
    crate::sign::sums::SIG,
];

/// Whether `dir` holds an earlier portfolio: only portfolio names, `portfolio.json` among them.
pub fn is_portfolio_dir(dir: &Path) -> Result<bool> {
    for e in fs::read_dir(dir).with_context(|| format!("{}: cannot list", dir.display()))? {
        let e = e.with_context(|| format!("{}: cannot list", dir.display()))?;
        if !PORTFOLIO_NAMES.contains(&e.file_name().to_string_lossy().as_ref()) {
            return Ok(false);
        }
    }
    Ok(dir.join("portfolio.json").is_file())
}

/// Whether `dir` holds a siemproof evidence bundle (a manifest of our format).
pub fn is_bundle(dir: &Path) -> bool {
    let m = dir.join("manifest.json");
    let Ok(meta) = fs::symlink_metadata(&m) else {
        return false;
    };
    if !meta.is_file() || meta.len() > max_file_bytes() {
        return false;
    }
    fs::read(&m)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .is_some_and(|v| {
            v.get("format").and_then(|f| f.as_str()) == Some(crate::evidence::manifest::FORMAT)
        })
}

/// The deepest nesting a bundle or output tree may have; ours are at most four levels deep.
pub const MAX_TREE_DEPTH: usize = 32;

/// One entry below a walked root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeEntry {
    /// Relative, `/`-separated path.
    pub rel: String,
    /// `true` for a regular file, `false` for a symbolic link or special file (directories are
    /// descended, not listed).
    pub regular: bool,
}

/// Why a tree could not be listed.
#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    #[error("{path}: cannot list: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}: nested more than {MAX_TREE_DEPTH} directories deep; refusing")]
    TooDeep(PathBuf),
    #[error(
        "{0}: the name is not UTF-8; refusing (it could not be listed or verified faithfully)"
    )]
    NotUtf8(PathBuf),
}

/// Lists every file below `root` (walkdir: iterative, symbolic links never followed), at most
/// [`MAX_TREE_DEPTH`] deep, sorted by name within each directory, depth first. A name or depth
/// problem is reported for the first file in that order; an I/O error stops the walk where it
/// happens.
pub fn walk_tree(root: &Path) -> Result<Vec<TreeEntry>, TreeError> {
    // Walked unsorted and sorted here: walkdir's own sort by file name parses each path's
    // last component anew at every comparison, which on a 60,000-file bundle was most of the
    // walk. Sorting by the sequence of names gives the order walkdir's sorted walk would.
    let walker = walkdir::WalkDir::new(root)
        .follow_links(false)
        .min_depth(1)
        .max_depth(MAX_TREE_DEPTH + 1);
    let sep = std::path::MAIN_SEPARATOR as u8;
    let prefix = root.as_os_str().as_encoded_bytes().len();
    // Each entry keyed by its path below `root` with the separator as a NUL, which sorts
    // before any byte a name can hold: the keys' byte order is then the order of the
    // sequences of names.
    let mut found: Vec<(Vec<u8>, walkdir::DirEntry)> = Vec::new();
    for entry in walker {
        let entry = entry.map_err(|e| TreeError::Io {
            path: e.path().unwrap_or(root).to_path_buf(),
            source: e
                .into_io_error()
                .unwrap_or_else(|| std::io::Error::other("loop")),
        })?;
        // walkdir joins each name to its parent's path, so the part below `root` follows it.
        let path = entry.path().as_os_str().as_encoded_bytes();
        let below = path.get(prefix..).unwrap_or_default();
        let below = below.strip_prefix(&[sep]).unwrap_or(below);
        let key = below
            .iter()
            .map(|&b| if b == sep { 0 } else { b })
            .collect();
        found.push((key, entry));
    }
    found.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let mut out = Vec::new();
    for (key, entry) in found {
        if entry.depth() > MAX_TREE_DEPTH {
            return Err(TreeError::TooDeep(entry.path().to_path_buf()));
        }
        let ft = entry.file_type();
        if ft.is_dir() {
            continue;
        }
        let rel: Vec<u8> = key.iter().map(|&b| if b == 0 { b'/' } else { b }).collect();
        let Ok(rel) = String::from_utf8(rel) else {
            return Err(TreeError::NotUtf8(entry.path().to_path_buf()));
        };
        out.push(TreeEntry {
            rel,
            regular: ft.is_file(),
        });
    }
    Ok(out)
}

/// Whether `dir` holds a siemproof report directory and nothing else.
pub fn is_report_dir(dir: &Path) -> Result<bool> {
    let mut any = false;
    for e in fs::read_dir(dir).with_context(|| format!("{}: cannot list", dir.display()))? {
        let e = e.with_context(|| format!("{}: cannot list", dir.display()))?;
        let name = e.file_name();
        let name = name.to_string_lossy();
        if !REPORT_NAMES.contains(&name.as_ref()) {
            return Ok(false);
        }
        any = true;
    }
    Ok(any && dir.join("results.json").is_file())
}

/// Decides whether `target` may receive an output of `kind`. A file, a symbolic link or a
/// non-empty directory that is not an earlier output of this kind is refused, naming what is
/// there; an earlier bundle is replaced only with `force` (reports are re-run outputs by
/// design and need none).
pub fn check_target(target: &Path, kind: OutputKind, force: bool, flag: &str) -> Result<Target> {
    let meta = match fs::symlink_metadata(target) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Target::Fresh),
        Err(e) => return Err(e).with_context(|| format!("{}: cannot stat", target.display())),
        Ok(m) => m,
    };
    if !meta.is_dir() {
        bail!(
            "{flag} {}: is a file, not a directory; refusing to replace it (nothing was changed)",
            target.display()
        );
    }
    let empty = fs::read_dir(target)
        .with_context(|| format!("{}: cannot list", target.display()))?
        .next()
        .is_none();
    if empty {
        return Ok(Target::Fresh);
    }
    match kind {
        OutputKind::Bundle if is_bundle(target) => {
            if force {
                Ok(Target::Previous)
            } else {
                bail!(
                    "{flag} {}: already holds an evidence bundle; pass --force to replace it (the old one is kept until the new one is complete)",
                    target.display()
                )
            }
        }
        OutputKind::Report if is_report_dir(target)? => Ok(Target::Previous),
        OutputKind::Portfolio if is_portfolio_dir(target)? => Ok(Target::Previous),
        _ => bail!(
            "{flag} {}: is a non-empty directory that is not a siemproof {}; refusing to write into it (nothing was changed); choose another {flag}",
            target.display(),
            match kind {
                OutputKind::Bundle => "evidence bundle",
                OutputKind::Report => "report directory",
                OutputKind::Portfolio => "portfolio",
            }
        ),
    }
}

/// Temporary output directories of this process that are not yet swapped in: a terminating
/// signal removes them before the process exits (see `main.rs`), so no command leaves a
/// `.siemproof-*` directory behind, whichever signal ends it.
static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Registers a temporary directory for removal on a terminating signal.
pub fn register_temporary(dir: &Path) {
    if let Ok(mut l) = LIVE.lock() {
        l.push(dir.to_path_buf());
    }
}

/// Forgets a temporary directory (renamed into place, or removed).
pub fn unregister_temporary(dir: &Path) {
    if let Ok(mut l) = LIVE.lock() {
        l.retain(|p| p != dir);
    }
}

/// Removes every registered temporary directory (on a terminating signal); returns how many.
pub fn remove_temporaries() -> usize {
    let Ok(mut l) = LIVE.lock() else { return 0 };
    let n = l.len();
    for p in l.drain(..) {
        let _ = fs::remove_dir_all(&p);
    }
    n
}

/// Writes `bytes` to `path` and fsyncs it.
pub fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    write_streamed(path, |w| Ok(w.write_all(bytes)?))
}

/// Writes a file through a buffer as `fill` produces it, then syncs it: for outputs too large
/// to hold whole in memory first (results.json, OSCAL of a large tenant). Used inside a
/// staging directory, so a failure part-way leaves nothing in the target.
pub fn write_streamed(path: &Path, fill: impl FnOnce(&mut dyn Write) -> Result<()>) -> Result<()> {
    if let Some(d) = path.parent() {
        fs::create_dir_all(d).with_context(|| format!("{}: cannot create", d.display()))?;
    }
    let f = fs::File::create(path).with_context(|| format!("{}: cannot write", path.display()))?;
    let mut w = std::io::BufWriter::with_capacity(256 * 1024, f);
    fill(&mut w).with_context(|| format!("{}: cannot write", path.display()))?;
    let f = w
        .into_inner()
        .map_err(|e| e.into_error())
        .with_context(|| format!("{}: cannot write", path.display()))?;
    f.sync_all()
        .with_context(|| format!("{}: cannot write", path.display()))?;
    Ok(())
}

/// A directory being filled beside its target; dropped without [`Staging::commit`], it is
/// removed with everything in it.
pub struct Staging {
    /// Always `Some` until [`Staging::commit`] takes it.
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
}

impl Staging {
    /// Creates the staging directory beside `target` (so the final rename stays on one file
    /// system); `prefix` names it (e.g. `.siemproof-report-`).
    pub fn new(target: &Path, prefix: &str) -> Result<Staging> {
        let parent = parent_of(target);
        fs::create_dir_all(&parent)
            .with_context(|| format!("{}: cannot create directory", parent.display()))?;
        let dir = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir_in(&parent)
            .with_context(|| {
                format!("{}: cannot create a temporary directory", parent.display())
            })?;
        let path = dir.path().to_path_buf();
        register_temporary(&path);
        Ok(Staging {
            dir: Some(dir),
            path,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes one file (relative path) into the staging directory, fsynced.
    pub fn write(&self, rel: &str, bytes: &[u8]) -> Result<PathBuf> {
        if !crate::evidence::is_safe_relative_path(rel) {
            bail!("refusing unsafe output path {rel:?}");
        }
        let p = self.path.join(rel);
        write_synced(&p, bytes)?;
        Ok(p)
    }

    /// Swaps the staging directory in as `target`, replacing what was there.
    pub fn commit(mut self, target: &Path) -> Result<()> {
        sync_tree(&self.path)?;
        let tmp = match self.dir.take() {
            Some(d) => d.keep(),
            None => bail!("staging directory already committed"),
        };
        let r = replace_dir(&tmp, target).inspect_err(|_| {
            let _ = fs::remove_dir_all(&tmp);
        });
        unregister_temporary(&tmp);
        r
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        // The TempDir (if still here) removes the directory itself.
        unregister_temporary(&self.path);
    }
}

fn parent_of(target: &Path) -> PathBuf {
    match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Fsyncs every directory below `dir` (files are synced as they are written), so a crash after
/// the rename cannot expose names without contents.
fn sync_tree(dir: &Path) -> Result<()> {
    for e in walkdir::WalkDir::new(dir)
        .follow_links(false)
        .max_depth(MAX_TREE_DEPTH + 1)
        .contents_first(true)
    {
        let e = e.with_context(|| format!("{}: cannot list", dir.display()))?;
        if e.file_type().is_dir() {
            sync_dir(e.path());
        }
    }
    Ok(())
}

/// [`sync_tree`] for writers that stage their own directory (the bundle writer).
pub fn sync_tree_public(dir: &Path) -> Result<()> {
    sync_tree(dir)
}

fn sync_dir(dir: &Path) {
    // Directory fsync is advisory on some platforms; its failure is not an output failure.
    if let Ok(f) = fs::File::open(dir) {
        let _ = f.sync_all();
    }
}

/// Moves `from` to `to`, replacing an existing directory at `to`: the old one is renamed aside
/// first and removed only after the swap; on failure it is put back and the error says so.
pub fn replace_dir(from: &Path, to: &Path) -> Result<()> {
    if fs::symlink_metadata(to).is_ok() {
        let aside = to.with_file_name(format!(
            ".{}.old-{}",
            to.file_name().and_then(|s| s.to_str()).unwrap_or("out"),
            std::process::id()
        ));
        fs::rename(to, &aside).with_context(|| {
            format!(
                "{}: cannot move the previous output aside; it is unchanged",
                to.display()
            )
        })?;
        if let Err(e) = fs::rename(from, to) {
            let _ = fs::rename(&aside, to);
            return Err(e).with_context(|| {
                format!(
                    "{}: cannot move the new output into place; the previous output is unchanged",
                    to.display()
                )
            });
        }
        let _ = fs::remove_dir_all(&aside);
    } else {
        fs::rename(from, to)
            .with_context(|| format!("{}: cannot move into place", to.display()))?;
    }
    sync_dir(&parent_of(to));
    Ok(())
}

/// Adds the standard "nothing changed" note to a write error for `target`.
pub fn unchanged_note(target: &Path, previous: Target) -> String {
    match previous {
        Target::Previous => format!(
            "{}: output not written; the previous output there is unchanged",
            target.display()
        ),
        Target::Fresh => format!("{}: output not written", target.display()),
    }
}

#[cfg(test)]
mod tests {
    /// Files come in the order walkdir's walk sorted by file name gives: by name within each
    /// directory, a directory's files where its name sorts (`a/…` before `a-c` and `a.txt`
    /// by name, though not as whole strings).
    #[test]
    fn walks_list_files_by_name_within_each_directory_depth_first() {
        let t = tempfile::tempdir().unwrap();
        for f in [
            "a.txt",
            "a/b.json",
            "a-c.json",
            "b.json",
            "a/c/d.json",
            "a/c.txt",
        ] {
            let p = t.path().join(f);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, b"{}").unwrap();
        }
        let sorted: Vec<String> = walkdir::WalkDir::new(t.path())
            .min_depth(1)
            .sort_by_file_name()
            .into_iter()
            .map(|e| e.unwrap())
            .filter(|e| !e.file_type().is_dir())
            .map(|e| {
                let rel = e.path().strip_prefix(t.path()).unwrap();
                rel.to_str()
                    .unwrap()
                    .replace(std::path::MAIN_SEPARATOR, "/")
            })
            .collect();
        let ours: Vec<String> = walk_tree(t.path())
            .unwrap()
            .into_iter()
            .map(|e| e.rel)
            .collect();
        assert_eq!(ours, sorted);
        assert_eq!(
            ours,
            [
                "a/b.json",
                "a/c/d.json",
                "a/c.txt",
                "a-c.json",
                "a.txt",
                "b.json"
            ]
        );
    }

    #[cfg(unix)]
    #[test]
    fn walks_refuse_non_utf8_names_and_deep_nesting() {
        use std::os::unix::ffi::OsStrExt;
        let t = tempfile::tempdir().unwrap();
        fs::write(t.path().join("ok.json"), b"{}").unwrap();
        assert_eq!(walk_tree(t.path()).unwrap().len(), 1);
        // The lossy conversion this replaced turned this name into "a\u{FFFD}.json".
        let bad = t.path().join(std::ffi::OsStr::from_bytes(b"a\xff.json"));
        fs::write(&bad, b"{}").unwrap();
        assert!(matches!(walk_tree(t.path()), Err(TreeError::NotUtf8(_))));
        fs::remove_file(&bad).unwrap();
        let mut deep = t.path().to_path_buf();
        for _ in 0..(MAX_TREE_DEPTH + 2) {
            deep.push("d");
        }
        fs::create_dir_all(&deep).unwrap();
        fs::write(deep.join("x"), b"").unwrap();
        assert!(matches!(walk_tree(t.path()), Err(TreeError::TooDeep(_))));
    }

    use super::*;

    #[test]
    fn targets_are_judged_before_anything_is_written() {
        let t = tempfile::tempdir().unwrap();
        let absent = t.path().join("absent");
        assert_eq!(
            check_target(&absent, OutputKind::Report, false, "--out").unwrap(),
            Target::Fresh
        );
        let file = t.path().join("file");
        fs::write(&file, "x").unwrap();
        assert!(check_target(&file, OutputKind::Bundle, true, "--out").is_err());
        let other = t.path().join("other");
        fs::create_dir(&other).unwrap();
        fs::write(other.join("notes.txt"), "mine").unwrap();
        for kind in [OutputKind::Bundle, OutputKind::Report] {
            let e = check_target(&other, kind, true, "--out").unwrap_err();
            assert!(e.to_string().contains("not a siemproof"), "{e}");
        }
        let report = t.path().join("report");
        fs::create_dir(&report).unwrap();
        fs::write(report.join("results.json"), "{}").unwrap();
        assert_eq!(
            check_target(&report, OutputKind::Report, false, "--out").unwrap(),
            Target::Previous
        );
    }

    #[test]
    fn bounded_reads_name_the_file() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("big.json");
        fs::write(&p, vec![b' '; 2048]).unwrap();
        set_max_file_bytes(DEFAULT_MAX_FILE_BYTES);
        assert!(read_bounded(&p).is_ok());
    }
}
