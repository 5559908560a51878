//! Evidence bundles (`siemproof-evidence/1`): reading and verifying them before anything uses them.
//!
//! Every file named in the manifest is hashed and compared before its body is parsed; a missing,
//! extra or altered file is an error naming the file, unless the caller allows unverified
//! evidence, in which case the file's kind is marked `unverified` and every check that reads it
//! is `not_assessed`. Paths are confined to the bundle (no `..`, no absolute paths, no symlinks),
//! so a hostile bundle cannot make the auditor read elsewhere.

pub mod kinds;
pub mod manifest;
pub mod writer;

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fs;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};
use thiserror::Error;

pub use manifest::{Item, ItemError, Manifest};

/// The default largest single evidence file siemproof reads (a defence against hostile
/// bundles); the bound in force is [`crate::files::max_file_bytes`].
pub const MAX_FILE_BYTES: u64 = crate::files::DEFAULT_MAX_FILE_BYTES;

/// The longest string value a loaded JSON body keeps, in bytes. Longer values are cut (with a
/// marker naming the full length) before normalisation, so one hostile display name cannot
/// multiply through the model, the findings and every report; the full value stays in the
/// evidence file, whose hash is unaffected.
pub const MAX_STRING_BYTES: usize = 64 * 1024;

/// Why a bundle could not be used. Each variant names the file it is about.
#[derive(Debug, Error)]
pub enum EvidenceError {
    #[error(
        "{0}: no manifest.json here; is this an evidence bundle? (`siemproof collect` writes one)"
    )]
    NoManifest(PathBuf),
    #[error("{path}: {message}")]
    Manifest { path: PathBuf, message: String },
    #[error("{path}: unknown bundle format {found:?}; this siemproof reads {expected:?}")]
    UnknownFormat {
        path: PathBuf,
        found: String,
        expected: &'static str,
    },
    #[error("{bundle}: manifest item {index} has an unsafe path {path:?} (must be relative, inside the bundle, without `..`)")]
    UnsafePath {
        bundle: PathBuf,
        index: usize,
        path: String,
    },
    #[error("{0}: listed in the manifest but missing from the bundle")]
    Missing(PathBuf),
    #[error("{path}: altered since collection: SHA-256 is {actual}, the manifest says {expected}")]
    Altered {
        path: PathBuf,
        expected: String,
        actual: String,
    },
    #[error("{0}: present in the bundle but not listed in the manifest")]
    Extra(PathBuf),
    #[error("{0}: is a symbolic link or special file; bundles hold regular files only")]
    NotRegular(PathBuf),
    #[error("{path}: {bytes} bytes is larger than the {limit}-byte limit for one evidence file")]
    TooLarge {
        path: PathBuf,
        bytes: u64,
        limit: u64,
    },
    #[error("{path}: not valid JSON: {message}")]
    Json { path: PathBuf, message: String },
    #[error(transparent)]
    Tree(#[from] crate::files::TreeError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What a kind's evidence amounts to, for fail-closed checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceStatus {
    /// Read successfully.
    Ok,
    /// The API said the thing is absent (404, or no subscription for an O365 content type, or a
    /// subscription a tenant admin disabled: AF20022 / AF20023).
    NotFound,
    /// The collector was not authorised (401/403).
    Forbidden,
    /// Still throttled after retries (429, or Management Activity API AF429 as 403).
    Throttled,
    /// A listing whose page chain is broken: a page is missing, or the last page still names a
    /// next page. What was read is only part of the list, so it cannot show that a thing is absent.
    Incomplete,
    /// Items that disagree with the request that returned them (a child whose id names another
    /// parent than the one asked for). They are kept and reported, and the kind is not usable.
    Inconsistent,
    /// A server fault, a timeout, or a body the normaliser could not read.
    Error,
    /// The file's hash did not match and `--allow-unverified` was given.
    Unverified,
    /// The bundle has no item of this kind.
    NotCollected,
}

impl EvidenceStatus {
    /// Whether a check may evaluate on it: `ok`, or `not_found` (evidence of absence).
    pub fn is_usable(self) -> bool {
        matches!(self, EvidenceStatus::Ok | EvidenceStatus::NotFound)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EvidenceStatus::Ok => "ok",
            EvidenceStatus::NotFound => "not_found",
            EvidenceStatus::Forbidden => "forbidden",
            EvidenceStatus::Throttled => "throttled",
            EvidenceStatus::Incomplete => "incomplete",
            EvidenceStatus::Inconsistent => "inconsistent",
            EvidenceStatus::Error => "error",
            EvidenceStatus::Unverified => "unverified",
            EvidenceStatus::NotCollected => "not_collected",
        }
    }
}

