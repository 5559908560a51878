//! Waivers: accepted risks from the config, applied to failing or warning findings.
//!
//! A waiver names a check and optionally one resource, with a reason, an approver and an expiry.
//! A waived finding is counted apart, an expired waiver stops applying and is reported, and a
//! waiver that matched nothing is reported too (it may hide a typo or a fixed problem).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::config::Waiver;
use crate::results::{aggregate, AppliedWaiver, CheckResult, Status};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct WaiverReport {
    pub applied: Vec<WaiverUse>,
    /// Past their expiry: not applied.
    pub expired: Vec<WaiverUse>,
    /// Matched no failing or warning finding.
    pub unused: Vec<WaiverUse>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WaiverUse {
    pub check: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    pub reason: String,
    pub approver: String,
    #[serde(with = "crate::config::toml_date")]
    pub expires: NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
    /// Findings it matched.
    pub findings: usize,
}

fn use_of(w: &Waiver, findings: usize) -> WaiverUse {
    WaiverUse {
        check: w.check.clone(),
        resource: w.resource.clone(),
        reason: w.reason.clone(),
        approver: w.approver.clone(),
        expires: w.expires,
        ticket: w.ticket.clone(),
        findings,
    }
}

fn matches(w: &Waiver, check_id: &str, resource: &str, name: &str) -> bool {
    w.check.eq_ignore_ascii_case(check_id)
        && w.resource
            .as_deref()
            .is_none_or(|r| r.eq_ignore_ascii_case(resource) || r.eq_ignore_ascii_case(name))
}

/// Applies waivers in force on `today` to the results, in place.
pub fn apply(waivers: &[Waiver], checks: &mut [CheckResult], today: NaiveDate) -> WaiverReport {
    let mut report = WaiverReport::default();
    for w in waivers {
        let in_force = today <= w.expires;
        let mut matched = 0;
        for c in checks.iter_mut() {
            let id = c.id.clone();
            for f in c.findings.iter_mut() {
                let open = matches!(f.status, Status::Fail | Status::Warn);
                if open && matches(w, &id, &f.resource, &f.name) {
                    matched += 1;
                    if in_force {
                        f.waiver = Some(AppliedWaiver {
                            reason: w.reason.clone(),
                            approver: w.approver.clone(),
                            expires: w.expires.to_string(),
                            ticket: w.ticket.clone(),
                            original_status: f.status,
                        });
                        f.status = Status::Waived;
                    }
                }
            }
            if in_force && matched > 0 && !c.findings.is_empty() {
                c.status = aggregate(c.findings.iter().map(|f| f.status));
            }
        }
        if !in_force {
            report.expired.push(use_of(w, matched));
        } else if matched == 0 {
            report.unused.push(use_of(w, 0));
        } else {
            report.applied.push(use_of(w, matched));
        }
    }
    report
}
