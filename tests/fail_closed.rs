//! Fail closed under mutation: less evidence never makes a check pass.
//!
//! Every fixture tenant is audited once as it is, then once per mutation of its raw Microsoft
//! responses: each field removed, each value set to `null`, each list emptied, each id pointed
//! at another parent, and each response replaced by a 404, an empty list, a `null` body, a
//! 403, a 429, a 500 or nothing at all (a missing page). No check may go from any other status
//! to `pass` under a mutation, except the few listed in `GENUINE` where the mutated body really
//! describes a tenant in which the requirement holds (each with its reason).
//!
//! The mutations are enumerated, not sampled, so the test is deterministic; the count is
//! printed (`cargo test --test fail_closed -- --nocapture`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde_json::Value;
use siemproof::audit;
use siemproof::catalog::Catalog;
use siemproof::evidence::{Body, Bundle, ItemError};
use siemproof::results::Status;

const TENANTS: &[&str] = &[
    "contoso-demo",
    "contoso-compliant",
    "fabrikam-misconfigured",
    "woodgrove-restricted",
];

/// Transitions to `pass` that are right because the mutated body is complete evidence of
/// another tenant, one in which the requirement holds: (check, mutation, where, why). `where`
/// is matched against the end of the mutated path.
const GENUINE: &[(&str, &str, &str, &str)] = &[
    (
        "CONSUMER-ONE-READER",
        "drop",
        "blob.checkpoints.xml.Blob[0]",
        "fabrikam without QRadar's lease blob: the Elastic pilot is the group's only reader",
    ),
    (
        "CONSUMER-ONE-READER",
        "no-lease",
        "blob.checkpoints.xml.Blob[0]",
        "QRadar's lease lapsed (available): only the Elastic pilot holds the partition",
    ),
    (
        "CONSUMER-ONE-READER",
        "empty-list",
        "blob.checkpoints.xml.Blobs",
        "a first page without QRadar's lease: the Elastic pilot's ownership on page 2 is the only one",
    ),
    (
        "CONSUMER-ONE-READER",
        "drop",
        "blob.checkpoints.1.xml.Blob[0]",
        "fabrikam without the Elastic pilot's ownership blob: QRadar is the group's only reader",
    ),
    (
        "CONSUMER-ONE-READER",
        "empty-list",
        "blob.checkpoints.1.xml.Blobs",
        "a second page without the Elastic pilot's ownership: QRadar is the only reader",
    ),
    (
        "CONSUMER-KNOWN-GROUPS",
        "empty-list",
        "blob.checkpoints.1.xml.Blobs",
        "without the second page, no checkpoint of the deleted qradar-cg group remains",
    ),
    (
        "SIEM-INPUT-ENABLED",
        "empty-list",
        "siem.qradar.log_sources.json",
        "a QRadar console with no Microsoft log source: the other SIEM's input (fabrikam's Elastic pilot) is enabled",
    ),
    (
        "SIEM-INPUT-HEALTHY",
        "empty-list",
        "siem.qradar.log_sources.json",
        "as above: the remaining input's agents are online",
    ),
    (
        "SIEM-INPUT-FRESH",
        "empty-list",
        "siem.qradar.log_sources.json",
        "as above: the remaining input's data streams are recent",
    ),
    (
        "SIEM-NO-SHARED-CG",
        "empty-list",
        "siem.qradar.log_sources.json",
        "as above: with the QRadar sources gone, the remaining input is the only reader of its group",
    ),
    (
        "COV-DOUBLE-COLLECTION",
        "empty",
        "arm.aadiam.diagnostic_settings.json.value",
        "no Entra diagnostic setting at all: the Event Hub path is not configured, so nothing is collected twice",
    ),
    (
        "COV-DOUBLE-COLLECTION",
        "empty-list",
        "arm.aadiam.diagnostic_settings.json",
        "as above, as a whole empty response",
    ),
    (
        "COV-DOUBLE-COLLECTION",
        "empty-list",
        "o365.subscriptions.json",
        "no Management Activity API subscription: the REST path is not configured",
    ),
    (
        "COV-DOUBLE-COLLECTION",
        "empty",
        ".properties.logs",
        "a setting that sends no category streams nothing",
    ),
    (
        "ENTRA-NO-DUPLICATE-CATEGORY",
        "empty",
        ".properties.logs",
        "a setting that sends no category sends none twice",
    ),
    (
        "COV-DOUBLE-COLLECTION",
        "",
        ".properties.eventHubAuthorizationRuleId",
        "without (or with another) Event Hub rule the setting streams elsewhere: another, complete configuration",
    ),
    (
        "ENTRA-NO-DUPLICATE-CATEGORY",
        "",
        ".properties.eventHubAuthorizationRuleId",
        "as above",
    ),
    (
        "COV-DOUBLE-COLLECTION",
        "",
        ".properties.eventHubName",
        "without eventHubName each category goes to its own insights-logs-<category> hub, as Azure does",
    ),
    (
        "ENTRA-NO-DUPLICATE-CATEGORY",
        "",
        ".properties.eventHubName",
        "as above: the two settings then write to different hubs",
    ),
    (
        "APP-NO-WRITE",
        "empty",
        "graph.app_role_assignments.json.value",
        "no app role assignment: the app holds no application permission, so it cannot write",
    ),
    (
        "APP-NO-WRITE",
        "empty-list",
        "graph.app_role_assignments.json",
        "as above",
    ),
    (
        "APP-NO-DELEGATED-ONLY",
        "empty",
        "graph.oauth2_permission_grants.json.value",
        "no delegated grant: nothing is granted only as delegated",
    ),
    (
        "APP-NO-DELEGATED-ONLY",
        "empty-list",
        "graph.oauth2_permission_grants.json",
        "as above",
    ),
    (
        "APP-CERT-PREFERRED",
        "empty",
        ".passwordCredentials",
        "no client secret at all: certificates only",
    ),
    (
        "APP-CONSENTED",
        "empty",
        ".requiredResourceAccess",
        "nothing requested, so nothing lacks consent",
    ),
    (
        "APP-CONSENTED",
        "empty",
        ".resourceAccess",
        "nothing requested of that API",
    ),
];

