//! The collector's only HTTP client, read-only by construction.
//!
//! Every request, including the token requests azure_identity makes through
//! [`crate::collect::auth`], passes [`guard`]: GET is the only method allowed, except a POST to
//! the authority's `/{tenant}/oauth2/v2.0/token` endpoint and, for a SIEM client whose target
//! opted in (`event_counts = true`), a POST to exactly its documented search endpoint, and
//! Azure Monitor's batched metrics read in exactly its documented shape
//! ([`metrics_batch_post`]); a URL
//! naming `listKeys` or `subscriptions/start` is refused whatever the method. Bearer tokens are attached only for
//! hosts of the configured cloud. TLS is rustls with the webpki roots plus an optional extra CA
//! (`--ca-bundle`). `--verbose` prints one line per request: method, URL with query values
//! redacted except for known harmless parameters, status and milliseconds.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use reqwest::header::HeaderMap;
use thiserror::Error;

/// Why the guard refused a request.
#[derive(Debug, Error, PartialEq)]
pub enum Refused {
    #[error("refusing {method} {url}: the collector only reads (GET), except the token request")]
    Method { method: String, url: String },
    #[error("refusing {url}: it names a write action (listKeys or subscriptions/start)")]
    WriteAction { url: String },
}

/// Checks that a request is a read. `token_endpoint` is the only URL prefix a POST may go to.
pub fn guard(method: &str, url: &str, authority_host: &str) -> Result<(), Refused> {
    let lower = url.to_ascii_lowercase();
    if lower.contains("listkeys") || lower.contains("subscriptions/start") {
        return Err(Refused::WriteAction {
            url: redact_url(url),
        });
    }
    if method.eq_ignore_ascii_case("GET") {
        return Ok(());
    }
    if method.eq_ignore_ascii_case("POST") && is_token_endpoint(url, authority_host) {
        return Ok(());
    }
    Err(Refused::Method {
        method: method.to_string(),
        url: redact_url(url),
    })
}

/// A URL's origin and path, without query or fragment: what an admitted search POST must match.
fn post_key(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => format!(
            "{}{}",
            u.origin().ascii_serialization(),
            u.path().trim_end_matches('/')
        ),
        Err(_) => String::from("\0unparsable"),
    }
}

/// The only api-version the batched metrics read is sent with (the kinds table's).
const METRICS_BATCH_API: &str = "2023-10-01";

/// Most resource ids one `metrics:getBatch` call may name (migrate-to-batch-api.md).
pub const METRICS_BATCH_MAX: usize = 50;

/// Whether a POST is Azure Monitor's batched metrics read and nothing else: the URL is the
/// cloud's metrics host `template` with a region (`[a-z0-9]{1,40}`) followed by exactly
/// `/subscriptions/<guid>/metrics:getBatch`, with `api-version=2023-10-01` once; the body is an
/// object whose only key is `resourceids`, 1 to 50 resource ids, all in that subscription.
pub fn metrics_batch_post(template: &str, url: &str, body: &[u8]) -> bool {
    let Some((before, after)) = template.split_once("{region}") else {
        return false;
    };
    let Ok(u) = url::Url::parse(url) else {
        return false;
    };
    if u.fragment().is_some() || !u.username().is_empty() || u.password().is_some() {
        return false;
    }
    let bare = format!("{}{}", u.origin().ascii_serialization(), u.path());
    let Some(rest) = bare.strip_prefix(before) else {
        return false;
    };
    let Some(end) = rest.find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit())) else {
        return false;
    };
    let (region, rest) = rest.split_at(end);
    if region.is_empty() || region.len() > 40 {
        return false;
    }
    let Some(rest) = rest.strip_prefix(after) else {
        return false;
    };
    let segs: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
    let sub_ok = segs.len() == 3
        && rest.starts_with('/')
        && segs[0] == "subscriptions"
        && segs[2] == "metrics:getBatch"
        && uuid::Uuid::try_parse(segs[1]).is_ok();
    if !sub_ok {
        return false;
    }
    let versions: Vec<String> = u
        .query_pairs()
        .filter(|(k, _)| k == "api-version")
        .map(|(_, v)| v.into_owned())
        .collect();
    if versions != [METRICS_BATCH_API] {
        return false;
    }
    let Ok(serde_json::Value::Object(o)) = serde_json::from_slice::<serde_json::Value>(body) else {
        return false;
    };
    let Some(serde_json::Value::Array(ids)) = o.get("resourceids") else {
        return false;
    };
    let under = format!("/subscriptions/{}/", segs[1].to_ascii_lowercase());
    o.len() == 1
        && (1..=METRICS_BATCH_MAX).contains(&ids.len())
        && ids.iter().all(|id| {
            id.as_str().is_some_and(|id| {
                id.to_ascii_lowercase().starts_with(&under)
                    && !id.split('/').any(|s| s == ".." || s == ".")
            })
        })
}