/// A body read from the bundle.
#[derive(Debug, Clone)]
pub enum Body {
    Json(serde_json::Value),
    Text(String),
}

/// One manifest item with its verified body.
#[derive(Debug, Clone)]
pub struct LoadedItem {
    pub item: Item,
    pub body: Option<Body>,
    /// Why the body cannot be trusted (only with `--allow-unverified`).
    pub problem: Option<String>,
    /// The body is in the bundle but not loaded: an indexed bundle ([`Bundle::index`]) reads,
    /// hashes and parses it when the normaliser asks for it ([`Bundle::body`]).
    pub pending: bool,
}

impl LoadedItem {
    /// The item's status for checks.
    pub fn status(&self) -> EvidenceStatus {
        if self.problem.is_some() {
            return EvidenceStatus::Unverified;
        }
        let code = self.item.error.as_ref().map(|e| e.code.as_str());
        match (self.item.status, code) {
            (_, Some("AF429")) => EvidenceStatus::Throttled,
            // The Management Activity API answers a content listing for a missing (AF20022) or
            // disabled (AF20023) subscription with HTTP 400: an authoritative "nothing flows".
            (_, Some("AF20022" | "AF20023")) => EvidenceStatus::NotFound,
            (Some(401 | 403), _) => EvidenceStatus::Forbidden,
            // Tenant-wide and filtered lists (Entra diagnostic settings, every Graph list)
            // answer an empty list when nothing exists; a 404 from them is a fault, not absence.
            (Some(404), _) if !kinds::absent_on_404(&self.item.kind) => EvidenceStatus::Error,
            (Some(404), _) => EvidenceStatus::NotFound,
            (Some(429), _) => EvidenceStatus::Throttled,
            (Some(200..=299), None) | (None, None) if self.body.is_some() || self.pending => {
                EvidenceStatus::Ok
            }
            _ => EvidenceStatus::Error,
        }
    }

    /// A one-line account of a failed request, for `not_assessed` reasons.
    pub fn failure_text(&self) -> String {
        let mut s = String::new();
        if let Some(st) = self.item.status {
            // The AMQP management node answers with HTTP-style status codes, not over HTTP.
            let over = if self.item.kind.starts_with("amqp.") {
                "AMQP status"
            } else {
                "HTTP"
            };
            s.push_str(&format!("{over} {st}"));
        }
        if let Some(e) = &self.item.error {
            if !s.is_empty() {
                s.push(' ');
            }
            s.push_str(&format!("{}: {}", e.code, e.message));
        }
        if let Some(p) = &self.problem {
            s = p.clone();
        }
        if s.is_empty() {
            s = "no response body".into();
        }
        s
    }
}

/// The state of one evidence kind across all its items.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct KindState {
    pub status: EvidenceStatus,
    /// Why it is not `ok`, with Microsoft's error code and message where there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Files of this kind, for evidence pointers in reports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
}

/// A verified, loaded evidence bundle.
#[derive(Debug)]
pub struct Bundle {
    pub root: PathBuf,
    /// The manifest. Its `items` are in [`Bundle::items`]; for an indexed bundle
    /// ([`Bundle::index`]) they were moved there, and `manifest.items` is empty.
    pub manifest: Manifest,
    /// SHA-256 of `manifest.json` as stored: binds results and signatures to this evidence.
    pub manifest_sha256: String,
    pub items: Vec<LoadedItem>,
    /// Integrity problems tolerated because of `--allow-unverified`.
    pub problems: Vec<String>,
}

/// Hex SHA-256 of bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Checks that a manifest path stays inside the bundle.
pub fn is_safe_relative_path(p: &str) -> bool {
    if p.is_empty() || p.contains('\\') || p.starts_with('/') || p.contains('\0') {
        return false;
    }
    Path::new(p)
        .components()
        .all(|c| matches!(c, Component::Normal(_)))
}

