//! Every report format rendered from one audit, checked by independent validators: OSCAL
//! against NIST's schema (check-jsonschema) and compliance-trestle, SARIF against the OASIS
//! schema, JUnit against the Jenkins xsd (xmlschema), and report.html in headless Chromium
//! (renders, prints to PDF, screenshots, no console error and no network request).

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::*;

fn audited() -> (tempfile::TempDir, PathBuf) {
    audited_with("Disabled")
}

fn audited_with(hub_status: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let (_b, out) = audit(tmp.path(), hub_status, None);
    (tmp, out)
}

fn xmlschema_validates(xml: &Path) {
    if !require(
        "python3 xmlschema",
        Command::new("python3").args(["-c", "import xmlschema"]),
    ) {
        return;
    }
    let Some(xsd) = schema("junit/junit-10.xsd") else {
        return;
    };
    let o = run(Command::new("python3")
        .args([
            "-c",
            "import sys, xmlschema; xmlschema.XMLSchema(sys.argv[1]).validate(sys.argv[2])",
        ])
        .arg(&xsd)
        .arg(xml));
    assert!(o.status.success(), "xmlschema: {}", text(&o));
}

/// A passing run (nothing open: no POA&M) and an unassessable one (403 on the hub list: fail
/// closed, skipped in JUnit, `open` in SARIF, not-satisfied in OSCAL) validate too.
#[test]
fn pass_and_not_assessed_runs_validate() {
    for (status, check_status) in [("Active", "pass"), ("forbidden", "not_assessed")] {
        let (_t, out) = audited_with(status);
        let results: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("results.json")).unwrap()).unwrap();
        let check = results["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == "EH-HUB-ACTIVE")
            .unwrap();
        assert_eq!(check["status"], check_status);
        let mut oscal = vec![
            out.join("oscal/assessment-plan.json"),
            out.join("oscal/assessment-results.json"),
        ];
        let junit = std::fs::read_to_string(out.join("report.junit.xml")).unwrap();
        let sarif = std::fs::read_to_string(out.join("report.sarif")).unwrap();
        if check_status == "not_assessed" {
            assert!(junit.contains("<skipped type=\"not_assessed\""), "{junit}");
            // "Could not look" is a tool notification of the check, not a result.
            let sj: serde_json::Value = serde_json::from_str(&sarif).unwrap();
            assert!(
                sj["runs"][0]["invocations"][0]["toolExecutionNotifications"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|n| n["associatedRule"]["id"] == "EH-HUB-ACTIVE")
            );
            assert!(!sj["runs"][0]["results"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["ruleId"] == "EH-HUB-ACTIVE"));
            let ar = std::fs::read_to_string(&oscal[1]).unwrap();
            assert!(ar.contains("\"state\": \"not-satisfied\""));
            // Fail closed: the check that read the forbidden evidence is never satisfied (other
            // checks of the catalogue, reading other evidence, may be).
            let arj: serde_json::Value = serde_json::from_str(&ar).unwrap();
            let hub: Vec<&serde_json::Value> = arj["assessment-results"]["results"][0]["findings"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|f| {
                    f["props"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|p| p["name"] == "check-id" && p["value"] == "EH-HUB-ACTIVE")
                })
                .collect();
            assert!(!hub.is_empty());
            assert!(
                hub.iter()
                    .all(|f| f["target"]["status"]["state"] == "not-satisfied"),
                "fail closed"
            );
            assert!(out.join("oscal/poam.json").is_file());
            oscal.push(out.join("oscal/poam.json"));
        } else if results["summary"]["pass"] == results["summary"]["total"] {
            assert!(
                !out.join("oscal/poam.json").exists(),
                "no POA&M without open items"
            );
        }
        check_jsonschema("oscal-1.2.3/oscal_complete_schema.json", &oscal);
        check_jsonschema(
            "sarif-2.1.0/sarif-schema-2.1.0.json",
            &[out.join("report.sarif")],
        );
        xmlschema_validates(&out.join("report.junit.xml"));
    }
}

