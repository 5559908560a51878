//! Bad input gets a clear error naming the file (or JSON path, key, check id), exit code 2, and
//! leaves nothing half-written: malformed bundles, hostile bundles, broken checks, broken config,
//! broken templates.

mod common;

use std::path::Path;

use common::*;
use serde_json::Value;

fn audit(bundle: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    audit_into(bundle, AS_OF, out, "json,html,md", extra)
}

fn assert_input_error(o: &std::process::Output, needles: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "stderr: {err}");
    for n in needles {
        assert!(err.contains(n), "stderr lacks {n:?}: {err}");
    }
}

/// Changes a sealed file's bytes (one newline more) without resealing it.
fn alter(file: &Path) {
    let mut body = std::fs::read(file).unwrap();
    body.push(b'\n');
    std::fs::write(file, &body).unwrap();
}

/// The results an audit wrote into `out`.
fn results_in(out: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(out.join("results.json")).unwrap()).unwrap()
}

/// One check's result.
fn check<'r>(results: &'r Value, id: &str) -> &'r Value {
    let checks = results["checks"].as_array().unwrap();
    checks.iter().find(|c| c["id"] == id).unwrap()
}

fn edit_manifest(bundle: &Path, f: impl FnOnce(&mut Value)) {
    let p = bundle.join("manifest.json");
    let mut m: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    f(&mut m);
    std::fs::write(&p, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
}

#[test]
fn a_clean_bundle_audits() {
    let t = tempfile::tempdir().unwrap();
    let b = small_bundle(t.path(), "Contoso");
    let o = audit(&b, &t.path().join("out"), &[]);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    assert!(t.path().join("out/results.json").is_file());
}

#[test]
fn no_manifest() {
    let t = tempfile::tempdir().unwrap();
    let o = audit(t.path(), &t.path().join("out"), &[]);
    assert_input_error(&o, &["no manifest.json"]);
    assert!(!t.path().join("out").exists(), "nothing written");
}

#[test]
fn truncated_json_body() {
    let t = tempfile::tempdir().unwrap();
    let b = small_bundle(t.path(), "Contoso");
    replace_sealed(
        &b,
        "raw/arm/arm.eventhub.namespaces.json",
        b"{\"value\": [{\"id\": ",
    );
    let o = audit(&b, &t.path().join("out"), &[]);
    assert_input_error(&o, &["arm.eventhub.namespaces.json", "not valid JSON"]);
}

#[test]
fn truncated_manifest() {
    let t = tempfile::tempdir().unwrap();
    let b = small_bundle(t.path(), "Contoso");
    let m = std::fs::read(b.join("manifest.json")).unwrap();
    std::fs::write(b.join("manifest.json"), &m[..m.len() / 2]).unwrap();
    let o = audit(&b, &t.path().join("out"), &[]);
    assert_input_error(&o, &["manifest.json", "not valid JSON"]);
}

#[test]
fn wrong_types_in_manifest_name_the_json_path() {
    let t = tempfile::tempdir().unwrap();
    let b = small_bundle(t.path(), "Contoso");
    edit_manifest(&b, |m| {
        m["items"][1]["bytes"] = Value::String("many".into())
    });
    let o = audit(&b, &t.path().join("out"), &[]);
    assert_input_error(&o, &["manifest.json", "items[1].bytes"]);
}

#[test]
fn unknown_format_version() {
    let t = tempfile::tempdir().unwrap();
    let b = small_bundle(t.path(), "Contoso");
    edit_manifest(&b, |m| {
        m["format"] = Value::String("siemproof-evidence/9".into())
    });
    let o = audit(&b, &t.path().join("out"), &[]);
    assert_input_error(
        &o,
        &[
            "manifest.json",
            "siemproof-evidence/9",
            "siemproof-evidence/1",
        ],
    );
}

#[test]
fn deeply_nested_json() {
    let t = tempfile::tempdir().unwrap();
    let b = small_bundle(t.path(), "Contoso");
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    replace_sealed(&b, "raw/graph/graph.organization.json", deep.as_bytes());
    let o = audit(&b, &t.path().join("out"), &[]);
    assert_input_error(&o, &["graph.organization.json", "recursion limit"]);
}

#[test]
fn altered_missing_and_extra_files_are_named() {
    let t = tempfile::tempdir().unwrap();
    let b = small_bundle(t.path(), "Contoso");
    let f = b.join("raw/arm/arm.eventhub.eventhubs.json");
    alter(&f);
    let o = audit(&b, &t.path().join("out"), &[]);
    assert_input_error(&o, &["arm.eventhub.eventhubs.json", "altered", "SHA-256"]);

    // With --allow-unverified the audit runs and the checks reading it are not assessed.
    let out = t.path().join("out2");
    let o = audit(&b, &out, &["--allow-unverified"]);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    let r = results_in(&out);
    let hub = check(&r, "EH-HUB-ACTIVE");
    assert_eq!(hub["status"], "not_assessed", "{hub}");
    assert!(
        hub["reason"].as_str().unwrap().contains("unverified"),
        "{hub}"
    );
    assert!(!r["run"]["unverified"].as_array().unwrap().is_empty());

    std::fs::remove_file(&f).unwrap();
    let o = audit(&b, &t.path().join("out3"), &[]);
    assert_input_error(&o, &["arm.eventhub.eventhubs.json", "missing"]);

    let t2 = tempfile::tempdir().unwrap();
    let b2 = small_bundle(t2.path(), "Contoso");
    std::fs::write(b2.join("raw/arm/planted.json"), b"{}").unwrap();
    let o = audit(&b2, &t2.path().join("out"), &[]);
    assert_input_error(&o, &["planted.json", "not listed"]);
}

#[test]
fn paths_outside_the_bundle_are_refused() {
    let t = tempfile::tempdir().unwrap();
    let b = small_bundle(t.path(), "Contoso");
    std::fs::write(t.path().join("outside.json"), b"{}").unwrap();
    edit_manifest(&b, |m| {
        m["items"][1]["path"] = Value::String("../outside.json".into())
    });
    let o = audit(&b, &t.path().join("out"), &[]);
    assert_input_error(&o, &["unsafe path", "../outside.json"]);
}

#[cfg(unix)]
#[test]
fn symlinks_are_refused() {
    let t = tempfile::tempdir().unwrap();
    let b = small_bundle(t.path(), "Contoso");
    let f = b.join("raw/graph/graph.organization.json");
    std::fs::remove_file(&f).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", &f).unwrap();
    let o = audit(&b, &t.path().join("out"), &[]);
    assert_input_error(&o, &["graph.organization.json", "symbolic link"]);
}

#[test]
fn broken_check_file_names_file_and_position() {
    let t = tempfile::tempdir().unwrap();
    let b = small_bundle(t.path(), "Contoso");
    let dir = t.path().join("mychecks/eventhub");
    std::fs::create_dir_all(&dir).unwrap();
    let good = include_str!("../checks/eventhub/EH-HUB-ACTIVE.toml")
        .replace("EH-HUB-ACTIVE", "MY-BROKEN")
        .replace(
            "assert = \"eventhub.hub != null && eventhub.hub.status == 'Active'\"",
            "assert = \"eventhub.hub.status == == 'Active'\"",
        );
    std::fs::write(dir.join("MY-BROKEN.toml"), good).unwrap();
    let checks = t.path().join("mychecks");
    let o = audit(
        &b,
        &t.path().join("out"),
        &["--checks", checks.to_str().unwrap()],
    );
    assert_input_error(&o, &["MY-BROKEN.toml", "assert:1:"]);
}

#[test]
fn broken_config_names_the_key() {
    let t = tempfile::tempdir().unwrap();
    let b = small_bundle(t.path(), "Contoso");
    let cfg = t.path().join("bad.toml");
    std::fs::write(
        &cfg,
        config_text("x").replace("hub = \"security-logs-hub\"", "hub = \"\""),
    )
    .unwrap();
    let o = audit(
        &b,
        &t.path().join("out"),
        &["--config", cfg.to_str().unwrap()],
    );
    assert_input_error(&o, &["bad.toml", "eventhub.hub"]);
    std::fs::write(
        &cfg,
        config_text("x") + "\n[thresholds]\nfreshnes_hours = 3\n",
    )
    .unwrap();
    let o = audit(
        &b,
        &t.path().join("out"),
        &["--config", cfg.to_str().unwrap()],
    );
    assert_input_error(&o, &["bad.toml", "freshnes_hours"]);
}

#[test]
fn broken_template_keeps_the_previous_report() {
    let t = tempfile::tempdir().unwrap();
    let b = small_bundle(t.path(), "Contoso");
    let out = t.path().join("out");
    let o = audit(&b, &out, &[]);
    assert!(matches!(o.status.code(), Some(0 | 1)));
    let before = std::fs::read(out.join("results.json")).unwrap();
    let tpl = t.path().join("tpl");
    std::fs::create_dir_all(&tpl).unwrap();
    std::fs::write(tpl.join("report.html"), "{% if %}broken").unwrap();
    let o = audit(&b, &out, &["--templates", tpl.to_str().unwrap()]);
    assert_input_error(&o, &["report.html"]);
    assert_eq!(
        std::fs::read(out.join("results.json")).unwrap(),
        before,
        "previous report intact"
    );
}

#[test]
fn usage_errors_exit_2() {
    let o = run(&["audit"]);
    assert_eq!(o.status.code(), Some(2));
    let o = run(&["audit", ".", "--format", "pdf"]);
    assert_input_error(&o, &["pdf"]);
    let o = run(&["explain", "NO-SUCH-CHECK"]);
    assert_input_error(&o, &["NO-SUCH-CHECK"]);
}

/// The audit reads each file when its kind is normalised, not all up front; files no check reads
/// (a kind this siemproof does not know) are still verified and parsed before a verdict leaves.
#[test]
fn a_file_no_check_reads_is_still_verified() {
    let t = tempfile::tempdir().unwrap();
    let b = small_bundle(t.path(), "Contoso");
    let body = br#"{"value": []}"#;
    std::fs::write(b.join("raw/future.kind.json"), body).unwrap();
    let add = |sha: String| {
        move |m: &mut Value| {
            m["items"].as_array_mut().unwrap().push(serde_json::json!({
                "kind": "future.kind", "path": "raw/future.kind.json", "sha256": sha,
                "bytes": 13, "status": 200, "fetched_at": "2026-11-20T08:00:00Z"
            }))
        }
    };
    edit_manifest(&b, add("0".repeat(64)));
    let out = t.path().join("out");
    let o = audit(&b, &out, &[]);
    assert_input_error(&o, &["future.kind.json", "altered", "SHA-256"]);
    assert!(!out.exists(), "nothing written");

    // Sealed, it is verified, read by nothing, and the results say so.
    let t2 = tempfile::tempdir().unwrap();
    let b2 = small_bundle(t2.path(), "Contoso");
    std::fs::write(b2.join("raw/future.kind.json"), body).unwrap();
    edit_manifest(&b2, add(siemproof::evidence::sha256_hex(body)));
    let out2 = t2.path().join("out");
    let o = audit(&b2, &out2, &[]);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    let r = results_in(&out2);
    assert!(
        r["run"]["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("`future.kind`")),
        "{}",
        r["run"]["notes"]
    );

    // Not valid JSON, it stops the audit as any other evidence file would.
    replace_sealed(&b2, "raw/future.kind.json", b"{\"value\": [");
    let out3 = t2.path().join("out3");
    let o = audit(&b2, &out3, &[]);
    assert_input_error(&o, &["future.kind.json", "not valid JSON"]);
    assert!(!out3.exists(), "nothing written");
}

/// A file altered after the audit has indexed the bundle is caught when it is read, as well as
/// one altered before: the check is on the bytes that are parsed.
#[test]
fn an_altered_metrics_file_fails_the_audit_before_anything_is_written() {
    let t = tempfile::tempdir().unwrap();
    let b = t.path().join("bundle");
    let cp = std::process::Command::new("cp")
        .arg("-r")
        .arg(tenant_dir("contoso-compliant"))
        .arg(&b)
        .status()
        .unwrap();
    assert!(cp.success());
    let m: Value =
        serde_json::from_slice(&std::fs::read(b.join("manifest.json")).unwrap()).unwrap();
    let metrics = m["items"].as_array().unwrap().iter();
    let rel = metrics
        .filter(|i| i["kind"] == "arm.eventhub.metrics")
        .find_map(|i| i["path"].as_str())
        .expect("the tenant has metrics");
    alter(&b.join(rel));
    let out = t.path().join("out");
    let o = audit(&b, &out, &[]);
    assert_input_error(&o, &[rel, "altered"]);
    assert!(!out.exists(), "nothing written");
}

/// `verify` and signing vouch for the files' bytes: `Bundle::verified` hashes every listed file
/// and parses none (so a large tenant's bodies are never all in memory), while the audit still
/// refuses a body it cannot parse.
#[test]
fn verifying_a_bundle_hashes_every_file_without_parsing_it() {
    let t = tempfile::tempdir().unwrap();
    let b = small_bundle(t.path(), "Contoso");
    replace_sealed(&b, "raw/graph/graph.organization.json", b"{not json");
    siemproof::evidence::Bundle::verified(&b).expect("every file matches the manifest");
    let e = siemproof::evidence::Bundle::open(&b, false).unwrap_err();
    assert!(e.to_string().contains("not valid JSON"), "{e}");

    alter(&b.join("raw/arm/arm.eventhub.eventhubs.json"));
    let e = siemproof::evidence::Bundle::verified(&b).unwrap_err();
    assert!(
        e.to_string().contains("arm.eventhub.eventhubs.json") && e.to_string().contains("altered"),
        "{e}"
    );
}

/// A listing whose file is text where Microsoft answers JSON (a manifest naming a `.txt` file,
/// correctly sealed) is not an empty listing: the checks that read it are not assessed.
#[test]
fn a_text_body_where_json_is_due_is_malformed_not_empty() {
    let t = tempfile::tempdir().unwrap();
    let b = small_bundle(t.path(), "Contoso");
    std::fs::rename(
        b.join("raw/arm/arm.eventhub.eventhubs.json"),
        b.join("raw/arm/arm.eventhub.eventhubs.txt"),
    )
    .unwrap();
    edit_manifest(&b, |m| {
        for it in m["items"].as_array_mut().unwrap() {
            if it["path"] == "raw/arm/arm.eventhub.eventhubs.json" {
                it["path"] = Value::String("raw/arm/arm.eventhub.eventhubs.txt".into());
            }
        }
    });
    let out = t.path().join("out");
    let o = audit(&b, &out, &[]);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    let r = results_in(&out);
    let hub = check(&r, "EH-HUB-ACTIVE");
    assert_eq!(hub["status"], "not_assessed", "{hub}");
    assert!(
        hub["reason"]
            .as_str()
            .unwrap()
            .contains("arm.eventhub.eventhubs"),
        "{hub}"
    );
}
