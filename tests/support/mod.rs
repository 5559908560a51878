//! Helpers for the signing and report-format tests: a small evidence bundle in Microsoft's real
//! ARM response shapes built with the crate's own BundleWriter, the siemproof binary, and the rule
//! for external validators (a missing validator fails the test unless SIEMPROOF_SKIP_VALIDATORS=1).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use chrono::{TimeZone, Utc};
use siemproof::evidence::manifest::{Collector, Item, Manifest, Tool};
use siemproof::evidence::writer::BundleWriter;

pub const SUB: &str = "00000000-0000-0000-0000-0000000000aa";
pub const TENANT: &str = "11111111-2222-4333-8444-555555555555";
pub const AS_OF: &str = "2026-11-26T12:00:00Z";

pub fn ns_id() -> String {
    format!("/subscriptions/{SUB}/resourceGroups/siem-rg/providers/Microsoft.EventHub/namespaces/psiem-namespace")
}

fn item(kind: &str, scope: &str, url: &str) -> Item {
    Item {
        scope: Some(scope.into()),
        page: Some(0),
        ..Item::get(
            kind,
            url,
            Utc.with_ymd_and_hms(2026, 11, 26, 9, 0, 0).unwrap(),
        )
    }
}

/// Writes a bundle whose event hub has `hub_status` ("Active" passes EH-HUB-ACTIVE, anything
/// else fails it; "forbidden" records a 403 for the hub list, so the check is not assessed).
pub fn write_bundle(dir: &Path, hub_status: &str) -> PathBuf {
    let manifest = Manifest {
        format: siemproof::evidence::manifest::FORMAT.into(),
        tool: Tool {
            name: "siemproof".into(),
            version: "0.1.0".into(),
        },
        tenant_id: TENANT.into(),
        cloud: "public".into(),
        collected_at: Utc.with_ymd_and_hms(2026, 11, 26, 9, 0, 0).unwrap(),
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
    // Subscription first: the tenant `id = ` pattern also matches inside `subscription_id = `.
    let config = siemproof::config::INIT_TEMPLATE
        .replace(
            "subscription_id = \"00000000-0000-0000-0000-000000000000\"",
            &format!("subscription_id = \"{SUB}\""),
        )
        .replace(
            "\nid = \"00000000-0000-0000-0000-000000000000\"",
            &format!("\nid = \"{TENANT}\""),
        );
    let cfg = Item {
        scope: Some("siemproof.toml".into()),
        page: Some(0),
        ..Item::local(
            "config",
            Utc.with_ymd_and_hms(2026, 11, 26, 9, 0, 0).unwrap(),
        )
    };
    w.add_file(cfg, "siemproof.toml", config.as_bytes())
        .unwrap();
    let rg = format!("/subscriptions/{SUB}/resourceGroups/siem-rg");
    let ns = ns_id();
    let namespaces = serde_json::json!({"value": [{
        "id": ns,
        "name": "psiem-namespace",
        "type": "Microsoft.EventHub/Namespaces",
        "location": "westeurope",
        "sku": {"name": "Standard", "tier": "Standard", "capacity": 1},
        "properties": {
            "minimumTlsVersion": "1.2",
            "publicNetworkAccess": "Enabled",
            "disableLocalAuth": false,
            "isAutoInflateEnabled": false,
            "maximumThroughputUnits": 0,
            "provisioningState": "Succeeded",
            "status": "Active"
        }
    }]});
    let path = w.next_raw_path("arm", "arm.eventhub.namespaces");
    w.add_file(
        item(
            "arm.eventhub.namespaces",
            &rg,
            &format!("https://management.azure.com{rg}/providers/Microsoft.EventHub/namespaces?api-version=2024-01-01"),
        ),
        &path,
        serde_json::to_string_pretty(&namespaces).unwrap().as_bytes(),
    )
    .unwrap();
    let hubs = serde_json::json!({"value": [{
        "id": format!("{ns}/eventhubs/security-logs-hub"),
        "name": "security-logs-hub",
        "type": "Microsoft.EventHub/Namespaces/EventHubs",
        "location": "westeurope",
        "properties": {
            "partitionCount": 4,
            "retentionDescription": {"cleanupPolicy": "Delete", "retentionTimeInHours": 72},
            "status": hub_status,
            "createdAt": "2026-01-10T08:00:00Z",
            "updatedAt": "2026-01-10T08:00:00Z"
        }
    }]});
    let hubs_url = format!("https://management.azure.com{ns}/eventhubs?api-version=2024-01-01");
    if hub_status == "forbidden" {
        // The collector lacked Reader on the namespace: checks reading hubs are not assessed.
        let mut failed = item("arm.eventhub.eventhubs", &ns, &hubs_url);
        failed.status = Some(403);
        failed.error = Some(siemproof::evidence::ItemError {
            code: "AuthorizationFailed".into(),
            message: "The client does not have authorization to perform action 'Microsoft.EventHub/namespaces/eventhubs/read'.".into(),
        });
        w.add_failure(failed);
        return w.finish(None).unwrap();
    }
    let path = w.next_raw_path("arm", "arm.eventhub.eventhubs");
    w.add_file(
        item(
            "arm.eventhub.eventhubs",
            &ns,
            &format!("https://management.azure.com{ns}/eventhubs?api-version=2024-01-01"),
        ),
        &path,
        serde_json::to_string_pretty(&hubs).unwrap().as_bytes(),
    )
    .unwrap();
    w.finish(None).unwrap()
}

pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_siemproof"));
    c.env_remove("SIEMPROOF_SIGNING_KEY")
        .env_remove("SIEMPROOF_SIGNING_PASSWORD")
        .env_remove("SIEMPROOF_AS_OF")
        .stdin(std::process::Stdio::null());
    c
}

pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("runs")
}

pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Audits a fresh bundle into `dir/out` with every file format; optionally signed.
pub fn audit(dir: &Path, hub_status: &str, sign: Option<&Path>) -> (PathBuf, PathBuf) {
    let bundle = write_bundle(dir, hub_status);
    let out = dir.join("out");
    let mut c = bin();
    c.arg("audit").arg(&bundle).arg("--out").arg(&out).args([
        "--format",
        "json,html,md,junit,sarif,oscal,jsonl,csv",
        "--as-of",
        AS_OF,
    ]);
    if let Some(k) = sign {
        c.arg("--sign").arg(k);
    }
    let o = run(&mut c);
    assert!(
        matches!(o.status.code(), Some(0) | Some(1)),
        "audit failed: {}",
        text(&o)
    );
    (bundle, out)
}

pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Whether the external validators may be skipped: only when asked for by name
/// (`SIEMPROOF_SKIP_VALIDATORS=1`), never silently. CI never sets it.
pub fn may_skip_validators() -> bool {
    !in_ci() && std::env::var("SIEMPROOF_SKIP_VALIDATORS").is_ok_and(|v| v == "1")
}

/// Whether an external tool is usable: `probe` must succeed. Its absence fails the test
/// (`.ci/install.sh` installs every validator), unless `SIEMPROOF_SKIP_VALIDATORS=1` asks to
/// skip it, which is then said on stderr.
pub fn require(name: &str, probe: &mut Command) -> bool {
    let ok = probe
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            may_skip_validators(),
            "{name} is required by this test but is not usable: run `bash .ci/install.sh` (or set SIEMPROOF_SKIP_VALIDATORS=1 to skip the external validations knowingly)"
        );
        eprintln!("note: SKIPPED by SIEMPROOF_SKIP_VALIDATORS=1: {name} is not installed");
    }
    ok
}

/// A schema vendored in the repository (`tests/schemas/...`, provenance in its SOURCES.md). A
/// missing one is a failure: the validation would otherwise pass without having run.
pub fn schema(rel: &str) -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/schemas")
        .join(rel);
    assert!(
        p.is_file(),
        "{} is missing from the repository",
        p.display()
    );
    Some(p)
}

/// Copies a directory tree (regular files only).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        let t = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&p, &t);
        } else {
            std::fs::copy(&p, &t).unwrap();
        }
    }
}
