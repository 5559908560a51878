//! Azure Monitor's batched metrics read, `POST {region}.metrics.monitor.azure.com/subscriptions/
//! {sub}/metrics:getBatch`, played from the fixture's per-namespace metrics answers.
//!
//! Shapes from MicrosoftDocs/azure-docs `articles/azure-monitor/essentials/migrate-to-batch-api.md`
//! (@022108f9) and `../shared/reference/consumer-health.md` §6.2: the body is
//! `{"resourceids":[...]}` (at most 50, one subscription), the answer `{"values":[...]}`, each
//! entry one resource's metrics response plus `resourceid`, `namespace` and `resourceregion`; a
//! request sent to another region's host gets empty series; an entry has the published keys
//! (`starttime`, `endtime`, `interval` in place of `timespan`, no `cost`). Not documented, so chosen here and
//! said so: a resource the fixture does not know is left out of `values`; throttling is 529
//! with `{"error":{"code":"TooManyRequests"}}` and no `Retry-After`.

use std::collections::HashMap;

use serde_json::{json, Value};

use super::fixture::{key_of, Fixture};

/// `/metrics/{region}/subscriptions/{guid}/metrics:getBatch`: the mock serves the regional
/// hosts path-style below its one origin (`endpoints.metrics_batch = "<base>/metrics/{region}"`).
pub fn region_of(path: &str) -> Option<(&str, &str)> {
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    (segs.len() == 5
        && segs[0] == "metrics"
        && segs[2] == "subscriptions"
        && segs[4] == "metrics:getBatch")
        .then(|| (segs[1], segs[3]))
}

/// Each namespace's region (lower case, no spaces), from the fixture's namespace listings.
pub fn namespace_regions(fixture: &Fixture) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for e in fixture
        .entries
        .values()
        .filter(|e| e.kind == "arm.eventhub.namespaces" && e.status < 300)
    {
        let Ok(v) = serde_json::from_slice::<Value>(&e.body) else {
            continue;
        };
        for ns in v["value"].as_array().into_iter().flatten() {
            if let (Some(id), Some(loc)) = (ns["id"].as_str(), ns["location"].as_str()) {
                out.insert(
                    id.to_ascii_lowercase(),
                    loc.replace(' ', "").to_ascii_lowercase(),
                );
            }
        }
    }
    out
}

fn error(status: u16, code: &str, message: &str) -> (u16, Vec<u8>) {
    (
        status,
        serde_json::to_vec(&json!({"error": {"code": code, "message": message}})).expect("json"),
    )
}

/// The answer to one batched read: status and body.
pub fn answer(
    fixture: &Fixture,
    regions: &HashMap<String, String>,
    region: &str,
    sub: &str,
    query: &str,
    body: &[u8],
) -> (u16, Vec<u8>) {
    let q: HashMap<String, String> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    if q.get("api-version").map(String::as_str) != Some("2023-10-01") {
        return error(
            400,
            "InvalidApiVersion",
            "api-version 2023-10-01 is required (mock)",
        );
    }
    for k in ["metricnamespace", "metricnames", "starttime", "endtime"] {
        if !q.contains_key(k) {
            return error(400, "BadRequest", &format!("{k} is required (mock)"));
        }
    }
    if q.keys().any(|k| k.starts_with('$')) {
        return error(
            400,
            "BadRequest",
            "the batch API takes filter and top without $ (mock)",
        );
    }
    let Ok(Value::Object(o)) = serde_json::from_slice::<Value>(body) else {
        return error(400, "BadRequest", "the body must be a JSON object (mock)");
    };
    let Some(Value::Array(ids)) = o.get("resourceids") else {
        return error(400, "BadRequest", "resourceids is required (mock)");
    };
    if ids.is_empty() || ids.len() > 50 || o.len() != 1 {
        return error(
            400,
            "BadRequest",
            "1 to 50 resourceids and nothing else (mock)",
        );
    }
    let under = format!("/subscriptions/{}/", sub.to_ascii_lowercase());
    let mut values = Vec::new();
    for id in ids {
        let Some(id) = id.as_str() else {
            return error(400, "BadRequest", "resourceids must be strings (mock)");
        };
        if !id.to_ascii_lowercase().starts_with(&under) {
            return error(
                400,
                "BadRequest",
                "every resource must be in the request's subscription (mock)",
            );
        }
        let key = key_of(&format!("{id}/providers/Microsoft.Insights/metrics"));
        let Some(entry) = fixture.entries.get(&key).filter(|e| e.status < 300) else {
            continue;
        };
        let Ok(Value::Object(mut one)) = serde_json::from_slice::<Value>(&entry.body) else {
            continue;
        };
        let home = regions.get(&id.to_ascii_lowercase());
        if home.is_some_and(|h| h != region) {
            // Asked at another region's host: the series come back empty.
            if let Some(Value::Array(metrics)) = one.get_mut("value") {
                for m in metrics.iter_mut() {
                    m["timeseries"] = json!([]);
                }
            }
        }
        // The batch's entries give the window as starttime/endtime (MetricBatchExample.json),
        // not the per-resource response's timespan.
        one.remove("timespan");
        // `cost` is the per-resource response's; the batch entry has none.
        one.remove("cost");
        for k in ["starttime", "endtime", "interval"] {
            if let Some(v) = q.get(k) {
                one.insert(k.into(), Value::String(v.clone()));
            }
        }
        one.insert("resourceid".into(), Value::String(id.to_string()));
        one.insert(
            "namespace".into(),
            Value::String("microsoft.eventhub/namespaces".into()),
        );
        one.insert("resourceregion".into(), Value::String(region.to_string()));
        values.push(Value::Object(one));
    }
    (
        200,
        serde_json::to_vec(&json!({ "values": values })).expect("json"),
    )
}
