//! Elastic: the Fleet package policies of the `azure`, `o365` and `m365_defender`
//! integrations (Kibana), the agents that run them, and the newest event per data stream
//! (Elasticsearch `_data_stream/…/_stats`).
//!
//! A package policy input becomes one [`SiemInput`]. Its Event Hub name and consumer group are
//! plain vars; the namespace lives only inside the secret connection string, so it is
//! `hidden`, never guessed. A consumer group the policy leaves unset is the integration's
//! documented default, `$Default` (siem-apis.md §3.2 [E1]). Health is that of the agents of the
//! policy's agent policies; the last event is the `maximum_timestamp` ("best effort") of the
//! data streams the input's enabled streams write (`logs-<dataset>-<namespace>`).

use std::collections::BTreeSet;

use chrono::{TimeZone, Utc};
use serde_json::Value;

use super::collect::{
    answered, is_secret_parameter, malformed, record, send_retrying, url_for, Credential,
    SiemOptions, MAX_PAGES,
};
use super::config::SiemTarget;
use super::model::{Binding, SiemInput, SiemProduct};
use crate::collect::http::Http;
use crate::collect::paging::Record;
use crate::evidence::kinds;
use crate::evidence::{EvidenceStatus, ItemError};
use crate::normalize::raw::{self, i, s};
use crate::normalize::Input;

/// The Fleet packages whose policies carry Microsoft logs.
pub const PACKAGES: &[&str] = &["azure", "o365", "m365_defender"];

/// The kinds an Elastic target's inputs are read from (the state of `siem.inputs`).
pub const INPUT_KINDS: &[&str] = &["siem.elastic.package_policies"];

/// Kibana's `{statusCode, error, message}` or Elasticsearch's `{error: {type, reason}, status}`.
fn elastic_error(status: u16, body: &[u8]) -> ItemError {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let message = s(&v, &["message"])
        .or_else(|| s(&v, &["error", "reason"]))
        .or_else(|| s(&v, &["error"]))
        .unwrap_or_else(|| "no error message in the response".into());
    let code = s(&v, &["error", "type"]).unwrap_or_else(|| format!("HTTP{status}"));
    ItemError {
        code,
        message: crate::redact::text(&message).into_owned(),
    }
}

/// Removes the values of secret vars (`connection_string`, `storage_account_key`,
/// `client_secret`, any `password` var) that a Kibana without secret storage returns in
/// plain text; a secret reference (`{"isSecretRef": true, "id": …}`) is kept. Returns how many.
fn scrub_vars(v: &mut Value) -> usize {
    let mut n = 0;
    match v {
        Value::Object(o) => {
            for (k, val) in o.iter_mut() {
                // The compiled agent config repeats every var, secrets in clear text where the
                // Kibana has no secret storage; siemproof reads only `vars`.
                if k == "compiled_input" || k == "compiled_stream" {
                    if !val.is_null() {
                        *val = Value::String("[removed by siemproof: compiled config]".into());
                        n += 1;
                    }
                    continue;
                }
                if k == "vars" {
                    if let Some(vars) = val.as_object_mut() {
                        for (name, var) in vars.iter_mut() {
                            let password =
                                var.get("type").and_then(Value::as_str) == Some("password");
                            if !(password || is_secret_parameter(name)) {
                                continue;
                            }
                            // A var is `{type, value}`; older policies may hold the bare value.
                            let slot = if var.get("value").is_some() {
                                &mut var["value"]
                            } else if !var.is_object() {
                                var
                            } else {
                                continue;
                            };
                            let reference =
                                slot.get("isSecretRef").and_then(Value::as_bool) == Some(true);
                            let empty = slot.is_null() || slot.as_str().is_some_and(str::is_empty);
                            if !reference && !empty {
                                *slot = Value::String("[removed by siemproof: secret]".into());
                                n += 1;
                            }
                        }
                    }
                } else {
                    n += scrub_vars(val);
                }
            }
        }
        Value::Array(a) => {
            for x in a {
                n += scrub_vars(x);
            }
        }
        _ => {}
    }
    n
}

fn headers(cred: &Credential) -> Vec<(String, String)> {
    vec![
        ("Authorization".into(), format!("ApiKey {}", cred.0)),
        ("Accept".into(), "application/json".into()),
    ]
}

