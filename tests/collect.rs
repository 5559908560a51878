//! The collector against the local mock of the Microsoft endpoints (tests/common/mock): round
//! trips over every fixture tenant, each locally runnable credential type through the real
//! azure_identity code, every injectable fault, the read-only guarantee and secret canaries.
//!
//! Every test starts its own mock on 127.0.0.1 with an ephemeral port and runs the real
//! `siemproof` binary with a bounded wait; nothing reaches the internet.

#[path = "common/child.rs"]
mod child;
#[path = "common/mock/mod.rs"]
mod mock;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use child::siemproof;
use mock::{Faults, Mock, MockOptions};
use serde_json::Value;

const AS_OF: &str = "2026-11-20T09:00:00Z";
const DEMO: &str = "fixtures/tenants/contoso-demo";
/// QRadar and Splunk, both with the opt-in searches (Ariel and export POSTs).
const COMPLIANT: &str = "fixtures/tenants/contoso-compliant";
/// QRadar and Elastic (Fleet on Kibana, data stream stats on Elasticsearch).
const FABRIKAM: &str = "fixtures/tenants/fabrikam-misconfigured";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn tenants() -> Vec<PathBuf> {
    let dir = root().join("fixtures/tenants");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("manifest.json").is_file())
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no fixture tenant in {}", dir.display());
    v
}

struct Run {
    out: Output,
    bundle: PathBuf,
    _dir: tempfile::TempDir,
}

impl Run {
    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.stdout).into_owned()
    }
    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).into_owned()
    }
    fn manifest(&self) -> Value {
        serde_json::from_slice(&std::fs::read(self.bundle.join("manifest.json")).expect("manifest"))
            .expect("json")
    }
    /// Failed items as `kind: code`.
    fn failures(&self) -> Vec<String> {
        self.manifest()["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter(|i| i["path"].is_null())
            .map(|i| {
                format!(
                    "{}: {}",
                    i["kind"].as_str().unwrap_or(""),
                    i["error"]["code"].as_str().unwrap_or("")
                )
            })
            .collect()
    }
}

fn secret_env(m: &Mock) -> Vec<(&'static str, String)> {
    vec![
        ("AZURE_TENANT_ID", m.tenant_id.clone()),
        ("AZURE_CLIENT_ID", m.client_id().to_string()),
        ("AZURE_CLIENT_SECRET", m.secret().to_string()),
        ("QRADAR_TOKEN", m.siem_token()),
        ("SPLUNK_TOKEN", m.splunk_token()),
        ("ELASTIC_API_KEY", m.elastic_key()),
        ("SSL_CERT_FILE", m.ca_file().display().to_string()),
    ]
}