fn check_jsonschema(schema_rel: &str, files: &[PathBuf]) {
    if !require(
        "check-jsonschema",
        Command::new("check-jsonschema").arg("--version"),
    ) {
        return;
    }
    let Some(schema) = schema(schema_rel) else {
        return;
    };
    let o = run(Command::new("check-jsonschema")
        .arg("--schemafile")
        .arg(&schema)
        .args(files));
    assert!(
        o.status.success(),
        "check-jsonschema {schema_rel}: {}",
        text(&o)
    );
}

#[test]
fn oscal_documents_validate_with_the_nist_schema() {
    let (_t, out) = audited();
    let files: Vec<PathBuf> = [
        "oscal/assessment-plan.json",
        "oscal/assessment-results.json",
        "oscal/poam.json",
    ]
    .iter()
    .map(|f| out.join(f))
    .collect();
    let ar: serde_json::Value = serde_json::from_slice(&std::fs::read(&files[1]).unwrap()).unwrap();
    let ar = &ar["assessment-results"];
    assert_eq!(ar["metadata"]["oscal-version"], "1.2.1");
    assert_eq!(ar["import-ap"]["href"], "assessment-plan.json");
    let result = &ar["results"][0];
    // Observations point at evidence files with their SHA-256.
    let ev = result["observations"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|o| {
            o["relevant-evidence"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .find(|e| e["href"] == "../evidence/raw/arm/arm.eventhub.eventhubs.json")
        .expect("an observation points at the event hub evidence");
    let sha = ev["props"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "sha256")
        .unwrap()["value"]
        .as_str()
        .unwrap()
        .to_string();
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(out.parent().unwrap().join("bundle/manifest.json")).unwrap(),
    )
    .unwrap();
    assert!(manifest["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["sha256"] == sha.as_str()));
    // The failing check yields not-satisfied findings per lowercase NIST control and a POA&M item.
    let findings = result["findings"].as_array().unwrap();
    let f = findings
        .iter()
        .find(|f| f["target"]["target-id"] == "au-2_smt")
        .expect("finding for au-2");
    assert_eq!(f["target"]["status"]["state"], "not-satisfied");
    let poam: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&files[2]).unwrap()).unwrap();
    assert!(!poam["plan-of-action-and-milestones"]["poam-items"]
        .as_array()
        .unwrap()
        .is_empty());
    check_jsonschema("oscal-1.2.3/oscal_complete_schema.json", &files);
    // The schema check is not a rubber stamp: an observation without methods is rejected.
    if require(
        "check-jsonschema",
        Command::new("check-jsonschema").arg("--version"),
    ) {
        let mut v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&files[1]).unwrap()).unwrap();
        v["assessment-results"]["results"][0]["observations"][0]
            .as_object_mut()
            .unwrap()
            .remove("methods");
        let broken = out.join("broken-ar.json");
        std::fs::write(&broken, serde_json::to_vec(&v).unwrap()).unwrap();
        if let Some(schema) = schema("oscal-1.2.3/oscal_complete_schema.json") {
            let o = run(Command::new("check-jsonschema")
                .arg("--schemafile")
                .arg(&schema)
                .arg(&broken));
            assert!(
                !o.status.success(),
                "check-jsonschema accepted a broken document"
            );
        }
    }
}

