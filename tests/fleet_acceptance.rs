//! The fleet's acceptance test: 20 tenants, each a local mock (127.0.0.1) of the Microsoft
//! endpoints under Microsoft's documented read limits, cycling the three fixture tenants; four
//! are also throttled (two 429s per URL), two are read through Azure Lighthouse from the MSSP's
//! own tenant (ARM only), and one is refused (its secret is wrong). Collected and
//! audited in two shards, then merged into one signed portfolio, and also as one unsharded run;
//! three sampled tenants are collected and audited alone. Every guarantee is checked across the
//! whole run: only reads, no secret in any output, no temporary directory left, the throttled
//! tenants finish, the refused one is exit 2 and so is the fleet, and a tenant's results are the
//! same alone, in the fleet and in a shard.

#[path = "common/child.rs"]
mod child;
#[path = "common/fleetgen.rs"]
mod fleetgen;
#[path = "common/mock/mod.rs"]
mod mock;

use std::path::Path;
use std::time::Duration;

use child::text;
use fleetgen::{MockFleet, Spec};
use serde_json::Value;

const FIXTURES: [&str; 3] = [
    "contoso-demo",
    "contoso-compliant",
    "fabrikam-misconfigured",
];
const THROTTLED: [usize; 4] = [3, 7, 11, 15];
/// Read through Azure Lighthouse from the MSSP's home tenant (ARM only).
const LIGHTHOUSE: [usize; 2] = [8, 16];
const REFUSED: usize = 20;

fn json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .unwrap()
}

/// What must be identical however a tenant was collected and audited.
fn comparable(results: &Value) -> Value {
    let mut v = results.clone();
    let run = v["run"].as_object_mut().unwrap();
    for k in ["id", "bundle", "evidence_age", "evidence_manifest_sha256"] {
        run.remove(k);
    }
    v
}

/// The JSON paths at which `a` and `b` differ (at most 20), for a readable failure.
fn differences(a: &Value, b: &Value, at: &str, out: &mut Vec<String>) {
    if out.len() >= 20 || a == b {
        return;
    }
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys().filter(|k| !x.contains_key(*k))) {
                let (va, vb) = (x.get(k), y.get(k));
                match (va, vb) {
                    (Some(va), Some(vb)) => differences(va, vb, &format!("{at}.{k}"), out),
                    _ => out.push(format!("{at}.{k}: {va:?} vs {vb:?}")),
                }
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                differences(va, vb, &format!("{at}[{i}]"), out);
            }
        }
        _ => out.push(format!("{at}: {a} vs {b}")),
    }
}

fn assert_same(a: &Value, b: &Value, what: &str) {
    let mut d = Vec::new();
    differences(a, b, "", &mut d);
    assert!(d.is_empty(), "{what}: {d:#?}");
}

fn results_in(state: &Path, slug: &str) -> Value {
    let direct = state.join(slug).join("run/results.json");
    if direct.is_file() {
        return json(&direct);
    }
    let shard = (0..2)
        .map(|i| state.join(format!("shard-{i}-of-2")).join(slug))
        .find(|p| p.is_dir())
        .unwrap_or_else(|| panic!("{slug} is in no shard"));
    json(&shard.join("run/results.json"))
}

