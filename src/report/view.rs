//! The precomputed report view: everything a template shows, already sorted, labelled and
//! formatted, so templates only lay it out.

use serde::Serialize;

use crate::catalog::GuideStep;
use crate::results::{aggregate, CheckResult, Results, Status};

#[derive(Serialize)]
pub struct View<'a> {
    pub title: String,
    pub results: &'a Results,
    pub cards: Vec<Card>,
    pub verdict: String,
    pub verdict_class: String,
    pub coverage: Vec<CoverageRow>,
    pub checklist: Vec<StepView>,
    /// Checks sorted by status (worst first), then severity, then id.
    pub checks: Vec<CheckView>,
    pub generated_by: String,
    /// Which clock judged the evidence, and why, in one clause.
    pub clock_note: String,
    /// How old the evidence was at the audit (wall clock), when recorded.
    pub evidence_age: Option<String>,
    /// Notes about the bundle no check reads (unknown evidence kinds).
    pub notes: Vec<String>,
    /// The SIEM's checkpoint age per partition, as bars (inline SVG in the HTML report).
    pub consumer: Option<ConsumerChart>,
    /// The SIEM's lag per partition against the hub's last enqueued event, as bars.
    pub consumer_lag: Option<ConsumerChart>,
    /// Every check's status as one stacked bar (inline SVG), widths in px over 640.
    pub status_bar: Vec<Segment>,
    /// Each SIEM credential's expiry against the audit clock (from APP-CRED-EXPIRY).
    pub expiry: Option<ExpiryChart>,
    /// How old the newest content of each required content type (and Graph audit log) is,
    /// against the freshness window.
    pub freshness: Option<ExpiryChart>,
    /// Hourly IncomingMessages / OutgoingMessages / ThrottledRequests of the configured hub.
    pub sparklines: Option<Sparklines>,
    /// The first failing blocking checks to fix (at most 3), in fix-first order, and how many
    /// more there are.
    pub fix_first: Vec<FixFirst>,
    pub more_blocking: usize,
    /// Whether this output is signed, and with which key, in one sentence.
    pub report_signature: String,
    /// Whether the evidence manifest's signature was verified, in one sentence.
    pub evidence_signature: String,
    /// `signed` or `unsigned` (styles the report signature line).
    pub signed_class: String,
}

#[derive(Serialize)]
pub struct Segment {
    pub status: String,
    pub label: String,
    pub count: usize,
    pub x: f64,
    pub width: f64,
}

/// A chart of labelled bars against a threshold line (credential expiry, content freshness).
#[derive(Serialize)]
pub struct ExpiryChart {
    pub caption: String,
    pub height: usize,
    /// The scale's end in days after the audit clock, and where the warning line sits (px).
    pub days: i64,
    pub warning_x: f64,
    pub rows: Vec<ExpiryRow>,
}

#[derive(Serialize)]
pub struct ExpiryRow {
    /// App and credential, bidi-isolated (FSI … PDI): a name cannot reorder the text around it.
    pub label: String,
    pub y: usize,
    pub width: f64,
    /// `ok`, `bad` (within the warning days) or `missing` (expired).
    pub class: String,
    pub text: String,
}

/// The status bar: one segment per status with checks, in the cards' order.
fn status_bar(results: &Results) -> Vec<Segment> {
    let s = &results.summary;
    let total = s.total.max(1) as f64;
    let mut x = 0.0;
    Status::ALL
        .iter()
        .filter(|st| s.count(**st) > 0)
        .map(|st| {
            let width = (s.count(*st) as f64 / total * 640.0 * 10.0).round() / 10.0;
            let seg = Segment {
                status: st.as_str().into(),
                label: label(*st).into(),
                count: s.count(*st),
                x: (x * 10.0_f64).round() / 10.0,
                width,
            };
            x += width;
            seg
        })
        .collect()
}

/// First-strong isolation of text from the evidence (U+2068 … U+2069), for SVG text, where
/// `<bdi>` does not exist.
fn isolate(s: &str) -> String {
    format!("\u{2068}{s}\u{2069}")
}

