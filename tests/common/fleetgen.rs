//! Fleets of local mock tenants for the `fleet` tests: one mock of the Microsoft endpoints (and
//! the SIEMs) per tenant on 127.0.0.1, each with its own config, its own `[[credentials]]` entry
//! (the secret through a named variable, or a file) and its own SIEM token variables, and a
//! fleet file over them. Every mock's client secret is a canary, so a test can scan every output
//! for every secret. Used with `#[path]` beside `common/mock/mod.rs` as `mock`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use super::mock::{limits::Limits, Faults, InFlight, Mock, MockOptions};

/// One tenant of a mock fleet.
#[derive(Clone)]
pub struct Spec {
    pub slug: String,
    /// A fixture tenant under fixtures/tenants.
    pub fixture: &'static str,
    /// Two 429s (AF429 on the Management Activity API) per URL before an answer.
    pub throttled: bool,
    /// Its variable holds another secret than the one its mock accepts: the token is refused.
    pub wrong_secret: bool,
    /// The secret comes from a file (`secret_file`) rather than a variable.
    pub secret_file: bool,
    pub limits: Option<Limits>,
    /// Milliseconds before each answer.
    pub latency_ms: u64,
    /// Counts this mock's Microsoft requests in flight (share one across the fleet).
    pub in_flight: Option<std::sync::Arc<InFlight>>,
    /// Read through an Azure Lighthouse delegation from [`HOME_TENANT`] (ARM only).
    pub lighthouse: bool,
}

/// The MSSP's own tenant of the Lighthouse tenants.
pub const HOME_TENANT: &str = "0a0a0a0a-1b1b-4c2c-8d3d-4e4e4e4e4e4e";

impl Spec {
    pub fn new(slug: &str, fixture: &'static str) -> Spec {
        Spec {
            slug: slug.to_string(),
            fixture,
            throttled: false,
            wrong_secret: false,
            secret_file: false,
            limits: None,
            latency_ms: 0,
            in_flight: None,
            lighthouse: false,
        }
    }
}

pub struct MockFleet {
    pub dir: tempfile::TempDir,
    pub specs: Vec<Spec>,
    pub mocks: Vec<Mock>,
    pub env: Vec<(String, String)>,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The variable holding tenant `i`'s client secret.
pub fn secret_var(i: usize) -> String {
    format!("T{i}_SECRET")
}

impl MockFleet {
    /// Starts one mock per spec and writes `fleet.toml` (with `fleet_section` as its `[fleet]`
    /// body) over them.
    pub fn start(specs: &[Spec], fleet_section: &str) -> MockFleet {
        let dir = tempfile::tempdir().unwrap();
        let mut mocks = Vec::new();
        let mut env = Vec::new();
        let mut toml = format!("[fleet]\n{fleet_section}\n");
        let mut cas = String::new();
        for (i, spec) in specs.iter().enumerate() {
            let m = Mock::start(
                &root().join("fixtures/tenants").join(spec.fixture),
                MockOptions {
                    canary: Some(format!("CANARY{i}x{}", fastrand::u64(..))),
                    faults: Faults {
                        throttle: if spec.throttled { 2 } else { 0 },
                        retry_after: Some("0.2".into()),
                        ..Faults::default()
                    },
                    limits: spec.limits,
                    latency_ms: spec.latency_ms,
                    in_flight: spec.in_flight.clone(),
                    lighthouse_home: spec.lighthouse.then(|| HOME_TENANT.to_string()),
                    ..MockOptions::default()
                },
            )
            .expect("mock starts");
            let slug = &spec.slug;
            let cfg = dir.path().join("tenants").join(format!("{slug}.toml"));
            m.write_config(&cfg).unwrap();
            // Each tenant's SIEM tokens under its own variable names.
            let prefix = format!("T{i}_");
            let text = std::fs::read_to_string(&cfg).unwrap();
            let text = ["QRADAR_TOKEN", "SPLUNK_TOKEN", "ELASTIC_API_KEY"]
                .iter()
                .fold(text, |t, v| {
                    t.replace(&format!("\"{v}\""), &format!("\"{prefix}{v}\""))
                });
            std::fs::write(&cfg, text).unwrap();
            env.push((format!("{prefix}QRADAR_TOKEN"), m.siem_token()));
            env.push((format!("{prefix}SPLUNK_TOKEN"), m.splunk_token()));
            env.push((format!("{prefix}ELASTIC_API_KEY"), m.elastic_key()));
            let secret = if spec.wrong_secret {
                "not-the-secret".to_string()
            } else {
                m.secret().to_string()
            };
            let secret_line = if spec.secret_file {
                let f = dir.path().join("secrets").join(slug);
                std::fs::create_dir_all(f.parent().unwrap()).unwrap();
                std::fs::write(&f, format!("{secret}\n")).unwrap();
                format!("secret_file = \"secrets/{slug}\"")
            } else {
                env.push((secret_var(i), secret));
                format!("secret_env = \"{}\"", secret_var(i))
            };
            let secret_line = if spec.lighthouse {
                format!("{secret_line}\nlighthouse_home_tenant = \"{HOME_TENANT}\"")
            } else {
                secret_line
            };
            toml.push_str(&format!(
                "[[credentials]]\nname = \"{slug}-app\"\nauth = \"secret\"\nclient_id = \"{}\"\n{secret_line}\n\n[[tenants]]\nslug = \"{slug}\"\nconfig = \"tenants/{slug}.toml\"\ncredentials = \"{slug}-app\"\n\n",
                m.client_id()
            ));
            cas.push_str(&m.ca_pem);
            mocks.push(m);
        }
        // The AMQP client trusts the OS store: every mock's CA in one file.
        let ca = dir.path().join("cas.pem");
        std::fs::write(&ca, cas).unwrap();
        env.push(("SSL_CERT_FILE".into(), ca.display().to_string()));
        std::fs::write(dir.path().join("fleet.toml"), toml).unwrap();
        MockFleet {
            dir,
            specs: specs.to_vec(),
            mocks,
            env,
        }
    }