/// Replaces random and clock-dependent values so structured output can be snapshotted.
fn stable(v: &mut serde_json::Value, run_id: &str, manifest_sha: &str) {
    match v {
        serde_json::Value::String(s) if s.contains(manifest_sha) => {
            *s = s.replace(manifest_sha, "[manifest-sha256]");
            stable(v, run_id, manifest_sha);
        }
        serde_json::Value::String(s) if s == TENANT => {}
        serde_json::Value::String(s) if s.starts_with('#') => {
            let mut rest = serde_json::Value::String(s[1..].to_string());
            stable(&mut rest, run_id, manifest_sha);
            *s = format!("#{}", rest.as_str().unwrap_or_default());
        }
        serde_json::Value::String(s) => {
            let is_uuid = s.len() == 36
                && s.chars().enumerate().all(|(i, c)| {
                    if [8, 13, 18, 23].contains(&i) {
                        c == '-'
                    } else {
                        c.is_ascii_hexdigit()
                    }
                });
            if s == run_id {
                *s = "[run-id]".into();
            } else if is_uuid {
                *s = "[uuid]".into();
            } else if s.contains(run_id) {
                *s = s.replace(run_id, "[run-id]");
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(|x| stable(x, run_id, manifest_sha)),
        serde_json::Value::Object(o) => {
            for (k, x) in o.iter_mut() {
                if k == "last-modified" {
                    *x = "[now]".into();
                } else {
                    stable(x, run_id, manifest_sha);
                }
            }
        }
        _ => {}
    }
}

/// Snapshots of every exchange format for one check (EH-HUB-ACTIVE, failing), so the tests do
/// not churn when the catalogue grows.
#[test]
fn exchange_formats_snapshot() {
    let (_t, out) = audited();
    let mut results = siemproof::results::Results::load(&out.join("results.json")).unwrap();
    results.checks.retain(|c| c.id == "EH-HUB-ACTIVE");
    results.summary = siemproof::results::Summary::from_checks(&results.checks);
    let run_id = results.run.id.clone();
    // The manifest hash covers the config template, which other work edits; redact it.
    let sha = results.run.evidence_manifest_sha256.clone();
    let fix = |s: String| {
        s.replace(&run_id, "[run-id]")
            .replace(&sha, "[manifest-sha256]")
    };
    use siemproof::report;
    insta::assert_snapshot!("junit", fix(report::junit::render(&results)));
    insta::assert_snapshot!("jsonl", fix(report::jsonl::render(&results).unwrap()));
    insta::assert_snapshot!("csv", fix(report::csv::render(&results)));
    let mut sarif: serde_json::Value =
        serde_json::from_str(&report::sarif::render(&results).unwrap()).unwrap();
    stable(&mut sarif, &run_id, &sha);
    insta::assert_json_snapshot!("sarif", sarif);
    for (name, bytes) in report::oscal::render(&results).unwrap() {
        let mut v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        stable(&mut v, &run_id, &sha);
        let snap = name
            .trim_start_matches("oscal/")
            .trim_end_matches(".json")
            .to_string();
        insta::assert_json_snapshot!(format!("oscal-{snap}"), v);
    }
}

#[test]
fn oscal_documents_validate_with_trestle() {
    if !require("trestle", Command::new("trestle").arg("--help")) {
        return;
    }
    let (t, out) = audited();
    let ws = t.path().join("trestle");
    std::fs::create_dir_all(&ws).unwrap();
    let o = run(Command::new("trestle").arg("init").current_dir(&ws));
    assert!(o.status.success(), "trestle init: {}", text(&o));
    for (src, dir, name) in [
        (
            "oscal/assessment-results.json",
            "assessment-results",
            "assessment-results.json",
        ),
        (
            "oscal/assessment-plan.json",
            "assessment-plans",
            "assessment-plan.json",
        ),
        (
            "oscal/poam.json",
            "plan-of-action-and-milestones",
            "plan-of-action-and-milestones.json",
        ),
    ] {
        let d = ws.join(dir).join("siemproof");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::copy(out.join(src), d.join(name)).unwrap();
        let rel = Path::new(dir).join("siemproof").join(name);
        let o = run(Command::new("trestle")
            .arg("validate")
            .arg("-f")
            .arg(&rel)
            .current_dir(&ws));
        assert!(o.status.success(), "trestle validate {src}: {}", text(&o));
    }
    // The validator is not a rubber stamp: a result without reviewed-controls is rejected.
    let d = ws.join("assessment-results/broken");
    std::fs::create_dir_all(&d).unwrap();
    let mut v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("oscal/assessment-results.json")).unwrap())
            .unwrap();
    v["assessment-results"]["results"][0]
        .as_object_mut()
        .unwrap()
        .remove("reviewed-controls");
    std::fs::write(
        d.join("assessment-results.json"),
        serde_json::to_vec(&v).unwrap(),
    )
    .unwrap();
    let o = run(Command::new("trestle")
        .args([
            "validate",
            "-f",
            "assessment-results/broken/assessment-results.json",
        ])
        .current_dir(&ws));
    assert!(!o.status.success(), "trestle accepted a broken document");
}

