//! Paging: ARM `nextLink`, Graph `@odata.nextLink` and the Management Activity API's
//! `NextPageUri` header, followed verbatim, one bundle file per page.
//!
//! A chain stops with an error record (never silently) when a link comes back a second time
//! (`NextLinkLoop`), when the page limit is reached (`PageLimit`), or when a link points to
//! another host than the request (`ForeignNextLink`: a bearer token never leaves the cloud's
//! own endpoints).

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::fetch::{send, Ctx, Outcome};
use super::http::redact_url;
use crate::evidence::kinds::{Kind, Paging};
use crate::evidence::ItemError;

/// One page (or one failure) of one request chain, ready for the manifest.
#[derive(Debug)]
pub struct Record {
    pub kind: &'static str,
    pub plane: &'static str,
    pub scope: Option<String>,
    pub page: u32,
    /// Whether the kind pages (the manifest then carries the page number).
    pub paged: bool,
    pub url: String,
    pub fetched_at: DateTime<Utc>,
    pub status: Option<u16>,
    pub body: Option<Vec<u8>>,
    pub error: Option<ItemError>,
    pub headers: BTreeMap<String, String>,
    /// The JSON body a POST read sent (a batched metrics read's resource ids), kept as evidence
    /// of what was asked.
    pub request_body: Option<String>,
}

impl Record {
    /// The parsed body of a successful page.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(self.body.as_ref()?).ok()
    }
}

/// Response headers kept as evidence: paging and request ids, never auth headers.
const KEPT_HEADERS: &[&str] = &["nextpageuri", "x-ms-request-id", "request-id"];

/// The next link of a page, if any.
pub fn next_link(
    paging: Paging,
    body: &Value,
    headers: &reqwest::header::HeaderMap,
) -> Option<String> {
    // QRadar's Range paging is driven by the SIEM collector (`crate::siem::collect`).
    paging.next_link(body, |name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    })
}

/// Fetches a chain of pages starting at `url`.
#[allow(clippy::too_many_arguments)]
pub async fn fetch_chain(
    ctx: &Ctx,
    kind: &'static Kind,
    scope: Option<String>,
    url: String,
    token_scope: &str,
    page_limit: u32,
    publisher: Option<&str>,
    post_body: Option<&str>,
) -> Vec<Record> {
    let audience = kind.audience.unwrap_or("arm");
    let audit_log = kind.url.starts_with("/auditLogs/");
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut next = Some(url);
    let mut page = 0u32;
    while let Some(url) = next.take() {
        let here = page;
        let record = |status, body, error, headers| Record {
            kind: kind.name,
            plane: kind.plane.as_str(),
            scope: scope.clone(),
            page: here,
            paged: kind.paging != Paging::None,
            url: url.clone(),
            fetched_at: Utc::now(),
            status,
            body,
            error,
            headers,
            request_body: post_body.map(str::to_string),
        };
        if !seen.insert(url.clone()) {
            out.push(record(
                None,
                None,
                Some(ItemError {
                    code: "NextLinkLoop".into(),
                    message: format!(
                        "the server returned {} again as the next page; paging stopped after {page} pages",
                        redact_url(&url)
                    ),
                }),
                BTreeMap::new(),
            ));
            break;
        }
        if page >= page_limit {
            out.push(record(
                None,
                None,
                Some(ItemError {
                    code: "PageLimit".into(),
                    message: format!(
                        "stopped after {page_limit} pages (--page-limit); the list is incomplete"
                    ),
                }),
                BTreeMap::new(),
            ));
            break;
        }
        let xml = kind.paging == Paging::NextMarker;
        let body = post_body.map(str::as_bytes);
        match send(ctx, audience, token_scope, &url, body, audit_log, xml).await {
            Outcome::Ok {
                status,
                headers,
                body,
            } => {
                let link = if kind.paging == Paging::NextMarker {
                    next_marker(&body).map(|m| with_marker(&url, &m))
                } else {
                    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    next_link(kind.paging, &json, &headers)
                };
                let kept = headers
                    .iter()
                    .filter(|(k, _)| KEPT_HEADERS.contains(&k.as_str()))
                    .filter_map(|(k, v)| {
                        let name = if k.as_str() == "nextpageuri" {
                            "NextPageUri".to_string()
                        } else {
                            k.as_str().to_string()
                        };
                        Some((name, v.to_str().ok()?.to_string()))
                    })
                    .collect();
                out.push(record(Some(status), Some(body), None, kept));
                if let Some(link) = link {
                    let link = with_publisher(&link, publisher);
                    if crate::cloud::origin(&link) != crate::cloud::origin(&url) {
                        let mut r = record(
                            None,
                            None,
                            Some(ItemError {
                                code: "ForeignNextLink".into(),
                                message: format!(
                                    "next page link {} is not on the requested host; not followed",
                                    redact_url(&link)
                                ),
                            }),
                            BTreeMap::new(),
                        );
                        r.page = here + 1;
                        out.push(r);
                        break;
                    }
                    next = Some(link);
                    page += 1;
                }
            }
            Outcome::Failed { status, error } => {
                out.push(record(status, None, Some(error), BTreeMap::new()));
            }
        }
    }
    out
}

/// The Blob service's continuation: a non-empty `<NextMarker>` of an `<EnumerationResults>`.
pub fn next_marker(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let doc = roxmltree::Document::parse(text).ok()?;
    let m = doc
        .root_element()
        .children()
        .find(|n| n.has_tag_name("NextMarker"))?
        .text()?
        .trim()
        .to_string();
    (!m.is_empty()).then_some(m)
}

/// `url` with its `marker` query parameter set to `marker` (replacing any previous one).
fn with_marker(url: &str, marker: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            let kept: Vec<(String, String)> = u
                .query_pairs()
                .filter(|(k, _)| k != "marker")
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            u.query_pairs_mut()
                .clear()
                .extend_pairs(kept)
                .append_pair("marker", marker);
            u.to_string()
        }
        Err(_) => url.to_string(),
    }
}

/// The Management Activity API wants `PublisherIdentifier` on every request, next pages too.
fn with_publisher(link: &str, publisher: Option<&str>) -> String {
    let Some(p) = publisher else {
        return link.to_string();
    };
    match url::Url::parse(link) {
        Ok(mut u) => {
            if !u
                .query_pairs()
                .any(|(k, _)| k.eq_ignore_ascii_case("PublisherIdentifier"))
            {
                u.query_pairs_mut().append_pair("PublisherIdentifier", p);
            }
            u.to_string()
        }
        Err(_) => link.to_string(),
    }
}
