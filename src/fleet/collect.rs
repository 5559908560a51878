//! `fleet collect`: every tenant of the fleet (or of one shard) collected into
//! `STATE/<slug>/evidence`, as `siemproof collect` would collect it, with its own credential and
//! one rate-limit pacer shared by all (its keys carry the principal, so one app's limits are
//! kept across the tenants it reads, and one tenant's throttling holds only its own buckets).
//!
//! Each tenant runs on its own thread and async runtime: a tenant that is refused, throttled
//! into its deadline or panics is its own exit code in `STATE/<slug>/collect.json`, and the
//! others go on. A tenant whose fleet entry names a `bundle` is collected elsewhere and is left
//! alone. `--resume` keeps a tenant whose last collection (same config bytes, same credential
//! entry, same siemproof) got an answer.

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use serde::{Deserialize, Serialize};

use super::file::{Fleet, Tenant};
use super::run::{self, Outcome};
use crate::collect::pace::Pacer;

pub const STATUS: &str = "collect.json";
pub const STATUS_FORMAT: &str = "siemproof-fleet-collect/1";

/// What `fleet collect` does to every tenant.
#[derive(Clone)]
pub struct CollectPlan {
    pub state: std::path::PathBuf,
    pub resume: bool,
    /// Requests in flight per tenant.
    pub concurrency: usize,
    pub at_once: usize,
    pub sign: Option<crate::sign::keys::HeldKey>,
    pub clock: Option<chrono::DateTime<chrono::Utc>>,
    /// Below this share of answered requests a tenant exits 3.
    pub min_answered: u8,
    pub deadline: Duration,
    pub timeout: Duration,
    pub pacer: Arc<Pacer>,
    /// Requests in flight to Microsoft over all tenants.
    pub in_flight: Option<Arc<tokio::sync::Semaphore>>,
}

/// A tenant's `collect.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CollectStatus {
    pub format: String,
    pub slug: String,
    /// 0 collected, 3 too little answered, 2 not collected (the error says why).
    pub exit: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// SHA-256 of the fleet entry, its config's bytes, its credential entry and this siemproof.
    pub entry_sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence_manifest_sha256: Option<String>,
    pub finished_at: String,
    pub seconds: f64,
    pub requests: u64,
    pub throttled: u64,
    pub retries: u64,
    pub answered: u64,
    pub unavailable: u64,
}

impl CollectStatus {
    pub fn load(path: &Path) -> Result<CollectStatus> {
        run::load_json(path, STATUS_FORMAT, |s: &CollectStatus| &s.format)
    }
}

/// Everything a tenant's collection depends on.
fn entry_sha256(fleet: &Fleet, t: &Tenant, config: &Path) -> String {
    let mut h = run::EntryHash::new(&t.slug);
    h.file("config", config);
    // The credential entry as parsed (names and paths only: its secrets are never read here).
    h.part(
        "credential",
        format!("{:?}", fleet.credential_of(t)).as_bytes(),
    );
    h.hex()
}

/// The tenants `fleet collect` collects: those with a config and no `bundle` of their own.
pub fn collectable<'a>(tenants: &[&'a Tenant]) -> (Vec<&'a Tenant>, Vec<&'a Tenant>) {
    tenants
        .iter()
        .partition(|t| t.config.is_some() && t.bundle.is_none())
}

fn collect_tenant(fleet: &Fleet, t: &Tenant, plan: &CollectPlan) -> Result<Outcome> {
    let started = Instant::now();
    let dir = plan.state.join(&t.slug);
    std::fs::create_dir_all(&dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    let config = t
        .config
        .clone()
        .ok_or_else(|| anyhow!("{}: no config to collect with", t.slug))?;
    let out = t.bundle_in(&plan.state);
    let entry = entry_sha256(fleet, t, &config);
    let status_path = dir.join(STATUS);
    if plan.resume {
        if let Ok(s) = CollectStatus::load(&status_path) {
            if s.entry_sha256 == entry && s.exit != 2 && out.join("manifest.json").is_file() {
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
    let mut opts = crate::collect::CollectOptions::new(config, out.clone());
    opts.concurrency = plan.concurrency;
    opts.force = crate::files::is_bundle(&out);
    opts.sign = plan.sign.clone();
    opts.clock = plan.clock;
    opts.retry.deadline = plan.deadline;
    opts.request_timeout = plan.timeout;
    opts.pacer = Some(plan.pacer.clone());
    opts.credential = fleet.credential_of(t).cloned();
    opts.fleet_in_flight = plan.in_flight.clone();
    let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        crate::collect::collect(&opts)
    }));
    let (exit, error, summary) = match ran {
        Ok(Ok(s)) => match s.shortfall(plan.min_answered) {
            Some(short) => (3, Some(short.to_string()), Some(s)),
            None => (0, None, Some(s)),
        },
        Ok(Err(e)) => (
            2,
            Some(crate::redact::text(&format!("{e:#}")).into_owned()),
            None,
        ),
        Err(panic) => (2, Some(run::panic_message(panic.as_ref())), None),
    };
    let seconds = (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
    let status = CollectStatus {
        format: STATUS_FORMAT.into(),
        slug: t.slug.clone(),
        exit,
        error: error.clone(),
        entry_sha256: entry,
        evidence_manifest_sha256: summary
            .as_ref()
            .and_then(|_| crate::files::read_bounded(&out.join("manifest.json")).ok())
            .map(|b| crate::evidence::sha256_hex(&b)),
        finished_at: run::now_rfc3339(),
        seconds,
        requests: summary.as_ref().map_or(0, |s| s.requests()),
        throttled: summary.as_ref().map_or(0, |s| s.throttled()),
        retries: summary.as_ref().map_or(0, |s| s.retries()),
        answered: summary.as_ref().map_or(0, |s| s.answered as u64),
        unavailable: summary.as_ref().map_or(0, |s| s.unavailable as u64),
    };
    run::finish(&status_path, &status, t, exit, seconds, error)
}

/// Collects `tenants` on `plan.at_once` threads.
pub fn collect_all(
    fleet: &Fleet,
    tenants: &[&Tenant],
    plan: &CollectPlan,
    progress: &Mutex<&mut (dyn Write + Send)>,
) -> Result<Vec<Result<Outcome>>> {
    run::prepare_state(&plan.state)?;
    Ok(run::pool(
        "fleet collect",
        tenants,
        plan.at_once,
        progress,
        |t| collect_tenant(fleet, t, plan),
    ))
}
