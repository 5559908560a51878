//! The collector's only HTTP client, read-only by construction.
//!
//! Every request, including the token requests azure_identity makes through
//! [`crate::collect::auth`], passes [`guard`]: GET is the only method allowed, except a POST to
//! the authority's `/{tenant}/oauth2/v2.0/token` endpoint and, for a SIEM client whose target
//! opted in (`event_counts = true`), a POST to exactly its documented search endpoint; a URL
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

    /// Sends one request through the guard. `bearer` is attached only for cloud API origins.
    pub async fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(String, String)],
        body: Option<Vec<u8>>,
        bearer: Option<&str>,
    ) -> Result<Response, SendError> {
        let search_post = method.eq_ignore_ascii_case("POST")
            && !self.search_posts.is_empty()
            && self.search_posts.contains(&post_key(url));
        // An admitted search POST still passes the guard's write-action rules (as a read).
        let as_method = if search_post { "GET" } else { method };
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
            if !self.token_origins.contains(&origin) {
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

    #[test]
    fn logged_urls_hide_unknown_query_values() {
        let u = redact_url("https://x.blob.core.windows.net/c?sv=2020&sig=SECRET&api-version=2024-01-01&$skiptoken=abc");
        assert!(!u.contains("SECRET") && !u.contains("abc"), "{u}");
        assert!(u.contains("api-version=2024-01-01"), "{u}");
    }
}
