//! `fleet audit`: every tenant of the fleet (or of one shard) audited on all cores with one
//! compiled catalogue, each into its own `STATE/<slug>/run` exactly as `siemproof audit` would
//! write it, with a `status.json` beside it that `fleet report` and `--resume` read.
//!
//! One tenant's failure (a corrupt bundle, a wrong key, even a panic) is that tenant's exit 2
//! and its `status.json` says why; the other tenants go on. `--resume` keeps a tenant audited
//! before whose status names the same inputs (the fleet entry, its config's bytes, its bundle's manifest,
//! the audit options, this siemproof and its catalogue), so a run cut short picks up where it
//! stopped and a changed bundle is audited again.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::file::{Fleet, Tenant};
use crate::catalog::Catalog;
use crate::cli::{AuditArgs, FailOn, FailOnUnassessed};

/// The marker that makes a directory a fleet state (and lets `fleet` write into it).
pub const MARKER: &str = "fleet-state.json";
pub const STATE_FORMAT: &str = "siemproof-fleet-state/1";
pub const STATUS: &str = "status.json";
pub const STATUS_FORMAT: &str = "siemproof-fleet-status/1";
/// A tenant's audit output directory inside its state directory.
pub const RUN_DIR: &str = "run";
pub const LOG: &str = "audit.log";

/// What `fleet audit` does to every tenant.
#[derive(Debug, Clone)]
pub struct AuditPlan {
    /// The state directory this run writes (the fleet's, or its shard's).
    pub state: PathBuf,
    pub resume: bool,
    pub format: String,
    pub as_of: Option<String>,
    pub fail_on: FailOn,
    pub fail_on_unassessed: FailOnUnassessed,
    pub at_once: usize,
    /// Sign each run with this key (`-`: SIEMPROOF_SIGNING_KEY) and append it to its tenant's
    /// ledger, when the tenant names one.
    pub sign: Option<PathBuf>,
}

/// A tenant's `status.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Status {
    pub format: String,
    pub slug: String,
    /// `audited`: the audit ran (its exit says how it went); `failed`: it could not run.
    pub phase: String,
    pub exit: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// SHA-256 of everything the run depended on: `--resume` keeps a status only when it matches.
    pub entry_sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub results_sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence_manifest_sha256: Option<String>,
    pub finished_at: String,
    pub seconds: f64,
}

impl Status {
    pub fn load(path: &Path) -> Result<Status> {
        load_json(path, STATUS_FORMAT, |s: &Status| &s.format)
    }
}

/// Reads a JSON file of the fleet's state, naming the file and the JSON path of a bad field,
/// and refusing another format than `format`.
pub fn load_json<T: serde::de::DeserializeOwned>(
    path: &Path,
    format: &str,
    format_of: impl Fn(&T) -> &str,
) -> Result<T> {
    let bytes = crate::files::read_bounded(path)?;
    let mut de = serde_json::Deserializer::from_slice(&bytes);
    let v: T = serde_path_to_error::deserialize(&mut de)
        .map_err(|e| anyhow!("{}: at `{}`: {}", path.display(), e.path(), e.inner()))?;
    if format_of(&v) != format {
        bail!(
            "{}: format {:?} is not {format:?}",
            path.display(),
            format_of(&v)
        );
    }
    Ok(v)
}

/// How one tenant's audit ended.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub slug: String,
    pub exit: u8,
    /// Kept from an earlier run by `--resume`.
    pub kept: bool,
    pub seconds: f64,
    pub error: Option<String>,
}

/// How bad an exit code is, for "the fleet exits with its worst tenant's code": an error (2)
/// outranks a collection that saw too little (3), which outranks failing findings (1).
pub fn badness(code: u8) -> u8 {
    match code {
        0 => 0,
        1 => 1,
        3 => 2,
        _ => 3,
    }
}

/// The worst of `codes` (0 when there are none).
pub fn worst(codes: impl IntoIterator<Item = u8>) -> u8 {
    codes.into_iter().max_by_key(|c| badness(*c)).unwrap_or(0)
}

/// Makes `state` a fleet state directory, or checks that it is one: a non-empty directory
/// without the marker is someone else's and is refused.
pub fn prepare_state(state: &Path) -> Result<()> {
    let marker = state.join(MARKER);
    if marker.is_file() {
        return check_marker(&marker);
    }
    if state.exists() {
        let empty = std::fs::read_dir(state)
            .with_context(|| format!("{}: cannot list", state.display()))?
            .next()
            .is_none();
        if !empty {
            bail!(
                "{}: is a non-empty directory that is not a siemproof fleet state (no {MARKER}); refusing to write into it (nothing was changed); give another state directory",
                state.display()
            );
        }
    }
    std::fs::create_dir_all(state)
        .with_context(|| format!("{}: cannot create", state.display()))?;
    let body = serde_json::json!({ "format": STATE_FORMAT });
    crate::sign::write_atomic(&marker, format!("{body:#}\n").as_bytes())
}