#[test]
fn twenty_tenants_in_two_shards_merge_into_one_signed_portfolio_with_every_guarantee() {
    let specs: Vec<Spec> = (1..=20)
        .map(|i| Spec {
            throttled: THROTTLED.contains(&i),
            wrong_secret: i == REFUSED,
            secret_file: i % 5 == 0,
            lighthouse: LIGHTHOUSE.contains(&i),
            limits: Some(mock::limits::Limits::documented()),
            ..Spec::new(&format!("t{i:02}"), FIXTURES[(i - 1) % 3])
        })
        .collect();
    let f = MockFleet::start(&specs, "name = \"Acceptance\"\ntenants_at_once = 4");
    let state = f.state();
    let fast = ["--deadline", "30", "--timeout", "5"];
    let mut outputs = String::new();

    // Two shards, collected then audited, as two pods of an Indexed Job would.
    for i in 0..2 {
        let shard = format!("{i}/2");
        let mut args = vec!["fleet", "collect", "--shard", &shard];
        args.extend(fast);
        let o = f.run(&args);
        outputs.push_str(&text(&o));
        let holds_refused = siemproof::fleet::Shard::of(&format!("t{REFUSED:02}"), 2) == i;
        assert_eq!(
            o.status.code(),
            Some(if holds_refused { 2 } else { 0 }),
            "{}",
            text(&o)
        );
        let o = f.run(&["fleet", "audit", "--shard", &shard]);
        outputs.push_str(&text(&o));
        assert!(matches!(o.status.code(), Some(1 | 2)), "{}", text(&o));
    }
    // The throttled tenants finished, with the throttling counted.
    for i in THROTTLED {
        let slug = format!("t{i:02}");
        let shard = siemproof::fleet::Shard::of(&slug, 2);
        let s = json(
            &state
                .join(format!("shard-{shard}-of-2"))
                .join(&slug)
                .join("collect.json"),
        );
        assert_eq!(s["exit"], 0, "{slug}: {s}");
        assert!(s["throttled"].as_u64().unwrap() > 0, "{slug}: {s}");
    }

    // The Lighthouse tenants were read through ARM only and say so.
    for i in LIGHTHOUSE {
        let slug = format!("t{i:02}");
        let shard = siemproof::fleet::Shard::of(&slug, 2);
        let m = json(
            &state
                .join(format!("shard-{shard}-of-2"))
                .join(&slug)
                .join("evidence/manifest.json"),
        );
        assert_eq!(m["collector"]["auth"], "lighthouse+client_secret", "{slug}");
        assert!(
            f.mocks[i - 1]
                .requests()
                .iter()
                .all(|r| !r.path_and_query.starts_with("/v1.0/")),
            "{slug} asked Graph"
        );
    }

    // The merge: one signed portfolio over both shards.
    let keys = f.dir.path().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let o = child::siemproof(
        &[
            "keygen",
            "--unencrypted",
            "--out",
            keys.join("k").to_str().unwrap(),
        ],
        &child::env_of(&f.env),
        Duration::from_secs(30),
    );
    assert!(o.status.success(), "{}", text(&o));
    let portfolio = f.dir.path().join("portfolio");
    let o = f.run(&[
        "fleet",
        "report",
        "--out",
        portfolio.to_str().unwrap(),
        "--sign",
        keys.join("k.key").to_str().unwrap(),
    ]);
    outputs.push_str(&text(&o));
    assert_eq!(o.status.code(), Some(2), "the refused tenant: {}", text(&o));
    let p = json(&portfolio.join("portfolio.json"));
    assert_eq!(p["tenants_total"], 20);
    assert_eq!(p["exit"], 2);
    let rows = p["tenants"].as_array().unwrap();
    assert_eq!(rows[0]["slug"], format!("t{REFUSED:02}"), "worst first");
    assert_eq!(rows[0]["results"], false);
    assert_eq!(rows.iter().filter(|r| r["results"] == true).count(), 19);
    let o = child::siemproof(
        &[
            "verify",
            portfolio.to_str().unwrap(),
            "--pubkey",
            keys.join("k.pub").to_str().unwrap(),
        ],
        &child::env_of(&f.env),
        Duration::from_secs(60),
    );
    assert!(o.status.success(), "{}", text(&o));

    // The same fleet unsharded, into another state: the same portfolio.
    let whole = f.dir.path().join("whole");
    let mut args = vec!["fleet", "collect", "--state", whole.to_str().unwrap()];
    args.extend(fast);
    let o = f.run(&args);
    outputs.push_str(&text(&o));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = f.run(&["fleet", "audit", "--state", whole.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let one = f.dir.path().join("one");
    let o = f.run(&[
        "fleet",
        "report",
        "--from",
        whole.to_str().unwrap(),
        "--out",
        one.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));

    // Three sampled tenants (one of each fixture), collected and audited alone.
    for i in [1usize, 2, 6] {
        let slug = format!("t{i:02}");
        let m = &f.mocks[i - 1];
        let mut env = f.env.clone();
        env.push(("AZURE_TENANT_ID".into(), m.tenant_id.clone()));
        env.push(("AZURE_CLIENT_ID".into(), m.client_id().to_string()));
        env.push(("AZURE_CLIENT_SECRET".into(), m.secret().to_string()));
        let alone = f.dir.path().join("alone").join(&slug);
        let cfg = f.dir.path().join("tenants").join(format!("{slug}.toml"));
        let mut args = vec![
            "collect",
            "--config",
            cfg.to_str().unwrap(),
            "--out",
            alone.to_str().unwrap(),
        ];
        args.extend(fast);
        let o = child::siemproof(&args, &child::env_of(&env), Duration::from_secs(120));
        outputs.push_str(&text(&o));
        assert!(o.status.success(), "{slug}: {}", text(&o));
        let report = f.dir.path().join("alone-report").join(&slug);
        let o = child::siemproof(
            &[
                "audit",
                alone.to_str().unwrap(),
                "--format",
                "json",
                "--out",
                report.to_str().unwrap(),
            ],
            &child::env_of(&env),
            Duration::from_secs(60),
        );
        assert!(matches!(o.status.code(), Some(0 | 1)), "{}", text(&o));
        let a = comparable(&json(&report.join("results.json")));
        assert_same(
            &a,
            &comparable(&results_in(&state, &slug)),
            &format!("{slug}: alone vs shard"),
        );
        assert_same(
            &a,
            &comparable(&results_in(&whole, &slug)),
            &format!("{slug}: alone vs fleet"),
        );
    }
    let strip = |mut p: Value| -> Value {
        p.as_object_mut().unwrap().remove("generated_at");
        for t in p["tenants"].as_array_mut().unwrap() {
            let t = t.as_object_mut().unwrap();
            for k in [
                "from",
                "results_sha256",
                "evidence_manifest_sha256",
                "error",
            ] {
                t.remove(k);
            }
        }
        p
    };
    assert_same(
        &strip(json(&portfolio.join("portfolio.json"))),
        &strip(json(&one.join("portfolio.json"))),
        "two shards merged = one run",
    );

    // Across everything: reads only, no secret anywhere, nothing left behind.
    f.assert_only_reads();
    // Every output: the states, the portfolios, the lone bundles and reports (the inputs, the
    // secret files and the mock's own env files, hold secrets by design).
    for out in [&state, &whole, &portfolio, &one]
        .into_iter()
        .cloned()
        .chain(["alone", "alone-report"].map(|d| f.dir.path().join(d)))
    {
        let leaks = f.leaks_in(&out);
        assert!(leaks.is_empty(), "{leaks:?}");
    }
    assert!(!f.leaks(&outputs), "a secret reached the output");
    assert!(fleetgen::leftovers(f.dir.path()).is_empty());
}
