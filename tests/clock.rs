//! The audit clock: a bundle is judged as of when it was collected, so it gives the same
//! verdicts on any day; `--as-of` may move the clock later, never earlier; how old the
//! evidence is against today is reported on its own; and what the manifest holds that this
//! version cannot read is said, not ignored.

mod common;

use common::*;
use serde_json::Value;

fn statuses(results: &Value) -> Vec<(String, String)> {
    results["checks"]
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

fn audit_default_clock(bundle: &std::path::Path, out: &std::path::Path) -> std::process::Output {
    run(&[
        "audit",
        bundle.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--format",
        "json",
    ])
}

#[test]
fn without_as_of_a_bundle_is_judged_at_its_collection_time() {
    for tenant in [
        "contoso-compliant",
        "contoso-demo",
        "fabrikam-misconfigured",
    ] {
        let t = tempfile::tempdir().unwrap();
        let a = t.path().join("default");
        let out = audit_default_clock(&tenant_dir(tenant), &a);
        let results = results_in(&a);
        assert_eq!(results["run"]["clock"], "collected_at", "{tenant}");
        assert_eq!(results["run"]["as_of"], results["run"]["collected_at"]);
        if tenant == "contoso-compliant" {
            assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        }
        // The same verdicts as an explicit clock at collection time, whatever today is.
        let b = t.path().join("pinned");
        audit_into(&tenant_dir(tenant), "2026-11-20T08:00:00Z", &b, "json", &[]);
        assert_eq!(statuses(&results), statuses(&results_in(&b)), "{tenant}");
        // Evidence age is reported apart, against the wall clock, and says it is stale.
        let age = &results["run"]["evidence_age"];
        assert!(age["hours"].as_i64().unwrap() >= 0);
        assert_eq!(
            age["stale"],
            Value::Bool(age["hours"].as_i64().unwrap() > 48)
        );
        if age["stale"] == Value::Bool(true) {
            assert!(stderr(&out).contains("h old (collected 2026-11-20T08:00:00Z"));
        }
    }
}

#[test]
fn an_audit_clock_before_collection_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let out = audit_into(
        &tenant_dir("contoso-compliant"),
        "2026-11-19T00:00:00Z",
        t.path(),
        "json",
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    let e = stderr(&out);
    assert!(
        e.contains("before the evidence was collected (2026-11-20T08:00:00Z)"),
        "{e}"
    );
    assert!(
        !t.path().join("results.json").exists(),
        "nothing written on a refused clock"
    );
}

#[test]
fn an_evidence_kind_this_version_does_not_know_is_reported() {
    let t = tempfile::tempdir().unwrap();
    let bundle = t.path().join("bundle");
    let src = tenant_dir("contoso-compliant");
    for entry in walk(&src) {
        let rel = entry.strip_prefix(&src).unwrap();
        let dst = bundle.join(rel);
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        std::fs::copy(&entry, &dst).unwrap();
    }
    let body = br#"{"value": []}"#;
    std::fs::create_dir_all(bundle.join("raw/arm")).unwrap();
    std::fs::write(bundle.join("raw/arm/arm.future.thing.json"), body).unwrap();
    let mpath = bundle.join("manifest.json");
    let mut m: Value = serde_json::from_slice(&std::fs::read(&mpath).unwrap()).unwrap();
    m["items"].as_array_mut().unwrap().push(serde_json::json!({
        "kind": "arm.future.thing",
        "path": "raw/arm/arm.future.thing.json",
        "sha256": siemproof::evidence::sha256_hex(body),
        "bytes": body.len(),
        "status": 200,
        "fetched_at": "2026-11-20T08:00:00Z"
    }));
    std::fs::write(&mpath, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
    let out_dir = t.path().join("out");
    let out = audit_default_clock(&bundle, &out_dir);
    assert!(
        stderr(&out).contains("evidence kind `arm.future.thing`"),
        "{}",
        stderr(&out)
    );
    let notes = results_in(&out_dir)["run"]["notes"].to_string();
    assert!(notes.contains("arm.future.thing"), "{notes}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
