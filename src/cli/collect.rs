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
    /// Where to write the evidence bundle (a directory, replaced atomically)
    #[arg(long, short, default_value = "evidence")]
    pub out: PathBuf,
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
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Pages followed per list at most
    #[arg(long, default_value_t = 1000)]
    pub page_limit: u32,
    /// Read only the configured Event Hub namespace, not every namespace in its resource group
    #[arg(long)]
    pub only_configured_namespace: bool,
    /// Retries per request after the first attempt
    #[arg(long, default_value_t = 6)]
    pub max_retries: u32,
    /// Seconds one request may take including its retries and throttling waits
    #[arg(long, default_value_t = 180)]
    pub deadline: u64,
    /// Seconds one HTTP attempt may take
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
    /// Pin the collection clock (RFC 3339): `collected_at` and the metrics and content windows
    /// are computed from it instead of now. For reproducible demos and tests against the mock.
    #[arg(long, env = "SIEMPROOF_COLLECT_CLOCK", hide = true)]
    pub clock: Option<String>,
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
    opts.concurrency = a.concurrency.max(1);
    opts.page_limit = a.page_limit.max(1);
    opts.only_configured_namespace = a.only_configured_namespace;
    opts.retry.max_retries = a.max_retries;
    opts.retry.deadline = std::time::Duration::from_secs(a.deadline.max(1));
    opts.request_timeout = std::time::Duration::from_secs(a.timeout.max(1));
    opts.clock = a
        .clock
        .as_deref()
        .map(crate::audit::parse_as_of)
        .transpose()?;
    let s = crate::collect::collect(&opts)?;
    writeln!(
        out,
        "wrote {} ({} items, {} requests, {} retries, {} throttling waits, {:.1}s)",
        s.bundle.display(),
        s.items,
        s.requests,
        s.retries,
        s.throttle_waits,
        s.elapsed.as_secs_f64()
    )?;
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
    Ok(0)
}
