//! `siemproof probe`: network reachability from the SIEM collector host to every Microsoft
//! endpoint the integration needs (seed-guide §4 and "Required Network Access"), with the reason
//! when something is not reachable.
//!
//! Every target is probed concurrently; within a target the steps run in order (DNS, TCP or
//! proxy tunnel, TLS, protocol), each timed and under its own `--timeout`, so a run takes about
//! as long as its slowest target, not the sum of them. Results go into an evidence bundle as
//! `probes/network.json` (kind `probe.network`), where the network checks judge them offline.

pub mod amqp;
pub mod bundle;
pub mod command;
pub mod dns;
pub mod http;
pub mod proxy;
pub mod report;
pub mod result;
pub mod targets;
pub mod tcp;
pub mod tls;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;

use self::dns::secs;
use self::proxy::Proxy;
use self::result::{
    DnsStep, Failure, ProtocolStep, TargetResult, TcpStep, TlsStep, Verdict, WebSocketFallback,
};
use self::targets::{ConnectTo, Protocol, Target};
use self::tls::TlsSetup;

/// Everything the probe needs besides the targets.
pub struct Probe {
    /// Per-step timeout.
    pub timeout: Duration,
    pub proxy: Option<Proxy>,
    /// `NO_PROXY` entries (hosts reached directly even with a proxy).
    pub no_proxy: String,
    pub connect_to: Vec<ConnectTo>,
    pub tls: Arc<TlsSetup>,
    /// The audit clock certificates are judged against.
    pub clock: DateTime<Utc>,
}