/// One GET of `rec.url`, filled into `rec`; `expect` names the key the body must hold.
async fn get(
    http: &Http,
    cred: &Credential,
    mut rec: Record,
    expect: &str,
    opts: SiemOptions,
) -> (Record, Option<Value>) {
    let mut parsed = None;
    let url = rec.url.clone();
    let resp = send_retrying(http, "GET", &url, &headers(cred), None, opts).await;
    if let Some(r) = answered(&mut rec, resp, elastic_error) {
        match serde_json::from_slice::<Value>(&r.body) {
            Ok(mut v) if v.get(expect).is_some() => {
                let removed = scrub_vars(&mut v);
                if removed > 0 {
                    rec.headers.insert(
                        "siemproof-removed".into(),
                        format!("{removed} secret var value(s)"),
                    );
                }
                rec.body = Some(serde_json::to_vec_pretty(&v).unwrap_or_default());
                parsed = Some(v);
            }
            _ => malformed(
                &mut rec,
                &format!("Elastic answered 2xx with a body that has no `{expect}`"),
            ),
        }
    }
    (rec, parsed)
}

fn kibana_base(t: &SiemTarget) -> String {
    let kb = t.kibana_url.clone().unwrap_or_else(|| t.url.clone());
    match &t.space {
        Some(space) => format!("{}/s/{}", kb.trim_end_matches('/'), space),
        None => kb,
    }
}

/// The agent policies a package policy runs in (`policy_ids`, or the older `policy_id`).
fn agent_policies(p: &Value) -> Vec<String> {
    let mut ids: Vec<String> = raw::arr(p, &["policy_ids"])
        .iter()
        .filter_map(|x| x.as_str().map(str::to_string))
        .collect();
    if ids.is_empty() {
        ids.extend(s(p, &["policy_id"]));
    }
    ids
}

pub(crate) async fn collect(
    t: &SiemTarget,
    es: &Http,
    kb: &Http,
    cred: &Credential,
    opts: SiemOptions,
) -> Vec<Record> {
    let k = |name: &str| kinds::kind(name).expect("Elastic kinds are in the table");
    let label = t.label();
    let kuery = PACKAGES
        .iter()
        .map(|p| format!("ingest-package-policies.package.name:{p}"))
        .collect::<Vec<_>>()
        .join(" or ");
    let mut out = Vec::new();
    let mut policies = BTreeSet::new();
    let mut seen = 0i64;
    for page in 1..=MAX_PAGES as i64 {
        let url = url_for(
            &kibana_base(t),
            k("siem.elastic.package_policies"),
            &[("kuery", kuery.clone()), ("page", page.to_string())],
        );
        let rec = record(
            k("siem.elastic.package_policies"),
            &label,
            &url,
            (page - 1) as u32,
        );
        let (rec, body) = get(kb, cred, rec, "items", opts).await;
        out.push(rec);
        let Some(v) = body else { break };
        let items = raw::arr(&v, &["items"]);
        for p in items.iter() {
            policies.extend(agent_policies(p));
        }
        seen += items.len() as i64;
        let total = i(&v, &["total"]).unwrap_or(0);
        // A server may cap perPage below what was asked: follow pages until `total` is reached
        // (a short page is not the end; the evidence check compares against `total` too).
        if items.is_empty() || seen >= total {
            break;
        }
    }
    for policy in policies {
        let url = url_for(
            &kibana_base(t),
            k("siem.elastic.agent_status"),
            &[("policy", policy.clone())],
        );
        let rec = record(
            k("siem.elastic.agent_status"),
            &format!("{label}/{policy}"),
            &url,
            0,
        );
        let (rec, _) = get(kb, cred, rec, "results", opts).await;
        out.push(rec);
    }
    let url = url_for(&t.url, k("siem.elastic.data_stream_stats"), &[]);
    let rec = record(k("siem.elastic.data_stream_stats"), &label, &url, 0);
    let (rec, _) = get(es, cred, rec, "data_streams", opts).await;
    out.push(rec);
    out
}

// ---- normaliser -------------------------------------------------------------------------

/// A var's value: `{type, value}` or a bare value.
fn var<'a>(vars: Option<&'a Value>, name: &str) -> Option<&'a Value> {
    let v = vars?.get(name)?;
    match v.get("value") {
        Some(x) => Some(x),
        None if v.is_object() => None,
        None => Some(v),
    }
}

/// Whether a scope declares the var but leaves it unset (`{"type": "text"}` or a null value):
/// then the integration's documented default applies. A var no scope names is unknown.
fn declared_unset(scopes: &[Option<&Value>], name: &str) -> bool {
    let declared = scopes
        .iter()
        .any(|vars| vars.and_then(|v| v.get(name)).is_some());
    declared
        && scopes
            .iter()
            .all(|vars| var(*vars, name).is_none_or(|x| x.is_null() || x.as_str() == Some("")))
}