/// The credential timeline: one bar per credential of each SIEM app, from the audit clock to
/// its expiry, on a scale of at least a year; the line is the warning threshold.
fn expiry_chart(results: &Results) -> Option<ExpiryChart> {
    let check = results.checks.iter().find(|c| c.id == "APP-CRED-EXPIRY")?;
    let mut rows: Vec<(String, i64, String)> = Vec::new();
    for f in &check.findings {
        for c in f.observed.as_ref()?.as_array()? {
            let Some(days) = c["days_left"].as_i64() else {
                continue;
            };
            let name = c["name"].as_str().unwrap_or("(unnamed)");
            let kind = c["kind"].as_str().unwrap_or("credential");
            let end = c["end"].as_str().unwrap_or("");
            rows.push((
                format!("{} · {kind} {}", isolate(&f.name), isolate(name)),
                days,
                end.chars().take(10).collect(),
            ));
        }
    }
    if rows.is_empty() {
        return None;
    }
    rows.sort_by_key(|r| r.1);
    let warn = results.config.thresholds.secret_expiry_warning_days.max(1);
    let days = rows
        .iter()
        .map(|r| r.1)
        .max()
        .unwrap_or(0)
        .max(365)
        .max(warn * 2);
    const W: f64 = 300.0;
    let rows: Vec<ExpiryRow> = rows
        .into_iter()
        .enumerate()
        .map(|(i, (label, d, end))| {
            let (class, text) = if d < 0 {
                ("missing", format!("expired {end} ({} days ago)", -d))
            } else if d <= warn {
                ("bad", format!("{end} · {d} days left"))
            } else {
                ("ok", format!("{end} · {d} days left"))
            };
            ExpiryRow {
                label,
                y: i * 34,
                width: ((d.max(0) as f64 / days as f64 * W).clamp(2.0, W) * 10.0).round() / 10.0,
                class: class.into(),
                text,
            }
        })
        .collect();
    Some(ExpiryChart {
        caption: format!(
            "Each SIEM app credential from the audit clock ({}) to its expiry, over {days} days; the line is the {warn}-day warning threshold",
            results.run.as_of
        ),
        height: rows.len() * 34 + 4,
        days,
        warning_x: ((warn as f64 / days as f64 * W) * 10.0).round() / 10.0,
        rows,
    })
}

/// Content freshness: one bar per required content type (O365-CONTENT-FRESH) and Graph audit
/// log (GRAPH-SIGNINS, GRAPH-DIRECTORY-AUDITS), the age of its newest content when the
/// evidence was collected, on a scale of at least twice the window; the line is the window.
/// A type with no content (or an error) is drawn `missing`, never as fresh.
fn freshness_chart(results: &Results) -> Option<ExpiryChart> {
    let window = results.config.thresholds.freshness_hours.max(1) as f64;
    let mut rows: Vec<(String, Option<f64>, String)> = Vec::new();
    for id in [
        "O365-CONTENT-FRESH",
        "GRAPH-SIGNINS",
        "GRAPH-DIRECTORY-AUDITS",
    ] {
        let Some(check) = results.checks.iter().find(|c| c.id == id) else {
            continue;
        };
        if matches!(check.status, Status::NotApplicable) {
            continue;
        }
        for f in &check.findings {
            let Some(o) = f.observed.as_ref() else {
                continue;
            };
            let hours = o["hours_since_latest"].as_f64();
            let why = match (o["error"].as_str(), o["blobs"].as_i64()) {
                (Some(e), _) => format!("error {e}"),
                (None, Some(0)) => "no content listed in the window".into(),
                _ => "no content seen".into(),
            };
            let label = if id == "O365-CONTENT-FRESH" {
                isolate(&f.name)
            } else {
                check
                    .title
                    .split(':')
                    .next()
                    .unwrap_or(&check.id)
                    .to_string()
            };
            rows.push((label, hours, why));
        }
    }
    if rows.is_empty() {
        return None;
    }
    let scale = rows.iter().filter_map(|r| r.1).fold(window * 2.0, f64::max);
    const W: f64 = 300.0;
    let rows: Vec<ExpiryRow> = rows
        .into_iter()
        .enumerate()
        .map(|(i, (label, hours, why))| {
            let (width, class, text) = match hours {
                None => (W, "missing", why),
                Some(h) => (
                    (h.max(0.0) / scale * W).clamp(2.0, W),
                    if h <= window { "ok" } else { "bad" },
                    format!("newest content {h} h old"),
                ),
            };
            ExpiryRow {
                label,
                y: i * 34,
                width: (width * 10.0).round() / 10.0,
                class: class.into(),
                text,
            }
        })
        .collect();
    Some(ExpiryChart {
        caption: format!(
            "Age of the newest content of each required content type and Graph audit log when the evidence was collected; the line is the {} h freshness window (thresholds.freshness_hours)",
            results.config.thresholds.freshness_hours
        ),
        height: rows.len() * 34 + 4,
        days: scale.round() as i64,
        warning_x: ((window / scale * W) * 10.0).round() / 10.0,
        rows,
    })
}