/// Checks that `marker` is a fleet state marker of this format.
pub fn check_marker(marker: &Path) -> Result<()> {
    #[derive(Deserialize)]
    struct M {
        format: String,
    }
    let bytes = crate::files::read_bounded(marker)?;
    let m: M = serde_json::from_slice(&bytes)
        .map_err(|e| anyhow!("{}: not a fleet state marker: {e}", marker.display()))?;
    if m.format != STATE_FORMAT {
        bail!(
            "{}: format {:?} is not {STATE_FORMAT:?}",
            marker.display(),
            m.format
        );
    }
    Ok(())
}

/// SHA-256 over labelled, length-prefixed parts: what a tenant's step depended on, for
/// `--resume`. An unreadable file hashes as such (the step then fails and says why).
pub struct EntryHash(Sha256);

impl EntryHash {
    /// Starts with this siemproof's version and the tenant's slug.
    pub fn new(slug: &str) -> EntryHash {
        let mut h = EntryHash(Sha256::new());
        h.part("tool", env!("CARGO_PKG_VERSION").as_bytes());
        h.part("slug", slug.as_bytes());
        h
    }

    pub fn part(&mut self, label: &str, bytes: &[u8]) {
        self.0.update(label.as_bytes());
        self.0.update((bytes.len() as u64).to_be_bytes());
        self.0.update(bytes);
    }

    pub fn file(&mut self, label: &str, path: &Path) {
        let bytes = crate::files::read_bounded(path).unwrap_or_else(|_| b"<unreadable>".to_vec());
        self.part(label, &bytes);
    }

    pub fn hex(self) -> String {
        hex::encode(self.0.finalize())
    }
}

/// Everything a tenant's audit depends on.
fn entry_sha256(t: &Tenant, bundle: &Path, plan: &AuditPlan) -> String {
    let mut h = EntryHash::new(&t.slug);
    h.part("catalogue", crate::catalog::CATALOGUE_VERSION.as_bytes());
    h.part("bundle", bundle.to_string_lossy().as_bytes());
    h.file("manifest", &bundle.join("manifest.json"));
    if let Some(c) = &t.config {
        h.file("config", c);
    }
    if let Some(k) = &t.pubkey {
        h.file("pubkey", k);
    }
    h.part("format", plan.format.as_bytes());
    h.part("as_of", plan.as_of.as_deref().unwrap_or("").as_bytes());
    h.part(
        "fail_on",
        format!("{:?} {:?}", plan.fail_on, plan.fail_on_unassessed).as_bytes(),
    );
    // A signed run is another output than an unsigned one (and is appended to the ledger).
    h.part("signed", &[u8::from(plan.sign.is_some())]);
    if let Some(l) = &t.ledger {
        h.part("ledger", l.to_string_lossy().as_bytes());
    }
    h.hex()
}

pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Audits one tenant into `STATE/<slug>` and writes its status; never returns an error for
/// the tenant's own failures (they are its status), only for a state it cannot write.
fn audit_tenant(t: &Tenant, plan: &AuditPlan, catalog: &Catalog) -> Result<Outcome> {
    let started = Instant::now();
    let dir = plan.state.join(&t.slug);
    std::fs::create_dir_all(&dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    let bundle = t.bundle_in(&plan.state);
    let entry = entry_sha256(t, &bundle, plan);
    let status_path = dir.join(STATUS);
    let run = dir.join(RUN_DIR);
    if plan.resume {
        if let Ok(s) = Status::load(&status_path) {
            // Only a finished audit is kept: a tenant that failed is tried again.
            if s.entry_sha256 == entry && s.phase == "audited" && run.join("results.json").is_file()
            {
                return Ok(Outcome {
                    slug: t.slug.clone(),
                    exit: s.exit,
                    kept: true,
                    seconds: 0.0,
                    error: s.error,
                });
            }
        }
    }
    let args = AuditArgs {
        bundle: bundle.clone(),
        // A bundle the fleet collected carries the config it was collected with, so it is
        // audited exactly as `siemproof audit BUNDLE` would be; a bundle collected elsewhere
        // takes the entry's config, when it names one, as `--config` would.
        config: t.bundle.as_ref().and(t.config.clone()),
        out: run.clone(),
        format: plan.format.clone(),
        as_of: plan.as_of.clone(),
        fail_on: plan.fail_on,
        fail_on_unassessed: plan.fail_on_unassessed,
        pubkey: t.pubkey.clone(),
        checks: Vec::new(),
        select: Vec::new(),
        ignore: Vec::new(),
        attestations: None,
        allow_unverified: false,
        templates: None,
        all: false,
        sign: plan.sign.clone(),
        ledger: plan.sign.as_ref().and(t.ledger.clone()),
        compliance: Vec::new(),
    };
    let mut out: Vec<u8> = Vec::new();
    let mut err: Vec<u8> = Vec::new();
    let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        crate::cli::run_audit(&args, Some(catalog), &mut out, &mut err)
    }));
    let (exit, error) = match ran {
        Ok(Ok(code)) => (code, None),
        Ok(Err(e)) => (2, Some(crate::redact::text(&format!("{e:#}")).into_owned())),
        Err(panic) => (2, Some(panic_message(panic.as_ref()))),
    };
    let mut log = out;
    log.extend_from_slice(&err);
    if let Some(e) = &error {
        writeln!(log, "error: {e}")?;
    }
    let log = crate::redact::text(&String::from_utf8_lossy(&log)).into_owned();
    crate::sign::write_atomic(&dir.join(LOG), log.as_bytes())?;
    let results = run.join("results.json");
    let audited = error.is_none();
    let results_sha256 = audited
        .then(|| crate::files::read_bounded(&results).ok())
        .flatten()
        .map(|b| crate::evidence::sha256_hex(&b));
    let evidence_manifest_sha256 = crate::files::read_bounded(&bundle.join("manifest.json"))
        .ok()
        .map(|b| crate::evidence::sha256_hex(&b));
    let seconds = (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
    let status = Status {
        format: STATUS_FORMAT.into(),
        slug: t.slug.clone(),
        phase: if audited { "audited" } else { "failed" }.into(),
        exit,
        error: error.clone(),
        entry_sha256: entry,
        results_sha256,
        evidence_manifest_sha256,
        finished_at: now_rfc3339(),
        seconds,
    };
    finish(&status_path, &status, t, exit, seconds, error)
}

