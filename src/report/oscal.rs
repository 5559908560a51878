//! NIST OSCAL 1.2 exports for GRC tools, written to `oscal/`: an assessment plan
//! (`assessment-plan.json`), the assessment results that import it (`assessment-results.json`)
//! and a plan of action and milestones for everything still open (`poam.json`, written only
//! when something is open: OSCAL requires at least one POA&M item).
//!
//! Mapping (shared/reference/siem-and-evidence.md B1): one `result` per run; one `observation`
//! per check, whose `relevant-evidence` entries point at the evidence files it read (relative to
//! the signed output, `../evidence/<path>`) with their SHA-256 as a property; one `finding` per
//! check and NIST SP 800-53 r5 control (lowercase ids, `au-6(3)` written `au-6.3` as in the NIST
//! catalog); one `risk` per check that is not satisfied, and one POA&M item per risk.
//!
//! Fail closed: a check that could not be assessed (or awaits an attestation) is
//! `not-satisfied` with reason `other`, never `satisfied`. UUIDs are random (v4), as the schema
//! requires v4 or v5; `oscal-version` is 1.2.1, the newest that compliance-trestle declares.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use uuid::Uuid;

use serde::Serialize;

use crate::results::{CheckResult, EvidenceRef, Results, Status};

pub const OSCAL_VERSION: &str = "1.2.1";
/// Namespace of siemproof's own properties.
pub const NS: &str = "urn:siemproof:oscal";

pub const PLAN: &str = "oscal/assessment-plan.json";
pub const RESULTS: &str = "oscal/assessment-results.json";
pub const POAM: &str = "oscal/poam.json";

fn uuid() -> String {
    Uuid::new_v4().to_string()
}

/// `AU-6(3)` → `au-6.3`: the NIST SP 800-53 r5 OSCAL catalog's control id form.
pub fn control_id(id: &str) -> String {
    id.trim()
        .to_ascii_lowercase()
        .replace('(', ".")
        .replace([')', ' '], "")
}

/// OSCAL strings may not be empty or carry leading/trailing whitespace, and lines no newline.
pub(crate) fn line(s: &str) -> String {
    let one = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.is_empty() {
        "-".into()
    } else {
        one
    }
}

