//! `siemproof ledger verify`: the chain, every signature and every hash, and the runs missing
//! from the declared schedule.
//!
//! Every problem is collected and named by its entry (a removed entry does not hide an edited
//! one). With a public key the signatures are checked too; without one only the hash chain
//! is (what `period` needs to tell a broken chain), and the report says so.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::Result;
use chrono::{DateTime, Utc};
use minisign::{PublicKey, SignatureBox};
use serde::Serialize;

use super::{entry_dir_name, list, read_entry, sha256_hex, Entry, ENTRY, ENTRY_SIG};
use crate::sign::keys;
use crate::sign::sums::{self, SIG, SUMS};

/// One thing wrong with the ledger, at an entry (`seq`) or the ledger as a whole (`None`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Problem {
    pub seq: Option<u64>,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.seq {
            Some(s) => write!(f, "entry {}: {}", entry_dir_name(s), self.message),
            None => write!(f, "{}", self.message),
        }
    }
}

/// Runs missing from the schedule between two entries (or after the last one).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Gap {
    /// The entry before the gap (`None` before the first one).
    pub after_seq: Option<u64>,
    pub from: String,
    pub to: String,
    pub hours: f64,
    /// Scheduled runs that should have happened in the gap.
    pub missing_runs: i64,
}

/// What verification found.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub entries: usize,
    pub first_as_of: Option<String>,
    pub last_as_of: Option<String>,
    /// Signatures were checked (a public key was given).
    pub signatures_checked: bool,
    pub key_id: Option<String>,
    pub schedule_every_hours: Option<i64>,
    pub problems: Vec<Problem>,
    pub gaps: Vec<Gap>,
    /// The entries whose chain link and hashes hold, in order.
    #[serde(skip)]
    pub chain: Vec<Entry>,
}

impl Report {
    /// The chain holds (signatures too, when checked).
    pub fn chain_ok(&self) -> bool {
        self.problems.is_empty()
    }
    /// The chain holds and no scheduled run is missing.
    pub fn ok(&self) -> bool {
        self.chain_ok() && self.gaps.is_empty()
    }
}

/// Checks a prehashed minisign signature of `bytes` by `pk`; the error says why not.
pub fn check_signature(pk: &PublicKey, bytes: &[u8], sig_path: &Path) -> Result<(), String> {
    let name = sig_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let text =
        crate::files::read_text_bounded(sig_path).map_err(|_| format!("{name} is missing"))?;
    let sig = SignatureBox::from_string(&text)
        .map_err(|e| format!("{name} is not a minisign signature: {e}"))?;
    let (sig_key, pk_key) = (keys::key_id(sig.keynum()), keys::key_id(pk.keynum()));
    if sig_key != pk_key {
        return Err(format!(
            "{name} was made by key {sig_key}, not by {pk_key}: re-signed with another key"
        ));
    }
    if !sig.is_prehashed() {
        return Err(format!("{name} is a legacy (non-prehashed) signature"));
    }
    minisign::verify(pk, &sig, std::io::Cursor::new(bytes), true, false, false)
        .map_err(|e| format!("{name} does not verify with key {pk_key}: {e}"))
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The schedule's gaps among runs `(seq, as_of)` in order: consecutive runs further apart than
/// 1.5 intervals, and, at the edges, a first run that came that long after `since` or a last run
/// that long before `until` (with no run at all, the whole of `since..until`).
pub fn gaps(
    runs: &[(u64, DateTime<Utc>)],
    every_hours: i64,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
) -> Vec<Gap> {
    let every = every_hours as f64;
    let mut out = Vec::new();
    let mut push = |after: Option<u64>, a: DateTime<Utc>, b: DateTime<Utc>| {
        let hours = (b - a).num_seconds() as f64 / 3600.0;
        if hours > every * 1.5 {
            out.push(Gap {
                after_seq: after,
                from: a.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                to: b.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                hours: (hours * 10.0).round() / 10.0,
                missing_runs: ((hours / every).round() as i64 - 1).max(1),
            });
        }
    };
    let (Some(first), Some(last)) = (runs.first(), runs.last()) else {
        if let (Some(a), Some(b)) = (since, until) {
            push(None, a, b);
        }
        return out;
    };
    if let Some(since) = since {
        push(None, since, first.1);
    }
    for w in runs.windows(2) {
        push(Some(w[0].0), w[0].1, w[1].1);
    }
    if let Some(until) = until {
        push(Some(last.0), last.1, until);
    }
    out
}

/// The runs' `(seq, as_of)`, skipping an `as_of` that does not parse (verify names it).
pub fn run_times<'a>(entries: impl IntoIterator<Item = &'a Entry>) -> Vec<(u64, DateTime<Utc>)> {
    entries
        .into_iter()
        .filter_map(|e| parse_time(&e.as_of).map(|t| (e.seq, t)))
        .collect()
}

