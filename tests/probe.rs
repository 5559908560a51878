//! Probe tests against local servers only: every server listens on 127.0.0.1, certificates are
//! generated per run with rcgen, and every wait is bounded. Each scenario must end in its verdict.

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use siemproof::probe::proxy::Proxy;
use siemproof::probe::result::{TargetResult, Verdict};
use siemproof::probe::targets::{self, ConnectTo, Protocol, Target};
use siemproof::probe::tls::TlsSetup;
use siemproof::probe::Probe;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Upper bound for any single wait in a test server.
const BOUND: Duration = Duration::from_secs(10);

struct Ca {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

fn ca(cn: &str, org: &str) -> Ca {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, cn);
    p.distinguished_name.push(DnType::OrganizationName, org);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let key = KeyPair::generate().unwrap();
    let cert = p.self_signed(&key).unwrap();
    Ca {
        pem: cert.pem(),
        issuer: Issuer::new(p, key),
    }
}

/// A CA named like one of Microsoft's issuing CAs (the probe judges issuers by name).
fn microsoft_like_ca() -> Ca {
    ca(
        "Microsoft Azure RSA TLS Issuing CA 03",
        "Microsoft Corporation",
    )
}

struct Leaf {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

fn leaf(ca: &Ca, sans: &[&str], years: Option<(i32, i32)>) -> Leaf {
    let mut p =
        CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    p.distinguished_name.push(DnType::CommonName, sans[0]);
    if let Some((from, to)) = years {
        p.not_before = rcgen::date_time_ymd(from, 1, 1);
        p.not_after = rcgen::date_time_ymd(to, 1, 1);
    } else {
        p.not_before = rcgen::date_time_ymd(2025, 1, 1);
        p.not_after = rcgen::date_time_ymd(2030, 1, 1);
    }
    let key = KeyPair::generate().unwrap();
    let cert = p.signed_by(&key, &ca.issuer).unwrap();
    Leaf {
        chain: vec![cert.der().clone()],
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    }
}

#[derive(Clone, Copy)]
enum Speaks {
    Amqp,
    Http,
    /// HTTP that upgrades `/$servicebus/websocket` with sub-protocol AMQPWSB10.
    WebSocket,
    /// Like WebSocket, but the 101's Sec-WebSocket-Accept does not answer the key (a middlebox
    /// that fakes the upgrade).
    WebSocketWrongAccept,
}

/// RFC 6455 §4.2.2: base64(SHA-1(key + GUID)), computed here with OpenSSL, independently of
/// the code under test.
fn accept_of(head: &str) -> String {
    use base64::Engine as _;
    let key = head
        .lines()
        .find_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.trim().eq_ignore_ascii_case("sec-websocket-key"))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_default();
    let digest =
        openssl::sha::sha1(format!("{key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11").as_bytes());
    base64::engine::general_purpose::STANDARD.encode(digest)
}

async fn listener() -> (TcpListener, u16) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    (l, port)
}

async fn read_head(s: &mut (impl AsyncReadExt + Unpin)) -> String {
    let mut buf = Vec::new();
    let mut b = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") && buf.len() < 16 * 1024 {
        match tokio::time::timeout(BOUND, s.read(&mut b)).await {
            Ok(Ok(1)) => buf.push(b[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// A TLS server on 127.0.0.1 presenting `leaf` and speaking `speaks`.
async fn tls_server(leaf: Leaf, speaks: Speaks) -> u16 {
    let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(leaf.chain, leaf.key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
    let (l, port) = listener().await;
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = l.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(Ok(mut s)) = tokio::time::timeout(BOUND, acceptor.accept(tcp)).await else {
                    return;
                };
                match speaks {
                    Speaks::Amqp => {
                        let mut h = [0u8; 8];
                        if tokio::time::timeout(BOUND, s.read_exact(&mut h))
                            .await
                            .is_ok()
                            && &h == b"AMQP\x03\x01\x00\x00"
                        {
                            let _ = s.write_all(b"AMQP\x03\x01\x00\x00").await;
                        }
                    }
                    Speaks::Http | Speaks::WebSocket | Speaks::WebSocketWrongAccept => {
                        // Like real servers, answer 400 at once to bytes that are not HTTP.
                        let mut first = [0u8; 4];
                        if tokio::time::timeout(BOUND, s.read_exact(&mut first))
                            .await
                            .is_err()
                        {
                            return;
                        }
                        if &first != b"GET " {
                            let _ = s
                                .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                                .await;
                            let _ = tokio::time::timeout(BOUND, s.shutdown()).await;
                            return;
                        }
                        let head = format!("GET {}", read_head(&mut s).await);
                        let upgrade = head.starts_with("GET /$servicebus/websocket ")
                            && head.contains("Sec-WebSocket-Protocol: AMQPWSB10");
                        let accept = match speaks {
                            Speaks::WebSocketWrongAccept => accept_of("Sec-WebSocket-Key: other"),
                            _ => accept_of(&head),
                        };
                        let answer = if !matches!(speaks, Speaks::Http) && upgrade {
                            format!("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\nSec-WebSocket-Protocol: AMQPWSB10\r\n\r\n")
                        } else {
                            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string()
                        };
                        let _ = s.write_all(answer.as_bytes()).await;
                    }
                }
                let _ = tokio::time::timeout(BOUND, s.shutdown()).await;
            });
        }
    });
    port
}

