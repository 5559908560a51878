//! `collect` and `probe`: the two commands that touch the network.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

#[derive(Args)]
pub struct CollectArgs {
    /// The deployment config (tenant, cloud, Event Hub, storage, SIEM apps)
    #[arg(long, default_value = "siemproof.toml")]
    pub config: PathBuf,
    /// Where to write the evidence bundle (a new or empty directory; see --force)
    #[arg(long, short, default_value = "evidence")]
    pub out: PathBuf,
    /// Replace an earlier bundle at --out (it is kept until the new one is complete); anything
    /// else at --out is never replaced
    #[arg(long)]
    pub force: bool,
    /// Sign the bundle's manifest (manifest.json.minisig) with this minisign secret key; `-`
    /// reads SIEMPROOF_SIGNING_KEY
    #[arg(long, value_name = "KEY")]
    pub sign: Option<PathBuf>,
    /// Exit 3 when fewer than this share of requests (percent) got an answer from Microsoft
    /// (5xx, throttling, timeouts and transport errors are no answer; 403 and 404 are)
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub min_answered: u8,
    /// Credential type (environment variables as the Azure SDKs name them)
    #[arg(long, value_enum, default_value = "default")]
    pub auth: crate::collect::auth::AuthKind,
    /// Extra CA certificate (PEM) to trust, e.g. a TLS-intercepting proxy
    #[arg(long)]
    pub ca_bundle: Option<PathBuf>,
    /// Log each request: method, URL (query values redacted), status, milliseconds
    #[arg(long, short)]
    pub verbose: bool,
    /// Requests in flight at most (1 = sequential)
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
    /// Pages followed per list at most
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=100000))]
    pub page_limit: u32,
    /// Read only the configured Event Hub namespace, not every namespace in its resource group
    #[arg(long)]
    pub only_configured_namespace: bool,
    /// How namespace metrics are read: `auto` batches up to 50 namespaces of a subscription
    /// and region per call (Azure Monitor's metrics:getBatch, public cloud or
    /// `endpoints.metrics_batch`; needs Monitoring Reader on the subscription, falls back per
    /// namespace when refused); `per-resource` reads each namespace through ARM
    #[arg(long, value_enum, default_value = "auto")]
    pub metrics: crate::collect::plan::MetricsRead,
    /// Retries per request after the first attempt
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u32).range(0..=100))]
    pub max_retries: u32,
    /// Seconds one request may take including its retries and throttling waits; a server's
    /// Retry-After beyond it is recorded as throttled, not waited for
    #[arg(long, default_value_t = 180, value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub deadline: u64,
    /// Seconds one HTTP attempt may take
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout: u64,
    /// Pin the collection clock (RFC 3339): `collected_at` and the metrics and content windows
    /// are computed from it instead of now. For reproducible demos and tests against the mock.
    #[arg(long, env = "SIEMPROOF_COLLECT_CLOCK", hide = true)]
    pub clock: Option<String>,
    /// Seconds the SIEM APIs may take in all, per target ([[siem]]); the Microsoft collection
    /// does not wait for a SIEM that is slow or down beyond this
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub siem_deadline: u64,
    /// Read only one side: `microsoft` (skip the [[siem]] targets) or `siem` (only the SIEM
    /// APIs; no Microsoft credential is needed)
    #[arg(long, value_enum, default_value = "all")]
    pub only: crate::collect::Only,
    /// Also write what the collector did, per plane, to this JSON file (requests, throttled
    /// answers, retries, seconds waited on Retry-After, on backoff and on pacing); it replaces
    /// only an earlier stats file
    #[arg(long, value_name = "FILE")]
    pub stats: Option<PathBuf>,
    /// Pace as if Microsoft's documented refill rates were this many times as fast: for tests
    /// and benchmarks against the mock's scaled limits (`mock-cloud --limits scaled:K`)
    #[arg(long, hide = true, default_value_t = 1.0, value_parser = parse_pace_scale)]
    pub pace_scale: f64,
    /// Do not pace ARM or the Activity API: send as fast as the concurrency allows and rely on
    /// Retry-After alone, as before pacing (to measure what pacing saves; Graph's report
    /// window is still kept)
    #[arg(long, hide = true)]
    pub no_pacing: bool,
}

