//! `fleet report`: the portfolio of a fleet's last audits. One row per tenant, worst first;
//! tenants × check families and tenants × required log types as inline-SVG grids; the go-live
//! verdict per tenant; `portfolio.json`, `portfolio.md`, `portfolio.html`, each tenant's
//! `results.json` (and its reports) under `tenants/<slug>/`, and one `SHA256SUMS` over all,
//! signed when asked, whose trusted comment binds `portfolio.json`.
//!
//! The portfolio is read from one or more state directories (a whole fleet, or the shards of
//! one). Every fleet tenant must appear in exactly one of them: a tenant in none is listed as
//! "no results" and makes the fleet exit 2, a tenant in two is an error. Each results.json is
//! read only if its SHA-256 is the one its status recorded when the audit wrote it, and is read
//! slim (the fields a portfolio shows, as `period` reads runs).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use serde::Serialize;

use super::file::{Fleet, Tenant};
use super::run::{self, Status as RunStatus};
use crate::catalog::{GoLive, Severity};
use crate::ledger::view::RunView;
use crate::results::Status;

pub const FORMAT: &str = "siemproof-portfolio/1";
/// The files a portfolio writes besides `tenants/`.
pub const FILES: &[&str] = &["portfolio.json", "portfolio.md", "portfolio.html"];
/// Per-tenant files copied from its run, when present.
const COPIED: &[&str] = &["results.json", "report.html", "report.md"];

/// Failing checks of a tenant by severity.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct BySeverity {
    pub critical: usize,
    pub high: usize,
    pub medium: usize,
    pub low: usize,
    pub info: usize,
}

/// One tenant × family cell: the worst status of the family's checks.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FamilyCell {
    /// The worst first: `fail`, `unknown` (not assessed), `warn`, `held`, `na` (nothing
    /// applied), `none` (no results).
    pub state: &'static str,
    pub fail: usize,
    pub not_assessed: usize,
    pub checks: usize,
}

/// One tenant's row.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TenantRow {
    pub slug: String,
    pub tenant_id: Option<String>,
    pub tenant_name: Option<String>,
    pub exit: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Results were read for it.
    pub results: bool,
    /// Its last `fleet collect` exit, when the fleet collected it (the row's `exit` is the worse
    /// of the two).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collect_exit: Option<u8>,
    /// Why that collection did not fully succeed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collect_error: Option<String>,
    pub go_live_ready: bool,
    pub fail: usize,
    pub fails: BySeverity,
    /// Blocking checks that fail or could not be assessed.
    pub blocking_open: usize,
    pub not_assessed: usize,
    pub checks: usize,
    /// Aligned with [`Portfolio::families`].
    pub families: Vec<FamilyCell>,
    /// Aligned with [`Portfolio::log_types`]: `held`, `fail`, `unknown` or `none` (not
    /// required of this tenant, or no results).
    pub log_types: Vec<&'static str>,
    pub log_types_held: usize,
    pub log_types_required: usize,
    pub collected_at: Option<String>,
    pub as_of: Option<String>,
    pub results_sha256: Option<String>,
    pub evidence_manifest_sha256: Option<String>,
    /// The state directory it was read from.
    pub from: Option<String>,
    /// Its report in the portfolio (`tenants/<slug>/report.html`), when its run wrote one.
    pub report: Option<String>,
    /// Its last runs in its ledger, oldest first (empty without a ledger).
    pub trend: Vec<TrendPoint>,
    /// Why the trend is missing or partial (an unreadable ledger, a broken chain).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trend_note: Option<String>,
}

/// One run of a tenant's ledger.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TrendPoint {
    pub seq: u64,
    pub as_of: String,
    pub go_live_ready: bool,
    pub fail: usize,
    pub not_assessed: usize,
}

/// How many of a tenant's last ledger runs the portfolio shows.
pub const TREND_RUNS: usize = 30;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LogTypeColumn {
    pub id: String,
    pub name: String,
}

/// The portfolio: what every output renders.
#[derive(Debug, Clone, Serialize)]
pub struct Portfolio {
    pub format: &'static str,
    pub fleet: String,
    pub generated_at: String,
    pub tool_version: &'static str,
    /// The worst tenant's exit code.
    pub exit: u8,
    pub tenants_total: usize,
    pub ready: usize,
    pub not_ready: usize,
    pub no_results: usize,
    pub verdict: String,
    pub families: Vec<String>,
    pub log_types: Vec<LogTypeColumn>,
    /// Worst first.
    pub tenants: Vec<TenantRow>,
}