#[derive(Serialize)]
pub struct Sparklines {
    pub caption: String,
    pub height: usize,
    pub lines: Vec<Sparkline>,
}

#[derive(Serialize)]
pub struct Sparkline {
    pub name: String,
    pub y: usize,
    /// SVG polyline point lists, one per run of hours with data (a gap is an hour Azure
    /// Monitor gave no figure for: unknown, not zero).
    pub segments: Vec<String>,
    /// Single hours with data between gaps, drawn as dots.
    pub dots: Vec<(f64, f64)>,
    /// `ok`, `bad` (throttling) or `missing` (no figure at all).
    pub class: String,
    pub text: String,
}

/// Sparklines over 480 px, one row of 46 px per metric, each on its own scale (0 at the base).
fn sparklines(results: &Results) -> Option<Sparklines> {
    let m = results.metrics.as_ref()?;
    let n = m.hours.len();
    if n == 0 {
        return None;
    }
    const W: f64 = 480.0;
    const H: f64 = 30.0;
    let step = if n > 1 { W / (n - 1) as f64 } else { 0.0 };
    let series: [(&str, Vec<Option<f64>>); 3] = [
        (
            "IncomingMessages",
            m.hours.iter().map(|h| h.incoming_messages).collect(),
        ),
        (
            "OutgoingMessages",
            m.hours.iter().map(|h| h.outgoing_messages).collect(),
        ),
        (
            "ThrottledRequests",
            m.hours.iter().map(|h| h.throttled_requests).collect(),
        ),
    ];
    let lines = series
        .into_iter()
        .enumerate()
        .map(|(row, (name, values))| {
            let y0 = row * 46;
            let known: Vec<f64> = values.iter().flatten().copied().collect();
            let peak = known.iter().copied().fold(0.0, f64::max);
            let total: f64 = known.iter().sum();
            let at = |i: usize, v: f64| {
                let x = (i as f64 * step * 10.0).round() / 10.0;
                let y = y0 as f64 + 14.0 + H - if peak > 0.0 { v / peak * H } else { 0.0 };
                (x, (y * 10.0).round() / 10.0)
            };
            let mut segments = Vec::new();
            let mut dots = Vec::new();
            let mut run: Vec<(f64, f64)> = Vec::new();
            let mut flush = |run: &mut Vec<(f64, f64)>| {
                match run.len() {
                    0 => {}
                    1 => dots.push(run[0]),
                    _ => segments.push(
                        run.iter()
                            .map(|(x, y)| format!("{x},{y}"))
                            .collect::<Vec<_>>()
                            .join(" "),
                    ),
                }
                run.clear();
            };
            for (i, v) in values.iter().enumerate() {
                match v {
                    Some(v) => run.push(at(i, *v)),
                    None => flush(&mut run),
                }
            }
            flush(&mut run);
            let gaps = values.iter().filter(|v| v.is_none()).count();
            let (class, text) = if known.is_empty() {
                ("missing", "no figure in any hour".to_string())
            } else {
                (
                    if name == "ThrottledRequests" && total > 0.0 {
                        "bad"
                    } else {
                        "ok"
                    },
                    format!(
                        "{} in {} h · peak {}/h{}",
                        grouped(total.round() as i64),
                        n,
                        grouped(peak.round() as i64),
                        if gaps > 0 {
                            format!(" · {gaps} h without a figure")
                        } else {
                            String::new()
                        }
                    ),
                )
            };
            Sparkline {
                name: name.into(),
                y: y0,
                segments,
                dots,
                class: class.into(),
                text,
            }
        })
        .collect::<Vec<_>>();
    Some(Sparklines {
        caption: format!(
            "Hourly Azure Monitor metrics of {} ({}), oldest hour on the left, each line on its own scale from zero; gaps are hours without a figure",
            isolate(&m.entity),
            m.timespan.as_deref().map(isolate).unwrap_or_else(|| "window not stated".into())
        ),
        height: lines.len() * 46 + 4,
        lines,
    })
}