fn read_limited(path: &Path) -> Result<Vec<u8>, EvidenceError> {
    let io = |e: std::io::Error| {
        if e.kind() == std::io::ErrorKind::NotFound {
            EvidenceError::Missing(path.to_path_buf())
        } else {
            EvidenceError::Io {
                path: path.to_path_buf(),
                source: e,
            }
        }
    };
    let file = open_no_follow(path, io)?;
    // The open file's own metadata: what is read is what was judged, whatever the path
    // names by then.
    let meta = file.metadata().map_err(io)?;
    if !meta.file_type().is_file() {
        return Err(EvidenceError::NotRegular(path.to_path_buf()));
    }
    let limit = crate::files::max_file_bytes();
    if meta.len() > limit {
        return Err(EvidenceError::TooLarge {
            path: path.to_path_buf(),
            bytes: meta.len(),
            limit,
        });
    }
    let mut buf = Vec::with_capacity(meta.len() as usize);
    file.take(limit + 1)
        .read_to_end(&mut buf)
        .map_err(|e| EvidenceError::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
    if buf.len() as u64 > limit {
        return Err(EvidenceError::TooLarge {
            path: path.to_path_buf(),
            bytes: buf.len() as u64,
            limit,
        });
    }
    Ok(buf)
}

/// Opens an evidence file for reading without following a symbolic link in its last component
/// (a link is no regular file) and without waiting on a FIFO: one path lookup, where a check by
/// `lstat` first needs two and leaves a gap between the check and the open. `io` words any
/// other failure.
#[cfg(unix)]
fn open_no_follow(
    path: &Path,
    io: impl Fn(std::io::Error) -> EvidenceError,
) -> Result<fs::File, EvidenceError> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            // O_NOFOLLOW refuses a symbolic link with ELOOP.
            Some(libc::ELOOP) => EvidenceError::NotRegular(path.to_path_buf()),
            _ => io(e),
        })
}

#[cfg(not(unix))]
fn open_no_follow(
    path: &Path,
    io: impl Fn(std::io::Error) -> EvidenceError,
) -> Result<fs::File, EvidenceError> {
    if fs::symlink_metadata(path)
        .map_err(&io)?
        .file_type()
        .is_symlink()
    {
        return Err(EvidenceError::NotRegular(path.to_path_buf()));
    }
    fs::File::open(path).map_err(io)
}

