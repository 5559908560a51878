//! The read-only SIEM collector: every configured `[[siem]]` target, GET only, through the same
//! guarded client as the Microsoft planes.
//!
//! Each target runs on its own deadline, next to (not before or after) the Microsoft
//! collection, so a SIEM that is slow or down never stalls it. Its credential is read from the
//! named variable or file once, sent only to its own origin, and appears in no record. Secret
//! protocol parameters that a SIEM returns are removed before anything is written (the manifest
//! item says how many). Every request becomes a [`Record`] exactly like a Microsoft one:
//! failures included, so "not authorised" stays distinct from "not configured".

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Utc;
use serde_json::Value;

use super::config::{SiemTarget, QRADAR_DEFAULT_VERSION};
use crate::collect::http::{Http, SendError};
use crate::collect::paging::Record;
use crate::evidence::kinds::{self, Kind};
use crate::evidence::ItemError;

/// QRadar protocol names (ids differ per install, so they are resolved by name).
pub const QRADAR_PROTOCOLS: &[&str] = &[
    "Microsoft Azure Event Hubs",
    "Office 365 REST API",
    "Microsoft Graph Security API",
];

/// QRadar DSM (log source type) names; "Microsoft Entra ID" in case a newer DSM renames it.
pub const QRADAR_DSMS: &[&str] = &[
    "Microsoft Azure Active Directory",
    "Microsoft Entra ID",
    "Microsoft Azure Platform",
    "Microsoft Office 365",
    "Microsoft 365 Defender",
    "Microsoft Azure Security Center",
];

/// Items per QRadar page (`Range: items=a-b`).
const QRADAR_PAGE: u64 = 200;
/// The most pages one listing may take before it is recorded as cut short.
pub(crate) const MAX_PAGES: u64 = 500;

/// How the SIEM collection runs.
#[derive(Debug, Clone, Copy)]
pub struct SiemOptions {
    pub request_timeout: Duration,
    /// Retries of transient faults (resets, 5xx, 429, a body that is not JSON), as for Microsoft.
    pub retry: crate::collect::retry::RetryPolicy,
    /// Deadline for one target, all its requests included.
    pub deadline: Duration,
    pub verbose: bool,
    /// The freshness window the opt-in searches count over, in hours.
    pub window_hours: u32,
}

/// The credential of a target, read once; never printed (its `Debug` hides it).
pub(crate) struct Credential(pub(crate) String);

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credential(..)")
    }
}

fn read_credential(t: &SiemTarget) -> Result<Credential, String> {
    let value = match (&t.credential_env, &t.credential_file) {
        (Some(name), _) => std::env::var(name)
            .map_err(|_| format!("environment variable {name} (siem credential_env) is not set"))?,
        // Bounded like every input file; the error names the file, never its content.
        (None, Some(path)) => crate::files::read_text_bounded(path)
            .map_err(|_| format!("{}: cannot read the SIEM credential", path.display()))?,
        (None, None) => return Err("no credential_env or credential_file".into()),
    };
    let value = value.trim().to_string();
    if value.is_empty() {
        return Err("the SIEM credential is empty".into());
    }
    Ok(Credential(value))
}

/// Collects every target, concurrently, each within its own deadline.
pub async fn collect(targets: &[SiemTarget], opts: SiemOptions) -> Vec<Record> {
    let mut set = tokio::task::JoinSet::new();
    for (i, t) in targets.iter().cloned().enumerate() {
        set.spawn(async move {
            let label = t.label();
            let records = match tokio::time::timeout(opts.deadline, collect_target(&t, opts)).await {
                Ok(records) => records,
                Err(_) => vec![failure(
                    first_kind(&t.kind),
                    &label,
                    &t.url,
                    None,
                    "SiemDeadline",
                    &format!(
                        "the {} API did not finish within {} s; the Microsoft collection went on without it",
                        t.kind,
                        opts.deadline.as_secs()
                    ),
                )],
            };
            (i, records)
        });
    }
    let mut done = Vec::new();
    while let Some(r) = set.join_next().await {
        if let Ok(r) = r {
            done.push(r);
        }
    }
    // Targets in config order, so bundles are reproducible.
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().flat_map(|(_, r)| r).collect()
}

fn first_kind(siem: &str) -> &'static Kind {
    kinds::KINDS
        .iter()
        .find(|k| k.name.starts_with(&format!("siem.{siem}.")))
        .expect("every SIEM kind has table entries")
}