pub(crate) fn prop(name: &str, value: &str) -> Value {
    json!({"name": name, "ns": NS, "value": line(value)})
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn metadata(results: &Results, title: &str) -> Value {
    json!({
        "title": line(title),
        "last-modified": now(),
        "version": results.run.tool_version,
        "oscal-version": OSCAL_VERSION,
        "props": [
            prop("run-id", &results.run.id),
            prop("tenant-id", &results.run.tenant_id),
            prop("catalogue-version", &results.run.catalogue_version),
        ],
    })
}

/// Every NIST control the catalogue maps, lowercase, sorted, unique.
fn all_controls(results: &Results) -> Vec<String> {
    let mut v: Vec<String> = results
        .checks
        .iter()
        .flat_map(|c| c.frameworks.nist_800_53_r5.iter().map(|x| control_id(x)))
        .collect();
    v.sort();
    v.dedup();
    v
}

fn reviewed_controls(results: &Results) -> Value {
    let ids = all_controls(results);
    let selection = if ids.is_empty() {
        json!({"include-all": {}})
    } else {
        json!({
            "description": "NIST SP 800-53 r5 controls that siemproof's checks map to",
            "include-controls": ids.iter().map(|i| json!({"control-id": i})).collect::<Vec<_>>(),
        })
    };
    json!({"control-selections": [selection]})
}

fn tenant(results: &Results) -> String {
    match &results.run.tenant_name {
        Some(n) => format!("{n} ({})", results.run.tenant_id),
        None => results.run.tenant_id.clone(),
    }
}

/// The assessment plan: what is assessed, against which controls.
pub fn plan(results: &Results, plan_uuid: &str) -> Value {
    let ssp_resource = uuid();
    json!({
        "assessment-plan": {
            "uuid": plan_uuid,
            "metadata": metadata(results, &format!(
                "siemproof assessment plan: Microsoft 365 / Azure security log delivery to the SIEM, tenant {}",
                tenant(results)
            )),
            "import-ssp": {
                "href": format!("#{ssp_resource}"),
                "remarks": "No system security plan is imported; the expected pipeline is described by the siemproof configuration (back-matter resource)."
            },
            "reviewed-controls": reviewed_controls(results),
            "back-matter": {
                "resources": [{
                    "uuid": ssp_resource,
                    "title": "Expected pipeline configuration (siemproof.toml)",
                    "description": format!(
                        "Tenant {}, cloud {}, SIEM {}; configuration source: {}. {} checks (catalogue {}) are run against evidence read with GET requests only.",
                        results.run.tenant_id,
                        results.run.cloud,
                        results.config.siem.kind,
                        results.run.config_source,
                        results.checks.len(),
                        results.run.catalogue_version
                    ),
                }]
            }
        }
    })
}

/// OSCAL's objective state and reason for a siemproof status.
fn state(status: Status) -> (&'static str, &'static str) {
    match status {
        Status::Pass => ("satisfied", "pass"),
        Status::NotApplicable => ("satisfied", "other"),
        Status::Fail => ("not-satisfied", "fail"),
        Status::Warn | Status::NotAssessed | Status::Manual | Status::Waived => {
            ("not-satisfied", "other")
        }
    }
}

fn is_open(status: Status) -> bool {
    matches!(
        status,
        Status::Fail | Status::Warn | Status::NotAssessed | Status::Manual | Status::Waived
    )
}

fn verdict_text(c: &CheckResult) -> String {
    let mut s = format!("{}: {}. Status {}.", c.id, c.title, c.status.as_str());
    if let Some(r) = &c.reason {
        s.push_str(&format!(" {r}"));
    }
    for f in &c.findings {
        s.push_str(&format!(
            "\n\n- {} `{}` ({}): {}",
            f.status.as_str(),
            f.name,
            f.resource,
            f.message
        ));
        if let Some(w) = &f.waiver {
            s.push_str(&format!(
                " Waived by {} until {}: {}.",
                w.approver, w.expires, w.reason
            ));
        }
    }
    s
}

/// One observation: a check's (typed, with its evidence entries made while writing) or a
/// partition's.
#[derive(Serialize)]
#[serde(untagged)]
enum Observation<'a> {
    Check(Box<CheckObservation<'a>>),
    Other(Value),
}

impl Observation<'_> {
    fn uuid(&self) -> Option<&str> {
        match self {
            Observation::Check(c) => Some(&c.uuid),
            Observation::Other(v) => v["uuid"].as_str(),
        }
    }
}

/// A check's observation. Field order as OSCAL's examples (and the earlier `json!` form).
#[derive(Serialize)]
struct CheckObservation<'a> {
    uuid: String,
    title: String,
    description: String,
    props: [Value; 3],
    methods: [&'static str; 1],
    types: [&'static str; 1],
    collected: &'a str,
    #[serde(
        rename = "relevant-evidence",
        skip_serializing_if = "RelevantEvidence::is_empty"
    )]
    relevant_evidence: RelevantEvidence<'a>,
}

/// A check's evidence entries, made one evidence kind at a time while the document is written: a
/// large tenant's checks point at tens of thousands of files, and holding every entry as a JSON
/// tree was most of the memory a render took.
struct RelevantEvidence<'a>(&'a [EvidenceRef]);

impl RelevantEvidence<'_> {
    fn is_empty(&self) -> bool {
        // Every evidence kind gives at least one entry (its files, or a "no file" entry).
        self.0.is_empty()
    }
}

impl Serialize for RelevantEvidence<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().flat_map(evidence_entries))
    }
}

