//! SARIF 2.1.0 (`report.sarif`) for code-scanning consumers (GitHub code scanning, Azure DevOps):
//! one rule per check (title, why, fix, references, severity, control tags), one result per
//! failing or warning finding at or above `--fail-on`, located at its resource (logical
//! location: the Azure / Entra resource id) and its evidence file (physical location, which
//! GitHub requires on every result; `tests/formats.rs` runs the SARIF Multitool's GitHub rules).
//!
//! A waived failure stays a `fail` result with an external suppression, as SARIF intends.
//! Checks that could not decide (not assessed, awaiting attestation) are tool execution
//! notifications of the invocation: a result claims a finding, and "could not look" is not one.
//! Passes and checks that do not apply are no results; the run's `summary` property counts them.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::catalog::Severity;
use crate::results::{CheckResult, Results, Status};

pub const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

fn level(sev: Severity) -> &'static str {
    match sev {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// GitHub's `security-severity` scale (0.0–10.0), as a string.
fn security_severity(sev: Severity) -> &'static str {
    match sev {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "0.0",
    }
}

fn rule(c: &CheckResult) -> Value {
    let mut tags: Vec<String> = vec!["security".into(), format!("family:{}", c.family)];
    for (fw, id) in c.frameworks.pairs() {
        let label = match fw {
            "NIST SP 800-53 r5" => "NIST-800-53",
            "ISO/IEC 27001:2022" => "ISO-27001-2022",
            "PCI DSS 4.0" => "PCI-DSS-4.0",
            "HIPAA" => "HIPAA",
            "CIS Controls v8" => "CIS-v8",
            "CIS Benchmark" => "CIS-Benchmark",
            _ => "SOC2",
        };
        let id = if label == "NIST-800-53" {
            id.to_ascii_uppercase()
        } else {
            id.to_string()
        };
        tags.push(format!("{label}:{id}"));
    }
    let r = json!({
        "id": c.id,
        "helpUri": format!("{INFORMATION_URI}/blob/main/docs/checks.md#{}", c.id.to_ascii_lowercase()),
        "name": c.id.replace('-', ""),
        "shortDescription": {"text": c.title},
        "fullDescription": {"text": c.doc.why.trim()},
        "help": {"text": format!("{}\n\nFix: {}", c.doc.why.trim(), c.doc.fix.trim())},
        "defaultConfiguration": {"level": level(c.severity)},
        "properties": {
            "tags": tags,
            "security-severity": security_severity(c.severity),
            "severity": c.severity.as_str(),
            "family": c.family,
        },
    });
    r
}

/// The project's home (Cargo.toml `repository`): `tool.driver.informationUri`, and the base of
/// each rule's `helpUri` (its entry in docs/checks.md, where the fix and references are).
pub const INFORMATION_URI: &str = env!("CARGO_PKG_REPOSITORY");

fn kind_and_level(status: Status, sev: Severity) -> (&'static str, &'static str) {
    match status {
        Status::Fail => ("fail", level(sev)),
        Status::Warn => ("fail", "warning"),
        Status::Waived => ("fail", level(sev)),
        Status::Pass => ("pass", "none"),
        Status::NotApplicable => ("notApplicable", "none"),
        Status::NotAssessed => ("open", "none"),
        Status::Manual => ("review", "none"),
    }
}

fn fingerprint(check: &str, resource: &str) -> String {
    hex::encode(Sha256::digest(format!("{check}\n{resource}").as_bytes()))
}

fn result(
    c: &CheckResult,
    index: usize,
    status: Status,
    resource: Option<(&str, &str)>,
    message: &str,
) -> Value {
    let (kind, lvl) = kind_and_level(status, c.severity);
    let text = if message.trim().is_empty() {
        format!("{}: {}", c.title, status.as_str())
    } else {
        message.to_string()
    };
    let mut r = json!({
        "ruleId": c.id,
        "ruleIndex": index,
        "kind": kind,
        "level": lvl,
        "message": {"text": text},
        "partialFingerprints": {"siemproofFinding/v1": fingerprint(&c.id, resource.map(|r| r.0).unwrap_or(""))},
        "properties": {"status": status.as_str()},
    });
    if let Some((id, name)) = resource {
        r["locations"] = json!([{
            "logicalLocations": [{"fullyQualifiedName": id, "name": name, "kind": "resource"}]
        }]);
    }
    r
}