#[derive(Serialize)]
pub struct FixFirst {
    pub id: String,
    pub title: String,
}

#[derive(Serialize)]
pub struct ConsumerChart {
    pub caption: String,
    /// The SVG's height in px (one row per partition).
    pub height: usize,
    /// Where the threshold line sits, in px from the bars' start.
    pub threshold_x: f64,
    pub bars: Vec<Bar>,
}

#[derive(Serialize)]
pub struct Bar {
    pub label: String,
    pub y: usize,
    /// Width in px (at least 2, so a fresh checkpoint still shows).
    pub width: f64,
    /// `ok`, `bad` or `missing`.
    pub class: String,
    pub text: String,
}

impl Bar {
    /// Row `i` of a per-partition chart (22 px a row, widths to a tenth of a pixel).
    fn of_partition(i: usize, partition: &str, width: f64, class: &str, text: String) -> Bar {
        Bar {
            label: format!("partition {partition}"),
            y: i * 22,
            width: (width * 10.0).round() / 10.0,
            class: class.into(),
            text,
        }
    }
}

/// Bars of checkpoint age: the scale runs to twice the threshold or the oldest age, whichever
/// is larger, over 360 px, so the threshold line is always inside the chart.
fn consumer_chart(results: &Results) -> Option<ConsumerChart> {
    let c = results.consumer.as_ref()?;
    let limit_h = c.threshold_minutes as f64 / 60.0;
    let max_h = c
        .partitions
        .iter()
        .filter_map(|p| p.checkpoint_age_hours)
        .fold(limit_h * 2.0, f64::max)
        .max(1e-6);
    const W: f64 = 360.0;
    let bars = c
        .partitions
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let (width, class, text) = match p.checkpoint_age_hours {
                None => (
                    W,
                    "missing",
                    "no checkpoint: no reader holds it".to_string(),
                ),
                Some(h) => (
                    (h / max_h * W).clamp(2.0, W),
                    if h <= limit_h { "ok" } else { "bad" },
                    format!(
                        "{} min{}{}",
                        (h * 60.0).round(),
                        p.sequence_number
                            .map(|s| format!(" · seq {s}"))
                            .unwrap_or_default(),
                        p.owner
                            .as_ref()
                            .map(|o| format!(" · {o}"))
                            .unwrap_or_default()
                    ),
                ),
            };
            Bar::of_partition(i, &p.partition, width, class, text)
        })
        .collect::<Vec<_>>();
    Some(ConsumerChart {
        caption: format!(
            "Checkpoint age per partition of {} / {} ({}, layout {}), when the evidence was collected; the line is the {} min threshold",
            c.account,
            c.container,
            c.consumer_group,
            c.layout.as_deref().unwrap_or("none found"),
            c.threshold_minutes
        ),
        height: bars.len() * 22 + 4,
        threshold_x: ((limit_h / max_h * W) * 10.0).round() / 10.0,
        bars,
    })
}