/// The kinds a target is read through (its opt-in searches only when it opted in).
fn kinds_of(t: &SiemTarget) -> Vec<&'static Kind> {
    kinds::KINDS
        .iter()
        .filter(|k| k.name.starts_with(&format!("siem.{}.", t.kind)))
        .filter(|k| t.event_counts || !is_opt_in(k.name))
        .collect()
}

/// Kinds read only with `event_counts = true`.
pub fn is_opt_in(name: &str) -> bool {
    kinds::SEARCH_POSTS.contains(&name) || name == "siem.qradar.ariel_results"
}

fn plane_of(siem: &str) -> &'static str {
    match siem {
        "qradar" => "siem/qradar",
        "splunk" => "siem/splunk",
        _ => "siem/elastic",
    }
}

pub(crate) fn failure(
    kind: &'static Kind,
    scope: &str,
    url: &str,
    status: Option<u16>,
    code: &str,
    message: &str,
) -> Record {
    Record {
        kind: kind.name,
        plane: plane_of(kind.name.split('.').nth(1).unwrap_or("qradar")),
        scope: Some(scope.to_string()),
        page: 0,
        paged: kind.paging != kinds::Paging::None,
        url: url.to_string(),
        fetched_at: Utc::now(),
        status,
        body: None,
        error: Some(ItemError {
            code: code.into(),
            message: message.into(),
        }),
        headers: BTreeMap::new(),
        request_body: None,
    }
}

async fn collect_target(t: &SiemTarget, opts: SiemOptions) -> Vec<Record> {
    let label = t.label();
    let credential = match read_credential(t) {
        Ok(c) => c,
        Err(why) => {
            return kinds_of(t)
                .into_iter()
                .map(|k| failure(k, &label, &t.url, None, "CredentialMissing", &why))
                .collect()
        }
    };
    let ca = match &t.ca_bundle {
        Some(p) => match std::fs::read(p) {
            Ok(b) => Some(b),
            Err(e) => {
                let why = format!(
                    "{}: cannot read the SIEM CA bundle: {}",
                    p.display(),
                    e.kind()
                );
                return kinds_of(t)
                    .into_iter()
                    .map(|k| failure(k, &label, &t.url, None, "CaBundle", &why))
                    .collect();
            }
        },
        None => None,
    };
    let client = |base: &str, posts: Vec<String>| {
        Http::for_siem(
            &crate::cloud::origin(base),
            ca.as_deref(),
            opts.request_timeout,
            opts.verbose,
        )
        .map(|h| h.allow_search_posts(posts))
    };
    let setup_failed = |e: anyhow::Error| {
        let why = format!("{e:#}");
        kinds_of(t)
            .into_iter()
            .map(|k| failure(k, &label, &t.url, None, "ClientSetup", &why))
            .collect::<Vec<_>>()
    };
    // A POST is admitted only to the documented search endpoint, and only when opted in.
    let search_url = |path: &str| {
        if t.event_counts {
            vec![format!("{}{}", t.url.trim_end_matches('/'), path)]
        } else {
            vec![]
        }
    };
    match t.kind.as_str() {
        "qradar" => match client(&t.url, search_url("/api/ariel/searches")) {
            Ok(http) => qradar(t, &http, &credential, opts).await,
            Err(e) => setup_failed(e),
        },
        "splunk" => match client(&t.url, search_url("/services/search/v2/jobs/export")) {
            Ok(http) => super::splunk::collect(t, &http, &credential, opts).await,
            Err(e) => setup_failed(e),
        },
        _ => {
            let kibana = t.kibana_url.clone().unwrap_or_else(|| t.url.clone());
            match (client(&t.url, vec![]), client(&kibana, vec![])) {
                (Ok(es), Ok(kb)) => super::elastic::collect(t, &es, &kb, &credential, opts).await,
                (Err(e), _) | (_, Err(e)) => setup_failed(e),
            }
        }
    }
}

/// A URL below `base` from a kind's template, with placeholders filled and percent-encoded.
pub(crate) fn url_for(base: &str, kind: &Kind, vars: &[(&str, String)]) -> String {
    let (path, query) = kind.url.split_once('?').unwrap_or((kind.url, ""));
    let mut u = match url::Url::parse(base.trim_end_matches('/')) {
        Ok(u) => u,
        Err(_) => return format!("{base}{path}"),
    };
    let joined = format!("{}{}", u.path().trim_end_matches('/'), path);
    u.set_path(&joined);
    let pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let mut v = v.to_string();
            for (name, value) in vars {
                v = v.replace(&format!("{{{name}}}"), value);
            }
            (k.to_string(), v)
        })
        .collect();
    u.set_query(None);
    if !pairs.is_empty() {
        u.query_pairs_mut().extend_pairs(pairs);
    }
    u.to_string()
}

