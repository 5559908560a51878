//! The `siemproof probe` command line: arguments, assembling targets and options, running the
//! probe, printing the table, writing the bundle, and the exit code (0 every required target
//! reachable, 1 some not, 2 bad input).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Result};
use clap::Args;

use super::bundle::{self, ConfigFile};
use super::proxy::Proxy;
use super::report::{self, HostInfo, NetworkReport, Summary, Tool};
use super::targets::{self, ConnectTo};
use super::tls::TlsSetup;
use super::Probe;
use crate::config::Config;

// No `Debug`: `proxy` may hold a password.
#[derive(Args)]
#[command(
    after_help = "Verdicts: reachable, dns_failed, tcp_refused, tcp_blocked, proxy_auth_required, proxy_failed, \
timeout, tls_failed, intercepted, untrusted, cert_expired, cert_hostname_mismatch, protocol_failed.\n\
Exit codes: 0 every required target reachable, 1 some are not, 2 bad input.\n\n\
Examples:\n  siemproof probe --config siemproof.toml --out evidence/\n  \
siemproof probe --target myns.servicebus.windows.net:5671 --out probe-only/"
)]
pub struct ProbeArgs {
    /// The deployment config: targets are derived from its cloud, namespace and storage account
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Evidence bundle to write; an existing bundle (e.g. from `collect`) is extended
    #[arg(long, short, default_value = "evidence")]
    pub out: PathBuf,
    /// Extra target HOST:PORT (or amqps://HOST:PORT, https://HOST:PORT); repeatable
    #[arg(long = "target", value_name = "HOST:PORT")]
    pub targets: Vec<String>,
    /// Timeout of each step (DNS, TCP, TLS, protocol) in seconds
    #[arg(long, default_value = "5", value_name = "SECS")]
    pub timeout: f64,
    /// HTTP CONNECT proxy, http://[user:password@]host:port (default: HTTPS_PROXY; prefer the
    /// environment for credentials, the command line is visible to other users)
    #[arg(long, value_name = "URL")]
    pub proxy: Option<String>,
    /// Ignore HTTPS_PROXY and connect directly
    #[arg(long, conflicts_with = "proxy")]
    pub no_proxy: bool,
    /// Also trust the CA certificates in this PEM file (e.g. a TLS-inspecting proxy's CA)
    #[arg(long, value_name = "FILE")]
    pub ca_bundle: Option<PathBuf>,
    /// Connect to ADDR:PORT2 whenever HOST:PORT is probed (names, SNI and certificate checks
    /// keep HOST); repeatable
    #[arg(long = "connect-to", value_name = "HOST:PORT:ADDR:PORT2")]
    pub connect_to: Vec<String>,
    /// The audit clock for certificate expiry (RFC 3339 or YYYY-MM-DD; default now)
    #[arg(long, env = "SIEMPROOF_AS_OF")]
    pub as_of: Option<String>,
    /// Do not use the operating system's trust store (only --ca-bundle)
    #[arg(long, hide = true)]
    pub no_system_ca: bool,
}

pub fn run(a: &ProbeArgs, out: &mut dyn Write) -> Result<u8> {
    if !(a.timeout > 0.0 && a.timeout <= 600.0) {
        bail!(
            "--timeout {}: must be above 0 and at most 600 seconds",
            a.timeout
        );
    }
    let timeout = Duration::from_secs_f64(a.timeout);
    let clock = match &a.as_of {
        Some(s) => crate::audit::parse_as_of(s)?,
        None => chrono::Utc::now(),
    };
    let config = match &a.config {
        Some(p) => {
            let text = crate::files::read_text_bounded(p)?;
            let cfg = Config::parse(&text, &p.display().to_string())?;
            Some((cfg, text))
        }
        None => None,
    };
    let mut notes = Vec::new();
    let mut list = Vec::new();
    if let Some((cfg, _)) = &config {
        let (t, n) = targets::from_config(cfg);
        list.extend(t);
        notes.extend(n);
    }
    for spec in &a.targets {
        let t = targets::parse_extra(spec).map_err(anyhow::Error::msg)?;
        if !list
            .iter()
            .any(|x: &targets::Target| x.host == t.host && x.port == t.port)
        {
            list.push(t);
        }
    }
    if list.is_empty() {
        bail!("nothing to probe: give --config FILE and/or --target HOST:PORT");
    }
    let connect_to = a
        .connect_to
        .iter()
        .map(|s| ConnectTo::parse(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(anyhow::Error::msg)?;
    let proxy = if a.no_proxy {
        None
    } else {
        match &a.proxy {
            Some(u) => Some(Proxy::parse(u).map_err(|e| anyhow::anyhow!("--proxy: {e}"))?),
            None => Proxy::from_env().map_err(anyhow::Error::msg)?,
        }
    };
    let tls = Arc::new(TlsSetup::new(a.ca_bundle.as_deref(), !a.no_system_ca)?);
    let hostname = report::hostname();
    let host = HostInfo {
        hostname: hostname.clone(),
        os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
        proxy: proxy.as_ref().map(|p| p.to_string()),
        trust_anchors: tls.anchors,
        ca_bundle: a.ca_bundle.as_ref().map(|p| p.display().to_string()),
    };
    let no_proxy = std::env::var("NO_PROXY")
        .or_else(|_| std::env::var("no_proxy"))
        .unwrap_or_default();

    let tty = std::io::stderr().is_terminal();
    if tty {
        eprintln!(
            "probing {} target(s) from {hostname}{} (timeout {} per step)",
            list.len(),
            proxy
                .as_ref()
                .map(|p| format!(" via proxy {p}"))
                .unwrap_or_default(),
            super::dns::secs(timeout)
        );
    }
    let probe = Probe {
        timeout,
        proxy,
        no_proxy,
        connect_to,
        tls,
        clock,
    };
    let results = probe.run_blocking(&list, &mut |r| {
        if tty {
            eprintln!("{}", report::progress_line(r));
        }
    })?;

    let summary = Summary::of(&results);
    let doc = NetworkReport {
        format: report::FORMAT.into(),
        tool: Tool {
            name: "siemproof".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        host,
        at: clock,
        timeout_secs: a.timeout,
        tenant_id: config.as_ref().map(|(c, _)| c.tenant.id.clone()),
        cloud: config.as_ref().map(|(c, _)| c.tenant.cloud.clone()),
        notes: notes.clone(),
        targets: results,
        summary,
    };
    let json = serde_json::to_vec_pretty(&doc)?;
    let (dir, merged) = bundle::write(
        &a.out,
        &json,
        config
            .as_ref()
            .map(|(c, t)| ConfigFile { config: c, text: t }),
        &hostname,
        clock,
    )?;

    let colour = std::io::stdout().is_terminal();
    write!(out, "{}", report::table(&doc.targets, colour))?;
    for n in &notes {
        writeln!(out, "note: {n}")?;
    }
    for t in doc
        .targets
        .iter()
        .filter(|t| t.verdict != super::result::Verdict::Reachable)
    {
        writeln!(
            out,
            "{} {}:{}: {}",
            t.verdict.as_str(),
            t.host,
            t.port,
            t.detail
        )?;
    }
    writeln!(
        out,
        "{} of {} target(s) reachable; {} {}/{}",
        doc.summary.reachable,
        doc.summary.targets,
        if merged { "merged into" } else { "wrote" },
        dir.display(),
        bundle::PATH
    )?;
    Ok(if doc.summary.required_failing.is_empty() {
        0
    } else {
        1
    })
}
