//! JUnit XML (`report.junit.xml`) for CI gates (GitLab, Azure DevOps, Jenkins): one `testsuite`
//! per check family, one `testcase` per check.
//!
//! `fail` is a `<failure>`, and so is a `warn` at or above `--fail-on` (type `warn <severity>`):
//! a CI test view must not show it as passed. `not_assessed`, `not_applicable` and `manual` are
//! `<skipped>` (the check could not decide, which CI must not show as green); `pass`, `waived`
//! and warnings below the threshold pass, spelled out in `<system-out>`. The Jenkins junit-10.xsd allows
//! properties only on a testsuite, so each check's severity, status and controls are suite
//! properties named `<check id>.<key>`.

use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::results::{CheckResult, Results, Status};

/// Characters XML 1.0 forbids become U+FFFD (an XML writer escapes, it does not filter).
fn xml_chars(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' => c,
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => '\u{FFFD}',
            c => c,
        })
        .collect()
}

/// Escapes text for XML attributes and content (quick-xml's escaper, all five entities), with
/// the characters XML 1.0 forbids replaced by U+FFFD. Also the HTML report's one escaper.
pub fn xml_escape(s: &str) -> String {
    quick_xml::escape::escape(xml_chars(s)).into_owned()
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

type Xml = Writer<Vec<u8>>;

fn start(w: &mut Xml, name: &str, attrs: &[(&str, &str)]) {
    let _ = w.write_event(Event::Start(element(name, attrs)));
}

fn empty(w: &mut Xml, name: &str, attrs: &[(&str, &str)]) {
    let _ = w.write_event(Event::Empty(element(name, attrs)));
}

fn end(w: &mut Xml, name: &str) {
    let _ = w.write_event(Event::End(BytesEnd::new(name)));
}

fn element<'a>(name: &'a str, attrs: &[(&str, &str)]) -> BytesStart<'a> {
    let mut e = BytesStart::new(name);
    for (k, v) in attrs {
        e.push_attribute((*k, xml_chars(v).as_str()));
    }
    e
}

/// `<name attrs>text</name>` on one line.
fn text_element(w: &mut Xml, name: &str, attrs: &[(&str, &str)], text: &str) {
    start(w, name, attrs);
    let _ = w.write_event(Event::Text(BytesText::new(&xml_chars(text))));
    end(w, name);
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
    // Writing into a Vec cannot fail, so the writer's results are ignored.
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    let _ = w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
    let suites_name = format!("siemproof {} run {}", results.run.tenant_id, results.run.id);
    let (total, failures) = (
        all.len().to_string(),
        all.iter().filter(|c| failing(c)).count().to_string(),
    );
    start(
        &mut w,
        "testsuites",
        &[
            ("name", &suites_name),
            ("tests", &total),
            ("failures", &failures),
            ("errors", "0"),
            ("time", "0"),
        ],
    );
    for (family, checks) in &families {
        let (tests, fails, skipped) = (
            checks.len().to_string(),
            checks.iter().filter(|c| failing(c)).count().to_string(),
            count(checks, &is_skip).to_string(),
        );
        start(
            &mut w,
            "testsuite",
            &[
                ("name", family),
                ("tests", &tests),
                ("failures", &fails),
                ("errors", "0"),
                ("skipped", &skipped),
                ("time", "0"),
                ("timestamp", &results.run.as_of),
                ("id", &results.run.id),
            ],
        );
        start(&mut w, "properties", &[]);
        let mut prop = |name: &str, value: &str| {
            empty(&mut w, "property", &[("name", name), ("value", value)]);
        };
        prop("run_id", &results.run.id);
        prop("tenant_id", &results.run.tenant_id);
        prop("as_of", &results.run.as_of);
        prop(
            "evidence_manifest_sha256",
            &results.run.evidence_manifest_sha256,
        );
        for c in checks {
            prop(&format!("{}.severity", c.id), c.severity.as_str());
            prop(&format!("{}.status", c.id), c.status.as_str());
            prop(&format!("{}.controls", c.id), &controls(c));
        }
        end(&mut w, "properties");
        for c in checks {
            let nist = c.frameworks.nist_800_53_r5.join(", ");
            let name = if nist.is_empty() {
                format!("{} {}", c.id, c.title)
            } else {
                format!("{} {} [{}]", c.id, c.title, nist.to_ascii_uppercase())
            };
            let classname = format!("siemproof.{}", c.family);
            start(
                &mut w,
                "testcase",
                &[("name", &name), ("classname", &classname), ("time", "0")],
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
                    let kind = if c.status == Status::Warn {
                        format!("warn {}", c.severity.as_str())
                    } else {
                        c.severity.as_str().to_string()
                    };
                    text_element(
                        &mut w,
                        "failure",
                        &[("type", &kind), ("message", &first)],
                        &text,
                    );
                }
                s if is_skip(s) => empty(
                    &mut w,
                    "skipped",
                    &[
                        ("type", s.as_str()),
                        ("message", c.reason.as_deref().unwrap_or(s.as_str())),
                    ],
                ),
                _ => {}
            }
            if !text.is_empty() {
                text_element(
                    &mut w,
                    "system-out",
                    &[],
                    &format!("status {}: {}", c.status.as_str(), text),
                );
            }
            end(&mut w, "testcase");
        }
        end(&mut w, "testsuite");
    }
    end(&mut w, "testsuites");
    let mut x = String::from_utf8(w.into_inner()).unwrap_or_default();
    x.push('\n');
    x
}
