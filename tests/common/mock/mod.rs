//! A local mock of the Microsoft endpoints siemproof reads: the Entra token endpoint, ARM,
//! Graph and the Management Activity API, served over HTTPS on 127.0.0.1 from a fixture tenant
//! bundle, with injectable faults.
//!
//! Where it lives: here in `tests/common/mock/`, compiled into the integration tests and, through
//! `#[path]`, into `examples/mock-cloud.rs` and the benchmark. It is test tooling, so the
//! siemproof library and binary carry none of it and none of its dependencies (hyper server,
//! rcgen, OpenSSL key generation), which are dev-dependencies only.
//!
//! Why hyper and not a router framework: every path is answered generically from the fixture's
//! manifest, and the faults (connection resets, raw malformed bodies, header rewriting) need
//! the connection and the raw response, which hyper gives directly.
//!
//! All planes share one origin: their real paths do not collide (`/subscriptions…` and
//! `/providers…` for ARM, `/v1.0/…` for Graph, `/api/v1.0/{tenant}/activity…` for the
//! Management Activity API, `/{tenant}/oauth2/v2.0/token` for Entra ID).

#![allow(dead_code)]

pub mod amqp;
mod batch;
mod creds;
pub mod fixture;
pub mod limits;
pub mod tls;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use serde_json::{json, Value};

use creds::Creds;
use fixture::{key_of, Fixture};

/// Faults to inject. Counted faults hit the first N attempts of each URL (u32::MAX: always).
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// 429 with `Retry-After` (Management Activity API: 403 AF429, as documented).
    pub throttle: u32,
    /// The `Retry-After` value sent with throttling ("1", "0.25", an HTTP date).
    pub retry_after: Option<String>,
    /// 503 Service Unavailable.
    pub server_error: u32,
    /// Close the connection without a response.
    pub reset: u32,
    /// 200 with a truncated JSON body.
    pub malformed: u32,
    /// Paged lists point their next link at themselves.
    pub nextlink_loop: bool,
    /// 403 AuthorizationFailed for these kinds, always.
    pub forbidden_kinds: Vec<String>,
    /// Limit the counted faults to these kinds (all kinds when empty).
    pub only_kinds: Vec<String>,
    /// A secret planted in the data itself: in every error message (as a connection-string
    /// key, a bearer token and a JWT) and in every paging link (as SAS `sig=` and
    /// `access_token=` query values). It must appear in no output.
    pub data_canary: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct MockOptions {
    pub port: u16,
    pub latency_ms: u64,
    pub faults: Faults,
    /// A value planted wherever a secret could leak: the client secret itself, an
    /// application's `secretText` outside `$select`, a SAS key behind `listKeys`.
    pub canary: Option<String>,
    /// Microsoft's read limits (`limits::Limits::documented()` or `scaled(k)`); none when unset.
    pub limits: Option<limits::Limits>,
    /// Counts the requests carrying a token this mock issued (Microsoft's planes) while they
    /// are served; several mocks may share one to see a fleet's requests in flight.
    pub in_flight: Option<Arc<InFlight>>,
    /// An MSSP's own tenant with an Azure Lighthouse delegation over this one: the mock issues
    /// it tokens too, which read this tenant's subscriptions (ARM) and nothing else; any other
    /// use is a violation (it would read the MSSP's own directory) and is refused.
    pub lighthouse_home: Option<String>,
    /// Serve Azure Monitor's batched metrics read (`metrics:getBatch`) and point the config's
    /// `endpoints.metrics_batch` at it; without it the collector reads metrics per namespace.
    pub getbatch: bool,
    /// One multi-tenant app across several mocks: this client id and secret instead of the
    /// generated ones.
    pub app: Option<(String, String)>,
    /// Limits shared with other mocks, as one Microsoft seen by a fleet: the per-app limits
    /// across tenants (Graph's) then hold over all of them. Takes the place of `limits`.
    pub shared_limits: Option<Arc<Mutex<limits::Throttle>>>,
    /// TLS identity shared with other mocks, so that one CA file serves a fleet of them.
    pub shared_tls: Option<Arc<tls::Tls>>,
}

/// Requests in flight now, and the most seen at once.
#[derive(Debug, Default)]
pub struct InFlight {
    now: std::sync::atomic::AtomicUsize,
    max: std::sync::atomic::AtomicUsize,
}

