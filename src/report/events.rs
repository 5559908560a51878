//! Results as events the SOC's own SIEM parses natively, so it can alert when the pipeline that
//! feeds it breaks: `findings.leef` (IBM LEEF 2.0, what QRadar reads without a custom DSM) and
//! `findings.cef` (ArcSight CEF 0, read by most others). One event per finding (the rows of
//! `findings.jsonl`, checks without findings included) and one per coverage row, each carrying
//! the check id, status, severity, log type and run id.
//!
//! Escaping follows each format's rules, because finding messages and resource names come from
//! the tenant: CEF header fields escape `\` and `|`, extension values escape `\`, `=` and line
//! breaks (`\n`, `\r`); LEEF header fields escape `\` and `|`, and attribute values (which LEEF
//! cannot escape) have the tab delimiter and line breaks replaced by a space. No line break can
//! survive into an event, so no value can start an event of its own.

use crate::coverage::LogTypeCoverage;
use crate::results::Results;

const VENDOR: &str = "siemproof";
const PRODUCT: &str = "siemproof";

/// 0–10 for CEF and LEEF: how urgent the event is. A passing finding is 0 whatever the check's
/// severity; not assessed counts as its severity (a blind spot is not good news).
fn urgency(status: &str, severity: &str) -> u8 {
    if matches!(status, "pass" | "not_applicable" | "waived") {
        return 0;
    }
    match severity {
        "critical" => 10,
        "high" => 8,
        "medium" => 5,
        "low" => 3,
        _ => 1,
    }
}

fn epoch_ms(ts: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(ts)
        .map(|t| t.timestamp_millis().to_string())
        .unwrap_or_default()
}

/// Text without line breaks (CR, LF and the other Unicode line separators become a space).
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\r' | '\n' | '\u{0b}' | '\u{0c}' | '\u{85}' | '\u{2028}' | '\u{2029}' => ' ',
            c if c.is_control() && c != '\t' => ' ',
            c => c,
        })
        .collect()
}

/// CEF and LEEF header field: `\` and `|` escaped, on one line.
fn header(s: &str) -> String {
    one_line(s).replace('\\', "\\\\").replace('|', "\\|")
}

/// CEF extension value: `\`, `=` and line breaks escaped.
fn cef_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '=' => out.push_str("\\="),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() || matches!(c, '\u{85}' | '\u{2028}' | '\u{2029}') => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// LEEF attribute value: no tab (the delimiter), no line break.
fn leef_value(s: &str) -> String {
    one_line(s).replace('\t', " ")
}

fn v_empty(v: &str) -> bool {
    v.trim().is_empty()
}

/// One event's fields, shared by both formats.
struct Event {
    id: String,
    name: String,
    status: String,
    severity: String,
    urgency: u8,
    category: String,
    /// A coverage row (else a finding).
    coverage: bool,
    fields: Vec<(&'static str, String)>,
}

/// A required log type held when configured, flowing and not seen missing from the SIEM (the
/// events and the period report judge it alike).
/// A required log type's status for one run. With `[[siem]]` targets configured, an unknown
/// `in_siem` is `not_assessed` (the SIEM was to be read and was not); without them only the
/// Microsoft side can hold, and `in_siem` stays unknown.
pub(crate) fn coverage_status(c: &LogTypeCoverage, siem_read: bool) -> &'static str {
    coverage_verdict(c.configured, c.flowing, c.in_siem, siem_read)
}

/// [`coverage_status`] from a row's three states.
pub(crate) fn coverage_verdict(
    configured: Option<bool>,
    flowing: Option<bool>,
    in_siem: Option<bool>,
    siem_read: bool,
) -> &'static str {
    match (configured, flowing, in_siem) {
        (Some(false), _, _) | (_, Some(false), _) | (_, _, Some(false)) => "fail",
        (Some(true), Some(true), Some(true)) => "pass",
        (Some(true), Some(true), None) if !siem_read => "pass",
        _ => "not_assessed",
    }
}

/// Whether the run was set to read a SIEM (`[[siem]]` targets in its config).
pub(crate) fn siem_read(results: &Results) -> bool {
    !results.config.siem.targets.is_empty()
}

fn tri(v: Option<bool>) -> String {
    match v {
        Some(true) => "yes".into(),
        Some(false) => "no".into(),
        None => "unknown".into(),
    }
}

