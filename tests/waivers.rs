//! Waivers and attestations end to end: a waiver in force turns failing findings into `waived`
//! (counted apart), an expired one stops applying and is reported, an unused one is reported;
//! attestations pass manual checks only while in force; every report format says who and when.

mod common;

use std::path::Path;

use common::*;
use serde_json::Value;

fn audit_with(config: &Path, bundle: &Path, out: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["--config", config.to_str().unwrap()];
    args.extend_from_slice(extra);
    let o = audit_into(
        bundle,
        AS_OF,
        out,
        "json,html,md,junit,sarif,oscal,jsonl,csv",
        &args,
    );
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    results_in(out)
}

fn check<'a>(r: &'a Value, id: &str) -> &'a Value {
    r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no {id}"))
}

#[test]
fn waivers_apply_expire_and_report_unused_in_every_format() {
    let t = tempfile::tempdir().unwrap();
    let bundle = tenant_dir("fabrikam-misconfigured");
    let base = std::fs::read_to_string(bundle.join("siemproof.toml")).unwrap();
    let cfg = t.path().join("siemproof.toml");
    std::fs::write(
        &cfg,
        format!(
            "{base}\n[[waivers]]\ncheck = \"ST-HTTPS-ONLY\"\nreason = \"Legacy checkpoint reader until CHG-7\"\napprover = \"ciso@fabrikam.example\"\nexpires = 2026-12-31\nticket = \"CHG-7\"\n\n\
[[waivers]]\ncheck = \"ST-TLS12\"\nreason = \"Expired exception\"\napprover = \"ciso@fabrikam.example\"\nexpires = 2026-01-31\n\n\
[[waivers]]\ncheck = \"EH-HUB-ACTIVE\"\nresource = \"no-such-hub\"\nreason = \"Typo\"\napprover = \"ciso@fabrikam.example\"\nexpires = \"2027-06-30\"\n"
        ),
    )
    .unwrap();
    let out = t.path().join("out");
    let r = audit_with(&cfg, &bundle, &out, &[]);
    let https = check(&r, "ST-HTTPS-ONLY");
    assert_eq!(https["status"], "waived");
    let f = &https["findings"][0];
    assert_eq!(f["status"], "waived");
    assert_eq!(f["waiver"]["approver"], "ciso@fabrikam.example");
    assert_eq!(f["waiver"]["original_status"], "fail");
    assert_eq!(
        check(&r, "ST-TLS12")["status"],
        "fail",
        "an expired waiver stops applying"
    );
    assert!(r["summary"]["waived"].as_u64().unwrap() >= 1);
    let w = &r["waivers"];
    assert_eq!(w["applied"][0]["check"], "ST-HTTPS-ONLY");
    assert_eq!(w["expired"][0]["check"], "ST-TLS12");
    assert_eq!(w["unused"][0]["check"], "EH-HUB-ACTIVE");

    // Who and when, in every format.
    for file in [
        "report.html",
        "report.md",
        "report.junit.xml",
        "report.sarif",
        "findings.jsonl",
        "findings.csv",
        "oscal/assessment-results.json",
    ] {
        let text =
            std::fs::read_to_string(out.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(
            text.contains("ciso@fabrikam.example"),
            "{file} does not name the approver"
        );
        assert!(
            text.contains("2026-12-31"),
            "{file} does not give the expiry"
        );
    }
}

#[test]
fn attestations_pass_manual_checks_only_while_in_force() {
    let t = tempfile::tempdir().unwrap();
    let bundle = tenant_dir("contoso-demo");
    let cfg = t.path().join("siemproof.toml");
    std::fs::copy(bundle.join("siemproof.toml"), &cfg).unwrap();
    let dir = t.path().join("attestations");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("DEF-MDCA-EXPORT.toml"),
        "check = \"DEF-MDCA-EXPORT\"\nstatement = \"MDCA SIEM export sends alerts to psiem-namespace\"\nattested_by = \"Jane Roe <jane@contoso.example>\"\ndate = 2026-11-01\nexpires = 2027-05-01\n\n[reference]\nticket = \"SEC-42\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("DEF-MDI-SENSORS.toml"),
        "check = \"DEF-MDI-SENSORS\"\nstatement = \"Sensors on all DCs\"\nattested_by = \"John Doe\"\ndate = 2025-01-01\nexpires = 2025-06-30\n",
    )
    .unwrap();
    let out = t.path().join("out");
    let r = audit_with(
        &cfg,
        &bundle,
        &out,
        &["--attestations", dir.to_str().unwrap()],
    );
    let mdca = check(&r, "DEF-MDCA-EXPORT");
    assert_eq!(mdca["status"], "pass");
    assert!(mdca["reason"].as_str().unwrap().contains("Jane Roe"));
    let mdi = check(&r, "DEF-MDI-SENSORS");
    assert_eq!(
        mdi["status"], "manual",
        "an expired attestation does not pass"
    );
    assert!(mdi["reason"].as_str().unwrap().contains("not in force"));
    for file in [
        "report.html",
        "report.md",
        "report.junit.xml",
        "findings.jsonl",
        "findings.csv",
        "oscal/assessment-results.json",
    ] {
        let text = std::fs::read_to_string(out.join(file)).unwrap();
        assert!(
            text.contains("Jane Roe"),
            "{file} does not name the attester"
        );
        assert!(
            text.contains("2026-11-01"),
            "{file} does not give the attestation date"
        );
    }
}