impl InFlight {
    pub fn max(&self) -> usize {
        self.max.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// One request counted in an [`InFlight`] until dropped.
struct Counted(Arc<InFlight>);

impl Counted {
    fn new(f: &Arc<InFlight>) -> Counted {
        use std::sync::atomic::Ordering::SeqCst;
        let n = f.now.fetch_add(1, SeqCst) + 1;
        f.max.fetch_max(n, SeqCst);
        Counted(f.clone())
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// One request as the mock saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path_and_query: String,
    pub status: u16,
    /// A POST's body (the token request's form is left out: it holds the secret).
    pub body: Option<String>,
}

struct State {
    fixture: Fixture,
    opts: MockOptions,
    creds: Creds,
    base: String,
    tokens: Mutex<Vec<String>>,
    /// The scope each token was issued for.
    token_scopes: Mutex<HashMap<String, String>>,
    /// What the AMQP endpoint saw.
    amqp: amqp::AmqpLog,
    attempts: Mutex<HashMap<String, u32>>,
    log: Mutex<Vec<Seen>>,
    throttle: Option<Arc<Mutex<limits::Throttle>>>,
    /// Tokens issued to the Lighthouse home tenant.
    home_tokens: Mutex<Vec<String>>,
    /// Requests that used a token where it must not go.
    violations: Mutex<Vec<String>>,
    /// Each namespace's region, for the batched metrics read.
    regions: HashMap<String, String>,
}

/// A running mock. Dropping it stops the server.
pub struct Mock {
    pub base: String,
    pub port: u16,
    /// The Event Hubs AMQP endpoint (TLS, `amqps://localhost:<amqp_port>`).
    pub amqp_port: u16,
    pub ca_pem: String,
    pub tenant_id: String,
    state: Arc<State>,
    /// The CA as a file, for clients that read the OS trust store (`SSL_CERT_FILE`): the
    /// Event Hubs AMQP client uses OpenSSL's.
    ca_file: tempfile::NamedTempFile,
    _rt: tokio::runtime::Runtime,
}

impl Mock {
    /// Starts the mock on its own runtime (so synchronous tests and the example can use it).
    pub fn start(tenant: &Path, opts: MockOptions) -> Result<Mock> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let fixture = Fixture::load(tenant)?;
        let tls = match &opts.shared_tls {
            Some(t) => (**t).clone(),
            None => tls::generate()?,
        };
        let mut creds = Creds::generate(opts.canary.clone())?;
        if let Some((id, secret)) = &opts.app {
            creds.client_id = id.clone();
            creds.secret = secret.clone();
        }
        let listener = rt.block_on(tokio::net::TcpListener::bind(("127.0.0.1", opts.port)))?;
        let port = listener.local_addr()?.port();
        let base = format!("https://127.0.0.1:{port}");
        let tenant_id = fixture.tenant_id.clone();
        let regions = batch::namespace_regions(&fixture);
        let state = Arc::new(State {
            regions,
            fixture,
            creds,
            base: base.clone(),
            tokens: Mutex::new(Vec::new()),
            token_scopes: Mutex::new(HashMap::new()),
            home_tokens: Mutex::new(Vec::new()),
            violations: Mutex::new(Vec::new()),
            amqp: amqp::AmqpLog::default(),
            attempts: Mutex::new(HashMap::new()),
            log: Mutex::new(Vec::new()),
            throttle: opts.shared_limits.clone().or_else(|| {
                opts.limits
                    .map(|l| Arc::new(Mutex::new(limits::Throttle::new(l))))
            }),
            opts,
        });
        let acceptor = tokio_rustls::TlsAcceptor::from(tls.server.clone());
        let amqp_listener = rt.block_on(tokio::net::TcpListener::bind(("127.0.0.1", 0)))?;
        let amqp_port = amqp_listener.local_addr()?.port();
        rt.spawn(amqp::serve(amqp_listener, acceptor.clone(), state.clone()));
        let st = state.clone();
        rt.spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let acceptor = acceptor.clone();
                let st = st.clone();
                tokio::spawn(async move {
                    let Ok(Ok(stream)) =
                        tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await
                    else {
                        return;
                    };
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let svc = hyper::service::service_fn(move |req| {
                        let st = st.clone();
                        async move { handle(st, req).await }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, svc)
                        .await;
                });
            }
        });
        let mut ca_file = tempfile::Builder::new()
            .prefix("siemproof-mock-ca")
            .suffix(".pem")
            .tempfile()?;
        std::io::Write::write_all(&mut ca_file, tls.ca_pem.as_bytes())?;
        Ok(Mock {
            ca_file,
            base,
            port,
            amqp_port,
            ca_pem: tls.ca_pem,
            tenant_id,
            state,
            _rt: rt,
        })
    }

