//! The period report's outputs: `period.json`, `period.md` and `period.html` (tera templates in
//! reports/, with an inline SVG heat map of checks × days and a coverage strip per log type),
//! and `oscal/assessment-results.json` whose result spans the period with one observation per
//! run. Nothing here reads a clock or draws a random number: the same ledger renders the same
//! bytes (OSCAL uuids are derived from the period and the runs, UUID v5).

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use serde::Serialize;
use serde_json::{json, Value};
use uuid::Uuid;

use super::period::Period;
use crate::report::oscal::{line, prop};
use crate::results::Status;

/// The files a period report writes.
pub const FILES: &[&str] = &[
    "period.json",
    "period.md",
    "period.html",
    "oscal/assessment-results.json",
];

#[derive(Serialize)]
struct Cell {
    x: f64,
    class: &'static str,
    title: String,
}

#[derive(Serialize)]
struct Row {
    label: String,
    y: usize,
    cells: Vec<Cell>,
}

#[derive(Serialize)]
struct Heat {
    width: f64,
    height: usize,
    cell: f64,
    label_width: usize,
    days: usize,
    rows: Vec<Row>,
    /// Checks that held on every day they counted, left out of the map.
    held_throughout: usize,
    first_day: String,
    last_day: String,
}

#[derive(Serialize)]
struct View<'a> {
    p: &'a Period,
    heat: Heat,
    coverage: Heat,
    title: String,
    broken: bool,
}

fn class(s: Option<Status>) -> &'static str {
    match s {
        None => "none",
        Some(Status::Pass | Status::Waived) => "held",
        Some(Status::Fail) => "fail",
        Some(Status::Warn) => "warn",
        Some(Status::NotAssessed) => "unknown",
        Some(Status::NotApplicable | Status::Manual) => "na",
    }
}

/// One row per series, one cell per day: the worst status of that day's runs.
fn heat(p: &Period, series: Vec<(String, &[Option<Status>])>, held_throughout: usize) -> Heat {
    let day = |s: &str| s.get(..10).unwrap_or(s).to_string();
    let first = chrono::NaiveDate::parse_from_str(&day(&p.from), "%Y-%m-%d").ok();
    let last = chrono::NaiveDate::parse_from_str(&day(&p.to), "%Y-%m-%d").ok();
    let days: Vec<String> = match (first, last) {
        (Some(a), Some(b)) => a
            .iter_days()
            .take_while(|d| *d <= b)
            .take(3660)
            .map(|d| d.format("%Y-%m-%d").to_string())
            .collect(),
        _ => Vec::new(),
    };
    let index: BTreeMap<&str, usize> = days
        .iter()
        .enumerate()
        .map(|(i, d)| (d.as_str(), i))
        .collect();
    let run_day: Vec<Option<usize>> = p
        .runs
        .iter()
        .map(|r| index.get(day(&r.as_of).as_str()).copied())
        .collect();
    let label_width = 190;
    let cell = if days.is_empty() {
        8.0
    } else {
        ((640.0 / days.len() as f64) * 10.0)
            .floor()
            .clamp(20.0, 120.0)
            / 10.0
    };
    let rows = series
        .into_iter()
        .enumerate()
        .map(|(i, (label, statuses))| {
            let mut worst: Vec<Option<Status>> = vec![None; days.len()];
            let mut ran: Vec<bool> = vec![false; days.len()];
            for (run, s) in statuses.iter().enumerate() {
                let Some(Some(d)) = run_day.get(run) else {
                    continue;
                };
                ran[*d] = true;
                if let Some(s) = s {
                    if worst[*d].is_none_or(|w| s.rank() > w.rank()) {
                        worst[*d] = Some(*s);
                    }
                }
            }
            let cells = days
                .iter()
                .enumerate()
                .map(|(d, date)| Cell {
                    x: ((label_width as f64 + d as f64 * cell) * 10.0).round() / 10.0,
                    class: if ran[d] { class(worst[d]) } else { "none" },
                    title: format!(
                        "{date}: {}",
                        if ran[d] {
                            worst[d].map(|s| s.as_str()).unwrap_or("absent")
                        } else {
                            "no run"
                        }
                    ),
                })
                .collect();
            Row {
                label,
                y: i * 10,
                cells,
            }
        })
        .collect::<Vec<_>>();
    Heat {
        width: label_width as f64 + days.len() as f64 * cell + 2.0,
        height: rows.len() * 10 + 2,
        cell,
        label_width,
        days: days.len(),
        rows,
        held_throughout,
        first_day: days.first().cloned().unwrap_or_default(),
        last_day: days.last().cloned().unwrap_or_default(),
    }
}

fn view(p: &Period) -> View<'_> {
    let mut not_held: Vec<&super::period::CheckPeriod> =
        p.checks.iter().filter(|c| !c.windows.is_empty()).collect();
    not_held.sort_by(|a, b| {
        a.share_held
            .unwrap_or(0.0)
            .total_cmp(&b.share_held.unwrap_or(0.0))
            .then(a.id.cmp(&b.id))
    });
    let shown: Vec<(String, &[Option<Status>])> = not_held
        .iter()
        .map(|c| (c.id.clone(), c.statuses.as_slice()))
        .collect();
    let held_throughout = p.checks.len() - not_held.len();
    let coverage: Vec<(String, &[Option<Status>])> = p
        .log_types
        .iter()
        .map(|l| (l.name.clone(), l.statuses.as_slice()))
        .collect();
    View {
        heat: heat(p, shown, held_throughout),
        coverage: heat(p, coverage, 0),
        title: format!(
            "siemproof period report {} to {}{}",
            &p.from[..10.min(p.from.len())],
            &p.to[..10.min(p.to.len())],
            p.tenant_name
                .as_deref()
                .map(|n| format!(": {n}"))
                .unwrap_or_default()
        ),
        broken: !p.ledger.chain_intact,
        p,
    }
}

