//! `siemproof send`: a run's events to the SOC's own SIEM over syslog/TLS (src/send.rs). The
//! options are checked (address, CA, client certificate) before anything is sent; a delivery
//! that fails after the bounded retries exits 3, like a collection that observed nothing.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use clap::Args;

use crate::report::events::EventFormat;
use crate::results::Results;
use crate::send;

#[derive(Args)]
pub struct SendArgs {
    /// A results.json written by `siemproof audit` (or the directory holding it)
    pub results: PathBuf,
    /// The receiver: tls://HOST[:PORT] (RFC 5425 syslog over TLS; port 6514 by default). The
    /// certificate it presents must be valid for HOST
    #[arg(long, value_name = "tls://HOST:PORT")]
    pub syslog: String,
    /// The event format inside each syslog message
    #[arg(long, value_enum, default_value = "leef")]
    pub format: EventFormat,
    /// Trust only the CA certificates in this PEM file (default: the system's trust store)
    #[arg(long, value_name = "PEM")]
    pub ca: Option<PathBuf>,
    /// Mutual TLS: the client certificate chain (PEM) to present; needs --client-key
    #[arg(long, value_name = "PEM", requires = "client_key")]
    pub client_cert: Option<PathBuf>,
    /// Mutual TLS: the client certificate's private key (PEM); needs --client-cert
    #[arg(long, value_name = "PEM", requires = "client_cert")]
    pub client_key: Option<PathBuf>,
    /// Attempts after the first when the receiver cannot be reached (0–10); each resends the run
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(0..=10))]
    pub retries: u32,
    /// Seconds allowed for connecting, the handshake and each write (1–300)
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=300))]
    pub timeout: u64,
    /// Print the framed messages to stdout instead of sending them (nothing leaves the host)
    #[arg(long)]
    pub dry_run: bool,
}

pub(crate) fn send_cmd(a: &SendArgs, out: &mut dyn Write) -> Result<u8> {
    let target = send::parse_target(&a.syslog)?;
    let results = Results::load(&crate::cli::audit::results_path(&a.results))?;
    let hostname = gethostname::gethostname().to_string_lossy().into_owned();
    let (payload, events) = send::frames(&results, a.format, &hostname, std::process::id());
    if a.dry_run {
        out.write_all(&payload)?;
        return Ok(0);
    }
    let opts = send::Options {
        ca: a.ca.clone(),
        client_cert: a.client_cert.clone().zip(a.client_key.clone()),
        retries: a.retries,
        timeout: Duration::from_secs(a.timeout),
        backoff: Duration::from_secs(1),
    };
    let config = send::client_config(&opts)?;
    let mut progress = |m: &str| eprintln!("siemproof send: {m}");
    match send::send(&target, &config, &payload, events, &opts, &mut progress) {
        Ok(d) => {
            writeln!(
                out,
                "sent {} events of run {} ({} bytes) to {target} in {} attempt(s)",
                d.events, results.run.id, d.bytes, d.attempts
            )?;
            Ok(0)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            Ok(3)
        }
    }
}
