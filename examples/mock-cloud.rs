//! A local HTTPS mock of the Microsoft endpoints siemproof reads, and of the tenant's SIEM APIs
//! (QRadar, Splunk, Elastic, as the fixture records them), serving a fixture tenant.
//!
//! `cargo run --release --example mock-cloud -- --tenant fixtures/tenants/contoso-demo --port 8443 --write-config FILE`
//! writes FILE (a siemproof.toml pointing at the mock, with its generated CA) and FILE.env (a
//! client secret and SIEM credentials only this mock accepts), then serves until Ctrl-C:
//! `set -a; . FILE.env; siemproof collect --config FILE --out DIR`.
//! The server code is shared with the tests (tests/common/mock).

#[path = "../tests/common/mock/mod.rs"]
mod mock;

use std::path::PathBuf;

use anyhow::Result;
use clap::Parser;

#[derive(Parser)]
#[command(
    about = "Local HTTPS mock of the Entra token endpoint, ARM, Graph, the Management Activity API and the SIEM APIs (QRadar, Splunk, Elastic)"
)]
struct Args {
    /// Fixture tenant bundle to serve
    #[arg(long)]
    tenant: PathBuf,
    /// Port on 127.0.0.1 (0 picks a free one)
    #[arg(long, default_value_t = 8443)]
    port: u16,
    /// Write a siemproof.toml pointing at the mock (and FILE.env with credentials)
    #[arg(long)]
    write_config: Option<PathBuf>,
    /// Delay every response by this many milliseconds
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Throttle the first N attempts of every URL (429 + Retry-After; O365: 403 AF429)
    #[arg(long, default_value_t = 0)]
    throttle: u32,
    /// Retry-After value sent with throttling (seconds, fractional seconds, or an HTTP date)
    #[arg(long)]
    retry_after: Option<String>,
    /// Answer the first N attempts of every URL with 503
    #[arg(long, default_value_t = 0)]
    server_error: u32,
    /// Reset the connection on the first N attempts of every URL
    #[arg(long, default_value_t = 0)]
    reset: u32,
    /// Serve truncated JSON on the first N attempts of every URL
    #[arg(long, default_value_t = 0)]
    malformed: u32,
    /// Make every paged list point its next link at itself
    #[arg(long)]
    nextlink_loop: bool,
    /// Answer 403 for this evidence kind (repeatable)
    #[arg(long = "forbid")]
    forbid: Vec<String>,
    /// Apply the counted faults to these kinds only (repeatable)
    #[arg(long = "only")]
    only: Vec<String>,
    /// Microsoft's read limits: `off`, `documented` (ARM 250 burst + 25/s per principal,
    /// Graph auditLogs 5 per 10 s, Management Activity 2,000/min), or `scaled:K` (refill K
    /// times as fast)
    #[arg(long, default_value = "off", value_parser = parse_limits)]
    limits: Limits,
    /// With --limits: ARM's per-principal subscription bucket holds this many reads instead of
    /// the documented 250 (to watch a collector learn the size from the remaining headers)
    #[arg(long)]
    arm_burst: Option<f64>,
    /// Serve Azure Monitor's batched metrics read (metrics:getBatch) and point the written
    /// config's `endpoints.metrics_batch` at it
    #[arg(long)]
    getbatch: bool,
}

#[derive(Clone)]
struct Limits(Option<mock::limits::Limits>);

fn parse_limits(s: &str) -> Result<Limits, String> {
    match s {
        "off" => Ok(Limits(None)),
        "documented" => Ok(Limits(Some(mock::limits::Limits::documented()))),
        _ => match s.strip_prefix("scaled:").map(str::parse::<f64>) {
            Some(Ok(k)) if k > 0.0 && k.is_finite() => {
                Ok(Limits(Some(mock::limits::Limits::scaled(k))))
            }
            _ => Err(format!(
                "{s:?}: expected off, documented or scaled:K with K > 0"
            )),
        },
    }
}

fn main() -> Result<()> {
    let a = Args::parse();
    let m = mock::Mock::start(
        &a.tenant,
        mock::MockOptions {
            port: a.port,
            latency_ms: a.latency_ms,
            faults: mock::Faults {
                throttle: a.throttle,
                retry_after: a.retry_after,
                server_error: a.server_error,
                reset: a.reset,
                malformed: a.malformed,
                nextlink_loop: a.nextlink_loop,
                forbidden_kinds: a.forbid,
                only_kinds: a.only,
                data_canary: None,
            },
            canary: None,
            limits: a.limits.0.map(|mut l| {
                if let Some(b) = a.arm_burst {
                    l.arm_reads.burst = b.max(1.0);
                }
                l
            }),
            in_flight: None,
            lighthouse_home: None,
            getbatch: a.getbatch,
            ..Default::default()
        },
    )?;
    if let Some(p) = &a.write_config {
        m.write_config(p)?;
        println!("wrote {} and {}", p.display(), mock::env_path(p).display());
        println!(
            "run: set -a; . {}; siemproof collect --config {} --out evidence",
            mock::env_path(p).display(),
            p.display()
        );
    }
    println!("mock listening on {} (Ctrl-C stops)", m.base);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(tokio::signal::ctrl_c())?;
    println!("served {} requests", m.requests().len());
    if let Some(c) = m.throttle_counts() {
        println!(
            "limits refused {} request(s), {} of them inside a pending Retry-After; rate-limit bound {:.1} s",
            c.refused_total(),
            c.early,
            c.bound_s
        );
    }
    Ok(())
}
