//! SIEM evidence → `model.siem`: one normaliser for every SIEM's raw answers.
//!
//! Listings are read per target (the request's recorded scope is the target's label) and only
//! when complete; a target whose inputs could not be read leaves `inputs` unknown. QRadar:
//! protocols and DSMs are resolved by name from the console's own lists (ids differ per
//! install); health keeps the raw `status.status` and maps only the values IBM documents;
//! `last_event_time` 0 means no event ever arrived; a gateway source takes the freshness of the
//! sources it feeds.

use std::collections::HashMap;

use chrono::{TimeZone, Utc};
use serde_json::Value;

use super::model::{Binding, Siem, SiemInput, SiemProduct};
use crate::evidence::EvidenceStatus;
use crate::normalize::raw::{self, b, i, s};
use crate::normalize::Input;

const QRADAR_KINDS: &[&str] = &[
    "siem.qradar.protocol_types",
    "siem.qradar.log_source_types",
    "siem.qradar.log_sources",
];

/// What a QRadar protocol reads.
fn path_of_protocol(name: &str) -> Option<&'static str> {
    match name.to_ascii_lowercase().as_str() {
        "microsoft azure event hubs" => Some("event_hub"),
        "office 365 rest api" => Some("o365_api"),
        "microsoft graph security api" => Some("graph"),
        _ => None,
    }
}

/// The guide's log types a DSM parses (the Event Filter narrows the Office 365 ones).
fn log_types_of_dsm(name: &str) -> &'static [&'static str] {
    match name.to_ascii_lowercase().as_str() {
        "microsoft azure active directory" | "microsoft entra id" | "microsoft azure platform" => {
            &["entra_signin", "entra_audit"]
        }
        "microsoft office 365" => &[
            "entra_audit",
            "exchange_audit",
            "sharepoint_audit",
            "teams_audit",
            "purview_dlp",
            "unified_audit",
        ],
        // Graph Security API alerts v2 carry Defender XDR's alerts, Defender for Cloud Apps' among them.
        "microsoft 365 defender" => &["defender_alerts", "mdca_alerts"],
        "microsoft azure security center" => &["mdca_alerts"],
        _ => &[],
    }
}

/// QRadar's Office 365 Event Filter values → Management Activity API content types.
pub(crate) fn content_type_of_filter(v: &str) -> Option<&'static str> {
    match v.trim().to_ascii_lowercase().as_str() {
        "azure active directory" | "audit.azureactivedirectory" => {
            Some("Audit.AzureActiveDirectory")
        }
        "exchange" | "audit.exchange" => Some("Audit.Exchange"),
        "sharepoint" | "audit.sharepoint" => Some("Audit.SharePoint"),
        "general" | "audit.general" => Some("Audit.General"),
        "dlp" | "dlp.all" => Some("DLP.All"),
        _ => None,
    }
}

/// The log types a set of content types carries.
pub(crate) fn log_types_of_content(cts: &[String]) -> Vec<String> {
    let has = |c: &str| cts.iter().any(|x| x == c);
    let mut out = Vec::new();
    for (lt, ct) in [
        ("entra_audit", "Audit.AzureActiveDirectory"),
        ("exchange_audit", "Audit.Exchange"),
        ("sharepoint_audit", "Audit.SharePoint"),
        ("teams_audit", "Audit.General"),
        ("purview_dlp", "DLP.All"),
    ] {
        if has(ct) {
            out.push(lt.to_string());
        }
    }
    if [
        "Audit.AzureActiveDirectory",
        "Audit.Exchange",
        "Audit.SharePoint",
        "Audit.General",
    ]
    .iter()
    .all(|c| has(c))
    {
        out.push("unified_audit".into());
    }
    out
}

/// Maps QRadar's `status.status`. Only documented values are mapped; anything else is
/// `unknown` (the raw value is kept beside it).
fn qradar_health(raw: Option<&str>, enabled: Option<bool>) -> String {
    if enabled == Some(false) {
        return "disabled".into();
    }
    match raw.map(|r| r.trim().to_ascii_uppercase()).as_deref() {
        Some("SUCCESS") | Some("OK") => "ok",
        Some("WARN") | Some("WARNING") => "warn",
        Some("ERROR") => "error",
        Some("NA") | Some("N/A") => "never_ran",
        Some("DISABLED") => "disabled",
        _ => "unknown",
    }
    .into()
}

