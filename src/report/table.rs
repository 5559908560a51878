//! The terminal summary: one comfy-table row per check that needs attention (and, with
//! `--all`, every check), worst first, with colour only on a terminal and never with `NO_COLOR`.

use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, Color, ContentArrangement, Table};

use super::view::{label, sorted};
use crate::results::{Results, Status};

/// Whether to colour: a terminal, and `NO_COLOR` unset or empty (no-color.org).
pub fn use_colour(is_tty: bool) -> bool {
    is_tty && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

fn colour(s: Status) -> Color {
    match s {
        Status::Pass => Color::Green,
        Status::Fail => Color::Red,
        Status::Warn => Color::Yellow,
        Status::NotAssessed => Color::Magenta,
        Status::Manual => Color::Cyan,
        Status::Waived => Color::Blue,
        Status::NotApplicable => Color::DarkGrey,
    }
}

fn one_line(s: &str, max: usize) -> String {
    let s = s.replace(['\n', '\r'], " ");
    if s.chars().count() > max {
        let cut: String = s.chars().take(max - 1).collect();
        format!("{cut}…")
    } else {
        s
    }
}

/// Renders the summary table and the counts line.
pub fn render(results: &Results, all: bool, colour_on: bool, width: Option<u16>) -> String {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic);
    if let Some(w) = width {
        t.set_width(w);
    }
    if !colour_on {
        t.force_no_tty();
    }
    t.set_header(vec!["Status", "Severity", "Check", "Requirement", "Detail"]);
    let mut shown = 0;
    for c in sorted(&results.checks) {
        if !all && matches!(c.status, Status::Pass | Status::NotApplicable) {
            continue;
        }
        shown += 1;
        let from_findings = || {
            c.findings
                .iter()
                .filter(|f| f.status == c.status)
                .map(|f| {
                    // Messages usually name their resource already; do not say it twice.
                    if f.name == "tenant" || f.name == "-" || f.message.contains(&f.name) {
                        f.message.clone()
                    } else {
                        format!("{}: {}", f.name, f.message)
                    }
                })
                .take(3)
                .collect::<Vec<_>>()
                .join("; ")
        };
        let detail = match (&c.reason, c.status) {
            (_, Status::Fail | Status::Warn | Status::Waived) => from_findings(),
            (Some(r), _) => r.clone(),
            (None, _) => from_findings(),
        };
        let status = Cell::new(label(c.status));
        t.add_row(vec![
            if colour_on {
                status.fg(colour(c.status))
            } else {
                status
            },
            Cell::new(c.severity.as_str()),
            Cell::new(&c.id),
            Cell::new(one_line(&c.title, 80)),
            Cell::new(one_line(&detail, 160)),
        ]);
    }
    let s = &results.summary;
    let verdict = verdict_line(results, colour_on);
    // The verdict first and last: it is the one line a reader must not miss.
    let mut out = format!("{verdict}\n");
    if shown > 0 {
        out.push_str(&t.to_string());
        out.push('\n');
    }
    out.push_str(&format!(
        "{} checks: {} pass, {} fail, {} warn, {} not assessed, {} need attestation, {} waived, {} not applicable\n",
        s.total, s.pass, s.fail, s.warn, s.not_assessed, s.manual, s.waived, s.not_applicable
    ));
    let gaps: Vec<&str> = results
        .coverage
        .iter()
        .filter(|c| c.gap)
        .map(|c| c.name.as_str())
        .collect();
    if !gaps.is_empty() {
        out.push_str(&format!("coverage gaps: {}\n", gaps.join(", ")));
    }
    out.push_str(&verdict);
    out.push('\n');
    out
}

/// `go-live: …`, bold and coloured on a terminal, with the first blocking failures to fix.
pub fn verdict_line(results: &Results, colour_on: bool) -> String {
    let s = &results.summary;
    let (text, tone) = if s.blocking_failures > 0 {
        let first: Vec<&str> = results
            .fix_first(&crate::catalog::guide_step_order())
            .into_iter()
            .take(3)
            .map(|c| c.id.as_str())
            .collect();
        (
            format!(
                "NOT READY ({} blocking failure(s); fix first: {})",
                s.blocking_failures,
                first.join(", ")
            ),
            Status::Fail,
        )
    } else if s.partial {
        (
            "not proven (a partial run: --select or --ignore)".to_string(),
            Status::NotAssessed,
        )
    } else if s.go_live_ready {
        ("ready".to_string(), Status::Pass)
    } else {
        (
            "not yet proven (blocking checks unassessed or awaiting attestation)".to_string(),
            Status::NotAssessed,
        )
    };
    let line = format!("go-live: {text}");
    if colour_on {
        let code = match tone {
            Status::Fail => "31",
            Status::Pass => "32",
            _ => "35",
        };
        format!("\x1b[1;{code}m{line}\x1b[0m")
    } else {
        line
    }
}
