//! The DNS step: every address the name resolves to from this host, and whether any of them is
//! private, which means the SIEM would reach the service through a private endpoint.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use super::result::{DnsStep, Failure, Verdict};

/// Resolves `host:port` with the system resolver under `timeout`.
pub async fn resolve(
    host: &str,
    port: u16,
    timeout: Duration,
    step: &mut DnsStep,
) -> Result<Vec<SocketAddr>, Failure> {
    let start = Instant::now();
    let outcome = tokio::time::timeout(timeout, tokio::net::lookup_host((host, port))).await;
    step.ms = Some(start.elapsed().as_millis() as u64);
    let mut addrs: Vec<SocketAddr> = match outcome {
        Err(_) => {
            let msg = format!("no DNS answer within {}", secs(timeout));
            step.error = Some(msg.clone());
            return Err(Failure::new(
                Verdict::DnsFailed,
                format!("DNS lookup of {host} timed out ({msg})"),
            ));
        }
        Ok(Err(e)) => {
            step.error = Some(e.to_string());
            return Err(Failure::new(
                Verdict::DnsFailed,
                format!("{host} does not resolve from this host: {e}"),
            ));
        }
        Ok(Ok(it)) => it.collect(),
    };
    let mut seen = std::collections::HashSet::new();
    addrs.retain(|a| seen.insert(a.ip()));
    if addrs.is_empty() {
        step.error = Some("no addresses".into());
        return Err(Failure::new(
            Verdict::DnsFailed,
            format!("{host} resolves to no address"),
        ));
    }
    step.addresses = addrs.iter().map(|a| a.ip().to_string()).collect();
    step.private = addrs.iter().any(|a| is_private(a.ip()));
    Ok(addrs)
}

/// RFC 1918, carrier-grade NAT (RFC 6598) and IPv6 unique-local addresses: where Azure private
/// endpoints live. Loopback is not a private endpoint (that is a local test or a hosts-file hack).
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_private() || (o[0] == 100 && (64..128).contains(&o[1]))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_private(IpAddr::V4(v4));
            }
            (v6.segments()[0] & 0xfe00) == 0xfc00
        }
    }
}

pub fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{} s", s as u64)
    } else {
        format!("{s:.1} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_ranges() {
        for p in [
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "100.64.0.1",
            "fd00::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(is_private(p.parse().unwrap()), "{p}");
        }
        for p in [
            "127.0.0.1",
            "20.50.1.1",
            "100.128.0.1",
            "2603:1000::1",
            "::1",
        ] {
            assert!(!is_private(p.parse().unwrap()), "{p}");
        }
    }
}
