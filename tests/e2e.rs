//! End-to-end CLI runs on the four fixture tenants: exit codes, the results snapshot per tenant
//! (reviewed with `cargo insta review`), and the properties each tenant exists to show.

mod common;

use std::path::Path;

use common::*;
use serde_json::{json, Value};

const TENANTS: &[(&str, i32)] = &[
    ("contoso-demo", 1),
    ("contoso-compliant", 0),
    ("fabrikam-misconfigured", 1),
    // Its restricted collector could not read what 35 blocking checks need: a go-live gate
    // cannot be green on that (--fail-on-unassessed blocking, the default).
    ("woodgrove-restricted", 1),
];

fn audit_tenant(name: &str) -> (Value, i32, String) {
    let t = tempfile::tempdir().unwrap();
    let bundle = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/tenants")
        .join(name);
    let out = t.path().join("out");
    let o = run(&[
        "audit",
        bundle.to_str().unwrap(),
        "--as-of",
        AS_OF,
        "--out",
        out.to_str().unwrap(),
        "--format",
        "table,json,html,md",
    ]);
    let code = o.status.code().unwrap_or(-1);
    let r: Value = serde_json::from_slice(&std::fs::read(out.join("results.json")).unwrap())
        .unwrap_or_else(|e| panic!("{name}: results.json: {e}; stderr: {}", stderr(&o)));
    (r, code, stdout(&o))
}

