//! Wall-time benchmark of `probe`: twenty local targets, five of which accept TCP and never
//! answer, per-step timeout 3 s. Because targets are probed concurrently the run should take
//! about one timeout (≈3 s), not five (≈15 s). Run: `cargo bench --bench probe_wall`.
//! Everything listens on 127.0.0.1; certificates are generated here.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use siemproof::probe::result::Verdict;
use siemproof::probe::targets::{parse_extra, ConnectTo};
use siemproof::probe::tls::TlsSetup;
use siemproof::probe::Probe;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const TARGETS: usize = 20;
const SILENT: usize = 5;
const TIMEOUT: Duration = Duration::from_secs(3);
const HOLD: Duration = Duration::from_secs(20);

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run());
}

async fn run() {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "siemproof bench CA");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key = KeyPair::generate().unwrap();
    let ca_pem = ca_params.self_signed(&ca_key).unwrap().pem();
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["*.bench.test".to_string()])
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    let server = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![leaf.der().clone()],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
    )
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));

    let mut targets = Vec::new();
    let mut pins = Vec::new();
    for i in 0..TARGETS {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let silent = i % (TARGETS / SILENT) == 0;
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = l.accept().await else {
                    return;
                };
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    if silent {
                        tokio::time::sleep(HOLD).await;
                        drop(tcp);
                        return;
                    }
                    let Ok(Ok(mut s)) = tokio::time::timeout(HOLD, acceptor.accept(tcp)).await
                    else {
                        return;
                    };
                    let mut buf = [0u8; 1024];
                    let _ = tokio::time::timeout(HOLD, s.read(&mut buf)).await;
                    let _ = s
                        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                        .await;
                    let _ = s.shutdown().await;
                });
            }
        });
        let host = format!("t{i}.bench.test");
        targets.push(parse_extra(&format!("{host}:{port}")).unwrap());
        pins.push(ConnectTo::parse(&format!("{host}:{port}:127.0.0.1:{port}")).unwrap());
    }
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca_pem).unwrap();
    let probe = Probe {
        timeout: TIMEOUT,
        proxy: None,
        no_proxy: String::new(),
        connect_to: pins,
        tls: Arc::new(TlsSetup::new(Some(&ca_file), false).unwrap()),
        clock: chrono::Utc::now(),
    };
    let start = Instant::now();
    let results = probe.run(&targets, &mut |_| {}).await;
    let wall = start.elapsed();
    let reachable = results
        .iter()
        .filter(|r| r.verdict == Verdict::Reachable)
        .count();
    let timeouts = results
        .iter()
        .filter(|r| r.verdict == Verdict::Timeout)
        .count();
    println!(
        "probe_wall: {TARGETS} targets ({SILENT} never answer), timeout {} s: wall {:.2} s; {reachable} reachable, {timeouts} timeout",
        TIMEOUT.as_secs(),
        wall.as_secs_f64()
    );
    assert_eq!((reachable, timeouts), (TARGETS - SILENT, SILENT));
}