/// Which binding field a QRadar protocol parameter holds. The internal parameter names are not
/// published, so they are matched loosely; a binding no parameter shows stays unknown.
fn binding_field(name: &str) -> Option<&'static str> {
    let n: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase();
    if n.contains("connectionstring") && !n.contains("storage") {
        Some("connection_string")
    } else if n.contains("consumergroup") {
        Some("consumer_group")
    } else if n.contains("namespace") {
        Some("namespace")
    } else if n.contains("eventhubname") || n == "eventhub" {
        Some("hub")
    } else if n.contains("tenantid") || n == "tenant" {
        Some("tenant_id")
    } else if n.contains("clientid") || n == "client" {
        Some("client_id")
    } else if n.contains("eventfilter") {
        Some("event_filter")
    } else {
        None
    }
}

/// Epoch milliseconds → RFC 3339; 0 (never) and nonsense → `None`.
fn epoch_ms(v: Option<i64>) -> Option<chrono::DateTime<Utc>> {
    let ms = v.filter(|m| *m > 0)?;
    Utc.timestamp_millis_opt(ms).single()
}

/// How old an input's last event may be: streaming is near real time; REST polling adds its
/// interval (up to 30 min) to the freshness window.
pub(crate) fn window_hours(path: &str, freshness_hours: f64) -> f64 {
    match path {
        "event_hub" => freshness_hours,
        _ => freshness_hours + 0.5,
    }
}

struct QradarLists {
    protocols: HashMap<i64, String>,
    dsms: HashMap<i64, String>,
    products: Vec<SiemProduct>,
    sources: Vec<Value>,
}

/// The complete listings of one QRadar target, or the status that kept them from being read.
fn qradar_lists(input: &Input<'_>, label: &str) -> Result<QradarLists, EvidenceStatus> {
    let mut lists: HashMap<&str, Vec<Value>> = HashMap::new();
    let mut source_items = Vec::new();
    for kind in QRADAR_KINDS {
        let mine: Vec<_> = input
            .listings(kind)
            .filter(|l| l.scope.as_deref() == Some(label))
            .collect();
        let Some(l) = mine.into_iter().next() else {
            if *kind == "siem.qradar.log_sources" && lists.values().all(|v| v.is_empty()) {
                // No Microsoft protocol or DSM on the console (both listings complete and
                // empty): it has no Microsoft log source, which is complete evidence.
                input.vacuous(kind, "the console has no Microsoft protocol or DSM");
                lists.insert(kind, vec![]);
                continue;
            }
            return Err(EvidenceStatus::NotCollected);
        };
        if !l.complete() {
            return Err(l.status);
        }
        // What was asked for (`fields=`) must be there: an element without it cannot be judged,
        // and dropping it would make the listing look complete.
        let required: &[&[&str]] = match *kind {
            "siem.qradar.log_sources" => &[
                &["id"],
                &["name"],
                &["type_id"],
                &["protocol_type_id"],
                &["enabled"],
                &["status"],
                &["last_event_time"],
                &["protocol_parameters"],
            ],
            _ => &[&["id"], &["name"]],
        };
        let mut whole = true;
        for (item, v) in &l.elements() {
            whole &= input.require(kind, item, v, required);
        }
        if !whole {
            return Err(EvidenceStatus::Error);
        }
        if *kind == "siem.qradar.log_sources" {
            source_items = l
                .elements()
                .into_iter()
                .map(|(i, v)| (i, v.clone()))
                .collect();
        }
        lists.insert(
            kind,
            l.elements().into_iter().map(|(_, v)| v.clone()).collect(),
        );
    }
    let mut protocols = HashMap::new();
    let mut dsms = HashMap::new();
    let mut products = Vec::new();
    for (kind, role, map) in [
        ("siem.qradar.protocol_types", "protocol", &mut protocols),
        ("siem.qradar.log_source_types", "dsm", &mut dsms),
    ] {
        for v in &lists[kind] {
            let (Some(id), Some(name)) = (i(v, &["id"]), s(v, &["name"])) else {
                continue;
            };
            map.insert(id, name.clone());
            products.push(SiemProduct {
                siem: label.to_string(),
                role: role.into(),
                name,
                version: s(v, &["version"]),
                latest_version: s(v, &["latest_version"]),
                ..SiemProduct::default()
            });
        }
    }
    // The sources were asked for by the ids these listings named: a source whose protocol is
    // not among them, yet whose DSM is a Microsoft one, contradicts the listing that named it
    // (its path cannot be told), so it is reported, never silently skipped.
    for (item, v) in &source_items {
        let protocol = i(v, &["protocol_type_id"]);
        let dsm = i(v, &["type_id"]);
        if protocol.is_some_and(|p| !protocols.contains_key(&p))
            && dsm.is_some_and(|d| dsms.contains_key(&d))
        {
            input.inconsistent(
                "siem.qradar.log_sources",
                item,
                &format!(
                    "log source {} uses protocol id {}, which the console's protocol listing does not name",
                    s(v, &["id"]).unwrap_or_default(),
                    protocol.unwrap_or_default()
                ),
            );
            return Err(EvidenceStatus::Inconsistent);
        }
    }
    Ok(QradarLists {
        protocols,
        dsms,
        products,
        sources: lists.remove("siem.qradar.log_sources").unwrap_or_default(),
    })
}

