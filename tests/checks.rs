//! The check catalogue's own tests: every check's fixtures give their declared status (with an
//! insta snapshot of the findings per check, named after the check id), every check has the
//! fixtures its outcomes need, the catalogue lints (families, guide steps, control ids,
//! references), a broken check file is a clear load error, manual checks turn into `pass` only
//! with an attestation in force, and docs/checks.md is current.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde_json::{json, Value};
use siemproof::attest::Attestation;
use siemproof::audit;
use siemproof::catalog::{Catalog, LoadedCheck, OnFail, FAMILIES};
use siemproof::engine::Scope;
use siemproof::results::Status;
use siemproof::selftest;

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/checks")
}

fn catalog() -> Catalog {
    Catalog::load(&[]).expect("the embedded catalogue loads")
}

fn prefix(file: &Path) -> String {
    let name = file.file_name().unwrap().to_str().unwrap();
    name.split('-').next().unwrap().to_string()
}

#[test]
fn every_fixture_gives_its_status_and_findings_match_the_snapshot() {
    let cat = catalog();
    let mut wrong = Vec::new();
    for lc in &cat.checks {
        let id = &lc.check.id;
        let mut cases = Vec::new();
        for f in selftest::fixtures_of(&fixtures_dir(), id) {
            let r = selftest::run_case(lc, &f).unwrap_or_else(|e| panic!("{e:#}"));
            if !r.ok() {
                wrong.push(format!(
                    "{id} {}: expected {}, got {} ({})",
                    r.fixture,
                    r.expected.as_str(),
                    r.actual.as_str(),
                    r.reason.as_deref().unwrap_or("-")
                ));
            }
            cases.push(json!({
                "fixture": r.fixture,
                "status": r.actual,
                "reason": r.reason,
                "findings": r.findings,
            }));
        }
        insta::with_settings!({
            snapshot_path => "snapshots/checks",
            prepend_module_to_snapshot => false,
            omit_expression => true,
            description => lc.check.title.clone(),
        }, {
            insta::assert_json_snapshot!(id.as_str(), cases);
        });
    }
    assert!(
        wrong.is_empty(),
        "fixtures with the wrong status:\n{}",
        wrong.join("\n")
    );
}

/// The statuses a check can produce, so its fixtures must cover them.
fn required_prefixes(lc: &LoadedCheck) -> Vec<&'static str> {
    let c = &lc.check;
    let mut need = Vec::new();
    if c.manual {
        // A manual check never reports fail or not_assessed: without a valid attestation every
        // such outcome becomes `manual` (with the reason). Corroboration can make it pass.
        need.push("manual");
        if c.assert.is_some() {
            need.push("pass");
        }
    } else {
        need.push("pass");
        need.push(if c.on_fail == OnFail::Warn {
            "warn"
        } else {
            "fail"
        });
        if c.warn.is_some() {
            need.push("warn");
        }
        need.push("not_assessed");
    }
    if c.applies.is_some() {
        need.push("not_applicable");
    }
    need
}