fn var_str(scopes: &[Option<&Value>], name: &str) -> Option<String> {
    // The innermost scope that sets it wins (stream, then input, then package policy).
    scopes.iter().find_map(|vars| {
        var(*vars, name)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(str::to_string)
    })
}

/// `content_types`: a comma-separated string (the default) or a list.
fn content_types(scopes: &[Option<&Value>]) -> Option<Vec<String>> {
    let v = scopes
        .iter()
        .find_map(|vars| var(*vars, "content_types").filter(|x| !x.is_null()))?;
    let parts: Vec<String> = match v {
        Value::String(x) => x.split(',').map(|p| p.trim().to_string()).collect(),
        Value::Array(a) => a
            .iter()
            .filter_map(|p| p.as_str().map(|x| x.trim().to_string()))
            .collect(),
        _ => return None,
    };
    Some(
        parts
            .iter()
            .filter_map(|p| super::normalize::content_type_of_filter(p))
            .map(str::to_string)
            .collect(),
    )
}

/// The guide's log type a data stream (dataset) carries.
fn log_type_of_dataset(dataset: &str) -> Option<&'static str> {
    match dataset {
        "azure.signinlogs" => Some("entra_signin"),
        "azure.auditlogs" => Some("entra_audit"),
        "m365_defender.event" | "m365_defender.alert" | "m365_defender.incident" => {
            Some("defender_alerts")
        }
        _ => None,
    }
}

/// Agent health of a package policy from its agent policies' `agent_status` results.
fn agent_health(
    input: &Input<'_>,
    label: &str,
    policies: &[String],
) -> (String, Option<String>, Vec<String>) {
    if policies.is_empty() {
        return (
            "unknown".into(),
            None,
            vec!["the policy names no agent policy".into()],
        );
    }
    let (mut total, mut online, mut error, mut offline) = (0, 0, 0, 0);
    for p in policies {
        let scope = format!("{label}/{p}");
        let Some(l) = input
            .listings("siem.elastic.agent_status")
            .find(|l| l.scope.as_deref() == Some(scope.as_str()))
        else {
            return (
                "unknown".into(),
                None,
                vec![format!("agent status of {p} not read")],
            );
        };
        let Some((item, body)) = l.bodies().first().copied().filter(|_| l.complete()) else {
            return (
                "unknown".into(),
                None,
                vec![format!("agent status of {p} not read")],
            );
        };
        let n = |k: &str| i(body, &["results", k]);
        // Newer Kibana drops `total` (it keeps `all`); `error` counts degraded agents too.
        match (n("online"), n("error"), n("offline")) {
            (Some(on), Some(er), Some(off)) => {
                let t = n("total").or(n("all")).unwrap_or(on + er + off);
                total += t;
                online += on;
                error += er;
                offline += off;
            }
            _ => {
                input.malformed(
                    "siem.elastic.agent_status",
                    item,
                    "`results` lacks total, online, error or offline",
                );
                return ("unknown".into(), None, vec![]);
            }
        }
    }
    let raw = format!("agents: {total} total, {online} online, {error} error, {offline} offline");
    let health = if total == 0 {
        "never_ran"
    } else if error > 0 || online == 0 {
        "error"
    } else if offline > 0 {
        "warn"
    } else {
        "ok"
    };
    (health.into(), Some(raw.clone()), vec![raw])
}

/// `maximum_timestamp` per data stream, when the stats were read completely.
fn stream_times(input: &Input<'_>, label: &str) -> Option<Vec<(String, Option<i64>)>> {
    let l = input
        .listings("siem.elastic.data_stream_stats")
        .find(|l| l.scope.as_deref() == Some(label))?;
    if !l.complete() {
        return None;
    }
    // The stats of a wildcard that matched nothing are a complete, empty answer.
    let mut out = Vec::new();
    for (item, v) in &l.elements() {
        if !input.require(
            "siem.elastic.data_stream_stats",
            item,
            v,
            &[&["data_stream"]],
        ) {
            return None;
        }
        out.push((
            s(v, &["data_stream"]).unwrap_or_default(),
            i(v, &["maximum_timestamp"]),
        ));
    }
    Some(out)
}