/// The evidence file a finding rests on, as its physical location (GitHub code scanning requires
/// one on every result): the check's first evidence file, relative to the output directory
/// (`audit --sign` copies the bundle into `evidence/`), or the bundle's config.
fn artifact(c: &CheckResult) -> String {
    let file = c
        .evidence
        .iter()
        .filter(|e| e.status == "ok")
        .chain(c.evidence.iter())
        .flat_map(|e| e.files.iter())
        .next()
        .map(|f| f.path.clone())
        .unwrap_or_else(|| "siemproof.toml".into());
    format!("evidence/{file}")
}

/// Renders `report.sarif`. Results are the findings that fail or warn at or above the run's
/// `--fail-on` (every one when it is `never`), each with a logical location (the resource) and
/// a physical one (its evidence file), as GitHub code scanning requires. Checks that could not
/// decide (not assessed, awaiting attestation) are tool notifications, not results: "could not
/// look" is not a finding at a severity. Passes and checks that do not apply are left out.
pub fn render(results: &Results) -> anyhow::Result<String> {
    let rules: Vec<Value> = results.checks.iter().map(rule).collect();
    let threshold = Severity::parse(&results.run.fail_on).unwrap_or(Severity::Info);
    let mut out = Vec::new();
    let mut notifications = Vec::new();
    for (i, c) in results.checks.iter().enumerate() {
        if matches!(c.status, Status::NotAssessed | Status::Manual) {
            notifications.push(json!({
                "level": "warning",
                "message": {"text": format!(
                    "{} {}: {}",
                    c.id,
                    if c.status == Status::Manual { "awaits an attestation" } else { "was not assessed" },
                    c.reason.as_deref().filter(|r| !r.is_empty()).or_else(|| c.findings.first().map(|f| f.message.as_str())).unwrap_or(c.title.as_str())
                )},
                "associatedRule": {"id": c.id, "index": i},
            }));
            continue;
        }
        if c.severity < threshold {
            continue;
        }
        for f in &c.findings {
            let status = match (&f.waiver, f.status) {
                (Some(w), _) => w.original_status,
                (None, s) => s,
            };
            if !matches!(status, Status::Fail | Status::Warn) {
                continue;
            }
            let mut r = result(
                c,
                i,
                f.status,
                Some((f.resource.as_str(), f.name.as_str())),
                &f.message,
            );
            r["locations"][0]["physicalLocation"] = json!({
                "artifactLocation": {"uri": artifact(c)},
                "region": {"startLine": 1},
            });
            if let Some(w) = &f.waiver {
                r["suppressions"] = json!([{
                    "kind": "external",
                    "status": "accepted",
                    "justification": format!("{} (approved by {}, expires {})", w.reason, w.approver, w.expires),
                }]);
            }
            out.push(r);
        }
    }
    let doc = json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "siemproof",
                "version": results.run.tool_version,
                "semanticVersion": results.run.tool_version,
                "informationUri": INFORMATION_URI,
                "rules": rules,
            }},
            "automationDetails": {"id": format!("siemproof/{}/{}", results.run.tenant_id, results.run.id)},
            "invocations": [{"executionSuccessful": true, "toolExecutionNotifications": notifications}],
            "properties": {
                "runId": results.run.id,
                "tenantId": results.run.tenant_id,
                "asOf": results.run.as_of,
                "evidenceManifestSha256": results.run.evidence_manifest_sha256,
                "catalogueVersion": results.run.catalogue_version,
                "failOn": results.run.fail_on,
                "summary": results.summary,
            },
            "results": out,
        }]
    });
    Ok(serde_json::to_string_pretty(&doc)? + "\n")
}
