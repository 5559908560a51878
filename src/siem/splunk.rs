//! Splunk: the Microsoft Cloud Services Event Hub inputs and the Office 365 add-on's
//! Management Activity inputs, read through the REST API (`output_mode=json`, `count=0`).
//!
//! Inputs and their accounts / tenants are listings (`entry[]`, `paging.total`); the secret
//! fields a handler returns (`client_secret`, tokens, keys) are removed before anything is
//! written. Splunk keeps no health or last-event time on an input, so without the opt-in
//! searches an input's health and freshness are unknown; with `event_counts = true` three
//! export searches (one `tstats`, one per Office 365 workload, one over `_internal` errors)
//! answer them. An Event Hub event's `source` is `eventhub://<fqdn>/<hub>;` with optional
//! `partition_id=N;consumer_group=<cg>;` (siem-apis.md §2.2 [S4]), so the searches also show
//! which hub and consumer group really delivered.

use std::collections::HashMap;

use chrono::{TimeZone, Utc};
use serde_json::{json, Value};

use super::collect::{
    answered, failure, is_secret_parameter, looks_like_json_lines, malformed, record,
    send_retrying, url_for, Credential, SiemOptions, MAX_PAGES,
};
use super::config::SiemTarget;
use super::model::{Binding, Delivery, SiemInput, SiemProduct};
use crate::collect::http::Http;
use crate::collect::paging::Record;
use crate::evidence::kinds::{self, Kind};
use crate::evidence::{EvidenceStatus, ItemError};
use crate::normalize::raw::{self, s};
use crate::normalize::Input;

/// The Microsoft Cloud Services add-on (Event Hub inputs).
pub const MSCS_APP: &str = "Splunk_TA_microsoft-cloudservices";
/// The Office 365 add-on (Management Activity inputs).
pub const O365_APP: &str = "splunk_ta_o365";
/// Add-ons reported as products (the Defender one has no documented inputs: version only).
const PRODUCT_APPS: &[&str] = &[MSCS_APP, O365_APP, "Splunk_TA_MS_Security"];

const LISTS: &[(&str, &str)] = &[
    ("siem.splunk.eventhub_inputs", MSCS_APP),
    ("siem.splunk.azure_accounts", MSCS_APP),
    ("siem.splunk.o365_inputs", O365_APP),
    ("siem.splunk.o365_tenants", O365_APP),
];

/// The kinds a Splunk target's inputs are read from (the state of `siem.inputs`).
pub const INPUT_KINDS: &[&str] = &[
    "siem.splunk.apps",
    "siem.splunk.eventhub_inputs",
    "siem.splunk.azure_accounts",
    "siem.splunk.o365_inputs",
    "siem.splunk.o365_tenants",
];

/// The opt-in searches, by the scope suffix their record carries.
pub const SEARCHES: &[(&str, &str)] = &[
    (
        "tstats",
        "| tstats latest(_time) as last count where index=* (sourcetype=mscs:azure:eventhub* OR sourcetype=azure:monitor:* OR sourcetype=o365:* OR sourcetype=ms365:defender:*) by index sourcetype source",
    ),
    (
        "o365_workloads",
        "search index=* sourcetype=o365:management:activity | eval Workload=if(like(Operation, \"Dlp%\"), \"DLP\", Workload) | stats latest(_time) as last count by Workload",
    ),
    (
        "input_logs",
        "search index=_internal (source=*mscs_azure_event_hub* OR source=*splunk_ta_o365*) | stats count as count count(eval(log_level=\"ERROR\")) as errors latest(_time) as last by source",
    ),
];

/// Splunk's error body: `{"messages": [{"type": "ERROR", "text": "…"}]}`.
fn splunk_error(status: u16, body: &[u8]) -> ItemError {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let text = raw::arr(&v, &["messages"])
        .iter()
        .filter_map(|m| s(m, &["text"]))
        .collect::<Vec<_>>()
        .join("; ");
    ItemError {
        code: format!("HTTP{status}"),
        message: if text.is_empty() {
            "no error message in the response".into()
        } else {
            crate::redact::text(&text).into_owned()
        },
    }
}