/// QRadar's error body: `{"code": 1010, "message": "…", "description": "…", "http_response": …}`.
fn qradar_error(status: u16, body: &[u8]) -> ItemError {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let code = v
        .get("code")
        .map(|c| {
            format!(
                "QRadar{}",
                c.as_i64()
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| c.to_string())
            )
        })
        .unwrap_or_else(|| format!("HTTP{status}"));
    let message = v
        .get("message")
        .or_else(|| v.get("description"))
        .and_then(|m| m.as_str())
        .unwrap_or("no error message in the response")
        .to_string();
    // A message is prose, not a URL: it goes through the one redaction of evidence text.
    ItemError {
        code,
        message: crate::redact::text(&message).into_owned(),
    }
}

/// Parameter names whose values are secrets (SAS connection strings, client secrets,
/// certificate passwords); their values are removed before a body is written.
pub(crate) fn is_secret_parameter(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "secret",
        "password",
        "connection",
        "sharedaccess",
        "token",
        "certificate",
        "key",
    ]
    .iter()
    .any(|w| n.contains(w))
        && !n.ends_with("keyname")
        && !n.contains("id")
}

/// Removes secret protocol parameter values from a log source listing; returns how many.
fn scrub_log_sources(v: &mut Value) -> usize {
    let mut n = 0;
    for src in v.as_array_mut().into_iter().flatten() {
        for p in src
            .get_mut("protocol_parameters")
            .and_then(|p| p.as_array_mut())
            .into_iter()
            .flatten()
        {
            let secret = p
                .get("name")
                .and_then(|x| x.as_str())
                .is_some_and(is_secret_parameter);
            if secret {
                if let Some(o) = p.as_object_mut() {
                    if o.get("value").is_some_and(|x| !x.is_null()) {
                        o.insert(
                            "value".into(),
                            Value::String("[removed by siemproof: secret]".into()),
                        );
                        n += 1;
                    }
                }
            }
        }
    }
    n
}

/// Reads one QRadar listing, page by page with `Range`, within the target's deadline.
async fn qradar_list(
    t: &SiemTarget,
    http: &Http,
    cred: &Credential,
    kind: &'static Kind,
    url: &str,
    opts: SiemOptions,
) -> Vec<Record> {
    let label = t.label();
    let version = t
        .version
        .clone()
        .unwrap_or_else(|| QRADAR_DEFAULT_VERSION.into());
    let mut out = Vec::new();
    let mut start = 0u64;
    for page in 0..MAX_PAGES {
        let range = format!("items={}-{}", start, start + QRADAR_PAGE - 1);
        let headers = vec![
            ("SEC".to_string(), cred.0.clone()),
            ("Version".to_string(), version.clone()),
            ("Accept".to_string(), "application/json".to_string()),
            ("Range".to_string(), range),
        ];
        let resp = send_retrying(http, "GET", url, &headers, None, opts).await;
        let mut rec = record(kind, &label, url, page as u32);
        let Some(r) = answered(&mut rec, resp, qradar_error) else {
            out.push(rec);
            break;
        };
        let content_range = r
            .headers
            .get("content-range")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        if let Some(cr) = &content_range {
            rec.headers.insert("Content-Range".into(), cr.clone());
        }
        match serde_json::from_slice::<Value>(&r.body) {
            Ok(mut v) if v.is_array() => {
                if kind.name == "siem.qradar.log_sources" {
                    let removed = scrub_log_sources(&mut v);
                    if removed > 0 {
                        rec.headers.insert(
                            "siemproof-removed".into(),
                            format!("{removed} secret protocol parameter value(s)"),
                        );
                    }
                }
                rec.body = Some(serde_json::to_vec_pretty(&v).unwrap_or_default());
            }
            _ => malformed(
                &mut rec,
                "the SIEM answered 2xx with a body that is not a JSON list",
            ),
        }
        let more = rec.error.is_none()
            && content_range
                .as_deref()
                .and_then(crate::evidence::content_range)
                .is_some_and(|(_, last, total)| last + 1 < total);
        out.push(rec);
        if !more {
            break;
        }
        start += QRADAR_PAGE;
    }
    out
}