/// The `relevant-evidence` entries of one evidence kind a check read.
fn evidence_entries(e: &EvidenceRef) -> Vec<Value> {
    if e.files.is_empty() {
        return vec![json!({
            "description": format!("Evidence kind {}: {} (no file).", e.kind, e.status),
            "props": [prop("evidence-kind", &e.kind), prop("evidence-status", &e.status)],
        })];
    }
    e.files
        .iter()
        .map(|f| {
            let mut props = vec![
                prop("evidence-kind", &e.kind),
                prop("evidence-status", &e.status),
            ];
            if !f.sha256.is_empty() {
                props.push(prop("sha256", &f.sha256));
            }
            json!({
                "href": format!("../evidence/{}", f.path),
                "description": format!("Evidence file {} ({}), as listed in the evidence manifest.", f.path, e.kind),
                "props": props,
            })
        })
        .collect()
}

struct Built<'a> {
    observations: Vec<Observation<'a>>,
    findings: Vec<Value>,
    risks: Vec<Value>,
    poam_items: Vec<Value>,
}

fn build(results: &Results) -> Built<'_> {
    let mut b = Built {
        observations: vec![],
        findings: vec![],
        risks: vec![],
        poam_items: vec![],
    };
    for c in &results.checks {
        let obs_uuid = uuid();
        let obs = Observation::Check(Box::new(CheckObservation {
            uuid: obs_uuid.clone(),
            title: line(&format!("{} {}", c.id, c.title)),
            description: verdict_text(c),
            props: [
                prop("check-id", &c.id),
                prop("status", c.status.as_str()),
                prop("severity", c.severity.as_str()),
            ],
            methods: [if c.status == Status::Manual || c.attestation.is_some() {
                "INTERVIEW"
            } else {
                "TEST"
            }],
            types: ["finding"],
            collected: &results.run.collected_at,
            relevant_evidence: RelevantEvidence(&c.evidence),
        }));
        b.observations.push(obs);
        let risk_uuid = is_open(c.status).then(uuid);
        if let Some(ru) = &risk_uuid {
            let waived = c.status == Status::Waived;
            b.risks.push(json!({
                "uuid": ru,
                "title": line(&format!("{} {}", c.id, c.title)),
                "description": c.doc.why.trim(),
                "statement": verdict_text(c),
                "props": [prop("check-id", &c.id), prop("severity", c.severity.as_str()), prop("status", c.status.as_str())],
                "status": if waived { "deviation-approved" } else { "open" },
                "related-observations": [{"observation-uuid": obs_uuid}],
            }));
            b.poam_items.push(json!({
                "uuid": uuid(),
                "title": line(&format!("{} {}", c.id, c.title)),
                "description": format!("{}\n\nFix: {}", verdict_text(c), c.doc.fix.trim()),
                "props": [prop("check-id", &c.id), prop("severity", c.severity.as_str()), prop("status", c.status.as_str())],
                "related-observations": [{"observation-uuid": obs_uuid}],
                "related-risks": [{"risk-uuid": ru}],
            }));
        }
        let (st, reason) = state(c.status);
        let controls: Vec<String> = c
            .frameworks
            .nist_800_53_r5
            .iter()
            .map(|x| control_id(x))
            .collect();
        let targets: Vec<(&str, String, String)> = if controls.is_empty() {
            vec![("objective-id", c.id.clone(), c.id.clone())]
        } else {
            controls
                .iter()
                .map(|ctl| ("statement-id", format!("{ctl}_smt"), ctl.clone()))
                .collect()
        };
        for (ty, target, label) in targets {
            let mut f = json!({
                "uuid": uuid(),
                "title": line(&format!("{} {}: {}", c.id, label, c.title)),
                "description": verdict_text(c),
                "props": [prop("check-id", &c.id), prop("control-id", &label), prop("severity", c.severity.as_str())],
                "target": {
                    "type": ty,
                    "target-id": target,
                    "status": {"state": st, "reason": reason, "remarks": format!("siemproof status {}", c.status.as_str())},
                },
                "related-observations": [{"observation-uuid": obs_uuid}],
            });
            if let Some(ru) = &risk_uuid {
                f["related-risks"] = json!([{"risk-uuid": ru}]);
            }
            b.findings.push(f);
        }
    }
    b.observations.extend(
        partition_observations(results)
            .into_iter()
            .map(Observation::Other),
    );
    b
}