#[test]
fn sarif_validates_and_names_resources() {
    let (_t, out) = audited();
    let p = out.join("report.sarif");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    let run0 = &v["runs"][0];
    assert!(run0["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["id"] == "EH-HUB-ACTIVE"));
    let fail = run0["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ruleId"] == "EH-HUB-ACTIVE")
        .unwrap();
    assert_eq!(fail["kind"], "fail");
    assert_eq!(fail["level"], "error");
    check_jsonschema("sarif-2.1.0/sarif-schema-2.1.0.json", &[p]);
}

#[test]
fn junit_validates_against_the_jenkins_xsd() {
    let (_t, out) = audited();
    let p = out.join("report.junit.xml");
    let xml = std::fs::read_to_string(&p).unwrap();
    assert!(xml.contains("<testsuite name=\"eventhub\""));
    assert!(xml.contains("<failure type=\"critical\""));
    assert!(xml.contains("EH-HUB-ACTIVE.severity"));
    xmlschema_validates(&p);
}

#[test]
fn jsonl_and_csv_carry_one_finding_per_line() {
    let (_t, out) = audited();
    let jsonl = std::fs::read_to_string(out.join("findings.jsonl")).unwrap();
    let rows: Vec<serde_json::Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    assert!(!rows.is_empty());
    for r in &rows {
        for k in [
            "timestamp",
            "run_id",
            "tenant_id",
            "check_id",
            "severity",
            "status",
            "resource",
            "message",
        ] {
            assert!(r.get(k).is_some(), "{k} missing in {r}");
        }
        assert_eq!(r["tenant_id"], TENANT);
        assert_eq!(r["timestamp"], AS_OF);
    }
    let fail = rows
        .iter()
        .find(|r| r["check_id"] == "EH-HUB-ACTIVE")
        .unwrap();
    assert_eq!(fail["status"], "fail");
    assert!(!fail["resource"].as_str().unwrap().is_empty(), "{fail}");
    assert_eq!(fail["message"], "hub status is Disabled");
    let csv = std::fs::read_to_string(out.join("findings.csv")).unwrap();
    assert!(csv.starts_with("\"timestamp\",\"run_id\""));
    assert_eq!(csv.matches("\r\n").count(), rows.len() + 1);
}

#[test]
fn report_subcommand_rerenders_every_format_from_results_json() {
    let (t, out) = audited();
    let again = t.path().join("again");
    let o = run(bin()
        .arg("report")
        .arg(out.join("results.json"))
        .arg("--out")
        .arg(&again)
        .args(["--format", "junit,sarif,oscal,jsonl,csv,html,md"]));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    for f in [
        "report.junit.xml",
        "report.sarif",
        "oscal/assessment-results.json",
        "oscal/assessment-plan.json",
        "oscal/poam.json",
        "findings.jsonl",
        "findings.csv",
    ] {
        assert!(again.join(f).is_file(), "{f}");
    }
    assert_eq!(
        std::fs::read(out.join("findings.jsonl")).unwrap(),
        std::fs::read(again.join("findings.jsonl")).unwrap()
    );
    let o = run(bin()
        .arg("report")
        .arg(out.join("results.json"))
        .arg("--out")
        .arg(&again)
        .args(["--format", "pdf"]));
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("unknown format"));
}

/// Runs headless Chromium on a file with logging to stderr; returns (success, stderr, stdout).
fn chromium(profile: &Path, page: &Path, extra: &[&str]) -> (bool, String, String) {
    let mut c = Command::new("timeout");
    c.args(["120", "chromium"])
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--enable-logging=stderr",
            "--v=1",
            // Any DNS lookup fails loudly, so a request cannot leave the machine unnoticed.
            "--host-resolver-rules=MAP * ~NOTFOUND",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()));
    let o = c.output().expect("chromium runs");
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
    )
}