/// Verifies the ledger at `dir`; signatures only with `pk`. `until` extends the schedule check
/// past the last entry (a tail that was removed shows as runs missing up to `until`).
pub fn verify(dir: &Path, pk: Option<&PublicKey>, until: Option<DateTime<Utc>>) -> Result<Report> {
    let mut r = Report {
        signatures_checked: pk.is_some(),
        key_id: pk.map(|k| keys::key_id(k.keynum())),
        ..Report::default()
    };
    if !dir.join(super::ENTRIES).is_dir() {
        anyhow::bail!(
            "{}: not a ledger (no {}/ directory)",
            dir.display(),
            super::ENTRIES
        );
    }
    let (entries, strange) = list(dir)?;
    for s in strange {
        r.problems.push(Problem {
            seq: None,
            message: format!("{}/{s} is not a ledger entry", super::ENTRIES),
        });
    }
    let mut previous: Option<(Entry, String)> = None;
    let mut runs = BTreeSet::new();
    let mut expected = 1u64;
    for (n, path) in &entries {
        let n = *n;
        let mut bad = |m: String| {
            r.problems.push(Problem {
                seq: Some(n),
                message: m,
            })
        };
        if n != expected {
            let missing: Vec<String> = (expected..n).map(entry_dir_name).collect();
            bad(format!(
                "entries {} are missing before it: removed from the ledger",
                missing.join(", ")
            ));
        }
        expected = n + 1;
        let (e, bytes) = match read_entry(path) {
            Ok(x) => x,
            Err(err) => {
                bad(format!("{err:#}"));
                previous = None;
                continue;
            }
        };
        let entry_sha = sha256_hex(&bytes);
        let mut intact = true;
        if let Some(pk) = pk {
            if let Err(m) = check_signature(pk, &bytes, &path.join(ENTRY_SIG)) {
                bad(m);
                intact = false;
            }
        }
        if e.seq != n {
            bad(format!(
                "{ENTRY} says seq {}: entries were renamed or reordered",
                e.seq
            ));
            intact = false;
        }
        match (&previous, &e.previous_entry_sha256) {
            (None, None) if n == 1 => {}
            (Some((_, h)), Some(p)) if h == p => {}
            (Some((pe, h)), Some(p)) => {
                bad(format!(
                    "its previous-entry hash {p} is not entry {}'s ({h}): an entry before it was altered, replaced or reordered",
                    entry_dir_name(pe.seq)
                ));
                intact = false;
            }
            (_, None) => {
                bad("it names no previous entry but is not the first".into());
                intact = false;
            }
            (None, Some(_)) => {
                // The previous entry is unreadable or missing; already named above.
                intact = false;
            }
        }
        match crate::files::read_bounded(&path.join("results.json")) {
            Ok(b) => {
                let h = sha256_hex(&b);
                if h != e.results_sha256 {
                    bad(format!(
                        "results.json was altered (SHA-256 {h}, the entry says {})",
                        e.results_sha256
                    ));
                    intact = false;
                }
            }
            Err(_) => {
                bad("results.json is missing".into());
                intact = false;
            }
        }
        match crate::files::read_bounded(&path.join(SUMS)) {
            Ok(b) => {
                if sha256_hex(&b) != e.sums_sha256 {
                    bad(format!("{SUMS} was altered"));
                    intact = false;
                }
                if let Some(pk) = pk {
                    if let Err(m) = check_signature(pk, &b, &path.join(SIG)) {
                        bad(m);
                        intact = false;
                    }
                }
                let listed = sums::parse(&String::from_utf8_lossy(&b), SUMS)
                    .ok()
                    .and_then(|s| s.get("results.json").cloned());
                if listed.as_deref() != Some(e.results_sha256.as_str()) {
                    bad(format!(
                        "{SUMS} does not list this results.json: the run's signature does not cover it"
                    ));
                    intact = false;
                }
            }
            Err(_) => {
                bad(format!("{SUMS} is missing"));
                intact = false;
            }
        }
        if !runs.insert(e.run_id.clone()) {
            bad(format!("run {} appears twice", e.run_id));
            intact = false;
        }
        if let Some((pe, _)) = &previous {
            if e.as_of.as_str() <= pe.as_of.as_str() {
                bad(format!(
                    "as of {} is not later than entry {} ({}): reordered",
                    e.as_of,
                    entry_dir_name(pe.seq),
                    pe.as_of
                ));
                intact = false;
            }
        }
        if intact {
            r.chain.push(e.clone());
        }
        previous = Some((e, entry_sha));
    }
    r.entries = entries.len();
    r.first_as_of = r.chain.first().map(|e| e.as_of.clone());
    r.last_as_of = r.chain.last().map(|e| e.as_of.clone());
    r.schedule_every_hours = r
        .chain
        .last()
        .and_then(|e| e.schedule_every.as_deref())
        .and_then(crate::config::parse_every);
    if let Some(every) = r.schedule_every_hours {
        r.gaps = gaps(&run_times(&r.chain), every, None, until);
    }
    Ok(r)
}

/// The verdict text for the terminal.
pub fn render_text(r: &Report, ledger: &Path) -> String {
    let mut s = String::new();
    for p in &r.problems {
        s.push_str(&format!("problem: {p}\n"));
    }
    for g in &r.gaps {
        s.push_str(&format!(
            "missing: {} scheduled run(s) between {} and {} ({} h without a run)\n",
            g.missing_runs, g.from, g.to, g.hours
        ));
    }
    let span = match (&r.first_as_of, &r.last_as_of) {
        (Some(a), Some(b)) => format!(", {a} to {b}"),
        _ => String::new(),
    };
    let sigs = match (&r.key_id, r.signatures_checked) {
        (Some(k), true) => format!("signatures by key {k} checked"),
        _ => "signatures NOT checked (no --pubkey)".into(),
    };
    let schedule = match r.schedule_every_hours {
        Some(h) => format!("schedule every {h} h"),
        None => "no [schedule] declared: gaps not checked".into(),
    };
    let verdict = if r.ok() && r.signatures_checked {
        "VERIFIED"
    } else if r.chain_ok() && r.gaps.is_empty() {
        "CHAIN INTACT (unsigned check)"
    } else {
        "NOT VERIFIED"
    };
    s.push_str(&format!(
        "{verdict}: {} — {} entr{}{span}; {sigs}; {schedule}; {} problem(s), {} gap(s)\n",
        ledger.display(),
        r.entries,
        if r.entries == 1 { "y" } else { "ies" },
        r.problems.len(),
        r.gaps.len()
    ));
    s
}