/// Accepts TCP connections and never says a word (held for at most BOUND).
async fn silent_server() -> u16 {
    let (l, port) = listener().await;
    tokio::spawn(async move {
        loop {
            let Ok((s, _)) = l.accept().await else { return };
            tokio::spawn(async move {
                tokio::time::sleep(BOUND).await;
                drop(s);
            });
        }
    });
    port
}

/// A port on which nothing listens.
async fn closed_port() -> u16 {
    let (l, port) = listener().await;
    drop(l);
    port
}

/// An HTTP CONNECT proxy forwarding every tunnel to 127.0.0.1:`backend`; with `credentials`,
/// requests without the right Basic credentials get 407. Records the CONNECT lines it saw.
async fn connect_proxy(backend: u16, credentials: Option<&str>) -> (u16, Arc<Mutex<Vec<String>>>) {
    connect_proxy_denying(backend, credentials, None).await
}

/// Like [`connect_proxy`], but answers 403 to CONNECT requests for `deny_port`, as corporate
/// proxies do for anything but 443.
async fn connect_proxy_denying(
    backend: u16,
    credentials: Option<&str>,
    deny_port: Option<u16>,
) -> (u16, Arc<Mutex<Vec<String>>>) {
    use base64::Engine as _;
    let expected = credentials.map(|c| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(c)
        )
    });
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (l, port) = listener().await;
    let seen2 = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut client, _)) = l.accept().await else {
                return;
            };
            let expected = expected.clone();
            let seen = seen2.clone();
            tokio::spawn(async move {
                let head = read_head(&mut client).await;
                seen.lock()
                    .unwrap()
                    .push(head.lines().next().unwrap_or_default().to_string());
                if let Some(exp) = &expected {
                    let ok = head.lines().any(|l| {
                        l.split_once(':').is_some_and(|(k, v)| {
                            k.eq_ignore_ascii_case("proxy-authorization") && v.trim() == exp
                        })
                    });
                    if !ok {
                        let _ = client
                            .write_all(b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"test\"\r\nContent-Length: 0\r\n\r\n")
                            .await;
                        return;
                    }
                }
                if let Some(p) = deny_port {
                    if head
                        .lines()
                        .next()
                        .unwrap_or_default()
                        .contains(&format!(":{p} "))
                    {
                        let _ = client
                            .write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                            .await;
                        return;
                    }
                }
                let Ok(mut upstream) = TcpStream::connect(("127.0.0.1", backend)).await else {
                    let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n").await;
                    return;
                };
                let _ = client
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .await;
                let _ = tokio::time::timeout(
                    BOUND,
                    tokio::io::copy_bidirectional(&mut client, &mut upstream),
                )
                .await;
            });
        }
    });
    (port, seen)
}

fn clock() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap()
}

fn write_pem(dir: &Path, name: &str, pem: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, pem).unwrap();
    p
}

fn probe(
    ca_pem: Option<&str>,
    timeout_secs: f64,
    connect_to: Vec<ConnectTo>,
    proxy: Option<Proxy>,
) -> Probe {
    let dir = tempfile::tempdir().unwrap();
    let bundle = ca_pem.map(|pem| write_pem(dir.path(), "ca.pem", pem));
    Probe {
        timeout: Duration::from_secs_f64(timeout_secs),
        proxy,
        no_proxy: String::new(),
        connect_to,
        // The system store is left out so results do not depend on the test machine.
        tls: Arc::new(TlsSetup::new(bundle.as_deref(), false).unwrap()),
        clock: clock(),
    }
}