/// Chromium's own service requests (clock sync, component updates, account check), which
/// headless Chromium makes whatever the page; matched exactly so a page request never hides here.
const BROWSER_OWN: &[&str] = &[
    "http://clients2.google.com/time/1/current?",
    "http://update.googleapis.com/service/update2/json?",
    "https://update.googleapis.com/service/update2/json?",
    "https://accounts.google.com/ListAccounts?",
];

/// Console messages and network requests made for the page, from Chromium's verbose log
/// (`NetworkDelegate::NotifyBeforeURLRequest: <url>` is logged for every network request).
fn problems(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter(|l| {
            if l.contains(":CONSOLE") {
                return true;
            }
            match l.split_once("NotifyBeforeURLRequest: ") {
                Some((_, url)) => !BROWSER_OWN.iter().any(|p| url.starts_with(p)),
                None => false,
            }
        })
        .map(str::to_string)
        .collect()
}

/// The four pictures (status bar, content freshness, hourly metric sparklines, credential
/// expiry) render in the HTML of a tenant whose evidence has all four, and printed pages carry
/// the run id and "page x / y" in their margins (read back with poppler's pdftotext).
#[test]
fn pictures_render_and_printed_pages_carry_the_run_and_page_numbers() {
    if !require("chromium", Command::new("chromium").arg("--version"))
        || !require("pdftotext", Command::new("pdftotext").arg("-v"))
    {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("report");
    let bundle = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/tenants/contoso-demo");
    let o = run(bin()
        .arg("audit")
        .arg(&bundle)
        .arg("--out")
        .arg(&out)
        .args(["--format", "json,html"]));
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", text(&o));
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    for (figure, mark) in [
        ("status bar", "class=\"statusbar\""),
        ("freshness", "class=\"expiry freshness\""),
        ("sparklines", "class=\"expiry sparklines\""),
        ("credential expiry", "<h3>The SIEM apps' credentials</h3>"),
    ] {
        assert!(html.contains(mark), "no {figure} picture in the report");
    }
    assert!(
        html.contains("<polyline points=\""),
        "sparklines without a line"
    );
    // The metrics' gap (an hour without a figure) is said, not drawn as zero.
    assert!(
        html.contains("1 h without a figure"),
        "the gap is not reported"
    );
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("results.json")).unwrap()).unwrap();
    let run_id = results["run"]["id"].as_str().unwrap().to_string();
    let profile = t.path().join("profile");
    let page = out.join("report.html");
    let pdf = t.path().join("report.pdf");
    let (ok, err, _) = chromium(
        &profile,
        &page,
        &[
            &format!("--print-to-pdf={}", pdf.display()),
            "--no-pdf-header-footer",
        ],
    );
    assert!(ok, "print-to-pdf failed: {err}");
    let o = run(Command::new("pdftotext").arg("-layout").arg(&pdf).arg("-"));
    assert!(o.status.success(), "pdftotext: {}", text(&o));
    let printed = String::from_utf8_lossy(&o.stdout).into_owned();
    let pages: Vec<&str> = printed
        .split('\u{c}')
        .filter(|p| !p.trim().is_empty())
        .collect();
    assert!(pages.len() > 1, "one page only: {printed:.300}");
    let n = pages.len();
    for (i, p) in pages.iter().enumerate() {
        assert!(
            p.contains(&format!("siemproof run {run_id}")),
            "page {} has no running header with the run id",
            i + 1
        );
        assert!(
            p.contains(&format!("page {} / {n}", i + 1)),
            "page {} has no \"page {} / {n}\" footer",
            i + 1,
            i + 1
        );
    }
    // Readable on a phone: at 414 px the page still renders without errors.
    let png = t.path().join("narrow.png");
    let (ok, err, _) = chromium(
        &profile,
        &page,
        &[
            &format!("--screenshot={}", png.display()),
            "--window-size=414,2000",
        ],
    );
    assert!(ok, "screenshot failed: {err}");
    let p = problems(&err);
    assert!(p.is_empty(), "console errors or network requests: {p:#?}");
}

