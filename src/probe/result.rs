//! What one probed target produced: each step's outcome and timing, and the verdict.
//!
//! These types are serialised into `probes/network.json`. `role`, `host`, `port`, `verdict`,
//! `reachable` and `detail` are read by the normaliser (src/normalize/m365.rs `network`) and the
//! network checks; the per-step objects are for people reading the evidence.

use serde::Serialize;

use super::tls::CertReport;

/// The judgement for one target, most fundamental failure first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// DNS, TCP, TLS with a trusted, valid, matching Microsoft certificate, and the protocol.
    Reachable,
    DnsFailed,
    /// Connection refused (RST): nothing listens, or a firewall rejects actively.
    TcpRefused,
    /// No answer to the TCP connect (dropped by a firewall) or no route.
    TcpBlocked,
    /// The proxy wants credentials, or rejected the ones given (407).
    ProxyAuthRequired,
    /// The proxy could not be reached or refused the tunnel (e.g. port 5671 not allowed).
    ProxyFailed,
    /// A step after the TCP connect got no answer within `--timeout`.
    Timeout,
    /// The TLS handshake failed (not TLS, alert, connection reset).
    TlsFailed,
    /// A Microsoft host presented a certificate from another issuer: TLS inspection.
    Intercepted,
    /// The certificate chain is not trusted by this host.
    Untrusted,
    CertExpired,
    CertHostnameMismatch,
    /// TLS works but the service did not speak AMQP / HTTP as expected.
    ProtocolFailed,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Reachable => "reachable",
            Verdict::DnsFailed => "dns_failed",
            Verdict::TcpRefused => "tcp_refused",
            Verdict::TcpBlocked => "tcp_blocked",
            Verdict::ProxyAuthRequired => "proxy_auth_required",
            Verdict::ProxyFailed => "proxy_failed",
            Verdict::Timeout => "timeout",
            Verdict::TlsFailed => "tls_failed",
            Verdict::Intercepted => "intercepted",
            Verdict::Untrusted => "untrusted",
            Verdict::CertExpired => "cert_expired",
            Verdict::CertHostnameMismatch => "cert_hostname_mismatch",
            Verdict::ProtocolFailed => "protocol_failed",
        }
    }

    /// Every verdict, for documentation and the CLI help.
    pub const ALL: &'static [Verdict] = &[
        Verdict::Reachable,
        Verdict::DnsFailed,
        Verdict::TcpRefused,
        Verdict::TcpBlocked,
        Verdict::ProxyAuthRequired,
        Verdict::ProxyFailed,
        Verdict::Timeout,
        Verdict::TlsFailed,
        Verdict::Intercepted,
        Verdict::Untrusted,
        Verdict::CertExpired,
        Verdict::CertHostnameMismatch,
        Verdict::ProtocolFailed,
    ];
}

/// A failed step: the verdict it implies and a one-line explanation.
#[derive(Debug, Clone)]
pub struct Failure {
    pub verdict: Verdict,
    pub detail: String,
}

impl Failure {
    pub fn new(verdict: Verdict, detail: impl Into<String>) -> Failure {
        Failure {
            verdict,
            detail: detail.into(),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct DnsStep {
    /// `system` (this host's resolver), `connect-to` (pinned by --connect-to) or `proxy`
    /// (the proxy resolves the name; not looked up here).
    pub source: String,
    pub addresses: Vec<String>,
    /// An address in private space: the name resolves to a private endpoint from here.
    pub private: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct TcpStep {
    /// The address connected to (the proxy's, when tunnelling).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// The proxy, redacted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct TlsStep {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alpn: Option<String>,
    #[serde(flatten)]
    pub cert: CertReport,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ProtocolStep {
    /// `amqp` or `https`.
    pub kind: String,
    pub ok: bool,
    /// What came back: `AMQP 3 1.0.0`, `HTTP/1.1 404 Not Found`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// AMQP over WebSockets on 443, tried when AMQPS on 5671 fails.
#[derive(Debug, Clone, Default, Serialize)]
pub struct WebSocketFallback {
    pub host: String,
    pub port: u16,
    pub path: String,
    pub ok: bool,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    pub ms: u64,
}

/// The full record of one target.
#[derive(Debug, Clone, Serialize)]
pub struct TargetResult {
    pub role: String,
    pub host: String,
    pub port: u16,
    pub required: bool,
    pub verdict: Verdict,
    /// The SIEM's client would get a working connection with a certificate this host trusts
    /// (true also when a trusted TLS-inspecting proxy sits in between: see `verdict`).
    pub reachable: bool,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect_to: Option<String>,
    pub dns: DnsStep,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp: Option<TcpStep>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsStep>,
    /// Always present: `kind` says which protocol; `ms` is absent when the step did not run.
    pub protocol: ProtocolStep,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub websocket_fallback: Option<WebSocketFallback>,
    pub total_ms: u64,
}