/// Removes secret values from every entry's `content`; returns how many.
fn scrub_entries(v: &mut Value) -> usize {
    let mut n = 0;
    for e in v
        .get_mut("entry")
        .and_then(|e| e.as_array_mut())
        .into_iter()
        .flatten()
    {
        let Some(c) = e.get_mut("content").and_then(|c| c.as_object_mut()) else {
            continue;
        };
        for (k, val) in c.iter_mut() {
            let empty = val.is_null() || val.as_str().is_some_and(|x| x.is_empty());
            if is_secret_parameter(k) && !empty {
                *val = Value::String("[removed by siemproof: secret]".into());
                n += 1;
            }
        }
    }
    n
}

fn headers(cred: &Credential) -> Vec<(String, String)> {
    vec![
        ("Authorization".into(), format!("Bearer {}", cred.0)),
        ("Accept".into(), "application/json".into()),
    ]
}

/// One listing, following `offset` while `paging.total` says more entries exist.
async fn list(
    t: &SiemTarget,
    http: &Http,
    cred: &Credential,
    kind: &'static Kind,
    opts: SiemOptions,
) -> Vec<Record> {
    let label = t.label();
    let base_url = url_for(&t.url, kind, &[]);
    let mut out = Vec::new();
    let mut offset = 0i64;
    for page in 0..MAX_PAGES as u32 {
        let url = if offset == 0 {
            base_url.clone()
        } else {
            format!("{base_url}&offset={offset}")
        };
        let mut rec = record(kind, &label, &url, page);
        let resp = send_retrying(http, "GET", &url, &headers(cred), None, opts).await;
        if let Some(r) = answered(&mut rec, resp, splunk_error) {
            match serde_json::from_slice::<Value>(&r.body) {
                Ok(mut v) if v.get("entry").is_some_and(Value::is_array) => {
                    let removed = scrub_entries(&mut v);
                    if removed > 0 {
                        rec.headers.insert(
                            "siemproof-removed".into(),
                            format!("{removed} secret field value(s)"),
                        );
                    }
                    let total = raw::i(&v, &["paging", "total"]);
                    let got = v["entry"].as_array().map(Vec::len).unwrap_or(0) as i64;
                    rec.body = Some(serde_json::to_vec_pretty(&v).unwrap_or_default());
                    out.push(rec);
                    match total {
                        Some(total) if got > 0 && offset + got < total => {
                            offset += got;
                            continue;
                        }
                        _ => break,
                    }
                }
                _ => malformed(
                    &mut rec,
                    "Splunk answered 2xx with a body that is not a JSON feed with `entry`",
                ),
            }
        }
        out.push(rec);
        break;
    }
    out
}

/// Splunk's export stream (`output_mode=json`) as one JSON document: its result rows under
/// `results` and its messages under `messages`. The stream is one JSON object per line
/// (`{"preview":false,"offset":0,"result":{…}}`); a single document with `results` is kept as is.
pub fn transcode_export(body: &[u8]) -> Option<Value> {
    let body = body.strip_prefix("\u{feff}".as_bytes()).unwrap_or(body);
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        if v.get("results").is_some_and(Value::is_array) {
            return Some(v);
        }
        if ["result", "messages", "preview"]
            .iter()
            .all(|k| v.get(k).is_none())
        {
            return None;
        }
    }
    if !looks_like_json_lines(body) {
        return None;
    }
    // A reporting search streams preview sets (`preview: true`, offsets restarting at 0)
    // before its final set: only the final, non-preview rows are the answer.
    let text = String::from_utf8_lossy(body);
    let mut results = Vec::new();
    let mut messages = Vec::new();
    let mut final_seen = false;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).ok()?;
        if let Some(Value::Array(m)) = v.get("messages") {
            messages.extend(m.iter().cloned());
        }
        if v.get("preview").and_then(Value::as_bool) == Some(true) {
            continue;
        }
        final_seen = true;
        if let Some(r) = v.get("result") {
            results.push(r.clone());
        }
    }
    Some(json!({"preview": !final_seen, "results": results, "messages": messages}))
}

