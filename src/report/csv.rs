//! CSV (`findings.csv`, RFC 4180: CRLF line ends, every field quoted) with the same rows as the
//! JSON lines, for people who open findings in a spreadsheet.
//!
//! Spreadsheets execute cells that start with `=`, `+`, `-` or `@` (and tab or carriage return)
//! as formulas; resource names and messages come from the tenant, so such a cell is prefixed
//! with `'` (the OWASP "CSV injection" advice) and shows as text.

use crate::results::Results;

const HEADER: [&str; 17] = [
    "timestamp",
    "run_id",
    "tenant_id",
    "check_id",
    "check_title",
    "family",
    "severity",
    "status",
    "resource",
    "resource_name",
    "message",
    "nist_800_53_r5",
    "waived_by",
    "waiver_expires",
    "waiver_reason",
    "attested_by",
    "attested_on",
];

/// Neutralises formula triggers; quoting is the csv writer's.
fn neutral(s: &str) -> std::borrow::Cow<'_, str> {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}").into()
    } else {
        s.into()
    }
}

/// Renders `findings.csv`.
pub fn render(results: &Results) -> String {
    let mut w = csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::Always)
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let mut line = |cells: &[&str]| {
        // Writing to a Vec cannot fail.
        let _ = w.write_record(cells.iter().map(|c| neutral(c).into_owned()));
    };
    line(&HEADER);
    for r in super::jsonl::rows(results) {
        let nist = r.nist_800_53_r5.join(" ");
        let wv = r.waiver.as_ref();
        let a = r.attestation.as_ref();
        let (w_by, w_until, w_why) = (
            wv.map(|w| w.approver.as_str()).unwrap_or_default(),
            wv.map(|w| w.expires.as_str()).unwrap_or_default(),
            wv.map(|w| w.reason.as_str()).unwrap_or_default(),
        );
        let (a_by, a_on) = (
            a.map(|a| a.attested_by.as_str()).unwrap_or_default(),
            a.map(|a| a.date.as_str()).unwrap_or_default(),
        );
        line(&[
            &r.timestamp,
            &r.run_id,
            &r.tenant_id,
            &r.check_id,
            &r.check_title,
            &r.family,
            &r.severity,
            &r.status,
            &r.resource,
            &r.resource_name,
            &r.message,
            &nist,
            w_by,
            w_until,
            w_why,
            a_by,
            a_on,
        ]);
    }
    let bytes = w.into_inner().unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::neutral;

    fn field(s: &str) -> String {
        let mut w = csv::WriterBuilder::new()
            .quote_style(csv::QuoteStyle::Always)
            .terminator(csv::Terminator::CRLF)
            .from_writer(Vec::new());
        w.write_record([neutral(s).as_ref()]).unwrap();
        String::from_utf8(w.into_inner().unwrap()).unwrap()
    }

    #[test]
    fn quotes_and_neutralises_formulas() {
        assert_eq!(field("plain"), "\"plain\"\r\n");
        assert_eq!(field("a \"b\", c\nd"), "\"a \"\"b\"\", c\nd\"\r\n");
        assert_eq!(field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"\r\n");
        for p in ["+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert!(field(p).starts_with("\"'"), "{p}");
        }
    }
}