    pub fn client_id(&self) -> &str {
        &self.state.creds.client_id
    }
    pub fn secret(&self) -> &str {
        &self.state.creds.secret
    }
    /// The QRadar authorised-service token the mock accepts in `SEC` (derived from the client
    /// secret, so a canary secret makes a canary SIEM token too).
    pub fn siem_token(&self) -> String {
        siem_token_of(&self.state.creds.secret)
    }
    /// The Splunk bearer token the mock accepts (canary-derived like the QRadar one).
    pub fn splunk_token(&self) -> String {
        splunk_token_of(&self.state.creds.secret)
    }
    /// The Elastic API key the mock accepts.
    pub fn elastic_key(&self) -> String {
        elastic_key_of(&self.state.creds.secret)
    }
    pub fn federated_token(&self) -> &str {
        &self.state.creds.federated_token
    }
    pub fn pkcs12(&self) -> &[u8] {
        &self.state.creds.pkcs12
    }
    /// Every request seen so far.
    pub fn requests(&self) -> Vec<Seen> {
        self.state.log.lock().expect("log").clone()
    }
    /// Requests that used a token where it must not go (a Lighthouse home-tenant token outside
    /// ARM's subscription paths).
    pub fn violations(&self) -> Vec<String> {
        self.state.violations.lock().expect("violations").clone()
    }
    /// The tenant segments of the token requests, in order.
    pub fn token_tenants(&self) -> Vec<String> {
        self.requests()
            .iter()
            .filter_map(|r| {
                let p = r.path_and_query.split('?').next()?;
                let segs: Vec<&str> = p.trim_start_matches('/').split('/').collect();
                (segs.len() == 4 && segs[1..] == ["oauth2", "v2.0", "token"])
                    .then(|| segs[0].to_string())
            })
            .collect()
    }
    /// The mock's CA certificate as a PEM file (`SSL_CERT_FILE` for the AMQP client).
    pub fn ca_file(&self) -> &Path {
        self.ca_file.path()
    }
    /// Every link attached to the AMQP endpoint so far.
    pub fn amqp_links(&self) -> Vec<amqp::SeenLink> {
        self.state.amqp.links.lock().expect("links").clone()
    }
    /// Every `$management` request so far: (operation, type, partition).
    pub fn amqp_reads(&self) -> Vec<(String, String, Option<String>)> {
        self.state.amqp.reads.lock().expect("reads").clone()
    }
    /// With `limits`: requests served and refused per bucket, and how many were refused for
    /// coming inside a pending `Retry-After`.
    pub fn throttle_counts(&self) -> Option<LimitCounts> {
        let t = self.state.throttle.as_ref()?.lock().expect("throttle");
        Some(LimitCounts {
            served: t.served.clone(),
            refused: t.refused.clone(),
            early: t.early,
            bound_s: t.bound_s(),
        })
    }
    /// Every access token issued so far.
    pub fn issued_tokens(&self) -> Vec<String> {
        self.state.tokens.lock().expect("tokens").clone()
    }

    /// Writes `siemproof.toml` (the fixture's config, pointed at the mock), the CA file beside
    /// it, and `<config>.env` with the client-secret credential.
    pub fn write_config(&self, path: &Path) -> Result<()> {
        let text = self
            .state
            .fixture
            .config
            .clone()
            .context("the fixture bundle carries no siemproof.toml")?;
        let mut cfg: toml::Table = toml::from_str(&text)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("{}: cannot create", dir.display()))?;
        }
        let ca = path.with_extension("ca.pem");
        std::fs::write(&ca, &self.ca_pem)
            .with_context(|| format!("{}: cannot write", ca.display()))?;
        let ca = std::fs::canonicalize(&ca)?;
        cfg.entry("tenant")
            .or_insert_with(|| toml::Value::Table(Default::default()))
            .as_table_mut()
            .context("tenant is not a table")?
            .insert("cloud".into(), "custom".into());
        let mut ep = toml::Table::new();
        for k in ["authority_host", "arm", "graph", "management_activity"] {
            ep.insert(k.into(), self.base.clone().into());
        }
        ep.insert("eventhub_suffix".into(), "servicebus.windows.net".into());
        ep.insert("blob_suffix".into(), "blob.core.windows.net".into());
        if self.state.opts.getbatch {
            ep.insert(
                "metrics_batch".into(),
                format!("{}/metrics/{{region}}", self.base).into(),
            );
        }
        // The Blob service path-style, as the storage emulator serves it.
        ep.insert("blob".into(), format!("{}/{{account}}", self.base).into());
        ep.insert("ca_bundle".into(), ca.display().to_string().into());
        // The AMQP endpoint by name: TLS verifies `localhost` against the mock's certificate.
        ep.insert(
            "eventhub_amqp".into(),
            format!("amqps://localhost:{}", self.amqp_port).into(),
        );
        cfg.insert("endpoints".into(), toml::Value::Table(ep));
        // Every SIEM target reads the mock too, trusting its CA.
        if let Some(targets) = cfg
            .get_mut("siem")
            .and_then(|s| s.as_table_mut())
            .and_then(|s| s.get_mut("targets"))
            .and_then(|t| t.as_array_mut())
        {
            for t in targets.iter_mut().filter_map(|t| t.as_table_mut()) {
                let kind = t
                    .get("kind")
                    .and_then(|k| k.as_str())
                    .unwrap_or("qradar")
                    .to_string();
                let env = match kind.as_str() {
                    "splunk" => "SPLUNK_TOKEN",
                    "elastic" => "ELASTIC_API_KEY",
                    _ => "QRADAR_TOKEN",
                };
                t.insert("url".into(), self.base.clone().into());
                if kind == "elastic" {
                    t.insert("kibana_url".into(), self.base.clone().into());
                }
                t.insert("ca_bundle".into(), ca.display().to_string().into());
                t.insert("credential_env".into(), env.into());
            }
        }
        std::fs::write(path, toml::to_string(&cfg)?)
            .with_context(|| format!("{}: cannot write", path.display()))?;
        let env = format!(
            "AZURE_TENANT_ID={}\nAZURE_CLIENT_ID={}\nAZURE_CLIENT_SECRET={}\nQRADAR_TOKEN={}\nSPLUNK_TOKEN={}\nELASTIC_API_KEY={}\nSSL_CERT_FILE={}\n",
            self.tenant_id,
            self.client_id(),
            self.secret(),
            self.siem_token(),
            self.splunk_token(),
            self.elastic_key(),
            ca.display()
        );
        std::fs::write(env_path(path), env)?;
        Ok(())
    }
}