async fn search(
    t: &SiemTarget,
    http: &Http,
    cred: &Credential,
    which: &str,
    spl: &str,
    opts: SiemOptions,
) -> Record {
    let kind = kinds::kind("siem.splunk.search").expect("in the table");
    let url = url_for(&t.url, kind, &[]);
    let mut rec = record(kind, &format!("{}/{which}", t.label()), &url, 0);
    rec.headers.insert("siemproof-search".into(), spl.into());
    let earliest = format!("-{}h", opts.window_hours);
    rec.headers
        .insert("siemproof-window".into(), format!("{earliest} to now"));
    let form: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("search", spl)
        .append_pair("earliest_time", &earliest)
        .append_pair("latest_time", "now")
        .append_pair("output_mode", "json")
        .finish();
    let mut h = headers(cred);
    h.push((
        "Content-Type".into(),
        "application/x-www-form-urlencoded".into(),
    ));
    let resp = send_retrying(http, "POST", &url, &h, Some(form.into_bytes()), opts).await;
    if let Some(r) = answered(&mut rec, resp, splunk_error) {
        match transcode_export(&r.body) {
            Some(v) => {
                rec.headers.insert(
                    "siemproof-transcoded".into(),
                    "export stream (one JSON object per line) → {results, messages}".into(),
                );
                rec.body = Some(serde_json::to_vec_pretty(&v).unwrap_or_default());
            }
            None => malformed(
                &mut rec,
                "the export search answered 2xx with a body that is not Splunk's JSON results stream",
            ),
        }
    }
    rec
}

/// Every Splunk listing of one target, then (opt-in) its searches.
pub(crate) async fn collect(
    t: &SiemTarget,
    http: &Http,
    cred: &Credential,
    opts: SiemOptions,
) -> Vec<Record> {
    let k = |name: &str| kinds::kind(name).expect("Splunk kinds are in the table");
    let mut out = list(t, http, cred, k("siem.splunk.apps"), opts).await;
    // An add-on that is not installed has no inputs: its handlers would answer 404, so they
    // are not asked (the normaliser takes a complete app list without it as "no inputs").
    let apps_whole = out.iter().all(|r| r.error.is_none());
    let installed: Vec<String> = out
        .iter()
        .filter_map(|r| r.json())
        .flat_map(|v| v["entry"].as_array().cloned().unwrap_or_default())
        .filter_map(|e| s(&e, &["name"]))
        .collect();
    for (kind, app) in LISTS {
        if apps_whole && !installed.iter().any(|a| a.eq_ignore_ascii_case(app)) {
            continue;
        }
        out.extend(list(t, http, cred, k(kind), opts).await);
    }
    if t.event_counts {
        for (which, spl) in SEARCHES {
            out.push(search(t, http, cred, which, spl, opts).await);
        }
    }
    if out.is_empty() {
        out.push(failure(
            k("siem.splunk.apps"),
            &t.label(),
            &t.url,
            None,
            "Empty",
            "nothing was read",
        ));
    }
    out
}

// ---- normaliser -------------------------------------------------------------------------

/// Splunk writes booleans as `true`/`false`, `1`/`0` or their strings.
fn truthy(v: Option<&Value>) -> Option<bool> {
    match v? {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_i64().map(|n| n != 0),
        Value::String(x) => match x.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "t" | "yes" => Some(true),
            "0" | "false" | "f" | "no" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

fn content<'a>(e: &'a Value, key: &str) -> Option<&'a Value> {
    e.get("content").and_then(|c| c.get(key))
}

fn content_str(e: &Value, key: &str) -> Option<String> {
    content(e, key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_string)
}

/// An Event Hub event's `source`: `eventhub://<fqdn>/<hub>;[partition_id=N;][consumer_group=<cg>;]`.
pub fn parse_source(src: &str) -> Option<Delivery> {
    let rest = src.trim().strip_prefix("eventhub://")?;
    let mut parts = rest.split(';');
    let (fqdn, hub) = parts.next()?.split_once('/')?;
    let mut d = Delivery {
        namespace: fqdn.trim_end_matches(".servicebus.windows.net").to_string(),
        hub: hub.to_string(),
        consumer_group: None,
        partition: None,
        events: None,
        last_event_at: None,
    };
    for p in parts {
        match p.split_once('=') {
            Some(("consumer_group", v)) => d.consumer_group = Some(v.to_string()),
            Some(("partition_id", v)) => d.partition = Some(v.to_string()),
            _ => {}
        }
    }
    Some(d)
}