/// Sends one request, retrying transient faults (resets, 5xx, 429, a 2xx body that is not
/// JSON when `json` is set) as the Microsoft planes do: the server's `Retry-After` when it
/// names one (bounded by the target's deadline, which wraps every request of a target), else
/// jittered backoff.
pub(crate) async fn send_retrying(
    http: &Http,
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: Option<Vec<u8>>,
    opts: SiemOptions,
) -> Result<crate::collect::http::Response, SendError> {
    let mut attempt = 0u32;
    loop {
        let r = http.send(method, url, headers, body.clone(), None).await;
        let transient = match &r {
            Err(SendError::Transport { .. }) => true,
            Ok(x) if x.status == 429 || x.status >= 500 => true,
            Ok(x) if (200..300).contains(&x.status) => {
                serde_json::from_slice::<Value>(&x.body).is_err() && !looks_like_json_lines(&x.body)
            }
            _ => false,
        };
        if !transient || attempt >= opts.retry.max_retries {
            return r;
        }
        let wait = r
            .as_ref()
            .ok()
            .and_then(|x| x.headers.get("retry-after"))
            .and_then(|v| v.to_str().ok())
            .and_then(|v| crate::collect::retry::parse_retry_after(v, Utc::now()))
            .unwrap_or_else(|| opts.retry.backoff(attempt));
        attempt += 1;
        tokio::time::sleep(wait).await;
    }
}

/// A body made of JSON lines (Splunk's export stream), each line a JSON object.
pub(crate) fn looks_like_json_lines(body: &[u8]) -> bool {
    let body = body.strip_prefix("\u{feff}".as_bytes()).unwrap_or(body);
    let text = String::from_utf8_lossy(body);
    let mut lines = text.lines().filter(|l| !l.trim().is_empty()).peekable();
    lines.peek().is_some()
        && lines.all(|l| serde_json::from_str::<Value>(l).is_ok_and(|v| v.is_object()))
}

/// A transport failure as a record's error.
pub(crate) fn transport_error(e: &SendError) -> ItemError {
    let code = match e {
        SendError::Transport { timeout: true, .. } => "Timeout",
        SendError::Refused(_) => "Refused",
        _ => "Transport",
    };
    ItemError {
        code: code.into(),
        message: e.to_string(),
    }
}

/// Files a request's outcome into `rec`: a transport failure, or a non-2xx answer read through
/// the SIEM's own error shape, becomes its error; a 2xx answer is returned for its body.
pub(crate) fn answered(
    rec: &mut Record,
    resp: Result<crate::collect::http::Response, SendError>,
    error: fn(u16, &[u8]) -> ItemError,
) -> Option<crate::collect::http::Response> {
    match resp {
        Err(e) => {
            rec.error = Some(transport_error(&e));
            None
        }
        Ok(r) => {
            rec.status = Some(r.status);
            if (200..300).contains(&r.status) {
                Some(r)
            } else {
                rec.error = Some(error(r.status, &r.body));
                None
            }
        }
    }
}

/// Marks `rec` as a 2xx answer whose body is not the documented shape.
pub(crate) fn malformed(rec: &mut Record, message: &str) {
    rec.error = Some(ItemError {
        code: "MalformedJson".into(),
        message: message.into(),
    });
}

/// A record for one request of a SIEM kind, to be filled with its outcome.
pub(crate) fn record(kind: &'static Kind, scope: &str, url: &str, page: u32) -> Record {
    Record {
        kind: kind.name,
        plane: plane_of(kind.name.split('.').nth(1).unwrap_or("qradar")),
        scope: Some(scope.to_string()),
        page,
        paged: kind.paging != kinds::Paging::None,
        url: url.to_string(),
        fetched_at: Utc::now(),
        status: None,
        body: None,
        error: None,
        headers: BTreeMap::new(),
        request_body: None,
    }
}

fn quoted_list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("\"{}\"", n.replace('"', "")))
        .collect::<Vec<_>>()
        .join(",")
}

fn ids_of(records: &[Record], kind: &str) -> Vec<i64> {
    records
        .iter()
        .filter(|r| r.kind == kind)
        .filter_map(|r| r.json())
        .flat_map(|v| v.as_array().cloned().unwrap_or_default())
        .filter_map(|x| x.get("id").and_then(|i| i.as_i64()))
        .collect()
}