fn parse_pace_scale(v: &str) -> Result<f64, String> {
    match v.parse::<f64>() {
        Ok(k) if k.is_finite() && (0.001..=1000.0).contains(&k) => Ok(k),
        _ => Err(format!("{v:?} is not a factor between 0.001 and 1000")),
    }
}

pub(crate) fn probe_cmd(a: &crate::probe::command::ProbeArgs, out: &mut dyn Write) -> Result<u8> {
    crate::probe::command::run(a, out)
}

pub(crate) fn collect_cmd(a: &CollectArgs, out: &mut dyn Write) -> Result<u8> {
    let mut opts = crate::collect::CollectOptions::new(a.config.clone(), a.out.clone());
    opts.auth = a.auth;
    opts.ca_bundle = a.ca_bundle.clone();
    opts.verbose = a.verbose;
    opts.progress = std::io::stderr().is_terminal() && !a.verbose;
    opts.concurrency = usize::from(a.concurrency.max(1));
    opts.force = a.force;
    // Load (and decrypt) the key before collecting, so a wrong password costs no requests.
    opts.sign = match &a.sign {
        Some(k) => Some(crate::sign::keys::HeldKey(std::sync::Arc::new(
            super::signing::load_signing_key(k)?,
        ))),
        None => None,
    };
    opts.page_limit = a.page_limit.max(1);
    opts.only_configured_namespace = a.only_configured_namespace;
    opts.metrics = a.metrics;
    opts.retry.max_retries = a.max_retries;
    opts.retry.deadline = std::time::Duration::from_secs(a.deadline.max(1));
    opts.request_timeout = std::time::Duration::from_secs(a.timeout.max(1));
    opts.siem_deadline = std::time::Duration::from_secs(a.siem_deadline);
    opts.only = a.only;
    opts.pacer = Some(std::sync::Arc::new(if a.no_pacing {
        crate::collect::pace::Pacer::reports_only(a.pace_scale)
    } else {
        crate::collect::pace::Pacer::documented(a.pace_scale)
    }));
    opts.clock = a
        .clock
        .as_deref()
        .map(crate::audit::parse_as_of)
        .transpose()?;
    // Before any request: a path that is not ours to replace costs nothing.
    if let Some(p) = &a.stats {
        crate::collect::stats::check_replaceable(p)?;
    }
    let s = crate::collect::collect(&opts)?;
    writeln!(
        out,
        "wrote {} ({} items, {} requests, {} retries, {} throttled, {:.1}s)",
        s.bundle.display(),
        s.items,
        s.requests(),
        s.retries(),
        s.throttled(),
        s.elapsed.as_secs_f64()
    )?;
    for p in &s.planes {
        writeln!(
            out,
            "  {:9} {} requests, {} throttled ({:.1}%), {} retries; waited {:.1} s on Retry-After, {:.1} s backoff, {:.1} s pacing",
            format!("{}:", p.plane),
            p.requests,
            p.throttled,
            p.throttled_percent(),
            p.retries,
            p.retry_after_s,
            p.backoff_s,
            p.pacing_s
        )?;
    }
    if let Some(p) = &a.stats {
        crate::collect::stats::Stats::of(&s).write(p)?;
    }
    if !s.failures.is_empty() {
        writeln!(
            out,
            "partial collection: {} requests failed:",
            s.failures.len()
        )?;
        for f in &s.failures {
            writeln!(out, "  {f}")?;
        }
    }
    if let Some(short) = s.shortfall(a.min_answered) {
        writeln!(out, "{short}; {} (exit 3)", short.consequence())?;
        return Ok(3);
    }
    Ok(0)
}
