//! The ledger of scheduled runs: a hash chain of signed audits that proves, at the end of a
//! period, that the pipeline was checked on every scheduled day and that no run was dropped,
//! replaced, reordered or altered since (docs/ledger.md).
//!
//! ```text
//! LEDGER/entries/000001/results.json          the run's results, byte for byte
//!                       SHA256SUMS            the run's signed checksum list, byte for byte
//!                       SHA256SUMS.minisig    its minisign signature
//!                       entry.json            seq, run id, hashes, previous entry's SHA-256
//!                       entry.json.minisig    minisign signature of entry.json
//! ```
//!
//! An entry is staged in a hidden directory beside the others and renamed into place in one
//! step, so an interrupted append leaves either the whole entry or none (the staging directory
//! is ignored and removed by the next append). Each `entry.json` names the SHA-256 of the
//! previous one, so removing, reordering or editing an entry breaks the chain at a named place;
//! every `entry.json` and `SHA256SUMS` is signed, so re-signing with another key is seen too.
//! The stock tools suffice to check it: `minisign -Vm`, `sha256sum`.

pub mod period;
pub mod render;
pub mod verify;
pub mod view;

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::results::Results;
use crate::sign::sums::{SIG, SUMS};
use crate::sign::{keys, write_atomic};

/// `entry.json`'s format.
pub const ENTRY_FORMAT: &str = "siemproof-ledger-entry/1";
pub const ENTRIES: &str = "entries";
pub const ENTRY: &str = "entry.json";
pub const ENTRY_SIG: &str = "entry.json.minisig";
const STAGING_PREFIX: &str = ".staging-";

/// One ledger entry's `entry.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub format: String,
    /// 1, 2, 3, … with no gap; the directory is named after it (`000042`).
    pub seq: u64,
    pub run_id: String,
    pub tenant_id: String,
    /// The run's audit clock.
    pub as_of: String,
    pub collected_at: String,
    /// SHA-256 of the entry's results.json, SHA256SUMS, and the audited evidence manifest.
    pub results_sha256: String,
    pub sums_sha256: String,
    pub evidence_manifest_sha256: String,
    /// The minisign key id that signed the run and this entry.
    pub key_id: String,
    /// The run's declared `[schedule] every`, when it had one.
    pub schedule_every: Option<String>,
    /// SHA-256 of the previous entry's entry.json; `null` for entry 1 only.
    pub previous_entry_sha256: Option<String>,
}

/// The directory name of entry `seq`.
pub fn entry_dir_name(seq: u64) -> String {
    format!("{seq:06}")
}

/// A ledger's entry directories by number, and the names under `entries/` that are not entries.
pub type Listing = (Vec<(u64, PathBuf)>, Vec<String>);

/// The committed entries' directories, sorted by their number; names that are not six digits
/// (other than our staging directories) are returned apart.
pub fn list(ledger: &Path) -> Result<Listing> {
    let dir = ledger.join(ENTRIES);
    let mut entries = Vec::new();
    let mut strange = Vec::new();
    let rd = match std::fs::read_dir(&dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((entries, strange)),
        Err(e) => return Err(e).with_context(|| format!("{}: cannot list", dir.display())),
    };
    for e in rd {
        let e = e.with_context(|| format!("{}: cannot list", dir.display()))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with(STAGING_PREFIX) {
            continue;
        }
        match name.parse::<u64>() {
            Ok(n) if name.len() == 6 && n > 0 && e.file_type()?.is_dir() => {
                entries.push((n, e.path()))
            }
            _ => strange.push(name),
        }
    }
    entries.sort();
    strange.sort();
    Ok((entries, strange))
}

/// Reads an entry.json (bounded, unknown fields refused), naming the file on error.
pub fn read_entry(dir: &Path) -> Result<(Entry, Vec<u8>)> {
    let path = dir.join(ENTRY);
    let bytes = crate::files::read_bounded(&path)?;
    let e: Entry = serde_json::from_slice(&bytes)
        .with_context(|| format!("{}: not a ledger entry", path.display()))?;
    if e.format != ENTRY_FORMAT {
        bail!(
            "{}: format {:?} is not {ENTRY_FORMAT:?}",
            path.display(),
            e.format
        );
    }
    Ok((e, bytes))
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}

