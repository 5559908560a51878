//! `siemproof send --syslog tls://…`: the run's LEEF events over a real TLS connection to a
//! receiver on 127.0.0.1, framed per RFC 5425 and parsed back by `syslog-rfc5424-parser` (PyPI,
//! an independent RFC 5424 parser); a receiver that drops the first connection gets the run on
//! the retry; an untrusted certificate is refused without retrying; an unreachable receiver ends
//! with exit 3 after the bounded attempts; mutual TLS presents the client certificate; and the
//! client key's content never appears in any output.

mod support;

use std::io::Read;
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use support::*;

struct Pki {
    ca_pem: String,
    server: (Vec<rustls::pki_types::CertificateDer<'static>>, KeyPair),
    client_cert_pem: String,
    client_key_pem: String,
    ca_der: rustls::pki_types::CertificateDer<'static>,
}

fn pki() -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name
        .push(rcgen::DnType::CommonName, "siemproof test CA");
    let ca = p.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(p, ca_key);
    let server_key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&server_key, &issuer)
        .unwrap();
    let client_key = KeyPair::generate().unwrap();
    let client = CertificateParams::new(vec!["collector.example".to_string()])
        .unwrap()
        .signed_by(&client_key, &issuer)
        .unwrap();
    Pki {
        ca_pem: ca.pem(),
        ca_der: ca.der().clone(),
        server: (vec![server.der().clone()], server_key),
        client_cert_pem: client.pem(),
        client_key_pem: client_key.serialize_pem(),
    }
}

/// A receiver on 127.0.0.1: accepts up to `connections`; the first `drop_first` are closed right
/// after the handshake; the bytes of the others are returned, one Vec per connection.
fn receiver(
    pki: &Pki,
    connections: usize,
    drop_first: usize,
    mutual: bool,
) -> (u16, std::thread::JoinHandle<Vec<Vec<u8>>>) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = if mutual {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(pki.ca_der.clone()).unwrap();
        builder.with_client_cert_verifier(
            rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .unwrap(),
        )
    } else {
        builder.with_no_client_auth()
    };
    let key = rustls::pki_types::PrivateKeyDer::try_from(pki.server.1.serialize_der()).unwrap();
    let config = Arc::new(builder.with_single_cert(pki.server.0.clone(), key).unwrap());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let mut got = Vec::new();
        for n in 0..connections {
            let Ok((tcp, _)) = listener.accept() else {
                break;
            };
            tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let conn = rustls::ServerConnection::new(config.clone()).unwrap();
            let mut tls = rustls::StreamOwned::new(conn, tcp);
            if n < drop_first {
                let _ = tls.conn.complete_io(&mut tls.sock);
                drop(tls);
                continue;
            }
            let mut buf = Vec::new();
            let _ = tls.read_to_end(&mut buf);
            tls.conn.send_close_notify();
            let _ = tls.conn.complete_io(&mut tls.sock);
            got.push(buf);
        }
        got
    });
    (port, handle)
}

/// Splits RFC 5425 octet-counted frames.
fn split_frames(mut b: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..100_000 {
        if b.is_empty() {
            break;
        }
        let sp = b.iter().position(|&c| c == b' ').expect("MSG-LEN SP");
        let len: usize = std::str::from_utf8(&b[..sp]).unwrap().parse().unwrap();
        out.push(String::from_utf8(b[sp + 1..sp + 1 + len].to_vec()).unwrap());
        b = &b[sp + 1 + len..];
    }
    out
}

fn results(dir: &Path) -> std::path::PathBuf {
    let out = dir.join("run");
    let o = run(bin()
        .args([
            "audit",
            "fixtures/tenants/contoso-demo",
            "--format",
            "json,leef",
            "--out",
        ])
        .arg(&out));
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", text(&o));
    out
}

