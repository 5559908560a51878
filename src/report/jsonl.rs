//! JSON lines for SIEM ingestion (`findings.jsonl`): one object per finding, one per line, each
//! self-contained (run id, tenant, check, severity, status, resource, message, timestamp), so a
//! SIEM can index the file line by line without knowing results.json.
//!
//! A check that has no findings (not assessed, manual, not applicable) still yields one line with
//! an empty `resource` and its reason as `message`: "we could not look" must reach the SIEM too.
//! After the findings, one `siemproof.consumer_partition` line per partition of the hub carries
//! the SIEM's checkpoint and lag figures when its checkpoint store was read.

use serde::Serialize;

use crate::results::{CheckResult, Results};

/// One line of `findings.jsonl` (and one row of `findings.csv`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Row {
    /// The audit clock: the moment the verdict is about.
    pub timestamp: String,
    pub event: &'static str,
    pub run_id: String,
    pub tenant_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_name: Option<String>,
    pub check_id: String,
    pub check_title: String,
    pub family: String,
    pub severity: String,
    pub go_live: String,
    pub status: String,
    pub resource: String,
    pub resource_name: String,
    pub message: String,
    /// NIST SP 800-53 r5 control ids, lowercase.
    pub nist_800_53_r5: Vec<String>,
    /// Who accepted the risk, until when and why (waived findings only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiver: Option<WaiverNote>,
    /// Who attested a manual check, and when.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attestation: Option<AttestationNote>,
    pub tool_version: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct WaiverNote {
    pub approver: String,
    pub expires: String,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
    pub original_status: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AttestationNote {
    pub attested_by: String,
    pub date: String,
    pub expires: String,
    pub valid: bool,
}

fn base(results: &Results, c: &CheckResult) -> Row {
    Row {
        timestamp: results.run.as_of.clone(),
        event: "siemproof.finding",
        run_id: results.run.id.clone(),
        tenant_id: results.run.tenant_id.clone(),
        tenant_name: results.run.tenant_name.clone(),
        check_id: c.id.clone(),
        check_title: c.title.clone(),
        family: c.family.clone(),
        severity: c.severity.as_str().into(),
        go_live: c.go_live.as_str().into(),
        status: c.status.as_str().into(),
        resource: String::new(),
        resource_name: String::new(),
        message: c.reason.clone().unwrap_or_default(),
        nist_800_53_r5: c
            .frameworks
            .nist_800_53_r5
            .iter()
            .map(|s| s.to_ascii_lowercase())
            .collect(),
        waiver: None,
        attestation: c.attestation.as_ref().map(|a| AttestationNote {
            attested_by: a.attested_by.clone(),
            date: a.date.to_string(),
            expires: a.expires.to_string(),
            valid: a.valid,
        }),
        tool_version: results.run.tool_version.clone(),
    }
}

/// Every finding of every check, in results order.
pub fn rows(results: &Results) -> Vec<Row> {
    let mut out = Vec::new();
    for c in &results.checks {
        if c.findings.is_empty() {
            out.push(base(results, c));
        }
        for f in &c.findings {
            let mut r = base(results, c);
            r.status = f.status.as_str().into();
            r.resource = f.resource.clone();
            r.resource_name = f.name.clone();
            r.message = f.message.clone();
            r.waiver = f.waiver.as_ref().map(|w| WaiverNote {
                approver: w.approver.clone(),
                expires: w.expires.clone(),
                reason: w.reason.clone(),
                ticket: w.ticket.clone(),
                original_status: w.original_status.as_str().into(),
            });
            out.push(r);
        }
    }
    out
}

/// Renders `findings.jsonl`.
pub fn render(results: &Results) -> anyhow::Result<String> {
    let mut s = String::new();
    for r in rows(results) {
        // serde_json never emits a raw newline inside a string, so one object is one line.
        s.push_str(&serde_json::to_string(&r)?);
        s.push('\n');
    }
    for p in partition_rows(results) {
        s.push_str(&serde_json::to_string(&p)?);
        s.push('\n');
    }
    Ok(s)
}

/// One line per partition of the configured hub (`event: siemproof.consumer_partition`): the
/// SIEM's checkpoint and lag as metrics a SIEM can chart and alert on, beside the findings.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PartitionRow {
    pub timestamp: String,
    pub event: &'static str,
    pub run_id: String,
    pub tenant_id: String,
    pub storage_account: String,
    pub container: String,
    pub consumer_group: String,
    pub partition: String,
    pub checkpoint_age_hours: Option<f64>,
    /// The newest checkpoint of the group's readers.
    pub checkpoint_sequence_number: Option<i64>,
    /// The checkpoint the lag is measured from (the reader furthest behind).
    pub lag_from_sequence_number: Option<i64>,
    pub last_enqueued_sequence_number: Option<i64>,
    pub last_enqueued_at: Option<String>,
    pub lag_events: Option<i64>,
    pub lag_minutes: Option<f64>,
    pub lost_events: Option<i64>,
    pub tool_version: String,
}

pub fn partition_rows(results: &Results) -> Vec<PartitionRow> {
    let Some(c) = &results.consumer else {
        return vec![];
    };
    c.partitions
        .iter()
        .map(|p| PartitionRow {
            timestamp: results.run.as_of.clone(),
            event: "siemproof.consumer_partition",
            run_id: results.run.id.clone(),
            tenant_id: results.run.tenant_id.clone(),
            storage_account: c.account.clone(),
            container: c.container.clone(),
            consumer_group: c.consumer_group.clone(),
            partition: p.partition.clone(),
            checkpoint_age_hours: p.checkpoint_age_hours,
            checkpoint_sequence_number: p.sequence_number,
            lag_from_sequence_number: p.lag_from_sequence_number,
            last_enqueued_sequence_number: p.last_enqueued_sequence_number,
            last_enqueued_at: p.last_enqueued_at.clone(),
            lag_events: p.lag_events,
            lag_minutes: p.lag_minutes,
            lost_events: p.lost_events,
            tool_version: results.run.tool_version.clone(),
        })
        .collect()
}