fn events(results: &Results) -> Vec<Event> {
    let mut out = Vec::new();
    for r in super::jsonl::rows(results) {
        out.push(Event {
            urgency: urgency(&r.status, &r.severity),
            id: r.check_id.clone(),
            name: r.check_title.clone(),
            status: r.status.clone(),
            severity: r.severity.clone(),
            category: r.family.clone(),
            coverage: false,
            fields: vec![
                ("event", "siemproof.finding".into()),
                ("checkId", r.check_id),
                ("status", r.status),
                ("severity", r.severity),
                ("goLive", r.go_live),
                ("runId", r.run_id),
                ("tenantId", r.tenant_id),
                ("resource", r.resource),
                ("resourceName", r.resource_name),
                ("logType", String::new()),
                ("msg", r.message),
            ],
        });
    }
    for c in results.coverage.iter().filter(|c| c.required) {
        let status = coverage_status(c, siem_read(results)).to_string();
        out.push(Event {
            urgency: urgency(&status, "high"),
            id: format!("COVERAGE-{}", c.id),
            name: format!("Log type {} reaches the SIEM", c.name),
            status: status.clone(),
            severity: "high".into(),
            category: "coverage".into(),
            coverage: true,
            fields: vec![
                ("event", "siemproof.coverage".into()),
                ("checkId", format!("COVERAGE-{}", c.id)),
                ("status", status),
                ("severity", "high".into()),
                ("runId", results.run.id.clone()),
                ("tenantId", results.run.tenant_id.clone()),
                ("logType", c.id.clone()),
                ("configured", tri(c.configured)),
                ("flowing", tri(c.flowing)),
                ("inSiem", tri(c.in_siem)),
                ("msg", c.note.clone()),
            ],
        });
    }
    out
}

/// The two event formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EventFormat {
    /// IBM LEEF 2.0 (QRadar parses it without a custom DSM)
    Leef,
    /// ArcSight CEF 0
    Cef,
}

/// One event, rendered, with what a transport needs to frame it.
pub struct EventLine {
    /// A coverage row (else a finding).
    pub coverage: bool,
    /// 0–10, as in the event itself.
    pub urgency: u8,
    /// The event, on one line, without its line break.
    pub line: String,
}

/// Every event of the run in `format`, in the files' order.
pub fn lines(results: &Results, format: EventFormat) -> Vec<EventLine> {
    let rt = epoch_ms(&results.run.as_of);
    events(results)
        .into_iter()
        .map(|e| EventLine {
            coverage: e.coverage,
            urgency: e.urgency,
            line: match format {
                EventFormat::Cef => cef_line(results, &rt, &e),
                EventFormat::Leef => leef_line(results, &e),
            },
        })
        .collect()
}

fn file(results: &Results, format: EventFormat) -> String {
    let mut s = String::new();
    for l in lines(results, format) {
        s.push_str(&l.line);
        s.push('\n');
    }
    s
}

/// `findings.cef`: one CEF:0 event per line.
pub fn render_cef(results: &Results) -> String {
    file(results, EventFormat::Cef)
}

/// `findings.leef`: one LEEF:2.0 event per line, tab-delimited attributes.
pub fn render_leef(results: &Results) -> String {
    file(results, EventFormat::Leef)
}

fn cef_line(results: &Results, rt: &str, e: &Event) -> String {
    let field = |key: &str| {
        e.fields
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let head = format!(
        "CEF:0|{}|{}|{}|{}|{}|{}|",
        header(VENDOR),
        header(PRODUCT),
        header(&results.run.tool_version),
        header(&e.id),
        header(&e.name),
        e.urgency
    );
    let mut ext: Vec<String> = vec![
        format!("rt={rt}"),
        format!("cat={}", cef_value(&e.category)),
        format!("externalId={}", cef_value(&results.run.id)),
    ];
    // CEF has no free keys: siemproof's fields go into the custom strings, labelled.
    let custom = [
        ("checkId", e.id.clone()),
        ("status", e.status.clone()),
        ("severity", e.severity.clone()),
        ("runId", results.run.id.clone()),
        ("logType", field("logType")),
        ("resource", field("resource")),
    ];
    // Empty values are left out: CEF parsers read `key=` as part of the next pair.
    for (i, (label, value)) in custom.iter().enumerate() {
        if !value.is_empty() {
            ext.push(format!("cs{}Label={label}", i + 1));
            ext.push(format!("cs{}={}", i + 1, cef_value(value)));
        }
    }
    let msg = field("msg");
    if !v_empty(&msg) {
        ext.push(format!("msg={}", cef_value(&msg)));
    }
    head + &ext.join(" ")
}

fn leef_line(results: &Results, e: &Event) -> String {
    let head = format!(
        "LEEF:2.0|{}|{}|{}|{}|x09|",
        header(VENDOR),
        header(PRODUCT),
        header(&results.run.tool_version),
        header(&e.id)
    );
    let mut attrs: Vec<String> = vec![
        format!("devTime={}", leef_value(&results.run.as_of)),
        "devTimeFormat=yyyy-MM-dd'T'HH:mm:ssX".to_string(),
        format!("sev={}", e.urgency.max(1)),
        format!("cat={}", leef_value(&e.category)),
    ];
    for (k, v) in e.fields.iter().filter(|(_, v)| !v_empty(v)) {
        attrs.push(format!("{k}={}", leef_value(v)));
    }
    head + &attrs.join("\t")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_cannot_break_out() {
        assert_eq!(cef_value("a=b\\c\nd\re"), "a\\=b\\\\c\\nd\\re");
        assert_eq!(header("x|y\\z\nq"), "x\\|y\\\\z q");
        assert_eq!(leef_value("a\tb\nLEEF:2.0|evil"), "a b LEEF:2.0|evil");
        assert_eq!(urgency("pass", "critical"), 0);
        assert_eq!(urgency("not_assessed", "critical"), 10);
    }
}
