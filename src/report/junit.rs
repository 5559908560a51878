//! JUnit XML (`report.junit.xml`) for CI gates (GitLab, Azure DevOps, Jenkins): one `testsuite`
//! per check family, one `testcase` per check.
//!
//! `fail` is a `<failure>`, and so is a `warn` at or above `--fail-on` (type `warn <severity>`):
//! a CI test view must not show it as passed. `not_assessed`, `not_applicable` and `manual` are
//! `<skipped>` (the check could not decide, which CI must not show as green); `pass`, `waived`
//! and warnings below the threshold pass, spelled out in `<system-out>`. The Jenkins junit-10.xsd allows
//! properties only on a testsuite, so each check's severity, status and controls are suite
//! properties named `<check id>.<key>`.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::results::{CheckResult, Results, Status};

/// Escapes text for XML attributes and content; characters XML 1.0 forbids become U+FFFD.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

fn controls(c: &CheckResult) -> String {
    c.frameworks
        .pairs()
        .iter()
        .map(|(f, id)| format!("{f} {id}"))
        .collect::<Vec<_>>()
        .join("; ")
}

fn findings_text(c: &CheckResult) -> String {
    let mut s = String::new();
    if let Some(r) = &c.reason {
        let _ = writeln!(s, "{r}");
    }
    for f in &c.findings {
        let _ = writeln!(
            s,
            "[{}] {} ({}): {}",
            f.status.as_str(),
            f.name,
            f.resource,
            f.message
        );
        if let Some(w) = &f.waiver {
            let _ = writeln!(
                s,
                "  waived by {} until {}: {}",
                w.approver, w.expires, w.reason
            );
        }
    }
    s
}

/// Renders `report.junit.xml`.
pub fn render(results: &Results) -> String {
    let mut families: BTreeMap<&str, Vec<&CheckResult>> = BTreeMap::new();
    for c in &results.checks {
        families.entry(c.family.as_str()).or_default().push(c);
    }
    let count =
        |cs: &[&CheckResult], f: &dyn Fn(Status) -> bool| cs.iter().filter(|c| f(c.status)).count();
    let is_skip = |s: Status| {
        matches!(
            s,
            Status::NotAssessed | Status::NotApplicable | Status::Manual
        )
    };
    // A warning at or above --fail-on is a failure in JUnit: a CI test view must never show
    // it as passed. Below the threshold it passes, spelled out in <system-out>.
    let threshold = crate::catalog::Severity::parse(&results.run.fail_on);
    let failing = |c: &CheckResult| {
        c.status == Status::Fail
            || (c.status == Status::Warn && threshold.is_some_and(|t| c.severity >= t))
    };
    let all: Vec<&CheckResult> = results.checks.iter().collect();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<testsuites name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" time=\"0\">",
        xml_escape(&format!(
            "siemproof {} run {}",
            results.run.tenant_id, results.run.id
        )),
        all.len(),
        all.iter().filter(|c| failing(c)).count(),
    );
    for (family, checks) in &families {
        let _ = writeln!(
            x,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"0\" timestamp=\"{}\" id=\"{}\">",
            xml_escape(family),
            checks.len(),
            checks.iter().filter(|c| failing(c)).count(),
            count(checks, &is_skip),
            xml_escape(&results.run.as_of),
            xml_escape(&results.run.id),
        );
        x.push_str("    <properties>\n");
        let mut prop = |name: String, value: &str| {
            let _ = writeln!(
                x,
                "      <property name=\"{}\" value=\"{}\"/>",
                xml_escape(&name),
                xml_escape(value)
            );
        };
        prop("run_id".into(), &results.run.id);
        prop("tenant_id".into(), &results.run.tenant_id);
        prop("as_of".into(), &results.run.as_of);
        prop(
            "evidence_manifest_sha256".into(),
            &results.run.evidence_manifest_sha256,
        );
        for c in checks {
            prop(format!("{}.severity", c.id), c.severity.as_str());
            prop(format!("{}.status", c.id), c.status.as_str());
            prop(format!("{}.controls", c.id), &controls(c));
        }
        x.push_str("    </properties>\n");
        for c in checks {
            let nist = c.frameworks.nist_800_53_r5.join(", ");
            let name = if nist.is_empty() {
                format!("{} {}", c.id, c.title)
            } else {
                format!("{} {} [{}]", c.id, c.title, nist.to_ascii_uppercase())
            };
            let _ = writeln!(
                x,
                "    <testcase name=\"{}\" classname=\"siemproof.{}\" time=\"0\">",
                xml_escape(&name),
                xml_escape(&c.family)
            );
            let text = findings_text(c);
            match c.status {
                _ if failing(c) => {
                    let first = c
                        .findings
                        .iter()
                        .find(|f| f.status == c.status)
                        .map(|f| f.message.clone())
                        .or_else(|| c.reason.clone())
                        .unwrap_or_else(|| "failed".into());
                    let _ = writeln!(
                        x,
                        "      <failure type=\"{}\" message=\"{}\">{}</failure>",
                        if c.status == Status::Warn {
                            format!("warn {}", c.severity.as_str())
                        } else {
                            c.severity.as_str().to_string()
                        },
                        xml_escape(&first),
                        xml_escape(&text)
                    );
                }
                s if is_skip(s) => {
                    let _ = writeln!(
                        x,
                        "      <skipped type=\"{}\" message=\"{}\"/>",
                        s.as_str(),
                        xml_escape(c.reason.as_deref().unwrap_or(s.as_str()))
                    );
                }
                _ => {}
            }
            if !text.is_empty() {
                let _ = writeln!(
                    x,
                    "      <system-out>status {}: {}</system-out>",
                    c.status.as_str(),
                    xml_escape(&text)
                );
            }
            x.push_str("    </testcase>\n");
        }
        x.push_str("  </testsuite>\n");
    }
    x.push_str("</testsuites>\n");
    x
}