fn qradar_inputs(input: &Input<'_>, label: &str, lists: &QradarLists) -> Vec<SiemInput> {
    let freshness = input.config.thresholds.freshness_hours as f64;
    let mut out = Vec::new();
    for v in &lists.sources {
        let protocol = i(v, &["protocol_type_id"]).and_then(|p| lists.protocols.get(&p).cloned());
        let dsm = i(v, &["type_id"]).and_then(|t| lists.dsms.get(&t).cloned());
        let Some(path) = protocol.as_deref().and_then(path_of_protocol) else {
            continue; // not a Microsoft protocol (the filter also admits DSM matches)
        };
        let enabled = b(v, &["enabled"]);
        let raw_health = s(v, &["status", "status"]);
        let mut binding = Binding::default();
        let mut filters: Option<Vec<String>> = None;
        for p in raw::arr(v, &["protocol_parameters"]) {
            let (Some(name), value) = (s(p, &["name"]), s(p, &["value"])) else {
                continue;
            };
            let secret_removed = value
                .as_deref()
                .is_some_and(|x| x.starts_with("[removed by siemproof"));
            match binding_field(&name) {
                // SAS mode: namespace and hub live in the (secret) connection string.
                Some("connection_string") if secret_removed || value.is_some() => {
                    binding
                        .hidden
                        .extend(["namespace".to_string(), "hub".to_string()]);
                }
                Some("consumer_group") => binding.consumer_group = value,
                Some("namespace") => {
                    binding.namespace =
                        value.map(|n| n.trim_end_matches(".servicebus.windows.net").to_string())
                }
                Some("hub") => binding.hub = value,
                Some("tenant_id") => binding.tenant_id = value,
                Some("client_id") => binding.client_id = value,
                Some("event_filter") => {
                    let cts = value
                        .unwrap_or_default()
                        .split([',', ';'])
                        .filter_map(content_type_of_filter)
                        .map(str::to_string)
                        .collect::<Vec<_>>();
                    filters = Some(cts);
                }
                _ => {}
            }
        }
        binding.hidden.sort();
        binding.hidden.dedup();
        if binding.namespace.is_some() {
            binding.hidden.retain(|h| h != "namespace");
        }
        if binding.hub.is_some() {
            binding.hidden.retain(|h| h != "hub");
        }
        if path == "o365_api" {
            binding.content_types = filters.clone();
        }
        // An Office 365 source's Event Filter says what it carries; without one it is unknown.
        let log_types_known = path != "o365_api" || filters.is_some();
        let log_types: Vec<String> = match (path, &filters) {
            ("o365_api", Some(cts)) => log_types_of_content(cts),
            ("o365_api", None) => vec![],
            _ => dsm
                .as_deref()
                .map(log_types_of_dsm)
                .unwrap_or_default()
                .iter()
                .filter(|lt| path != "o365_api" || **lt != "entra_signin")
                .map(|s| s.to_string())
                .collect(),
        };
        let messages = raw::arr(v, &["status", "messages"])
            .iter()
            .filter_map(|m| {
                let text = s(m, &["text"])?;
                Some(match s(m, &["severity"]) {
                    Some(sev) => format!("{sev}: {text}"),
                    None => text,
                })
            })
            .collect();
        let last = epoch_ms(i(v, &["last_event_time"]));
        out.push(SiemInput {
            siem: label.to_string(),
            kind: "qradar".into(),
            id: s(v, &["id"]).unwrap_or_default(),
            name: s(v, &["name"]).unwrap_or_default(),
            path: path.into(),
            product: protocol,
            parser: dsm,
            enabled,
            pending_deploy: b(v, &["requires_deploy"]),
            health: qradar_health(raw_health.as_deref(), enabled),
            health_raw: raw_health,
            health_messages: messages,
            gateway: b(v, &["gateway"]).unwrap_or(false),
            last_event_at: last.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            hours_since_last_event: last.map(|t| input.hours_since(t)),
            fresh: None,
            events_in_window: None,
            unparsed_ratio: None,
            log_types,
            log_types_known,
            binding,
            counted: false,
            delivered: None,
            expected_consumer_group: None,
        });
    }
    // A gateway receives nothing itself: its freshness is that of the sources it feeds (same
    // DSM, not gateways).
    let fed: Vec<(Option<String>, Option<f64>, Option<String>)> = out
        .iter()
        .filter(|x| !x.gateway)
        .map(|x| {
            (
                x.parser.clone(),
                x.hours_since_last_event,
                x.last_event_at.clone(),
            )
        })
        .collect();
    for x in out.iter_mut() {
        if x.gateway {
            let best = fed
                .iter()
                .filter(|(p, h, _)| *p == x.parser && h.is_some())
                .min_by(|a, b| a.1.partial_cmp(&b.1).unwrap_or(std::cmp::Ordering::Equal));
            x.hours_since_last_event = best.and_then(|b| b.1);
            x.last_event_at = best.and_then(|b| b.2.clone());
        }
        let w = window_hours(&x.path, freshness);
        // No event ever (last_event_time 0) is a definite "not fresh"; only an unreadable time is unknown.
        x.fresh = Some(x.hours_since_last_event.is_some_and(|h| h >= 0.0 && h <= w));
    }
    out
}