/// A search's result rows, or why they cannot be used.
struct Searches {
    tstats: Option<Vec<Value>>,
    workloads: Option<Vec<Value>>,
    errors: Option<Vec<Value>>,
}

fn search_rows(input: &Input<'_>, label: &str, which: &str) -> Option<Vec<Value>> {
    let scope = format!("{label}/{which}");
    let l = input
        .listings("siem.splunk.search")
        .find(|l| l.scope.as_deref() == Some(scope.as_str()))?;
    if !l.complete() {
        return None;
    }
    let bodies = l.bodies();
    let (item, body) = *bodies.first()?;
    if body.get("preview").and_then(Value::as_bool) == Some(true) {
        input.malformed("siem.splunk.search", item, "preview results are not final");
        return None;
    }
    match raw::list_at(body, "results") {
        Ok(rows) if rows.iter().all(|r| r.is_object()) => Some(rows.into_iter().cloned().collect()),
        _ => {
            input.malformed(
                "siem.splunk.search",
                item,
                "`results` is not a list of rows",
            );
            None
        }
    }
}

/// Splunk's `_time` in a result row: epoch seconds as a string (rows hold strings).
fn row_time(r: &Value) -> Option<chrono::DateTime<Utc>> {
    let v = r.get("last")?;
    let secs: f64 = match v {
        Value::String(x) => x.trim().parse().ok()?,
        Value::Number(n) => n.as_f64()?,
        _ => return None,
    };
    if secs <= 0.0 {
        return None;
    }
    Utc.timestamp_millis_opt((secs * 1000.0) as i64).single()
}

fn row_count(r: &Value) -> Option<i64> {
    row_number(r, "count")
}