/// `1308407` → `1,308,407`: lag figures are read at a glance.
pub fn grouped(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        out.insert(0, '-');
    }
    out
}

/// Bars of lag (events past the checkpoint) per partition, when the hub's partitions were read:
/// the scale runs to twice the events threshold or the largest lag, over 240 px. A partition
/// whose lag is not known for the whole consumer group is drawn as `missing`, never as 0.
fn lag_chart(results: &Results) -> Option<ConsumerChart> {
    let c = results.consumer.as_ref()?;
    if !c.partitions_read {
        return None;
    }
    let limit = c.lag_threshold_events.max(1) as f64;
    let max = c
        .partitions
        .iter()
        .filter_map(|p| p.lag_events)
        .fold(limit * 2.0, |m, l| m.max(l as f64));
    // Narrower than the age chart: the figures beside the bars are longer.
    const W: f64 = 240.0;
    let bars = c
        .partitions
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let lost = p.lost_events.filter(|l| *l > 0);
            let (width, class, text) = match p.lag_events {
                None => (W, "missing", "not known".to_string()),
                Some(l) => {
                    let late = p
                        .lag_minutes
                        .is_some_and(|m| m > c.lag_threshold_minutes as f64);
                    let bad = lost.is_some() || l > c.lag_threshold_events || late;
                    (
                        (l as f64 / max * W).clamp(2.0, W),
                        if bad { "bad" } else { "ok" },
                        format!(
                            "{} events{}{}",
                            grouped(l),
                            p.lag_minutes
                                .filter(|m| *m > 0.0)
                                .map(|m| format!(" · {m} min"))
                                .unwrap_or_default(),
                            lost.map(|n| format!(" · {} lost", grouped(n)))
                                .unwrap_or_default()
                        ),
                    )
                }
            };
            Bar::of_partition(i, &p.partition, width, class, text)
        })
        .collect::<Vec<_>>();
    Some(ConsumerChart {
        caption: format!(
            "Events past the checkpoint of {} per partition (the hub's last enqueued sequence number minus the checkpoint's) and how long they have waited, when the evidence was collected; the line is the {} events threshold, events may wait {} min; \"lost\" events aged out of the hub unread, \"not known\" means some reader's checkpoint has no sequence number",
            c.consumer_group,
            grouped(c.lag_threshold_events),
            c.lag_threshold_minutes
        ),
        height: bars.len() * 22 + 4,
        threshold_x: ((limit / max * W) * 10.0).round() / 10.0,
        bars,
    })
}

#[derive(Serialize)]
pub struct Card {
    pub status: String,
    pub label: String,
    pub count: usize,
}

#[derive(Serialize)]
pub struct CoverageRow {
    pub name: String,
    pub methods: String,
    pub required: String,
    pub licensed: String,
    pub configured: String,
    pub flowing: String,
    pub in_siem: String,
    /// The SIEM inputs that carry it (`siem: input`).
    pub siem_inputs: String,
    pub state: String,
    pub state_class: String,
    pub detail: String,
    /// The pipeline of a required log type, link by link: source, hub or API, SIEM input,
    /// last event in the SIEM; each `ok`, `bad` or `unknown`.
    pub chain: Vec<ChainLink>,
}

#[derive(Serialize)]
pub struct ChainLink {
    pub label: String,
    pub value: String,
    /// `ok`, `bad` or `unknown`.
    pub class: String,
}

fn link(label: &str, v: Option<bool>, yes: String, no: &str) -> ChainLink {
    ChainLink {
        label: label.into(),
        value: match v {
            Some(true) => yes,
            Some(false) => no.into(),
            None => "unknown".into(),
        },
        class: match v {
            Some(true) => "ok",
            Some(false) => "bad",
            None => "unknown",
        }
        .into(),
    }
}

#[derive(Serialize)]
pub struct StepView {
    pub section: String,
    pub title: String,
    pub action: String,
    pub status: String,
    pub label: String,
    pub checks: Vec<StepCheck>,
}