/// A deterministic uuid for `what` in this period.
fn uuid_for(p: &Period, what: &str) -> String {
    let seed = format!(
        "siemproof-period {} {} {} {}",
        p.from,
        p.to,
        p.runs.first().map(|r| r.run_id.as_str()).unwrap_or(""),
        p.runs.last().map(|r| r.run_id.as_str()).unwrap_or("")
    );
    let ns = Uuid::new_v5(&Uuid::NAMESPACE_URL, seed.as_bytes());
    Uuid::new_v5(&ns, what.as_bytes()).to_string()
}

/// OSCAL assessment results: one result spanning the period, one observation per run.
pub fn oscal(p: &Period) -> Value {
    let ledger_res = uuid_for(p, "ledger");
    let observations: Vec<Value> = p
        .runs
        .iter()
        .map(|r| {
            json!({
                "uuid": uuid_for(p, &format!("run {}", r.run_id)),
                "title": line(&format!("Scheduled run {} (ledger entry {})", r.run_id, super::entry_dir_name(r.seq))),
                "description": line(&format!(
                    "siemproof run {} as of {}: {} failing and {} not assessed checks; go-live {}.",
                    r.run_id, r.as_of, r.fail, r.not_assessed,
                    if r.go_live_ready { "ready" } else { "not ready" }
                )),
                "props": [prop("run-id", &r.run_id), prop("ledger-entry", &super::entry_dir_name(r.seq))],
                "methods": ["TEST"],
                "types": ["control-objective"],
                "subjects": [{"subject-uuid": ledger_res, "type": "resource"}],
                "relevant-evidence": [{
                    "href": format!("entries/{}/results.json", super::entry_dir_name(r.seq)),
                    "description": "The run's results in the ledger, covered by the run's signed SHA256SUMS"
                }],
                "collected": r.as_of,
            })
        })
        .collect();
    let mut result = json!({
        "uuid": uuid_for(p, "result"),
        "title": line(&format!("Continuous monitoring {} to {}", p.from, p.to)),
        "description": line(&p.verdict),
        "start": p.from,
        "end": p.to,
        "props": [
            prop("period-verdict", if p.continuous { "continuous" } else { "not-continuous" }),
            prop("runs", &p.runs.len().to_string()),
            prop("missing-runs", &p.missing_runs.to_string()),
        ],
        "reviewed-controls": {"control-selections": [{
            "description": "NIST SP 800-53 r5 AU-6 and CA-7: audit record review and continuous monitoring, over the period",
            "include-controls": [{"control-id": "au-6"}, {"control-id": "ca-7"}],
        }]},
    });
    if !observations.is_empty() {
        result["observations"] = json!(observations);
    }
    json!({
        "assessment-results": {
            "uuid": uuid_for(p, "assessment-results"),
            "metadata": {
                "title": line(&format!("siemproof period assessment results {} to {}", p.from, p.to)),
                "last-modified": p.to,
                "version": p.tool_version,
                "oscal-version": crate::report::oscal::OSCAL_VERSION,
            },
            "import-ap": {"href": format!("#{ledger_res}")},
            "results": [result],
            "back-matter": {"resources": [{
                "uuid": ledger_res,
                "title": "siemproof ledger of scheduled runs",
                "description": line(&format!(
                    "A hash chain of signed runs (entries {} to {}); chain {}, signatures {}.",
                    p.ledger.first_seq.map(super::entry_dir_name).unwrap_or_default(),
                    p.ledger.last_seq.map(super::entry_dir_name).unwrap_or_default(),
                    if p.ledger.chain_intact { "intact" } else { "BROKEN" },
                    if p.ledger.signatures_checked { "checked" } else { "not checked" }
                )),
            }]},
        }
    })
}

/// Renders every output file of the period report as `(relative path, bytes)`.
pub fn render(p: &Period, templates: Option<&std::path::Path>) -> Result<Vec<(String, Vec<u8>)>> {
    let tera = crate::report::templates(templates)?;
    let v = view(p);
    let ctx = tera::Context::from_serialize(&v).context("period view")?;
    let mut out = Vec::new();
    let mut json_bytes = serde_json::to_vec_pretty(p)?;
    json_bytes.push(b'\n');
    out.push(("period.json".to_string(), json_bytes));
    for name in ["period.md", "period.html"] {
        let text = tera
            .render(name, &ctx)
            .map_err(|e| anyhow::anyhow!("template {name}: {e:?}"))?;
        out.push((name.to_string(), text.into_bytes()));
    }
    let mut o = serde_json::to_vec_pretty(&oscal(p))?;
    o.push(b'\n');
    out.push(("oscal/assessment-results.json".to_string(), o));
    Ok(out)
}