fn dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/tenants")
        .join(name)
}

struct Auditor {
    catalog: Catalog,
    as_of: DateTime<Utc>,
}

impl Auditor {
    fn statuses(&self, bundle: &Bundle) -> BTreeMap<String, Status> {
        let (_, checks) =
            audit::evaluate_bundle(bundle, &self.catalog, self.as_of).expect("evaluates");
        checks.into_iter().map(|c| (c.id, c.status)).collect()
    }
}

/// A JSON path as a list of steps.
#[derive(Clone, Debug)]
enum Step {
    Key(String),
    Index(usize),
}

fn paths(v: &Value, here: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                here.push(Step::Key(k.clone()));
                out.push(here.clone());
                paths(x, here, out);
                here.pop();
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                here.push(Step::Index(i));
                out.push(here.clone());
                paths(x, here, out);
                here.pop();
            }
        }
        _ => {}
    }
}

fn show(p: &[Step]) -> String {
    p.iter()
        .map(|s| match s {
            Step::Key(k) => format!(".{k}"),
            Step::Index(i) => format!("[{i}]"),
        })
        .collect()
}

/// The parent of `p` and the last step, mutably.
fn at<'a>(v: &'a mut Value, p: &[Step]) -> Option<&'a mut Value> {
    let mut cur = v;
    for s in p {
        cur = match s {
            Step::Key(k) => cur.as_object_mut()?.get_mut(k)?,
            Step::Index(i) => cur.as_array_mut()?.get_mut(*i)?,
        };
    }
    Some(cur)
}

/// Points an id at another parent: the name after a parent segment gets a suffix, and a bare
/// GUID becomes another GUID.
fn other_parent(id: &str) -> Option<String> {
    let lower = id.to_ascii_lowercase();
    for seg in ["/namespaces/", "/storageaccounts/", "/eventhubs/"] {
        if let Some(i) = lower.find(seg) {
            let start = i + seg.len();
            let end = id[start..].find('/').map_or(id.len(), |e| start + e);
            return Some(format!("{}-other{}", &id[..end], &id[end..]));
        }
    }
    let guid = id.len() == 36 && id.chars().filter(|c| *c == '-').count() == 4;
    guid.then(|| "99999999-9999-4999-8999-999999999999".to_string())
}

type Mutation = (String, Box<dyn Fn(&mut Bundle)>);