/// A numeric column of a result row (Splunk writes numbers as strings).
fn row_number(r: &Value, key: &str) -> Option<i64> {
    match r.get(key)? {
        Value::String(x) => x.trim().parse().ok(),
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

/// Workloads of the Management Activity schema a content type's records carry. DLP records
/// carry the workload they happened in, so the search relabels them `DLP` by their operation
/// (`DlpRuleMatch`, `DlpRuleUndo`, `DlpInfo` in the DLP schema).
fn workloads_of(content_type: &str) -> &'static [&'static str] {
    match content_type {
        "DLP.All" => &["DLP"],
        "Audit.Exchange" => &["Exchange"],
        "Audit.SharePoint" => &["SharePoint", "OneDrive"],
        "Audit.AzureActiveDirectory" => &["AzureActiveDirectory"],
        "Audit.General" => &["MicrosoftTeams"],
        _ => &[],
    }
}

/// A complete listing's entries, `Err` with the status that kept it from being read.
fn entries(
    input: &Input<'_>,
    kind: &str,
    label: &str,
) -> Result<Option<Vec<Value>>, EvidenceStatus> {
    let Some(l) = input
        .listings(kind)
        .find(|l| l.scope.as_deref() == Some(label))
    else {
        return Ok(None);
    };
    if !l.complete() {
        return Err(l.status);
    }
    let mut whole = true;
    for (item, v) in &l.elements() {
        whole &= input.require(kind, item, v, &[&["name"], &["content"]]);
    }
    if !whole {
        return Err(EvidenceStatus::Error);
    }
    Ok(Some(
        l.elements().into_iter().map(|(_, v)| v.clone()).collect(),
    ))
}

/// The inputs and products of one Splunk target, or the status that kept them unknown.
pub fn inputs(
    input: &Input<'_>,
    t: &SiemTarget,
) -> Result<(Vec<SiemInput>, Vec<SiemProduct>), EvidenceStatus> {
    let label = t.label();
    let apps = entries(input, "siem.splunk.apps", &label)?.ok_or(EvidenceStatus::NotCollected)?;
    let installed = |app: &str| {
        apps.iter()
            .any(|a| s(a, &["name"]).is_some_and(|n| n.eq_ignore_ascii_case(app)))
    };
    let mut lists: HashMap<&str, Vec<Value>> = HashMap::new();
    for (kind, app) in LISTS {
        match entries(input, kind, &label)? {
            Some(v) => {
                lists.insert(kind, v);
            }
            None if !installed(app) => {
                input.vacuous(kind, &format!("the {app} add-on is not installed"));
                lists.insert(kind, vec![]);
            }
            None => return Err(EvidenceStatus::NotCollected),
        }
    }
    let products = apps
        .iter()
        .filter_map(|a| {
            let name = s(a, &["name"])?;
            PRODUCT_APPS
                .iter()
                .any(|p| p.eq_ignore_ascii_case(&name))
                .then(|| SiemProduct {
                    siem: label.clone(),
                    role: "add-on".into(),
                    version: content_str(a, "version"),
                    name,
                    ..SiemProduct::default()
                })
        })
        .collect();
    let searches = if t.event_counts {
        Some(Searches {
            tstats: search_rows(input, &label, "tstats"),
            workloads: search_rows(input, &label, "o365_workloads"),
            errors: search_rows(input, &label, "input_logs"),
        })
    } else {
        None
    };
    let by_name = |kind: &str, name: &str| -> Option<Value> {
        lists[kind]
            .iter()
            .find(|e| s(e, &["name"]).is_some_and(|n| n == name))
            .map(|e| (*e).clone())
    };
    let freshness = input.config.thresholds.freshness_hours as f64;
    let mut out = Vec::new();
    let owned = |kind: &str| -> Vec<Value> { lists[kind].iter().map(|e| (*e).clone()).collect() };
    let eventhub = owned("siem.splunk.eventhub_inputs");
    for e in &eventhub {
        let name = s(e, &["name"]).unwrap_or_default();
        let account =
            content_str(e, "account").and_then(|a| by_name("siem.splunk.azure_accounts", &a));
        let namespace = content_str(e, "event_hub_namespace")
            .map(|n| n.trim_end_matches(".servicebus.windows.net").to_string());
        let hub = content_str(e, "event_hub_name");
        let sourcetype = content_str(e, "sourcetype");
        let log_types: Vec<String> = if sourcetype
            .as_deref()
            .is_some_and(|st| st.contains("defender"))
        {
            vec!["defender_alerts".into()]
        } else {
            vec!["entra_signin".into(), "entra_audit".into()]
        };
        let mut x = base_input(&label, &name, "event_hub", e, MSCS_APP);
        x.parser = sourcetype.or(Some("mscs:azure:eventhub".into()));
        x.log_types = log_types;
        x.binding = Binding {
            namespace: namespace.clone(),
            hub: hub.clone(),
            consumer_group: content_str(e, "consumer_group"),
            tenant_id: account.as_ref().and_then(|a| content_str(a, "tenant_id")),
            client_id: account.as_ref().and_then(|a| content_str(a, "client_id")),
            content_types: None,
            hidden: vec![],
        };
        if let Some(se) = &searches {
            x.counted = true;
            if let (Some(rows), Some(ns), Some(hub)) = (&se.tstats, &namespace, &hub) {
                let mut seen: Vec<Delivery> = rows
                    .iter()
                    .filter_map(|r| {
                        let mut d = parse_source(&s(r, &["source"])?)?;
                        d.events = row_count(r);
                        d.last_event_at = row_time(r)
                            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
                        Some(d)
                    })
                    .filter(|d| {
                        d.namespace.eq_ignore_ascii_case(ns) && d.hub.eq_ignore_ascii_case(hub)
                    })
                    .collect();
                seen.sort_by(|a, b| a.consumer_group.cmp(&b.consumer_group));
                let newest = seen
                    .iter()
                    .filter_map(|d| {
                        d.last_event_at
                            .as_deref()
                            .and_then(crate::normalize::parse_time)
                    })
                    .max();
                x.events_in_window = Some(seen.iter().filter_map(|d| d.events).sum());
                set_last(input, &mut x, newest);
                x.delivered = Some(seen);
            }
            health_from_errors(&mut x, se.errors.as_deref(), &name);
        }
        out.push(x);
    }
    let o365 = owned("siem.splunk.o365_inputs");
    for e in &o365 {
        let name = s(e, &["name"]).unwrap_or_default();
        let tenant =
            content_str(e, "tenant_name").and_then(|n| by_name("siem.splunk.o365_tenants", &n));
        let ct = content_str(e, "content_type");
        let cts: Option<Vec<String>> = ct.as_deref().map(|c| {
            super::normalize::content_type_of_filter(c)
                .map(str::to_string)
                .into_iter()
                .collect()
        });
        let mut x = base_input(&label, &name, "o365_api", e, O365_APP);
        x.parser = Some("o365:management:activity".into());
        x.log_types_known = cts.as_ref().is_some_and(|c| !c.is_empty());
        x.log_types = cts
            .as_deref()
            .map(super::normalize::log_types_of_content)
            .unwrap_or_default();
        x.binding = Binding {
            tenant_id: tenant.as_ref().and_then(|a| content_str(a, "tenant_id")),
            client_id: tenant.as_ref().and_then(|a| content_str(a, "client_id")),
            content_types: cts.clone(),
            ..Binding::default()
        };
        if let Some(se) = &searches {
            x.counted = true;
            let workloads = cts
                .as_deref()
                .and_then(|c| c.first())
                .map(|c| workloads_of(c))
                .unwrap_or(&[]);
            if let (Some(rows), false) = (&se.workloads, workloads.is_empty()) {
                let mine: Vec<&Value> = rows
                    .iter()
                    .filter(|r| {
                        s(r, &["Workload"])
                            .is_some_and(|w| workloads.iter().any(|x| x.eq_ignore_ascii_case(&w)))
                    })
                    .collect();
                x.events_in_window = Some(mine.iter().filter_map(|r| row_count(r)).sum());
                let newest = mine.iter().filter_map(|r| row_time(r)).max();
                set_last(input, &mut x, newest);
            }
            health_from_errors(&mut x, se.errors.as_deref(), &name);
        }
        out.push(x);
    }
    for x in out.iter_mut() {
        let w = super::normalize::window_hours(&x.path, freshness);
        if x.counted && x.events_in_window.is_some() {
            // The search looked over the whole window: no row is a definite "nothing arrived".
            x.fresh = Some(x.hours_since_last_event.is_some_and(|h| h >= 0.0 && h <= w));
        }
    }
    Ok((out, products))
}

fn set_last(input: &Input<'_>, x: &mut SiemInput, newest: Option<chrono::DateTime<Utc>>) {
    x.last_event_at = newest.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    x.hours_since_last_event = newest.map(|t| input.hours_since(t));
}

fn base_input(label: &str, name: &str, path: &str, e: &Value, app: &str) -> SiemInput {
    let enabled = truthy(content(e, "disabled")).map(|d| !d);
    SiemInput {
        siem: label.to_string(),
        kind: "splunk".into(),
        id: name.to_string(),
        name: name.to_string(),
        path: path.into(),
        product: Some(app.to_string()),
        enabled,
        health: if enabled == Some(false) {
            "disabled".into()
        } else {
            "unknown".into()
        },
        health_messages: vec![
            "Splunk keeps no health on an input: its errors are in _internal, read only with event_counts = true".into(),
        ],
        log_types_known: true,
        ..SiemInput::default()
    }
}

/// Health from the add-on's own log lines in `_internal` over the window: the input's log file
/// (`…_<input name>.log`) must have logged (proof that it ran), and any ERROR line makes it
/// `error`. An input without a log line in the window is `unknown`: silence proves nothing.
fn health_from_errors(x: &mut SiemInput, rows: Option<&[Value]>, name: &str) {
    x.health_messages.clear();
    let Some(rows) = rows else {
        x.health_messages
            .push("the _internal log search could not be read".into());
        return;
    };
    if x.enabled == Some(false) {
        return;
    }
    let suffix = format!("_{}.log", name.to_ascii_lowercase());
    let mine: Vec<&Value> = rows
        .iter()
        .filter(|r| {
            s(r, &["source"]).is_some_and(|src| src.to_ascii_lowercase().ends_with(&suffix))
        })
        .collect();
    let lines: i64 = mine.iter().filter_map(|r| row_count(r)).sum();
    if lines == 0 {
        x.health_messages.push(format!(
            "no log line of this input (a file ending in {suffix}) in _internal within the window: it has not run, or its log is elsewhere"
        ));
        return;
    }
    // A row without the errors column cannot show there were none.
    let Some(errors) = mine
        .iter()
        .map(|r| row_number(r, "errors"))
        .sum::<Option<i64>>()
    else {
        x.health_messages
            .push("the _internal log search has no errors column".into());
        return;
    };
    x.health_raw = Some(format!(
        "{errors} ERROR of {lines} log line(s) in _internal"
    ));
    x.health = if errors > 0 { "error" } else { "ok" }.into();
    for r in mine {
        if let Some(src) = s(r, &["source"]) {
            x.health_messages.push(format!(
                "{src}: {} ERROR line(s)",
                row_number(r, "errors").unwrap_or(0)
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_needs_the_inputs_own_log_lines() {
        let mut x = SiemInput {
            enabled: Some(true),
            health: "unknown".into(),
            ..SiemInput::default()
        };
        let other = json!({"source": "/opt/splunk/var/log/splunk/splunk_ta_o365_management_activity_other.log", "count": "40", "errors": "0"});
        health_from_errors(
            &mut x,
            Some(std::slice::from_ref(&other)),
            "contoso_exchange",
        );
        assert_eq!(
            x.health, "unknown",
            "another input's quiet log says nothing of this one"
        );
        let mine = json!({"source": "/opt/splunk/var/log/splunk/splunk_ta_o365_management_activity_contoso_exchange.log", "count": "40", "errors": "3"});
        health_from_errors(&mut x, Some(&[other, mine]), "contoso_exchange");
        assert_eq!(x.health, "error");
        let no_column = json!({"source": "/x/y_contoso_exchange.log", "count": "40"});
        let mut y = SiemInput {
            enabled: Some(true),
            health: "unknown".into(),
            ..SiemInput::default()
        };
        health_from_errors(&mut y, Some(&[no_column]), "contoso_exchange");
        assert_eq!(y.health, "unknown");
    }

    #[test]
    fn sources_name_hub_and_consumer_group() {
        let d = parse_source(
            "eventhub://psiem-namespace.servicebus.windows.net/security-logs-hub;partition_id=3;consumer_group=splunk-cg;",
        )
        .unwrap();
        assert_eq!(d.namespace, "psiem-namespace");
        assert_eq!(d.hub, "security-logs-hub");
        assert_eq!(d.consumer_group.as_deref(), Some("splunk-cg"));
        assert_eq!(d.partition.as_deref(), Some("3"));
        let plain = parse_source("eventhub://ns.servicebus.windows.net/hub;").unwrap();
        assert_eq!(plain.consumer_group, None);
        assert!(parse_source("eventhub://windowsdefenderlogs").is_none());
    }

    #[test]
    fn export_streams_become_one_document() {
        let body = b"{\"preview\":true,\"offset\":0,\"result\":{\"source\":\"a\",\"count\":\"1\"}}\n{\"preview\":false,\"offset\":0,\"result\":{\"source\":\"a\",\"count\":\"3\"}}\n{\"preview\":false,\"offset\":1,\"lastrow\":true,\"result\":{\"source\":\"b\",\"count\":\"1\"}}\n";
        let v = transcode_export(body).unwrap();
        assert_eq!(v["results"].as_array().unwrap().len(), 2);
        assert_eq!(v["preview"], false);
        let only_preview = b"{\"preview\":true,\"offset\":0,\"result\":{\"count\":\"1\"}}\n";
        assert_eq!(transcode_export(only_preview).unwrap()["preview"], true);
        assert!(transcode_export(b"<html>").is_none());
        // A search with no rows ends with a bare last-row marker.
        let empty = transcode_export(b"{\"preview\":false,\"lastrow\":true}\n").unwrap();
        assert_eq!(empty["results"].as_array().unwrap().len(), 0);
    }

    #[test]
    fn secrets_in_handler_content_are_removed() {
        let mut v = json!({"entry": [{"name": "a", "content": {"client_id": "c", "client_secret": "s3cr3t", "tenant_id": "t"}}]});
        assert_eq!(scrub_entries(&mut v), 1);
        assert!(!v.to_string().contains("s3cr3t"));
    }
}