impl Probe {
    /// Probes all targets concurrently on a fresh runtime; `progress` sees each result as it
    /// completes. Results come back in the order of `targets`.
    pub fn run_blocking(
        self,
        targets: &[Target],
        progress: &mut dyn FnMut(&TargetResult),
    ) -> anyhow::Result<Vec<TargetResult>> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        Ok(rt.block_on(self.run(targets, progress)))
    }

    pub async fn run(
        self,
        targets: &[Target],
        progress: &mut dyn FnMut(&TargetResult),
    ) -> Vec<TargetResult> {
        let me = Arc::new(self);
        let mut set = tokio::task::JoinSet::new();
        for (i, t) in targets.iter().enumerate() {
            let me = me.clone();
            let t = t.clone();
            set.spawn(async move { (i, me.probe_target(&t).await) });
        }
        let mut out: Vec<Option<TargetResult>> = vec![None; targets.len()];
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok((i, r)) => {
                    progress(&r);
                    out[i] = Some(r);
                }
                // A panicking task is a bug; re-raise it rather than report a made-up verdict.
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(_) => {}
            }
        }
        out.into_iter().flatten().collect()
    }

    /// Probes one target through all steps and judges it.
    pub async fn probe_target(&self, t: &Target) -> TargetResult {
        let start = Instant::now();
        let connect_to = self.connect_to.iter().find(|c| c.applies(t));
        let mut r = TargetResult {
            role: t.role.clone(),
            host: t.host.clone(),
            port: t.port,
            required: t.required,
            verdict: Verdict::Reachable,
            reachable: false,
            detail: String::new(),
            connect_to: connect_to.map(|c| format!("{}:{}", c.to_host, c.to_port)),
            dns: DnsStep::default(),
            tcp: None,
            tls: None,
            protocol: ProtocolStep {
                kind: t.protocol.as_str().into(),
                ..ProtocolStep::default()
            },
            websocket_fallback: None,
            total_ms: 0,
        };
        match self.steps(t, &mut r).await {
            Ok(()) => {}
            Err(f) => {
                r.verdict = f.verdict;
                r.detail = f.detail;
            }
        }
        if let Some(ip) = r
            .dns
            .addresses
            .iter()
            .find(|a| a.parse().is_ok_and(dns::is_private))
        {
            r.detail.push_str(&format!(
                "; resolves to private address {ip} (private endpoint)"
            ));
        }
        // The WebSocket endpoint is an Event Hubs / Service Bus feature; other AMQP hosts
        // are not asked for it.
        let event_hubs = t.role == "eventhub" || t.host.contains(".servicebus.");
        if t.protocol == Protocol::Amqp
            && event_hubs
            && matches!(
                r.verdict,
                Verdict::TcpRefused
                    | Verdict::TcpBlocked
                    | Verdict::ProxyFailed
                    | Verdict::Timeout
                    | Verdict::TlsFailed
                    | Verdict::ProtocolFailed
            )
        {
            let ws = self.websocket_fallback(t).await;
            r.detail.push_str(&if ws.ok {
                format!(
                    "; AMQP over WebSockets on {}:443 works: a possible fallback if the SIEM's Event Hub client supports it",
                    t.host
                )
            } else {
                format!("; AMQP over WebSockets on 443 fails too ({})", ws.detail)
            });
            r.websocket_fallback = Some(ws);
        }
        r.total_ms = start.elapsed().as_millis() as u64;
        r
    }

    /// DNS, TCP (or proxy tunnel) to `host:port`, honouring `--connect-to` and the proxy.
    async fn open(
        &self,
        host: &str,
        port: u16,
        dns_step: &mut DnsStep,
        tcp_step: &mut TcpStep,
    ) -> Result<TcpStream, Failure> {
        let label = format!("{host}:{port}");
        if let Some(c) = self
            .connect_to
            .iter()
            .find(|c| c.host.eq_ignore_ascii_case(host) && c.port == port)
        {
            dns_step.source = "connect-to".into();
            let addrs = dns::resolve(&c.to_host, c.to_port, self.timeout, dns_step).await?;
            return tcp::connect_direct(&addrs, &label, self.timeout, tcp_step).await;
        }
        if let Some(p) = self
            .proxy
            .as_ref()
            .filter(|_| !proxy::no_proxy_matches(&self.no_proxy, host))
        {
            dns_step.source = "proxy".into();
            return tcp::connect_via_proxy(p, host, port, self.timeout, tcp_step).await;
        }
        dns_step.source = "system".into();
        let addrs = dns::resolve(host, port, self.timeout, dns_step).await?;
        tcp::connect_direct(&addrs, &label, self.timeout, tcp_step).await
    }

    /// TLS handshake under the step timeout; fills `step` with what was learnt.
    async fn handshake(
        &self,
        host: &str,
        stream: TcpStream,
        http: bool,
        microsoft: bool,
        step: &mut TlsStep,
    ) -> Result<tokio_rustls::client::TlsStream<TcpStream>, Failure> {
        let name = ServerName::try_from(host.to_string()).map_err(|_| {
            Failure::new(
                Verdict::TlsFailed,
                format!("{host:?} is not a valid TLS server name"),
            )
        })?;
        let start = Instant::now();
        let outcome =
            tokio::time::timeout(self.timeout, self.tls.connector(http).connect(name, stream))
                .await;
        step.ms = Some(start.elapsed().as_millis() as u64);
        let stream = match outcome {
            Err(_) => {
                step.error = Some(format!("no TLS answer within {}", secs(self.timeout)));
                return Err(Failure::new(
                    Verdict::Timeout,
                    format!(
                        "{host}: TCP connects but the TLS handshake gets no answer within {}",
                        secs(self.timeout)
                    ),
                ));
            }
            Ok(Err(e)) => {
                step.error = Some(e.to_string());
                return Err(Failure::new(
                    Verdict::TlsFailed,
                    format!("{host}: TLS handshake failed: {e}"),
                ));
            }
            Ok(Ok(s)) => s,
        };
        let (_, conn) = stream.get_ref();
        step.version = tls::version_name(conn.protocol_version());
        step.alpn = conn
            .alpn_protocol()
            .map(|a| String::from_utf8_lossy(a).into_owned());
        let chain: Vec<_> = conn
            .peer_certificates()
            .unwrap_or_default()
            .iter()
            .map(|c| c.clone().into_owned())
            .collect();
        step.cert = self.tls.examine(host, &chain, self.clock, microsoft);
        Ok(stream)
    }

    async fn steps(&self, t: &Target, r: &mut TargetResult) -> Result<(), Failure> {
        let mut tcp_step = TcpStep::default();
        let opened = self.open(&t.host, t.port, &mut r.dns, &mut tcp_step).await;
        if tcp_step.ms.is_some() || tcp_step.error.is_some() {
            r.tcp = Some(tcp_step);
        }
        let stream = opened?;
        let mut tls_step = TlsStep::default();
        let http = t.protocol == Protocol::Https;
        let shaken = self
            .handshake(&t.host, stream, http, t.microsoft, &mut tls_step)
            .await;
        r.tls = Some(tls_step);
        let mut stream = shaken?;

        let start = Instant::now();
        let answer = tokio::time::timeout(self.timeout, async {
            match t.protocol {
                Protocol::Amqp => amqp::exchange(&mut stream).await,
                Protocol::Https => http::get_status(&mut stream, &t.host, t.port).await,
            }
        })
        .await;
        r.protocol.ms = Some(start.elapsed().as_millis() as u64);
        let protocol_failure = match answer {
            Ok(Ok(resp)) => {
                r.protocol.ok = true;
                r.protocol.response = Some(resp);
                None
            }
            Ok(Err(e)) => {
                r.protocol.error = Some(e.clone());
                Some(Failure::new(
                    Verdict::ProtocolFailed,
                    format!(
                        "{t}: TLS works but {}: {e}",
                        protocol_expectation(t.protocol)
                    ),
                ))
            }
            Err(_) => {
                let e = format!("no answer within {}", secs(self.timeout));
                r.protocol.error = Some(e.clone());
                Some(Failure::new(
                    Verdict::Timeout,
                    format!(
                        "{t}: TLS works but {}: {e}",
                        protocol_expectation(t.protocol)
                    ),
                ))
            }
        };
        // Close politely; a failure here changes nothing.
        let _ = tokio::time::timeout(Duration::from_millis(200), async {
            use tokio::io::AsyncWriteExt;
            stream.shutdown().await
        })
        .await;

        let tls = r.tls.as_ref().map(|s| &s.cert).cloned().unwrap_or_default();
        r.reachable =
            r.protocol.ok && tls.trusted && tls.hostname_ok && !tls.expired && !tls.not_yet_valid;
        let issuer = tls.issuer.clone().unwrap_or_else(|| "?".into());
        // The certificate problems come first: the SIEM's client stops at them.
        if tls.intercepted {
            return Err(Failure::new(
                Verdict::Intercepted,
                format!(
                    "{t}: certificate issued by {issuer}, not by a CA Microsoft uses: TLS inspection sits in the path \
                     (breaks certificate pinning and exposes SAS keys and tokens to the proxy; exempt this host from inspection){}",
                    if tls.trusted { "" } else { "; and this host does not trust that issuer" }
                ),
            ));
        }
        if !tls.trusted {
            return Err(Failure::new(
                Verdict::Untrusted,
                format!(
                    "{t}: certificate issued by {issuer} is not trusted here: {}",
                    tls.trust_error.as_deref().unwrap_or("unknown reason")
                ),
            ));
        }
        if tls.expired || tls.not_yet_valid {
            let when = tls.not_after.map(|d| d.to_rfc3339()).unwrap_or_default();
            return Err(Failure::new(
                Verdict::CertExpired,
                if tls.expired {
                    format!("{t}: certificate expired at {when}")
                } else {
                    format!("{t}: certificate not valid yet")
                },
            ));
        }
        if !tls.hostname_ok {
            return Err(Failure::new(
                Verdict::CertHostnameMismatch,
                format!(
                    "{t}: certificate names {} but not {}",
                    if tls.sans.is_empty() {
                        "no subject alternative names".to_string()
                    } else {
                        tls.sans.join(", ")
                    },
                    t.host
                ),
            ));
        }
        if let Some(f) = protocol_failure {
            return Err(f);
        }
        let tls_version = r
            .tls
            .as_ref()
            .and_then(|s| s.version.clone())
            .unwrap_or_default();
        r.detail = format!(
            "{} over {tls_version}; certificate from {issuer}, {} days left",
            r.protocol.response.as_deref().unwrap_or_default(),
            tls.days_left.unwrap_or_default()
        );
        Ok(())
    }

    /// AMQP over WebSockets on `host:443`: TLS with a trusted, matching certificate, then the
    /// `AMQPWSB10` upgrade at `/$servicebus/websocket`.
    async fn websocket_fallback(&self, t: &Target) -> WebSocketFallback {
        let start = Instant::now();
        let mut ws = WebSocketFallback {
            host: t.host.clone(),
            port: 443,
            path: http::WEBSOCKET_PATH.into(),
            ..WebSocketFallback::default()
        };
        let outcome: Result<String, String> = async {
            let mut d = DnsStep::default();
            let mut c = TcpStep::default();
            let stream = self
                .open(&t.host, 443, &mut d, &mut c)
                .await
                .map_err(|f| f.detail)?;
            let mut tls_step = TlsStep::default();
            let mut stream = self
                .handshake(&t.host, stream, true, t.microsoft, &mut tls_step)
                .await
                .map_err(|f| f.detail)?;
            let cert = &tls_step.cert;
            if !(cert.trusted && cert.hostname_ok && !cert.expired) || cert.intercepted {
                return Err(format!(
                    "certificate on 443 not acceptable (trusted {}, hostname ok {}, expired {}, intercepted {})",
                    cert.trusted, cert.hostname_ok, cert.expired, cert.intercepted
                ));
            }
            match tokio::time::timeout(
                self.timeout,
                http::websocket_upgrade(&mut stream, &t.host, 443),
            )
            .await
            {
                Ok(r) => r,
                Err(_) => Err(format!("no upgrade answer within {}", secs(self.timeout))),
            }
        }
        .await;
        ws.ms = start.elapsed().as_millis() as u64;
        match outcome {
            Ok(status) => {
                ws.ok = true;
                ws.detail = format!("upgraded to {}", http::WEBSOCKET_PROTOCOL);
                ws.status = Some(status);
            }
            Err(e) => ws.detail = e,
        }
        ws
    }
}

fn protocol_expectation(p: Protocol) -> &'static str {
    match p {
        Protocol::Amqp => "the AMQP protocol header gets no AMQP answer",
        Protocol::Https => "GET / gets no HTTP answer",
    }
}
