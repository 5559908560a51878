//! The guide's "Log Source Mapping" table as data, and the coverage matrix computed from the
//! normalised model: for each log type, the methods allowed (A: Event Hub, B: REST API), whether
//! a path is configured, whether data is flowing, gaps and double collection.
//!
//! The matrix is computed once, here, into the model's `coverage` section; the `coverage` checks
//! read it and the reports show it as their headline.

use serde::{Deserialize, Serialize};

use crate::normalize::model::Model;

/// One row of the guide's Log Source Mapping table.
#[derive(Debug, Clone, Serialize)]
pub struct LogType {
    pub id: &'static str,
    /// The name the guide uses.
    pub name: &'static str,
    /// Methods the guide allows: "A" (Event Hub streaming) and/or "B" (REST API polling).
    pub methods: &'static [&'static str],
    /// The guide's note for the row.
    pub note: &'static str,
    /// The licence flag in `tenant.licences` the log type needs, if any.
    pub licence: Option<&'static str>,
    pub licence_name: Option<&'static str>,
    pub required_by_default: bool,
}

/// The ten rows of the guide's mapping table, in its order.
pub static LOG_TYPES: &[LogType] = &[
    LogType {
        id: "entra_signin",
        name: "Azure AD Sign-in Logs",
        methods: &["A"],
        note: "Only via Event Hub",
        licence: Some("entra_p1"),
        licence_name: Some("Microsoft Entra ID P1 or P2"),
        required_by_default: true,
    },
    LogType {
        id: "entra_audit",
        name: "Azure AD Audit Logs",
        methods: &["A", "B"],
        note: "Both supported",
        licence: None,
        licence_name: None,
        required_by_default: true,
    },
    LogType {
        id: "defender_alerts",
        name: "Defender Alerts (MDE/MDI/MDO)",
        methods: &["A"],
        note: "Defender Streaming API",
        licence: Some("defender_any"),
        licence_name: Some(
            "Defender for Endpoint P2, Defender for Identity or Defender for Office 365 P2",
        ),
        required_by_default: true,
    },
    LogType {
        id: "mdca_alerts",
        name: "Defender for Cloud Apps Alerts",
        methods: &["A"],
        note: "SIEM connector → Event Hub",
        licence: Some("mdca"),
        licence_name: Some("Microsoft Defender for Cloud Apps"),
        required_by_default: true,
    },
    LogType {
        id: "exchange_audit",
        name: "Exchange Mailbox Audit",
        methods: &["B"],
        note: "Via Office 365 REST API",
        licence: None,
        licence_name: None,
        required_by_default: true,
    },
    LogType {
        id: "sharepoint_audit",
        name: "SharePoint / OneDrive Activity",
        methods: &["B"],
        note: "Via REST API",
        licence: None,
        licence_name: None,
        required_by_default: true,
    },
    LogType {
        id: "teams_audit",
        name: "Teams Events",
        methods: &["B"],
        note: "API \"General\" category",
        licence: None,
        licence_name: None,
        required_by_default: true,
    },
    LogType {
        id: "purview_dlp",
        name: "Microsoft Purview DLP Events",
        methods: &["B"],
        note: "API only (not streamable via Event Hub)",
        licence: None,
        licence_name: None,
        required_by_default: true,
    },
    LogType {
        id: "unified_audit",
        name: "Unified Audit Log (All Activities)",
        methods: &["B"],
        note: "REST API only",
        licence: None,
        licence_name: None,
        required_by_default: true,
    },
    LogType {
        id: "service_health",
        name: "Microsoft 365 Service Health",
        methods: &["B"],
        note: "Optional; via REST API",
        licence: None,
        licence_name: None,
        required_by_default: false,
    },
];

