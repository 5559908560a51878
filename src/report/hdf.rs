//! The MITRE Heimdall Data Format (`report.hdf.json`): InSpec's exec JSON shape, which Heimdall and
//! the SAF CLI read, so a run shows there with the compliance score it really has.
//!
//! One profile (the catalogue), one control per check, one result per finding. Statuses map so
//! Heimdall counts them as siemproof does: `pass` → passed; `fail` → failed, and so is a `warn`
//! at or above `--fail-on` (as in JUnit; below it, passed with the warning as its message);
//! `not_assessed` and `manual` → skipped ("Not Reviewed": never green); `not_applicable` →
//! impact 0 (Heimdall's "Not Applicable"); `waived` → failed with the waiver as `waiver_data`
//! (the finding stands, the risk is accepted). NIST SP 800-53 ids go in `tags.nist`, which
//! Heimdall's control map reads. Validated against MITRE's exec-json schema in the tests.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::catalog::Severity;
use crate::results::{CheckResult, Finding, Results, Status};

/// Heimdall reads severity from impact: ≥0.9 critical, ≥0.7 high, ≥0.4 medium, >0 low.
fn impact(c: &CheckResult) -> f64 {
    if c.status == Status::NotApplicable {
        return 0.0;
    }
    match c.severity {
        Severity::Critical => 0.9,
        Severity::High => 0.7,
        Severity::Medium => 0.5,
        Severity::Low => 0.3,
        Severity::Info => 0.1,
    }
}

fn result(
    c: &CheckResult,
    f: Option<&Finding>,
    status: Status,
    threshold: Option<Severity>,
    at: &str,
) -> Value {
    let message = f
        .map(|f| f.message.clone())
        .or_else(|| c.reason.clone())
        .unwrap_or_else(|| c.title.clone());
    let failing_warn = status == Status::Warn && threshold.is_some_and(|t| c.severity >= t);
    let (st, msg_key) = match status {
        Status::Pass => ("passed", "message"),
        Status::Warn if failing_warn => ("failed", "message"),
        Status::Warn => ("passed", "message"),
        Status::Fail | Status::Waived => ("failed", "message"),
        Status::NotAssessed | Status::Manual | Status::NotApplicable => ("skipped", "skip_message"),
    };
    let mut r = json!({
        "status": st,
        "code_desc": match f {
            Some(f) => format!("{} {}: {}", c.id, f.name, status.as_str()),
            None => format!("{}: {}", c.id, status.as_str()),
        },
        "start_time": at,
        "run_time": Value::Null,
    });
    r[msg_key] = json!(message);
    if let Some(f) = f {
        r["resource"] = json!(f.name);
        r["resource_id"] = json!(f.resource);
    }
    r
}

fn control(c: &CheckResult, threshold: Option<Severity>, at: &str) -> Value {
    let mut results: Vec<Value> = c
        .findings
        .iter()
        .map(|f| result(c, Some(f), f.status, threshold, at))
        .collect();
    if results.is_empty() {
        results.push(result(c, None, c.status, threshold, at));
    }
    let mut descriptions = vec![
        json!({"label": "default", "data": c.doc.why.trim()}),
        json!({"label": "fix", "data": c.doc.fix.trim()}),
    ];
    if let Some(na) = c.doc.not_assessed.as_deref() {
        descriptions.push(json!({"label": "check", "data": na.trim()}));
    }
    let fw = &c.frameworks;
    let mut ctl = json!({
        "id": c.id,
        "title": c.title,
        "desc": c.doc.why.trim(),
        "descriptions": descriptions,
        "impact": impact(c),
        "refs": c.references.iter().map(|u| json!({"url": u})).collect::<Vec<_>>(),
        "tags": {
            "nist": fw.nist_800_53_r5.iter().map(|s| s.to_ascii_uppercase()).collect::<Vec<_>>(),
            "iso_27001_2022": fw.iso_27001_2022,
            "pci_dss_4_0": fw.pci_dss_4_0,
            "hipaa": fw.hipaa,
            "cis_v8": fw.cis_v8,
            "soc2": fw.soc2,
            "severity": c.severity.as_str(),
            "family": c.family,
            "go_live": c.go_live.as_str(),
            "siemproof_status": c.status.as_str(),
        },
        "code": Value::Null,
        "source_location": {"ref": format!("checks/{}/{}.toml", c.family, c.id), "line": 1},
        "results": results,
    });
    if let Some(w) = c.findings.iter().find_map(|f| f.waiver.as_ref()) {
        ctl["waiver_data"] = json!({
            "justification": format!("{} (approved by {})", w.reason, w.approver),
            "expiration_date": w.expires,
            "run": true,
            "skipped_due_to_waiver": false,
            "message": "the finding stands; its risk is accepted until the waiver expires",
        });
    }
    ctl
}

/// Renders `report.hdf.json`.
pub fn render(results: &Results) -> anyhow::Result<String> {
    let threshold = Severity::parse(&results.run.fail_on);
    let at = &results.run.as_of;
    let controls: Vec<Value> = results
        .checks
        .iter()
        .map(|c| control(c, threshold, at))
        .collect();
    let mut families: Vec<(String, Vec<String>)> = Vec::new();
    for c in &results.checks {
        match families.iter_mut().find(|(f, _)| *f == c.family) {
            Some((_, ids)) => ids.push(c.id.clone()),
            None => families.push((c.family.clone(), vec![c.id.clone()])),
        }
    }
    let mut ids: Vec<&str> = results.checks.iter().map(|c| c.id.as_str()).collect();
    ids.sort_unstable();
    let profile_sha = hex::encode(Sha256::digest(
        format!("{}\n{}", results.run.catalogue_version, ids.join("\n")).as_bytes(),
    ));
    let doc = json!({
        "platform": {
            "name": "siemproof",
            "release": results.run.tool_version,
            "target_id": format!("Microsoft Entra tenant {}", results.run.tenant_id),
        },
        "version": results.run.tool_version,
        "statistics": {"duration": Value::Null},
        "profiles": [{
            "name": "siemproof",
            "title": "siemproof: Microsoft 365 / Azure logs reach the SIEM",
            "version": results.run.catalogue_version,
            "summary": format!(
                "Run {} of tenant {}, judged at {} on evidence collected {} (manifest SHA-256 {}).",
                results.run.id,
                results.run.tenant_id,
                results.run.as_of,
                results.run.collected_at,
                results.run.evidence_manifest_sha256
            ),
            "license": "Apache-2.0",
            "supports": [{"platform": "azure"}],
            "attributes": [],
            "groups": families
                .into_iter()
                .map(|(f, ids)| json!({"id": f, "title": f, "controls": ids}))
                .collect::<Vec<_>>(),
            "status": "loaded",
            "sha256": profile_sha,
            "controls": controls,
        }],
    });
    Ok(serde_json::to_string_pretty(&doc)? + "\n")
}
