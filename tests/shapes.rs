//! Microsoft's own published response bodies (`fixtures/shapes/`), run through the normaliser
//! and the whole catalogue.
//!
//! Each body is put in place of that kind's first response in the compliant fixture tenant.
//! Two things must hold: the documented quirk of the body is handled as the table below says,
//! and no check that reads the kind passes unless the shape's `.toml` names it in `supports`
//! (with the reason in `supports_why`): a pass must come from what the body says, never from
//! what it leaves out.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;
use siemproof::audit;
use siemproof::catalog::Catalog;
use siemproof::evidence::{Body, Bundle, EvidenceStatus};
use siemproof::normalize::model::Model;
use siemproof::results::Status;

#[derive(Deserialize)]
#[allow(dead_code)]
struct Provenance {
    source: String,
    repo: String,
    path: String,
    #[serde(default)]
    commit: Option<String>,
    extracted: String,
    licence: String,
    #[serde(default)]
    api_version: Option<String>,
    #[serde(default)]
    quirks: Vec<String>,
    #[serde(default)]
    truncated: Option<bool>,
    #[serde(default)]
    edits: Option<String>,
    /// Checks that may pass with this body in place, because the body says what they assert.
    #[serde(default)]
    supports: Vec<String>,
    #[serde(default)]
    supports_why: Option<String>,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

fn shapes() -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    for kind in std::fs::read_dir(root().join("shapes")).expect("fixtures/shapes") {
        let kind = kind.expect("entry").path();
        if !kind.is_dir() {
            continue;
        }
        let name = kind.file_name().unwrap().to_string_lossy().to_string();
        for f in std::fs::read_dir(&kind).expect("kind dir") {
            let f = f.expect("entry").path();
            if f.extension().is_some_and(|e| e == "json") {
                out.push((name.clone(), f));
            }
        }
    }
    out.sort();
    out
}

/// The compliant tenant (fabrikam for Elastic, the SIEM only it reads) with `body` in place
/// of the first response of `kind`.
fn with_shape(kind: &str, body: &Value) -> Bundle {
    let tenant = if kind.starts_with("siem.elastic.") {
        "tenants/fabrikam-misconfigured"
    } else {
        "tenants/contoso-compliant"
    };
    let dir = root().join(tenant);
    let mut b = Bundle::open(&dir, false).expect("fixture verifies");
    let i = b
        .items
        .iter()
        .position(|i| i.item.kind == kind && i.body.is_some())
        .unwrap_or_else(|| panic!("{tenant} has no {kind} response"));
    b.items[i].body = Some(Body::Json(body.clone()));
    b
}

fn run(b: &Bundle, catalog: &Catalog) -> (Model, BTreeMap<String, Status>) {
    let (model, checks) =
        audit::evaluate_bundle(b, catalog, b.manifest.collected_at).expect("evaluates");
    (
        model,
        checks.into_iter().map(|c| (c.id, c.status)).collect(),
    )
}

type Expect = fn(&Model) -> Result<(), String>;

fn ensure(ok: bool, what: &str) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(what.to_string())
    }
}

fn elastic_input(m: &Model) -> Result<&siemproof::siem::model::SiemInput, String> {
    m.siem
        .inputs
        .as_ref()
        .and_then(|v| v.iter().find(|i| i.kind == "elastic"))
        .ok_or_else(|| "the Elastic input".to_string())
}

fn state(m: &Model, kind: &str) -> EvidenceStatus {
    m.evidence.get(kind).map(|s| s.status).expect("kind state")
}

