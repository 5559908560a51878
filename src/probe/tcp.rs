//! The TCP step: a connection to the first address that accepts one, or a tunnel through the
//! HTTP CONNECT proxy. A refused connection and a silently dropped one are told apart, because
//! the fixes differ (nothing listening vs. a firewall rule).

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

use super::dns::secs;
use super::proxy::{Proxy, ProxyError};
use super::result::{Failure, TcpStep, Verdict};

/// Connects directly to one of `addrs`, in order, all within one `timeout`.
pub async fn connect_direct(
    addrs: &[SocketAddr],
    label: &str,
    timeout: Duration,
    step: &mut TcpStep,
) -> Result<TcpStream, Failure> {
    let start = Instant::now();
    let attempt = async {
        let mut last: Option<std::io::Error> = None;
        for a in addrs {
            match TcpStream::connect(a).await {
                Ok(s) => return Ok((s, *a)),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| std::io::Error::new(ErrorKind::NotFound, "no address")))
    };
    let outcome = tokio::time::timeout(timeout, attempt).await;
    step.ms = Some(start.elapsed().as_millis() as u64);
    match outcome {
        Ok(Ok((s, a))) => {
            step.address = Some(a.to_string());
            let _ = s.set_nodelay(true);
            Ok(s)
        }
        Ok(Err(e)) if e.kind() == ErrorKind::ConnectionRefused => {
            step.error = Some(e.to_string());
            Err(Failure::new(
                Verdict::TcpRefused,
                format!("{label}: connection refused (nothing listens, or a firewall rejects it)"),
            ))
        }
        Ok(Err(e)) => {
            step.error = Some(e.to_string());
            Err(Failure::new(
                Verdict::TcpBlocked,
                format!("{label}: cannot connect: {e}"),
            ))
        }
        Err(_) => {
            step.error = Some(format!("no answer within {}", secs(timeout)));
            Err(Failure::new(
                Verdict::TcpBlocked,
                format!(
                    "{label}: no answer to the TCP connect within {} (a firewall probably drops it)",
                    secs(timeout)
                ),
            ))
        }
    }
}

/// Connects to the proxy and opens a CONNECT tunnel to `host:port`; the proxy resolves `host`.
pub async fn connect_via_proxy(
    proxy: &Proxy,
    host: &str,
    port: u16,
    timeout: Duration,
    step: &mut TcpStep,
) -> Result<TcpStream, Failure> {
    step.proxy = Some(proxy.to_string());
    let start = Instant::now();
    let reach = tokio::time::timeout(
        timeout,
        TcpStream::connect((proxy.host.as_str(), proxy.port)),
    )
    .await;
    let mut stream = match reach {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            step.ms = Some(start.elapsed().as_millis() as u64);
            step.error = Some(e.to_string());
            return Err(Failure::new(
                Verdict::ProxyFailed,
                format!("cannot reach the proxy {proxy}: {e}"),
            ));
        }
        Err(_) => {
            step.ms = Some(start.elapsed().as_millis() as u64);
            step.error = Some(format!("no answer within {}", secs(timeout)));
            return Err(Failure::new(
                Verdict::ProxyFailed,
                format!(
                    "the proxy {proxy} did not accept a connection within {}",
                    secs(timeout)
                ),
            ));
        }
    };
    step.address = stream.peer_addr().ok().map(|a| a.to_string());
    let _ = stream.set_nodelay(true);
    // The CONNECT exchange gets its own timeout: a proxy that accepts but never answers.
    let tunnel = tokio::time::timeout(timeout, proxy.connect(&mut stream, host, port)).await;
    step.ms = Some(start.elapsed().as_millis() as u64);
    match tunnel {
        Ok(Ok(())) => Ok(stream),
        Ok(Err(e)) => {
            step.error = Some(e.to_string());
            let verdict = match e {
                ProxyError::AuthRequired { .. } => Verdict::ProxyAuthRequired,
                _ => Verdict::ProxyFailed,
            };
            Err(Failure::new(
                verdict,
                format!("{host}:{port} via {proxy}: {e}"),
            ))
        }
        Err(_) => {
            step.error = Some(format!("no CONNECT answer within {}", secs(timeout)));
            Err(Failure::new(
                Verdict::Timeout,
                format!(
                    "{host}:{port} via {proxy}: the proxy did not answer CONNECT within {}",
                    secs(timeout)
                ),
            ))
        }
    }
}
