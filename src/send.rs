//! `siemproof send --syslog tls://HOST:PORT RESULTS`: a run's LEEF or CEF events delivered to the
//! SOC's own SIEM as RFC 5424 syslog over TLS (RFC 5425 octet-counting frames, TLS 1.2 or later
//! as RFC 9662 requires), so the SIEM can alert when the pipeline that feeds it breaks.
//!
//! This is the one place siemproof writes anywhere, and only to the address given: it is opt-in,
//! never part of `collect` or `audit`. The receiver's certificate is verified against the system
//! store or, with `--ca`, against that CA alone; the name checked is the one in the address.
//! A failed delivery is retried a bounded number of times with a growing pause; a certificate the
//! receiver presents that does not verify is not retried (it will not verify the next time).
//! RFC 5425 has no application acknowledgement, so a retry resends the whole run: each event
//! carries its run id and check id, which lets the SIEM drop a duplicate.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use rustls::pki_types::{PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, StreamOwned};

use crate::report::events::{EventFormat, EventLine};
use crate::results::Results;

/// The default port of syslog over TLS (RFC 5425 §4.1).
pub const DEFAULT_PORT: u16 = 6514;

/// RFC 5424 facility 13, "log audit": these are audit findings about the log pipeline.
const FACILITY: u8 = 13;

/// Where to send: a host name or address, and a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub host: String,
    pub port: u16,
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "tls://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "tls://{}:{}", self.host, self.port)
        }
    }
}

/// Parses `tls://HOST[:PORT]`; any other scheme (plain TCP or UDP would send the findings in
/// clear text), a path, a query or credentials are refused. Errors never quote the address as
/// given: it could hold a password.
pub fn parse_target(s: &str) -> Result<Target> {
    let url = url::Url::parse(s).map_err(|e| {
        anyhow::anyhow!("--syslog: not an address of the form tls://HOST:PORT ({e})")
    })?;
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    if url.scheme() != "tls" {
        bail!(
            "--syslog {shown}: scheme {:?} is not supported; only tls:// (RFC 5425), so findings never cross the network in clear text",
            url.scheme()
        );
    }
    if !url.username().is_empty() || url.password().is_some() {
        bail!("--syslog {shown}: credentials in the address are not supported; use --client-cert");
    }
    if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
        bail!("--syslog {shown}: only tls://HOST:PORT, without a path or query");
    }
    let host = match url.host() {
        Some(url::Host::Domain(d)) => d.to_string(),
        Some(url::Host::Ipv4(a)) => a.to_string(),
        Some(url::Host::Ipv6(a)) => a.to_string(),
        None => bail!("--syslog {shown}: no host"),
    };
    Ok(Target {
        host,
        port: url.port().unwrap_or(DEFAULT_PORT),
    })
}

/// RFC 5424 severity for an event's urgency: a passing finding is informational, a failing
/// critical one is critical.
fn severity(urgency: u8) -> u8 {
    match urgency {
        0 => 6,
        10.. => 2,
        8 | 9 => 3,
        5..=7 => 4,
        _ => 5,
    }
}

/// A HOSTNAME field: printable US-ASCII without spaces, at most 255 characters, `-` if none.
fn header_token(s: &str, max: usize) -> String {
    let t: String = s
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(max)
        .collect();
    if t.is_empty() {
        "-".into()
    } else {
        t
    }
}

/// One RFC 5424 message for one event. The timestamp is the audit clock of the run (the time
/// the events describe), so the same run always gives the same messages; MSG carries the LEEF
/// or CEF event unchanged (no BOM: QRadar's LEEF and CEF parsers read the event from its start).
pub fn message(results: &Results, hostname: &str, procid: u32, e: &EventLine) -> String {
    let pri = FACILITY * 8 + severity(e.urgency);
    let ts = chrono::DateTime::parse_from_rfc3339(&results.run.as_of)
        .map(|t| {
            t.with_timezone(&chrono::Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        })
        .unwrap_or_else(|_| "-".into());
    let msgid = if e.coverage { "coverage" } else { "finding" };
    format!(
        "<{pri}>1 {ts} {} siemproof {procid} {msgid} - {}",
        header_token(hostname, 255),
        e.line
    )
}

/// The run's events as octet-counted frames (`MSG-LEN SP SYSLOG-MSG`, RFC 5425 §4.3), and
/// how many there are.
pub fn frames(
    results: &Results,
    format: EventFormat,
    hostname: &str,
    procid: u32,
) -> (Vec<u8>, usize) {
    let lines = crate::report::events::lines(results, format);
    let mut out = Vec::new();
    for e in &lines {
        let m = message(results, hostname, procid, e);
        out.extend_from_slice(format!("{} ", m.len()).as_bytes());
        out.extend_from_slice(m.as_bytes());
    }
    (out, lines.len())
}

/// How to reach the receiver.
pub struct Options {
    /// Trust only the CA certificates in this PEM file (else the system store).
    pub ca: Option<PathBuf>,
    /// Mutual TLS: this client certificate chain (PEM) and its private key (PEM).
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// Attempts after the first (bounded).
    pub retries: u32,
    /// Connect, handshake, write and read timeout.
    pub timeout: Duration,
    /// The pause before the first retry; doubled for each next one.
    pub backoff: Duration,
}

/// What was delivered.
#[derive(Debug)]
pub struct Delivered {
    pub events: usize,
    pub bytes: usize,
    pub attempts: u32,
}

/// A delivery failure, with whether another attempt could help.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    pub message: String,
    pub permanent: bool,
}