/// What the limits did (`Mock::throttle_counts`).
#[derive(Debug, Clone, Default)]
pub struct LimitCounts {
    pub served: std::collections::BTreeMap<String, u64>,
    pub refused: std::collections::BTreeMap<String, u64>,
    pub early: u64,
    /// The rate-limit bound of what was served, in seconds (`Throttle::bound_s`).
    pub bound_s: f64,
}

impl LimitCounts {
    pub fn refused_total(&self) -> u64 {
        self.refused.values().sum()
    }
}

/// `FILE.env` beside `FILE`.
pub fn env_path(config: &Path) -> PathBuf {
    let mut s = config.as_os_str().to_owned();
    s.push(".env");
    PathBuf::from(s)
}

type Resp = Response<Full<Bytes>>;

fn siem_token_of(secret: &str) -> String {
    format!("{secret}-qradar-sec")
}

fn splunk_token_of(secret: &str) -> String {
    format!("{secret}-splunk-token")
}

fn elastic_key_of(secret: &str) -> String {
    format!("{secret}-elastic-key")
}

/// Splunk's REST API: the management port's `/services` and `/servicesNS` (siem-apis.md §2.1).
fn is_splunk(path: &str) -> bool {
    path.starts_with("/services/") || path.starts_with("/servicesNS/")
}

/// Kibana's Fleet API (optionally below a space) and Elasticsearch's data stream stats.
fn is_elastic(path: &str) -> bool {
    path.starts_with("/api/fleet/") || path.starts_with("/s/") || path.starts_with("/_data_stream/")
}

/// The only POSTs a read-only collector may send besides the token request: the documented
/// opt-in searches.
fn is_search_post(path: &str) -> bool {
    path == "/api/ariel/searches" || path == "/services/search/v2/jobs/export"
}

/// QRadar's REST API lives below `/api/` on the console (siem-apis.md §1.1).
fn is_qradar(path: &str) -> bool {
    path.starts_with("/api/config/")
        || path.starts_with("/api/ariel/")
        || path.starts_with("/api/help/")
}

fn respond(status: u16, body: Vec<u8>, headers: &[(String, String)]) -> Resp {
    let mut r = Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", "application/json; charset=utf-8");
    for (k, v) in headers {
        r = r.header(k.as_str(), v.as_str());
    }
    r.body(Full::new(Bytes::from(body)))
        .expect("valid response")
}

fn error_body(code: &str, message: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({"error": {"code": code, "message": message}})).expect("json")
}

/// An error message quoting secrets, as Microsoft's sometimes do (the data-borne canary).
fn leaky_message(message: &str, canary: &str) -> String {
    format!(
        "{message} Endpoint=sb://psiem-namespace.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey={canary}; AccountKey={canary}; header Authorization: Bearer {canary}{canary}; token eyJhbGciOiJub25lIn0.eyJ{canary}.{canary}"
    )
}

