//! The probe's outputs: the `siemproof-probe/1` document stored as `probes/network.json`, and
//! the terminal table (target, DNS, TCP, TLS, protocol, latency, verdict).

use chrono::{DateTime, Utc};
use comfy_table::{presets, Cell, Color, Table};
use serde::Serialize;

use super::result::{TargetResult, Verdict};

pub const FORMAT: &str = "siemproof-probe/1";

#[derive(Debug, Clone, Serialize)]
pub struct NetworkReport {
    pub format: String,
    pub tool: Tool,
    /// Which host the probe ran on: these results are true from there only.
    pub host: HostInfo,
    /// The audit clock certificates were judged against (the probe time unless `--as-of`).
    pub at: DateTime<Utc>,
    pub timeout_secs: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cloud: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    pub targets: Vec<TargetResult>,
    pub summary: Summary,
}

#[derive(Debug, Clone, Serialize)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct HostInfo {
    pub hostname: String,
    pub os: String,
    /// The proxy used, with any password redacted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy: Option<String>,
    /// Trust anchors loaded (operating system store plus `--ca-bundle`).
    pub trust_anchors: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_bundle: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub targets: usize,
    pub reachable: usize,
    /// Required targets whose verdict is not `reachable`: these fail the probe (exit 1).
    pub required_failing: Vec<String>,
}

impl Summary {
    pub fn of(targets: &[TargetResult]) -> Summary {
        Summary {
            targets: targets.len(),
            reachable: targets
                .iter()
                .filter(|t| t.verdict == Verdict::Reachable)
                .count(),
            required_failing: targets
                .iter()
                .filter(|t| t.required && t.verdict != Verdict::Reachable)
                .map(|t| format!("{} {}:{}", t.role, t.host, t.port))
                .collect(),
        }
    }
}

/// This host's name, as the collector identity in the report and the manifest.
pub fn hostname() -> String {
    let h = gethostname::gethostname().to_string_lossy().into_owned();
    if h.trim().is_empty() {
        "unknown-host".into()
    } else {
        h
    }
}

fn ms(v: Option<u64>) -> String {
    v.map(|m| format!("{m} ms")).unwrap_or_else(|| "-".into())
}

/// The end-of-run table. `colour` only when writing to a terminal.
pub fn table(targets: &[TargetResult], colour: bool) -> String {
    let mut t = Table::new();
    t.load_preset(presets::UTF8_FULL_CONDENSED);
    if !colour {
        t.force_no_tty();
    }
    t.set_header(vec![
        "Target", "DNS", "TCP", "TLS", "Protocol", "Latency", "Verdict",
    ]);
    for r in targets {
        let dns = match (r.dns.source.as_str(), &r.dns.error) {
            (_, Some(_)) => "failed".to_string(),
            ("proxy", _) => "via proxy".into(),
            (_, None) if r.dns.addresses.is_empty() => "-".into(),
            (src, None) => {
                let first = &r.dns.addresses[0];
                let more = r.dns.addresses.len() - 1;
                let mut s = first.clone();
                if more > 0 {
                    s.push_str(&format!(" +{more}"));
                }
                if r.dns.private {
                    s.push_str(" (private)");
                }
                if src == "connect-to" {
                    s.push_str(" (pinned)");
                }
                s
            }
        };
        let tcp = match &r.tcp {
            None => "-".to_string(),
            Some(s) if s.error.is_some() => match r.verdict {
                Verdict::TcpRefused => "refused".into(),
                Verdict::ProxyAuthRequired => "proxy 407".into(),
                Verdict::ProxyFailed => "proxy failed".into(),
                Verdict::Timeout => "timeout".into(),
                _ => "blocked".into(),
            },
            Some(s) => ms(s.ms),
        };
        let tls = match &r.tls {
            None => "-".to_string(),
            Some(s) if s.error.is_some() => {
                if r.verdict == Verdict::Timeout {
                    "timeout".into()
                } else {
                    "failed".into()
                }
            }
            Some(s) => {
                let c = &s.cert;
                let mark = if c.intercepted {
                    "intercepted"
                } else if !c.trusted {
                    "untrusted"
                } else if c.expired || c.not_yet_valid {
                    "expired"
                } else if !c.hostname_ok {
                    "name mismatch"
                } else {
                    "ok"
                };
                format!("{} {mark}", s.version.as_deref().unwrap_or("TLS"))
            }
        };
        let protocol = match (&r.protocol.ms, r.protocol.ok) {
            (None, _) => "-".to_string(),
            (Some(_), true) => {
                let resp = r.protocol.response.as_deref().unwrap_or_default();
                // "HTTP/1.1 404 Not Found" → "HTTP 404"; "AMQP 3 1.0.0 (SASL)" → "AMQP ok".
                if let Some(code) = resp
                    .strip_prefix("HTTP/")
                    .and_then(|s| s.split_whitespace().nth(1))
                {
                    format!("HTTP {code}")
                } else {
                    "AMQP ok".into()
                }
            }
            (Some(_), false) => format!("{} failed", r.protocol.kind.to_ascii_uppercase()),
        };
        let mut verdict = r.verdict.as_str().to_string();
        if let Some(ws) = &r.websocket_fallback {
            verdict.push_str(if ws.ok {
                " (wss:443 ok)"
            } else {
                " (wss:443 fails)"
            });
        }
        if !r.required {
            verdict.push_str(" [info]");
        }
        let vcell = if colour {
            Cell::new(verdict).fg(match r.verdict {
                Verdict::Reachable => Color::Green,
                Verdict::Intercepted | Verdict::CertExpired | Verdict::Untrusted => Color::Magenta,
                _ => Color::Red,
            })
        } else {
            Cell::new(verdict)
        };
        t.add_row(vec![
            Cell::new(format!("{} {}:{}", r.role, r.host, r.port)),
            Cell::new(dns),
            Cell::new(tcp),
            Cell::new(tls),
            Cell::new(protocol),
            Cell::new(format!("{} ms", r.total_ms)),
            vcell,
        ]);
    }
    format!("{t}\n")
}

/// One progress line per finished target (only printed on a terminal).
pub fn progress_line(r: &TargetResult) -> String {
    format!(
        "  {} {} {}:{} {} ({} ms)",
        if r.verdict == Verdict::Reachable {
            "ok  "
        } else {
            "FAIL"
        },
        r.role,
        r.host,
        r.port,
        r.verdict.as_str(),
        r.total_ms
    )
}
