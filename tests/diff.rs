//! `siemproof diff`: drift between two audits, for scheduled compliance runs.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

fn audit_at(dir: &Path, tenant: &str, as_of: &str, name: &str) -> PathBuf {
    let out = dir.join(name);
    let o = audit_into(
        &tenant_dir(tenant),
        as_of,
        &out,
        "json",
        // Neither failing findings nor unassessed blocking checks set the exit code here.
        &["--fail-on", "never", "--fail-on-unassessed", "none"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    out
}

fn diff_json(old: &Path, new: &Path) -> (Value, i32) {
    let o = run(&[
        "diff",
        old.to_str().unwrap(),
        new.join("results.json").to_str().unwrap(),
        "--format",
        "json",
    ]);
    let v = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&o)));
    (v, o.status.code().unwrap())
}

#[test]
fn the_same_tenant_a_year_later_regresses_on_credential_expiry() {
    let t = tempfile::tempdir().unwrap();
    let now = audit_at(t.path(), "contoso-demo", AS_OF, "now");
    let later = audit_at(t.path(), "contoso-demo", "2027-11-20T12:00:00Z", "later");
    let (d, code) = diff_json(&now, &later);
    assert_eq!(code, 1, "regressions exit 1");
    assert_eq!(d["format"], "siemproof-diff/1");
    assert_eq!(d["same_tenant"], true);
    let reg: Vec<&Value> = d["regressions"].as_array().unwrap().iter().collect();
    let cred = reg
        .iter()
        .find(|r| r["id"] == "APP-CRED-EXPIRY")
        .expect("APP-CRED-EXPIRY regressed");
    assert_eq!(cred["from"], "warn");
    assert_eq!(cred["to"], "fail");
    assert_eq!(
        d["pipeline_drift"], true,
        "the SIEM app is part of the pipeline"
    );

    let (same, code) = diff_json(&now, &now);
    assert_eq!(code, 0);
    assert!(same["regressions"].as_array().unwrap().is_empty());
    assert!(same["new_findings"].as_array().unwrap().is_empty());
}

#[test]
fn fixing_the_misconfigured_tenant_shows_improvements_and_the_text_report_flags_drift() {
    let t = tempfile::tempdir().unwrap();
    let bad = audit_at(t.path(), "fabrikam-misconfigured", AS_OF, "bad");
    let good = audit_at(t.path(), "contoso-compliant", AS_OF, "good");
    let (d, code) = diff_json(&bad, &good);
    assert_eq!(code, 0, "only improvements: {d}");
    assert_eq!(d["same_tenant"], false);
    let imp: Vec<&str> = d["improvements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert!(
        imp.contains(&"EH-NO-ROOT-KEY") && imp.contains(&"ST-HTTPS-ONLY"),
        "{imp:?}"
    );
    assert!(!d["resolved_findings"].as_array().unwrap().is_empty());

    let o = run(&["diff", good.to_str().unwrap(), bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let text = stdout(&o);
    assert!(text.contains("warning: different tenants"), "{text}");
    assert!(
        text.contains("EH-NO-ROOT-KEY") && text.contains("pass -> fail"),
        "{text}"
    );
    assert!(text.contains("T1562.008"), "{text}");
    assert!(text.contains("coverage:"), "{text}");
}

#[test]
fn bad_input_exits_2_naming_the_file() {
    let t = tempfile::tempdir().unwrap();
    let f = t.path().join("results.json");
    std::fs::write(&f, b"{\"format\": \"siemproof-results/1\", \"run\": 3}").unwrap();
    let o = run(&["diff", f.to_str().unwrap(), f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("results.json") && stderr(&o).contains("run"),
        "{}",
        stderr(&o)
    );
}