/// One observation per partition of the hub when the SIEM's checkpoint store was read: its
/// checkpoint and lag figures as props, so an assessor sees the measurement behind the
/// consumer checks, not only their verdicts. A figure that is not known is left out.
fn partition_observations(results: &Results) -> Vec<Value> {
    let Some(c) = &results.consumer else {
        return vec![];
    };
    c.partitions
        .iter()
        .map(|p| {
            let mut props = vec![
                prop("consumer-group", &c.consumer_group),
                prop("partition", &p.partition),
            ];
            let figures = [
                ("checkpoint-age-hours", p.checkpoint_age_hours.map(|v| v.to_string())),
                ("checkpoint-sequence-number", p.sequence_number.map(|v| v.to_string())),
                (
                    "lag-from-sequence-number",
                    p.lag_from_sequence_number.map(|v| v.to_string()),
                ),
                (
                    "last-enqueued-sequence-number",
                    p.last_enqueued_sequence_number.map(|v| v.to_string()),
                ),
                ("last-enqueued-at", p.last_enqueued_at.clone()),
                ("lag-events", p.lag_events.map(|v| v.to_string())),
                ("lag-minutes", p.lag_minutes.map(|v| v.to_string())),
                ("lost-events", p.lost_events.map(|v| v.to_string())),
            ];
            for (name, v) in figures {
                if let Some(v) = v {
                    props.push(prop(name, &v));
                }
            }
            let lag = match (p.lag_events, p.lost_events) {
                (Some(l), Some(n)) if n > 0 => format!(
                    "{l} events wait past the checkpoint and {n} aged out of the hub unread."
                ),
                (Some(l), _) => format!("{l} events wait past the checkpoint."),
                (None, _) if c.partitions_read => {
                    "The lag is not known: some reader's checkpoint has no sequence number."
                        .to_string()
                }
                (None, _) => "The hub's partition state was not read.".to_string(),
            };
            json!({
                "uuid": uuid(),
                "title": line(&format!("Partition {} of the SIEM's consumer group {}", p.partition, c.consumer_group)),
                "description": format!(
                    "The checkpoint of {} in {}/{} for partition {}, against the hub's last enqueued event, when the evidence was collected. {lag}",
                    c.consumer_group, c.account, c.container, p.partition
                ),
                "props": props,
                "methods": ["TEST"],
                "collected": results.run.collected_at,
            })
        })
        .collect()
}

/// `{"assessment-results": …}`.
#[derive(Serialize)]
struct ResultsDoc<'a> {
    #[serde(rename = "assessment-results")]
    ar: AssessmentResults<'a>,
}

#[derive(Serialize)]
struct AssessmentResults<'a> {
    uuid: String,
    metadata: Value,
    #[serde(rename = "import-ap")]
    import_ap: Value,
    results: [RunResult<'a>; 1],
}

/// The run's `result`. Field order as OSCAL's examples (and the earlier `json!` form).
#[derive(Serialize)]
struct RunResult<'a> {
    uuid: String,
    title: String,
    description: String,
    start: &'a str,
    props: [Value; 3],
    #[serde(rename = "reviewed-controls")]
    reviewed_controls: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    end: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    observations: Vec<Observation<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    risks: Vec<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    findings: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    remarks: Option<&'static str>,
}

/// The POA&M, borrowing the results' observations and risks rather than copying them.
#[derive(Serialize)]
struct PoamDoc<'a> {
    #[serde(rename = "plan-of-action-and-milestones")]
    poam: Poam<'a>,
}

#[derive(Serialize)]
struct Poam<'a> {
    uuid: String,
    metadata: Value,
    observations: Vec<&'a Observation<'a>>,
    risks: &'a [Value],
    #[serde(rename = "poam-items")]
    poam_items: Vec<Value>,
}

/// The three documents as `(path, JSON)`; the results import the plan by relative href.
///
/// Each observation, risk and finding is built once and the POA&M borrows from the results;
/// the evidence entries, most of a large tenant's documents, are made while writing. (They
/// used to be deep-copied into each document as JSON trees, which for a large tenant held the
/// same entries three times over.)
pub fn render(results: &Results) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let mut docs = Vec::new();
    emit(results, &mut |name, doc| {
        let mut b = Vec::new();
        doc(&mut b)?;
        docs.push((name.to_string(), b));
        Ok(())
    })?;
    Ok(docs)
}