#[derive(Serialize)]
pub struct StepCheck {
    pub id: String,
    pub status: String,
}

#[derive(Serialize)]
pub struct CheckView {
    pub id: String,
    pub title: String,
    pub family: String,
    pub severity: String,
    pub go_live: String,
    pub status: String,
    pub label: String,
    pub reason: String,
    pub why: String,
    pub fix: String,
    pub not_assessed_hint: String,
    pub references: Vec<String>,
    pub frameworks: Vec<String>,
    pub evidence: Vec<String>,
    /// The evidence files the verdict rests on, with their SHA-256 from the manifest.
    pub evidence_files: Vec<EvidenceFile>,
    /// What was observed, for a passing check too (its first findings' observed values).
    pub observed: String,
    pub findings: Vec<FindingView>,
    pub attestation: String,
    /// Open in the report (anything but pass / not applicable).
    pub open: bool,
}

#[derive(Serialize)]
pub struct EvidenceFile {
    pub kind: String,
    pub path: String,
    pub sha256: String,
}

#[derive(Serialize)]
pub struct FindingView {
    pub name: String,
    pub resource: String,
    pub status: String,
    pub label: String,
    pub message: String,
    pub observed: String,
    pub waiver: String,
}

pub fn label(s: Status) -> &'static str {
    match s {
        Status::Pass => "Pass",
        Status::Fail => "Fail",
        Status::Warn => "Warning",
        Status::NotApplicable => "Not applicable",
        Status::NotAssessed => "Not assessed",
        Status::Manual => "Needs attestation",
        Status::Waived => "Waived",
    }
}

fn tri(v: Option<bool>, yes: &str, no: &str) -> String {
    match v {
        Some(true) => yes.into(),
        Some(false) => no.into(),
        None => "unknown".into(),
    }
}

/// Observed values as short text (strings bare, everything else as compact JSON).
pub fn observed_text(v: &Option<serde_json::Value>) -> String {
    match v {
        None => String::new(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Null) => "absent".into(),
        Some(other) => other.to_string(),
    }
}

pub fn sorted(checks: &[CheckResult]) -> Vec<&CheckResult> {
    let mut v: Vec<&CheckResult> = checks.iter().collect();
    v.sort_by(|a, b| {
        b.status
            .rank()
            .cmp(&a.status.rank())
            .then(b.severity.cmp(&a.severity))
            .then(a.id.cmp(&b.id))
    });
    v
}