/// The documented quirk of each body, and how the model must read it.
fn expectations() -> BTreeMap<&'static str, Expect> {
    let mut e: BTreeMap<&'static str, Expect> = BTreeMap::new();
    e.insert("arm.eventhub.eventhubs/compact-put-2024-01-01.json", |m| {
        // A hub of another namespace returned by the request for ours: kept, reported.
        ensure(
            state(m, "arm.eventhub.eventhubs") == EvidenceStatus::Inconsistent,
            "a hub whose id names another namespace makes the listing inconsistent",
        )?;
        let hubs = m
            .eventhub
            .namespace
            .as_ref()
            .unwrap()
            .hubs
            .as_ref()
            .unwrap();
        let h = hubs
            .iter()
            .find(|h| h.name == "sdk-EventHub-10")
            .ok_or("hub kept")?;
        ensure(
            h.retention_unlimited == Some(true),
            "retentionTimeInHours -1 is unlimited",
        )?;
        ensure(
            h.cleanup_policy.as_deref() == Some("Compact"),
            "cleanupPolicy read",
        )
    });
    e.insert("arm.eventhub.eventhubs/list-2021-11-01.json", |m| {
        let ns = m.eventhub.namespace.as_ref().unwrap();
        let h = &ns.hubs.as_ref().unwrap()[0];
        ensure(
            h.retention_days.is_some() && h.cleanup_policy.is_none(),
            "messageRetentionInDays read without a retentionDescription",
        )
    });
    e.insert(
        "arm.eventhub.metrics/per-metric-error-2018-01-01.json",
        |m| {
            let met = m
                .eventhub
                .namespace
                .as_ref()
                .unwrap()
                .metrics
                .as_ref()
                .unwrap();
            ensure(
                !met.errors.is_empty(),
                "a per-metric errorCode inside a 200 is kept",
            )
        },
    );
    e.insert(
        "arm.eventhub.metrics/missing-aggregate-slots-2018-01-01.json",
        |m| {
            let met = m
                .eventhub
                .namespace
                .as_ref()
                .unwrap()
                .metrics
                .as_ref()
                .unwrap();
            ensure(
                met.incoming_messages.is_none() && met.throttled_requests.is_none(),
                "slots without `total` are no figure, not zero",
            )?;
            let hub = m.eventhub.hub.as_ref().unwrap().metrics.as_ref().unwrap();
            ensure(
                hub.incoming_messages.is_none(),
                "no series for the configured hub: unknown, never the namespace total",
            )
        },
    );
    e.insert(
        "siem.elastic.data_stream_stats/spec-example-200.json",
        |m| {
            // Stats read completely, but no stream of the azure integration among them.
            let i = elastic_input(m)?;
            ensure(
                i.last_event_at.is_none() && i.fresh == Some(false),
                "no data stream of the input: never received, not fresh",
            )
        },
    );
    e.insert("siem.elastic.agent_status/ftr-current.json", |m| {
        // Newer Kibana drops `total`; 2 agents in error (degraded counts as error).
        let i = elastic_input(m)?;
        ensure(
            i.health == "error"
                && i.health_raw
                    .as_deref()
                    .is_some_and(|r| r.contains("2 error")),
            "agents in error make the input's health error",
        )
    });
    e.insert("siem.elastic.agent_status/ftr-with-total.json", |m| {
        let i = elastic_input(m)?;
        ensure(
            i.health == "error"
                && i.health_raw
                    .as_deref()
                    .is_some_and(|r| r.contains("8 total")),
            "the older body's `total` is read",
        )
    });
    e.insert("siem.elastic.package_policies/oas-example.json", |m| {
        let inputs = m.siem.inputs.as_ref().ok_or("inputs read")?;
        ensure(
            !inputs.iter().any(|i| i.kind == "elastic"),
            "an nginx policy is no Microsoft input",
        )
    });
    e.insert("siem.qradar.ariel_results/ibm-26.0-sample-200.json", |m| {
        let inputs = m.siem.inputs.as_ref().ok_or("inputs read")?;
        ensure(
            state(m, "siem.qradar.ariel_results") == EvidenceStatus::Error
                && inputs
                    .iter()
                    .filter(|i| i.kind == "qradar")
                    .all(|i| i.events_in_window.is_none() && i.unparsed_ratio.is_none()),
            "rows without logsourceid are malformed: counts unknown, never zero",
        )
    });
    e.insert("siem.splunk.search/sdk-java-results-v5.json", |m| {
        // Rows of another search in place of the tstats: no row names the hub.
        let inputs = m.siem.inputs.as_ref().ok_or("inputs read")?;
        let i = inputs
            .iter()
            .find(|i| i.kind == "splunk" && i.path == "event_hub")
            .ok_or("the Splunk Event Hub input")?;
        ensure(
            i.delivered.as_ref().is_some_and(|d| d.is_empty()) && i.fresh == Some(false),
            "a search that shows no event of the hub: nothing delivered, not fresh",
        )
    });
    e.insert("arm.storage.containers/list-2023-05-01.json", |m| {
        ensure(
            state(m, "arm.storage.containers") == EvidenceStatus::Incomplete,
            "a container listing that still names a nextLink is incomplete",
        )
    });
    e.insert("graph.applications/list-example1-docs.json", |m| {
        let a = &m.apps.items[0];
        ensure(
            a.credentials.is_none(),
            "no passwordCredentials/keyCredentials in the body: unknown, not none",
        )
    });
    e.insert("graph.oauth2_permission_grants/list-docs.json", |m| {
        ensure(
            state(m, "graph.oauth2_permission_grants") == EvidenceStatus::Inconsistent,
            "a grant for another client, returned by the request for ours, is reported",
        )
    });
    e.insert("o365.subscriptions/list-reference-doc.json", |m| {
        let listed_without_status = m
            .o365
            .content_types
            .iter()
            .any(|c| c.subscription.is_none() && c.enabled.is_none());
        ensure(
            listed_without_status,
            "a listed content type without `status` is unknown, not disabled",
        )
    });
    e.insert(
        "arm.aadiam.diagnostic_settings/aadiam-list-2017-04-01.json",
        |m| {
            let s = m.entra.settings.first().ok_or("setting read")?;
            ensure(
                s.id.starts_with('/'),
                "an id without its leading slash is normalised",
            )?;
            ensure(!s.workspace, "an empty workspaceId is no workspace")?;
            let e = s.event_hub.as_ref().ok_or("event hub target read")?;
            ensure(
                e.hub.as_deref() == Some("myeventhub") && e.rule_scope == "eventhub",
                "no eventHubName with a hub-level rule: the rule's own hub",
            )?;
            ensure(
                !e.to_configured && e.configured_categories.is_empty(),
                "another namespace is not the configured hub",
            )
        },
    );
    e
}

