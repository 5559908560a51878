//! Drift between two audits (`siemproof diff OLD NEW`), for scheduled compliance runs: which
//! checks got worse or better, which failing findings are new or resolved, how coverage moved,
//! and whether the logging pipeline itself regressed.
//!
//! A regression in the pipeline families (Entra diagnostic settings, Event Hub, checkpoint
//! storage, the SIEM app, Management Activity API subscriptions) is flagged as possible
//! tampering with cloud logging (MITRE ATT&CK T1562.008): an attacker's first move is often to
//! switch the stream off, and a nightly diff is where that shows.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::results::{Results, Status};

pub const FORMAT: &str = "siemproof-diff/1";

/// Families whose regressions mean the log pipeline itself changed.
const PIPELINE_FAMILIES: &[&str] = &["entra", "eventhub", "storage", "app", "o365", "defender"];

/// A check of this family regressing is possible tampering with cloud logs (T1562.008).
pub fn is_pipeline_family(family: &str) -> bool {
    PIPELINE_FAMILIES.contains(&family)
}

/// A change from `from` to `to` is a regression: worse, and left open.
pub fn is_regression(from: Status, to: Status) -> bool {
    to.rank() > from.rank() && open(to)
}

#[derive(Debug, Serialize, PartialEq)]
pub struct RunRef {
    pub id: String,
    pub tenant_id: String,
    pub as_of: String,
    pub collected_at: String,
    pub evidence_manifest_sha256: String,
    pub catalogue_version: String,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct StatusChange {
    pub id: String,
    pub title: String,
    pub family: String,
    pub severity: String,
    pub from: Status,
    pub to: Status,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct FindingRef {
    pub check: String,
    pub resource: String,
    pub name: String,
    pub status: Status,
    pub message: String,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct CoverageChange {
    pub id: String,
    pub name: String,
    pub from: String,
    pub to: String,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct Diff {
    pub format: &'static str,
    pub old: RunRef,
    pub new: RunRef,
    /// Both runs audit the same tenant.
    pub same_tenant: bool,
    /// Checks whose status got worse (towards fail, warn, not assessed, needs attestation).
    pub regressions: Vec<StatusChange>,
    pub improvements: Vec<StatusChange>,
    /// Other status changes (e.g. a check that now applies).
    pub other_changes: Vec<StatusChange>,
    /// Failing or warning findings present now and not before.
    pub new_findings: Vec<FindingRef>,
    pub resolved_findings: Vec<FindingRef>,
    pub coverage: Vec<CoverageChange>,
    /// Checks only in one of the runs (the catalogue changed between them).
    pub added_checks: Vec<String>,
    pub removed_checks: Vec<String>,
    /// A pipeline family regressed: possible tampering with cloud logs (ATT&CK T1562.008).
    pub pipeline_drift: bool,
}

impl Diff {
    pub fn has_regressions(&self) -> bool {
        !self.regressions.is_empty() || !self.new_findings.is_empty()
    }
}

fn run_ref(r: &Results) -> RunRef {
    RunRef {
        id: r.run.id.clone(),
        tenant_id: r.run.tenant_id.clone(),
        as_of: r.run.as_of.clone(),
        collected_at: r.run.collected_at.clone(),
        evidence_manifest_sha256: r.run.evidence_manifest_sha256.clone(),
        catalogue_version: r.run.catalogue_version.clone(),
    }
}

fn open(s: Status) -> bool {
    matches!(
        s,
        Status::Fail | Status::Warn | Status::NotAssessed | Status::Manual
    )
}

fn open_findings(r: &Results) -> BTreeMap<(String, String), FindingRef> {
    let mut out = BTreeMap::new();
    for c in &r.checks {
        for f in &c.findings {
            if matches!(f.status, Status::Fail | Status::Warn) {
                out.insert(
                    (c.id.clone(), f.resource.clone()),
                    FindingRef {
                        check: c.id.clone(),
                        resource: f.resource.clone(),
                        name: f.name.clone(),
                        status: f.status,
                        message: f.message.clone(),
                    },
                );
            }
        }
    }
    out
}

/// Compares two results.
pub fn diff(old: &Results, new: &Results) -> Diff {
    let before: BTreeMap<&str, _> = old.checks.iter().map(|c| (c.id.as_str(), c)).collect();
    let after: BTreeMap<&str, _> = new.checks.iter().map(|c| (c.id.as_str(), c)).collect();
    let mut d = Diff {
        format: FORMAT,
        old: run_ref(old),
        new: run_ref(new),
        same_tenant: old.run.tenant_id.eq_ignore_ascii_case(&new.run.tenant_id),
        regressions: vec![],
        improvements: vec![],
        other_changes: vec![],
        new_findings: vec![],
        resolved_findings: vec![],
        coverage: vec![],
        added_checks: after
            .keys()
            .filter(|k| !before.contains_key(*k))
            .map(|k| k.to_string())
            .collect(),
        removed_checks: before
            .keys()
            .filter(|k| !after.contains_key(*k))
            .map(|k| k.to_string())
            .collect(),
        pipeline_drift: false,
    };
    for (id, n) in &after {
        let Some(o) = before.get(id) else { continue };
        if o.status == n.status {
            continue;
        }
        let change = StatusChange {
            id: id.to_string(),
            title: n.title.clone(),
            family: n.family.clone(),
            severity: n.severity.as_str().into(),
            from: o.status,
            to: n.status,
        };
        if is_regression(o.status, n.status) {
            d.regressions.push(change);
        } else if n.status.rank() < o.status.rank() && open(o.status) {
            d.improvements.push(change);
        } else {
            d.other_changes.push(change);
        }
    }
    let (fo, fnew) = (open_findings(old), open_findings(new));
    let keys_old: BTreeSet<_> = fo.keys().collect();
    let keys_new: BTreeSet<_> = fnew.keys().collect();
    for k in keys_new.difference(&keys_old) {
        d.new_findings
            .push(fnew.get(*k).map(clone_ref).expect("key from map"));
    }
    for k in keys_old.difference(&keys_new) {
        d.resolved_findings
            .push(fo.get(*k).map(clone_ref).expect("key from map"));
    }
    let cov_old: BTreeMap<&str, &str> = old
        .coverage
        .iter()
        .map(|c| (c.id.as_str(), c.state.as_str()))
        .collect();
    for c in &new.coverage {
        if let Some(from) = cov_old.get(c.id.as_str()) {
            if *from != c.state {
                d.coverage.push(CoverageChange {
                    id: c.id.clone(),
                    name: c.name.clone(),
                    from: from.to_string(),
                    to: c.state.clone(),
                });
            }
        }
    }
    d.pipeline_drift = d.regressions.iter().any(|r| is_pipeline_family(&r.family));
    d
}

fn clone_ref(f: &FindingRef) -> FindingRef {
    FindingRef {
        check: f.check.clone(),
        resource: f.resource.clone(),
        name: f.name.clone(),
        status: f.status,
        message: f.message.clone(),
    }
}

/// A plain-text account for the terminal and CI logs.
pub fn render_text(d: &Diff) -> String {
    let mut s = format!(
        "comparing run {} ({}) with run {} ({})\n",
        d.old.id, d.old.as_of, d.new.id, d.new.as_of
    );
    if !d.same_tenant {
        s.push_str(&format!(
            "warning: different tenants ({} and {})\n",
            d.old.tenant_id, d.new.tenant_id
        ));
    }
    let section = |s: &mut String, title: &str, items: &[StatusChange]| {
        if items.is_empty() {
            return;
        }
        s.push_str(&format!("{title} ({}):\n", items.len()));
        for c in items {
            s.push_str(&format!(
                "  {:<28} {} -> {}  [{}] {}\n",
                c.id,
                c.from.as_str(),
                c.to.as_str(),
                c.severity,
                c.title
            ));
        }
    };
    section(&mut s, "regressions", &d.regressions);
    section(&mut s, "improvements", &d.improvements);
    section(&mut s, "other changes", &d.other_changes);
    for (title, list) in [
        ("new failing findings", &d.new_findings),
        ("resolved findings", &d.resolved_findings),
    ] {
        if !list.is_empty() {
            s.push_str(&format!("{title} ({}):\n", list.len()));
            for f in list {
                s.push_str(&format!(
                    "  {:<28} {}: {}\n",
                    f.check,
                    f.name,
                    f.message.replace(['\n', '\r'], " ")
                ));
            }
        }
    }
    for c in &d.coverage {
        s.push_str(&format!("coverage: {} {} -> {}\n", c.name, c.from, c.to));
    }
    if !d.added_checks.is_empty() || !d.removed_checks.is_empty() {
        s.push_str(&format!(
            "catalogue changed: {} check(s) added, {} removed ({} -> {})\n",
            d.added_checks.len(),
            d.removed_checks.len(),
            d.old.catalogue_version,
            d.new.catalogue_version
        ));
    }
    if d.pipeline_drift {
        s.push_str("LOGGING PIPELINE DRIFT: a pipeline check regressed; review for tampering with cloud logs (MITRE ATT&CK T1562.008)\n");
    }
    if !d.has_regressions() {
        s.push_str("no regressions\n");
    }
    s
}
