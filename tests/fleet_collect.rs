//! `siemproof fleet collect` against local mocks of the Microsoft endpoints (one per tenant,
//! on 127.0.0.1): each tenant is collected with its own credential from the fleet file (secrets
//! through named variables and files only), a refused credential is that tenant's exit 2 and
//! the fleet's while the others' bundles verify, a throttled tenant finishes, `--resume`
//! requests only what failed, only reads are sent, and no secret or token reaches the state or
//! the output. `fleet audit` then audits what was collected.

#[path = "common/child.rs"]
mod child;
#[path = "common/fleetgen.rs"]
mod fleetgen;
#[path = "common/mock/mod.rs"]
mod mock;

use child::text;
use fleetgen::{MockFleet, Spec};
use serde_json::Value;

fn status(f: &MockFleet, slug: &str) -> Value {
    serde_json::from_slice(&std::fs::read(f.state().join(slug).join("collect.json")).unwrap())
        .unwrap()
}

#[test]
fn a_fleet_collects_each_tenant_with_its_own_credential_and_isolates_a_refused_one() {
    let f = MockFleet::start(
        &[
            Spec {
                throttled: true,
                ..Spec::new("contoso", "contoso-demo")
            },
            Spec {
                secret_file: true,
                ..Spec::new("contoso-ok", "contoso-compliant")
            },
            Spec {
                wrong_secret: true,
                ..Spec::new("fabrikam", "fabrikam-misconfigured")
            },
        ],
        "tenants_at_once = 3",
    );
    let o = f.run(&["fleet", "collect", "--deadline", "30", "--timeout", "5"]);
    let out = text(&o);
    assert_eq!(
        o.status.code(),
        Some(2),
        "fabrikam's secret is wrong: {out}"
    );
    assert!(out.contains("could not collect: fabrikam"), "{out}");
    let state = f.state();
    for slug in ["contoso", "contoso-ok"] {
        let s = status(&f, slug);
        assert_eq!(s["exit"], 0, "{slug}: {s}");
        assert!(s["requests"].as_u64().unwrap() > 10, "{s}");
        siemproof::evidence::Bundle::open(&state.join(slug).join("evidence"), false)
            .unwrap_or_else(|e| panic!("{slug}: {e:#}"));
    }
    assert!(status(&f, "contoso")["throttled"].as_u64().unwrap() > 0);
    assert_eq!(status(&f, "fabrikam")["exit"], 2);
    assert!(!state.join("fabrikam/evidence").exists(), "no half bundle");
    f.assert_only_reads();
    assert!(f.leaks_in(&state).is_empty(), "{:?}", f.leaks_in(&state));
    assert!(!f.leaks(&out), "the output holds a secret");

    // Audit what was collected: fabrikam has no bundle, so it is the fleet's exit 2.
    let o = f.run(&["fleet", "audit"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(state.join("contoso/run/results.json").is_file());
    // The portfolio says why fabrikam has no results: its collection was refused.
    let portfolio = f.dir.path().join("portfolio");
    let o = f.run(&["fleet", "report", "--out", portfolio.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let p: Value =
        serde_json::from_slice(&std::fs::read(portfolio.join("portfolio.json")).unwrap()).unwrap();
    let row = p["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["slug"] == "fabrikam")
        .unwrap();
    assert_eq!(row["collect_exit"], 2, "{row}");
    assert!(row["collect_error"].is_string(), "{row}");
    assert!(text(&o).contains("collect exit 2"), "{}", text(&o));
    assert!(f.leaks_in(&portfolio).is_empty());

    // Fix fabrikam's secret and resume: only fabrikam's mock is asked anything.
    let before: Vec<usize> = f.mocks.iter().map(|m| m.requests().len()).collect();
    let kept = std::fs::read(state.join("contoso/collect.json")).unwrap();
    let i = f.index("fabrikam");
    let mut env = f.env.clone();
    for (k, v) in env.iter_mut() {
        if *k == fleetgen::secret_var(i) {
            *v = f.mocks[i].secret().to_string();
        }
    }
    let o = f.run_with(&["fleet", "collect", "--resume", "--deadline", "30"], &env);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("2 kept by --resume"), "{}", text(&o));
    let after: Vec<usize> = f.mocks.iter().map(|m| m.requests().len()).collect();
    assert_eq!(after[0], before[0], "contoso was not asked again");
    assert_eq!(after[1], before[1], "contoso-ok was not asked again");
    assert!(after[i] > before[i], "fabrikam was collected");
    assert_eq!(
        std::fs::read(state.join("contoso/collect.json")).unwrap(),
        kept
    );
    siemproof::evidence::Bundle::open(&state.join("fabrikam/evidence"), false).unwrap();
    assert!(fleetgen::leftovers(f.dir.path()).is_empty());
}

/// `--requests-in-flight N` caps the requests to Microsoft over all tenants at once, whatever
/// each tenant's `--concurrency`: three slow tenants, collected at once, never have more than
/// two requests in flight between them.
#[test]
fn the_fleets_cap_on_requests_in_flight_holds_across_tenants() {
    let gauge = std::sync::Arc::new(mock::InFlight::default());
    let specs: Vec<Spec> = ["a", "b", "c"]
        .iter()
        .map(|slug| Spec {
            latency_ms: 25,
            in_flight: Some(gauge.clone()),
            ..Spec::new(slug, "contoso-demo")
        })
        .collect();
    let f = MockFleet::start(&specs, "tenants_at_once = 3\nrequests_in_flight = 2");
    let o = f.run(&["fleet", "collect", "--concurrency", "8"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        (1..=2).contains(&gauge.max()),
        "{} requests were in flight at once",
        gauge.max()
    );
    // Without the fleet's cap, the same tenants have more in flight (so the test can fail).
    let ungauged = std::sync::Arc::new(mock::InFlight::default());
    let specs: Vec<Spec> = specs
        .into_iter()
        .map(|s| Spec {
            in_flight: Some(ungauged.clone()),
            ..s
        })
        .collect();
    let f = MockFleet::start(&specs, "tenants_at_once = 3");
    let o = f.run(&["fleet", "collect", "--concurrency", "8"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(ungauged.max() > 2, "{}", ungauged.max());
}

/// A tenant read through Azure Lighthouse: the token comes from the MSSP's home tenant and is
/// sent to ARM's delegated subscriptions only, never to Graph, the Management Activity API, the
/// Blob service or the tenant-level Entra settings (the mock refuses and records any such use);
/// what could not be read is recorded as not collected, and no check that needs it passes.
#[test]
fn a_lighthouse_tenant_reads_arm_only_and_its_unread_checks_never_pass() {
    let f = MockFleet::start(
        &[
            Spec {
                lighthouse: true,
                ..Spec::new("delegated", "contoso-demo")
            },
            Spec::new("consented", "contoso-demo"),
        ],
        "tenants_at_once = 2",
    );
    let o = f.run(&["fleet", "collect", "--deadline", "30", "--timeout", "5"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    f.assert_only_reads();
    let lh = &f.mocks[0];
    assert!(
        lh.token_tenants()
            .iter()
            .all(|t| t == fleetgen::HOME_TENANT),
        "tokens from the home tenant: {:?}",
        lh.token_tenants()
    );
    for r in lh.requests() {
        let p = r.path_and_query.to_ascii_lowercase();
        assert!(
            p.starts_with("/subscriptions/") || p.contains("/oauth2/") || p.starts_with("/api/"),
            "a Lighthouse tenant asked {p}"
        );
        assert!(!p.starts_with("/api/v1.0/"), "Management Activity API: {p}");
    }
    let bundle = f.state().join("delegated/evidence");
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(bundle.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["collector"]["auth"], "lighthouse+client_secret");
    let o = f.run(&["fleet", "audit"]);
    assert!(matches!(o.status.code(), Some(1)), "{}", text(&o));
    let results: Value = serde_json::from_slice(
        &std::fs::read(f.state().join("delegated/run/results.json")).unwrap(),
    )
    .unwrap();
    let unread = |kind: &str| {
        ["graph.", "o365.", "blob.", "amqp.", "arm.aadiam."]
            .iter()
            .any(|p| kind.starts_with(p))
    };
    let mut needing = 0;
    for c in results["checks"].as_array().unwrap() {
        let reads_unread = c["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| unread(e["kind"].as_str().unwrap()) && e["status"] != "ok");
        if reads_unread {
            needing += 1;
            assert_ne!(
                c["status"], "pass",
                "{} passed without its evidence",
                c["id"]
            );
        }
    }
    assert!(
        needing > 10,
        "{needing} checks need what Lighthouse cannot read"
    );
    // The consented tenant beside it was read in full.
    let consented: Value = serde_json::from_slice(
        &std::fs::read(f.state().join("consented/evidence/manifest.json")).unwrap(),
    )
    .unwrap();
    assert!(consented["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["kind"].as_str().unwrap().starts_with("graph.")));
}