/// Every mutation of one item's body.
fn body_mutations(index: usize, label: &str, body: &Value) -> Vec<Mutation> {
    let mut all = Vec::new();
    paths(body, &mut Vec::new(), &mut all);
    let mut out: Vec<Mutation> = Vec::new();
    let edit = |p: Vec<Step>, f: fn(&mut Value, &Step) -> bool| -> Box<dyn Fn(&mut Bundle)> {
        Box::new(move |b: &mut Bundle| {
            if let Some(Body::Json(v)) = &mut b.items[index].body {
                let (last, parent) = p.split_last().expect("non-empty path");
                if let Some(parent) = at(v, parent) {
                    f(parent, last);
                }
            }
        })
    };
    for p in all {
        let name = format!("{label}{}", show(&p));
        if let Some(Step::Key(_)) = p.last() {
            out.push((
                format!("remove {name}"),
                edit(p.clone(), |parent, last| match last {
                    Step::Key(k) => parent.as_object_mut().and_then(|o| o.remove(k)).is_some(),
                    Step::Index(_) => false,
                }),
            ));
        }
        out.push((
            format!("null {name}"),
            edit(p.clone(), |parent, last| {
                let slot = match last {
                    Step::Key(k) => parent.as_object_mut().and_then(|o| o.get_mut(k)),
                    Step::Index(i) => parent.as_array_mut().and_then(|a| a.get_mut(*i)),
                };
                slot.map(|s| *s = Value::Null).is_some()
            }),
        ));
        let mut probe = body.clone();
        let target = at(&mut probe, &p).cloned();
        if let Some(Value::Array(a)) = &target {
            if !a.is_empty() {
                out.push((
                    format!("empty {name}"),
                    edit(p.clone(), |parent, last| {
                        let slot = match last {
                            Step::Key(k) => parent.as_object_mut().and_then(|o| o.get_mut(k)),
                            Step::Index(i) => parent.as_array_mut().and_then(|a| a.get_mut(*i)),
                        };
                        slot.map(|s| *s = Value::Array(vec![])).is_some()
                    }),
                ));
            }
        }
        let is_id = matches!(p.last(), Some(Step::Key(k)) if k == "id" || k.ends_with("Id"));
        if let (true, Some(Value::String(s))) = (is_id, &target) {
            if let Some(other) = other_parent(s) {
                let p2 = p.clone();
                out.push((
                    format!("mismatch {name}"),
                    Box::new(move |b: &mut Bundle| {
                        if let Some(Body::Json(v)) = &mut b.items[index].body {
                            if let Some(slot) = at(v, &p2) {
                                *slot = Value::String(other.clone());
                            }
                        }
                    }),
                ));
            }
        }
    }
    out
}

/// The spans of every `<tag>…</tag>` in `text`, in order.
fn spans(text: &str, tag: &str) -> Vec<(usize, usize)> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(a) = text[from..].find(&open).map(|i| i + from) {
        let Some(b) = text[a..].find(&close).map(|i| i + a + close.len()) else {
            break;
        };
        out.push((a, b));
        from = b;
    }
    out
}

/// Mutations of an XML body (the Blob service's listing): each blob dropped, stripped of its
/// metadata, of its date or of its lease; every blob removed; the listing cut short.
fn xml_mutations(index: usize, label: &str, text: &str) -> Vec<Mutation> {
    let mut out: Vec<Mutation> = Vec::new();
    let set = |f: Box<dyn Fn(&str) -> String>| -> Box<dyn Fn(&mut Bundle)> {
        Box::new(move |b: &mut Bundle| {
            if let Some(Body::Text(t)) = &mut b.items[index].body {
                *t = f(t);
            }
        })
    };
    for (i, (a, z)) in spans(text, "Blob").into_iter().enumerate() {
        let name = format!("{label}.Blob[{i}]");
        out.push((
            format!("drop {name}"),
            set(Box::new(move |t: &str| format!("{}{}", &t[..a], &t[z..]))),
        ));
        for (verb, tag, with) in [
            ("strip-metadata", "Metadata", "<Metadata></Metadata>"),
            ("no-date", "Last-Modified", ""),
            (
                "no-lease",
                "LeaseState",
                "<LeaseState>available</LeaseState>",
            ),
        ] {
            let Some((x, y)) = spans(&text[a..z], tag).first().map(|(x, y)| (a + x, a + y)) else {
                continue;
            };
            out.push((
                format!("{verb} {name}"),
                set(Box::new(move |t: &str| {
                    format!("{}{with}{}", &t[..x], &t[y..])
                })),
            ));
        }
    }
    if let Some((a, z)) = spans(text, "Blobs").first().copied() {
        out.push((
            format!("empty-list {label}.Blobs"),
            set(Box::new(move |t: &str| {
                format!("{}<Blobs></Blobs>{}", &t[..a], &t[z..])
            })),
        ));
    }
    out.push((
        format!("truncate {label}"),
        set(Box::new(|t: &str| {
            t.replace("<NextMarker />", "<NextMarker>2!96!MUTATED</NextMarker>")
        })),
    ));
    out
}