#[test]
fn html_report_renders_offline_in_headless_chromium() {
    if !require("chromium", Command::new("chromium").arg("--version")) {
        return;
    }
    let (t, out) = audited();
    let page = out.join("report.html");
    let html = std::fs::read_to_string(&page).unwrap();
    for needle in [
        "<script src",
        "<link rel=\"stylesheet\"",
        "@import",
        "url(http",
    ] {
        assert!(!html.contains(needle), "report.html loads {needle}");
    }
    let profile = t.path().join("profile");

    let (ok, err, dom) = chromium(&profile, &page, &["--dump-dom"]);
    assert!(ok, "chromium --dump-dom failed: {err}");
    assert!(dom.contains("<body"), "nothing rendered: {dom}");
    // Whatever the template shows of the results, the rendered DOM shows too.
    for needle in ["EH-HUB-ACTIVE", TENANT] {
        if html.contains(needle) {
            assert!(dom.contains(needle), "rendered DOM lacks {needle}");
        }
    }
    let p = problems(&err);
    assert!(p.is_empty(), "console errors or network requests: {p:#?}");

    let pdf = t.path().join("report.pdf");
    let (ok, err, _) = chromium(
        &profile,
        &page,
        &[
            &format!("--print-to-pdf={}", pdf.display()),
            "--no-pdf-header-footer",
        ],
    );
    assert!(ok, "print-to-pdf failed: {err}");
    let bytes = std::fs::read(&pdf).expect("PDF written");
    assert!(
        bytes.starts_with(b"%PDF-") && bytes.len() > 1000,
        "PDF empty"
    );
    let p = problems(&err);
    assert!(p.is_empty(), "console errors or network requests: {p:#?}");

    let png = t.path().join("report.png");
    let (ok, err, _) = chromium(
        &profile,
        &page,
        &[
            &format!("--screenshot={}", png.display()),
            "--window-size=1280,2000",
        ],
    );
    assert!(ok, "screenshot failed: {err}");
    let bytes = std::fs::read(&png).expect("PNG written");
    assert!(
        bytes.starts_with(b"\x89PNG") && bytes.len() > 1000,
        "screenshot empty"
    );

    // The detector is not blind: a page that fetches and logs an error is caught.
    let bad = t.path().join("bad.html");
    std::fs::write(
        &bad,
        "<!doctype html><html><body><img src=\"http://siemproof-test.invalid/x.png\"><script>console.error('boom')</script></body></html>",
    )
    .unwrap();
    let (_ok, err, _) = chromium(&profile, &bad, &["--dump-dom"]);
    let p = problems(&err);
    assert!(
        p.iter().any(|l| l.contains("CONSOLE")),
        "console error not detected: {err}"
    );
    assert!(
        p.iter().any(|l| l.contains("siemproof-test.invalid")),
        "network request not detected: {err}"
    );
}

/// The vendored schemas are the upstream files SOURCES.md names, byte for byte.
#[test]
fn vendored_schemas_match_their_sources() {
    use sha2::{Digest, Sha256};
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemas");
    let sources = std::fs::read_to_string(dir.join("SOURCES.md")).unwrap();
    let mut seen = 0;
    for line in sources.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let file = cells[1].trim_matches('`');
        let want = cells[4].trim_matches('`');
        let bytes = std::fs::read(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(hex::encode(Sha256::digest(&bytes)), want, "{file}");
        seen += 1;
    }
    assert_eq!(seen, 4, "SOURCES.md lists the four vendored schemas");
}