/// One row of the coverage matrix.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LogTypeCoverage {
    pub id: String,
    pub name: String,
    pub methods_allowed: Vec<String>,
    pub note: String,
    /// In `coverage.required` of the config.
    pub required: bool,
    /// `true`/`false` from the tenant's service plans; `null` when licences could not be read.
    pub licensed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub licence_needed: Option<String>,
    /// Methods with a configured path ("A", "B"); `null` when the evidence was not readable.
    pub configured_by: Option<Vec<String>>,
    pub configured: Option<bool>,
    /// Data seen on a configured path within the window; `null` when unknown.
    pub flowing: Option<bool>,
    /// Seen in the SIEM's own log sources; `null` without SIEM evidence.
    pub in_siem: Option<bool>,
    /// The SIEM inputs that carry this log type (`siem: name`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub siem_inputs: Vec<String>,
    /// Hours by which the newest event in the SIEM trails the newest one Microsoft shows for
    /// this log type; `null` unless both ends have a timestamp.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lag_hours: Option<f64>,
    /// Hours from the newest event the SIEM holds for this log type to the audit clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub siem_last_event_hours: Option<f64>,
    /// Collected by both methods (duplicate events in the SIEM); `null` when one path's
    /// configuration is unknown and the other's is not known to be off.
    pub double_collection: Option<bool>,
    /// Required, licensed, and not configured or not flowing.
    pub gap: bool,
    /// `covered`, `attested` (no API shows the flow), `gap`, `not licensed`, `not required`,
    /// `unknown`.
    pub state: String,
    /// Why the row reads as it does, one clause per fact.
    pub detail: Vec<String>,
}

/// What one method contributes for one log type: configured and flowing, each possibly unknown.
#[derive(Debug, Clone, Copy, Default)]
pub struct Path {
    pub configured: Option<bool>,
    pub flowing: Option<bool>,
    /// Configured by a valid attestation (no API shows the path or its flow).
    pub attested: bool,
}

fn or3(a: Option<bool>, b: Option<bool>) -> Option<bool> {
    match (a, b) {
        (Some(true), _) | (_, Some(true)) => Some(true),
        (Some(false), Some(false)) => Some(false),
        _ => None,
    }
}

/// Computes the matrix from the rest of the model (everything but `coverage`).
pub fn compute(m: &Model) -> Vec<LogTypeCoverage> {
    let required = &m.config.coverage.required;
    LOG_TYPES
        .iter()
        .map(|lt| {
            let mut detail = Vec::new();
            let (a, b) = paths(m, lt.id, &mut detail);
            let (in_siem, siem_inputs, siem_hours) = siem_side(m, lt.id, &mut detail);
            // The SIEM cannot be ahead of Microsoft: a negative difference is the two ends'
            // different granularity (a content blob's creation time trails its events).
            let lag_hours = siem_hours
                .zip(microsoft_newest_hours(m, lt.id))
                .map(|(siem, ms)| (((siem - ms) * 10.0).round() / 10.0).max(0.0));
            let licensed = match lt.licence {
                None => Some(true),
                Some(flag) => m.tenant.licences.get(flag),
            };
            let mut configured_by = Some(vec![]);
            let mut configured = Some(false);
            let mut flowing = Some(false);
            for (name, p) in [("A", a), ("B", b)] {
                if !lt.methods.contains(&name) {
                    continue;
                }
                match p.configured {
                    Some(true) => {
                        if let Some(v) = configured_by.as_mut() {
                            v.push(name.to_string());
                        }
                    }
                    None => configured_by = configured_by.filter(|v| !v.is_empty()),
                    Some(false) => {}
                }
                configured = or3(configured, p.configured);
                let f = if p.configured == Some(false) {
                    Some(false)
                } else {
                    p.flowing
                };
                flowing = or3(flowing, f);
            }
            if configured == Some(true) && configured_by.is_none() {
                configured_by = Some(vec![]);
            }
            let double_collection = if lt.methods.len() < 2 {
                Some(false)
            } else {
                match (a.configured, b.configured) {
                    (Some(true), Some(true)) => Some(true),
                    (Some(false), _) | (_, Some(false)) => Some(false),
                    _ => None,
                }
            };
            if double_collection == Some(true) {
                detail.push(
                    "collected by both Event Hub and REST API: expect duplicate events".into(),
                );
            }
            let is_required = required.iter().any(|r| r == lt.id);
            let gap = is_required
                && licensed != Some(false)
                && (configured == Some(false) || flowing == Some(false));
            let state = if !is_required {
                "not required"
            } else if licensed == Some(false) {
                "not licensed"
            } else if gap {
                "gap"
            } else if configured == Some(true) && flowing == Some(true) && licensed == Some(true) {
                "covered"
            } else if configured == Some(true) && flowing.is_none() && (a.attested || b.attested) {
                "attested"
            } else {
                "unknown"
            };
            LogTypeCoverage {
                id: lt.id.into(),
                name: lt.name.into(),
                methods_allowed: lt.methods.iter().map(|s| s.to_string()).collect(),
                note: lt.note.into(),
                required: is_required,
                licensed,
                licence_needed: lt.licence_name.map(str::to_string),
                configured_by,
                configured,
                flowing,
                in_siem,
                siem_inputs,
                lag_hours,
                siem_last_event_hours: siem_hours,
                double_collection,
                gap,
                state: state.into(),
                detail: {
                    // A fact shared by several categories (the SIEM's checkpoints) once.
                    let mut seen = std::collections::BTreeSet::new();
                    detail
                        .into_iter()
                        .filter(|d| seen.insert(d.clone()))
                        .collect()
                },
            }
        })
        .collect()
}