/// A paging link carrying secrets in its query (SAS signature, OAuth token).
fn leaky_link(link: &str, canary: &str) -> String {
    let sep = if link.contains('?') { '&' } else { '?' };
    format!("{link}{sep}sig={canary}&access_token={canary}")
}

/// The error a connection reset is made of: hyper closes the connection without a response.
#[derive(Debug)]
struct Reset;
impl std::fmt::Display for Reset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("injected connection reset")
    }
}
impl std::error::Error for Reset {}

async fn handle(st: Arc<State>, req: Request<Incoming>) -> Result<Resp, Reset> {
    let _counted = st.opts.in_flight.as_ref().and_then(|f| {
        let bearer = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))?;
        let issued = st
            .tokens
            .lock()
            .expect("tokens")
            .iter()
            .any(|t| t == bearer);
        issued.then(|| Counted::new(f))
    });
    if st.opts.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(st.opts.latency_ms)).await;
    }
    let method = req.method().as_str().to_string();
    let pq = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let sec = req
        .headers()
        .get("sec")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = http_body_util::BodyExt::collect(req.into_body())
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let out = route(&st, &method, &pq, auth.as_deref(), sec.as_deref(), &body);
    let status = match &out {
        Ok(r) => r.status().as_u16(),
        Err(_) => 0,
    };
    let token_request = pq.ends_with("/oauth2/v2.0/token");
    st.log.lock().expect("log").push(Seen {
        body: (method == "POST" && !token_request)
            .then(|| String::from_utf8_lossy(&body).into_owned()),
        method,
        path_and_query: pq,
        status,
    });
    out
}

fn route(
    st: &State,
    method: &str,
    pq: &str,
    auth: Option<&str>,
    sec: Option<&str>,
    body: &[u8],
) -> Result<Resp, Reset> {
    let path = pq.split('?').next().unwrap_or_default();
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    if segs.len() == 4 && segs[1..] == ["oauth2", "v2.0", "token"] {
        if method != "POST" {
            return Ok(respond(
                405,
                error_body("MethodNotAllowed", "POST only"),
                &[],
            ));
        }
        return Ok(token(st, segs[0], body));
    }
    if path.to_ascii_lowercase().ends_with("/listkeys") {
        // Never called by a read-only collector; planted so a leak would be visible.
        let key = st
            .opts
            .canary
            .clone()
            .unwrap_or_else(|| "mock-sas-key".into());
        return Ok(respond(
            200,
            serde_json::to_vec(&json!({"primaryKey": key, "secondaryKey": key})).expect("json"),
            &[],
        ));
    }
    let batch_post = batch::region_of(path).filter(|_| st.opts.getbatch);
    if method != "GET" && !(method == "POST" && (is_search_post(path) || batch_post.is_some())) {
        return Ok(respond(
            405,
            error_body("MethodNotAllowed", "the mock serves reads only"),
            &[],
        ));
    }
    let bearer = auth
        .and_then(|a| a.strip_prefix("Bearer "))
        .unwrap_or_default();
    if is_qradar(path) {
        // QRadar authenticates with the authorised-service token in `SEC`, never a bearer.
        if sec != Some(siem_token_of(&st.creds.secret).as_str()) || auth.is_some() {
            return Ok(respond(
                401,
                serde_json::to_vec(&json!({
                    "http_response": {"code": 401, "message": "You are unauthorized to access the requested resource."},
                    "code": 10, "description": "", "details": {},
                    "message": "No SEC header present in request. Please provide it via \"SEC: token\"."
                }))
                .expect("json"),
                &[],
            ));
        }
    } else if is_splunk(path) {
        if auth != Some(format!("Bearer {}", splunk_token_of(&st.creds.secret)).as_str()) {
            return Ok(respond(
                401,
                serde_json::to_vec(&json!({"messages": [{"type": "WARN", "text": "call not properly authenticated"}]}))
                    .expect("json"),
                &[],
            ));
        }
    } else if is_elastic(path) {
        if auth != Some(format!("ApiKey {}", elastic_key_of(&st.creds.secret)).as_str()) {
            return Ok(respond(
                401,
                serde_json::to_vec(&json!({"statusCode": 401, "error": "Unauthorized", "message": "[security_exception]: unable to authenticate with provided credentials and anonymous access is not allowed for this request"}))
                    .expect("json"),
                &[],
            ));
        }
    } else if !st
        .tokens
        .lock()
        .expect("tokens")
        .iter()
        .any(|t| t == bearer)
    {
        return Ok(respond(
            401,
            error_body(
                "InvalidAuthenticationToken",
                "The access token is missing or invalid.",
            ),
            &[],
        ));
    }
    // A Lighthouse home-tenant token reads the delegated subscriptions and nothing else.
    let delegated = path.to_ascii_lowercase().starts_with("/subscriptions/");
    if !delegated
        && st
            .home_tokens
            .lock()
            .expect("home")
            .iter()
            .any(|t| t == bearer)
    {
        st.violations
            .lock()
            .expect("violations")
            .push(format!("home-tenant token on {method} {pq}"));
        return Ok(respond(
            401,
            error_body(
                "InvalidAuthenticationToken",
                "The access token is from the wrong issuer (a Lighthouse home-tenant token outside the delegated subscriptions).",
            ),
            &[],
        ));
    }
    if let (Some((region, sub)), "POST") = (batch_post, method) {
        return Ok(batch_answer(st, pq, region, sub, body));
    }
    // Microsoft's read limits, before anything else is decided about the request.
    let quota =
        match st.throttle.as_ref().filter(|_| method == "GET") {
            Some(t) => match t.lock().expect("throttle").admit(
                pq,
                &st.creds.client_id,
                &st.fixture.tenant_id,
            ) {
                limits::Admit::Serve(h) => h,
                limits::Admit::Refuse(status, h, body) => return Ok(respond(status, body, &h)),
            },
            None => Vec::new(),
        };
    let mut out = serve(st, method, pq, path, body)?;
    for (k, v) in quota {
        if let (Ok(k), Ok(v)) = (
            hyper::header::HeaderName::from_bytes(k.as_bytes()),
            hyper::header::HeaderValue::from_str(&v),
        ) {
            out.headers_mut().insert(k, v);
        }
    }
    Ok(out)
}