/// The consumer figures travel in every machine format: fabrikam-misconfigured's partition
/// observations (checkpoint, lag, loss) validate against the OSCAL schema, and findings.jsonl
/// carries one `siemproof.consumer_partition` line with the lag and the loss.
#[test]
fn consumer_lag_figures_validate_in_oscal_and_reach_jsonl() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let bundle =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/tenants/fabrikam-misconfigured");
    let o = run(bin()
        .arg("audit")
        .arg(&bundle)
        .arg("--out")
        .arg(&out)
        .args(["--format", "json,oscal,jsonl", "--fail-on", "never"])
        .args(["--fail-on-unassessed", "none"]));
    assert!(o.status.success(), "{}", text(&o));
    let ar = out.join("oscal/assessment-results.json");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&ar).unwrap()).unwrap();
    let obs = v["assessment-results"]["results"][0]["observations"]
        .as_array()
        .unwrap();
    let partition = obs
        .iter()
        .find(|o| {
            o["props"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["name"] == "lost-events" && p["value"] == "200325")
        })
        .expect("an observation of partition 0 with its lost events");
    assert!(partition["props"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["name"] == "lag-events" && p["value"] == "1308407"));
    check_jsonschema("oscal-1.2.3/oscal_complete_schema.json", &[ar]);
    let jsonl = std::fs::read_to_string(out.join("findings.jsonl")).unwrap();
    let line: serde_json::Value = jsonl
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|l| l["event"] == "siemproof.consumer_partition")
        .expect("a partition line");
    assert_eq!(line["partition"], "0");
    assert_eq!(line["lag_events"], 1308407);
    assert_eq!(line["lost_events"], 200325);
    assert_eq!(line["lag_from_sequence_number"], 18311904);
}

/// JUnit as junitparser (the Python library CI tools use) reads it: a warning at or above
/// `--fail-on` is a failure, never a pass; below it, it passes. Checked on the demo tenant,
/// whose secret expires in 15 days (a critical warning) beside low and info warnings.
#[test]
fn junit_warnings_at_the_threshold_fail_in_junitparser() {
    if !require(
        "python3 junitparser",
        Command::new("python3").args(["-c", "import junitparser"]),
    ) {
        return;
    }
    let bundle = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/tenants/contoso-demo");
    for (fail_on, sev_ok) in [
        ("low", ["low", "medium", "high", "critical"].as_slice()),
        ("high", ["high", "critical"].as_slice()),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let o = run(bin()
            .arg("audit")
            .arg(&bundle)
            .arg("--out")
            .arg(&out)
            .args(["--format", "json,junit", "--fail-on", fail_on]));
        assert!(o.status.code().is_some(), "{}", text(&o));
        let r: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("results.json")).unwrap()).unwrap();
        let want: Vec<String> = r["checks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| {
                c["status"] == "fail"
                    || (c["status"] == "warn" && sev_ok.contains(&c["severity"].as_str().unwrap()))
            })
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect();
        assert!(
            want.iter().any(|i| i == "APP-CRED-EXPIRY"),
            "the critical warning counts"
        );
        let o = run(Command::new("python3")
            .args([
                "-c",
                "import sys\nfrom junitparser import JUnitXml, Failure\nx = JUnitXml.fromfile(sys.argv[1])\nfor s in x:\n  for c in s:\n    if any(isinstance(r, Failure) for r in c.result):\n      print(c.name.split(' ')[0])",
            ])
            .arg(out.join("report.junit.xml")));
        assert!(o.status.success(), "junitparser: {}", text(&o));
        let mut got: Vec<String> = String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(str::to_string)
            .collect();
        let mut want = want;
        got.sort();
        want.sort();
        assert_eq!(got, want, "--fail-on {fail_on}");
    }
}