async fn qradar(t: &SiemTarget, http: &Http, cred: &Credential, opts: SiemOptions) -> Vec<Record> {
    let k = |name: &str| kinds::kind(name).expect("QRadar kinds are in the table");
    let protocols_kind = k("siem.qradar.protocol_types");
    let types_kind = k("siem.qradar.log_source_types");
    let sources_kind = k("siem.qradar.log_sources");
    let collectors_kind = k("siem.qradar.event_collectors");
    let protocols_url = url_for(
        &t.url,
        protocols_kind,
        &[(
            "protocol_filter",
            format!("name in ({})", quoted_list(QRADAR_PROTOCOLS)),
        )],
    );
    let types_url = url_for(
        &t.url,
        types_kind,
        &[(
            "type_filter",
            format!("name in ({})", quoted_list(QRADAR_DSMS)),
        )],
    );
    let mut out = qradar_list(t, http, cred, protocols_kind, &protocols_url, opts).await;
    out.extend(qradar_list(t, http, cred, types_kind, &types_url, opts).await);
    let protocol_ids = ids_of(&out, protocols_kind.name);
    let type_ids = ids_of(&out, types_kind.name);
    let join = |ids: &[i64]| ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    let filter = match (protocol_ids.is_empty(), type_ids.is_empty()) {
        (true, true) => None,
        (false, true) => Some(format!("protocol_type_id in ({})", join(&protocol_ids))),
        (true, false) => Some(format!("type_id in ({})", join(&type_ids))),
        (false, false) => Some(format!(
            "protocol_type_id in ({}) or type_id in ({})",
            join(&protocol_ids),
            join(&type_ids)
        )),
    };
    match filter {
        Some(f) => {
            let url = url_for(&t.url, sources_kind, &[("source_filter", f)]);
            out.extend(qradar_list(t, http, cred, sources_kind, &url, opts).await);
        }
        // Both listings read and empty: the console has no Microsoft protocol or DSM, so it
        // can have no Microsoft log source and there is nothing to ask for (the normaliser
        // takes the inputs as none).
        None if out.iter().all(|r| r.error.is_none()) => {}
        None => out.push(failure(
            sources_kind,
            &t.label(),
            &t.url,
            None,
            "Skipped",
            "not read: the Microsoft protocol and DSM ids could not be resolved",
        )),
    }
    let collectors_url = url_for(&t.url, collectors_kind, &[]);
    out.extend(qradar_list(t, http, cred, collectors_kind, &collectors_url, opts).await);
    if t.event_counts {
        let sources = ids_of(&out, sources_kind.name);
        out.extend(ariel(t, http, cred, &sources, opts).await);
    }
    out
}

/// The opt-in Ariel query: events, unparsed events and the newest event per Microsoft log
/// source over the freshness window (siem-apis.md §1.5 [Q5][Q20]).
pub fn ariel_query(source_ids: &[i64], hours: u32) -> String {
    let ids = source_ids
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    format!(
        "SELECT logsourceid, isunparsed, COUNT(*) AS events, MAX(starttime) AS last FROM events WHERE logsourceid IN ({ids}) GROUP BY logsourceid, isunparsed LAST {hours} HOURS"
    )
}

/// Most polls of one Ariel search's status (one a second, inside the target's deadline).
const ARIEL_POLLS: u32 = 120;

