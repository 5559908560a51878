//! Shared helpers for the integration tests: running the binary, and building small evidence
//! bundles in Microsoft's shapes without network access.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};
use siemproof::evidence::manifest::{Collector, Item, Manifest, Tool, FORMAT};
use siemproof::evidence::writer::BundleWriter;

pub const TENANT: &str = "11111111-2222-4333-8444-555555555555";
pub const SUB: &str = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee";
pub const AS_OF: &str = "2026-11-20T12:00:00Z";

pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_siemproof"))
}

/// Runs siemproof with `args`, with colour and the clock pinned.
pub fn run(args: &[&str]) -> Output {
    bin()
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("SIEMPROOF_AS_OF")
        .output()
        .expect("siemproof runs")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn config_text(namespace_display: &str) -> String {
    format!(
        "[tenant]\nid = \"{TENANT}\"\nname = \"{namespace_display}\"\n\n[eventhub]\nsubscription_id = \"{SUB}\"\nresource_group = \"siem-rg\"\nnamespace = \"psiem-namespace\"\nhub = \"security-logs-hub\"\n"
    )
}

fn collected_at() -> chrono::DateTime<chrono::Utc> {
    "2026-11-20T08:00:00Z".parse().unwrap()
}

/// A successful GET of `kind`, first page.
fn item(kind: &str, scope: Option<&str>) -> Item {
    Item {
        scope: scope.map(str::to_string),
        page: Some(0),
        ..Item::get(
            kind,
            &format!("https://example.invalid/{kind}"),
            collected_at(),
        )
    }
}

/// A small bundle: config, one namespace with one hub, and an organization whose display name
/// is `org_name` (hostile strings go there).
pub fn small_bundle(dir: &Path, org_name: &str) -> PathBuf {
    let rg = format!("/subscriptions/{SUB}/resourceGroups/siem-rg");
    let ns = format!("{rg}/providers/Microsoft.EventHub/namespaces/psiem-namespace");
    let namespaces = json!({"value": [{"id": ns.trim_start_matches('/'), "name": "psiem-namespace", "type": "Microsoft.EventHub/Namespaces",
        "location": "West Europe", "properties": {"status": "Active", "minimumTlsVersion": "1.2"}}]});
    let hubs = json!({"value": [{"id": format!("{ns}/eventhubs/security-logs-hub"), "name": "security-logs-hub",
        "properties": {"status": "Active", "partitionCount": 4, "messageRetentionInDays": 3}}]});
    let org = json!({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#organization", "value": [{"id": TENANT, "displayName": org_name}]});
    bundle_with(
        dir,
        &config_text("Test tenant"),
        &[
            ("arm.eventhub.namespaces", Some(&rg), namespaces),
            ("arm.eventhub.eventhubs", Some(&ns), hubs),
            ("graph.organization", None, org),
        ],
        &[],
    )
}

/// Rewrites a file in a bundle and re-seals its manifest entry (to test body parsing, not hashes).
pub fn replace_sealed(bundle: &Path, rel: &str, bytes: &[u8]) {
    std::fs::write(bundle.join(rel), bytes).unwrap();
    let mpath = bundle.join("manifest.json");
    let mut m: Value = serde_json::from_slice(&std::fs::read(&mpath).unwrap()).unwrap();
    for it in m["items"].as_array_mut().unwrap() {
        if it["path"] == rel {
            it["sha256"] = Value::String(siemproof::evidence::sha256_hex(bytes));
            it["bytes"] = Value::from(bytes.len());
        }
    }
    std::fs::write(&mpath, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
}

/// A bundle from (kind, scope, body) triples plus the config; failed requests as (kind, scope,
/// status, code) in `failures`.
pub fn bundle_with(
    dir: &Path,
    config: &str,
    items: &[(&str, Option<&str>, Value)],
    failures: &[(&str, Option<&str>, u16, &str)],
) -> PathBuf {
    bundle_with_batches(dir, config, items, failures, &[])
}

/// One batched metrics read for [`bundle_with_batches`]: the ids it asked for, and its answer
/// (`Ok` body) or its failure (status and code).
pub type BatchRead<'a> = (Vec<String>, Result<Value, (u16, &'a str)>);

/// [`bundle_with`] plus batched metrics reads (`metrics.eventhub.batch`), each recording the
/// resource ids it asked for as the collector does.
pub fn bundle_with_batches(
    dir: &Path,
    config: &str,
    items: &[(&str, Option<&str>, Value)],
    failures: &[(&str, Option<&str>, u16, &str)],
    batches: &[BatchRead<'_>],
) -> PathBuf {
    let manifest = Manifest {
        format: FORMAT.into(),
        tool: Tool {
            name: "siemproof-tests".into(),
            version: "0".into(),
        },
        tenant_id: TENANT.into(),
        cloud: "public".into(),
        collected_at: collected_at(),
        collector: Collector {
            app_id: None,
            auth: "fixture".into(),
            host: None,
            at: None,
        },
        contributors: vec![],
        items: vec![],
    };
    let target = dir.join("bundle");
    let mut w = BundleWriter::new(&target, manifest).unwrap();
    w.add_file(
        Item::local("config", collected_at()),
        "siemproof.toml",
        config.as_bytes(),
    )
    .unwrap();
    for (kind, scope, body) in items {
        let plane = kind.split('.').next().unwrap();
        let path = w.next_raw_path(plane, kind);
        w.add_file(
            item(kind, *scope),
            &path,
            &serde_json::to_vec_pretty(body).unwrap(),
        )
        .unwrap();
    }
    for (kind, scope, status, code) in failures {
        let mut it = item(kind, *scope);
        it.status = Some(*status);
        it.error = Some(siemproof::evidence::ItemError {
            code: code.to_string(),
            message: format!("{code} message"),
        });
        w.add_failure(it);
    }
    for (n, (ids, answer)) in batches.iter().enumerate() {
        let kind = "metrics.eventhub.batch";
        let mut it = item(kind, Some(&format!("/subscriptions/{n}")));
        it.headers = Some(
            [(
                siemproof::collect::REQUEST_BODY_HEADER.to_string(),
                serde_json::json!({ "resourceids": ids }).to_string(),
            )]
            .into(),
        );
        match answer {
            Ok(body) => {
                let path = w.next_raw_path("metrics", kind);
                w.add_file(it, &path, &serde_json::to_vec_pretty(body).unwrap())
                    .unwrap();
            }
            Err((status, code)) => {
                it.status = Some(*status);
                it.error = Some(siemproof::evidence::ItemError {
                    code: code.to_string(),
                    message: format!("{code} message"),
                });
                w.add_failure(it);
            }
        }
    }
    w.finish(None).unwrap()
}

/// Indexes a bundle (as `audit` does) and normalises it at the pinned audit clock.
pub fn model_of(bundle: &Path) -> siemproof::normalize::model::Model {
    let b = siemproof::evidence::Bundle::index(bundle, false).unwrap();
    let (cfg, _) = siemproof::audit::config_for(&b, None).unwrap();
    siemproof::normalize::normalize(&b, &cfg, AS_OF.parse().unwrap(), &[]).unwrap()
}

/// A fixture tenant's bundle directory.
pub fn tenant_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/tenants")
        .join(name)
}

/// Runs `siemproof audit BUNDLE --as-of AS_OF --out OUT --format FORMATS [extra…]`.
pub fn audit_into(bundle: &Path, as_of: &str, out: &Path, formats: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "audit",
        bundle.to_str().unwrap(),
        "--as-of",
        as_of,
        "--out",
        out.to_str().unwrap(),
        "--format",
        formats,
    ];
    args.extend_from_slice(extra);
    run(&args)
}

/// Reads `OUT/results.json`.
pub fn results_in(out: &Path) -> Value {
    let p = out.join("results.json");
    serde_json::from_slice(&std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .unwrap()
}