/// Adds the opt-in Ariel counts to a QRadar target's inputs: events and unparsed events per
/// log source over the window, and the newest event. A search that was not read leaves them
/// unknown; a complete search without a row for a source means no event in the window.
fn ariel_counts(input: &Input<'_>, label: &str, inputs: &mut [SiemInput]) {
    for x in inputs.iter_mut() {
        x.counted = true;
    }
    // Rows count only from a search the collector saw complete.
    let completed = input.items("siem.qradar.ariel_search").iter().any(|i| {
        i.item.scope.as_deref() == Some(label)
            && i.status() == EvidenceStatus::Ok
            && i.item
                .headers
                .as_ref()
                .and_then(|h| h.get("siemproof-final-status"))
                .is_some_and(|s| s == "COMPLETED")
    });
    if !completed {
        return;
    }
    let Some(l) = input
        .listings("siem.qradar.ariel_results")
        .find(|l| l.scope.as_deref() == Some(label))
    else {
        return;
    };
    let Some((item, body)) = l.bodies().first().copied().filter(|_| l.complete()) else {
        return;
    };
    let rows = match raw::list_at(body, "events") {
        Ok(rows) => rows,
        Err(e) => {
            input.malformed("siem.qradar.ariel_results", item, &e);
            return;
        }
    };
    // Column names follow the AQL aliases; IBM's own samples vary the case of field names.
    let get = |r: &Value, k: &str| -> Option<Value> {
        r.as_object()?
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.clone())
    };
    let num = |v: Option<Value>| -> Option<f64> {
        match v? {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    };
    let mut per: HashMap<String, (f64, f64, Option<i64>)> = HashMap::new();
    for r in rows {
        let (Some(src), Some(n)) = (num(get(r, "logsourceid")), num(get(r, "events"))) else {
            input.malformed(
                "siem.qradar.ariel_results",
                item,
                "a row lacks logsourceid or events",
            );
            for x in inputs.iter_mut() {
                x.events_in_window = None;
                x.unparsed_ratio = None;
            }
            return;
        };
        let unparsed = matches!(get(r, "isunparsed"), Some(Value::Bool(true)))
            || get(r, "isunparsed").and_then(|v| v.as_str().map(|s| s == "true")) == Some(true);
        let e = per
            .entry((src as i64).to_string())
            .or_insert((0.0, 0.0, None));
        e.0 += n;
        if unparsed {
            e.1 += n;
        }
        if let Some(last) = num(get(r, "last")).map(|l| l as i64) {
            e.2 = Some(e.2.map_or(last, |p: i64| p.max(last)));
        }
    }
    for x in inputs.iter_mut() {
        let (n, unparsed, _) = per.get(&x.id).copied().unwrap_or((0.0, 0.0, None));
        x.events_in_window = Some(n as i64);
        x.unparsed_ratio = (n > 0.0).then(|| ((unparsed / n) * 10000.0).round() / 10000.0);
    }
}