/// `https://<authority>/<tenant>/oauth2/v2.0/token`, nothing else.
fn is_token_endpoint(url: &str, authority_host: &str) -> bool {
    let (Ok(u), Ok(a)) = (url::Url::parse(url), url::Url::parse(authority_host)) else {
        return false;
    };
    let segs: Vec<&str> = u.path().trim_start_matches('/').split('/').collect();
    u.origin() == a.origin()
        && u.query().is_none()
        && segs.len() == 4
        && segs[1..] == ["oauth2", "v2.0", "token"]
}

/// Query parameters whose values are shown in logs; everything else is redacted.
const SHOWN_QUERY: &[&str] = &[
    "api-version",
    "$filter",
    "$select",
    "$top",
    "contenttype",
    "publisheridentifier",
    "starttime",
    "endtime",
    "timespan",
    "metricnames",
    "aggregation",
    "interval",
    "metricnamespace",
    "filter",
    "top",
];

/// A URL safe to print: values of unknown query parameters (SAS signatures, skip tokens,
/// anything a proxy might add) become `REDACTED`; user info is dropped.
pub fn redact_url(url: &str) -> String {
    let Ok(mut u) = url::Url::parse(url) else {
        return url.split('?').next().unwrap_or_default().to_string();
    };
    let _ = u.set_username("");
    let _ = u.set_password(None);
    let pairs: Vec<(String, String)> = u
        .query_pairs()
        .map(|(k, v)| {
            let shown = SHOWN_QUERY.contains(&k.to_ascii_lowercase().as_str());
            (
                k.into_owned(),
                if shown {
                    v.into_owned()
                } else {
                    "REDACTED".into()
                },
            )
        })
        .collect();
    if pairs.is_empty() {
        u.set_query(None);
    } else {
        u.query_pairs_mut().clear().extend_pairs(pairs);
    }
    u.to_string()
}

/// A response as the collector keeps it.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// The guarded client.
#[derive(Debug, Clone)]
pub struct Http {
    client: reqwest::Client,
    authority_host: String,
    /// Origins a bearer token may be sent to (ARM, Graph, Management Activity API).
    token_origins: Vec<String>,
    /// For a SIEM's client: the one origin its credential header may be sent to.
    credential_origin: Option<String>,
    /// For a SIEM's client with opt-in searches: the exact URLs (origin and path, any query)
    /// a POST may go to. Empty otherwise, so the guard admits only GET.
    search_posts: Vec<String>,
    /// The cloud's metrics host template (`{region}`): a batched metrics read in its exact
    /// shape may be POSTed there, with a bearer token.
    metrics_batch: Option<String>,
    verbose: bool,
}