/// SARIF as GitHub code scanning ingests it: the SARIF Multitool's GitHub rules (`--rule-kind Gh`)
/// find nothing on the demo and fabrikam tenants, every result has a physical location, and
/// only failing or warning findings at or above `--fail-on` are results.
#[test]
fn sarif_passes_githubs_ingestion_rules() {
    if !require(
        "sarif-multitool",
        Command::new("sarif-multitool").arg("--version"),
    ) {
        return;
    }
    for (tenant, fail_on) in [("contoso-demo", "low"), ("fabrikam-misconfigured", "high")] {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let bundle = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/tenants")
            .join(tenant);
        run(bin()
            .arg("audit")
            .arg(&bundle)
            .arg("--out")
            .arg(&out)
            .args(["--format", "json,sarif", "--fail-on", fail_on]));
        let sarif = out.join("report.sarif");
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&sarif).unwrap()).unwrap();
        let sev_ok = |s: &str| {
            let order = ["info", "low", "medium", "high", "critical"];
            order.iter().position(|x| *x == s) >= order.iter().position(|x| *x == fail_on)
        };
        let results = v["runs"][0]["results"].as_array().unwrap();
        assert!(!results.is_empty(), "{tenant}");
        let rules = v["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap();
        for r in results {
            let rule = &rules[r["ruleIndex"].as_u64().unwrap() as usize];
            assert!(
                sev_ok(rule["properties"]["severity"].as_str().unwrap()),
                "{r}"
            );
            assert!(
                r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                    .as_str()
                    .is_some_and(|u| u.starts_with("evidence/")),
                "{r}"
            );
        }
        let log = tmp.path().join("gh.sarif");
        let o = run(Command::new("sarif-multitool")
            .args(["validate", "--rule-kind", "Gh", "-o"])
            .arg(&log)
            .arg(&sarif));
        assert!(o.status.success(), "{tenant}: {}", text(&o));
        let l: serde_json::Value = serde_json::from_slice(&std::fs::read(&log).unwrap()).unwrap();
        let problems: Vec<&serde_json::Value> = l["runs"][0]["results"]
            .as_array()
            .map(|a| a.iter().collect())
            .unwrap_or_default();
        assert!(problems.is_empty(), "{tenant}: GitHub rules: {problems:?}");
        check_jsonschema("sarif-2.1.0/sarif-schema-2.1.0.json", &[sarif]);
    }
}

/// The Heimdall Data Format as its consumers read it: MITRE's exec-json schema accepts it, and the
/// SAF CLI's summary gives the compliance score siemproof's own counts imply (passed over passed,
/// failed and not reviewed; a warning at or above --fail-on fails, as in JUnit).
#[test]
fn hdf_validates_and_the_saf_cli_scores_it_right() {
    let bundle = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/tenants/contoso-demo");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    run(bin()
        .arg("audit")
        .arg(&bundle)
        .arg("--out")
        .arg(&out)
        .args(["--format", "json,hdf"]));
    let hdf = out.join("report.hdf.json");
    check_jsonschema("hdf/exec-json.json", std::slice::from_ref(&hdf));
    // The SAF CLI writes `saf-cli.log` into its working directory: the temporary one, not the
    // checkout.
    if !require(
        "saf",
        Command::new("saf").arg("--version").current_dir(tmp.path()),
    ) {
        return;
    }
    let r: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("results.json")).unwrap()).unwrap();
    let checks = r["checks"].as_array().unwrap();
    let count = |f: &dyn Fn(&serde_json::Value) -> bool| checks.iter().filter(|c| f(c)).count();
    let warn_fails = |c: &serde_json::Value| c["status"] == "warn" && c["severity"] != "info";
    let passed = count(&|c| c["status"] == "pass" || (c["status"] == "warn" && !warn_fails(c)));
    let failed = count(&|c| c["status"] == "fail" || c["status"] == "waived" || warn_fails(c));
    let skipped = count(&|c| c["status"] == "not_assessed" || c["status"] == "manual");
    let o = run(Command::new("saf")
        .current_dir(tmp.path())
        .args(["view", "summary", "-f", "json", "-s", "-i"])
        .arg(&hdf));
    assert!(o.status.success(), "saf: {}", text(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    let start = stdout.find('[').expect("a JSON summary");
    let v: serde_json::Value = serde_json::from_str(&stdout[start..]).unwrap();
    let s = &v[0];
    assert_eq!(s["passed"]["total"], passed);
    assert_eq!(s["failed"]["total"], failed);
    assert_eq!(s["skipped"]["total"], skipped);
    assert_eq!(
        s["no_impact"]["total"],
        count(&|c| c["status"] == "not_applicable")
    );
    let score = (100.0 * passed as f64 / (passed + failed + skipped) as f64).round();
    assert_eq!(s["compliance"].as_f64().unwrap(), score, "{s}");
}