/// The batched metrics read, with the faults aimed at its kind: 403 without the subscription
/// role, 529 when throttled (the batch API's documented throttled answer).
fn batch_answer(st: &State, pq: &str, region: &str, sub: &str, body: &[u8]) -> Resp {
    let kind = "metrics.eventhub.batch";
    let f = &st.opts.faults;
    if f.forbidden_kinds.iter().any(|k| k == kind) {
        return respond(
            403,
            error_body(
                "AuthorizationFailed",
                "The client does not have authorization to perform action 'Microsoft.Insights/Metrics/Read' over scope '/subscriptions' (mock: no Monitoring Reader on the subscription).",
            ),
            &[],
        );
    }
    let attempt = {
        let mut a = st.attempts.lock().expect("attempts");
        let n = a
            .entry(format!("{pq}#{}", String::from_utf8_lossy(body)))
            .or_insert(0);
        *n += 1;
        *n - 1
    };
    if f.only_kinds.iter().any(|k| k == kind) && attempt < f.throttle {
        return respond(
            529,
            error_body(
                "TooManyRequests",
                "Too many requests (mock batch throttling).",
            ),
            &[],
        );
    }
    let query = pq.split_once('?').map(|(_, q)| q).unwrap_or_default();
    let (status, out) = batch::answer(&st.fixture, &st.regions, region, sub, query, body);
    respond(status, out, &[])
}