/// Signs `bytes` (prehashed, as `minisign -S` does) with a trusted comment.
fn signature(sk: &minisign::SecretKey, bytes: &[u8], comment: &str) -> Result<String> {
    let pk = keys::public_of(sk)?;
    let key_id = keys::key_id(pk.keynum());
    let sig = minisign::sign(
        Some(&pk),
        sk,
        std::io::Cursor::new(bytes),
        Some(comment),
        Some(&format!("signature from siemproof key {key_id}")),
    )
    .map_err(|e| anyhow!("cannot sign: {e}"))?;
    let mut text = sig.to_string();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    Ok(text)
}

/// What an append did.
#[derive(Debug)]
pub struct Appended {
    pub seq: u64,
    pub dir: PathBuf,
    pub run_id: String,
}

/// Appends the signed run in `run` (a directory `audit --sign` wrote) to the ledger at
/// `ledger`, signing the entry with `sk`. The run must verify with the key's public half; it
/// must be later than the last entry and not already in the ledger.
pub fn append(ledger: &Path, run: &Path, sk: &minisign::SecretKey) -> Result<Appended> {
    let pk = keys::public_of(sk)?;
    let key_id = keys::key_id(pk.keynum());
    let report = crate::sign::verify::verify_dir(run, &pk)?;
    if !report.ok() {
        bail!(
            "{}: the run does not verify with key {key_id}, so it cannot enter the ledger: {}",
            run.display(),
            report
                .problems
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    let results_bytes = crate::files::read_bounded(&run.join("results.json"))?;
    let sums_bytes = crate::files::read_bounded(&run.join(SUMS))?;
    let sig_bytes = crate::files::read_bounded(&run.join(SIG))?;
    let results = Results::load(&run.join("results.json"))?;

    let entries_dir = ledger.join(ENTRIES);
    std::fs::create_dir_all(&entries_dir)
        .with_context(|| format!("{}: cannot create", entries_dir.display()))?;
    remove_stale_staging(&entries_dir)?;
    let (entries, strange) = list(ledger)?;
    if let Some(s) = strange.first() {
        bail!(
            "{}: holds {s:?}, which is not a ledger entry; refusing to append (nothing was changed)",
            entries_dir.display()
        );
    }
    let previous = match entries.last() {
        Some((n, dir)) => {
            let (e, bytes) = read_entry(dir)?;
            if e.seq != *n {
                bail!(
                    "{}: says seq {}, its directory says {n}; run `siemproof ledger verify` (nothing was changed)",
                    dir.join(ENTRY).display(),
                    e.seq
                );
            }
            Some((e, sha256_hex(&bytes)))
        }
        None => None,
    };
    for (_, dir) in &entries {
        let (e, _) = read_entry(dir)?;
        if e.run_id == results.run.id {
            bail!(
                "run {} is already in the ledger as entry {} (nothing was changed)",
                e.run_id,
                entry_dir_name(e.seq)
            );
        }
    }
    if let Some((p, _)) = &previous {
        if results.run.as_of.as_str() <= p.as_of.as_str() {
            bail!(
                "run {} (as of {}) is not later than the ledger's last entry {} (as of {}); a ledger holds runs in time order (nothing was changed)",
                results.run.id,
                results.run.as_of,
                entry_dir_name(p.seq),
                p.as_of
            );
        }
    }
    let seq = previous.as_ref().map(|(e, _)| e.seq + 1).unwrap_or(1);
    let entry = Entry {
        format: ENTRY_FORMAT.into(),
        seq,
        run_id: results.run.id.clone(),
        tenant_id: results.run.tenant_id.clone(),
        as_of: results.run.as_of.clone(),
        collected_at: results.run.collected_at.clone(),
        results_sha256: sha256_hex(&results_bytes),
        sums_sha256: sha256_hex(&sums_bytes),
        evidence_manifest_sha256: results.run.evidence_manifest_sha256.clone(),
        key_id: key_id.clone(),
        schedule_every: results.config.schedule.as_ref().map(|s| s.every.clone()),
        previous_entry_sha256: previous.as_ref().map(|(_, h)| h.clone()),
    };
    let mut entry_bytes = serde_json::to_vec_pretty(&entry)?;
    entry_bytes.push(b'\n');
    let comment = format!(
        "siemproof ledger-entry seq:{seq} run:{} previous-entry-sha256:{}",
        entry.run_id,
        entry.previous_entry_sha256.as_deref().unwrap_or("none")
    );
    let entry_sig = signature(sk, &entry_bytes, &comment)?;

    let staging = tempfile::Builder::new()
        .prefix(STAGING_PREFIX)
        .tempdir_in(&entries_dir)
        .with_context(|| {
            format!(
                "{}: cannot create a staging directory",
                entries_dir.display()
            )
        })?;
    for (name, bytes) in [
        ("results.json", results_bytes.as_slice()),
        (SUMS, sums_bytes.as_slice()),
        (SIG, sig_bytes.as_slice()),
        (ENTRY, entry_bytes.as_slice()),
        (ENTRY_SIG, entry_sig.as_bytes()),
    ] {
        crate::files::write_synced(&staging.path().join(name), bytes)?;
    }
    let target = entries_dir.join(entry_dir_name(seq));
    let staged = staging.keep();
    // The commit point: a rename onto an existing non-empty directory fails, so two appends
    // racing for the same number cannot both land.
    if let Err(e) = std::fs::rename(&staged, &target) {
        let _ = std::fs::remove_dir_all(&staged);
        return Err(e).with_context(|| {
            format!(
                "{}: cannot commit the entry (another append?); nothing was changed",
                target.display()
            )
        });
    }
    crate::files::sync_tree_public(&entries_dir)?;
    Ok(Appended {
        seq,
        dir: target,
        run_id: entry.run_id,
    })
}

/// Removes staging directories an interrupted append left (ours, never committed).
fn remove_stale_staging(entries_dir: &Path) -> Result<()> {
    for e in std::fs::read_dir(entries_dir)
        .with_context(|| format!("{}: cannot list", entries_dir.display()))?
    {
        let e = e?;
        if e.file_name().to_string_lossy().starts_with(STAGING_PREFIX) && e.file_type()?.is_dir() {
            std::fs::remove_dir_all(e.path())
                .with_context(|| format!("{}: cannot remove", e.path().display()))?;
        }
    }
    Ok(())
}

/// One committed run as `period` reads it.
pub struct LoadedRun {
    pub entry: Entry,
    pub view: view::RunView,
}

/// Finds an entry by run id (for `diff LEDGER:RUN`).
pub fn find_run(ledger: &Path, run_id: &str) -> Result<PathBuf> {
    let (entries, _) = list(ledger)?;
    let mut matches = Vec::new();
    for (_, dir) in &entries {
        let (e, _) = read_entry(dir)?;
        if e.run_id == run_id {
            return Ok(dir.join("results.json"));
        }
        if run_id.len() >= 8 && e.run_id.starts_with(run_id) {
            matches.push((e.run_id, dir.clone()));
        }
    }
    match matches.len() {
        1 => Ok(matches.remove(0).1.join("results.json")),
        0 => bail!(
            "{}: no entry for run {run_id:?} (`siemproof ledger list {}` shows them; a prefix needs 8 or more characters)",
            ledger.display(),
            ledger.display()
        ),
        n => bail!(
            "{}: run prefix {run_id:?} matches {n} entries ({}); give more characters",
            ledger.display(),
            matches
                .iter()
                .map(|(id, _)| id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Writes `SHA256SUMS` over everything in `dir` and signs it with `comment` as the trusted
/// comment (`period --sign`, `fleet report --sign`); returns both paths.
pub fn sign_sums(dir: &Path, sk: &minisign::SecretKey, comment: &str) -> Result<[PathBuf; 2]> {
    let sums = crate::sign::sums::compute(dir)?;
    let sums_path = dir.join(crate::sign::sums::SUMS);
    crate::files::write_synced(&sums_path, crate::sign::sums::render(&sums).as_bytes())?;
    let sig = sign_file(&sums_path, sk, comment)?;
    Ok([sums_path, sig])
}

/// Writes a signature for an unsigned file, for writers outside the ledger (`period --sign`).
pub fn sign_file(path: &Path, sk: &minisign::SecretKey, comment: &str) -> Result<PathBuf> {
    let bytes = crate::files::read_bounded(path)?;
    let sig = signature(sk, &bytes, comment)?;
    let mut name = path.as_os_str().to_owned();
    name.push(".minisig");
    let out = PathBuf::from(name);
    write_atomic(&out, sig.as_bytes())?;
    Ok(out)
}