/// Runs the Ariel search: POST it, poll its status until `COMPLETED`, read its rows. The
/// search is recorded (with its AQL) as `siem.qradar.ariel_search`, its rows as
/// `siem.qradar.ariel_results`; a search that fails or never completes is a failed
/// `ariel_results` record, so nothing counts as "no events".
async fn ariel(
    t: &SiemTarget,
    http: &Http,
    cred: &Credential,
    sources: &[i64],
    opts: SiemOptions,
) -> Vec<Record> {
    let search_kind = kinds::kind("siem.qradar.ariel_search").expect("in the table");
    let results_kind = kinds::kind("siem.qradar.ariel_results").expect("in the table");
    let label = t.label();
    if sources.is_empty() {
        return vec![];
    }
    let aql = ariel_query(sources, opts.window_hours);
    let url = url_for(&t.url, search_kind, &[("aql", aql.clone())]);
    let version = t
        .version
        .clone()
        .unwrap_or_else(|| QRADAR_DEFAULT_VERSION.into());
    let headers = vec![
        ("SEC".to_string(), cred.0.clone()),
        ("Version".to_string(), version),
        ("Accept".to_string(), "application/json".to_string()),
    ];
    let mut rec = record(search_kind, &label, &url, 0);
    rec.headers.insert("siemproof-aql".into(), aql);
    let fail = |code: &str, message: String| {
        let mut r = record(results_kind, &label, &url, 0);
        r.error = Some(ItemError {
            code: code.into(),
            message,
        });
        r
    };
    let resp = send_retrying(http, "POST", &url, &headers, None, opts).await;
    let Some(r) = answered(&mut rec, resp, qradar_error) else {
        return vec![rec];
    };
    let created: Option<Value> = serde_json::from_slice(&r.body).ok();
    rec.body = Some(r.body);
    let Some(id) = created
        .as_ref()
        .and_then(|v| v.get("search_id"))
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .map(str::to_string)
    else {
        rec.error = Some(ItemError {
            code: "MalformedJson".into(),
            message: "the Ariel search answer has no usable search_id".into(),
        });
        return vec![rec];
    };
    let base = t.url.trim_end_matches('/');
    let status_url = format!("{base}/api/ariel/searches/{id}");
    let mut status = created
        .as_ref()
        .and_then(|v| v.get("status"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let mut polls = 0;
    while status != "COMPLETED" && polls < ARIEL_POLLS {
        if matches!(status.as_str(), "CANCELED" | "ERROR") {
            break;
        }
        polls += 1;
        tokio::time::sleep(Duration::from_millis(if polls == 1 { 200 } else { 1000 })).await;
        match send_retrying(http, "GET", &status_url, &headers, None, opts).await {
            Ok(r) if (200..300).contains(&r.status) => {
                status = serde_json::from_slice::<Value>(&r.body)
                    .ok()
                    .and_then(|v| v.get("status").and_then(Value::as_str).map(str::to_string))
                    .unwrap_or_default();
            }
            // 404 with code 1003: "still in progress" [Q5].
            Ok(r) if r.status == 404 => {}
            Ok(r) => {
                return vec![
                    rec,
                    fail(
                        &qradar_error(r.status, &r.body).code,
                        "the Ariel search's status could not be read".into(),
                    ),
                ]
            }
            Err(e) => return vec![rec, fail("Transport", e.to_string())],
        }
    }
    rec.headers
        .insert("siemproof-final-status".into(), status.clone());
    if status != "COMPLETED" {
        return vec![
            rec,
            fail(
                "ArielIncomplete",
                format!(
                    "the Ariel search ended as {status:?} (not COMPLETED) after {polls} poll(s)"
                ),
            ),
        ];
    }
    let results_url = format!("{base}/api/ariel/searches/{id}/results");
    let mut res = record(results_kind, &label, &results_url, 0);
    let resp = send_retrying(http, "GET", &results_url, &headers, None, opts).await;
    if let Some(r) = answered(&mut res, resp, qradar_error) {
        match serde_json::from_slice::<Value>(&r.body) {
            Ok(v) if v.get("events").is_some_and(Value::is_array) => res.body = Some(r.body),
            _ => malformed(&mut res, "the Ariel results have no `events` list"),
        }
    }
    vec![rec, res]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_built_below_the_base_and_encoded() {
        let k = kinds::kind("siem.qradar.protocol_types").unwrap();
        let u = url_for(
            "https://qradar.example/",
            k,
            &[(
                "protocol_filter",
                "name in (\"Office 365 REST API\")".into(),
            )],
        );
        assert!(u.starts_with(
            "https://qradar.example/api/config/event_sources/log_source_management/protocol_types?"
        ));
        assert!(
            u.contains("filter=name+in+%28%22Office+365+REST+API%22%29"),
            "{u}"
        );
    }

    #[test]
    fn secret_parameters_are_removed() {
        let mut v = serde_json::json!([{"protocol_parameters": [
            {"id": 1, "name": "eventHubConnectionString", "value": "Endpoint=sb://x/;SharedAccessKey=abc"},
            {"id": 2, "name": "consumerGroup", "value": "qradar-cg"},
            {"id": 3, "name": "clientSecret", "value": "s3cr3t"},
            {"id": 4, "name": "tenantId", "value": "t"}
        ]}]);
        assert_eq!(scrub_log_sources(&mut v), 2);
        let s = v.to_string();
        assert!(!s.contains("abc") && !s.contains("s3cr3t") && s.contains("qradar-cg"));
    }
}