/// A tenant's results as found in a state directory.
pub struct Found {
    pub row: TenantRow,
    /// The run directory whose files are copied into the portfolio.
    pub run_dir: Option<PathBuf>,
    /// The verified results' slim view.
    pub view: Option<RunView>,
}

fn empty_row(t: &Tenant, exit: u8, error: String) -> TenantRow {
    TenantRow {
        slug: t.slug.clone(),
        tenant_id: None,
        tenant_name: None,
        exit,
        error: Some(error),
        results: false,
        collect_exit: None,
        collect_error: None,
        go_live_ready: false,
        fail: 0,
        fails: BySeverity::default(),
        blocking_open: 0,
        not_assessed: 0,
        checks: 0,
        families: Vec::new(),
        log_types: Vec::new(),
        log_types_held: 0,
        log_types_required: 0,
        collected_at: None,
        as_of: None,
        results_sha256: None,
        evidence_manifest_sha256: None,
        from: None,
        report: None,
        trend: Vec::new(),
        trend_note: None,
    }
}

/// Finds every tenant of `fleet` in exactly one of `from` (state directories).
pub fn gather(fleet: &Fleet, from: &[PathBuf]) -> Result<Vec<Found>> {
    for d in from {
        if !d.is_dir() {
            bail!(
                "--from {}: no such state directory (a shard that did not run?); tenants it should hold are not in any other",
                d.display()
            );
        }
        run::check_marker(&d.join(run::MARKER)).map_err(|e| {
            anyhow::anyhow!(
                "--from {}: not a fleet state directory ({e:#})",
                d.display()
            )
        })?;
    }
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for t in &fleet.tenants {
        let holders: Vec<&PathBuf> = from
            .iter()
            .filter(|d| d.join(&t.slug).join(run::STATUS).is_file())
            .collect();
        match holders.as_slice() {
            [] => {
                missing.push(t.slug.clone());
                found.push(with_trend(Found {
                    row: empty_row(
                        t,
                        2,
                        "no results in any --from directory (not audited, or its shard is missing)"
                            .into(),
                    ),
                    run_dir: None,
                    view: None,
                }, t));
            }
            [d] => found.push(with_trend(
                with_collect(read_tenant(t, d), &d.join(&t.slug)),
                t,
            )),
            many => bail!(
                "tenant {} has results in {} state directories ({}); a tenant belongs to one shard: give each shard's directory once, and not an unsharded state beside its shards",
                t.slug,
                many.len(),
                many.iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
    Ok(found)
}

/// Adds the tenant's last runs from its ledger, when its entry names one: only entries whose
/// chain holds are shown, each run read only as the bytes its entry names.
fn with_trend(mut f: Found, t: &Tenant) -> Found {
    let Some(ledger) = &t.ledger else { return f };
    if !ledger.is_dir() {
        f.row.trend_note = Some(format!("{}: no ledger yet", ledger.display()));
        return f;
    }
    let shown = crate::ledger::verify::verify(ledger, None, None).and_then(|r| {
        let last: Vec<&crate::ledger::Entry> =
            r.chain.iter().rev().take(TREND_RUNS).rev().collect();
        let runs = crate::ledger::view::load_runs(ledger, &last)?;
        Ok((r.problems.first().map(|p| p.to_string()), runs))
    });
    match shown {
        Ok((problem, runs)) => {
            f.row.trend = runs
                .iter()
                .map(|r| TrendPoint {
                    seq: r.entry.seq,
                    as_of: r.entry.as_of.clone(),
                    go_live_ready: r.view.go_live_ready,
                    fail: r.view.fail,
                    not_assessed: r.view.not_assessed,
                })
                .collect();
            f.row.trend_note =
                problem.map(|p| format!("ledger chain broken ({p}): runs after it are not shown"));
        }
        Err(e) => f.row.trend_note = Some(format!("{e:#}")),
    }
    f
}

/// Adds the tenant's last collection, when the fleet collected it: its exit counts in the
/// row's, and its error explains a missing bundle better than the audit's.
fn with_collect(mut f: Found, dir: &Path) -> Found {
    let path = dir.join(super::collect::STATUS);
    if !path.is_file() {
        return f;
    }
    match super::collect::CollectStatus::load(&path) {
        Ok(c) => {
            f.row.collect_exit = Some(c.exit);
            f.row.exit = run::worst([f.row.exit, c.exit]);
            if c.exit != 0 {
                // A run on a collection that failed or saw too little is never ready, whatever
                // its checks say: the portfolio cannot be green on evidence that was not read.
                f.row.go_live_ready = false;
                f.row.collect_error = Some(
                    c.error
                        .unwrap_or_else(|| format!("the collection exited {}", c.exit)),
                );
            }
        }
        Err(e) => {
            f.row.go_live_ready = false;
            f.row.collect_exit = Some(2);
            f.row.exit = run::worst([f.row.exit, 2]);
            f.row.collect_error = Some(format!("{e:#}"));
        }
    }
    f
}

/// Reads one tenant's status and results from state directory `d`; a tenant whose files are
/// unreadable or changed is its own row with exit 2, never the whole portfolio's error.
fn read_tenant(t: &Tenant, d: &Path) -> Found {
    let dir = d.join(&t.slug);
    let status = match RunStatus::load(&dir.join(run::STATUS)) {
        Ok(s) if s.slug == t.slug => s,
        Ok(s) => {
            return Found {
                row: empty_row(
                    t,
                    2,
                    format!(
                        "{}: is the status of tenant {}, not {}",
                        dir.join(run::STATUS).display(),
                        s.slug,
                        t.slug
                    ),
                ),
                run_dir: None,
                view: None,
            }
        }
        Err(e) => {
            return Found {
                row: empty_row(t, 2, format!("{e:#}")),
                run_dir: None,
                view: None,
            }
        }
    };
    let from = Some(d.display().to_string());
    let (Some(sha), None) = (&status.results_sha256, &status.error) else {
        let mut row = empty_row(
            t,
            status.exit,
            status
                .error
                .clone()
                .unwrap_or_else(|| "the audit recorded no results".into()),
        );
        row.from = from;
        row.evidence_manifest_sha256 = status.evidence_manifest_sha256.clone();
        return Found {
            row,
            run_dir: None,
            view: None,
        };
    };
    let run_dir = dir.join(run::RUN_DIR);
    let results = run_dir.join("results.json");
    let view = crate::files::read_bounded(&results)
        .map_err(anyhow::Error::from)
        .and_then(|bytes| {
            let h = crate::evidence::sha256_hex(&bytes);
            if &h != sha {
                bail!(
                    "{}: changed since its audit (SHA-256 {h}, {} says {sha})",
                    results.display(),
                    run::STATUS
                );
            }
            RunView::parse(&bytes, &results)
        });
    match view {
        Ok(v) => {
            let mut row = row_of(t, &status, &v);
            row.from = from;
            row.report = run_dir
                .join("report.html")
                .is_file()
                .then(|| format!("tenants/{}/report.html", t.slug));
            Found {
                row,
                run_dir: Some(run_dir),
                view: Some(v),
            }
        }
        Err(e) => {
            let mut row = empty_row(t, 2, format!("{e:#}"));
            row.from = from;
            Found {
                row,
                run_dir: None,
                view: None,
            }
        }
    }
}

fn row_of(t: &Tenant, s: &RunStatus, v: &RunView) -> TenantRow {
    let mut fails = BySeverity::default();
    let mut blocking_open = 0;
    for c in &v.checks {
        if c.status == Status::Fail {
            match c.severity {
                Severity::Critical => fails.critical += 1,
                Severity::High => fails.high += 1,
                Severity::Medium => fails.medium += 1,
                Severity::Low => fails.low += 1,
                Severity::Info => fails.info += 1,
            }
        }
        if c.go_live == GoLive::Blocking && matches!(c.status, Status::Fail | Status::NotAssessed) {
            blocking_open += 1;
        }
    }
    TenantRow {
        slug: t.slug.clone(),
        tenant_id: Some(v.tenant_id.clone()),
        tenant_name: v.tenant_name.clone(),
        exit: s.exit,
        error: None,
        results: true,
        collect_exit: None,
        collect_error: None,
        go_live_ready: v.go_live_ready,
        fail: v.fail,
        fails,
        blocking_open,
        not_assessed: v.not_assessed,
        checks: v.checks.len(),
        families: Vec::new(),
        log_types: Vec::new(),
        log_types_held: 0,
        log_types_required: 0,
        collected_at: v.collected_at.clone(),
        as_of: v.as_of.clone(),
        results_sha256: s.results_sha256.clone(),
        evidence_manifest_sha256: s.evidence_manifest_sha256.clone(),
        from: None,
        report: None,
        trend: Vec::new(),
        trend_note: None,
    }
}

/// The worst status of a family's checks, as a cell.
fn family_cell(statuses: &[Status]) -> FamilyCell {
    let fail = statuses.iter().filter(|s| **s == Status::Fail).count();
    let not_assessed = statuses
        .iter()
        .filter(|s| **s == Status::NotAssessed)
        .count();
    // Not assessed ranks above a warning: evidence that was not read is never the better news.
    let state = if fail > 0 {
        "fail"
    } else if not_assessed > 0 {
        "unknown"
    } else if statuses.contains(&Status::Warn) {
        "warn"
    } else if statuses
        .iter()
        .any(|s| matches!(s, Status::Pass | Status::Waived))
    {
        "held"
    } else {
        "na"
    };
    FamilyCell {
        state,
        fail,
        not_assessed,
        checks: statuses.len(),
    }
}

/// Builds the portfolio from what [`gather`] found.
pub fn build(fleet: &Fleet, found: &[Found], generated_at: String) -> Portfolio {
    let views: BTreeMap<&str, &RunView> = found
        .iter()
        .filter_map(|f| Some((f.row.slug.as_str(), f.view.as_ref()?)))
        .collect();
    let mut families: Vec<String> = views
        .values()
        .flat_map(|v| v.checks.iter().map(|c| c.family.clone()))
        .collect();
    families.sort_by_key(|f| (crate::catalog::family_rank(f), f.clone()));
    families.dedup();
    let mut log_types: Vec<LogTypeColumn> = Vec::new();
    for v in views.values() {
        for c in v.coverage.iter().filter(|c| c.required) {
            if !log_types.iter().any(|l| l.id == c.id) {
                log_types.push(LogTypeColumn {
                    id: c.id.clone(),
                    name: c.name.clone(),
                });
            }
        }
    }
    let mut rows: Vec<TenantRow> = found
        .iter()
        .map(|f| {
            let mut row = f.row.clone();
            match views.get(row.slug.as_str()) {
                Some(v) => {
                    row.families = families
                        .iter()
                        .map(|fam| {
                            let st: Vec<Status> = v
                                .checks
                                .iter()
                                .filter(|c| &c.family == fam)
                                .map(|c| c.status)
                                .collect();
                            family_cell(&st)
                        })
                        .collect();
                    row.log_types = log_types
                        .iter()
                        .map(
                            |lt| match v.coverage.iter().find(|c| c.id == lt.id && c.required) {
                                None => "none",
                                Some(c) => match crate::report::events::coverage_verdict(
                                    c.configured,
                                    c.flowing,
                                    c.in_siem,
                                    v.siem_read,
                                ) {
                                    "pass" => "held",
                                    "fail" => "fail",
                                    _ => "unknown",
                                },
                            },
                        )
                        .collect();
                    row.log_types_required = row.log_types.iter().filter(|s| **s != "none").count();
                    row.log_types_held = row.log_types.iter().filter(|s| **s == "held").count();
                }
                None => {
                    row.families = families
                        .iter()
                        .map(|_| FamilyCell {
                            state: "none",
                            fail: 0,
                            not_assessed: 0,
                            checks: 0,
                        })
                        .collect();
                    row.log_types = log_types.iter().map(|_| "none").collect();
                }
            }
            row
        })
        .collect();
    // Worst first: no results, then by exit, then not ready, then by failing severity.
    rows.sort_by(|a, b| {
        let key = |r: &TenantRow| {
            (
                std::cmp::Reverse(!r.results),
                std::cmp::Reverse(run::badness(r.exit)),
                r.go_live_ready,
                std::cmp::Reverse((
                    r.fails.critical,
                    r.fails.high,
                    r.blocking_open,
                    r.fails.medium,
                    r.fails.low,
                    r.not_assessed,
                )),
            )
        };
        key(a).cmp(&key(b)).then_with(|| a.slug.cmp(&b.slug))
    });
    let exit = run::worst(rows.iter().map(|r| r.exit));
    let ready = rows.iter().filter(|r| r.results && r.go_live_ready).count();
    let no_results = rows.iter().filter(|r| !r.results).count();
    let not_ready = rows.len() - ready - no_results;
    let verdict = if no_results > 0 {
        format!(
            "{no_results} of {} tenants have no results: the portfolio is incomplete",
            rows.len()
        )
    } else if ready == rows.len() {
        format!("All {} tenants are ready for go-live", rows.len())
    } else {
        format!(
            "{not_ready} of {} tenants are not ready for go-live",
            rows.len()
        )
    };
    Portfolio {
        format: FORMAT,
        fleet: fleet.name.clone(),
        generated_at,
        tool_version: env!("CARGO_PKG_VERSION"),
        exit,
        tenants_total: rows.len(),
        ready,
        not_ready,
        no_results,
        verdict,
        families,
        log_types,
        tenants: rows,
    }
}

/// The SVG grid geometry the HTML template draws.
#[derive(Serialize)]
struct Grid {
    width: usize,
    height: usize,
    /// Where the rotated column labels end (their baseline's y).
    header: usize,
    cell: usize,
    label: usize,
    columns: Vec<GridColumn>,
    rows: Vec<GridRow>,
}

#[derive(Serialize)]
struct GridColumn {
    x: usize,
    label: String,
}

#[derive(Serialize)]
struct GridRow {
    y: usize,
    label: String,
    cells: Vec<GridCell>,
}

#[derive(Serialize)]
struct GridCell {
    x: usize,
    class: &'static str,
    title: String,
}

/// One bar of a tenant's trend sparkline.
#[derive(Serialize)]
struct Bar {
    x: usize,
    h: usize,
    class: &'static str,
    title: String,
}

const CELL: usize = 14;
const ROW: usize = 14;
const LABEL: usize = 170;
/// Column labels longer than this are cut (the full name is in each cell's tooltip).
const LABEL_CHARS: usize = 32;

fn grid(
    p: &Portfolio,
    columns: &[String],
    cell: impl Fn(&TenantRow, usize) -> (&'static str, String),
) -> Grid {
    let cut = |s: &str| -> String {
        if s.chars().count() > LABEL_CHARS {
            let mut t: String = s.chars().take(LABEL_CHARS - 1).collect();
            t.push('…');
            t
        } else {
            s.to_string()
        }
    };
    // Labels are rotated by 60°: about 5 px a character at 9 px, times sin 60°.
    let longest = columns
        .iter()
        .map(|c| cut(c).chars().count())
        .max()
        .unwrap_or(0);
    let header = 16 + longest * 5 * 87 / 100;
    Grid {
        width: LABEL + columns.len() * CELL + 12 + longest * 5 / 2,
        height: header + 4 + p.tenants.len() * ROW + 4,
        header,
        cell: CELL - 2,
        label: LABEL,
        columns: columns
            .iter()
            .enumerate()
            .map(|(i, c)| GridColumn {
                x: LABEL + i * CELL + CELL / 2,
                label: cut(c),
            })
            .collect(),
        rows: p
            .tenants
            .iter()
            .enumerate()
            .map(|(r, t)| GridRow {
                y: header + 4 + r * ROW,
                label: t.slug.clone(),
                cells: (0..columns.len())
                    .map(|i| {
                        let (class, title) = cell(t, i);
                        GridCell {
                            x: LABEL + i * CELL,
                            class,
                            title,
                        }
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// Renders `portfolio.json`, `portfolio.md` and `portfolio.html` as `(name, bytes)`.
pub fn render(p: &Portfolio, templates: Option<&Path>) -> Result<Vec<(String, Vec<u8>)>> {
    let tera = crate::report::templates(templates)?;
    let families = grid(p, &p.families, |t, i| match t.families.get(i) {
        Some(c) => (
            c.state,
            format!(
                "{}: {} ({} checks, {} failing, {} not assessed)",
                p.families[i], c.state, c.checks, c.fail, c.not_assessed
            ),
        ),
        None => ("none", "no results".into()),
    });
    let names: Vec<String> = p.log_types.iter().map(|l| l.name.clone()).collect();
    let log_types = grid(p, &names, |t, i| {
        let s = t.log_types.get(i).copied().unwrap_or("none");
        (s, format!("{}: {s}", names[i]))
    });
    // One bar per ledger run: its height the failing checks (scaled to the tenant's worst),
    // green when the run was ready for go-live.
    let sparks: BTreeMap<&str, Vec<Bar>> = p
        .tenants
        .iter()
        .filter(|t| !t.trend.is_empty())
        .map(|t| {
            let worst = t.trend.iter().map(|r| r.fail).max().unwrap_or(0).max(1);
            let bars = t
                .trend
                .iter()
                .enumerate()
                .map(|(i, r)| Bar {
                    x: i * 5,
                    h: 4 + r.fail * 14 / worst,
                    class: if r.go_live_ready { "held" } else { "fail" },
                    title: format!(
                        "run {} as of {}: {}, {} failing, {} not assessed",
                        r.seq,
                        r.as_of,
                        if r.go_live_ready {
                            "ready"
                        } else {
                            "not ready"
                        },
                        r.fail,
                        r.not_assessed
                    ),
                })
                .collect();
            (t.slug.as_str(), bars)
        })
        .collect();
    let mut ctx = tera::Context::new();
    ctx.insert("sparks", &sparks);
    ctx.insert("p", p);
    ctx.insert("title", &format!("siemproof portfolio: {}", p.fleet));
    ctx.insert("grids", &[families, log_types]);
    let mut out = Vec::new();
    let mut json = serde_json::to_vec_pretty(p)?;
    json.push(b'\n');
    out.push(("portfolio.json".to_string(), json));
    for name in ["portfolio.md", "portfolio.html"] {
        let text = tera
            .render(name, &ctx)
            .map_err(|e| anyhow::anyhow!("template {name}: {e:?}"))?;
        out.push((name.to_string(), text.into_bytes()));
    }
    Ok(out)
}

/// Copies each found run's files into `tenants/<slug>/` under `dir`, one file in memory at a
/// time (a thousand tenants' reports are hundreds of megabytes); a results.json is copied only
/// as the bytes its status recorded. Returns the written paths.
pub fn write_copies(found: &[Found], dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for f in found {
        let Some(run_dir) = &f.run_dir else { continue };
        for name in COPIED {
            let src = run_dir.join(name);
            if !src.is_file() {
                continue;
            }
            let bytes = crate::files::read_bounded(&src)?;
            if *name == "results.json" {
                let h = crate::evidence::sha256_hex(&bytes);
                if f.row.results_sha256.as_deref() != Some(h.as_str()) {
                    bail!(
                        "{}: changed while the portfolio was being made",
                        src.display()
                    );
                }
            }
            let target = dir.join("tenants").join(&f.row.slug).join(name);
            crate::files::write_synced(&target, &bytes)?;
            out.push(target);
        }
    }
    Ok(out)
}

/// The trusted comment of a signed portfolio: it binds `portfolio.json` by its SHA-256, and
/// `portfolio.json` names each tenant's results by theirs.
pub fn trusted_comment(portfolio_sha256: &str, p: &Portfolio) -> String {
    format!(
        "siemproof portfolio:{portfolio_sha256} tenants:{} exit:{}",
        p.tenants_total, p.exit
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_whose_collection_saw_too_little_is_never_ready() {
        let t = Tenant {
            slug: "a".into(),
            config: None,
            bundle: None,
            pubkey: None,
            credentials: None,
            ledger: None,
            origin: "tenants[0]".into(),
        };
        let d = tempfile::tempdir().unwrap();
        let status = super::super::collect::CollectStatus {
            format: super::super::collect::STATUS_FORMAT.into(),
            slug: "a".into(),
            exit: 3,
            error: Some("too little collected".into()),
            entry_sha256: String::new(),
            evidence_manifest_sha256: None,
            finished_at: String::new(),
            seconds: 0.0,
            requests: 10,
            throttled: 9,
            retries: 0,
            answered: 1,
            unavailable: 9,
        };
        std::fs::write(
            d.path().join(super::super::collect::STATUS),
            serde_json::to_vec(&status).unwrap(),
        )
        .unwrap();
        let mut row = empty_row(&t, 0, String::new());
        row.error = None;
        row.results = true;
        row.go_live_ready = true;
        let f = with_collect(
            Found {
                row,
                run_dir: None,
                view: None,
            },
            d.path(),
        );
        assert!(!f.row.go_live_ready);
        assert_eq!((f.row.exit, f.row.collect_exit), (3, Some(3)));
    }
}