/// Writes a tenant's status file whole and returns the outcome it records.
pub fn finish<T: Serialize>(
    path: &Path,
    status: &T,
    t: &Tenant,
    exit: u8,
    seconds: f64,
    error: Option<String>,
) -> Result<Outcome> {
    let mut bytes = serde_json::to_vec_pretty(status)?;
    bytes.push(b'\n');
    crate::sign::write_atomic(path, &bytes)?;
    Ok(Outcome {
        slug: t.slug.clone(),
        exit,
        kept: false,
        seconds,
        error,
    })
}

/// Runs `work` on every tenant on `at_once` threads; `progress` gets one line per finished
/// tenant, prefixed by `verb`. Outcomes come back in the order of `tenants`.
pub fn pool(
    verb: &str,
    tenants: &[&Tenant],
    at_once: usize,
    progress: &Mutex<&mut (dyn Write + Send)>,
    work: impl Fn(&Tenant) -> Result<Outcome> + Sync,
) -> Vec<Result<Outcome>> {
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<Result<Outcome>>>> =
        tenants.iter().map(|_| Mutex::new(None)).collect();
    let workers = at_once.clamp(1, tenants.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(t) = tenants.get(i) else { break };
                let r = work(t);
                let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                if let Ok(mut p) = progress.lock() {
                    let line = match &r {
                        Ok(o) if o.kept => format!("kept (--resume), exit {}", o.exit),
                        Ok(o) => match &o.error {
                            Some(e) => format!("exit {} in {:.1} s: {e}", o.exit, o.seconds),
                            None => format!("exit {} in {:.1} s", o.exit, o.seconds),
                        },
                        Err(e) => format!("state not written: {e:#}"),
                    };
                    let _ = writeln!(p, "{verb}: [{n}/{}] {}: {line}", tenants.len(), t.slug);
                }
                if let Ok(mut slot) = slots[i].lock() {
                    *slot = Some(r);
                }
            });
        }
    });
    slots
        .into_iter()
        .zip(tenants)
        .map(|(m, t)| {
            m.into_inner()
                .ok()
                .flatten()
                .unwrap_or_else(|| Err(anyhow!("{}: the worker stopped before it", t.slug)))
        })
        .collect()
}

/// The message of a caught panic, redacted.
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    format!(
        "internal error (please report it): {}",
        crate::redact::text(&what)
    )
}

/// Audits `tenants` on `plan.at_once` threads with one catalogue.
pub fn audit_all(
    tenants: &[&Tenant],
    plan: &AuditPlan,
    catalog: &Catalog,
    progress: &Mutex<&mut (dyn Write + Send)>,
) -> Result<Vec<Result<Outcome>>> {
    prepare_state(&plan.state)?;
    Ok(pool("fleet audit", tenants, plan.at_once, progress, |t| {
        audit_tenant(t, plan, catalog)
    }))
}

/// The tenants of `fleet` that `shard` selects (all of them without one).
pub fn select(fleet: &Fleet, shard: Option<super::shard::Shard>) -> Vec<&Tenant> {
    fleet
        .tenants
        .iter()
        .filter(|t| shard.is_none_or(|s| s.contains(&t.slug)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_exit_is_an_error_then_too_little_seen_then_findings() {
        assert_eq!(worst([0, 1, 0]), 1);
        assert_eq!(worst([1, 3, 0]), 3);
        assert_eq!(worst([3, 2, 1]), 2);
        assert_eq!(worst([]), 0);
    }

    #[test]
    fn a_foreign_non_empty_directory_is_not_taken_as_a_state() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("thesis.tex"), "mine").unwrap();
        let m = format!("{:#}", prepare_state(d.path()).unwrap_err());
        assert!(m.contains("not a siemproof fleet state"), "{m}");
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
        let fresh = d.path().join("state");
        prepare_state(&fresh).unwrap();
        prepare_state(&fresh).unwrap();
        assert!(fresh.join(MARKER).is_file());
    }
}