/// Writes the documents into `dir` (a staging directory: a failure leaves it to be discarded),
/// each serialised straight into its file rather than into memory first.
pub fn write(results: &Results, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    emit(results, &mut |name, doc| {
        let path = dir.join(name);
        crate::files::write_streamed(&path, |w| doc(w))?;
        written.push(path);
        Ok(())
    })?;
    Ok(written)
}

/// Writes one document's JSON (pretty, with a final newline) to the writer it is given.
type Doc<'d> = &'d dyn Fn(&mut dyn Write) -> anyhow::Result<()>;

/// Builds the documents one at a time and hands each, by name, to `put`.
fn emit(
    results: &Results,
    put: &mut dyn FnMut(&str, Doc<'_>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let plan_uuid = uuid();
    put(PLAN, &|w| pretty(w, &plan(results, &plan_uuid)))?;
    let Built {
        observations,
        findings,
        risks,
        poam_items,
    } = build(results);
    let collected = &results.run.collected_at;
    let result = RunResult {
        uuid: uuid(),
        title: line(&format!("siemproof run {}", results.run.id)),
        description: format!(
            "Offline audit of the evidence bundle collected at {} (evidence manifest SHA-256 {}), judged at {}. {} checks: {} pass, {} fail, {} warn, {} not assessed, {} manual, {} waived, {} not applicable.",
            collected, results.run.evidence_manifest_sha256, results.run.as_of,
            results.summary.total, results.summary.pass, results.summary.fail, results.summary.warn,
            results.summary.not_assessed, results.summary.manual, results.summary.waived, results.summary.not_applicable
        ),
        start: collected,
        props: [
            prop("run-id", &results.run.id),
            prop("evidence-manifest-sha256", &results.run.evidence_manifest_sha256),
            prop("as-of", &results.run.as_of),
        ],
        reviewed_controls: reviewed_controls(results),
        end: (results.run.as_of >= *collected).then_some(results.run.as_of.as_str()),
        observations,
        risks,
        findings,
        // OSCAL requires at least one poam-item, and an item means work to do: with nothing
        // open there is no POA&M, and the results say so.
        remarks: poam_items
            .is_empty()
            .then_some("No open findings: no plan of action and milestones was written."),
    };
    let ar = ResultsDoc {
        ar: AssessmentResults {
            uuid: uuid(),
            metadata: metadata(
                results,
                &format!("siemproof assessment results, tenant {}", tenant(results)),
            ),
            import_ap: json!({"href": "assessment-plan.json"}),
            results: [result],
        },
    };
    put(RESULTS, &|w| pretty(w, &ar))?;
    if !poam_items.is_empty() {
        let result = &ar.ar.results[0];
        let open: std::collections::BTreeSet<&str> = result
            .risks
            .iter()
            .filter_map(|r| r["related-observations"].as_array())
            .flatten()
            .filter_map(|o| o["observation-uuid"].as_str())
            .collect();
        let poam = PoamDoc {
            poam: Poam {
                uuid: uuid(),
                metadata: metadata(
                    results,
                    &format!(
                        "siemproof plan of action and milestones, tenant {}",
                        tenant(results)
                    ),
                ),
                observations: result
                    .observations
                    .iter()
                    .filter(|o| o.uuid().is_some_and(|u| open.contains(u)))
                    .collect(),
                risks: &result.risks,
                poam_items,
            },
        };
        put(POAM, &|w| pretty(w, &poam))?;
    }
    Ok(())
}

fn pretty<T: serde::Serialize>(w: &mut dyn Write, v: &T) -> anyhow::Result<()> {
    serde_json::to_writer_pretty(&mut *w, v)?;
    w.write_all(b"\n")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::control_id;

    #[test]
    fn control_ids_follow_the_nist_catalog() {
        assert_eq!(control_id("AU-2"), "au-2");
        assert_eq!(control_id("AU-6(3)"), "au-6.3");
        assert_eq!(control_id("au-9(4)"), "au-9.4");
    }
}