/// The client configuration: roots, TLS 1.2+, and the client certificate when given. A key
/// file's content never appears in an error (it is a secret), only its path.
pub fn client_config(o: &Options) -> Result<Arc<ClientConfig>> {
    use rustls::pki_types::pem::PemObject;
    // With --ca that CA alone: the receiver is the SOC's own, its CA is known.
    let roots = crate::probe::tls::root_store(o.ca.as_deref(), o.ca.is_none())?;
    if roots.is_empty() {
        bail!("no trusted CA certificate in the system store; give the receiver's CA with --ca");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_root_certificates(roots);
    let config = match &o.client_cert {
        None => builder.with_no_client_auth(),
        Some((cert_path, key_path)) => {
            let chain = crate::probe::tls::pem_certs(cert_path, "client certificate")?;
            // Only the path in the error: the parser's error could quote the key.
            let key = PrivateKeyDer::from_pem_file(key_path).map_err(|_| {
                anyhow::anyhow!(
                    "{}: not a PEM private key (PKCS#8, PKCS#1 or SEC1)",
                    key_path.display()
                )
            })?;
            builder.with_client_auth_cert(chain, key).map_err(|e| {
                anyhow::anyhow!(
                    "{} / {}: the client certificate and key do not go together: {e}",
                    cert_path.display(),
                    key_path.display()
                )
            })?
        }
    };
    Ok(Arc::new(config))
}

/// One attempt: connect, handshake, write every frame, close with close_notify and wait (within
/// the timeout) for the receiver to close too, so a receiver that rejects the stream is seen.
fn attempt(
    target: &Target,
    config: &Arc<ClientConfig>,
    payload: &[u8],
    timeout: Duration,
) -> Result<(), SendError> {
    let transient = |message: String| SendError {
        message,
        permanent: false,
    };
    let addrs: Vec<_> = (target.host.as_str(), target.port)
        .to_socket_addrs()
        .map_err(|e| transient(format!("{target}: cannot resolve {}: {e}", target.host)))?
        .collect();
    let mut last = None;
    let mut tcp = None;
    for a in &addrs {
        match TcpStream::connect_timeout(a, timeout) {
            Ok(s) => {
                tcp = Some(s);
                break;
            }
            Err(e) => last = Some(format!("{a}: {e}")),
        }
    }
    let Some(tcp) = tcp else {
        return Err(transient(format!(
            "{target}: cannot connect ({})",
            last.unwrap_or_else(|| "no address".into())
        )));
    };
    for r in [
        tcp.set_read_timeout(Some(timeout)),
        tcp.set_write_timeout(Some(timeout)),
    ] {
        r.map_err(|e| transient(format!("{target}: {e}")))?;
    }
    let name = ServerName::try_from(target.host.clone()).map_err(|e| SendError {
        message: format!(
            "{target}: {:?} is not a valid server name: {e}",
            target.host
        ),
        permanent: true,
    })?;
    let conn = ClientConnection::new(config.clone(), name).map_err(|e| SendError {
        message: format!("{target}: TLS: {e}"),
        permanent: true,
    })?;
    let mut tls = StreamOwned::new(conn, tcp);
    let io_error = |e: std::io::Error| {
        // A certificate the receiver presents that does not verify is permanent.
        let permanent = e
            .get_ref()
            .and_then(|i| i.downcast_ref::<rustls::Error>())
            .is_some_and(|t| {
                matches!(
                    t,
                    rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented
                )
            });
        SendError {
            message: format!("{target}: {e}"),
            permanent,
        }
    };
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock).map_err(io_error)?;
    }
    tls.write_all(payload).map_err(io_error)?;
    tls.flush().map_err(io_error)?;
    tls.conn.send_close_notify();
    tls.conn.complete_io(&mut tls.sock).map_err(io_error)?;
    // The receiver's own close. Anything it sends is ignored (RFC 5425 receivers send nothing);
    // a timeout here is not a failure, as some receivers leave the connection to the sender.
    let mut sink = [0u8; 512];
    for _ in 0..64 {
        match tls.read(&mut sink) {
            Ok(0) => break,
            Ok(_) => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::UnexpectedEof
                ) =>
            {
                break
            }
            Err(e) => return Err(io_error(e)),
        }
    }
    Ok(())
}

/// Delivers `payload` (the frames) to `target` with bounded retries; `config` from
/// [`client_config`]. An error here is a delivery failure (the options were good).
pub fn send(
    target: &Target,
    config: &Arc<ClientConfig>,
    payload: &[u8],
    events: usize,
    o: &Options,
    progress: &mut dyn FnMut(&str),
) -> Result<Delivered> {
    let mut pause = o.backoff;
    let mut attempts = 0;
    loop {
        attempts += 1;
        match attempt(target, config, payload, o.timeout) {
            Ok(()) => {
                return Ok(Delivered {
                    events,
                    bytes: payload.len(),
                    attempts,
                })
            }
            Err(e) if e.permanent || attempts > o.retries => {
                return Err(anyhow::Error::new(e).context(format!(
                    "not delivered after {attempts} attempt(s){}",
                    if attempts <= o.retries {
                        " (not retried: it would fail the same way)"
                    } else {
                        ""
                    }
                )))
            }
            Err(e) => {
                progress(&format!(
                    "attempt {attempts} failed: {e}; retrying in {} s",
                    pause.as_secs_f64()
                ));
                std::thread::sleep(pause);
                pause = pause.saturating_mul(2);
            }
        }
    }
}