fn failed(b: &mut Bundle, index: usize, status: u16, code: &str) {
    let it = &mut b.items[index];
    it.body = None;
    it.item.status = Some(status);
    it.item.error = Some(ItemError {
        code: code.into(),
        message: format!("mutated to HTTP {status}"),
    });
}

/// Whole-response mutations of one item.
fn item_mutations(index: usize, label: &str, bare_array: bool) -> Vec<Mutation> {
    let mut out: Vec<Mutation> = Vec::new();
    for (status, code) in [
        (404u16, "NotFound"),
        (403, "AuthorizationFailed"),
        (429, "TooManyRequests"),
        (500, "InternalServerError"),
    ] {
        out.push((
            format!("{status} {label}"),
            Box::new(move |b: &mut Bundle| failed(b, index, status, code)),
        ));
    }
    let empty = if bare_array {
        Value::Array(vec![])
    } else {
        serde_json::json!({"value": []})
    };
    out.push((
        format!("empty-list {label}"),
        Box::new(move |b: &mut Bundle| b.items[index].body = Some(Body::Json(empty.clone()))),
    ));
    out.push((
        format!("null-body {label}"),
        Box::new(move |b: &mut Bundle| b.items[index].body = Some(Body::Json(Value::Null))),
    ));
    // A listing cut short: the page names a next page the bundle does not hold.
    out.push((
        format!("truncate {label}"),
        Box::new(move |b: &mut Bundle| {
            let it = &mut b.items[index];
            let next = "https://management.azure.com/next?$skiptoken=x".to_string();
            if let Some(Body::Json(Value::Object(o))) = &mut it.body {
                o.insert("nextLink".into(), Value::String(next.clone()));
                o.insert("@odata.nextLink".into(), Value::String(next.clone()));
            }
            it.item
                .headers
                .get_or_insert_with(Default::default)
                .insert("NextPageUri".into(), next);
        }),
    ));
    out.push((
        format!("drop {label}"),
        Box::new(move |b: &mut Bundle| {
            b.items.remove(index);
            b.manifest.items.remove(index);
        }),
    ));
    out
}

#[test]
fn no_mutation_of_the_evidence_turns_a_verdict_into_a_pass() {
    let auditor = Auditor {
        catalog: Catalog::load(&[]).expect("embedded catalogue"),
        as_of: "2026-11-20T12:00:00Z".parse().expect("clock"),
    };
    let mut tried = 0usize;
    let mut violations = Vec::new();
    for tenant in TENANTS {
        let pristine = Bundle::open(&dir(tenant), false).expect("fixture verifies");
        let base = auditor.statuses(&pristine);
        let mut mutations: Vec<Mutation> = Vec::new();
        for (index, it) in pristine.items.iter().enumerate() {
            let kind = it.item.kind.as_str();
            if matches!(kind, "config" | "attestation") {
                continue;
            }
            let label = it
                .item
                .path
                .clone()
                .unwrap_or_else(|| format!("{kind}#{index}"));
            match &it.body {
                Some(Body::Json(v)) => {
                    mutations.extend(body_mutations(index, &label, v));
                    mutations.extend(item_mutations(index, &label, v.is_array()));
                }
                Some(Body::Text(t)) => {
                    mutations.extend(xml_mutations(index, &label, t));
                    mutations.extend(item_mutations(index, &label, false));
                }
                None => {}
            }
        }
        for (name, mutate) in &mutations {
            let mut b = Bundle {
                root: pristine.root.clone(),
                manifest: pristine.manifest.clone(),
                manifest_sha256: pristine.manifest_sha256.clone(),
                items: pristine.items.clone(),
                problems: vec![],
            };
            mutate(&mut b);
            tried += 1;
            let after = auditor.statuses(&b);
            for (check, st) in &after {
                let before = base.get(check).copied();
                if *st == Status::Pass && before != Some(Status::Pass) {
                    let (verb, path) = name.split_once(' ').unwrap_or(("", name));
                    let genuine = GENUINE.iter().any(|(c, v, w, _)| {
                        c == check && (v.is_empty() || v == &verb) && path.ends_with(w)
                    });
                    if !genuine {
                        violations.push(format!(
                            "{tenant}: {check} went from {:?} to pass under `{name}`",
                            before
                        ));
                    }
                }
            }
        }
    }
    println!("fail-closed mutations tried: {tried}");
    assert!(
        violations.is_empty(),
        "{} wrong pass(es) in {tried} mutations:\n{}",
        violations.len(),
        violations.join("\n")
    );
}