/// Whether the SIEM holds recent events of a log type: `true` when an enabled input carrying it
/// is fresh, `false` when every SIEM input was read and none is, `null` without SIEM evidence.
/// Also the inputs that carry it and the freshest one's age in hours.
fn siem_side(
    m: &Model,
    id: &str,
    detail: &mut Vec<String>,
) -> (Option<bool>, Vec<String>, Option<f64>) {
    if !m.siem.configured {
        return (None, vec![], None);
    }
    let Some(inputs) = &m.siem.inputs else {
        detail.push(format!("SIEM inputs unreadable ({})", m.siem.status));
        return (None, vec![], None);
    };
    let carrying: Vec<_> = inputs
        .iter()
        .filter(|i| i.log_types.iter().any(|l| l == id) && i.enabled != Some(false))
        .collect();
    let names = carrying
        .iter()
        .map(|i| format!("{}: {}", i.siem, i.name))
        .collect();
    let newest = carrying
        .iter()
        .filter_map(|i| i.hours_since_last_event)
        .fold(None, |acc: Option<f64>, h| {
            Some(acc.map_or(h, |a| a.min(h)))
        });
    // An input whose log types are unknown (an Office 365 source without an Event Filter)
    // might carry it: then its absence from the others proves nothing.
    let maybe_elsewhere = inputs
        .iter()
        .any(|i| !i.log_types_known && i.enabled != Some(false));
    let seen = if carrying.iter().any(|i| i.fresh == Some(true)) {
        detail.push("in the SIEM within the window".into());
        Some(true)
    } else if maybe_elsewhere || carrying.iter().any(|i| i.fresh.is_none()) {
        detail.push("SIEM inputs whose log types or freshness are unknown".into());
        None
    } else {
        detail.push(if carrying.is_empty() {
            "no SIEM input carries it".into()
        } else {
            "no recent event in the SIEM".into()
        });
        Some(false)
    };
    (seen, names, newest)
}

/// Hours since the newest event Microsoft shows for a log type (Management Activity API content
/// and the Graph audit log carry event times; Event Hub metrics do not).
fn microsoft_newest_hours(m: &Model, id: &str) -> Option<f64> {
    let ct = |c: &str| {
        m.o365
            .content_types
            .iter()
            .find(|x| x.content_type == c)
            .and_then(|x| x.hours_since_latest)
    };
    match id {
        "exchange_audit" => ct("Audit.Exchange"),
        "sharepoint_audit" => ct("Audit.SharePoint"),
        "teams_audit" => ct("Audit.General"),
        "purview_dlp" => ct("DLP.All"),
        "entra_audit" => {
            ct("Audit.AzureActiveDirectory").or(m.graph.directory_audits.hours_since_latest)
        }
        "entra_signin" => m.graph.sign_ins.hours_since_latest,
        // The unified audit log is as fresh as its stalest content type.
        "unified_audit" => [
            "Audit.AzureActiveDirectory",
            "Audit.Exchange",
            "Audit.SharePoint",
            "Audit.General",
        ]
        .iter()
        .map(|c| ct(c))
        .try_fold(0.0f64, |acc, h| h.map(|h| acc.max(h))),
        _ => None,
    }
}

/// Whether the SIEM consumes the configured hub, from its checkpoints: `None` when the store
/// was not read (the metrics alone then decide).
fn consumption(m: &Model, detail: &mut Vec<String>) -> Option<bool> {
    let c = &m.consumer;
    if !c.configured || c.status != "ok" {
        return None;
    }
    let limit_h = m.config.thresholds.max_checkpoint_age_minutes as f64 / 60.0;
    match &c.configured_reader {
        None => {
            detail.push("no checkpoint of the SIEM's consumer group".into());
            Some(false)
        }
        Some(r) => match r.hours_since_newest_checkpoint {
            Some(h) if h <= limit_h => {
                detail.push(format!(
                    "the SIEM's checkpoints advance (newest {} min old)",
                    (h * 60.0).round()
                ));
                Some(true)
            }
            Some(h) => {
                detail.push(format!("the SIEM's newest checkpoint is {h} h old"));
                Some(false)
            }
            None => None,
        },
    }
}