#[test]
fn microsoft_published_bodies_never_make_a_check_pass_on_what_they_lack() {
    let catalog = Catalog::load(&[]).expect("catalogue");
    let readers: BTreeMap<String, Vec<String>> = catalog.checks.iter().fold(
        BTreeMap::new(),
        |mut acc: BTreeMap<String, Vec<String>>, c| {
            // A manual check passes on its attestation, whatever the evidence holds.
            if c.check.manual {
                return acc;
            }
            for k in &c.check.evidence {
                acc.entry(k.clone()).or_default().push(c.check.id.clone());
            }
            // `siem.inputs` is derived from each SIEM's input listings: its readers read those.
            // The optional kinds (searches, agents, data streams) feed single facts of an
            // input, so their readers are the checks that judge those facts.
            if c.check.evidence.iter().any(|k| k == "siem.inputs") {
                let feeds: &[(&str, &[&str])] = &[
                    ("siem.qradar.ariel_search", &["SIEM-UNPARSED"]),
                    ("siem.qradar.ariel_results", &["SIEM-UNPARSED"]),
                    (
                        "siem.splunk.search",
                        &["SIEM-SPLUNK-SOURCE", "SIEM-INPUT-FRESH"],
                    ),
                    ("siem.elastic.agent_status", &["SIEM-INPUT-HEALTHY"]),
                    (
                        "siem.elastic.data_stream_stats",
                        &["SIEM-INPUT-FRESH", "SIEM-LOG-TYPE-ARRIVES"],
                    ),
                ];
                for k in siemproof::evidence::kinds::KINDS
                    .iter()
                    .filter(|k| k.name.starts_with("siem.") && k.name != "siem.inputs")
                {
                    let reads = match feeds.iter().find(|(f, _)| *f == k.name) {
                        Some((_, checks)) => checks.contains(&c.check.id.as_str()),
                        None => true,
                    };
                    if reads {
                        acc.entry(k.name.to_string())
                            .or_default()
                            .push(c.check.id.clone());
                    }
                }
            }
            acc
        },
    );
    let expect = expectations();
    let mut seen_expectations = 0;
    let mut problems = Vec::new();
    let all = shapes();
    assert!(all.len() >= 30, "the corpus holds {} bodies", all.len());
    for (kind, file) in &all {
        let rel = format!("{kind}/{}", file.file_name().unwrap().to_string_lossy());
        let meta: Provenance = toml::from_str(
            &std::fs::read_to_string(file.with_extension("toml"))
                .unwrap_or_else(|e| panic!("{rel}: provenance file: {e}")),
        )
        .unwrap_or_else(|e| panic!("{rel}: provenance: {e}"));
        assert!(
            meta.source.starts_with("https://"),
            "{rel}: source must be a URL"
        );
        let body: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap())
            .unwrap_or_else(|e| panic!("{rel}: not JSON: {e}"));
        let b = with_shape(kind, &body);
        let (model, statuses) = run(&b, &catalog);
        for check in readers.get(kind).into_iter().flatten() {
            if statuses.get(check) == Some(&Status::Pass) && !meta.supports.contains(check) {
                problems.push(format!(
                    "{rel}: {check} passes, but the shape does not say it supports that pass"
                ));
            }
        }
        for check in &meta.supports {
            if statuses.get(check) != Some(&Status::Pass) {
                problems.push(format!(
                    "{rel}: `supports` names {check}, which does not pass ({:?})",
                    statuses.get(check)
                ));
            }
        }
        if let Some(f) = expect.get(rel.as_str()) {
            seen_expectations += 1;
            if let Err(e) = f(&model) {
                problems.push(format!("{rel}: {e}"));
            }
        }
    }
    assert_eq!(
        seen_expectations,
        expect.len(),
        "every expectation names a file of the corpus"
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn splunk_export_stream_keeps_only_the_final_set() {
    // splunk-sdk-java's recorded export of a reporting search: preview sets, then the final one.
    let path = root().join("shapes/siem.splunk.search/sdk-java-export-preview-stats.ndjson");
    let body = std::fs::read(&path).expect("the recorded stream");
    let doc = siemproof::siem::splunk::transcode_export(&body).expect("a Splunk export stream");
    assert_eq!(doc["preview"], false, "the stream ends with a final set");
    let rows = doc["results"].as_array().expect("rows");
    let finals = String::from_utf8_lossy(&body)
        .lines()
        .filter(|l| l.contains("\"preview\":false") && l.contains("\"result\""))
        .count();
    assert_eq!(rows.len(), finals, "only the rows of the final set");
    assert!(
        rows.iter().all(|r| r["count"].is_string()),
        "values stay strings"
    );
}