/// Answers an authenticated, admitted request from the fixture (with the configured faults).
fn serve(st: &State, method: &str, pq: &str, path: &str, body: &[u8]) -> Result<Resp, Reset> {
    // Splunk's export searches share one URL: the form's `search` selects the answer.
    let key = if path == "/services/search/v2/jobs/export" {
        let form: HashMap<String, String> =
            url::form_urlencoded::parse(body).into_owned().collect();
        format!(
            "{}#{}",
            key_of(pq),
            form.get("search").cloned().unwrap_or_default()
        )
    } else {
        key_of(pq)
    };
    let entry = st.fixture.entries.get(&key).cloned();
    // An Ariel search's status: the fixture's searches have all completed.
    if entry.is_none() && method == "GET" {
        if let Some(id) = path.strip_prefix("/api/ariel/searches/") {
            if !id.contains('/') {
                return Ok(respond(
                    200,
                    serde_json::to_vec(&json!({"search_id": id, "cursor_id": id, "status": "COMPLETED", "progress": 100, "error_messages": []}))
                        .expect("json"),
                    &[],
                ));
            }
        }
    }
    let kind = entry.as_ref().map(|e| e.kind.clone()).unwrap_or_default();
    let f = &st.opts.faults;
    if f.forbidden_kinds.contains(&kind) && kind.starts_with("blob.") {
        // The Blob service's error: XML, with the role-mismatch code a missing data role gives.
        return Ok(respond_xml(
            403,
            storage_error(
                "AuthorizationPermissionMismatch",
                "This request is not authorized to perform this operation using this permission.",
            ),
        ));
    }
    if f.forbidden_kinds.contains(&kind) {
        let m = "The client does not have authorization to perform action over this scope (mock).";
        let m = match &f.data_canary {
            Some(c) => leaky_message(m, c),
            None => m.to_string(),
        };
        return Ok(respond(403, error_body("AuthorizationFailed", &m), &[]));
    }
    let attempt = {
        let mut a = st.attempts.lock().expect("attempts");
        let n = a.entry(pq.to_string()).or_insert(0);
        *n += 1;
        *n - 1
    };
    let faulty = f.only_kinds.is_empty() || f.only_kinds.contains(&kind);
    if faulty {
        let mut gate = 0u32;
        for (n, which) in [
            (f.reset, 0),
            (f.throttle, 1),
            (f.server_error, 2),
            (f.malformed, 3),
        ] {
            if n == 0 {
                continue;
            }
            let hit = attempt.saturating_sub(gate) < n && attempt >= gate;
            gate = gate.saturating_add(n);
            if !hit {
                continue;
            }
            return match which {
                0 => Err(Reset),
                1 => {
                    let ra = f.retry_after.clone().unwrap_or_else(|| "1".into());
                    let h = vec![("Retry-After".to_string(), ra)];
                    if kind.starts_with("o365.") || path.contains("/activity/feed/") {
                        Ok(respond(
                            403,
                            error_body(
                                "AF429",
                                "Too many requests. Method=GetBlob, PublisherId=mock",
                            ),
                            &h,
                        ))
                    } else {
                        Ok(respond(
                            429,
                            error_body("TooManyRequests", "Too many requests (mock throttling)."),
                            &h,
                        ))
                    }
                }
                2 => Ok(respond(
                    503,
                    error_body(
                        "ServiceUnavailable",
                        &match &f.data_canary {
                            Some(c) => leaky_message("mock outage", c),
                            None => "mock outage".into(),
                        },
                    ),
                    &[],
                )),
                _ => Ok(respond(200, b"{\"value\": [{\"id\": ".to_vec(), &[])),
            };
        }
    }
    let Some(entry) = entry else {
        let code = if path.starts_with("/v1.0/") {
            "Request_ResourceNotFound"
        } else {
            "ResourceNotFound"
        };
        return Ok(respond(
            404,
            error_body(code, "not in the mock's fixture tenant"),
            &[],
        ));
    };
    let mut headers: Vec<(String, String)> = entry
        .headers
        .iter()
        // Paging headers as recorded: Management Activity API `NextPageUri`, QRadar `Content-Range`.
        .filter(|(k, _)| {
            k.eq_ignore_ascii_case("NextPageUri") || k.eq_ignore_ascii_case("Content-Range")
        })
        .map(|(k, v)| {
            let r = st.fixture.rewrite(v, &st.base);
            match &f.data_canary {
                Some(c) => (k.clone(), leaky_link(&r, c)),
                None => (k.clone(), r),
            }
        })
        .collect();
    let mut body = entry.body.clone();
    if let Ok(mut v) = serde_json::from_slice::<Value>(&body) {
        let mut changed = false;
        if let Some(o) = v.as_object_mut() {
            for k in ["nextLink", "@odata.nextLink"] {
                if let Some(Value::String(link)) = o.get(k) {
                    let mut r = st.fixture.rewrite(link, &st.base);
                    if let Some(c) = &f.data_canary {
                        r = leaky_link(&r, c);
                    }
                    o.insert(k.into(), Value::String(r));
                    changed = true;
                }
            }
            if f.nextlink_loop && entry.status < 300 {
                let me = format!("{}{pq}", st.base);
                if o.contains_key("value") && path.starts_with("/v1.0/") {
                    o.insert("@odata.nextLink".into(), Value::String(me));
                    changed = true;
                } else if o.contains_key("value") && !path.contains("/activity/feed/") {
                    o.insert("nextLink".into(), Value::String(me));
                    changed = true;
                }
            }
        }
        if f.nextlink_loop && path.contains("/activity/feed/subscriptions/content") {
            headers.retain(|(k, _)| !k.eq_ignore_ascii_case("NextPageUri"));
            headers.push(("NextPageUri".into(), format!("{}{pq}", st.base)));
        }
        if let Some(canary) = &st.opts.canary {
            // Graph returns only the $select-ed properties, so this planted secret comes back
            // only to a request that asks for it, which the collector never does.
            if entry.kind == "graph.applications" && selects(pq, "secretText") {
                if let Some(arr) = v.get_mut("value").and_then(|a| a.as_array_mut()) {
                    for app in arr.iter_mut().filter_map(|a| a.as_object_mut()) {
                        app.insert("secretText".into(), Value::String(canary.clone()));
                        changed = true;
                    }
                }
            }
        }
        if changed {
            body = serde_json::to_vec(&v).expect("json");
        }
        if entry.kind == "siem.splunk.search" && entry.status < 300 {
            body = export_stream(&v);
        }
    }
    if entry.kind.starts_with("blob.") {
        return Ok(respond_xml(entry.status, body));
    }
    Ok(respond(entry.status, body, &headers))
}