    pub fn file(&self) -> PathBuf {
        self.dir.path().join("fleet.toml")
    }

    pub fn state(&self) -> PathBuf {
        self.dir.path().join("fleet-state")
    }

    /// Runs `siemproof ARGS… FLEET.toml` with the fleet's environment (or `env`).
    pub fn run_with(&self, args: &[&str], env: &[(String, String)]) -> Output {
        let mut a: Vec<&str> = args.to_vec();
        let f = self.file();
        a.push(f.to_str().unwrap());
        super::child::siemproof(&a, &super::child::env_of(env), Duration::from_secs(300))
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.run_with(args, &self.env)
    }

    /// Index of the tenant with `slug`.
    pub fn index(&self, slug: &str) -> usize {
        self.specs.iter().position(|s| s.slug == slug).unwrap()
    }

    /// Every secret and token the fleet's mocks know: none may appear in any output.
    pub fn secrets(&self) -> Vec<String> {
        let mut needles = Vec::new();
        for m in &self.mocks {
            needles.push(m.secret().to_string());
            needles.push(m.siem_token());
            needles.push(m.splunk_token());
            needles.push(m.elastic_key());
            needles.extend(m.issued_tokens());
        }
        needles
    }

    /// Asserts that every mock saw only reads: GET, the token request and the opt-in SIEM
    /// searches, never listKeys or a subscription start; and that no token went where it must
    /// not (a Lighthouse home-tenant token outside the delegated subscriptions).
    pub fn assert_only_reads(&self) {
        for (m, spec) in self.mocks.iter().zip(&self.specs) {
            assert!(
                m.violations().is_empty(),
                "{}: {:?}",
                spec.slug,
                m.violations()
            );
            for r in m.requests() {
                let lower = r.path_and_query.to_ascii_lowercase();
                let path = lower.split('?').next().unwrap_or_default();
                let allowed_post = path.ends_with("/oauth2/v2.0/token")
                    || path == "/api/ariel/searches"
                    || path == "/services/search/v2/jobs/export";
                assert!(
                    r.method == "GET" || (r.method == "POST" && allowed_post),
                    "{}: {} {}",
                    spec.slug,
                    r.method,
                    r.path_and_query
                );
                assert!(!lower.contains("listkeys") && !lower.contains("subscriptions/start"));
            }
        }
    }

    /// Files under `dir` that hold any of the fleet's secrets.
    pub fn leaks_in(&self, dir: &Path) -> Vec<String> {
        let needles = self.secrets();
        walk(dir)
            .into_iter()
            .filter(|p| {
                let body = String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned();
                needles.iter().any(|n| body.contains(n.as_str()))
            })
            .map(|p| p.display().to_string())
            .collect()
    }

    /// Whether `text` holds any of the fleet's secrets.
    pub fn leaks(&self, text: &str) -> bool {
        self.secrets().iter().any(|n| text.contains(n.as_str()))
    }
}

/// Every file under `dir`.
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Temporary outputs left under `dir` (none may be).
pub fn leftovers(dir: &Path) -> Vec<PathBuf> {
    walk(dir)
        .into_iter()
        .filter(|p| {
            p.components()
                .any(|c| c.as_os_str().to_string_lossy().starts_with(".siemproof-"))
        })
        .collect()
}