impl<'a> View<'a> {
    pub fn build(results: &'a Results, steps: &[GuideStep]) -> View<'a> {
        let s = &results.summary;
        let cards = Status::ALL
            .iter()
            .map(|st| Card {
                status: st.as_str().into(),
                label: label(*st).into(),
                count: s.count(*st),
            })
            .collect();
        let (verdict, verdict_class) = if s.blocking_failures > 0 {
            (
                format!(
                    "Not ready for go-live: {} blocking check(s) fail",
                    s.blocking_failures
                ),
                "fail",
            )
        } else if s.partial {
            (
                "Not proven: a partial run (--select or --ignore) cannot clear the go-live gate"
                    .to_string(),
                "not_assessed",
            )
        } else if !s.go_live_ready {
            (
                "Not yet proven: blocking checks are unassessed or await attestation".to_string(),
                "not_assessed",
            )
        } else {
            (
                "Ready for go-live: every blocking check passes".to_string(),
                "pass",
            )
        };
        let coverage = results
            .coverage
            .iter()
            .map(|c| CoverageRow {
                name: c.name.clone(),
                methods: c
                    .methods_allowed
                    .iter()
                    .map(|m| {
                        if m == "A" {
                            "A: Event Hub"
                        } else {
                            "B: REST API"
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
                required: if c.required { "required" } else { "optional" }.into(),
                licensed: tri(c.licensed, "yes", "not licensed"),
                configured: match &c.configured_by {
                    Some(v) if !v.is_empty() => format!("yes ({})", v.join(" + ")),
                    _ => tri(c.configured, "yes", "no"),
                },
                flowing: tri(c.flowing, "yes", "no"),
                in_siem: match (tri(c.in_siem, "yes", "no"), c.lag_hours) {
                    (t, Some(lag)) if c.in_siem == Some(true) => {
                        format!("{t} ({lag} h behind Microsoft)")
                    }
                    (t, _) => t,
                },
                siem_inputs: c.siem_inputs.join(", "),
                state_class: c.state.replace(' ', "_"),
                state: if c.double_collection == Some(true) {
                    format!("{} (double collection)", c.state)
                } else {
                    c.state.clone()
                },
                detail: c.detail.join("; "),
                chain: if c.required {
                    vec![
                        link(
                            "source",
                            c.configured,
                            c.configured_by
                                .as_ref()
                                .filter(|v| !v.is_empty())
                                .map(|v| format!("configured ({})", v.join(" + ")))
                                .unwrap_or_else(|| "configured".into()),
                            "not configured",
                        ),
                        link(
                            "hub or API",
                            c.flowing,
                            "data flowing".into(),
                            "nothing flowing",
                        ),
                        link(
                            "SIEM input",
                            c.in_siem.map(|_| !c.siem_inputs.is_empty()),
                            c.siem_inputs.join(", "),
                            "none",
                        ),
                        link(
                            "newest event of those inputs",
                            c.in_siem,
                            c.siem_last_event_hours
                                .map(|h| format!("{h} h old"))
                                .unwrap_or_else(|| "recent".into()),
                            &c.siem_last_event_hours
                                .map(|h| format!("{h} h old"))
                                .unwrap_or_else(|| "no recent event".into()),
                        ),
                    ]
                } else {
                    vec![]
                },
            })
            .collect();
        let checklist = steps
            .iter()
            .map(|st| {
                let checks: Vec<&CheckResult> = results
                    .checks
                    .iter()
                    .filter(|c| c.guide_steps.contains(&st.id))
                    .collect();
                let status = if checks.is_empty() {
                    Status::Manual
                } else {
                    aggregate(checks.iter().map(|c| c.status))
                };
                StepView {
                    section: st.section.clone(),
                    title: st.title.clone(),
                    action: st.action.clone(),
                    status: status.as_str().into(),
                    label: label(status).into(),
                    checks: checks
                        .iter()
                        .map(|c| StepCheck {
                            id: c.id.clone(),
                            status: c.status.as_str().into(),
                        })
                        .collect(),
                }
            })
            .collect();
        let checks = sorted(&results.checks)
            .into_iter()
            .map(|c| CheckView {
                id: c.id.clone(),
                title: c.title.clone(),
                family: c.family.clone(),
                severity: c.severity.as_str().into(),
                go_live: c.go_live.as_str().into(),
                status: c.status.as_str().into(),
                label: label(c.status).into(),
                reason: c.reason.clone().unwrap_or_default(),
                why: c.doc.why.clone(),
                fix: c.doc.fix.clone(),
                not_assessed_hint: c.doc.not_assessed.clone().unwrap_or_default(),
                references: c.references.clone(),
                frameworks: c
                    .frameworks
                    .pairs()
                    .into_iter()
                    .map(|(f, id)| format!("{f} {id}"))
                    .collect(),
                evidence: c
                    .evidence
                    .iter()
                    .map(|e| format!("{} ({})", e.kind, e.status))
                    .collect(),
                evidence_files: c
                    .evidence
                    .iter()
                    .flat_map(|e| {
                        e.files.iter().map(|f| EvidenceFile {
                            kind: e.kind.clone(),
                            path: f.path.clone(),
                            sha256: f.sha256.clone(),
                        })
                    })
                    .collect(),
                observed: c
                    .findings
                    .iter()
                    .take(2)
                    .map(|f| observed_text(&f.observed))
                    .filter(|o| !o.is_empty())
                    .collect::<Vec<_>>()
                    .join("; "),
                findings: c
                    .findings
                    .iter()
                    .map(|f| FindingView {
                        name: f.name.clone(),
                        resource: f.resource.clone(),
                        status: f.status.as_str().into(),
                        label: label(f.status).into(),
                        message: f.message.clone(),
                        observed: observed_text(&f.observed),
                        waiver: f
                            .waiver
                            .as_ref()
                            .map(|w| {
                                format!(
                                    "waived by {} until {}: {}{}",
                                    w.approver,
                                    w.expires,
                                    w.reason,
                                    w.ticket
                                        .as_deref()
                                        .map(|t| format!(" ({t})"))
                                        .unwrap_or_default()
                                )
                            })
                            .unwrap_or_default(),
                    })
                    .collect(),
                attestation: c
                    .attestation
                    .as_ref()
                    .map(|a| {
                        format!(
                            "{} by {} on {} (expires {}{})",
                            if a.valid {
                                "Attested"
                            } else {
                                "Attestation not in force"
                            },
                            a.attested_by,
                            a.date,
                            a.expires,
                            a.reference
                                .as_ref()
                                .and_then(|r| r.ticket.clone())
                                .map(|t| format!(", {t}"))
                                .unwrap_or_default()
                        )
                    })
                    .unwrap_or_default(),
                open: !matches!(c.status, Status::Pass | Status::NotApplicable),
            })
            .collect();
        let tenant = results
            .run
            .tenant_name
            .clone()
            .unwrap_or_else(|| results.run.tenant_id.clone());
        View {
            // Isolated: a tenant name cannot reorder the window title around it.
            title: format!("siemproof: {}", isolate(&tenant)),
            results,
            cards,
            verdict,
            verdict_class: verdict_class.into(),
            coverage,
            checklist,
            checks,
            generated_by: format!(
                "siemproof {} · catalogue {}",
                results.run.tool_version, results.run.catalogue_version
            ),
            clock_note: if results.run.clock == "--as-of" {
                "set with --as-of".into()
            } else {
                "the evidence's collection time: re-auditing this bundle gives the same verdicts"
                    .into()
            },
            evidence_age: results.run.evidence_age.as_ref().map(|a| {
                format!(
                    "{} h at {}{}",
                    a.hours,
                    a.audited_at,
                    if a.stale {
                        format!(
                            " — older than {} h: collect again for a current picture",
                            a.threshold_hours
                        )
                    } else {
                        String::new()
                    }
                )
            }),
            notes: results.run.notes.clone(),
            consumer: consumer_chart(results),
            consumer_lag: lag_chart(results),
            status_bar: status_bar(results),
            expiry: expiry_chart(results),
            freshness: freshness_chart(results),
            sparklines: sparklines(results),
            fix_first: results
                .fix_first(&steps.iter().map(|g| g.id.clone()).collect::<Vec<_>>())
                .into_iter()
                .take(3)
                .map(|c| FixFirst {
                    id: c.id.clone(),
                    title: c.title.clone(),
                })
                .collect(),
            more_blocking: results.summary.blocking_failures.saturating_sub(3),
            report_signature: match &results.run.signatures.report_key_id {
                Some(k) => format!(
                    "Signed with minisign key {k}: SHA256SUMS.minisig covers every file of this output, this page included"
                ),
                None => "UNSIGNED: nothing proves this output was not edited after the audit (sign it with `siemproof audit --sign KEY` or `siemproof sign DIR`)".into(),
            },
            evidence_signature: match (
                results.run.signatures.evidence.as_str(),
                &results.run.signatures.evidence_key_id,
            ) {
                ("verified", Some(k)) => format!("The evidence manifest's signature was verified with key {k} (--pubkey)"),
                ("not_checked", _) => "The evidence manifest carries a signature, but no --pubkey was given: it was not checked".into(),
                ("unsigned", _) => "The evidence manifest is unsigned: file hashes were checked against it, but an edit of the manifest itself cannot be detected".into(),
                _ => "Not recorded by the version that wrote results.json".into(),
            },
            signed_class: if results.run.signatures.report_key_id.is_some() {
                "signed".into()
            } else {
                "unsigned".into()
            },
        }
    }
}