/// The manifest's shape, read straight from its bytes (a large tenant's manifest as a `Value`
/// tree would cost several times its size). The format is judged before the shape, so a newer
/// bundle says so rather than failing on a field this siemproof does not know: when the shape
/// does not read, the format alone is read to tell which error it is.
fn parse_manifest(path: &Path, raw: &[u8]) -> Result<Manifest, EvidenceError> {
    let unknown = |found: &str| EvidenceError::UnknownFormat {
        path: path.to_path_buf(),
        found: found.to_string(),
        expected: manifest::FORMAT,
    };
    // Read plainly first; only a manifest that does not read is read again, tracking where,
    // for the error (the tracking costs a third of the reading on a large tenant's manifest).
    let read = serde_json::from_slice::<Manifest>(raw).or_else(|_| {
        serde_path_to_error::deserialize::<_, Manifest>(&mut serde_json::Deserializer::from_slice(
            raw,
        ))
    });
    match read {
        Ok(m) if m.format != manifest::FORMAT => Err(unknown(&m.format)),
        Ok(m) => Ok(m),
        Err(shape) => {
            #[derive(serde::Deserialize)]
            struct Format {
                format: Option<serde_json::Value>,
            }
            let format: Format = serde_json::from_slice(raw).map_err(|e| EvidenceError::Json {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?;
            if let Some(f) = format.format {
                let f = f.as_str().unwrap_or_default();
                if f != manifest::FORMAT {
                    return Err(unknown(f));
                }
            }
            Err(EvidenceError::Manifest {
                path: path.to_path_buf(),
                message: format!("at `{}`: {}", shape.path(), shape.inner()),
            })
        }
    }
}

/// Lists every file below `root` as a bundle-relative path with `/` separators.
fn walk(root: &Path) -> Result<BTreeSet<String>, EvidenceError> {
    let tree = crate::files::walk_tree(root)?;
    if let Some(e) = tree.iter().find(|e| !e.regular) {
        return Err(EvidenceError::NotRegular(root.join(&e.rel)));
    }
    // Collected at once (sorted, then built in bulk) rather than inserted one by one.
    Ok(tree.into_iter().map(|e| e.rel).collect())
}

/// Parses a JSON body with serde_json's nesting limit (128 levels), naming the file on error.
pub fn parse_json(path: &Path, bytes: &[u8]) -> Result<serde_json::Value, EvidenceError> {
    serde_json::from_slice(bytes).map_err(|e| EvidenceError::Json {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// Cuts every string value of `v` longer than `max` bytes (at a character boundary) and marks
/// the cut with the full length. Idempotent for values already cut.
pub fn cap_strings(v: &mut serde_json::Value, max: usize) {
    match v {
        serde_json::Value::String(s) if s.len() > max => *s = truncate_marked(s, max),
        serde_json::Value::Array(a) => a.iter_mut().for_each(|x| cap_strings(x, max)),
        serde_json::Value::Object(o) => o.values_mut().for_each(|x| cap_strings(x, max)),
        _ => {}
    }
}

/// `s` cut to at most `max` bytes including a marker `… [truncated: N bytes in the evidence]`
/// (so cutting again changes nothing).
pub fn truncate_marked(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let marker = format!("… [truncated: {} bytes in the evidence]", s.len());
    let mut end = max.saturating_sub(marker.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{marker}", &s[..end])
}

/// Reads one listed file, checks its SHA-256 against the manifest and parses it: JSON for
/// `.json` files, UTF-8 text otherwise. Long strings are capped ([`MAX_STRING_BYTES`]).
pub fn read_body(dir: &Path, item: &Item) -> Result<Body, EvidenceError> {
    let path = dir.join(item.path.as_deref().unwrap_or_default());
    let bytes = read_verified(&path, item)?;
    parse_body(&path, bytes)
}

/// Whether a listed file holds JSON (by its name, as the collector writes it).
pub fn is_json_path(path: &Path) -> bool {
    path.as_os_str().as_encoded_bytes().ends_with(b".json")
}

/// A verified file's body: JSON for `.json` files, UTF-8 text otherwise, long strings capped.
pub fn parse_body(path: &Path, bytes: Vec<u8>) -> Result<Body, EvidenceError> {
    let path = path.to_path_buf();
    if is_json_path(&path) {
        let mut v = parse_json(&path, &bytes)?;
        drop(bytes);
        cap_strings(&mut v, MAX_STRING_BYTES);
        Ok(Body::Json(v))
    } else {
        String::from_utf8(bytes)
            .map(Body::Text)
            .map_err(|_| EvidenceError::Json {
                path,
                message: "not UTF-8 text".into(),
            })
    }
}

/// The bytes of a listed file, once its SHA-256 matches the manifest's.
fn read_verified(path: &Path, item: &Item) -> Result<Vec<u8>, EvidenceError> {
    read_verified_as(path, item.sha256.as_deref())
}

/// A file's bytes, once their SHA-256 matches `sha256` (the manifest's; none matches nothing).
pub fn read_verified_as(path: &Path, sha256: Option<&str>) -> Result<Vec<u8>, EvidenceError> {
    let bytes = read_limited(path)?;
    let actual = sha256_hex(&bytes);
    let expected = sha256.unwrap_or_default();
    if !actual.eq_ignore_ascii_case(expected) {
        return Err(EvidenceError::Altered {
            path: path.to_path_buf(),
            expected: expected.to_string(),
            actual,
        });
    }
    Ok(bytes)
}

/// Why a file cannot be trusted, for `--allow-unverified`: missing or altered files are
/// tolerated (their kind becomes `unverified`); anything else is still an error.
fn tolerable(e: EvidenceError) -> Result<String, EvidenceError> {
    match e {
        e @ (EvidenceError::Missing(_) | EvidenceError::Altered { .. }) => Ok(e.to_string()),
        e => Err(e),
    }
}

/// Reads, verifies and parses one manifest item. With `allow_unverified`, a missing or altered
/// file becomes an item without a body and the problem is returned beside it.
fn load_item(
    dir: &Path,
    item: &Item,
    allow_unverified: bool,
) -> Result<(LoadedItem, Option<String>), EvidenceError> {
    let mut loaded = LoadedItem {
        item: item.clone(),
        body: None,
        problem: None,
        pending: false,
    };
    if item.path.is_none() {
        return Ok((loaded, None));
    }
    match read_body(dir, item) {
        Ok(b) => loaded.body = Some(b),
        Err(e) if allow_unverified => {
            let text = tolerable(e)?;
            loaded.problem = Some(text.clone());
            return Ok((loaded, Some(text)));
        }
        Err(e) => return Err(e),
    }
    Ok((loaded, None))
}

/// For `--allow-unverified` on an indexed bundle: whether an item's file is missing or
/// altered (the answer is the problem), found by hashing it without parsing it.
fn unverifiable(dir: &Path, item: &Item) -> Result<Option<String>, EvidenceError> {
    match &item.path {
        Some(rel) => match read_verified(&dir.join(rel), item) {
            Ok(_) => Ok(None),
            Err(e) => tolerable(e).map(Some),
        },
        None => Ok(None),
    }
}

impl Bundle {
    /// Opens and verifies the bundle in `dir`, every body loaded: for signing, verifying,
    /// diffing and tools that change a bundle in memory.
    pub fn open(dir: &Path, allow_unverified: bool) -> Result<Bundle, EvidenceError> {
        Bundle::read(dir, allow_unverified, true)
    }

    /// Opens the bundle in `dir` without loading a body: the manifest, its paths and the
    /// files present are checked now, and each file is read, verified and parsed when
    /// [`Bundle::body`] asks for it, so the audit holds one scope's bodies at a time rather
    /// than the whole bundle. With `allow_unverified` every file is hashed now (not parsed),
    /// so the kinds of missing or altered files are known to be `unverified` up front.
    pub fn index(dir: &Path, allow_unverified: bool) -> Result<Bundle, EvidenceError> {
        Bundle::read(dir, allow_unverified, false)
    }

    /// Checks the bundle in `dir` as [`Bundle::open`] does, but keeps no body: every listed
    /// file is read and its SHA-256 compared on all cores, none is parsed. For signing and
    /// `verify`, which vouch for the files' bytes and would otherwise hold a large tenant's
    /// every parsed body at once. Returns the indexed bundle; the first problem is the error.
    pub fn verified(dir: &Path) -> Result<Bundle, EvidenceError> {
        let b = Bundle::index(dir, false)?;
        let checked = crate::parallel::map_in_order(&b.items, |i| match &i.item.path {
            Some(rel) => read_verified(&dir.join(rel), &i.item).map(drop),
            None => Ok(()),
        });
        for r in checked {
            r?;
        }
        Ok(b)
    }

    fn read(dir: &Path, allow_unverified: bool, load: bool) -> Result<Bundle, EvidenceError> {
        let manifest_path = dir.join("manifest.json");
        let raw = match fs::symlink_metadata(&manifest_path) {
            Ok(m) if m.file_type().is_file() => read_limited(&manifest_path)?,
            Ok(_) => return Err(EvidenceError::NotRegular(manifest_path)),
            Err(_) => return Err(EvidenceError::NoManifest(dir.to_path_buf())),
        };
        // The manifest's hash and the walk of the files present go on another thread while the
        // manifest is parsed: on a large tenant each is a sizeable pass of its own.
        let (parsed, (manifest_sha256, walked)) = std::thread::scope(|s| {
            let side = s.spawn(|| (sha256_hex(&raw), walk(dir)));
            let parsed = parse_manifest(&manifest_path, &raw);
            (
                parsed,
                side.join().unwrap_or_else(|p| std::panic::resume_unwind(p)),
            )
        });
        drop(raw);
        let mut manifest = parsed?;

        let mut listed: HashSet<&str> = HashSet::with_capacity(manifest.items.len());
        for (index, item) in manifest.items.iter().enumerate() {
            if let Some(p) = &item.path {
                if !is_safe_relative_path(p) || p == "manifest.json" {
                    return Err(EvidenceError::UnsafePath {
                        bundle: dir.to_path_buf(),
                        index,
                        path: p.clone(),
                    });
                }
                if !listed.insert(p.as_str()) {
                    return Err(EvidenceError::Manifest {
                        path: manifest_path.clone(),
                        message: format!("at `items[{index}].path`: {p:?} is listed twice"),
                    });
                }
                if item.sha256.is_none() {
                    return Err(EvidenceError::Manifest {
                        path: manifest_path.clone(),
                        message: format!("at `items[{index}].sha256`: missing for {p:?}"),
                    });
                }
            }
        }

        let mut problems = Vec::new();
        let mut present = walked?;
        present.remove("manifest.json");
        // The manifest's own signature cannot be listed in it (see sign::manifest).
        present.remove(crate::sign::manifest::SIG);
        for extra in present.iter().filter(|p| !listed.contains(p.as_str())) {
            let err = EvidenceError::Extra(dir.join(extra));
            if allow_unverified {
                problems.push(err.to_string());
            } else {
                return Err(err);
            }
        }

        // Hashing and parsing dominate on large tenants; items are independent, so spread them
        // over the cores and keep manifest order (and the first error in that order).
        let mut items = Vec::with_capacity(manifest.items.len());
        if load {
            let loaded = crate::parallel::map_in_order(&manifest.items, |it| {
                load_item(dir, it, allow_unverified)
            });
            for r in loaded {
                let (item, problem) = r?;
                problems.extend(problem);
                items.push(item);
            }
        } else {
            // The items move out of the manifest rather than being copied: on a large tenant
            // they are most of what an indexed bundle holds.
            let found = if allow_unverified {
                crate::parallel::map_in_order(&manifest.items, |it| unverifiable(dir, it))
            } else {
                Vec::new()
            };
            let mut found = found.into_iter();
            for item in std::mem::take(&mut manifest.items) {
                let problem = match found.next() {
                    Some(r) => r?,
                    None => None,
                };
                problems.extend(problem.clone());
                items.push(LoadedItem {
                    pending: item.path.is_some() && problem.is_none(),
                    item,
                    body: None,
                    problem,
                });
            }
        }
        Ok(Bundle {
            root: dir.to_path_buf(),
            manifest,
            manifest_sha256,
            items,
            problems,
        })
    }

    /// The body of one of this bundle's items: the loaded one, or for an indexed bundle the
    /// file read, verified against the manifest and parsed now. `None` for an item without a
    /// file (a failed request) or one whose file could not be verified.
    pub fn body<'a>(&self, item: &'a LoadedItem) -> Result<Option<Cow<'a, Body>>, EvidenceError> {
        if let Some(b) = &item.body {
            return Ok(Some(Cow::Borrowed(b)));
        }
        if !item.pending {
            return Ok(None);
        }
        read_body(&self.root, &item.item).map(|b| Some(Cow::Owned(b)))
    }

    /// Items of one kind, in manifest order.
    pub fn of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a LoadedItem> + 'a {
        self.items.iter().filter(move |i| i.item.kind == kind)
    }

    /// The state of every kind in the table (absent kinds are `not_collected`). A paged kind
    /// whose page chain is broken is `incomplete`, whatever its pages' own statuses.
    pub fn kind_states(&self) -> BTreeMap<String, KindState> {
        let mut out = BTreeMap::new();
        for k in kinds::KINDS {
            let items: Vec<_> = self.of_kind(k.name).collect();
            let mut st = state_of(&items);
            if st.status == EvidenceStatus::Ok {
                if let Some(gap) = chain_gap(k.paging, &items) {
                    st.status = EvidenceStatus::Incomplete;
                    st.reason = Some(gap);
                }
            }
            out.insert(k.name.to_string(), st);
        }
        out
    }

    /// Kinds named in the manifest that this siemproof does not know (a newer collector, or a
    /// hand-edited manifest). Their files are verified but read by nothing, which the audit says.
    pub fn unknown_kinds(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .items
            .iter()
            .filter(|i| kinds::kind(&i.item.kind).is_none())
            .map(|i| i.item.kind.clone())
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

/// Whether a body (or the item's kept headers) still names a next page. `body` is the item's
/// body however it was read; a page whose body is not at hand cannot show the listing ends.
pub fn names_next_page(paging: kinds::Paging, item: &LoadedItem, body: Option<&Body>) -> bool {
    if paging == kinds::Paging::NextMarker {
        return match body {
            Some(Body::Text(t)) => match roxmltree::Document::parse(t) {
                Ok(_) => crate::collect::paging::next_marker(t.as_bytes()).is_some(),
                // A body that cannot be read cannot show the listing ends.
                Err(_) => true,
            },
            _ => true,
        };
    }
    let body = match body {
        Some(Body::Json(v)) => v,
        // Text where JSON was due (a hand-edited manifest naming a `.txt` file) cannot show the
        // listing ends any more than a missing page can.
        Some(Body::Text(_)) | None => return true,
    };
    let header = |name: &str| {
        item.item.headers.as_ref().and_then(|h| {
            h.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        })
    };
    match paging {
        // `Content-Range: items 0-49/120`: more follow when the last index is below total - 1.
        // A reply without the header cannot show it is whole, so it counts as cut short.
        kinds::Paging::RangeHeader => {
            match header("Content-Range").as_deref().and_then(content_range) {
                Some((_, last, total)) => last + 1 < total,
                None => !body.as_array().is_some_and(|a| a.is_empty()),
            }
        }
        // Splunk `paging{total,offset}`: more follow when offset + entries < total. Without
        // the counts the listing cannot show it is whole.
        kinds::Paging::SplunkOffset => {
            let n = |k: &str| crate::normalize::raw::i(body, &["paging", k]);
            let entries = body.get("entry").and_then(|e| e.as_array()).map(Vec::len);
            match (n("total"), n("offset"), entries) {
                (Some(total), Some(offset), Some(e)) => offset + (e as i64) < total,
                _ => true,
            }
        }
        // Fleet `{items,total,page,perPage}`: more follow when (page-1)·perPage + items < total.
        kinds::Paging::PageNumber => {
            let n = |k: &str| crate::normalize::raw::i(body, &[k]);
            let items = body.get("items").and_then(|e| e.as_array()).map(Vec::len);
            match (n("total"), n("page"), n("perPage"), items) {
                (Some(total), Some(page), Some(per), Some(e)) if page >= 1 => {
                    (page - 1) * per + (e as i64) < total
                }
                _ => true,
            }
        }
        _ => paging.next_link(body, header).is_some(),
    }
}

/// Parses `items a-b/total` (QRadar's `Content-Range`), as (first, last, total).
pub fn content_range(v: &str) -> Option<(u64, u64, u64)> {
    let v = v.trim().strip_prefix("items")?.trim();
    let (range, total) = v.split_once('/')?;
    let (a, b) = range.split_once('-')?;
    Some((
        a.trim().parse().ok()?,
        b.trim().parse().ok()?,
        total.trim().parse().ok()?,
    ))
}

/// Checks every page chain of a kind (one chain per recorded scope): pages numbered from 0
/// without a hole, and a last page that names no further page. Returns why a chain is broken.
/// The items' bodies must be loaded ([`Bundle::open`]); see [`chain_gap_with`].
pub fn chain_gap(paging: kinds::Paging, items: &[&LoadedItem]) -> Option<String> {
    chain_gap_with(paging, items, |it| {
        names_next_page(paging, it, it.body.as_ref())
    })
}

/// [`chain_gap`], asking `names_next` whether a chain's last page names a further page (an
/// indexed bundle reads that page for it).
pub fn chain_gap_with<'a>(
    paging: kinds::Paging,
    items: &[&'a LoadedItem],
    names_next: impl FnMut(&'a LoadedItem) -> bool,
) -> Option<String> {
    if paging == kinds::Paging::None {
        return None;
    }
    chain_gap_in(paging, &chains_of(items), names_next)
}

/// A kind's items as page chains (one per recorded scope, case-insensitively), in scope order,
/// each chain's pages in page order (pages of one number in the items' order).
pub fn chains_of<'a>(items: &[&'a LoadedItem]) -> Vec<Vec<&'a LoadedItem>> {
    // Sorted rather than put in a map: a stable sort keeps the items' order within a scope,
    // and costs one pass over items already in scope order, as a collector writes them.
    let mut keyed: Vec<(String, &'a LoadedItem)> =
        items.iter().map(|it| (chain_key(it), *it)).collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    keyed
        .chunk_by(|a, b| a.0 == b.0)
        .map(|scope| {
            let mut chain: Vec<&'a LoadedItem> = scope.iter().map(|(_, it)| *it).collect();
            chain.sort_by_key(|i| i.item.page.unwrap_or(0));
            chain
        })
        .collect()
}

/// [`chain_gap_with`] over chains already grouped by [`chains_of`]: the first broken chain,
/// in scope order, names the reason.
pub fn chain_gap_in<'a>(
    paging: kinds::Paging,
    chains: &[Vec<&'a LoadedItem>],
    mut names_next: impl FnMut(&'a LoadedItem) -> bool,
) -> Option<String> {
    if paging == kinds::Paging::None {
        return None;
    }
    for chain in chains {
        let Some(&last) = chain.last() else {
            continue;
        };
        let where_ = || {
            let scope = chain[0].item.scope.as_deref().unwrap_or_default();
            if scope.is_empty() {
                String::new()
            } else {
                format!(" for {scope}")
            }
        };
        for (expected, it) in chain.iter().enumerate() {
            let page = it.item.page.unwrap_or(0) as usize;
            if page != expected {
                let where_ = where_();
                return Some(format!(
                    "the listing{where_} is incomplete: page {expected} is missing from the bundle (pages run to {page})"
                ));
            }
        }
        if names_next(last) {
            let where_ = where_();
            let file = last.item.path.as_deref().unwrap_or("?");
            return Some(format!(
                "the listing{where_} is incomplete: its last page ({file}) names a next page that the bundle does not hold"
            ));
        }
    }
    None
}

/// Which page chain an item belongs to: its recorded scope, case-insensitively.
fn chain_key(it: &LoadedItem) -> String {
    it.item
        .scope
        .as_deref()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// The worst status among `items` (`ok` for none), as [`state_of`] folds it.
pub fn worst_status(items: &[&LoadedItem]) -> EvidenceStatus {
    let mut status = EvidenceStatus::Ok;
    for it in items {
        let s = it.status();
        if s > status {
            status = s;
        }
    }
    status
}

/// Folds the items of one kind into one state: the worst item wins, so a kind is `ok` only when
/// every request for it succeeded.
pub fn state_of(items: &[&LoadedItem]) -> KindState {
    if items.is_empty() {
        return KindState {
            status: EvidenceStatus::NotCollected,
            reason: Some("not in the bundle".into()),
            files: vec![],
        };
    }
    let mut status = EvidenceStatus::Ok;
    let mut reason = None;
    let mut files = Vec::new();
    for it in items {
        let s = it.status();
        if let Some(p) = &it.item.path {
            files.push(p.clone());
        }
        if s > status {
            status = s;
            let scope = it
                .item
                .scope
                .as_deref()
                .map(|s| format!(" ({s})"))
                .unwrap_or_default();
            reason = Some(format!("{}{}", it.failure_text(), scope));
        }
    }
    KindState {
        status,
        reason,
        files,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file swapped for a link or a FIFO after the walk is refused where it is opened, and
    /// the FIFO is not waited on (nothing writes to it; a blocking open would hang here).
    #[cfg(unix)]
    #[test]
    fn a_link_or_fifo_is_refused_at_the_open() {
        let t = tempfile::tempdir().unwrap();
        let real = t.path().join("real.json");
        fs::write(&real, b"{}").unwrap();
        assert_eq!(read_limited(&real).unwrap(), b"{}");
        let link = t.path().join("link.json");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        assert!(matches!(read_limited(&link), Err(EvidenceError::NotRegular(p)) if p == link));
        let fifo = t.path().join("fifo.json");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success(), "mkfifo (coreutils) makes the FIFO");
        assert!(matches!(read_limited(&fifo), Err(EvidenceError::NotRegular(p)) if p == fifo));
        assert!(matches!(
            read_limited(&t.path().join("absent.json")),
            Err(EvidenceError::Missing(_))
        ));
    }

    fn failed(status: u16, code: &str) -> LoadedItem {
        LoadedItem {
            item: serde_json::from_value(serde_json::json!({
                "kind": "o365.content",
                "scope": "Audit.General",
                "status": status,
                "fetched_at": "2026-11-20T08:00:00Z",
                "error": {"code": code, "message": "m"}
            }))
            .unwrap(),
            body: None,
            problem: None,
            pending: false,
        }
    }

    #[test]
    fn missing_or_disabled_o365_subscriptions_are_evidence_of_absence() {
        assert_eq!(failed(400, "AF20022").status(), EvidenceStatus::NotFound);
        assert_eq!(failed(400, "AF20023").status(), EvidenceStatus::NotFound);
        assert_eq!(failed(403, "AF429").status(), EvidenceStatus::Throttled);
        assert_eq!(failed(401, "AF10001").status(), EvidenceStatus::Forbidden);
        assert_eq!(failed(400, "AF20030").status(), EvidenceStatus::Error);
    }

    fn page(
        kind: &str,
        page: u32,
        headers: &[(&str, &str)],
        body: serde_json::Value,
    ) -> LoadedItem {
        let mut it: Item = serde_json::from_value(serde_json::json!({
            "kind": kind, "scope": "qradar", "page": page, "status": 200,
            "path": format!("raw/siem/qradar/{kind}.{page}.json"), "sha256": "0",
            "fetched_at": "2026-11-20T08:00:00Z"
        }))
        .unwrap();
        it.headers = Some(
            headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
        LoadedItem {
            item: it,
            body: Some(Body::Json(body)),
            problem: None,
            pending: false,
        }
    }

    #[test]
    fn qradar_range_paging_is_complete_only_when_content_range_says_so() {
        assert_eq!(content_range("items 0-199/420"), Some((0, 199, 420)));
        assert_eq!(content_range("items 0-0/1"), Some((0, 0, 1)));
        assert_eq!(content_range("bytes 0-9/10"), None);
        let k = "siem.qradar.log_sources";
        let p0 = page(
            k,
            0,
            &[("Content-Range", "items 0-199/250")],
            serde_json::json!([{}]),
        );
        let p1 = page(
            k,
            1,
            &[("Content-Range", "items 200-249/250")],
            serde_json::json!([{}]),
        );
        let paging = kinds::Paging::RangeHeader;
        assert!(
            chain_gap(paging, &[&p0]).is_some(),
            "page 1 of 2 alone is incomplete"
        );
        assert!(chain_gap(paging, &[&p0, &p1]).is_none());
        let bare = page(k, 0, &[], serde_json::json!([{}]));
        assert!(
            chain_gap(paging, &[&bare]).is_some(),
            "without Content-Range a non-empty page cannot show it is whole"
        );
        let empty = page(k, 0, &[], serde_json::json!([]));
        assert!(chain_gap(paging, &[&empty]).is_none());
    }

    #[test]
    fn unsafe_paths_are_refused() {
        for p in ["../x.json", "/etc/passwd", "a/../../b", "a\\b", "", "./a"] {
            assert!(!is_safe_relative_path(p), "{p}");
        }
        assert!(is_safe_relative_path(
            "raw/arm/arm.eventhub.namespaces.json"
        ));
    }
}