impl Http {
    /// Builds the client. `ca_pem` is an extra CA certificate (PEM) to trust.
    pub fn new(
        authority_host: &str,
        token_origins: Vec<String>,
        ca_pem: Option<&[u8]>,
        request_timeout: Duration,
        verbose: bool,
    ) -> Result<Http> {
        let mut b = reqwest::Client::builder()
            .use_rustls_tls()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10).min(request_timeout))
            .timeout(request_timeout)
            .user_agent(concat!("siemproof/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .context("--ca-bundle: not a PEM certificate bundle")?;
            if certs.is_empty() {
                bail!("--ca-bundle: no certificate in the file");
            }
            for c in certs {
                b = b.add_root_certificate(c);
            }
        }
        Ok(Http {
            client: b.build().context("cannot build the HTTP client")?,
            authority_host: authority_host.to_string(),
            token_origins,
            credential_origin: None,
            search_posts: vec![],
            metrics_batch: None,
            verbose,
        })
    }

    /// A client for one SIEM API: its credential header (`SEC`, `Authorization`) goes to
    /// `origin` and nowhere else; every other rule of the guard holds.
    pub fn for_siem(
        origin: &str,
        ca_pem: Option<&[u8]>,
        request_timeout: Duration,
        verbose: bool,
    ) -> Result<Http> {
        let mut h = Http::new(
            "https://login.invalid",
            vec![],
            ca_pem,
            request_timeout,
            verbose,
        )?;
        h.credential_origin = Some(origin.to_string());
        Ok(h)
    }

    /// Admits a POST to exactly these URLs (origin and path; the query may vary): the SIEM's
    /// documented search endpoints, when the target opted in with `event_counts = true`.
    pub fn allow_search_posts(mut self, urls: Vec<String>) -> Http {
        self.search_posts = urls.iter().map(|u| post_key(u)).collect();
        self
    }

    /// Admits Azure Monitor's batched metrics read ([`metrics_batch_post`]) at the cloud's
    /// metrics host `template`.
    pub fn allow_metrics_batch(mut self, template: Option<String>) -> Http {
        self.metrics_batch = template;
        self
    }

    /// Sends one request through the guard. `bearer` is attached only for cloud API origins.
    pub async fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(String, String)],
        body: Option<Vec<u8>>,
        bearer: Option<&str>,
    ) -> Result<Response, SendError> {
        let post = method.eq_ignore_ascii_case("POST");
        let search_post =
            post && !self.search_posts.is_empty() && self.search_posts.contains(&post_key(url));
        let batch_post = post
            && self
                .metrics_batch
                .as_deref()
                .is_some_and(|t| metrics_batch_post(t, url, body.as_deref().unwrap_or_default()));
        // An admitted read POST still passes the guard's write-action rules (as a read).
        let as_method = if search_post || batch_post {
            "GET"
        } else {
            method
        };
        guard(as_method, url, &self.authority_host).map_err(SendError::Refused)?;
        if !url.starts_with("https://") && !is_local_identity_endpoint(url) {
            return Err(SendError::Insecure(redact_url(url)));
        }
        let m = reqwest::Method::from_bytes(method.as_bytes()).map_err(|_| {
            SendError::Refused(Refused::Method {
                method: method.into(),
                url: redact_url(url),
            })
        })?;
        let mut rb = self.client.request(m, url);
        for (k, v) in headers {
            let credential =
                k.eq_ignore_ascii_case("authorization") || k.eq_ignore_ascii_case("sec");
            if credential {
                // Only a SIEM client sends a credential header, and only to its own SIEM.
                match &self.credential_origin {
                    Some(o) if *o == crate::cloud::origin(url) => {}
                    Some(_) => return Err(SendError::ForeignHost(redact_url(url))),
                    None => continue,
                }
            }
            let mut value =
                reqwest::header::HeaderValue::from_str(v).map_err(|_| SendError::Transport {
                    timeout: false,
                    message: format!("header {k} has a value HTTP cannot carry"),
                })?;
            value.set_sensitive(credential);
            rb = rb.header(k.as_str(), value);
        }
        if let Some(token) = bearer {
            if !url.starts_with("https://") {
                return Err(SendError::Insecure(redact_url(url)));
            }
            let origin = crate::cloud::origin(url);
            if !batch_post && !self.token_origins.contains(&origin) {
                return Err(SendError::ForeignHost(redact_url(url)));
            }
            rb = rb.bearer_auth(token);
        }
        if let Some(b) = body {
            rb = rb.body(b);
        }
        let started = Instant::now();
        let result = async {
            let resp = rb.send().await?;
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            let body = resp.bytes().await?.to_vec();
            Ok::<_, reqwest::Error>(Response {
                status,
                headers,
                body,
            })
        }
        .await;
        if self.verbose {
            let ms = started.elapsed().as_millis();
            match &result {
                Ok(r) => eprintln!("{method} {} {} {ms}ms", redact_url(url), r.status),
                Err(e) => eprintln!(
                    "{method} {} failed ({}) {ms}ms",
                    redact_url(url),
                    kind_of(e)
                ),
            }
        }
        result.map_err(|e| SendError::Transport {
            timeout: e.is_timeout(),
            message: kind_of(&e),
        })
    }
}