/// The Event Hub (A) and REST API (B) paths for one log type.
fn paths(m: &Model, id: &str, detail: &mut Vec<String>) -> (Path, Path) {
    let entra = |cat: &str, detail: &mut Vec<String>| -> Path {
        let configured = m.entra.category_streamed(cat);
        let incoming = if configured == Some(true) {
            m.eventhub.configured_hub_incoming().map(|n| n > 0.0)
        } else {
            None
        };
        match configured {
            Some(true) => detail.push(format!("{cat} streamed to the configured hub")),
            Some(false) => detail.push(format!("{cat} not streamed to the configured hub")),
            None => detail.push(format!("Entra diagnostic settings unreadable ({cat})")),
        }
        // Messages entering the hub are half the flow; the SIEM's own checkpoints advancing is
        // the other half, when its checkpoint store could be read.
        let consuming = if configured == Some(true) {
            consumption(m, detail)
        } else {
            None
        };
        let flowing = match consuming {
            Some(c) => and3(incoming, Some(c)),
            None => incoming,
        };
        Path {
            configured,
            flowing,
            attested: false,
        }
    };
    let o365 = |ct: &str, detail: &mut Vec<String>| -> Path {
        let p = m.o365.path(ct);
        match p.configured {
            Some(true) => detail.push(format!("{ct} subscription enabled")),
            Some(false) => detail.push(format!("{ct} subscription not enabled")),
            None => detail.push(format!("{ct} subscription state unknown")),
        }
        if p.configured == Some(true) && p.flowing == Some(false) {
            detail.push(format!("no {ct} content within the freshness window"));
        }
        p
    };
    match id {
        "entra_signin" => (entra("SignInLogs", detail), Path::default()),
        "entra_audit" => {
            let a = entra("AuditLogs", detail);
            let mut b = o365("Audit.AzureActiveDirectory", detail);
            if m.config.app.method != "management_api" {
                let g = m.graph.path();
                b.configured = or3(b.configured, g.configured);
                b.flowing = or3(b.flowing, g.flowing);
            }
            (a, b)
        }
        "defender_alerts" => (m.defender.streaming_path(detail), Path::default()),
        "mdca_alerts" => (m.defender.mdca_path(detail), Path::default()),
        "exchange_audit" => (Path::default(), o365("Audit.Exchange", detail)),
        "sharepoint_audit" => (Path::default(), o365("Audit.SharePoint", detail)),
        "teams_audit" => (Path::default(), o365("Audit.General", detail)),
        "purview_dlp" => (Path::default(), o365("DLP.All", detail)),
        "unified_audit" => {
            let types = [
                "Audit.AzureActiveDirectory",
                "Audit.Exchange",
                "Audit.SharePoint",
                "Audit.General",
            ];
            let mut p = Path {
                configured: Some(true),
                flowing: Some(true),
                attested: false,
            };
            for ct in types {
                let q = m.o365.path(ct);
                p.configured = and3(p.configured, q.configured);
                p.flowing = and3(p.flowing, q.flowing);
            }
            detail.push(match p.configured {
                Some(true) => "all four Audit.* content types subscribed".to_string(),
                Some(false) => "not every Audit.* content type is subscribed".to_string(),
                None => "Management Activity API subscriptions unknown".to_string(),
            });
            (Path::default(), p)
        }
        "service_health" => {
            let p = m.apps.service_health_path();
            detail.push(match p.configured {
                Some(true) => "a SIEM app holds ServiceHealth.Read".to_string(),
                Some(false) => "no SIEM app holds ServiceHealth.Read".to_string(),
                None => "SIEM app permissions unknown".to_string(),
            });
            (Path::default(), p)
        }
        _ => (Path::default(), Path::default()),
    }
}

fn and3(a: Option<bool>, b: Option<bool>) -> Option<bool> {
    match (a, b) {
        (Some(false), _) | (_, Some(false)) => Some(false),
        (Some(true), Some(true)) => Some(true),
        _ => None,
    }
}
