//! `siemproof period`: what the ledger's runs say about a whole audit period.
//!
//! For each check and each required log type: the share of runs in which it held, every window
//! in which it did not (first seen, resolved, how long, which runs), the time to fix; the runs
//! missing from the schedule; every regression between consecutive runs (with `diff`'s
//! possible-T1562.008 flag); and a period verdict. Everything is computed from the entries
//! alone, so the same ledger gives the same bytes whenever it is rendered.
//!
//! A check *held* in a run when it passed or was waived; `not_applicable` and `manual` runs are
//! not counted either way; `fail`, `warn` and `not_assessed` did not hold (a run that could not
//! see is never counted as a good one).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::verify::Gap;
use super::view::CheckView;
use super::{Entry, LoadedRun};
use crate::results::Status;

pub const FORMAT: &str = "siemproof-period/1";

/// Whether a status counts for the period, and as held or not.
fn held(s: Status) -> Option<bool> {
    match s {
        Status::Pass | Status::Waived => Some(true),
        Status::Fail | Status::Warn | Status::NotAssessed => Some(false),
        Status::NotApplicable | Status::Manual => None,
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Window {
    pub first_seen: String,
    /// The first run after the window in which it held again; `null` when still open at the
    /// period's last run.
    pub resolved: Option<String>,
    /// Hours from the first failing run to the resolving one (or to the last run when open).
    pub hours: f64,
    pub runs: usize,
    pub first_run: String,
    pub last_run: String,
    /// The worst status inside the window.
    pub worst: Status,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckPeriod {
    pub id: String,
    pub title: String,
    pub family: String,
    pub severity: String,
    pub go_live: String,
    /// Runs in which the check counted (not `not_applicable` / `manual`).
    pub runs_counted: usize,
    pub runs_held: usize,
    /// `runs_held / runs_counted`, to four places; `null` when it never counted.
    pub share_held: Option<f64>,
    pub windows: Vec<Window>,
    /// Mean and longest hours to fix over the windows that closed.
    pub mean_hours_to_fix: Option<f64>,
    pub max_hours_to_fix: Option<f64>,
    /// Status per run, in run order (for the heat map).
    #[serde(skip)]
    pub statuses: Vec<Option<Status>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LogTypePeriod {
    pub id: String,
    pub name: String,
    pub runs_counted: usize,
    pub runs_held: usize,
    pub share_held: Option<f64>,
    pub windows: Vec<Window>,
    #[serde(skip)]
    pub statuses: Vec<Option<Status>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunRow {
    pub seq: u64,
    pub run_id: String,
    pub as_of: String,
    pub go_live_ready: bool,
    pub fail: usize,
    pub not_assessed: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Regression {
    pub from_run: String,
    pub to_run: String,
    pub at: String,
    pub checks: Vec<String>,
    /// A pipeline family regressed: possible tampering with cloud logs (ATT&CK T1562.008).
    pub pipeline_drift: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct LedgerRef {
    pub entries_in_period: usize,
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
    pub chain_intact: bool,
    pub signatures_checked: bool,
    pub key_id: Option<String>,
    /// Why the chain is not intact, when `--allow-broken-chain` let the report be made anyway.
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Period {
    pub format: &'static str,
    pub from: String,
    pub to: String,
    pub tool_version: String,
    pub tenant_id: Option<String>,
    pub tenant_name: Option<String>,
    pub ledger: LedgerRef,
    pub schedule_every_hours: Option<i64>,
    pub runs: Vec<RunRow>,
    pub missing: Vec<Gap>,
    pub missing_runs: i64,
    pub checks: Vec<CheckPeriod>,
    pub log_types: Vec<LogTypePeriod>,
    pub regressions: Vec<Regression>,
    /// Runs that read no SIEM (no `[[siem]]` target): their log types held on the Microsoft side
    /// only, with `in_siem` unknown.
    pub runs_without_siem: usize,
    /// Every blocking check held in every run, no required log type stopped, no run missing,
    /// and the chain is intact.
    pub continuous: bool,
    pub verdict: String,
}

fn share(held: usize, counted: usize) -> Option<f64> {
    (counted > 0).then(|| ((held as f64 / counted as f64) * 10_000.0).round() / 10_000.0)
}

fn hours_between(a: &str, b: &str) -> f64 {
    match (
        DateTime::parse_from_rfc3339(a),
        DateTime::parse_from_rfc3339(b),
    ) {
        (Ok(a), Ok(b)) => ((b - a).num_seconds() as f64 / 3600.0 * 10.0).round() / 10.0,
        _ => 0.0,
    }
}

/// The windows in which a series did not hold.
fn windows(statuses: &[Option<Status>], runs: &[&Entry]) -> Vec<Window> {
    let mut out: Vec<Window> = Vec::new();
    let mut open: Option<(usize, usize, Status)> = None; // (first, last, worst)
    for (i, s) in statuses.iter().enumerate() {
        match s.and_then(held) {
            Some(false) => {
                let st = s.unwrap_or(Status::NotAssessed);
                open = Some(match open {
                    None => (i, i, st),
                    Some((f, _, w)) => (f, i, if st.rank() > w.rank() { st } else { w }),
                });
            }
            Some(true) => {
                if let Some((f, l, w)) = open.take() {
                    out.push(window(runs, f, l, Some(i), w));
                }
            }
            None => {}
        }
    }
    if let Some((f, l, w)) = open {
        out.push(window(runs, f, l, None, w));
    }
    out
}

fn window(
    runs: &[&Entry],
    first: usize,
    last: usize,
    resolved: Option<usize>,
    worst: Status,
) -> Window {
    let end = resolved.unwrap_or(runs.len() - 1);
    Window {
        first_seen: runs[first].as_of.clone(),
        resolved: resolved.map(|r| runs[r].as_of.clone()),
        hours: hours_between(&runs[first].as_of, &runs[end].as_of),
        runs: last - first + 1,
        first_run: runs[first].run_id.clone(),
        last_run: runs[last].run_id.clone(),
        worst,
    }
}

fn fix_times(ws: &[Window]) -> (Option<f64>, Option<f64>) {
    let closed: Vec<f64> = ws
        .iter()
        .filter(|w| w.resolved.is_some())
        .map(|w| w.hours)
        .collect();
    if closed.is_empty() {
        return (None, None);
    }
    let mean = closed.iter().sum::<f64>() / closed.len() as f64;
    let max = closed.iter().copied().fold(0.0, f64::max);
    (Some((mean * 10.0).round() / 10.0), Some(max))
}

/// The period's bounds: `from` at 00:00:00Z, `to` at 23:59:59Z.
pub fn bounds(from: NaiveDate, to: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = from.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    let end = to.and_hms_opt(23, 59, 59).unwrap_or_default().and_utc();
    (start, end)
}

/// Computes the period from the runs in it (in ledger order) and the ledger's state.
pub fn compute(
    runs: &[LoadedRun],
    from: NaiveDate,
    to: NaiveDate,
    ledger: LedgerRef,
    schedule_every_hours: Option<i64>,
) -> Period {
    let (start, end) = bounds(from, to);
    let fmt = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let entries: Vec<&Entry> = runs.iter().map(|r| &r.entry).collect();

    // Checks in catalogue order of the latest run, then any that only older runs had.
    let mut order: Vec<String> = Vec::new();
    let mut meta: BTreeMap<String, (String, String, String, String)> = BTreeMap::new();
    for r in runs.iter().rev() {
        for c in &r.view.checks {
            if !meta.contains_key(&c.id) {
                order.push(c.id.clone());
                meta.insert(
                    c.id.clone(),
                    (
                        c.title.clone(),
                        c.family.clone(),
                        c.severity.as_str().to_string(),
                        c.go_live.as_str().to_string(),
                    ),
                );
            }
        }
    }
    let by_run: Vec<BTreeMap<&str, &CheckView>> = runs
        .iter()
        .map(|r| r.view.checks.iter().map(|c| (c.id.as_str(), c)).collect())
        .collect();
    let checks: Vec<CheckPeriod> = order
        .iter()
        .map(|id| {
            let statuses: Vec<Option<Status>> = by_run
                .iter()
                .map(|m| m.get(id.as_str()).map(|c| c.status))
                .collect();
            let counted = statuses
                .iter()
                .filter(|s| s.and_then(held).is_some())
                .count();
            let held_n = statuses
                .iter()
                .filter(|s| s.and_then(held) == Some(true))
                .count();
            let ws = windows(&statuses, &entries);
            let (mean, max) = fix_times(&ws);
            let (title, family, severity, go_live) = meta[id].clone();
            CheckPeriod {
                id: id.clone(),
                title,
                family,
                severity,
                go_live,
                runs_counted: counted,
                runs_held: held_n,
                share_held: share(held_n, counted),
                windows: ws,
                mean_hours_to_fix: mean,
                max_hours_to_fix: max,
                statuses,
            }
        })
        .collect();

    // Required log types: held when configured, flowing and (where a SIEM was read) seen in it.
    let runs_without_siem = runs.iter().filter(|r| !r.view.siem_read).count();
    let mut lt_order: Vec<(String, String)> = Vec::new();
    for r in runs.iter().rev() {
        for c in r.view.coverage.iter().filter(|c| c.required) {
            if !lt_order.iter().any(|(id, _)| id == &c.id) {
                lt_order.push((c.id.clone(), c.name.clone()));
            }
        }
    }
    let log_types = lt_order
        .into_iter()
        .map(|(id, name)| {
            let statuses: Vec<Option<Status>> = runs
                .iter()
                .map(|r| {
                    r.view.coverage.iter().find(|c| c.id == id).map(|c| {
                        match crate::report::events::coverage_verdict(
                            c.configured,
                            c.flowing,
                            c.in_siem,
                            r.view.siem_read,
                        ) {
                            "pass" => Status::Pass,
                            "fail" => Status::Fail,
                            _ => Status::NotAssessed,
                        }
                    })
                })
                .collect();
            let counted = statuses
                .iter()
                .filter(|s| s.and_then(held).is_some())
                .count();
            let held_n = statuses
                .iter()
                .filter(|s| s.and_then(held) == Some(true))
                .count();
            LogTypePeriod {
                windows: windows(&statuses, &entries),
                id,
                name,
                runs_counted: counted,
                runs_held: held_n,
                share_held: share(held_n, counted),
                statuses,
            }
        })
        .collect::<Vec<_>>();

    // `diff`'s rule between each pair of consecutive runs, on the checks both ran (in id order).
    let regressions: Vec<Regression> = runs
        .windows(2)
        .zip(by_run.windows(2))
        .filter_map(|(w, m)| {
            let regressed: Vec<&CheckView> = m[1]
                .iter()
                .filter(|(id, n)| {
                    m[0].get(*id)
                        .is_some_and(|o| crate::diff::is_regression(o.status, n.status))
                })
                .map(|(_, n)| *n)
                .collect();
            (!regressed.is_empty()).then(|| Regression {
                from_run: w[0].entry.run_id.clone(),
                to_run: w[1].entry.run_id.clone(),
                at: w[1].entry.as_of.clone(),
                checks: regressed.iter().map(|c| c.id.clone()).collect(),
                pipeline_drift: regressed
                    .iter()
                    .any(|c| crate::diff::is_pipeline_family(&c.family)),
            })
        })
        .collect();

    // Runs missing from the schedule, the period's edges included: a run was due within one
    // interval of the start, and one by the end.
    let missing = match schedule_every_hours {
        Some(every) => super::verify::gaps(
            &super::verify::run_times(entries.iter().copied()),
            every,
            Some(start - chrono::Duration::hours(every)),
            Some(end + chrono::Duration::seconds(1)),
        ),
        None => Vec::new(),
    };
    let missing_runs: i64 = missing.iter().map(|g| g.missing_runs).sum();

    let blocking_not_held: Vec<&CheckPeriod> = checks
        .iter()
        .filter(|c| c.go_live == "blocking" && !c.windows.is_empty())
        .collect();
    let log_types_not_held = log_types.iter().filter(|l| !l.windows.is_empty()).count();
    let continuous = !runs.is_empty()
        && blocking_not_held.is_empty()
        && log_types_not_held == 0
        && missing_runs == 0
        && ledger.chain_intact;
    let verdict = if runs.is_empty() {
        "NO EVIDENCE: the ledger holds no run in this period".to_string()
    } else if continuous {
        let scope = match runs_without_siem {
            0 => String::new(),
            n if n == runs.len() => {
                "; Microsoft side only: no run read the SIEM, so arrival in it is unproven".into()
            }
            n => format!(
                "; Microsoft side only in {n} run(s) that read no SIEM, so arrival in it is unproven there"
            ),
        };
        format!(
            "CONTINUOUS: every blocking check and required log type held in all {} runs, none missing from the schedule{scope}",
            runs.len()
        )
    } else {
        let mut why = Vec::new();
        if !ledger.chain_intact {
            why.push("the ledger's chain is broken".to_string());
        }
        if !blocking_not_held.is_empty() {
            why.push(format!(
                "{} blocking check(s) did not hold in every run ({})",
                blocking_not_held.len(),
                blocking_not_held
                    .iter()
                    .take(5)
                    .map(|c| c.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if log_types_not_held > 0 {
            why.push(format!(
                "{log_types_not_held} required log type(s) stopped or went unseen"
            ));
        }
        if missing_runs > 0 {
            why.push(format!("{missing_runs} scheduled run(s) missing"));
        }
        format!("NOT CONTINUOUS: {}", why.join("; "))
    };
    let latest = runs.last().map(|r| &r.view);
    Period {
        format: FORMAT,
        from: fmt(start),
        to: fmt(end),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        tenant_id: latest.map(|r| r.tenant_id.clone()),
        tenant_name: latest.and_then(|r| r.tenant_name.clone()),
        ledger,
        schedule_every_hours,
        runs: runs
            .iter()
            .map(|r| RunRow {
                seq: r.entry.seq,
                run_id: r.entry.run_id.clone(),
                as_of: r.entry.as_of.clone(),
                go_live_ready: r.view.go_live_ready,
                fail: r.view.fail,
                not_assessed: r.view.not_assessed,
            })
            .collect(),
        missing,
        missing_runs,
        checks,
        log_types,
        regressions,
        runs_without_siem,
        continuous,
        verdict,
    }
}