/// `model.siem` from the bundle's SIEM evidence.
pub fn siem(input: &Input<'_>) -> Siem {
    let targets = input.config.siem.targets.clone();
    let mut model = Siem {
        status: if targets.is_empty() {
            "not_configured".into()
        } else {
            "ok".into()
        },
        configured: !targets.is_empty(),
        targets: targets.iter().map(|t| t.label()).collect(),
        inputs: Some(vec![]),
        products: Some(vec![]),
    };
    if targets.is_empty() {
        model.inputs = None;
        model.products = None;
        return model;
    }
    let mut worst = EvidenceStatus::Ok;
    let mut input_kinds: Vec<&str> = Vec::new();
    for t in &targets {
        let label = t.label();
        let read = match t.kind.as_str() {
            "qradar" => {
                input_kinds.extend(QRADAR_KINDS);
                qradar_lists(input, &label).map(|lists| {
                    let mut inputs = qradar_inputs(input, &label, &lists);
                    if t.event_counts {
                        ariel_counts(input, &label, &mut inputs);
                    }
                    (inputs, lists.products)
                })
            }
            "splunk" => {
                input_kinds.extend(super::splunk::INPUT_KINDS);
                super::splunk::inputs(input, t)
            }
            "elastic" => {
                input_kinds.extend(super::elastic::INPUT_KINDS);
                super::elastic::inputs(input, t)
            }
            _ => Err(EvidenceStatus::NotCollected),
        };
        match read {
            Ok((mut inputs, products)) => {
                unified_audit_across(&mut inputs);
                let expected = t
                    .consumer_group
                    .clone()
                    .unwrap_or_else(|| input.config.eventhub.consumer_group.clone());
                for i in inputs.iter_mut().filter(|i| i.path == "event_hub") {
                    i.expected_consumer_group = Some(expected.clone());
                }
                if let Some(v) = model.inputs.as_mut() {
                    v.extend(inputs);
                }
                if let Some(v) = model.products.as_mut() {
                    v.extend(products.into_iter().map(|mut p| {
                        p.min_version = t.min_versions.get(&p.name).cloned();
                        p.meets_minimum = match (&p.version, &p.min_version) {
                            (Some(v), Some(m)) => version_at_least(v, m),
                            _ => None,
                        };
                        p
                    }));
                }
            }
            Err(st) => {
                worst = worst.max(st);
                model.inputs = None;
                model.products = None;
            }
        }
    }
    input.derive("siem.inputs", &input_kinds);
    model.status = worst.as_str().into();
    model
}

/// The Unified Audit Log is every Audit.* content type: a SIEM that collects all four through
/// separate inputs (Splunk: one input per content type) carries it across them.
fn unified_audit_across(inputs: &mut [SiemInput]) {
    let all = [
        "Audit.AzureActiveDirectory",
        "Audit.Exchange",
        "Audit.SharePoint",
        "Audit.General",
    ];
    let covered = all.iter().all(|c| {
        inputs.iter().any(|i| {
            i.path == "o365_api"
                && i.enabled != Some(false)
                && i.binding
                    .content_types
                    .as_ref()
                    .is_some_and(|cts| cts.iter().any(|x| x == c))
        })
    });
    if !covered {
        return;
    }
    for i in inputs.iter_mut().filter(|i| {
        i.path == "o365_api"
            && i.enabled != Some(false)
            && i.binding
                .content_types
                .as_ref()
                .is_some_and(|cts| cts.iter().any(|x| all.contains(&x.as_str())))
    }) {
        if !i.log_types.iter().any(|l| l == "unified_audit") {
            i.log_types.push("unified_audit".into());
        }
    }
}

/// Compares dotted versions numerically (`7.5.0` ≥ `7.4.12`); `None` when either has a part
/// that is not a number.
pub fn version_at_least(v: &str, min: &str) -> Option<bool> {
    let parse = |x: &str| -> Option<Vec<u64>> {
        x.trim()
            .trim_start_matches(['v', 'V'])
            .split(['.', '-'])
            .map(|p| p.parse::<u64>().ok())
            .collect()
    };
    let (a, b) = (parse(v)?, parse(min)?);
    let n = a.len().max(b.len());
    let pad = |x: &[u64]| {
        (0..n)
            .map(|k| x.get(k).copied().unwrap_or(0))
            .collect::<Vec<_>>()
    };
    Some(pad(&a) >= pad(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_maps_only_documented_values() {
        assert_eq!(qradar_health(Some("NA"), Some(true)), "never_ran");
        assert_eq!(qradar_health(Some("ERROR"), Some(true)), "error");
        assert_eq!(qradar_health(Some("SOMETHING_NEW"), Some(true)), "unknown");
        assert_eq!(qradar_health(None, Some(true)), "unknown");
        assert_eq!(qradar_health(Some("SUCCESS"), Some(false)), "disabled");
    }

    #[test]
    fn versions_compare_numerically() {
        assert_eq!(version_at_least("7.5.0", "7.4.12"), Some(true));
        assert_eq!(version_at_least("1.0.9", "1.0.10"), Some(false));
        assert_eq!(version_at_least("2024.1", "unknown"), None);
    }
}