/// Collects from `m` into a fresh directory.
fn collect(m: &Mock, extra: &[&str], env: Vec<(&'static str, String)>) -> Run {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("siemproof.toml");
    m.write_config(&cfg).expect("write config");
    let bundle = dir.path().join("evidence");
    let mut args = vec![
        "collect",
        "--config",
        cfg.to_str().expect("utf8"),
        "--out",
        bundle.to_str().expect("utf8"),
    ];
    args.extend_from_slice(extra);
    // The AMQP client trusts the OS store: the mock's CA goes in by SSL_CERT_FILE.
    let mut env = env;
    if !env.iter().any(|(k, _)| *k == "SSL_CERT_FILE") {
        env.push(("SSL_CERT_FILE", m.ca_file().display().to_string()));
    }
    let out = siemproof(&args, &env, Duration::from_secs(120));
    Run {
        out,
        bundle,
        _dir: dir,
    }
}

fn start(tenant: &str, opts: MockOptions) -> Mock {
    Mock::start(&root().join(tenant), opts).expect("mock starts")
}

/// Fast retries so fault tests stay short (still bounded by the deadline).
const FAST: &[&str] = &["--deadline", "20", "--timeout", "5"];

/// The comparable part of results.json: per check, status, reason, evidence statuses, findings.
fn audit(bundle: &Path, config: Option<&Path>) -> Value {
    let out_dir = tempfile::tempdir().expect("tempdir");
    let mut args = vec![
        "audit".to_string(),
        bundle.display().to_string(),
        "--out".into(),
        out_dir.path().display().to_string(),
        "--format".into(),
        "json".into(),
        "--as-of".into(),
        AS_OF.into(),
        "--fail-on".into(),
        "never".into(),
        "--fail-on-unassessed".into(),
        "none".into(),
    ];
    if let Some(c) = config {
        args.push("--config".into());
        args.push(c.display().to_string());
    }
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = siemproof(&a, &[], Duration::from_secs(60));
    assert!(
        out.status.success(),
        "audit {}: {}",
        bundle.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(
        &std::fs::read(out_dir.path().join("results.json")).expect("results.json"),
    )
    .expect("json");
    let checks: Vec<Value> = r["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .map(|c| {
            let ev: Vec<Value> = c["evidence"]
                .as_array()
                .map(|e| {
                    e.iter()
                        .map(|x| serde_json::json!([x["kind"], x["status"]]))
                        .collect()
                })
                .unwrap_or_default();
            serde_json::json!({
                "id": c["id"], "status": c["status"], "reason": c["reason"],
                "evidence": ev, "findings": c["findings"],
            })
        })
        .collect();
    serde_json::json!({"checks": checks, "coverage": r["coverage"]})
}

/// The fixture without what `collect` cannot produce (probe results, attestations), so that
/// the comparison is about the collector.
fn online_part(fixture: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut m: Value =
        serde_json::from_slice(&std::fs::read(fixture.join("manifest.json")).expect("manifest"))
            .expect("json");
    let items = m["items"].as_array_mut().expect("items");
    items.retain(|i| {
        let k = i["kind"].as_str().unwrap_or("");
        !(k.starts_with("probe.") || k == "attestation")
    });
    for i in items.iter() {
        if let Some(p) = i["path"].as_str() {
            let to = dir.path().join(p);
            std::fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
            std::fs::copy(fixture.join(p), to).expect("copy");
        }
    }
    m.as_object_mut().expect("object").remove("contributors");
    std::fs::write(
        dir.path().join("manifest.json"),
        serde_json::to_vec_pretty(&m).expect("json"),
    )
    .expect("write");
    dir
}

/// The normalised model of a bundle under a config, at the pinned audit clock.
fn model(bundle: &Path, config: &Path) -> Value {
    let b = siemproof::evidence::Bundle::open(bundle, false).expect("bundle");
    let cfg = siemproof::config::Config::load(config).expect("config");
    let as_of = siemproof::audit::parse_as_of(AS_OF).expect("as_of");
    serde_json::to_value(siemproof::normalize::normalize(&b, &cfg, as_of, &[]).expect("verified"))
        .expect("model")
}

#[test]
fn round_trip_every_fixture_tenant() {
    for t in tenants() {
        let m = Mock::start(&t, MockOptions::default()).expect("mock");
        let run = collect(&m, &[], secret_env(&m));
        assert!(
            run.out.status.success(),
            "{}: {}",
            t.display(),
            run.stderr()
        );
        siemproof::evidence::Bundle::open(&run.bundle, false)
            .unwrap_or_else(|e| panic!("{}: collected bundle does not verify: {e}", t.display()));
        let reference = online_part(&t);
        let config = t.join("siemproof.toml");
        let expected = audit(reference.path(), Some(&config));
        let actual = audit(&run.bundle, Some(&config));
        let (a, e) = (
            serde_json::to_string_pretty(&actual).expect("json"),
            serde_json::to_string_pretty(&expected).expect("json"),
        );
        if a != e {
            // The first lines that differ, not two whole result sets.
            let diff: Vec<String> = a
                .lines()
                .zip(e.lines())
                .enumerate()
                .filter(|(_, (x, y))| x != y)
                .take(12)
                .map(|(n, (x, y))| format!("line {n}: collected {x:?} / fixture {y:?}"))
                .collect();
            panic!(
                "{}: auditing the collected bundle differs from auditing the fixture:\n{}",
                t.display(),
                diff.join("\n")
            );
        }
        // Stronger than the (growing) catalogue: the normalised models are equal too.
        assert_eq!(
            serde_json::to_string_pretty(&model(&run.bundle, &config)).expect("json"),
            serde_json::to_string_pretty(&model(reference.path(), &config)).expect("json"),
            "{}: the normalised model of the collected bundle differs",
            t.display()
        );
        // The bundled config is the one collect used (cloud = custom, pointing at the mock).
        let bundled = std::fs::read_to_string(run.bundle.join("siemproof.toml")).expect("config");
        assert!(bundled.contains("custom"), "{bundled}");
    }
}

/// The model as the batched read and the per-namespace read must agree on it: without the
/// files each kind's state names (they are other files) and the batch kind's own state.
fn model_without_files(bundle: &Path, config: &Path) -> Value {
    let mut m = model(bundle, config);
    if let Some(ev) = m["evidence"].as_object_mut() {
        ev.remove("metrics.eventhub.batch");
        for st in ev.values_mut() {
            if let Some(o) = st.as_object_mut() {
                o.remove("files");
            }
        }
    }
    m
}

/// Auditing `bundle` gives what auditing the fixture tenant it was collected from gives.
fn assert_audits_as_the_fixture(bundle: &Path, fixture: &Path) {
    let config = fixture.join("siemproof.toml");
    let reference = online_part(fixture);
    assert_eq!(
        audit(bundle, Some(&config)),
        audit(reference.path(), Some(&config)),
        "{}: auditing the collected bundle differs",
        fixture.display()
    );
}

fn is_batch(s: &mock::Seen) -> bool {
    s.method == "POST" && s.path_and_query.contains("/metrics:getBatch?")
}

fn is_per_namespace_metrics(s: &mock::Seen) -> bool {
    s.method == "GET"
        && s.path_and_query
            .to_ascii_lowercase()
            .contains("/providers/microsoft.insights/metrics?")
}

fn getbatch(f: Faults) -> MockOptions {
    MockOptions {
        getbatch: true,
        faults: f,
        ..MockOptions::default()
    }
}

/// Azure Monitor's batched metrics read (metrics:getBatch) in place of one ARM read per
/// namespace: the same audit and the same model from every fixture tenant, fewer requests.
#[test]
fn the_batched_metrics_read_audits_and_models_as_the_per_namespace_read() {
    for t in tenants() {
        let m = Mock::start(&t, getbatch(Faults::default())).expect("mock");
        let run = collect(&m, &[], secret_env(&m));
        assert!(
            run.out.status.success(),
            "{}: {}",
            t.display(),
            run.stderr()
        );
        let seen = m.requests();
        let batches: Vec<_> = seen.iter().filter(|s| is_batch(s)).collect();
        assert!(!batches.is_empty(), "{}: no batched read", t.display());
        assert!(
            !seen.iter().any(is_per_namespace_metrics),
            "{}: a per-namespace metrics read beside the batch",
            t.display()
        );
        for b in &batches {
            assert_eq!(b.status, 200, "{}: {}", t.display(), b.path_and_query);
        }
        // The mock answers in the published shape: each entry has the keys of Microsoft's
        // example entry (MetricBatchExample.json), no more and no fewer.
        let published: Value = serde_json::from_str(
            &std::fs::read_to_string(
                root()
                    .join("fixtures/published/metrics.eventhub.batch/metric-batch-2023-10-01.json"),
            )
            .unwrap(),
        )
        .unwrap();
        let keys = |v: &Value| -> Vec<String> {
            let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
            k.sort();
            k
        };
        let dir = run.bundle.join("raw/metrics");
        let file = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .next()
            .expect("a batch file")
            .unwrap()
            .path();
        let answer: Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
        for v in answer["values"].as_array().expect("values") {
            assert_eq!(keys(v), keys(&published["values"][0]), "{}", t.display());
        }
        assert_audits_as_the_fixture(&run.bundle, &t);
        let config = t.join("siemproof.toml");
        let reference = online_part(&t);
        assert_eq!(
            serde_json::to_string_pretty(&model_without_files(&run.bundle, &config)).unwrap(),
            serde_json::to_string_pretty(&model_without_files(reference.path(), &config)).unwrap(),
            "{}: the batched bundle's model differs",
            t.display()
        );
        // `--metrics per-resource` reads as before.
        let m = Mock::start(&t, getbatch(Faults::default())).expect("mock");
        let per = collect(&m, &["--metrics", "per-resource"], secret_env(&m));
        assert!(per.out.status.success(), "{}", per.stderr());
        let seen = m.requests();
        assert!(!seen.iter().any(is_batch), "{}", t.display());
        assert!(seen.iter().any(is_per_namespace_metrics), "{}", t.display());
    }
}

/// Without Monitoring Reader on the subscription the batch is refused ("the request fails");
/// the collector reads those namespaces one by one through ARM and the audit is as if it had
/// never batched.
#[test]
fn a_refused_batch_is_read_again_per_namespace() {
    let m = start(
        DEMO,
        getbatch(Faults {
            forbidden_kinds: vec!["metrics.eventhub.batch".into()],
            ..Faults::default()
        }),
    );
    let run = collect(&m, &[], secret_env(&m));
    assert!(run.out.status.success(), "{}", run.stderr());
    let seen = m.requests();
    let refused: Vec<_> = seen.iter().filter(|s| is_batch(s)).collect();
    assert_eq!(refused.len(), 1, "two namespaces, one region: one batch");
    assert_eq!(refused[0].status, 403);
    let again: Vec<_> = seen
        .iter()
        .filter(|s| is_per_namespace_metrics(s))
        .collect();
    assert_eq!(again.len(), 2, "each namespace read again");
    assert!(again.iter().all(|s| s.status == 200));
    assert_audits_as_the_fixture(&run.bundle, &root().join(DEMO));
}

/// The batch API says "throttled" with 529: retried with backoff, and counted on its plane.
#[test]
fn a_throttled_batch_is_retried_and_counted() {
    let m = start(
        DEMO,
        getbatch(Faults {
            throttle: 1,
            only_kinds: vec!["metrics.eventhub.batch".into()],
            ..Faults::default()
        }),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let stats = dir.path().join("stats.json");
    let stats_arg = stats.display().to_string();
    let mut args = vec!["--stats", stats_arg.as_str()];
    args.extend_from_slice(FAST);
    let run = collect(&m, &args, secret_env(&m));
    assert!(run.out.status.success(), "{}", run.stderr());
    let statuses: Vec<u16> = m
        .requests()
        .iter()
        .filter(|s| is_batch(s))
        .map(|s| s.status)
        .collect();
    assert_eq!(statuses, [529, 200]);
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&stats).unwrap()).unwrap();
    let plane = v["planes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["plane"] == "metrics")
        .cloned()
        .expect("a metrics plane");
    assert_eq!(
        (plane["requests"].as_u64(), plane["throttled"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(plane["retries"].as_u64(), Some(1));
    assert_audits_as_the_fixture(&run.bundle, &root().join(DEMO));
}

#[test]
fn client_secret_credential_and_manifest_identity() {
    let m = start(DEMO, MockOptions::default());
    let run = collect(&m, &["--auth", "secret"], secret_env(&m));
    assert!(run.out.status.success(), "{}", run.stderr());
    let man = run.manifest();
    assert_eq!(man["collector"]["auth"], "client_secret");
    assert_eq!(man["collector"]["app_id"], m.client_id());
    assert!(!m.issued_tokens().is_empty());
    // Tokens come from azure_identity's own cache (siemproof keeps none for this credential):
    // one request per audience (ARM, Graph, Office 365, Storage, Event Hubs), not one per read.
    let seen = m.requests();
    let token_posts = seen
        .iter()
        .filter(|s| s.method == "POST" && s.path_and_query.contains("/oauth2/v2.0/token"))
        .count();
    let reads = seen.iter().filter(|s| s.method == "GET").count();
    assert!(reads > 20, "{reads}");
    assert!(
        (1..=5).contains(&token_posts),
        "{token_posts} token requests for {reads} reads"
    );
}

#[test]
fn client_certificate_credential() {
    let m = start(DEMO, MockOptions::default());
    let dir = tempfile::tempdir().expect("tempdir");
    let p12 = dir.path().join("client.pfx");
    std::fs::write(&p12, m.pkcs12()).expect("write pfx");
    let env = vec![
        ("AZURE_TENANT_ID", m.tenant_id.clone()),
        ("AZURE_CLIENT_ID", m.client_id().to_string()),
        ("AZURE_CLIENT_CERTIFICATE_PATH", p12.display().to_string()),
    ];
    let run = collect(&m, &["--auth", "certificate"], env);
    assert!(run.out.status.success(), "{}", run.stderr());
    assert_eq!(run.manifest()["collector"]["auth"], "client_certificate");
    // The fixture's own recorded failures are the only ones.
    assert!(
        run.failures()
            .iter()
            .all(|f| !f.contains("TokenRequestFailed")),
        "{:?}",
        run.failures()
    );
}

#[test]
fn workload_identity_credential_with_a_token_file() {
    let m = start(DEMO, MockOptions::default());
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("federated-token");
    std::fs::write(&file, m.federated_token()).expect("write token");
    let env = vec![
        ("AZURE_TENANT_ID", m.tenant_id.clone()),
        ("AZURE_CLIENT_ID", m.client_id().to_string()),
        ("AZURE_FEDERATED_TOKEN_FILE", file.display().to_string()),
    ];
    // `default` picks workload identity from the environment.
    let run = collect(&m, &[], env);
    assert!(run.out.status.success(), "{}", run.stderr());
    assert_eq!(run.manifest()["collector"]["auth"], "workload_identity");
}

#[test]
fn a_wrong_secret_is_a_clear_error_and_leaves_no_bundle() {
    let m = start(DEMO, MockOptions::default());
    let mut env = secret_env(&m);
    env[2].1 = "not-the-secret-0123456789".into();
    let run = collect(&m, &["--auth", "secret"], env);
    assert_eq!(run.out.status.code(), Some(2), "{}", run.stdout());
    let err = run.stderr();
    assert!(err.contains("AADSTS7000215"), "{err}");
    assert!(!err.contains("not-the-secret"), "{err}");
    assert!(!run.bundle.exists());
    assert!(m.issued_tokens().is_empty());
}

fn faults(f: Faults) -> MockOptions {
    MockOptions {
        faults: f,
        ..MockOptions::default()
    }
}

/// The fixture's own recorded failures (the baseline every transient fault must return to).
fn baseline() -> Vec<String> {
    let m = start(DEMO, MockOptions::default());
    let mut f = collect(&m, &[], secret_env(&m)).failures();
    f.sort();
    f
}

/// Collects the demo tenant from a mock with `opts`: it must succeed after retrying, with the
/// fixture's own failures only, into a valid bundle.
fn collect_recovering(opts: MockOptions, extra: &[&str]) -> (Mock, Run) {
    let what = format!("{:?} {:?} {extra:?}", opts.faults, opts.limits);
    let m = start(DEMO, opts);
    let mut args = FAST.to_vec();
    args.extend_from_slice(extra);
    let run = collect(&m, &args, secret_env(&m));
    assert!(run.out.status.success(), "{what}: {}", run.stderr());
    let mut got = run.failures();
    got.sort();
    assert_eq!(got, baseline(), "{what}");
    assert!(run.stdout().contains(" retries"), "{}", run.stdout());
    siemproof::evidence::Bundle::open(&run.bundle, false).expect("valid bundle");
    (m, run)
}

fn assert_recovers(f: Faults) {
    collect_recovering(faults(f), &[]);
}

#[test]
fn throttling_with_retry_after_is_waited_out() {
    // Two 429s per URL (403 AF429 on the Management Activity API), fractional Retry-After.
    assert_recovers(Faults {
        throttle: 2,
        retry_after: Some("0.2".into()),
        ..Faults::default()
    });
}

#[test]
fn microsofts_read_limits_are_waited_out() {
    // Microsoft's limits in shape, with buckets small enough for the demo tenant to run dry:
    // ARM answers 429 + Retry-After, the Management Activity API 403 AF429. Unpaced, so that
    // the retry loop meets them (the pacer has its own test). Graph's report limit stays as
    // documented (5 per 10 s), which the collector's window keeps to even unpaced.
    let mut l = mock::limits::Limits::documented();
    let small = mock::limits::Rate {
        burst: 4.0,
        per_second: 40.0,
    };
    (l.arm_reads, l.arm_tenant_reads, l.activity) = (small, small, small);
    let (m, _) = collect_recovering(
        MockOptions {
            limits: Some(l),
            ..MockOptions::default()
        },
        &["--no-pacing"],
    );
    let c = m.throttle_counts().expect("limits are on");
    let refused = |prefix: &str| -> u64 {
        c.refused
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(_, n)| n)
            .sum()
    };
    assert!(refused("arm/") > 0, "{c:?}");
    assert!(refused("activity/") > 0, "{c:?}");
    assert_eq!(refused("graph-reports/"), 0, "{c:?}");
}

#[test]
fn graphs_resource_unit_limit_is_waited_out_and_learnt() {
    // Graph's identity and access limit in resource units, small enough for the demo tenant's
    // reads (1 to 3 RU each) to run it dry. Unpaced, the retry loop meets its 429s; paced, the
    // pacer also learns the limit from `x-ms-throttle-limit-percentage` and the 429s' hold.
    let mut l = mock::limits::Limits::documented();
    l.graph_ru = mock::limits::Rate {
        burst: 6.0,
        per_second: 30.0,
    };
    let refused = |m: &Mock| -> u64 {
        let c = m.throttle_counts().expect("limits are on");
        c.refused
            .iter()
            .filter(|(k, _)| k.starts_with("graph-ru/"))
            .map(|(_, n)| n)
            .sum()
    };
    let (unpaced, _) = collect_recovering(
        MockOptions {
            limits: Some(l),
            ..MockOptions::default()
        },
        &["--no-pacing"],
    );
    assert!(refused(&unpaced) > 0, "the limit was never reached");
    let (paced, _) = collect_recovering(
        MockOptions {
            limits: Some(l),
            ..MockOptions::default()
        },
        &[],
    );
    let served = |m: &Mock| -> u64 {
        m.throttle_counts()
            .unwrap()
            .served
            .iter()
            .filter(|(k, _)| k.starts_with("graph-ru/"))
            .map(|(_, n)| n)
            .sum()
    };
    // Every identity read answered once, paced or not, and none given up on.
    assert_eq!(served(&paced), served(&unpaced));
    assert!(served(&paced) >= 5, "{}", served(&paced));
}

#[test]
fn per_plane_stats_count_what_the_mock_saw() {
    // Every request is throttled once (429, or 403 AF429 for the Management Activity API) and
    // answered on the re-send: the stats must count each attempt and each throttled answer on
    // the plane the mock saw it on.
    let m = start(
        DEMO,
        faults(Faults {
            throttle: 1,
            retry_after: Some("0".into()),
            ..Faults::default()
        }),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let stats_path = dir.path().join("stats.json");
    let stats_arg = stats_path.display().to_string();
    let mut args = vec!["--stats", stats_arg.as_str()];
    args.extend_from_slice(FAST);
    let run = collect(&m, &args, secret_env(&m));
    assert!(run.out.status.success(), "{}", run.stderr());
    let text = std::fs::read_to_string(&stats_path).expect("stats written");
    let stats: Value = serde_json::from_str(&text).expect("stats json");
    assert_eq!(stats["format"], "siemproof-collect-stats/1");
    let seen = m.requests();
    type Class = fn(&str) -> bool;
    let classes: [(&str, Class); 3] = [
        ("arm", |p| {
            p.starts_with("/subscriptions/") || p.starts_with("/providers/")
        }),
        ("graph", |p| {
            p.starts_with("/v1.0/") || p.starts_with("/beta/")
        }),
        ("o365", |p| p.contains("/activity/feed/")),
    ];
    for (plane, is) in classes {
        let sent: Vec<_> = seen
            .iter()
            .filter(|r| r.method == "GET" && is(&r.path_and_query))
            .collect();
        let throttled = sent
            .iter()
            .filter(|r| r.status == 429 || (plane == "o365" && r.status == 403))
            .count() as u64;
        let p = stats["planes"]
            .as_array()
            .expect("planes")
            .iter()
            .find(|p| p["plane"] == plane)
            .unwrap_or_else(|| panic!("{plane} in {text}"));
        assert!(!sent.is_empty() && throttled > 0, "{plane}: {sent:?}");
        assert_eq!(p["requests"], sent.len() as u64, "{plane}: {text}");
        assert_eq!(p["throttled"], throttled, "{plane}: {text}");
        assert_eq!(p["retries"], throttled, "{plane}: {text}");
        let line = format!(
            "  {:9} {} requests, {throttled} throttled",
            format!("{plane}:"),
            sent.len()
        );
        assert!(run.stdout().contains(&line), "{line:?} in {}", run.stdout());
    }
    // The stats describe the collector: no URL, query or token of the tenant's requests.
    for needle in ["api-version", "https://", "Bearer", m.secret()] {
        assert!(!text.contains(needle), "{needle} in {text}");
    }
    // A file that is not an earlier stats file is the user's: refused before any request.
    let mine = dir.path().join("notes.json");
    std::fs::write(&mine, "keep me").expect("write");
    let before = m.requests().len();
    let mine_arg = mine.display().to_string();
    let refused = collect(&m, &["--stats", mine_arg.as_str()], secret_env(&m));
    assert_eq!(refused.out.status.code(), Some(2), "{}", refused.stderr());
    assert!(
        refused.stderr().contains("notes.json"),
        "{}",
        refused.stderr()
    );
    assert_eq!(std::fs::read(&mine).expect("read"), b"keep me");
    assert_eq!(m.requests().len(), before, "requests sent before refusing");
}

/// A tenant generated by `examples/gen-tenant` (built by README's test command).
fn generated_tenant(dir: &Path, namespaces: usize) -> PathBuf {
    generated_tenant_at(dir, namespaces, 0)
}

/// Tenant `index` of a generated fleet (0 is the default tenant).
fn generated_tenant_at(dir: &Path, namespaces: usize, index: usize) -> PathBuf {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_siemproof"));
    let gen = bin
        .parent()
        .expect("target dir")
        .join("examples/gen-tenant");
    assert!(
        gen.is_file(),
        "{} is not built: run the suite as README says (`cargo build --examples && cargo test --all-targets`)",
        gen.display()
    );
    let out = dir.join(format!("tenant-{index}"));
    let status = Command::new(&gen)
        .args(["--namespaces", &namespaces.to_string()])
        .args(["--index", &index.to_string()])
        .arg("--out")
        .arg(&out)
        .stdout(Stdio::null())
        .status()
        .expect("gen-tenant runs");
    assert!(status.success(), "gen-tenant failed");
    out
}

/// `gen-tenant --index K` gives each tenant of a generated fleet its own tenant and
/// subscription ids, everywhere they appear (manifest, config, URLs), and index 0 is the
/// default tenant.
#[test]
fn generated_tenants_of_a_fleet_have_distinct_ids() {
    let dir = tempfile::tempdir().unwrap();
    let ids: Vec<(String, String)> = (0..3)
        .map(|k| {
            let t = generated_tenant_at(dir.path(), 2, k);
            let m: Value =
                serde_json::from_slice(&std::fs::read(t.join("manifest.json")).unwrap()).unwrap();
            let tenant = m["tenant_id"].as_str().unwrap().to_string();
            let cfg = siemproof::config::Config::load(&t.join("siemproof.toml")).unwrap();
            assert_eq!(cfg.tenant.id, tenant, "config and manifest agree");
            let sub = cfg.eventhub.subscription_id.clone();
            let urls: Vec<&str> = m["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|i| i["source"]["url"].as_str())
                .collect();
            assert!(
                urls.iter().any(|u| u.contains(&sub)),
                "{k}: sub in the ARM URLs"
            );
            assert!(
                urls.iter().any(|u| u.contains(&tenant)),
                "{k}: tenant in the O365 URLs"
            );
            (tenant, sub)
        })
        .collect();
    assert_eq!(
        ids[0].0, "6f1c2b4e-3d5a-4e8f-9a7b-1c2d3e4f5a6b",
        "index 0 is the default"
    );
    for (i, a) in ids.iter().enumerate() {
        for b in &ids[i + 1..] {
            assert!(a.0 != b.0 && a.1 != b.1, "{a:?} vs {b:?}");
        }
    }
}

#[test]
fn a_limit_held_past_the_deadline_fails_the_requests_under_it_at_once() {
    // ARM's bucket refills so slowly that its Retry-After is some 1,000 s, far past the 20 s
    // deadline. The requests under that limit must be recorded as throttled without being
    // sent, not each held (with its concurrency slot) until its deadline.
    let mut l = mock::limits::Limits::documented();
    l.arm_reads = mock::limits::Rate {
        burst: 3.0,
        per_second: 0.001,
    };
    let m = start(
        DEMO,
        MockOptions {
            limits: Some(l),
            ..MockOptions::default()
        },
    );
    let started = Instant::now();
    let run = collect(&m, FAST, secret_env(&m));
    assert!(
        matches!(run.out.status.code(), Some(0 | 3)),
        "{}",
        run.stderr()
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "requests waited for their deadline: {:?}",
        started.elapsed()
    );
    let c = m.throttle_counts().expect("limits on");
    let refused: u64 = c
        .refused
        .iter()
        .filter(|(k, _)| k.starts_with("arm/"))
        .map(|(_, n)| n)
        .sum();
    // Only what was already in flight when the first 429 came back reached ARM.
    assert!((1..=8).contains(&refused), "{c:?}");
    let items = run.manifest()["items"].as_array().expect("items").clone();
    let held = items
        .iter()
        .filter(|i| {
            i["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("not sent, the rate limit it falls under is held"))
        })
        .count();
    assert!(held > 0, "{items:#?}");
}

#[test]
fn a_generated_tenant_answers_every_request_the_collector_makes() {
    // The benchmarks' tenants must be read as a real tenant is: every request answered with
    // data, no 404 standing in for it (which would make requests cheaper than they are).
    let dir = tempfile::tempdir().expect("tempdir");
    let tenant = generated_tenant(dir.path(), 3);
    let m = Mock::start(&tenant, MockOptions::default()).expect("mock starts");
    let run = collect(&m, FAST, secret_env(&m));
    assert_eq!(run.out.status.code(), Some(0), "{}", run.stdout());
    let refused: Vec<_> = m
        .requests()
        .into_iter()
        .filter(|r| r.status >= 400)
        .map(|r| format!("{} {} {}", r.method, r.path_and_query, r.status))
        .collect();
    assert!(refused.is_empty(), "{refused:#?}");
    assert_eq!(run.failures(), Vec::<String>::new());
    let kinds: std::collections::BTreeSet<String> = run.manifest()["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["kind"].as_str().map(str::to_string))
        .collect();
    for k in [
        "graph.applications",
        "graph.service_principals",
        "graph.directory_audits",
        "graph.sign_ins",
        "arm.aadiam.diagnostic_categories",
        "blob.checkpoints",
        "blob.leases",
        "amqp.partitions",
    ] {
        assert!(kinds.contains(k), "{k} not collected: {kinds:?}");
    }
    audit(&run.bundle, None);
}

#[test]
fn the_pacer_reads_a_large_tenant_within_arms_bucket_with_almost_no_429s() {
    // ARM's documented shape with a bucket of 50 refilled at 100/s, and a tenant of some 600
    // ARM reads: far more than the bucket holds, so the bucket runs dry. The collector is told
    // the refill (--pace-scale 4 is 100/s); the bucket's size it learns from the
    // x-ms-ratelimit-remaining-* headers. Without pacing the same run is throttled, so the
    // test shows what pacing does, not only that the limits were loose.
    let dir = tempfile::tempdir().expect("tempdir");
    let tenant = generated_tenant(dir.path(), 60);
    let mut limits = mock::limits::Limits::scaled(4.0);
    limits.arm_reads.burst = 50.0;
    let run_with = |extra: &[&str]| {
        let m = Mock::start(
            &tenant,
            MockOptions {
                limits: Some(limits),
                ..MockOptions::default()
            },
        )
        .expect("mock starts");
        let stats = dir.path().join("stats.json");
        let stats_arg = stats.display().to_string();
        let mut args = vec![
            "--pace-scale",
            "4",
            "--stats",
            stats_arg.as_str(),
            "--deadline",
            "60",
        ];
        args.extend_from_slice(extra);
        let run = collect(&m, &args, secret_env(&m));
        // Unpaced, so little may be answered that the run exits 3; paced, it must exit 0.
        let ok = if extra.is_empty() {
            &[0][..]
        } else {
            &[0, 3][..]
        };
        assert!(
            run.out.status.code().is_some_and(|c| ok.contains(&c)),
            "{extra:?}: {}",
            run.stderr()
        );
        let stats: Value =
            serde_json::from_slice(&std::fs::read(&stats).expect("stats")).expect("json");
        let arm = stats["planes"]
            .as_array()
            .expect("planes")
            .iter()
            .find(|p| p["plane"] == "arm")
            .cloned()
            .expect("arm plane");
        (m.throttle_counts().expect("limits on"), arm, run)
    };
    let (paced, arm, run) = run_with(&[]);
    let requests = arm["requests"].as_u64().expect("requests");
    let own: u64 = paced
        .served
        .iter()
        .filter(|(k, _)| k.starts_with("arm/"))
        .map(|(_, n)| n)
        .sum();
    assert!(own > 300, "the bucket never ran dry: {paced:?}");
    // At most 1 % of requests answered 429, none re-sent inside a pending Retry-After.
    assert!(
        paced.refused_total() * 100 <= requests,
        "{} refused of {requests}: {paced:?}",
        paced.refused_total()
    );
    assert_eq!(paced.early, 0, "{paced:?}");
    assert_eq!(arm["throttled"].as_u64(), Some(paced.refused_total()));
    assert!(arm["pacing_s"].as_f64().expect("pacing") > 0.0, "{arm}");
    siemproof::evidence::Bundle::open(&run.bundle, false).expect("valid bundle");
    // Unpaced and without retries (their Retry-After waits would only make it slow): the
    // same tenant is refused far more.
    let (unpaced, _, _) = run_with(&["--no-pacing", "--max-retries", "0"]);
    assert!(
        unpaced.refused_total() > paced.refused_total(),
        "paced {paced:?} unpaced {unpaced:?}"
    );
}

#[test]
fn server_errors_resets_and_malformed_bodies_are_retried() {
    assert_recovers(Faults {
        reset: 1,
        server_error: 1,
        malformed: 1,
        ..Faults::default()
    });
}

#[test]
fn a_throttling_storm_ends_in_recorded_failures_within_the_deadline() {
    let m = start(
        DEMO,
        faults(Faults {
            throttle: u32::MAX,
            retry_after: Some("1".into()),
            only_kinds: vec!["graph.organization".into(), "o365.subscriptions".into()],
            ..Faults::default()
        }),
    );
    let started = Instant::now();
    let run = collect(&m, &["--deadline", "3", "--timeout", "5"], secret_env(&m));
    assert!(run.out.status.success(), "{}", run.stderr());
    assert!(started.elapsed() < Duration::from_secs(60));
    let f = run.failures();
    assert!(
        f.contains(&"graph.organization: TooManyRequests".to_string()),
        "{f:?}"
    );
    assert!(
        f.contains(&"o365.subscriptions: AF429".to_string()),
        "{f:?}"
    );
    assert!(
        run.stdout().contains("partial collection"),
        "{}",
        run.stdout()
    );
    // The audit reads it and fails closed.
    let r = audit(&run.bundle, None);
    assert!(r["checks"].as_array().is_some());
}

#[test]
fn persistent_malformed_json_is_recorded_not_written() {
    let m = start(
        DEMO,
        faults(Faults {
            malformed: u32::MAX,
            only_kinds: vec!["arm.eventhub.namespaces".into()],
            ..Faults::default()
        }),
    );
    let run = collect(
        &m,
        &["--deadline", "5", "--max-retries", "2"],
        secret_env(&m),
    );
    assert!(run.out.status.success(), "{}", run.stderr());
    assert!(
        run.failures()
            .contains(&"arm.eventhub.namespaces: MalformedJson".to_string()),
        "{:?}",
        run.failures()
    );
    siemproof::evidence::Bundle::open(&run.bundle, false).expect("valid bundle");
}

#[test]
fn slow_responses_within_the_timeout_complete_and_beyond_it_time_out() {
    let m = start(
        DEMO,
        MockOptions {
            latency_ms: 150,
            ..MockOptions::default()
        },
    );
    let run = collect(&m, FAST, secret_env(&m));
    assert!(run.out.status.success(), "{}", run.stderr());
    let mut got = run.failures();
    got.sort();
    assert_eq!(got, baseline());

    let m = start(
        DEMO,
        MockOptions {
            latency_ms: 1500,
            ..MockOptions::default()
        },
    );
    let started = Instant::now();
    // The token request is slow too; a 1 s timeout makes even that fail: a clear error.
    let run = collect(
        &m,
        &["--timeout", "1", "--deadline", "3", "--max-retries", "1"],
        secret_env(&m),
    );
    assert!(started.elapsed() < Duration::from_secs(60));
    assert_eq!(run.out.status.code(), Some(2), "{}", run.stdout());
    assert!(run.stderr().contains("token"), "{}", run.stderr());
    assert!(!run.bundle.exists());
}

#[test]
fn a_next_link_loop_stops_with_an_error_item() {
    let m = start(
        DEMO,
        faults(Faults {
            nextlink_loop: true,
            ..Faults::default()
        }),
    );
    let run = collect(&m, FAST, secret_env(&m));
    assert!(run.out.status.success(), "{}", run.stderr());
    let f = run.failures();
    for k in [
        "arm.eventhub.namespaces",
        "graph.applications",
        "o365.content",
    ] {
        assert!(f.contains(&format!("{k}: NextLinkLoop")), "{k}: {f:?}");
    }
    siemproof::evidence::Bundle::open(&run.bundle, false).expect("valid bundle");
}

#[test]
fn forbidden_kinds_are_recorded_with_microsofts_error() {
    let m = start(
        DEMO,
        faults(Faults {
            forbidden_kinds: vec![
                "arm.aadiam.diagnostic_settings".into(),
                "graph.subscribed_skus".into(),
            ],
            ..Faults::default()
        }),
    );
    let run = collect(&m, FAST, secret_env(&m));
    assert!(run.out.status.success(), "{}", run.stderr());
    let man = run.manifest();
    let item = man["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["kind"] == "arm.aadiam.diagnostic_settings")
        .expect("item recorded")
        .clone();
    assert_eq!(item["status"], 403);
    assert_eq!(item["error"]["code"], "AuthorizationFailed");
    assert!(
        run.stdout().contains("arm.aadiam.diagnostic_settings"),
        "{}",
        run.stdout()
    );
    assert!(run
        .failures()
        .contains(&"graph.subscribed_skus: AuthorizationFailed".to_string()));
}

#[test]
fn only_reads_are_ever_sent() {
    for tenant in [DEMO, COMPLIANT, FABRIKAM] {
        let m = start(
            tenant,
            getbatch(Faults {
                throttle: 1,
                retry_after: Some("0".into()),
                nextlink_loop: true,
                ..Faults::default()
            }),
        );
        let run = collect(&m, FAST, secret_env(&m));
        assert!(run.out.status.success(), "{tenant}: {}", run.stderr());
        let seen = m.requests();
        assert!(seen.len() > 20, "{}", seen.len());
        let mut searches = 0;
        let mut batches = 0;
        for s in &seen {
            let lower = s.path_and_query.to_ascii_lowercase();
            let path = lower.split('?').next().unwrap_or_default();
            let token = s.method == "POST" && path.ends_with("/oauth2/v2.0/token");
            // The opt-in SIEM searches: exactly these two endpoints, and only for targets
            // that set event_counts = true.
            let search = s.method == "POST"
                && (path == "/api/ariel/searches" || path == "/services/search/v2/jobs/export");
            searches += usize::from(search);
            // Azure Monitor's batched metrics read: its one path, its one api-version, a body
            // of 1 to 50 resource ids of the path's subscription and nothing else.
            let batch = s.method == "POST" && path.ends_with("/metrics:getbatch") && {
                let sub = path.split('/').nth(4).unwrap_or_default().to_string();
                let body: Value =
                    serde_json::from_str(s.body.as_deref().unwrap_or_default()).expect("json");
                let ids = body["resourceids"].as_array().expect("resourceids");
                assert_eq!(body.as_object().map(|o| o.len()), Some(1), "{body}");
                assert!((1..=50).contains(&ids.len()), "{body}");
                assert!(ids.iter().all(|i| i
                    .as_str()
                    .unwrap()
                    .to_ascii_lowercase()
                    .starts_with(&format!("/subscriptions/{sub}/"))));
                lower.contains("api-version=2023-10-01") && path.starts_with("/metrics/")
            };
            batches += usize::from(batch);
            assert!(
                s.method == "GET" || token || search || batch,
                "{tenant}: {} {}",
                s.method,
                s.path_and_query
            );
            assert!(!lower.contains("listkeys"), "{}", s.path_and_query);
            assert!(
                !lower.contains("subscriptions/start"),
                "{}",
                s.path_and_query
            );
            // Never the add-ons' UCC handlers (their list call can write the conf) and
            // never QRadar's decryption of secret parameters.
            assert!(
                !path.contains("splunk_ta_mscs_azureaccount")
                    && !path.contains("/splunk_ta_o365_tenants")
                    && !lower.contains("--cred--"),
                "{}",
                s.path_and_query
            );
        }
        assert!(
            batches >= 1,
            "{tenant}: the batched metrics read was not exercised"
        );
        let expected = if tenant == COMPLIANT { 4 } else { 0 };
        assert!(
            (expected..=expected * 2).contains(&searches),
            "{tenant}: {searches} search POSTs (throttled ones are retried)"
        );
        if tenant == FABRIKAM {
            assert!(seen
                .iter()
                .any(|s| s.path_and_query.starts_with("/api/fleet/package_policies")));
            assert!(seen
                .iter()
                .any(|s| s.path_and_query.starts_with("/_data_stream/")));
        }
    }
}

#[test]
fn qradar_secret_headers_are_never_sent_and_siem_credentials_go_only_to_their_siem() {
    // The collector's SIEM client refuses to send a credential header to another origin; the
    // mock answers 401 to a request without the right credential, so a green collection of
    // the three SIEMs proves each got its own and only its own.
    let m = start(COMPLIANT, MockOptions::default());
    let mut env = secret_env(&m);
    env.retain(|(k, _)| *k != "SPLUNK_TOKEN");
    env.push(("SPLUNK_TOKEN", m.siem_token()));
    let run = collect(&m, FAST, env);
    assert!(run.out.status.success(), "{}", run.stderr());
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.bundle.join("manifest.json")).expect("manifest"))
            .expect("json");
    let splunk: Vec<_> = manifest["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|i| {
            i["kind"]
                .as_str()
                .is_some_and(|k| k.starts_with("siem.splunk."))
        })
        .collect();
    assert!(!splunk.is_empty());
    assert!(
        splunk.iter().all(|i| i["status"] == 401),
        "the QRadar token is not a Splunk token: {splunk:?}"
    );
}

fn scan(dir: &Path, needles: &[String]) -> Vec<String> {
    let mut hits = Vec::new();
    for e in walk(dir) {
        let text = String::from_utf8_lossy(&std::fs::read(&e).expect("read")).into_owned();
        for n in needles {
            if text.contains(n.as_str()) {
                hits.push(format!("{} contains {n}", e.display()));
            }
        }
    }
    hits
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("read_dir") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn canaries_never_reach_the_bundle_or_the_output() {
    for tenant in [DEMO, COMPLIANT, FABRIKAM] {
        canaries_stay_out(tenant);
    }
}

fn canaries_stay_out(tenant: &str) {
    let canary = format!("CANARY{}", fastrand::u64(..));
    let m = start(
        tenant,
        MockOptions {
            canary: Some(canary.clone()),
            faults: Faults {
                forbidden_kinds: vec!["graph.organization".into()],
                ..Faults::default()
            },
            ..MockOptions::default()
        },
    );
    assert_eq!(m.secret(), canary, "the canary is the client secret");
    let run = collect(&m, &["--verbose"], secret_env(&m));
    assert!(run.out.status.success(), "{}", run.stderr());
    let mut needles = vec![
        canary.clone(),
        m.siem_token(),
        m.splunk_token(),
        m.elastic_key(),
    ];
    needles.extend(m.issued_tokens());
    assert!(needles.len() > 1, "tokens were issued");
    let hits = scan(&run.bundle, &needles);
    assert!(hits.is_empty(), "{hits:?}");
    for n in &needles {
        assert!(!run.stdout().contains(n.as_str()), "stdout leaks");
        assert!(!run.stderr().contains(n.as_str()), "stderr leaks");
    }
    // The verbose log did happen (so the scan covered it).
    assert!(
        run.stderr().contains("GET https://127.0.0.1"),
        "{}",
        run.stderr()
    );
}

#[test]
fn permissions_lists_what_each_kind_needs() {
    let out = siemproof(&["permissions"], &[], Duration::from_secs(30));
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "ActivityFeed.Read",
        "/providers/Microsoft.aadiam",
        "Application.Read.All",
        "Monitoring Reader",
        "arm.eventhub.metrics",
        "graph.oauth2_permission_grants",
        "blob.checkpoints",
        "Storage Blob Data Reader",
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
}

#[test]
fn ctrl_c_leaves_no_half_written_bundle() {
    let m = start(
        DEMO,
        MockOptions {
            latency_ms: 400,
            ..MockOptions::default()
        },
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("siemproof.toml");
    m.write_config(&cfg).expect("config");
    let bundle = dir.path().join("evidence");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_siemproof"));
    cmd.args([
        "collect",
        "--config",
        cfg.to_str().expect("utf8"),
        "--out",
        bundle.to_str().expect("utf8"),
    ])
    .env_clear()
    .env("PATH", std::env::var("PATH").unwrap_or_default())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    for (k, v) in secret_env(&m) {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn");
    // Wait until the collection is under way (requests beyond the token request).
    let started = Instant::now();
    while m.requests().len() < 3 && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(kill.success());
    let started = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "collect ignored Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("output");
    // 128 + SIGINT, as a shell reports Ctrl-C.
    assert_eq!(out.status.code(), Some(130));
    assert!(String::from_utf8_lossy(&out.stderr).contains("interrupted"));
    assert!(!bundle.exists());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("read_dir")
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(".siemproof-bundle-")
        })
        .collect();
    assert!(leftovers.is_empty(), "temporary directory left behind");
}

/// Starts a slow collection and sends it `signal` once it is under way; returns its output and
/// the directory the bundle was to be written in.
fn interrupt_with(signal: &str) -> (Output, tempfile::TempDir, PathBuf) {
    let m = start(
        DEMO,
        MockOptions {
            latency_ms: 400,
            ..MockOptions::default()
        },
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("siemproof.toml");
    m.write_config(&cfg).expect("config");
    let bundle = dir.path().join("evidence");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_siemproof"));
    cmd.args([
        "collect",
        "--config",
        cfg.to_str().expect("utf8"),
        "--out",
        bundle.to_str().expect("utf8"),
    ])
    .env_clear()
    .env("PATH", std::env::var("PATH").unwrap_or_default())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    for (k, v) in secret_env(&m) {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn");
    let started = Instant::now();
    while m.requests().len() < 3 && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let kill = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(kill.success());
    let started = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("collect ignored SIG{signal}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    (child.wait_with_output().expect("output"), dir, bundle)
}

fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("read_dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".siemproof-"))
        .collect()
}

#[test]
fn every_terminating_signal_cleans_up_like_ctrl_c() {
    for signal in ["TERM", "HUP", "QUIT"] {
        let (out, dir, bundle) = interrupt_with(signal);
        let err = String::from_utf8_lossy(&out.stderr);
        let code = 128
            + match signal {
                "TERM" => 15,
                "HUP" => 1,
                _ => 3,
            };
        assert_eq!(out.status.code(), Some(code), "SIG{signal}: {err}");
        assert!(
            err.contains(&format!("interrupted by SIG{signal}")),
            "{err}"
        );
        assert!(!bundle.exists(), "SIG{signal}: a bundle appeared");
        assert!(
            leftovers(dir.path()).is_empty(),
            "SIG{signal}: {:?}",
            leftovers(dir.path())
        );
    }
}

/// Requests the mock saw for Graph's organization endpoint.
fn organization_requests(m: &Mock) -> usize {
    m.requests()
        .iter()
        .filter(|r| r.path_and_query.starts_with("/v1.0/organization"))
        .count()
}

#[test]
fn a_retry_after_beyond_the_deadline_is_recorded_with_the_servers_figure_not_resent_early() {
    let in_two_hours = (chrono::Utc::now() + chrono::Duration::hours(2))
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    for (retry_after, figure) in [("1200", "1200 s"), (in_two_hours.as_str(), "after 7")] {
        let m = start(
            DEMO,
            faults(Faults {
                throttle: u32::MAX,
                retry_after: Some(retry_after.into()),
                only_kinds: vec!["graph.organization".into()],
                ..Faults::default()
            }),
        );
        let started = Instant::now();
        // The deadline is longer than the per-wait cap of 60 s: the old code cut the server's
        // figure to 60 s, slept and re-sent early.
        let run = collect(&m, &["--deadline", "100", "--timeout", "5"], secret_env(&m));
        assert!(run.out.status.success(), "{}", run.stderr());
        assert!(
            started.elapsed() < Duration::from_secs(40),
            "{retry_after}: waited {:?}",
            started.elapsed()
        );
        assert_eq!(organization_requests(&m), 1, "{retry_after}: re-sent early");
        let items = run.manifest()["items"].as_array().unwrap().clone();
        let org = items
            .iter()
            .find(|i| i["kind"] == "graph.organization")
            .expect("organization item");
        assert_eq!(org["status"], 429);
        let msg = org["error"]["message"].as_str().unwrap();
        assert!(
            msg.contains("throttled: server asked to retry after")
                && msg.contains(figure)
                && msg.contains("beyond the deadline"),
            "{msg}"
        );
    }
}

#[test]
fn a_retry_after_within_the_deadline_is_waited_exactly() {
    let m = start(
        DEMO,
        faults(Faults {
            throttle: 1,
            retry_after: Some("3".into()),
            only_kinds: vec!["graph.organization".into()],
            ..Faults::default()
        }),
    );
    let started = Instant::now();
    let run = collect(&m, &["--deadline", "30", "--timeout", "5"], secret_env(&m));
    assert!(run.out.status.success(), "{}", run.stderr());
    assert!(started.elapsed() >= Duration::from_secs(3));
    assert_eq!(organization_requests(&m), 2);
    assert!(
        !run.failures()
            .iter()
            .any(|f| f.starts_with("graph.organization")),
        "{:?}",
        run.failures()
    );
}

#[test]
fn a_collection_that_observed_nothing_exits_3_with_a_summary() {
    let m = start(
        DEMO,
        faults(Faults {
            server_error: u32::MAX,
            ..Faults::default()
        }),
    );
    let run = collect(
        &m,
        &["--deadline", "2", "--timeout", "5", "--max-retries", "1"],
        secret_env(&m),
    );
    assert_eq!(
        run.out.status.code(),
        Some(3),
        "{}{}",
        run.stdout(),
        run.stderr()
    );
    assert!(
        run.stdout().contains("nothing collected"),
        "{}",
        run.stdout()
    );
    // The failures are still evidence: a bundle that records them.
    assert!(run.bundle.join("manifest.json").is_file());

    // Too little: one kind unavailable is below --min-answered 100, above the default 50.
    let m = start(
        DEMO,
        faults(Faults {
            server_error: u32::MAX,
            only_kinds: vec!["graph.organization".into()],
            ..Faults::default()
        }),
    );
    let run = collect(
        &m,
        &["--deadline", "2", "--min-answered", "100"],
        secret_env(&m),
    );
    assert_eq!(run.out.status.code(), Some(3), "{}", run.stderr());
    assert!(
        run.stdout().contains("too little collected"),
        "{}",
        run.stdout()
    );
    let run = collect(&m, &["--deadline", "2"], secret_env(&m));
    assert_eq!(run.out.status.code(), Some(0), "{}", run.stderr());
}

#[test]
fn collect_never_replaces_what_is_not_its_own_bundle_and_needs_force_for_one() {
    let m = start(DEMO, MockOptions::default());
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("siemproof.toml");
    m.write_config(&cfg).expect("config");
    let env = secret_env(&m);
    let run_into = |out: &Path, extra: &[&str]| {
        let mut args = vec![
            "collect",
            "--config",
            cfg.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        siemproof(&args, &env, Duration::from_secs(120))
    };
    // A directory with someone's files, and a file: refused, untouched, even with --force.
    let theirs = dir.path().join("theirs");
    std::fs::create_dir(&theirs).unwrap();
    std::fs::write(theirs.join("thesis.docx"), "years of work").unwrap();
    let file = dir.path().join("file");
    std::fs::write(&file, "keep me").unwrap();
    for (target, force) in [
        (&theirs, false),
        (&theirs, true),
        (&file, false),
        (&file, true),
    ] {
        let extra: &[&str] = if force { &["--force"] } else { &[] };
        let o = run_into(target, extra);
        assert_eq!(
            o.status.code(),
            Some(2),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(String::from_utf8_lossy(&o.stderr).contains("nothing was changed"));
    }
    assert_eq!(
        std::fs::read_to_string(theirs.join("thesis.docx")).unwrap(),
        "years of work"
    );
    assert_eq!(std::fs::read_dir(&theirs).unwrap().count(), 1);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");
    // An earlier bundle: replaced only with --force.
    let ev = dir.path().join("evidence");
    assert_eq!(run_into(&ev, &[]).status.code(), Some(0));
    let before = std::fs::read(ev.join("manifest.json")).unwrap();
    let o = run_into(&ev, &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--force"));
    assert_eq!(std::fs::read(ev.join("manifest.json")).unwrap(), before);
    let o = run_into(&ev, &["--force"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_ne!(std::fs::read(ev.join("manifest.json")).unwrap(), before);
    assert!(
        leftovers(dir.path()).is_empty(),
        "{:?}",
        leftovers(dir.path())
    );
}

#[test]
fn data_borne_canaries_reach_no_output() {
    let canary = format!("DATACANARY{}", fastrand::u64(..));
    let m = start(
        DEMO,
        faults(Faults {
            data_canary: Some(canary.clone()),
            forbidden_kinds: vec!["graph.organization".into(), "arm.storage.accounts".into()],
            server_error: u32::MAX,
            only_kinds: vec!["arm.eventhub.consumer_groups".into()],
            ..Faults::default()
        }),
    );
    let run = collect(
        &m,
        &["--verbose", "--deadline", "3", "--timeout", "5"],
        secret_env(&m),
    );
    assert!(run.out.status.success(), "{}", run.stderr());
    // The canary was served: in error messages and in paging links the collector followed.
    assert!(
        m.requests()
            .iter()
            .any(|r| r.path_and_query.contains(&canary)),
        "no paging link carried the canary"
    );
    // Nowhere in the bundle: manifest URLs and errors, and the raw bodies' paging links.
    let hits = scan(&run.bundle, std::slice::from_ref(&canary));
    assert!(hits.is_empty(), "{hits:?}");
    for s in [run.stdout(), run.stderr()] {
        assert!(!s.contains(&canary), "collect output leaks: {s}");
    }
    let out = tempfile::tempdir().expect("tempdir");
    let o = siemproof(
        &[
            "audit",
            run.bundle.to_str().unwrap(),
            "--out",
            out.path().to_str().unwrap(),
            "--format",
            "table,json,html,md,junit,sarif,oscal,jsonl,csv,hdf,compliance,leef,cef",
            "--as-of",
            AS_OF,
            "--all",
        ],
        &[],
        Duration::from_secs(60),
    );
    assert!(
        o.status.code().is_some_and(|c| c <= 1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let hits = scan(out.path(), std::slice::from_ref(&canary));
    assert!(hits.is_empty(), "{hits:?}");
    for s in [&o.stdout, &o.stderr] {
        assert!(
            !String::from_utf8_lossy(s).contains(&canary),
            "audit output leaks"
        );
    }
    // The redacted messages still say what happened.
    let manifest = std::fs::read_to_string(run.bundle.join("manifest.json")).unwrap();
    assert!(
        manifest.contains("SharedAccessKey=[REDACTED]"),
        "redaction keeps the name"
    );
}

#[test]
fn collect_sign_writes_a_manifest_signature_that_audit_pubkey_requires() {
    let m = start(DEMO, MockOptions::default());
    let keys = tempfile::tempdir().expect("tempdir");
    let prefix = keys.path().join("k");
    let o = siemproof(
        &["keygen", "--unencrypted", "--out", prefix.to_str().unwrap()],
        &[],
        Duration::from_secs(30),
    );
    assert!(o.status.success());
    let key = keys.path().join("k.key");
    let pubkey = keys.path().join("k.pub");
    let run = collect(&m, &["--sign", key.to_str().unwrap()], secret_env(&m));
    assert!(run.out.status.success(), "{}", run.stderr());
    assert!(run.bundle.join("manifest.json.minisig").is_file());
    let out = tempfile::tempdir().expect("tempdir");
    let o = siemproof(
        &[
            "audit",
            run.bundle.to_str().unwrap(),
            "--out",
            out.path().to_str().unwrap(),
            "--format",
            "json",
            "--as-of",
            AS_OF,
            "--pubkey",
            pubkey.to_str().unwrap(),
        ],
        &[],
        Duration::from_secs(60),
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.code().is_some_and(|c| c <= 1), "{err}");
    assert!(err.contains("verified"), "{err}");
}

#[test]
fn a_write_failure_during_collect_keeps_the_previous_bundle() {
    let m = start(DEMO, MockOptions::default());
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("siemproof.toml");
    m.write_config(&cfg).expect("config");
    let ev = dir.path().join("evidence");
    let env = secret_env(&m);
    let args = [
        "collect",
        "--config",
        cfg.to_str().unwrap(),
        "--out",
        ev.to_str().unwrap(),
        "--force",
    ];
    let o = siemproof(&args, &env, Duration::from_secs(120));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let before = std::fs::read(ev.join("manifest.json")).unwrap();
    // Writes over 8 KiB fail with EFBIG, as on a full disk (the metrics pages are larger).
    let mut script = format!(
        "trap '' XFSZ; ulimit -f 8; exec '{}'",
        env!("CARGO_BIN_EXE_siemproof")
    );
    for a in args {
        script.push_str(&format!(" '{a}'"));
    }
    let mut cmd = Command::new("bash");
    cmd.args(["-c", &script])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in &env {
        cmd.env(k, v);
    }
    let o = cmd.output().expect("bash");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("the previous output there is unchanged"),
        "{err}"
    );
    assert_eq!(std::fs::read(ev.join("manifest.json")).unwrap(), before);
    assert!(
        leftovers(dir.path()).is_empty(),
        "{:?}",
        leftovers(dir.path())
    );
}

/// A SIEM API that accepts connections and never answers: the Microsoft collection completes,
/// and the SIEM's evidence is recorded as failed within its own deadline.
#[test]
fn a_siem_that_hangs_does_not_hold_up_the_microsoft_collection() {
    let m = start(DEMO, MockOptions::default());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    listener.set_nonblocking(true).expect("nonblocking");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let hold = std::thread::spawn(move || {
        let mut held = Vec::new();
        let started = Instant::now();
        // Bounded: at most 60 s, at most 64 connections, then it lets go.
        while !stop2.load(std::sync::atomic::Ordering::Relaxed)
            && started.elapsed() < Duration::from_secs(60)
            && held.len() < 64
        {
            match listener.accept() {
                Ok((s, _)) => held.push(s),
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("siemproof.toml");
    m.write_config(&cfg).expect("write config");
    let mut t: toml::Table = toml::from_str(&std::fs::read_to_string(&cfg).unwrap()).unwrap();
    let targets = t["siem"]["targets"].as_array().cloned().unwrap_or_default();
    assert!(
        !targets.is_empty(),
        "the demo tenant configures a QRadar target"
    );
    let mut target = targets[0].as_table().unwrap().clone();
    target.insert("url".into(), format!("https://127.0.0.1:{port}").into());
    t["siem"].as_table_mut().unwrap().insert(
        "targets".into(),
        toml::Value::Array(vec![toml::Value::Table(target)]),
    );
    std::fs::write(&cfg, toml::to_string(&t).unwrap()).unwrap();
    let bundle = dir.path().join("evidence");
    let started = Instant::now();
    let out = siemproof(
        &[
            "collect",
            "--config",
            cfg.to_str().unwrap(),
            "--out",
            bundle.to_str().unwrap(),
            "--siem-deadline",
            "3",
            "--timeout",
            "2",
        ],
        &secret_env(&m),
        Duration::from_secs(60),
    );
    let took = started.elapsed();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    hold.join().expect("listener thread");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(took < Duration::from_secs(30), "took {took:?}");
    let b = siemproof::evidence::Bundle::open(&bundle, false).expect("bundle");
    let states = b.kind_states();
    assert_eq!(
        states["arm.eventhub.namespaces"].status,
        siemproof::evidence::EvidenceStatus::Ok,
        "the Microsoft side is complete"
    );
    let siem: Vec<_> = b
        .manifest
        .items
        .iter()
        .filter(|i| i.kind.starts_with("siem."))
        .collect();
    assert!(!siem.is_empty());
    assert!(
        siem.iter().all(|i| i.error.is_some()),
        "every SIEM request is a recorded failure: {siem:?}"
    );
}

/// Collects `tenant` from a mock with faults `f`, then audits the bundle with the tenant's config.
fn collect_and_audit(tenant: &str, f: Faults, what: &str) -> Value {
    let m = start(tenant, faults(f));
    let run = collect(&m, FAST, secret_env(&m));
    assert!(run.out.status.success(), "{what}: {}", run.stderr());
    let config = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(tenant)
        .join("siemproof.toml");
    audit(&run.bundle, Some(&config))
}

/// The results of one check family (by id prefix).
fn family<'a>(results: &'a Value, prefix: &str) -> Vec<&'a Value> {
    results["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["id"].as_str().is_some_and(|i| i.starts_with(prefix)))
        .collect()
}

/// SIEM faults fail closed: a forbidden Splunk listing, an Elastic policy listing that stays
/// malformed, a Splunk API throttled past every retry. The SIEM checks are then never `pass`
/// and `in_siem` is unknown, while the Microsoft side is unaffected.
#[test]
fn siem_faults_give_not_assessed_never_pass() {
    let cases: Vec<(&str, Faults)> = vec![
        (
            COMPLIANT,
            Faults {
                forbidden_kinds: vec!["siem.splunk.eventhub_inputs".into()],
                ..Faults::default()
            },
        ),
        (
            FABRIKAM,
            Faults {
                malformed: 20,
                only_kinds: vec!["siem.elastic.package_policies".into()],
                ..Faults::default()
            },
        ),
        (
            COMPLIANT,
            Faults {
                throttle: 20,
                retry_after: Some("0".into()),
                only_kinds: vec!["siem.splunk.apps".into()],
                ..Faults::default()
            },
        ),
    ];
    for (tenant, f) in cases {
        let what = format!("{tenant} with {f:?}");
        let results = collect_and_audit(tenant, f, &what);
        let siem = family(&results, "SIEM-");
        assert!(siem.len() >= 12, "{what}");
        for c in &siem {
            assert!(
                c["status"] == "not_assessed" || c["status"] == "not_applicable",
                "{what}: {} is {}",
                c["id"],
                c["status"]
            );
        }
        assert!(
            siem.iter().any(|c| c["status"] == "not_assessed"),
            "{what}: the SIEM side could not be read"
        );
        for row in results["coverage"].as_array().expect("coverage") {
            assert!(row["in_siem"].is_null(), "{what}: {} in_siem", row["id"]);
        }
        let ns = results["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == "EH-NS-EXISTS")
            .expect("EH-NS-EXISTS");
        assert_eq!(
            ns["status"], "pass",
            "{what}: the Microsoft side is unaffected"
        );
    }
}

/// `collect --only siem` reads the SIEM APIs and nothing of Microsoft's, without a Microsoft
/// credential; `--only microsoft` leaves the SIEM alone.
#[test]
fn only_one_side_is_read_when_asked() {
    let m = start(COMPLIANT, MockOptions::default());
    let env: Vec<(&'static str, String)> = secret_env(&m)
        .into_iter()
        .filter(|(k, _)| !k.starts_with("AZURE_"))
        .collect();
    let run = collect(&m, &["--only", "siem"], env);
    assert!(run.out.status.success(), "{}", run.stderr());
    let seen = m.requests();
    assert!(!seen.is_empty());
    let is_siem = |p: &str| {
        p.starts_with("/api/config/") || p.starts_with("/api/ariel/") || p.starts_with("/services")
    };
    for s in &seen {
        let p = s.path_and_query.as_str();
        assert!(
            is_siem(p),
            "a Microsoft request with --only siem: {} {p}",
            s.method
        );
    }
    let b = siemproof::evidence::Bundle::open(&run.bundle, false).expect("bundle");
    assert_eq!(b.manifest.collector.auth, "none");
    assert!(b
        .items
        .iter()
        .all(|i| i.item.kind.starts_with("siem.") || i.item.kind == "config"));

    let m = start(COMPLIANT, MockOptions::default());
    let run = collect(&m, &["--only", "microsoft"], secret_env(&m));
    assert!(run.out.status.success(), "{}", run.stderr());
    let seen = m.requests();
    assert!(seen
        .iter()
        .any(|s| s.path_and_query.contains("/providers/")));
    assert!(seen.iter().all(|s| !is_siem(&s.path_and_query)));
}

/// The checkpoint listing fails closed: forbidden (no Storage Blob Data Reader), throttled past
/// every retry, or malformed, the consumer checks are `not_assessed`, never `pass`.
#[test]
fn checkpoint_listing_faults_give_not_assessed() {
    let cases = vec![
        Faults {
            forbidden_kinds: vec!["blob.checkpoints".into()],
            ..Faults::default()
        },
        Faults {
            throttle: 30,
            retry_after: Some("0".into()),
            only_kinds: vec!["blob.checkpoints".into()],
            ..Faults::default()
        },
        Faults {
            malformed: 30,
            only_kinds: vec!["blob.checkpoints".into()],
            ..Faults::default()
        },
    ];
    for f in cases {
        let what = format!("{f:?}");
        let results = collect_and_audit(COMPLIANT, f, &what);
        let consumer = family(&results, "CONSUMER-");
        assert_eq!(consumer.len(), 7, "{what}");
        for c in consumer {
            assert_eq!(c["status"], "not_assessed", "{what}: {}", c["id"]);
        }
    }
}

/// The hub's partition state is read over AMQP with only the `$cbs` and `$management`
/// request/response links: no receiver is ever attached to a partition, no epoch is taken, and
/// the token put is one issued for the Event Hubs scope. Refused (no Data Receiver role) or
/// unreachable, the lag checks are `not_assessed` and the rest of the consumer family stands.
#[test]
fn partition_reads_open_no_receiver_and_fail_closed() {
    let m = start(COMPLIANT, MockOptions::default());
    let run = collect(&m, FAST, secret_env(&m));
    assert!(run.out.status.success(), "{}", run.stderr());
    let links = m.amqp_links();
    assert!(
        !links.is_empty(),
        "the partition state was not read over AMQP"
    );
    let nodes = ["$cbs", "$management"];
    for l in &links {
        match l.role.as_str() {
            // Requests go to a node, and to nothing else.
            "sender" => assert!(
                l.target.as_deref().is_some_and(|t| nodes.contains(&t)),
                "{l:?}"
            ),
            // Replies come from a node: a receiver on `<hub>/ConsumerGroups/<cg>/Partitions/<p>`
            // would read events (and take the SIEM's partition).
            _ => assert!(
                l.source.as_deref().is_some_and(|s| nodes.contains(&s)),
                "{l:?}"
            ),
        }
    }
    let reads = m.amqp_reads();
    assert!(reads.iter().all(|(op, ..)| op == "READ"), "{reads:?}");
    assert_eq!(
        reads
            .iter()
            .filter(|(_, ty, _)| ty == "com.microsoft:partition")
            .count(),
        4,
        "{reads:?}"
    );
    let body = std::fs::read_to_string(run.bundle.join("raw/amqp/amqp.partitions.json"))
        .expect("the partition reads are in the bundle");
    assert!(!body.contains("mock-token"), "a token reached the bundle");
    let config = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(COMPLIANT)
        .join("siemproof.toml");
    let results = audit(&run.bundle, Some(&config));
    for c in family(&results, "CONSUMER-") {
        if c["id"] == "CONSUMER-LAG" || c["id"] == "CONSUMER-NO-LOSS" {
            assert_eq!(c["status"], "pass", "{}", c["id"]);
        }
    }

    // No Azure Event Hubs Data Receiver role: the service's 401, then not_assessed.
    let denied = Faults {
        forbidden_kinds: vec!["amqp.partitions".into()],
        ..Faults::default()
    };
    let results = collect_and_audit(COMPLIANT, denied, "amqp.partitions forbidden");
    for c in family(&results, "CONSUMER-") {
        let id = c["id"].as_str().unwrap_or_default();
        let want = if id == "CONSUMER-LAG" || id == "CONSUMER-NO-LOSS" {
            "not_assessed"
        } else {
            "pass"
        };
        assert!(
            c["status"] == want || (want == "pass" && c["status"] == "not_applicable"),
            "{id}: {}",
            c["status"]
        );
    }
}

/// One multi-tenant app across a fleet, as an MSSP runs it: three generated tenants, each its own
/// mock, all playing one Microsoft (one app, one set of limits, one CA). `fleet collect` reads
/// every tenant with the one credential, and Graph's per-app report limit is counted across all
/// of them (the bucket `benches/fleet-collect.sh` measures the fleet against).
#[test]
fn one_multi_tenant_app_reads_a_fleet_under_limits_shared_across_tenants() {
    let dir = tempfile::tempdir().unwrap();
    let shared = std::sync::Arc::new(std::sync::Mutex::new(mock::limits::Throttle::new(
        mock::limits::Limits::documented(),
    )));
    let tls = std::sync::Arc::new(mock::tls::generate().unwrap());
    let app = (
        "5f0e2a6c-0000-4000-8000-00000000a001".to_string(),
        "fleet-canary-secret-7c41".to_string(),
    );
    let mut fleet = format!(
        "[fleet]\nname = \"t\"\n\n[[credentials]]\nname = \"mssp-app\"\nauth = \"secret\"\nclient_id = \"{}\"\nsecret_env = \"MSSP_APP_SECRET\"\n",
        app.0
    );
    let mut mocks = Vec::new();
    let mut tenants = Vec::new();
    for k in 1..=3 {
        let t = generated_tenant_at(dir.path(), 1, k);
        let m = Mock::start(
            &t,
            MockOptions {
                app: Some(app.clone()),
                shared_limits: Some(shared.clone()),
                shared_tls: Some(tls.clone()),
                ..MockOptions::default()
            },
        )
        .unwrap();
        let cfg = dir.path().join(format!("t{k}.toml"));
        m.write_config(&cfg).unwrap();
        fleet.push_str(&format!(
            "\n[[tenants]]\nslug = \"t{k}\"\nconfig = \"{}\"\ncredentials = \"mssp-app\"\n",
            cfg.display()
        ));
        tenants.push(m.tenant_id.clone());
        mocks.push(m);
    }
    let fleet_file = dir.path().join("fleet.toml");
    std::fs::write(&fleet_file, fleet).unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &tls.ca_pem).unwrap();
    let state = dir.path().join("state");
    let out = siemproof(
        &[
            "fleet",
            "collect",
            fleet_file.to_str().unwrap(),
            "--state",
            state.to_str().unwrap(),
        ],
        &[
            ("MSSP_APP_SECRET", app.1.clone()),
            ("SSL_CERT_FILE", ca.display().to_string()),
        ],
        Duration::from_secs(300),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut distinct = tenants.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 3, "three tenants");
    for k in 1..=3 {
        siemproof::evidence::Bundle::open(&state.join(format!("t{k}/evidence")), false)
            .unwrap_or_else(|e| panic!("t{k}: {e}"));
    }
    for m in &mocks {
        assert!(
            m.issued_tokens().len() >= 2,
            "each tenant's mock issued the app its tokens"
        );
    }
    let t = shared.lock().unwrap();
    let count = |prefix: &str| -> Vec<u64> {
        t.served
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(_, n)| *n)
            .collect()
    };
    // One bucket for the app across the three tenants, one per tenant beside it.
    assert_eq!(count("graph-reports-app/"), [6]);
    assert_eq!(count("graph-reports/"), [2, 2, 2]);
    drop(t);
    // The app's secret is in no file the fleet wrote.
    for e in walkdir::WalkDir::new(&state).into_iter().flatten() {
        if e.file_type().is_file() {
            let bytes = std::fs::read(e.path()).unwrap();
            assert!(
                !String::from_utf8_lossy(&bytes).contains(&app.1),
                "{}",
                e.path().display()
            );
        }
    }
}