/// Plain HTTP is allowed only to the managed identity endpoints, which are host-local by design
/// (IMDS at 169.254.169.254, App Service / Arc on loopback), and never with a bearer token.
fn is_local_identity_endpoint(url: &str) -> bool {
    let Ok(u) = url::Url::parse(url) else {
        return false;
    };
    u.scheme() == "http"
        && matches!(
            u.host_str(),
            Some("169.254.169.254" | "localhost" | "127.0.0.1" | "[::1]")
        )
}

/// A short description of a transport error without the URL (which reqwest would include).
fn kind_of(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "response body interrupted"
    } else if e.is_request() {
        "request failed (connection reset or closed)"
    } else {
        "transport error"
    };
    let mut src = std::error::Error::source(e);
    let mut detail = String::new();
    while let Some(s) = src {
        detail = s.to_string();
        src = s.source();
    }
    if detail.is_empty() {
        what.to_string()
    } else {
        format!("{what}: {detail}")
    }
}

#[derive(Debug, Error)]
pub enum SendError {
    #[error(transparent)]
    Refused(Refused),
    #[error("refusing to send a token to {0}: not an endpoint of the configured cloud")]
    ForeignHost(String),
    #[error("refusing plain HTTP to {0}: only the managed identity endpoint may use it")]
    Insecure(String),
    #[error("{message}")]
    Transport { timeout: bool, message: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    const AUTH: &str = "https://login.microsoftonline.com";

    #[test]
    fn only_reads_and_the_token_request_pass() {
        assert!(guard("GET", "https://management.azure.com/subscriptions/x", AUTH).is_ok());
        assert!(guard(
            "POST",
            "https://login.microsoftonline.com/tid/oauth2/v2.0/token",
            AUTH
        )
        .is_ok());
        for (m, u) in [
            ("POST", "https://management.azure.com/subscriptions/x"),
            ("PUT", "https://management.azure.com/subscriptions/x"),
            ("DELETE", "https://graph.microsoft.com/v1.0/applications/x"),
            ("PATCH", "https://graph.microsoft.com/v1.0/applications/x"),
            ("POST", "https://evil.example/tid/oauth2/v2.0/token"),
            (
                "POST",
                "https://login.microsoftonline.com/tid/oauth2/v2.0/token/x",
            ),
        ] {
            assert!(
                matches!(guard(m, u, AUTH), Err(Refused::Method { .. })),
                "{m} {u}"
            );
        }
        for u in [
            "https://management.azure.com/x/authorizationRules/r/listKeys?api-version=1",
            "https://management.azure.com/x/authorizationRules/r/LISTKEYS",
            "https://manage.office.com/api/v1.0/t/activity/feed/subscriptions/start?contentType=Audit.General",
        ] {
            assert!(matches!(guard("GET", u, AUTH), Err(Refused::WriteAction { .. })), "{u}");
        }
    }

    const SUB: &str = "6a1b2c3d-0000-4000-8000-000000000001";

    fn batch_url(rest: &str) -> String {
        format!("https://westeurope.metrics.monitor.azure.com/subscriptions/{SUB}/metrics:getBatch{rest}")
    }

    fn ids(n: usize, sub: &str) -> Vec<u8> {
        let ids: Vec<String> = (0..n)
            .map(|i| format!("/subscriptions/{sub}/resourceGroups/rg/providers/Microsoft.EventHub/namespaces/ns{i}"))
            .collect();
        serde_json::to_vec(&serde_json::json!({ "resourceids": ids })).unwrap()
    }

    #[test]
    fn only_the_documented_metrics_batch_post_is_admitted() {
        let t = crate::cloud::PUBLIC_METRICS_BATCH;
        let q = "?metricnamespace=microsoft.eventhub/namespaces&metricnames=IncomingMessages&api-version=2023-10-01";
        assert!(metrics_batch_post(t, &batch_url(q), &ids(1, SUB)));
        assert!(metrics_batch_post(t, &batch_url(q), &ids(50, SUB)));
        let other = "6a1b2c3d-0000-4000-8000-000000000002";
        let refused: Vec<(String, Vec<u8>)> = vec![
            // Another host, or one the region hides another host in.
            (
                format!("https://evil.example/subscriptions/{SUB}/metrics:getBatch{q}"),
                ids(1, SUB),
            ),
            (
                format!("https://westeurope.evil.example.metrics.monitor.azure.com/subscriptions/{SUB}/metrics:getBatch{q}"),
                ids(1, SUB),
            ),
            (
                format!("http://westeurope.metrics.monitor.azure.com/subscriptions/{SUB}/metrics:getBatch{q}"),
                ids(1, SUB),
            ),
            (batch_url(q).replace("getBatch", "getBatchX"), ids(1, SUB)),
            (
                batch_url(q).replace("/metrics:getBatch", "/resourceGroups/rg/metrics:getBatch"),
                ids(1, SUB),
            ),
            (batch_url(q).replace(SUB, "not-a-guid"), ids(1, SUB)),
            (batch_url("?metricnames=IncomingMessages"), ids(1, SUB)),
            (batch_url("?api-version=2024-02-01"), ids(1, SUB)),
            (
                batch_url("?api-version=2023-10-01&api-version=2023-10-01"),
                ids(1, SUB),
            ),
            (batch_url(q), ids(0, SUB)),
            (batch_url(q), ids(51, SUB)),
            (batch_url(q), ids(2, other)),
            (batch_url(q), b"resourceids=x".to_vec()),
            (
                batch_url(q),
                serde_json::to_vec(&serde_json::json!({"resourceids": [format!("/subscriptions/{SUB}/x")], "extra": 1})).unwrap(),
            ),
            (
                batch_url(q),
                serde_json::to_vec(&serde_json::json!({"resourceids": [format!("/subscriptions/{SUB}/../{other}/x")]})).unwrap(),
            ),
            (
                batch_url(q),
                serde_json::to_vec(&serde_json::json!({"resourceids": [1]})).unwrap(),
            ),
        ];
        for (u, b) in &refused {
            assert!(
                !metrics_batch_post(t, u, b),
                "{u} {}",
                String::from_utf8_lossy(b)
            );
        }
        // A mock's path-style template works the same way.
        let local = "https://127.0.0.1:8443/metrics/{region}";
        let u = format!(
            "https://127.0.0.1:8443/metrics/westeurope/subscriptions/{SUB}/metrics:getBatch{q}"
        );
        assert!(metrics_batch_post(local, &u, &ids(3, SUB)));
        assert!(!metrics_batch_post(
            local,
            &u.replace("/metrics/westeurope", "/metrics/West-Europe"),
            &ids(3, SUB)
        ));
    }

    #[tokio::test]
    async fn a_batch_post_goes_only_where_the_guard_admits_it() {
        let http = Http::new(AUTH, vec![], None, Duration::from_secs(1), false)
            .unwrap()
            .allow_metrics_batch(Some(crate::cloud::PUBLIC_METRICS_BATCH.into()));
        // Not the documented shape: refused before anything is sent.
        let bad = http
            .send(
                "POST",
                &batch_url("?api-version=2023-10-01"),
                &[],
                Some(ids(51, SUB)),
                Some("t"),
            )
            .await;
        assert!(
            matches!(bad, Err(SendError::Refused(Refused::Method { .. }))),
            "{bad:?}"
        );
        // listKeys stays refused, whatever the body.
        let lk = http
            .send(
                "POST",
                &batch_url("?api-version=2023-10-01").replace("metrics:getBatch", "listKeys"),
                &[],
                Some(ids(1, SUB)),
                Some("t"),
            )
            .await;
        assert!(
            matches!(lk, Err(SendError::Refused(Refused::WriteAction { .. }))),
            "{lk:?}"
        );
        // A client without the template admits no POST at all.
        let plain = Http::new(AUTH, vec![], None, Duration::from_secs(1), false).unwrap();
        let r = plain
            .send(
                "POST",
                &batch_url("?api-version=2023-10-01"),
                &[],
                Some(ids(1, SUB)),
                Some("t"),
            )
            .await;
        assert!(
            matches!(r, Err(SendError::Refused(Refused::Method { .. }))),
            "{r:?}"
        );
    }

    #[test]
    fn logged_urls_hide_unknown_query_values() {
        let u = redact_url("https://x.blob.core.windows.net/c?sv=2020&sig=SECRET&api-version=2024-01-01&$skiptoken=abc");
        assert!(!u.contains("SECRET") && !u.contains("abc"), "{u}");
        assert!(u.contains("api-version=2024-01-01"), "{u}");
    }
}