#[test]
fn events_reach_a_tls_receiver_as_rfc5424_and_failures_are_bounded() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = pki();
    let ca = tmp.path().join("ca.pem");
    std::fs::write(&ca, &pki.ca_pem).unwrap();
    let run_dir = results(tmp.path());
    let leef = std::fs::read_to_string(run_dir.join("findings.leef")).unwrap();
    let expected: Vec<&str> = leef.lines().collect();
    let r: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run_dir.join("results.json")).unwrap()).unwrap();
    let as_of = r["run"]["as_of"].as_str().unwrap().to_string();

    // The first connection is dropped after the handshake; the retry delivers the run.
    let (port, server) = receiver(&pki, 2, 1, false);
    let o = run(send(&run_dir, &format!("tls://127.0.0.1:{port}"))
        .arg("--ca")
        .arg(&ca));
    let got = server.join().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("in 2 attempt(s)"), "{}", text(&o));
    assert_eq!(got.len(), 1);
    let messages = split_frames(&got[0]);
    assert_eq!(messages.len(), expected.len());

    // Every message parses as RFC 5424, and carries the LEEF event unchanged.
    if require(
        "syslog-rfc5424-parser",
        python().args(["-c", "import syslog_rfc5424_parser"]),
    ) {
        let json = tmp.path().join("messages.json");
        std::fs::write(&json, serde_json::to_vec(&messages).unwrap()).unwrap();
        let o = run(python().arg("-c").arg(PARSE).arg(&json));
        assert!(o.status.success(), "{}", text(&o));
        let parsed: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
        for (p, want) in parsed.iter().zip(&expected) {
            assert_eq!(p["msg"].as_str(), Some(*want));
            assert_eq!(p["appname"], "siemproof");
            assert_eq!(p["facility"], "audit");
            assert!(
                matches!(p["msgid"].as_str(), Some("finding" | "coverage")),
                "{p}"
            );
            assert_eq!(p["timestamp"].as_str(), Some(as_of.as_str()), "{p}");
        }
        assert!(parsed.iter().any(|p| p["severity"] != "info"));
    }

    // Without --ca the test CA is not trusted: refused once, not retried.
    let (port, server) = receiver(&pki, 1, 0, false);
    let o = run(&mut send(&run_dir, &format!("tls://127.0.0.1:{port}")));
    drop(server);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("after 1 attempt(s)"), "{}", text(&o));
    assert!(
        text(&o).to_lowercase().contains("certificate"),
        "{}",
        text(&o)
    );

    // Nothing listens: bounded attempts, then exit 3 naming the address.
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let o = run(send(&run_dir, &format!("tls://127.0.0.1:{closed}"))
        .args(["--retries", "1", "--ca"])
        .arg(&ca));
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        text(&o).contains(&format!("tls://127.0.0.1:{closed}")),
        "{}",
        text(&o)
    );
    assert!(text(&o).contains("after 2 attempt(s)"), "{}", text(&o));

    // Mutual TLS: the receiver requires the client certificate.
    let (cert, key) = (tmp.path().join("client.pem"), tmp.path().join("client.key"));
    std::fs::write(&cert, &pki.client_cert_pem).unwrap();
    std::fs::write(&key, &pki.client_key_pem).unwrap();
    let (port, server) = receiver(&pki, 1, 0, true);
    let o = run(send(&run_dir, &format!("tls://127.0.0.1:{port}"))
        .arg("--ca")
        .arg(&ca)
        .arg("--client-cert")
        .arg(&cert)
        .arg("--client-key")
        .arg(&key));
    let got = server.join().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(split_frames(&got[0]).len(), expected.len());
    let key_body = pki.client_key_pem.lines().nth(1).unwrap();
    assert!(!text(&o).contains(key_body));

    // A broken key file: exit 2 naming the file, and none of its content in the error.
    let bad = tmp.path().join("bad.key");
    std::fs::write(
        &bad,
        "-----BEGIN PRIVATE KEY-----\nCANARY-SECRET-7f3a\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let o = run(send(&run_dir, "tls://127.0.0.1:9")
        .arg("--ca")
        .arg(&ca)
        .arg("--client-cert")
        .arg(&cert)
        .arg("--client-key")
        .arg(&bad));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("bad.key"), "{}", text(&o));
    assert!(!text(&o).contains("CANARY-SECRET-7f3a"), "{}", text(&o));

    // The key file given as the certificate by mistake: named, never quoted.
    let o = run(send(&run_dir, "tls://127.0.0.1:9")
        .arg("--ca")
        .arg(&ca)
        .arg("--client-cert")
        .arg(&bad)
        .arg("--client-key")
        .arg(&bad));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("bad.key"), "{}", text(&o));
    assert!(!text(&o).contains("CANARY-SECRET-7f3a"), "{}", text(&o));

    // Only tls:// is accepted: findings never cross the network in clear text.
    for bad in [
        "tcp://127.0.0.1:514",
        "udp://127.0.0.1:514",
        "tls://u:CANARY-PASSWORD-91c2@127.0.0.1",
        "tcp://u:CANARY-PASSWORD-91c2@127.0.0.1:514",
        "tls://u:CANARY-PASSWORD-91c2@[::1",
    ] {
        let o = run(&mut send(&run_dir, bad));
        assert_eq!(o.status.code(), Some(2), "{bad}: {}", text(&o));
        assert!(!text(&o).contains("CANARY-PASSWORD-91c2"), "{}", text(&o));
    }

    // --dry-run prints the same frames and sends nothing.
    let o = run(send(&run_dir, "tls://192.0.2.1").arg("--dry-run"));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(split_frames(&o.stdout).len(), expected.len());
}

/// `siemproof send RUN --syslog ADDRESS`, for the caller to add its options.
fn send(run_dir: &Path, address: &str) -> std::process::Command {
    let mut c = bin();
    c.arg("send").arg(run_dir).args(["--syslog", address]);
    c
}

fn python() -> std::process::Command {
    std::process::Command::new("python3")
}

const PARSE: &str = r#"
import json, sys
from syslog_rfc5424_parser import SyslogMessage
out = []
for m in json.load(open(sys.argv[1])):
    d = SyslogMessage.parse(m).as_dict()
    out.append({k: (v if isinstance(v, (str, int, type(None))) else str(v)) for k, v in d.items()})
print(json.dumps(out))
"#;