/// A Blob service response: XML, with the service's version header.
fn respond_xml(status: u16, body: Vec<u8>) -> Resp {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", "application/xml")
        .header("x-ms-version", "2021-08-06")
        .body(Full::new(Bytes::from(body)))
        .expect("valid response")
}

/// The Blob service's error body (Storage services REST API, "Status and error codes").
pub fn storage_error(code: &str, message: &str) -> Vec<u8> {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>{code}</Code><Message>{message}\nRequestId:6f1c2d3e-501e-0046-2b3c-mock00000000\nTime:2026-11-20T07:59:59.0000000Z</Message></Error>"
    )
    .into_bytes()
}

/// Splunk's export stream as `output_mode=json` sends it: a preview set first (offsets from 0,
/// `preview: true`), then the final rows, one JSON object per line, the last with `lastrow`
/// (splunk-sdk-java's recorded `export-json-preview-stats`).
fn export_stream(doc: &Value) -> Vec<u8> {
    let rows = doc["results"].as_array().cloned().unwrap_or_default();
    let mut out = String::from("\u{feff}");
    if let Some(first) = rows.first() {
        out.push_str(
            &json!({"preview": true, "offset": 0, "lastrow": true, "result": first}).to_string(),
        );
        out.push('\n');
    }
    for (i, r) in rows.iter().enumerate() {
        let mut line = json!({"preview": false, "offset": i, "result": r});
        if i + 1 == rows.len() {
            line["lastrow"] = Value::Bool(true);
        }
        out.push_str(&line.to_string());
        out.push('\n');
    }
    if rows.is_empty() {
        out.push_str("{\"preview\":false,\"lastrow\":true}\n");
    }
    out.into_bytes()
}

/// Whether the request's `$select` (absent: Graph's defaults, which we treat as "everything")
/// names a property.
fn selects(pq: &str, prop: &str) -> bool {
    let Ok(u) = url::Url::parse(&format!("https://mock{pq}")) else {
        return true;
    };
    match u.query_pairs().find(|(k, _)| k == "$select") {
        None => true,
        Some((_, v)) => v.split(',').any(|p| p.trim().eq_ignore_ascii_case(prop)),
    }
}

fn token(st: &State, tenant: &str, body: &[u8]) -> Resp {
    let form: HashMap<String, String> = url::form_urlencoded::parse(body).into_owned().collect();
    let deny = |code: u32, desc: &str| {
        respond(
            401,
            serde_json::to_vec(&json!({
                "error": "invalid_client",
                "error_description": format!("AADSTS{code}: {desc}"),
                "error_codes": [code],
            }))
            .expect("json"),
            &[],
        )
    };
    let home = st
        .opts
        .lighthouse_home
        .as_deref()
        .is_some_and(|h| tenant.eq_ignore_ascii_case(h));
    if !tenant.eq_ignore_ascii_case(&st.fixture.tenant_id) && !home {
        return deny(90002, "Tenant not found (mock).");
    }
    if form.get("grant_type").map(String::as_str) != Some("client_credentials")
        || form.get("client_id") != Some(&st.creds.client_id)
    {
        return deny(700016, "Application not found in the directory (mock).");
    }
    let ok = if let Some(s) = form.get("client_secret") {
        *s == st.creds.secret
    } else if let Some(a) = form.get("client_assertion") {
        *a == st.creds.federated_token || st.creds.verify_assertion(a)
    } else {
        false
    };
    if !ok {
        return deny(
            7000215,
            "Invalid client secret or assertion provided (mock).",
        );
    }
    let token: String = (0..48)
        .map(|_| format!("{:x}", fastrand::u8(0..16)))
        .collect();
    let token = format!("mock-token-{token}");
    st.tokens.lock().expect("tokens").push(token.clone());
    if home {
        st.home_tokens.lock().expect("home").push(token.clone());
    }
    st.token_scopes.lock().expect("scopes").insert(
        token.clone(),
        form.get("scope").cloned().unwrap_or_default(),
    );
    respond(
        200,
        serde_json::to_vec(&json!({
            "token_type": "Bearer",
            "expires_in": 3599,
            "ext_expires_in": 3599,
            "access_token": token,
        }))
        .expect("json"),
        &[],
    )
}