#[test]
fn every_check_has_the_fixtures_its_outcomes_need() {
    let cat = catalog();
    let mut missing = Vec::new();
    for lc in &cat.checks {
        let have: BTreeSet<String> = selftest::fixtures_of(&fixtures_dir(), &lc.check.id)
            .iter()
            .map(|f| prefix(f))
            .collect();
        for p in required_prefixes(lc) {
            if !have.contains(p) {
                missing.push(format!("{}: no {p}-*.json fixture", lc.check.id));
            }
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

#[test]
fn every_fixture_folder_names_a_check_and_every_file_a_status() {
    let cat = catalog();
    for e in std::fs::read_dir(fixtures_dir()).unwrap() {
        let p = e.unwrap().path();
        let id = p.file_name().unwrap().to_str().unwrap().to_string();
        if id == "README.md" {
            continue;
        }
        assert!(p.is_dir(), "{}: only folders belong here", p.display());
        let lc = cat
            .checks
            .iter()
            .find(|c| c.check.id == id)
            .unwrap_or_else(|| panic!("{}: fixture folder for unknown check {id}", p.display()));
        for f in std::fs::read_dir(&p).unwrap() {
            let f = f.unwrap().path();
            let name = f.file_name().unwrap().to_str().unwrap();
            assert!(
                name.ends_with(".json") && selftest::expected_status(name).is_some(),
                "{}: fixture names are <status>-<case>.json",
                f.display()
            );
        }
        assert!(!selftest::fixtures_of(&fixtures_dir(), &lc.check.id).is_empty());
    }
    // The same rule through the runner behind `siemproof test`.
    selftest::run_all(&cat, &fixtures_dir(), None).expect("no unknown fixture folders");
}

#[test]
fn catalogue_lints() {
    let cat = catalog();
    assert!(cat.checks.len() >= 45, "only {} checks", cat.checks.len());
    for fam in FAMILIES.iter().filter(|f| **f != "siem") {
        assert!(
            cat.checks.iter().any(|c| c.check.family == *fam),
            "family {fam} has no check"
        );
    }
    let used: BTreeSet<&str> = cat
        .checks
        .iter()
        .flat_map(|c| c.check.guide_steps.iter().map(String::as_str))
        .collect();
    for s in &cat.steps {
        assert!(
            used.contains(s.id.as_str()),
            "guide step {} ({}) is verified by no check",
            s.id,
            s.title
        );
    }
    let nist = |id: &str| {
        let (fam, rest) = id.split_once('-').unwrap_or(("", ""));
        let num: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let enh = &rest[num.len()..];
        fam.len() == 2
            && fam.chars().all(|c| c.is_ascii_lowercase())
            && !num.is_empty()
            && (enh.is_empty()
                || (enh.starts_with('(')
                    && enh.ends_with(')')
                    && enh[1..enh.len() - 1].chars().all(|c| c.is_ascii_digit())))
    };
    let mut titles = BTreeMap::new();
    for lc in &cat.checks {
        let c = &lc.check;
        assert_eq!(c.since, "0.1.0", "{}", c.id);
        assert!(
            c.id.starts_with(match c.family.as_str() {
                "tenant" => "TEN-",
                "entra" => "ENTRA-",
                "eventhub" => "EH-",
                "storage" => "ST-",
                "defender" => "DEF-",
                "app" => "APP-",
                "o365" => "O365-",
                "graph" => "GRAPH-",
                "network" => "NET-",
                "coverage" => "COV-",
                "consumer" => "CONSUMER-",
                _ => "SIEM-",
            }),
            "{}: id not prefixed by its family",
            c.id
        );
        assert!(
            !c.frameworks.nist_800_53_r5.is_empty(),
            "{}: no NIST control",
            c.id
        );
        for n in &c.frameworks.nist_800_53_r5 {
            assert!(nist(n), "{}: NIST id {n:?} is not like \"au-6(3)\"", c.id);
        }
        for r in &c.references {
            assert!(
                r.starts_with("https://learn.microsoft.com/")
                    || r.starts_with("https://www.ibm.com/docs/")
                    || r.starts_with("https://github.com/Azure/")
                    || r.starts_with("https://splunk.github.io/")
                    || r.starts_with("https://help.splunk.com/")
                    || r.starts_with("https://www.elastic.co/docs/"),
                "{}: reference {r} is not a Microsoft, IBM, Splunk or Elastic documentation page",
                c.id
            );
        }
        assert!(!c.guide_steps.is_empty(), "{}: names no guide step", c.id);
        assert!(
            c.doc.fix.contains('›') || c.doc.fix.contains('`'),
            "{}: fix has no portal path or command",
            c.id
        );
        if !c.manual {
            assert!(
                c.doc.not_assessed.is_some(),
                "{}: no doc.not_assessed",
                c.id
            );
            assert!(
                c.message.is_some(),
                "{}: no failing sentence (`message`)",
                c.id
            );
        }
        assert!(
            c.observed.is_some() || c.assert.is_none(),
            "{}: no `observed`",
            c.id
        );
        if let Some(other) = titles.insert(c.title.clone(), c.id.clone()) {
            panic!("{} and {other} share a title", c.id);
        }
    }
    // The ids the model's Defender code refers to for attestations.
    for id in ["DEF-STREAMING-API", "DEF-MDCA-EXPORT"] {
        assert!(cat.find(id).is_some_and(|c| c.check.manual), "{id}");
    }
}

#[test]
fn aadiam_403_is_not_assessed_naming_the_role_never_fail() {
    let cat = catalog();
    let mut seen = 0;
    for lc in cat.checks.iter().filter(|c| {
        c.check
            .evidence
            .iter()
            .any(|e| e == "arm.aadiam.diagnostic_settings")
    }) {
        let f = fixtures_dir()
            .join(&lc.check.id)
            .join("not_assessed-aadiam-403.json");
        if !f.exists() {
            continue;
        }
        seen += 1;
        let r = selftest::run_case(lc, &f).unwrap();
        assert_eq!(r.actual, Status::NotAssessed, "{}", lc.check.id);
        let reason = r.reason.unwrap();
        assert!(
            reason.contains("/providers/Microsoft.aadiam"),
            "{}: {reason}",
            lc.check.id
        );
        let doc = lc.check.doc.not_assessed.as_deref().unwrap_or_default();
        assert!(
            doc.contains("/providers/Microsoft.aadiam"),
            "{}: doc.not_assessed",
            lc.check.id
        );
    }
    assert!(seen >= 15, "only {seen} checks have an aadiam 403 fixture");
}

#[test]
fn network_checks_without_probe_evidence_say_how_to_get_it() {
    let cat = catalog();
    for lc in cat.checks.iter().filter(|c| c.check.family == "network") {
        let f = fixtures_dir()
            .join(&lc.check.id)
            .join("not_assessed-no-probe.json");
        let r = selftest::run_case(lc, &f).unwrap();
        assert_eq!(r.actual, Status::NotAssessed);
        assert!(
            r.reason
                .as_deref()
                .unwrap()
                .contains("run `siemproof probe` on the SIEM collector host"),
            "{}: {:?}",
            lc.check.id,
            r.reason
        );
    }
}

#[test]
fn manual_checks_pass_only_with_an_attestation_in_force() {
    let cat = catalog();
    let today = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
    let mut n = 0;
    for lc in cat.checks.iter().filter(|c| c.check.manual) {
        for f in selftest::fixtures_of(&fixtures_dir(), &lc.check.id) {
            if prefix(&f) != "manual" {
                continue;
            }
            n += 1;
            let model = selftest::load_fixture(&f).unwrap();
            let scope = Scope::new(&model);
            let att = |date: &str, expires: &str| {
                let text = format!(
                    "check = \"{}\"\nstatement = \"seen in the portal\"\nattested_by = \"soc@contoso.example\"\ndate = \"{date}\"\nexpires = \"{expires}\"\n",
                    lc.check.id.to_ascii_lowercase()
                );
                Attestation::parse(&text, "attestations/x.toml", today).unwrap()
            };
            let valid = att("2026-11-01", "2027-05-01");
            let r = audit::assess_one(lc, &scope, &model, &[valid], &BTreeMap::new());
            assert_eq!(r.status, Status::Pass, "{} {}", lc.check.id, f.display());
            assert!(r
                .reason
                .as_deref()
                .unwrap()
                .contains("attested by soc@contoso.example"));
            assert!(r.attestation.is_some());

            let expired = att("2025-01-01", "2026-01-01");
            let r = audit::assess_one(lc, &scope, &model, &[expired], &BTreeMap::new());
            assert_eq!(r.status, Status::Manual, "{} {}", lc.check.id, f.display());
            assert!(
                r.reason.as_deref().unwrap().contains("not in force"),
                "{:?}",
                r.reason
            );
        }
    }
    assert!(n >= 6, "{n}");
}

#[test]
fn a_broken_check_file_names_the_file_and_the_expression_position() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("eventhub");
    std::fs::create_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("checks/eventhub/EH-HUB-PARTITIONS.toml"),
    )
    .unwrap()
    .replace("EH-HUB-PARTITIONS", "EH-MY-BROKEN")
    .replace(
        "assert = \"eventhub.hub.partition_count >= config.eventhub.min_partitions\"",
        "assert = \"eventhub.hub.partition_count >= >= 2\"",
    );
    assert!(text.contains(">= >= 2"));
    std::fs::write(dir.join("EH-MY-BROKEN.toml"), &text).unwrap();
    let e = Catalog::load(&[t.path().to_path_buf()])
        .err()
        .expect("load fails")
        .to_string();
    assert!(e.contains("EH-MY-BROKEN.toml"), "{e}");
    assert!(e.contains("assert:1:"), "{e}");

    // The same through the command line: exit 2, message on stderr.
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_siemproof"))
        .args(["checks", "--checks", t.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("EH-MY-BROKEN.toml") && err.contains("assert:1:"),
        "{err}"
    );

    // A bad key is named too.
    std::fs::write(
        dir.join("EH-MY-BROKEN.toml"),
        text.replace(">= >= 2", ">= 2")
            .replace("severity = ", "severty = "),
    )
    .unwrap();
    let e = Catalog::load(&[t.path().to_path_buf()])
        .err()
        .expect("load fails")
        .to_string();
    assert!(
        e.contains("EH-MY-BROKEN.toml") && e.contains("severty"),
        "{e}"
    );
}

#[test]
fn docs_checks_md_is_current() {
    let cat = catalog();
    let want = siemproof::cli::checks_markdown(&cat);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/checks.md");
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "docs/checks.md is stale: regenerate it with `cargo run -- checks --format md > docs/checks.md`"
    );
}

#[test]
fn fixture_reasons_and_messages_never_leak_internal_placeholders() {
    // A message expression that fails falls back to "not met: <title>"; every failing or warning
    // fixture must get its own sentence instead.
    let cat = catalog();
    let mut bad = Vec::new();
    for lc in &cat.checks {
        for f in selftest::fixtures_of(&fixtures_dir(), &lc.check.id) {
            let r = selftest::run_case(lc, &f).unwrap();
            for finding in &r.findings {
                if matches!(finding.status, Status::Fail | Status::Warn)
                    && (finding.message.starts_with("not met:")
                        || finding.message == lc.check.title)
                {
                    bad.push(format!(
                        "{} {}: {}",
                        lc.check.id, r.fixture, finding.message
                    ));
                }
            }
            for finding in r
                .findings
                .iter()
                .filter(|f| matches!(f.status, Status::Fail | Status::Warn))
            {
                let v: Value = serde_json::to_value(finding).unwrap();
                assert!(
                    !v.to_string().contains("null_type"),
                    "{} {}",
                    lc.check.id,
                    r.fixture
                );
            }
        }
    }
    assert!(
        bad.is_empty(),
        "findings without a message:\n{}",
        bad.join("\n")
    );
}
