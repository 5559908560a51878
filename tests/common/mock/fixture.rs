//! Serving a fixture tenant generically from its manifest: every item's `source.url` (path plus
//! the query parameters that select data) maps to its raw body, or to its recorded error.
//!
//! Ignored when matching: the host (real Microsoft hosts become the mock), `api-version`,
//! `$select`/`$top`, the time window parameters (`timespan`, `startTime`, `endTime`), which
//! change with the clock, the metric selection, and `PublisherIdentifier`. Everything else (`$filter`, `contentType`,
//! paging tokens) selects.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use anyhow::{Context, Result};
use serde_json::Value;

/// What the mock answers for one request key.
#[derive(Debug, Clone)]
pub struct Entry {
    pub kind: String,
    pub status: u16,
    pub body: Vec<u8>,
    /// `NextPageUri` and the like, as recorded.
    pub headers: Vec<(String, String)>,
}

pub struct Fixture {
    pub entries: HashMap<String, Entry>,
    /// Origins of the recorded URLs (rewritten to the mock in links).
    pub origins: BTreeSet<String>,
    /// The config that travels in the bundle.
    pub config: Option<String>,
    pub tenant_id: String,
}

const IGNORED: &[&str] = &[
    // Planted by the data-borne canary fault (Faults::data_canary) into paging links.
    "sig",
    "access_token",
    "api-version",
    "$select",
    "$top",
    "timespan",
    "starttime",
    "endtime",
    "publisheridentifier",
    "metricnames",
    "aggregation",
    "interval",
];

/// The request key of a URL (absolute, or a path with query).
pub fn key_of(url: &str) -> String {
    let parsed = if url.starts_with('/') {
        url::Url::parse(&format!("https://mock{url}"))
    } else {
        url::Url::parse(url)
    };
    let Ok(u) = parsed else {
        return url.to_ascii_lowercase();
    };
    // One metrics request per namespace: its `$filter` (dimension split) and `top` (how many
    // hub series, at most) do not select which body answers it.
    let metrics = u
        .path()
        .to_ascii_lowercase()
        .ends_with("/microsoft.insights/metrics");
    let mut q: Vec<(String, String)> = u
        .query_pairs()
        .filter(|(k, _)| !IGNORED.contains(&k.to_ascii_lowercase().as_str()))
        .filter(|(k, _)| !(metrics && (k == "$filter" || k == "top")))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_ascii_lowercase()))
        .collect();
    q.sort();
    let path = u.path().trim_end_matches('/').to_ascii_lowercase();
    let q: Vec<String> = q.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{path}?{}", q.join("&"))
}

impl Fixture {
    pub fn load(dir: &Path) -> Result<Fixture> {
        let mpath = dir.join("manifest.json");
        let text =
            std::fs::read_to_string(&mpath).with_context(|| format!("{}", mpath.display()))?;
        let m: Value =
            serde_json::from_str(&text).with_context(|| format!("{}", mpath.display()))?;
        let mut entries = HashMap::new();
        let mut origins = BTreeSet::new();
        let mut config = None;
        for item in m["items"].as_array().context("manifest without items")? {
            let kind = item["kind"].as_str().unwrap_or_default().to_string();
            if kind == "config" {
                if let Some(p) = item["path"].as_str() {
                    config = Some(std::fs::read_to_string(dir.join(p))?);
                }
                continue;
            }
            let Some(url) = item["source"]["url"].as_str() else {
                continue;
            };
            // Links are rewritten per HTTP origin (an AMQP address has an opaque origin).
            if let Some(u) = url::Url::parse(url)
                .ok()
                .filter(|u| u.scheme().starts_with("http"))
            {
                origins.insert(u.origin().ascii_serialization());
            }
            let status = item["status"].as_u64().unwrap_or(200) as u16;
            let body = match item["path"].as_str() {
                Some(p) => {
                    std::fs::read(dir.join(p)).with_context(|| format!("{}/{p}", dir.display()))?
                }
                None => {
                    let code = item["error"]["code"].as_str().unwrap_or("Error");
                    let message = item["error"]["message"].as_str().unwrap_or("");
                    if kind.starts_with("blob.") {
                        super::storage_error(code, message)
                    } else {
                        match code
                            .strip_prefix("QRadar")
                            .and_then(|n| n.parse::<u64>().ok())
                        {
                            // QRadar's error shape (REST API reference, "Error responses").
                            Some(n) => serde_json::to_vec(&serde_json::json!({
                                "http_response": {"code": status, "message": "Forbidden"},
                                "code": n, "message": message, "description": "", "details": {}
                            }))?,
                            None => serde_json::to_vec(
                                &serde_json::json!({"error": {"code": code, "message": message}}),
                            )?,
                        }
                    }
                }
            };
            let status = if item["path"].is_null() && status < 400 {
                // A failure recorded without a status (a transport error): serve a 500.
                500
            } else {
                status
            };
            let headers = item["headers"]
                .as_object()
                .map(|h| {
                    h.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                        .collect()
                })
                .unwrap_or_default();
            // Splunk's export searches share one URL; the recorded SPL tells them apart.
            let key = match item["headers"]["siemproof-search"].as_str() {
                Some(spl) => format!("{}#{spl}", key_of(url)),
                // The mock serves the Blob service path-style (`/<account>/<container>`), as the
                // storage emulator does; the bundle records the account's own host.
                None if kind.starts_with("blob.") => match url::Url::parse(url) {
                    Ok(u) => {
                        let account = u
                            .host_str()
                            .unwrap_or_default()
                            .split('.')
                            .next()
                            .unwrap_or_default();
                        key_of(&format!(
                            "/{account}{}?{}",
                            u.path(),
                            u.query().unwrap_or_default()
                        ))
                    }
                    Err(_) => key_of(url),
                },
                None => key_of(url),
            };
            entries.insert(
                key,
                Entry {
                    kind,
                    status,
                    body,
                    headers,
                },
            );
        }
        Ok(Fixture {
            entries,
            origins,
            config,
            tenant_id: m["tenant_id"].as_str().unwrap_or_default().to_string(),
        })
    }

    /// Rewrites a link from a recorded host to the mock.
    pub fn rewrite(&self, s: &str, base: &str) -> String {
        let mut out = s.to_string();
        for o in &self.origins {
            out = out.replace(o.as_str(), base);
        }
        out
    }
}
