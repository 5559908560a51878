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

/// Quotes one field, neutralising formula triggers.
pub fn field(s: &str) -> String {
    let neutral = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    format!("\"{}\"", neutral.replace('"', "\"\""))
}

/// Renders `findings.csv`.
pub fn render(results: &Results) -> String {
    let mut s = String::new();
    let line = |cells: &[&str]| cells.iter().map(|c| field(c)).collect::<Vec<_>>().join(",");
    s.push_str(&line(&HEADER));
    s.push_str("\r\n");
    for r in super::jsonl::rows(results) {
        let nist = r.nist_800_53_r5.join(" ");
        let w = r.waiver.as_ref();
        let a = r.attestation.as_ref();
        let (w_by, w_until, w_why) = (
            w.map(|w| w.approver.as_str()).unwrap_or_default(),
            w.map(|w| w.expires.as_str()).unwrap_or_default(),
            w.map(|w| w.reason.as_str()).unwrap_or_default(),
        );
        let (a_by, a_on) = (
            a.map(|a| a.attested_by.as_str()).unwrap_or_default(),
            a.map(|a| a.date.as_str()).unwrap_or_default(),
        );
        s.push_str(&line(&[
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
        ]));
        s.push_str("\r\n");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::field;

    #[test]
    fn quotes_and_neutralises_formulas() {
        assert_eq!(field("plain"), "\"plain\"");
        assert_eq!(field("a \"b\", c\nd"), "\"a \"\"b\"\", c\nd\"");
        assert_eq!(field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        for p in ["+1", "-1", "@SUM(A1)", "\tx"] {
            assert!(field(p).starts_with("\"'"), "{p}");
        }
    }
}