fn pin(host: &str, port: u16, to: u16) -> ConnectTo {
    ConnectTo::parse(&format!("{host}:{port}:127.0.0.1:{to}")).unwrap()
}

fn extra(spec: &str) -> Target {
    targets::parse_extra(spec).unwrap()
}

async fn one(p: Probe, t: Target) -> TargetResult {
    let mut r = tokio::time::timeout(Duration::from_secs(30), p.run(&[t], &mut |_| {}))
        .await
        .expect("the probe finished within its bounds");
    r.remove(0)
}

const EH: &str = "psiem-namespace.servicebus.windows.net";

fn eventhub_target() -> Target {
    Target {
        role: "eventhub".into(),
        host: EH.into(),
        port: 5671,
        protocol: Protocol::Amqp,
        required: true,
        microsoft: true,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn amqp_server_is_reachable() {
    let ca = microsoft_like_ca();
    let port = tls_server(leaf(&ca, &["*.servicebus.windows.net"], None), Speaks::Amqp).await;
    let r = one(
        probe(Some(&ca.pem), 5.0, vec![pin(EH, 5671, port)], None),
        eventhub_target(),
    )
    .await;
    assert_eq!(r.verdict, Verdict::Reachable, "{}", r.detail);
    assert!(r.reachable);
    assert_eq!(r.protocol.response.as_deref(), Some("AMQP 3 1.0.0 (SASL)"));
    let tls = r.tls.as_ref().unwrap();
    assert!(tls.cert.hostname_ok && tls.cert.trusted && !tls.cert.intercepted);
    assert_eq!(tls.version.as_deref(), Some("TLS 1.3"));
    assert_eq!(r.dns.source, "connect-to");
    assert!(r.websocket_fallback.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn http_server_is_reachable() {
    let ca = ca("siemproof test CA", "siemproof tests");
    let port = tls_server(leaf(&ca, &["localhost"], None), Speaks::Http).await;
    let spec = format!("localhost:{port}");
    let r = one(
        probe(Some(&ca.pem), 5.0, vec![pin("localhost", port, port)], None),
        extra(&spec),
    )
    .await;
    assert_eq!(r.verdict, Verdict::Reachable, "{}", r.detail);
    assert_eq!(
        r.protocol.response.as_deref(),
        Some("HTTP/1.1 404 Not Found")
    );
    assert_eq!(r.tls.unwrap().alpn, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_hostname() {
    let ca = ca("siemproof test CA", "siemproof tests");
    let port = tls_server(leaf(&ca, &["other.example"], None), Speaks::Http).await;
    let r = one(
        probe(Some(&ca.pem), 5.0, vec![pin("localhost", port, port)], None),
        extra(&format!("localhost:{port}")),
    )
    .await;
    assert_eq!(r.verdict, Verdict::CertHostnameMismatch, "{}", r.detail);
    assert!(!r.reachable);
    assert!(r.detail.contains("other.example"), "{}", r.detail);
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_certificate() {
    let ca = ca("siemproof test CA", "siemproof tests");
    let port = tls_server(leaf(&ca, &["localhost"], Some((2019, 2021))), Speaks::Http).await;
    let r = one(
        probe(Some(&ca.pem), 5.0, vec![pin("localhost", port, port)], None),
        extra(&format!("localhost:{port}")),
    )
    .await;
    assert_eq!(r.verdict, Verdict::CertExpired, "{}", r.detail);
    let c = r.tls.unwrap().cert;
    assert!(c.expired && c.trusted, "expiry is judged apart from trust");
    assert!(c.days_left.unwrap() < 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn untrusted_issuer() {
    let trusted = ca("siemproof test CA", "siemproof tests");
    let rogue = ca("Rogue CA", "Nobody");
    let port = tls_server(leaf(&rogue, &["localhost"], None), Speaks::Http).await;
    let r = one(
        probe(
            Some(&trusted.pem),
            5.0,
            vec![pin("localhost", port, port)],
            None,
        ),
        extra(&format!("localhost:{port}")),
    )
    .await;
    assert_eq!(r.verdict, Verdict::Untrusted, "{}", r.detail);
    assert!(r.detail.contains("Rogue CA"), "{}", r.detail);
}

#[tokio::test(flavor = "multi_thread")]
async fn interception_is_detected_on_microsoft_hosts() {
    let inspection = ca("Contoso TLS Inspection CA", "Contoso Ltd");
    let port = tls_server(leaf(&inspection, &[EH], None), Speaks::Amqp).await;
    // Not trusted here: the SIEM would fail, and the issuer is reported.
    let r = one(
        probe(None, 5.0, vec![pin(EH, 5671, port)], None),
        eventhub_target(),
    )
    .await;
    assert_eq!(r.verdict, Verdict::Intercepted, "{}", r.detail);
    assert!(!r.reachable);
    assert!(
        r.detail.contains("Contoso TLS Inspection CA"),
        "{}",
        r.detail
    );
    // Trusted through --ca-bundle (a corporate CA): it works, but is still interception.
    let r = one(
        probe(Some(&inspection.pem), 5.0, vec![pin(EH, 5671, port)], None),
        eventhub_target(),
    )
    .await;
    assert_eq!(r.verdict, Verdict::Intercepted, "{}", r.detail);
    assert!(r.reachable);
    let c = r.tls.unwrap().cert;
    assert!(c.trusted && c.intercepted && !c.microsoft_issuer);
    assert!(c.issuer.unwrap().contains("Contoso TLS Inspection CA"));
}

#[tokio::test(flavor = "multi_thread")]
async fn closed_port_is_refused_and_websocket_fallback_is_tried() {
    let ca = microsoft_like_ca();
    let closed = closed_port().await;
    let ws = tls_server(
        leaf(&ca, &["*.servicebus.windows.net"], None),
        Speaks::WebSocket,
    )
    .await;
    let r = one(
        probe(
            Some(&ca.pem),
            5.0,
            vec![pin(EH, 5671, closed), pin(EH, 443, ws)],
            None,
        ),
        eventhub_target(),
    )
    .await;
    assert_eq!(r.verdict, Verdict::TcpRefused, "{}", r.detail);
    let fb = r.websocket_fallback.expect("fallback tried");
    assert!(fb.ok, "{}", fb.detail);
    assert!(r.detail.contains("WebSockets"), "{}", r.detail);
    assert!(r.tls.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn websocket_fallback_reports_failure_too() {
    let ca = microsoft_like_ca();
    let closed = closed_port().await;
    // 443 answers plain HTTP without the upgrade.
    let http = tls_server(leaf(&ca, &["*.servicebus.windows.net"], None), Speaks::Http).await;
    let r = one(
        probe(
            Some(&ca.pem),
            5.0,
            vec![pin(EH, 5671, closed), pin(EH, 443, http)],
            None,
        ),
        eventhub_target(),
    )
    .await;
    let fb = r.websocket_fallback.unwrap();
    assert!(!fb.ok);
    assert!(fb.detail.contains("404"), "{}", fb.detail);
}

#[tokio::test(flavor = "multi_thread")]
async fn websocket_upgrade_with_a_wrong_accept_is_not_an_upgrade() {
    // The hand-rolled handshake this replaced took any 101 with the sub-protocol as success.
    let ca = microsoft_like_ca();
    let closed = closed_port().await;
    let fake = tls_server(
        leaf(&ca, &["*.servicebus.windows.net"], None),
        Speaks::WebSocketWrongAccept,
    )
    .await;
    let r = one(
        probe(
            Some(&ca.pem),
            5.0,
            vec![pin(EH, 5671, closed), pin(EH, 443, fake)],
            None,
        ),
        eventhub_target(),
    )
    .await;
    let fb = r.websocket_fallback.unwrap();
    assert!(!fb.ok, "{}", fb.detail);
    assert!(fb.detail.contains("Sec-WebSocket-Accept"), "{}", fb.detail);
}

#[tokio::test(flavor = "multi_thread")]
async fn silent_server_times_out() {
    let port = silent_server().await;
    let r = one(
        probe(None, 1.0, vec![pin("localhost", port, port)], None),
        extra(&format!("localhost:{port}")),
    )
    .await;
    assert_eq!(r.verdict, Verdict::Timeout, "{}", r.detail);
    let tls = r.tls.unwrap();
    assert!(tls.error.unwrap().contains("1 s"));
    // The step waited for its timeout, and not for the server's much longer silence.
    assert!(tls.ms.unwrap() >= 1000 && tls.ms.unwrap() < BOUND.as_millis() as u64);
}

#[tokio::test(flavor = "multi_thread")]
async fn protocol_mismatch() {
    // An HTTP server where AMQP is expected.
    let ca = ca("siemproof test CA", "siemproof tests");
    let port = tls_server(leaf(&ca, &["localhost"], None), Speaks::Http).await;
    let r = one(
        probe(Some(&ca.pem), 5.0, vec![pin("localhost", port, port)], None),
        extra(&format!("amqps://localhost:{port}")),
    )
    .await;
    assert_eq!(r.verdict, Verdict::ProtocolFailed, "{}", r.detail);
    assert!(r.detail.contains("HTTP, not AMQP"), "{}", r.detail);
    assert!(
        r.websocket_fallback.is_none(),
        "only Event Hubs hosts get the fallback"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn dns_failure() {
    let r = one(
        probe(None, 5.0, vec![], None),
        extra("does-not-exist.invalid:443"),
    )
    .await;
    assert_eq!(r.verdict, Verdict::DnsFailed, "{}", r.detail);
}

#[tokio::test(flavor = "multi_thread")]
async fn through_a_connect_proxy_with_credentials() {
    let ca = microsoft_like_ca();
    let backend = tls_server(leaf(&ca, &["*.servicebus.windows.net"], None), Speaks::Amqp).await;
    let (pport, seen) = connect_proxy(backend, Some("siem:s3cret")).await;
    let proxy = Proxy::parse(&format!("http://siem:s3cret@127.0.0.1:{pport}")).unwrap();
    let r = one(
        probe(Some(&ca.pem), 5.0, vec![], Some(proxy)),
        eventhub_target(),
    )
    .await;
    assert_eq!(r.verdict, Verdict::Reachable, "{}", r.detail);
    assert_eq!(r.dns.source, "proxy");
    assert_eq!(
        seen.lock().unwrap().first().map(String::as_str),
        Some(format!("CONNECT {EH}:5671 HTTP/1.1").as_str())
    );
    let json = serde_json::to_string(&r).unwrap();
    assert!(
        !json.contains("s3cret"),
        "the proxy password leaked: {json}"
    );
    assert!(json.contains("siem:***@127.0.0.1"), "{json}");
}

#[tokio::test(flavor = "multi_thread")]
async fn connect_proxy_without_credentials_gets_407() {
    let ca = microsoft_like_ca();
    let backend = tls_server(leaf(&ca, &["*.servicebus.windows.net"], None), Speaks::Amqp).await;
    let (pport, _) = connect_proxy(backend, Some("siem:s3cret")).await;
    let proxy = Proxy::parse(&format!("http://127.0.0.1:{pport}")).unwrap();
    let r = one(
        probe(Some(&ca.pem), 5.0, vec![], Some(proxy)),
        eventhub_target(),
    )
    .await;
    assert_eq!(r.verdict, Verdict::ProxyAuthRequired, "{}", r.detail);
    assert!(r.detail.contains("407"), "{}", r.detail);
    // The wrong password is told apart from none, and never shown.
    let proxy = Proxy::parse(&format!("http://siem:wrong-pw@127.0.0.1:{pport}")).unwrap();
    let r = one(
        probe(Some(&ca.pem), 5.0, vec![], Some(proxy)),
        eventhub_target(),
    )
    .await;
    assert_eq!(r.verdict, Verdict::ProxyAuthRequired);
    assert!(
        r.detail.contains("rejected the credentials"),
        "{}",
        r.detail
    );
    assert!(!serde_json::to_string(&r).unwrap().contains("wrong-pw"));
}

/// A proxy that answers every CONNECT with 407, echoing in its reply the Proxy-Authorization
/// header it was sent, decoded and raw, in the status line and in headers.
async fn echoing_proxy() -> u16 {
    use base64::Engine as _;
    let (l, port) = listener().await;
    tokio::spawn(async move {
        loop {
            let Ok((mut client, _)) = l.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let head = read_head(&mut client).await;
                let auth = head
                    .lines()
                    .find(|l| l.to_ascii_lowercase().starts_with("proxy-authorization:"))
                    .unwrap_or_default()
                    .to_string();
                let decoded = auth
                    .rsplit(' ')
                    .next()
                    .and_then(|t| base64::engine::general_purpose::STANDARD.decode(t).ok())
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default();
                let reply = format!(
                    "HTTP/1.1 407 Denied {auth} ({decoded}) token={decoded}\r\nX-Echo: {auth}\r\nX-Decoded: {decoded}\r\nContent-Length: 0\r\n\r\n"
                );
                let _ = client.write_all(reply.as_bytes()).await;
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread")]
async fn a_proxy_echoing_our_credentials_gets_them_into_no_output() {
    use base64::Engine as _;
    let ca = microsoft_like_ca();
    let pport = echoing_proxy().await;
    let proxy = Proxy::parse(&format!("http://siem:Pr0xyS3cretPw@127.0.0.1:{pport}")).unwrap();
    let r = one(
        probe(Some(&ca.pem), 5.0, vec![], Some(proxy)),
        eventhub_target(),
    )
    .await;
    assert_eq!(r.verdict, Verdict::ProxyAuthRequired, "{}", r.detail);
    let json = serde_json::to_string(&r).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode("siem:Pr0xyS3cretPw");
    for secret in ["Pr0xyS3cretPw", b64.as_str()] {
        assert!(!json.contains(secret), "{secret} leaked: {json}");
        assert!(!r.detail.contains(secret), "{secret} leaked: {}", r.detail);
    }
    assert!(
        !json.contains("X-Echo"),
        "reply headers are never stored: {json}"
    );
    assert!(r.detail.contains("407"), "{}", r.detail);
}

// ---- the command line: bundle writing, merging and exit codes ----

fn siemproof(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_siemproof"))
        .args(args)
        .env_remove("HTTPS_PROXY")
        .env_remove("https_proxy")
        .env_remove("SIEMPROOF_AS_OF")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `siemproof probe` in a blocking thread while the test runtime serves the local servers.
async fn siemproof_async(args: Vec<String>) -> (i32, String, String) {
    tokio::task::spawn_blocking(move || {
        siemproof(&args.iter().map(String::as_str).collect::<Vec<_>>())
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn cli_writes_a_new_bundle_and_exit_codes() {
    let ca = ca("siemproof test CA", "siemproof tests");
    let port = tls_server(leaf(&ca, &["localhost"], None), Speaks::Http).await;
    let dir = tempfile::tempdir().unwrap();
    let ca_file = write_pem(dir.path(), "ca.pem", &ca.pem);
    let out = dir.path().join("evidence");
    let base = vec![
        "probe".to_string(),
        "--target".into(),
        format!("localhost:{port}"),
        "--connect-to".into(),
        format!("localhost:{port}:127.0.0.1:{port}"),
        "--ca-bundle".into(),
        ca_file.display().to_string(),
        "--as-of".into(),
        "2026-06-01".into(),
        "--out".into(),
        out.display().to_string(),
    ];
    let (code, stdout, stderr) = siemproof_async(base.clone()).await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("reachable"), "{stdout}");
    let bundle = siemproof::evidence::Bundle::open(&out, false).expect("the bundle verifies");
    let item = bundle.of_kind("probe.network").next().unwrap();
    assert_eq!(item.item.path.as_deref(), Some("probes/network.json"));
    assert_eq!(bundle.manifest.collector.auth, "probe");
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("probes/network.json")).unwrap()).unwrap();
    assert_eq!(doc["format"], "siemproof-probe/1");
    assert!(doc["host"]["hostname"]
        .as_str()
        .is_some_and(|h| !h.is_empty()));
    let t = &doc["targets"][0];
    for key in [
        "role",
        "host",
        "port",
        "verdict",
        "reachable",
        "detail",
        "dns",
        "tcp",
        "tls",
        "protocol",
        "total_ms",
    ] {
        assert!(t.get(key).is_some(), "targets[0].{key} missing: {t}");
    }
    assert_eq!(t["verdict"], "reachable");
    assert_eq!(t["role"], "extra");

    // A closed port: exit 1.
    let closed = closed_port().await;
    let mut args = base.clone();
    args.extend(["--target".into(), format!("127.0.0.1:{closed}")]);
    let (code, stdout, _) = siemproof_async(args).await;
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("tcp_refused"), "{stdout}");

    // Bad input: exit 2, nothing written.
    let empty = dir.path().join("none");
    for bad in [
        vec![
            "probe".to_string(),
            "--out".into(),
            empty.display().to_string(),
        ],
        vec![
            "probe".into(),
            "--target".into(),
            "nohost".into(),
            "--out".into(),
            empty.display().to_string(),
        ],
        vec![
            "probe".into(),
            "--target".into(),
            "h:443".into(),
            "--timeout".into(),
            "0".into(),
            "--out".into(),
            empty.display().to_string(),
        ],
        vec![
            "probe".into(),
            "--target".into(),
            "h:443".into(),
            "--proxy".into(),
            "socks5://u:pw@p:1080".into(),
            "--out".into(),
            empty.display().to_string(),
        ],
    ] {
        let (code, _, stderr) = siemproof_async(bad.clone()).await;
        assert_eq!(code, 2, "{bad:?}: {stderr}");
        assert!(!stderr.contains(":pw@"), "{stderr}");
        assert!(!empty.exists());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn cli_merges_into_a_collected_bundle_keeping_both_hosts() {
    use siemproof::evidence::manifest::{Collector, Item, Manifest, Tool};
    let dir = tempfile::tempdir().unwrap();
    let bundle_dir = dir.path().join("evidence");
    // A bundle as `collect` would leave it on another host.
    let at = Utc.with_ymd_and_hms(2026, 5, 31, 8, 0, 0).unwrap();
    let mut w = siemproof::evidence::writer::BundleWriter::new(
        &bundle_dir,
        Manifest {
            format: "siemproof-evidence/1".into(),
            tool: Tool {
                name: "siemproof".into(),
                version: "0.1.0".into(),
            },
            tenant_id: "00000000-0000-0000-0000-000000000001".into(),
            cloud: "public".into(),
            collected_at: at,
            collector: Collector {
                app_id: Some("11111111-1111-1111-1111-111111111111".into()),
                auth: "client_secret".into(),
                host: Some("admin-laptop".into()),
                at: Some(at),
            },
            contributors: vec![],
            items: vec![],
        },
    )
    .unwrap();
    w.add_file(
        Item {
            scope: Some("/subscriptions/x/resourceGroups/y".into()),
            page: Some(0),
            status: Some(200),
            ..Item::local("arm.eventhub.namespaces", at)
        },
        "raw/arm/arm.eventhub.namespaces.json",
        br#"{"value":[]}"#,
    )
    .unwrap();
    w.finish(None).unwrap();

    let ca = microsoft_like_ca();
    let amqp = tls_server(leaf(&ca, &["*.servicebus.windows.net"], None), Speaks::Amqp).await;
    let ca_file = write_pem(dir.path(), "ca.pem", &ca.pem);
    let cfg = dir.path().join("siemproof.toml");
    // The template's tenant id line, pointed at the bundle's tenant.
    let cfg_text = siemproof::config::INIT_TEMPLATE.replacen(
        "\nid = \"00000000-0000-0000-0000-000000000000\"",
        "\nid = \"00000000-0000-0000-0000-000000000001\"",
        1,
    );
    assert_ne!(cfg_text, siemproof::config::INIT_TEMPLATE);
    std::fs::write(&cfg, &cfg_text).unwrap();
    // Only the Event Hub is served; everything else fails fast (closed port).
    let closed = closed_port().await;
    let mut args = vec![
        "probe".to_string(),
        "--config".into(),
        cfg.display().to_string(),
        "--ca-bundle".into(),
        ca_file.display().to_string(),
        "--connect-to".into(),
        format!("{EH}:5671:127.0.0.1:{amqp}"),
        "--out".into(),
        bundle_dir.display().to_string(),
        "--as-of".into(),
        "2026-06-01".into(),
        "--timeout".into(),
        "2".into(),
    ];
    for h in [
        "qradarcheckpoints.blob.core.windows.net",
        "login.microsoftonline.com",
        "manage.office.com",
        "graph.microsoft.com",
    ] {
        args.extend(["--connect-to".into(), format!("{h}:443:127.0.0.1:{closed}")]);
    }
    let (code, stdout, stderr) = siemproof_async(args).await;
    assert_eq!(code, 1, "the 443 targets are down: {stdout}{stderr}");
    let bundle =
        siemproof::evidence::Bundle::open(&bundle_dir, false).expect("merged bundle verifies");
    assert_eq!(
        bundle.manifest.collector.host.as_deref(),
        Some("admin-laptop")
    );
    assert_eq!(bundle.manifest.contributors.len(), 1);
    assert_eq!(bundle.manifest.contributors[0].auth, "probe");
    assert!(bundle.of_kind("arm.eventhub.namespaces").next().is_some());
    assert!(bundle.of_kind("probe.network").next().is_some());
    assert!(bundle.of_kind("config").next().is_some());

    // The normaliser reads what the network checks evaluate.
    let config = siemproof::config::Config::parse(&cfg_text, "t").unwrap();
    let model = siemproof::normalize::normalize(&bundle, &config, clock(), &[]).expect("verified");
    let net = &model.network;
    assert_eq!(net.targets.len(), 5);
    let eh = net.targets.iter().find(|t| t.role == "eventhub").unwrap();
    assert_eq!(
        (eh.verdict.as_str(), eh.reachable, eh.port),
        ("reachable", Some(true), 5671)
    );
    let blob = net.targets.iter().find(|t| t.role == "blob").unwrap();
    assert_eq!(
        (blob.verdict.as_str(), blob.reachable),
        ("tcp_refused", Some(false))
    );
    assert!(!net.hosts.is_empty());

    // Re-running from the same host replaces its contribution instead of piling up.
    let (code, _, _) = siemproof_async(vec![
        "probe".into(),
        "--target".into(),
        format!("127.0.0.1:{closed}"),
        "--out".into(),
        bundle_dir.display().to_string(),
        "--timeout".into(),
        "2".into(),
    ])
    .await;
    assert_eq!(code, 1);
    let bundle = siemproof::evidence::Bundle::open(&bundle_dir, false).unwrap();
    assert_eq!(bundle.manifest.contributors.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn network_json_shape() {
    let ca = microsoft_like_ca();
    let port = tls_server(leaf(&ca, &["*.servicebus.windows.net"], None), Speaks::Amqp).await;
    let r = one(
        probe(Some(&ca.pem), 5.0, vec![pin(EH, 5671, port)], None),
        eventhub_target(),
    )
    .await;
    insta::assert_json_snapshot!(r, {
        ".**.ms" => "[ms]",
        ".total_ms" => "[ms]",
        ".connect_to" => "[127.0.0.1:port]",
        ".tcp.address" => "[127.0.0.1:port]",
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn proxy_refusing_5671_leaves_the_websocket_fallback() {
    let ca = microsoft_like_ca();
    let ws = tls_server(
        leaf(&ca, &["*.servicebus.windows.net"], None),
        Speaks::WebSocket,
    )
    .await;
    let (pport, seen) = connect_proxy_denying(ws, None, Some(5671)).await;
    let proxy = Proxy::parse(&format!("http://127.0.0.1:{pport}")).unwrap();
    let r = one(
        probe(Some(&ca.pem), 5.0, vec![], Some(proxy)),
        eventhub_target(),
    )
    .await;
    assert_eq!(r.verdict, Verdict::ProxyFailed, "{}", r.detail);
    assert!(r.detail.contains("403"), "{}", r.detail);
    let fb = r
        .websocket_fallback
        .expect("fallback tried through the proxy");
    assert!(fb.ok, "{}", fb.detail);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        [
            format!("CONNECT {EH}:5671 HTTP/1.1"),
            format!("CONNECT {EH}:443 HTTP/1.1")
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn terminal_table() {
    let ca = microsoft_like_ca();
    let amqp = tls_server(leaf(&ca, &["*.servicebus.windows.net"], None), Speaks::Amqp).await;
    let wrong = tls_server(leaf(&ca, &["login.example"], None), Speaks::Http).await;
    let closed = closed_port().await;
    let blob = "qradarcheckpoints.blob.core.windows.net";
    let login = "login.microsoftonline.com";
    let mk = |role: &str, host: &str, port: u16, protocol| Target {
        role: role.into(),
        host: host.into(),
        port,
        protocol,
        required: true,
        microsoft: true,
    };
    let list = [
        eventhub_target(),
        mk("blob", blob, 443, Protocol::Https),
        mk("login", login, 443, Protocol::Https),
    ];
    let p = probe(
        Some(&ca.pem),
        5.0,
        vec![
            pin(EH, 5671, amqp),
            pin(blob, 443, closed),
            pin(login, 443, wrong),
        ],
        None,
    );
    let mut results = tokio::time::timeout(Duration::from_secs(30), p.run(&list, &mut |_| {}))
        .await
        .unwrap();
    // Timings vary from run to run; the layout and verdicts must not.
    for r in &mut results {
        r.total_ms = 0;
        if let Some(t) = &mut r.tcp {
            t.ms = t.ms.map(|_| 0);
        }
    }
    insta::assert_snapshot!(siemproof::probe::report::table(&results, false));
}