pub fn inputs(
    input: &Input<'_>,
    t: &SiemTarget,
) -> Result<(Vec<SiemInput>, Vec<SiemProduct>), EvidenceStatus> {
    let label = t.label();
    let kind = "siem.elastic.package_policies";
    let listing = input
        .listings(kind)
        .find(|l| l.scope.as_deref() == Some(label.as_str()))
        .ok_or(EvidenceStatus::NotCollected)?;
    if !listing.complete() {
        return Err(listing.status);
    }
    let mut whole = true;
    for (item, v) in &listing.elements() {
        whole &= input.require(
            kind,
            item,
            v,
            &[&["id"], &["name"], &["package", "name"], &["inputs"]],
        );
    }
    if !whole {
        return Err(EvidenceStatus::Error);
    }
    let policies: Vec<&Value> = listing.elements().iter().map(|(_, v)| *v).collect();
    let streams = stream_times(input, &label);
    let freshness = input.config.thresholds.freshness_hours as f64;
    let mut out = Vec::new();
    let mut products: Vec<SiemProduct> = Vec::new();
    for p in policies {
        let package = s(p, &["package", "name"]).unwrap_or_default();
        if !PACKAGES.contains(&package.as_str()) {
            continue;
        }
        let version = s(p, &["package", "version"]);
        if !products
            .iter()
            .any(|x| x.name == package && x.version == version)
        {
            products.push(SiemProduct {
                siem: label.clone(),
                role: "integration".into(),
                name: package.clone(),
                version: version.clone(),
                ..SiemProduct::default()
            });
        }
        let pid = s(p, &["id"]).unwrap_or_default();
        let pname = s(p, &["name"]).unwrap_or_default();
        let ns = s(p, &["namespace"]).unwrap_or_else(|| "default".into());
        let policy_enabled = p.get("enabled").and_then(Value::as_bool);
        let agent_policy_ids = agent_policies(p);
        let (health, health_raw, messages) = agent_health(input, &label, &agent_policy_ids);
        for inp in raw::arr(p, &["inputs"]) {
            let itype = s(inp, &["type"]).unwrap_or_default();
            let template = s(inp, &["policy_template"]).unwrap_or_else(|| itype.clone());
            let path = match (package.as_str(), itype.as_str()) {
                (_, "azure-eventhub") => "event_hub",
                ("o365", _) => "o365_api",
                ("m365_defender", _) => "graph",
                _ => continue,
            };
            let enabled = match (policy_enabled, inp.get("enabled").and_then(Value::as_bool)) {
                (Some(false), _) | (_, Some(false)) => Some(false),
                (Some(true), Some(true)) => Some(true),
                _ => None,
            };
            let on_streams: Vec<&Value> = raw::arr(inp, &["streams"])
                .iter()
                .filter(|st| st.get("enabled").and_then(Value::as_bool) != Some(false))
                .collect();
            let datasets: Vec<String> = on_streams
                .iter()
                .filter_map(|st| s(st, &["data_stream", "dataset"]))
                .collect();
            let first_stream_vars = on_streams.first().and_then(|st| st.get("vars"));
            let scopes = [first_stream_vars, inp.get("vars"), p.get("vars")];
            let mut binding = Binding::default();
            let mut log_types: Vec<String>;
            let mut known = true;
            // The guide's log types the enabled streams' datasets carry.
            let of_datasets: Vec<String> = datasets
                .iter()
                .filter_map(|d| log_type_of_dataset(d))
                .map(str::to_string)
                .collect();
            if path == "event_hub" {
                binding.hub = var_str(&scopes, "eventhub");
                // Unset means the integration's documented default.
                // Declared but unset means the integration's documented default [E1]; a policy
                // that does not name the var at all leaves the group unknown.
                binding.consumer_group = var_str(&scopes, "consumer_group").or_else(|| {
                    declared_unset(&scopes, "consumer_group").then(|| "$Default".to_string())
                });
                binding.namespace = var_str(&scopes, "eventhub_namespace")
                    .map(|n| n.trim_end_matches(".servicebus.windows.net").to_string());
                if binding.namespace.is_none() {
                    binding.hidden.push("namespace".into());
                }
                binding.tenant_id = var_str(&scopes, "tenant_id");
                binding.client_id = var_str(&scopes, "client_id");
                log_types = of_datasets.clone();
            } else if path == "o365_api" {
                binding.tenant_id =
                    var_str(&scopes, "azure_tenant_id").or_else(|| var_str(&scopes, "tenant_id"));
                binding.client_id = var_str(&scopes, "client_id");
                // Unset means the integration's default: all five content types [E2].
                // Declared but unset means the default, all five content types [E2]; not
                // named at all, they are unknown.
                binding.content_types = content_types(&scopes).or_else(|| {
                    declared_unset(&scopes, "content_types").then(|| {
                        [
                            "Audit.AzureActiveDirectory",
                            "Audit.Exchange",
                            "Audit.SharePoint",
                            "Audit.General",
                            "DLP.All",
                        ]
                        .iter()
                        .map(|c| c.to_string())
                        .collect()
                    })
                });
                log_types = binding
                    .content_types
                    .as_deref()
                    .map(super::normalize::log_types_of_content)
                    .unwrap_or_default();
                known = binding.content_types.is_some();
            } else {
                binding.tenant_id =
                    var_str(&scopes, "azure_tenant_id").or_else(|| var_str(&scopes, "tenant_id"));
                binding.client_id = var_str(&scopes, "client_id");
                log_types = of_datasets.clone();
                if log_types.iter().any(|l| l == "defender_alerts") {
                    log_types.push("mdca_alerts".into());
                }
            }
            log_types.sort();
            log_types.dedup();
            // The newest event of the data streams this input writes.
            let (last, read) = match &streams {
                None => (None, false),
                Some(all) => {
                    let names: Vec<String> =
                        datasets.iter().map(|d| format!("logs-{d}-{ns}")).collect();
                    let newest = all
                        .iter()
                        .filter(|(n, _)| names.iter().any(|x| x == n))
                        .filter_map(|(_, t)| *t)
                        .filter(|ms| *ms > 0)
                        .max()
                        .and_then(|ms| Utc.timestamp_millis_opt(ms).single());
                    (newest, true)
                }
            };
            let mut x = SiemInput {
                siem: label.clone(),
                kind: "elastic".into(),
                id: format!("{pid}/{template}"),
                name: format!("{pname} › {template}"),
                path: path.into(),
                product: Some(package.clone()),
                parser: datasets.first().cloned(),
                enabled,
                health: if enabled == Some(false) {
                    "disabled".into()
                } else {
                    health.clone()
                },
                health_raw: health_raw.clone(),
                health_messages: messages.clone(),
                last_event_at: last.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
                hours_since_last_event: last.map(|t| input.hours_since(t)),
                log_types_known: known && (path != "event_hub" || !datasets.is_empty()),
                log_types,
                binding,
                ..SiemInput::default()
            };
            if read {
                let w = super::normalize::window_hours(&x.path, freshness);
                x.fresh = Some(x.hours_since_last_event.is_some_and(|h| h >= 0.0 && h <= w));
            }
            out.push(x);
        }
    }
    Ok((out, products))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_vars_are_removed_and_references_kept() {
        let mut v = json!({"items": [{"vars": {
            "connection_string": {"type": "password", "value": "Endpoint=sb://ns/;SharedAccessKey=abc"},
            "storage_account_key": {"type": "password", "value": {"isSecretRef": true, "id": "ref1"}},
            "eventhub": {"type": "text", "value": "insights-logs"}
        }, "inputs": [{"streams": [{"vars": {"client_secret": {"value": "s3cr3t"}}}]}]}]});
        assert_eq!(scrub_vars(&mut v), 2);
        let text = v.to_string();
        assert!(!text.contains("abc") && !text.contains("s3cr3t"));
        assert!(text.contains("ref1") && text.contains("insights-logs"));
    }

    #[test]
    fn compiled_config_is_removed() {
        let mut v = json!({"items": [{"inputs": [{"compiled_input": {"connection_string": "Endpoint=sb://x;SharedAccessKey=abc"},
            "streams": [{"compiled_stream": {"storage_account_key": "a2V5"}}]}]}]});
        assert_eq!(scrub_vars(&mut v), 2);
        assert!(!v.to_string().contains("abc") && !v.to_string().contains("a2V5"));
    }

    #[test]
    fn a_default_applies_only_to_a_declared_unset_var() {
        let unset = json!({"consumer_group": {"type": "text"}});
        assert!(declared_unset(&[Some(&unset)], "consumer_group"));
        let absent = json!({"eventhub": {"value": "h"}});
        assert!(!declared_unset(&[Some(&absent)], "consumer_group"));
        let set = json!({"consumer_group": {"value": "elastic-cg"}});
        assert!(!declared_unset(&[Some(&set)], "consumer_group"));
    }

    #[test]
    fn content_types_read_either_form() {
        let a = json!({"content_types": {"value": "Audit.Exchange, DLP.All"}});
        assert_eq!(
            content_types(&[Some(&a)]).unwrap(),
            vec!["Audit.Exchange", "DLP.All"]
        );
        let b = json!({"content_types": {"value": ["Audit.General"]}});
        assert_eq!(content_types(&[Some(&b)]).unwrap(), vec!["Audit.General"]);
    }
}