/// The part of results.json worth pinning: per check its status and findings, plus coverage.
fn digest(r: &Value) -> Value {
    let checks: Vec<Value> = r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            json!({
                "id": c["id"],
                "status": c["status"],
                "reason": c["reason"],
                "findings": c["findings"].as_array().unwrap().iter().map(|f| json!({
                    "name": f["name"], "status": f["status"], "message": f["message"], "observed": f["observed"],
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let coverage: Vec<Value> = r["coverage"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| json!({"id": c["id"], "state": c["state"], "configured": c["configured"], "flowing": c["flowing"], "licensed": c["licensed"], "double_collection": c["double_collection"]}))
        .collect();
    json!({"summary": r["summary"], "coverage": coverage, "waivers": r["waivers"], "checks": checks})
}

#[test]
fn tenants_audit_with_expected_exit_codes_and_snapshots() {
    for (name, expected) in TENANTS {
        let (r, code, table) = audit_tenant(name);
        assert_eq!(code, *expected, "{name}: exit code\n{table}");
        assert_eq!(r["format"], "siemproof-results/1");
        assert!(
            table.contains("checks:"),
            "{name}: terminal summary printed"
        );
        insta::assert_json_snapshot!(*name, digest(&r));
    }
}

fn statuses(r: &Value) -> Vec<(String, String)> {
    r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn compliant_tenant_has_no_failure_and_fabrikam_fails_in_every_family() {
    let (r, _, _) = audit_tenant("contoso-compliant");
    let fails: Vec<_> = statuses(&r)
        .into_iter()
        .filter(|(_, s)| s == "fail")
        .collect();
    assert!(fails.is_empty(), "contoso-compliant fails: {fails:?}");
    let manual: Vec<_> = statuses(&r)
        .into_iter()
        .filter(|(_, s)| s == "manual")
        .collect();
    assert!(
        manual.is_empty(),
        "every manual check of contoso-compliant is attested: {manual:?}"
    );

    let (r, _, _) = audit_tenant("fabrikam-misconfigured");
    let failing: Vec<&Value> = r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "fail")
        .collect();
    assert!(
        failing.len() >= 8,
        "fabrikam fails only {} checks",
        failing.len()
    );
    let mut families: Vec<&str> = r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["family"].as_str().unwrap())
        .collect();
    families.sort_unstable();
    families.dedup();
    for f in families {
        assert!(
            failing.iter().any(|c| c["family"] == f),
            "fabrikam has no failing check in family {f}"
        );
    }
}

#[test]
fn nothing_passes_on_forbidden_evidence() {
    for (name, _) in TENANTS {
        let (r, _, _) = audit_tenant(name);
        for c in r["checks"].as_array().unwrap() {
            if c["status"] != "pass" || c["attestation"].is_object() {
                continue;
            }
            for e in c["evidence"].as_array().unwrap() {
                assert!(
                    e["status"] == "ok" || e["status"] == "not_found",
                    "{name}: {} passes on {} evidence {}",
                    c["id"],
                    e["status"],
                    e["kind"]
                );
            }
        }
    }
}

#[test]
fn reports_render_from_saved_results() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    let o = audit_into(&tenant_dir("contoso-demo"), AS_OF, &out, "json", &[]);
    assert_eq!(o.status.code(), Some(1));
    let again = t.path().join("again");
    let o = run(&[
        "report",
        out.join("results.json").to_str().unwrap(),
        "--out",
        again.to_str().unwrap(),
        "--format",
        "html,md",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(std::fs::read_to_string(again.join("report.html"))
        .unwrap()
        .contains("Log-type coverage"));
    assert!(std::fs::read_to_string(again.join("report.md"))
        .unwrap()
        .contains("## Go-live checklist"));
}

/// `report RESULTS` renders the HTML and Markdown byte for byte as `audit` did, for every
/// fixture tenant: everything a report shows is in results.json.
#[test]
fn report_re_renders_what_audit_rendered_byte_for_byte() {
    for (name, _) in TENANTS {
        let t = tempfile::tempdir().unwrap();
        let out = t.path().join("out");
        audit_into(&tenant_dir(name), AS_OF, &out, "json,html,md", &[]);
        let again = t.path().join("again");
        let o = run(&[
            "report",
            out.join("results.json").to_str().unwrap(),
            "--out",
            again.to_str().unwrap(),
            "--format",
            "html,md",
        ]);
        assert_eq!(o.status.code(), Some(0), "{name}: {}", stderr(&o));
        for f in ["report.html", "report.md"] {
            assert!(
                std::fs::read(out.join(f)).unwrap() == std::fs::read(again.join(f)).unwrap(),
                "{name}: {f} differs when re-rendered from results.json"
            );
        }
    }
}

#[test]
fn fail_on_threshold_sets_the_exit_code() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    let o = audit_into(
        &tenant_dir("contoso-demo"),
        AS_OF,
        &out,
        "json",
        &["--fail-on", "never", "--fail-on-unassessed", "none"],
    );
    assert_eq!(o.status.code(), Some(0));
    // --fail-on governs failing findings only: the demo's blocking checks that could not be
    // assessed still fail the run unless --fail-on-unassessed says otherwise.
    let o = audit_into(
        &tenant_dir("contoso-demo"),
        AS_OF,
        &t.path().join("out2"),
        "json",
        &["--fail-on", "never"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("not assessed: 5 blocking check(s)"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn a_run_that_observed_nothing_cannot_pass_the_go_live_gate() {
    // A bundle in which every request failed with 5xx: 73 checks not_assessed.
    let t = tempfile::tempdir().unwrap();
    let kinds: Vec<&str> = siemproof::evidence::kinds::KINDS
        .iter()
        .map(|k| k.name)
        .filter(|k| k.starts_with("arm.") || k.starts_with("graph.") || k.starts_with("o365."))
        .collect();
    let failures: Vec<(&str, Option<&str>, u16, &str)> = kinds
        .iter()
        .map(|k| (*k, None, 503, "ServiceUnavailable"))
        .collect();
    let b = bundle_with(t.path(), &config_text("Down"), &[], &failures);
    for (policy, code) in [("blocking", 1), ("any", 1), ("none", 0)] {
        let out = t.path().join(format!("out-{policy}"));
        let o = audit_into(
            &b,
            AS_OF,
            &out,
            "json",
            &["--fail-on", "info", "--fail-on-unassessed", policy],
        );
        assert_eq!(
            o.status.code(),
            Some(code),
            "{policy}: {}{}",
            stdout(&o),
            stderr(&o)
        );
        if code == 1 {
            assert!(
                stdout(&o).contains("could not be assessed"),
                "{}",
                stdout(&o)
            );
        }
    }
    // The default is `blocking`.
    let o = audit_into(&b, AS_OF, &t.path().join("out-default"), "json", &[]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn the_audit_clock_moves_expiry_judgements() {
    // The demo's SIEM secret expires within 30 days of the pinned clock; a year later it has expired.
    let find = |r: &Value, id: &str| {
        r["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .cloned()
    };
    let (now, _, _) = audit_tenant("contoso-demo");
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    audit_into(
        &tenant_dir("contoso-demo"),
        "2027-11-20T12:00:00Z",
        &out,
        "json",
        &[],
    );
    let later = results_in(&out);
    let id = "APP-CRED-EXPIRY";
    if let (Some(a), Some(b)) = (find(&now, id), find(&later, id)) {
        assert_eq!(a["status"], "warn", "{a}");
        assert_eq!(b["status"], "fail", "{b}");
    } else {
        panic!("no {id} check");
    }
}

#[test]
fn init_writes_the_guide_example_and_refuses_to_overwrite() {
    let t = tempfile::tempdir().unwrap();
    let cfg = t.path().join("siemproof.toml");
    let o = run(&["init", "--out", cfg.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = std::fs::read_to_string(&cfg).unwrap();
    for name in [
        "psiem-namespace",
        "security-logs-hub",
        "qradar-cg",
        "qradarcheckpoints",
        "SendPolicy",
        "ListenPolicy",
    ] {
        assert!(text.contains(name), "init lacks {name}");
    }
    siemproof::config::Config::load(&cfg).expect("the written config is valid");
    let o = run(&["init", "--out", cfg.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("already exists"));
}

/// Completions and man pages come from the clap definitions: every shell's script is produced,
/// bash parses its own, every command has a page naming its options, and a mistyped name gets
/// the closest real one.
#[test]
fn completions_and_man_pages_are_generated_for_every_command() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let o = run(&["completions", shell]);
        assert!(o.status.success(), "{shell}: {}", stderr(&o));
        assert!(stdout(&o).contains("siemproof"), "{shell}");
        assert!(
            stdout(&o).contains("fail-on"),
            "{shell}: audit's options are completed"
        );
    }
    let script = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(script.path(), stdout(&run(&["completions", "bash"]))).unwrap();
    let parsed = std::process::Command::new("bash")
        .arg("-n")
        .arg(script.path())
        .output()
        .unwrap();
    assert!(parsed.status.success(), "bash -n: {}", stderr(&parsed));
    let main = stdout(&run(&["man"]));
    assert!(main.contains(".TH siemproof 1"), "{main}");
    for cmd in [
        "init",
        "permissions",
        "collect",
        "probe",
        "audit",
        "report",
        "diff",
        "checks",
        "explain",
        "test",
        "attest",
        "keygen",
        "sign",
        "verify",
        "export",
        "completions",
        "man",
    ] {
        assert!(main.contains(cmd), "the main page lists {cmd}");
        let o = run(&["man", cmd]);
        assert!(o.status.success(), "{cmd}: {}", stderr(&o));
        assert!(
            stdout(&o).contains(&format!(".TH siemproof-{cmd} 1")),
            "{cmd}"
        );
    }
    assert!(stdout(&run(&["man", "audit"])).contains("fail\\-on"));
    let o = run(&["man", "audti"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("did you mean audit?"), "{}", stderr(&o));
    let o = run(&["explain", "CONSUMER-LAGG"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("did you mean CONSUMER-LAG?"),
        "{}",
        stderr(&o)
    );
    let o = run(&["explain", "NOTHING-LIKE-IT"]);
    assert!(!stderr(&o).contains("did you mean"), "{}", stderr(&o));
}

/// Every fix a tenant's report shows names that tenant's resources: each Azure CLI command parses
/// as a shell command (bash -n; python's shlex for the words), and no configured name is replaced
/// by the guide's example (fabrikam's namespace, send policy and storage account differ from it).
#[test]
fn rendered_fixes_name_the_tenants_own_resources_and_parse_as_shell() {
    const GUIDE: &[(&str, &str)] = &[
        ("namespace", "psiem-namespace"),
        ("hub", "security-logs-hub"),
        ("send_policy", "SendPolicy"),
        ("listen_policy", "ListenPolicy"),
    ];
    let mut commands = 0;
    for (name, _) in TENANTS {
        let (r, _, _) = audit_tenant(name);
        let eh = &r["config"]["eventhub"];
        let storage = &r["config"]["storage"];
        let mut script = String::new();
        for c in r["checks"].as_array().unwrap() {
            let fix = c["doc"]["fix"].as_str().unwrap();
            for (key, example) in GUIDE {
                if eh[*key] != *example {
                    assert!(
                        !fix.contains(example),
                        "{name} {}: the fix names the guide's {example}, not {}: {fix}",
                        c["id"],
                        eh[*key]
                    );
                }
            }
            if storage["account"] != "qradarcheckpoints" {
                assert!(
                    !fix.contains("qradarcheckpoints"),
                    "{name} {}: {fix}",
                    c["id"]
                );
            }
            for (i, part) in fix.split('`').enumerate() {
                // Azure CLI commands (POSIX shell); PowerShell cmdlets are not shell words.
                if i % 2 == 1 && part.starts_with("az ") {
                    script.push_str(part);
                    script.push('\n');
                    commands += 1;
                }
            }
        }
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), &script).unwrap();
        let o = std::process::Command::new("bash")
            .arg("-n")
            .arg(file.path())
            .output()
            .unwrap();
        assert!(o.status.success(), "{name}: bash -n: {}", stderr(&o));
        let o = std::process::Command::new("python3")
            .args([
                "-c",
                "import shlex,sys\nfor l in open(sys.argv[1]):\n  w=shlex.split(l)\n  assert w and w[0] == 'az', l",
            ])
            .arg(file.path())
            .output()
            .unwrap();
        assert!(o.status.success(), "{name}: shlex: {}", stderr(&o));
        // The configured names appear as whole words of the commands that use them.
        let words: Vec<String> = script
            .split_whitespace()
            .map(|w| w.trim_matches('\'').to_string())
            .collect();
        let ns = eh["namespace"].as_str().unwrap().to_string();
        if script.contains("--namespace-name") {
            assert!(
                words.contains(&ns),
                "{name}: {ns} is not a word of the commands"
            );
        }
    }
    assert!(commands > 40, "only {commands} commands were checked");
}

/// `--select` / `--ignore` take ids, `PREFIX-`, families and severities as ruff does; the run
/// says it is partial (results.json, the report, the terminal) and can never clear the go-live
/// gate; a selector that matches nothing is an error with the closest name (exit 2).
#[test]
fn select_and_ignore_narrow_the_run_and_say_so() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    let o = audit_into(
        &tenant_dir("contoso-compliant"),
        AS_OF,
        &out,
        "json,html",
        &["--select", "consumer,EH-", "--ignore", "EH-NS-REGION,low"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = results_in(&out);
    let ids: Vec<&str> = r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.iter()
            .all(|i| i.starts_with("CONSUMER-") || i.starts_with("EH-")),
        "{ids:?}"
    );
    assert!(ids.contains(&"CONSUMER-NO-LOSS") && ids.contains(&"EH-HUB-ACTIVE"));
    assert!(
        !ids.contains(&"EH-NS-REGION"),
        "--ignore wins over --select"
    );
    assert!(r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["severity"] != "low"));
    assert_eq!(r["summary"]["partial"], true);
    assert_eq!(
        r["summary"]["go_live_ready"], false,
        "a partial run clears no gate"
    );
    let note = format!("partial run: {} of 106 checks assessed", ids.len());
    assert!(
        r["run"]["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains(&note)),
        "{}",
        r["run"]["notes"]
    );
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("a partial run (--select or --ignore) cannot clear the go-live gate"));
    assert!(stderr(&o).contains(&note), "{}", stderr(&o));

    let o = audit_into(
        &tenant_dir("contoso-compliant"),
        AS_OF,
        &t.path().join("bad"),
        "json",
        &["--select", "consumr"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("did you mean consumer?"),
        "{}",
        stderr(&o)
    );
    assert!(
        !t.path().join("bad").exists(),
        "nothing written on a bad selection"
    );
}

/// The pictures and the banner: the status bar has a segment per status in use, summing to the
/// checks; the credential timeline shows the demo's secret 15 days from expiry with its name
/// isolated against bidi reordering; the go-live banner links the first blocking failures to
/// fix; the terminal prints the verdict first and last.
#[test]
fn status_bar_credential_timeline_and_fix_first_banner() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    let o = audit_into(
        &tenant_dir("contoso-demo"),
        AS_OF,
        &out,
        "table,json,html,md",
        &[],
    );
    let r = results_in(&out);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let segments = html.matches("class=\"seg s-").count();
    let used = [
        "pass",
        "fail",
        "warn",
        "not_applicable",
        "not_assessed",
        "manual",
        "waived",
    ]
    .iter()
    .filter(|s| r["summary"][**s].as_u64().unwrap() > 0)
    .count();
    assert_eq!(segments, used);
    let days = r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "APP-CRED-EXPIRY")
        .unwrap()["findings"][0]["observed"][0]["days_left"]
        .as_i64()
        .unwrap();
    assert!(
        html.contains(&format!("{days} days left")),
        "the expiring secret is on the timeline"
    );
    assert!(
        html.contains("\u{2068}qradar"),
        "credential names are isolated (FSI)"
    );
    let first = r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["go_live"] == "blocking" && c["status"] == "fail")
        .count();
    assert!(first > 0);
    assert!(
        html.contains("Fix first, in this order: <a href=\"#"),
        "banner"
    );
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("Fix first, in this order: [`"), "{md}");
    let text = stdout(&o);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("go-live: NOT READY"), "{}", lines[0]);
    assert!(
        lines
            .iter()
            .rev()
            .any(|l| l.starts_with("go-live: NOT READY")),
        "the verdict closes the table too"
    );
    let closing = lines
        .iter()
        .rposition(|l| l.starts_with("go-live:"))
        .unwrap();
    assert!(closing > 5, "first and last are two lines");
}

/// An auditor's reading: each open check names its evidence files with their SHA-256, a passing
/// check shows what was observed, and the window title isolates the tenant's name.
#[test]
fn reports_name_evidence_files_and_show_what_passing_checks_observed() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    audit_into(
        &tenant_dir("fabrikam-misconfigured"),
        AS_OF,
        &out,
        "json,html,md",
        &[],
    );
    let r = results_in(&out);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    let failing = r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| {
            c["status"] == "fail" && !c["evidence"][0]["files"].as_array().unwrap().is_empty()
        })
        .unwrap();
    let f = &failing["evidence"][0]["files"][0];
    let line = format!("sha256:{}", f["sha256"].as_str().unwrap());
    assert!(
        html.contains(&line) && md.contains(&line),
        "{}",
        failing["id"]
    );
    let passing = r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["status"] == "pass" && c["findings"][0]["observed"].is_object())
        .unwrap();
    let row = html
        .lines()
        .find(|l| l.contains(&format!("<tr id=\"{}\">", passing["id"].as_str().unwrap())))
        .unwrap();
    assert!(
        !row.contains("<td class=\"observed\"><bdi></bdi></td>"),
        "{row}"
    );
    assert!(
        html.contains("<title>siemproof: \u{2068}"),
        "the title isolates the tenant name"
    );
}

/// `checks --frameworks` lists each framework's controls with the checks that give evidence for
/// them, from the same mappings the exports carry.
#[test]
fn checks_frameworks_lists_controls_with_their_checks() {
    let o = run(&["checks", "--frameworks", "--format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let nist = v["NIST SP 800-53 r5"]
        .as_object()
        .expect("NIST SP 800-53 r5");
    assert!(nist["au-9"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c == "CONSUMER-NO-LOSS"));
    for fw in [
        "ISO/IEC 27001:2022",
        "PCI DSS 4.0",
        "HIPAA",
        "CIS Controls v8",
        "SOC 2",
    ] {
        assert!(v[fw].as_object().is_some_and(|m| !m.is_empty()), "{fw}");
    }
    let o = run(&["checks", "--frameworks"]);
    assert!(stdout(&o).contains("frameworks,") && stdout(&o).contains("controls"));
}

/// `siemproof test` needs no checkout: from an empty directory it runs the built-in checks'
/// embedded fixtures, all of them, and they pass.
#[test]
fn siemproof_test_works_from_any_directory() {
    let dir = tempfile::tempdir().unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_siemproof"))
        .arg("test")
        .current_dir(dir.path())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let on_disk = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/checks"))
        .unwrap()
        .flat_map(|d| std::fs::read_dir(d.unwrap().path()).unwrap())
        .filter(|f| {
            f.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|e| e == "json")
        })
        .count();
    let last = out.lines().last().unwrap_or_default();
    assert_eq!(last, format!("{on_disk} passed, 0 failed"), "{out}");
}
