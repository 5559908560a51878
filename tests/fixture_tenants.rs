//! The four fixture tenants under `fixtures/tenants/` are what their README says they are.
//!
//! These tests pin the facts the normaliser must read from each bundle's raw Microsoft responses
//! (so a fixture edit or a normaliser change that loses one shows up here, not as a silently
//! greener report), and the invariants every catalogue must keep on them: `contoso-compliant`
//! has no failure, and in `woodgrove-restricted` no check passes on forbidden evidence.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use siemproof::audit::{self, AuditOptions};
use siemproof::catalog::Catalog;
use siemproof::evidence::{Bundle, EvidenceStatus};
use siemproof::normalize::{self, model::Model};
use siemproof::results::{Results, Status};

const TENANTS: &[&str] = &[
    "contoso-demo",
    "contoso-compliant",
    "fabrikam-misconfigured",
    "woodgrove-restricted",
];

fn dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/tenants")
        .join(name)
}

fn as_of() -> DateTime<Utc> {
    "2026-11-20T12:00:00Z".parse().expect("audit clock")
}

fn model(name: &str) -> Model {
    model_from(Bundle::open(&dir(name), false).expect("bundle verifies"))
}

fn model_from(bundle: Bundle) -> Model {
    let (config, _) = audit::config_for(&bundle, None).expect("bundled config");
    let attestations = siemproof::attest::load(&bundle, None, as_of().date_naive())
        .expect("bundled attestations parse");
    let attested: Vec<String> = attestations
        .iter()
        .filter(|a| a.valid)
        .map(|a| a.check.clone())
        .collect();
    normalize::normalize(&bundle, &config, as_of(), &attested).expect("model")
}

/// The audit indexes a bundle and reads each file as its kind is normalised; that must build
/// exactly the model that reading every file up front builds.
#[test]
fn reading_files_as_needed_builds_the_same_model() {
    for name in TENANTS {
        let indexed = Bundle::index(&dir(name), false).expect("bundle indexes");
        assert!(indexed.items.iter().all(|i| i.body.is_none()));
        let streamed = serde_json::to_value(model_from(indexed)).unwrap();
        let loaded = serde_json::to_value(model(name)).unwrap();
        assert_eq!(streamed, loaded, "{name}");
    }
}

fn results(name: &str) -> Results {
    let opts = AuditOptions {
        signatures: Default::default(),
        extra_notes: vec![],
        partial: false,
        bundle: dir(name),
        config: None,
        as_of: Some(as_of()),
        allow_unverified: false,
        attestations: None,
        fail_on: None,
    };
    let catalog = Catalog::load(&[]).expect("embedded catalogue");
    audit::audit(&opts, &catalog).expect("audit runs").0
}

fn status(m: &Model, kind: &str) -> EvidenceStatus {
    m.evidence.get(kind).map(|s| s.status).expect(kind)
}

#[test]
fn every_tenant_verifies_and_carries_its_config() {
    for name in TENANTS {
        let bundle = Bundle::open(&dir(name), false).unwrap_or_else(|e| panic!("{name}: {e}"));
        let (config, source) = audit::config_for(&bundle, None).expect("config");
        assert_eq!(source, "bundle", "{name}");
        assert_eq!(config.tenant.id, bundle.manifest.tenant_id, "{name}");
        assert_eq!(bundle.manifest.cloud, "public", "{name}");
        for item in &bundle.manifest.items {
            assert!(
                siemproof::evidence::kinds::kind(&item.kind).is_some(),
                "{name}: unknown kind {}",
                item.kind
            );
            if let Some(src) = &item.source {
                // The only POSTs are the opt-in SIEM searches, and the kinds table says so.
                let search = src.method == "POST"
                    && siemproof::evidence::kinds::SEARCH_POSTS.contains(&item.kind.as_str());
                // The AMQP management node's READ of the hub's partition state.
                let read = src.method == "READ" && item.kind.starts_with("amqp.");
                assert!(
                    src.method == "GET" || src.method == "-" || search || read,
                    "{name}: {src:?}"
                );
            }
        }
    }
}

#[test]
fn contoso_demo_reads_as_its_readme_says() {
    let m = model("contoso-demo");
    // Two ARM pages of namespaces, two Graph pages of assignments, two NextPageUri pages.
    assert_eq!(m.eventhub.namespaces.len(), 2);
    let app = &m.apps.items[0];
    assert_eq!(
        app.o365_permissions,
        [
            "ActivityFeed.Read",
            "ActivityFeed.ReadDlp",
            "ServiceHealth.Read"
        ]
    );
    let secret = &app.credentials.as_ref().expect("credentials read")[0];
    assert_eq!((secret.days_left, secret.expiring), (Some(14), true));
    let ct = |c: &str| {
        m.o365
            .content_types
            .iter()
            .find(|x| x.content_type == c)
            .expect(c)
            .clone()
    };
    assert_eq!(ct("Audit.AzureActiveDirectory").blobs, Some(7));
    let general = ct("Audit.General");
    assert_eq!(general.enabled, Some(false));
    assert_eq!(general.content_status, "not_found");
    assert_eq!(general.error_code.as_deref(), Some("AF20023"));
    // Absent is not false.
    let acct = m.storage.account.as_ref().expect("checkpoint account");
    assert_eq!(acct.allow_blob_public_access, None);
    assert!(acct.shared_key_enabled);
    assert_eq!(acct.same_region_as_namespace, Some(true));
    // A per-metric error inside an HTTP 200 spoils only that metric.
    let metrics = m
        .eventhub
        .namespace
        .as_ref()
        .unwrap()
        .metrics
        .clone()
        .unwrap();
    assert_eq!(metrics.incoming_bytes, None);
    assert!(metrics.incoming_messages.unwrap() > 0.0);
    assert_eq!(metrics.errors.len(), 1);
    // The setting's id has no leading slash and its rule id lower-cased segments; the archive
    // setting has no Event Hub at all.
    let setting = |n: &str| m.entra.settings.iter().find(|s| s.name == n).expect(n);
    let e = setting("aad-to-eventhub").event_hub.as_ref().unwrap();
    assert!(e.to_configured && e.rule_send_only == Some(true));
    let archive = setting("aad-archive-365d");
    assert!(archive.event_hub.is_none() && archive.storage_account);
    assert_eq!(m.entra.to_configured_hub, ["aad-to-eventhub"]);
    assert_eq!(
        status(&m, "graph.oauth2_permission_grants"),
        EvidenceStatus::Forbidden
    );
}

#[test]
fn contoso_compliant_has_nothing_failing_and_every_evidence_kind_ok() {
    let m = model("contoso-compliant");
    for (kind, st) in &m.evidence {
        // It runs QRadar and Splunk, not Elastic, and its checkpoints are the SDK layout's
        // metadata: no Event Processor Host lease body to read. Its metrics were read one
        // namespace at a time, so the batched read (tests/collect.rs runs it) is not there.
        if kind.starts_with("siem.elastic.")
            || kind == "blob.leases"
            || kind == "metrics.eventhub.batch"
        {
            continue;
        }
        assert_eq!(st.status, EvidenceStatus::Ok, "{kind}: {:?}", st.reason);
    }
    assert!(m.defender.attested.iter().any(|c| c == "DEF-STREAMING-API"));
    assert!(m.defender.attested.iter().any(|c| c == "DEF-MDCA-EXPORT"));
    let r = results("contoso-compliant");
    let failing: Vec<_> = r
        .checks
        .iter()
        .filter(|c| c.status == Status::Fail)
        .map(|c| c.id.clone())
        .collect();
    assert!(failing.is_empty(), "{failing:?}");
}

#[test]
fn fabrikam_carries_the_common_mistakes() {
    let m = model("fabrikam-misconfigured");
    let eh = &m.eventhub;
    let ns = eh.namespace.as_ref().unwrap();
    let hub = eh.hub.as_ref().unwrap();
    let acct = m.storage.account.as_ref().unwrap();
    let app = &m.apps.items[0];
    let ct = |c: &str| {
        m.o365
            .content_types
            .iter()
            .find(|x| x.content_type == c)
            .expect(c)
            .clone()
    };
    let mistakes = [
        (
            "root key for the SIEM",
            eh.listen_rule.as_ref().unwrap().is_root,
        ),
        (
            "only $Default",
            eh.consumer_group.as_ref().unwrap().is_default,
        ),
        (
            "SignInLogs not streamed",
            m.entra.category_streamed("SignInLogs") == Some(false),
        ),
        (
            "diagnostic rule Listen+Send",
            m.entra.settings[0]
                .event_hub
                .as_ref()
                .unwrap()
                .rule_send_only
                == Some(false),
        ),
        ("AuditLogs sent twice", m.entra.duplicates.len() == 1),
        (
            "namespace TLS absent = 1.0",
            ns.minimum_tls_version.is_none() && ns.effective_min_tls == "1.0",
        ),
        (
            "firewall without the collector",
            ns.network.as_ref().unwrap().collector_allowed == Some(false),
        ),
        ("retention 1 day", hub.retention_days == Some(1.0)),
        ("1 partition", hub.partition_count == Some(1)),
        (
            "no messages",
            hub.metrics.as_ref().unwrap().incoming_messages == Some(0.0),
        ),
        ("HTTP allowed", acct.https_only == Some(false)),
        ("storage TLS 1.0", acct.effective_min_tls == "TLS1_0"),
        (
            "public blob access",
            acct.allow_blob_public_access == Some(true),
        ),
        ("multi-tenant app", app.single_tenant == Some(false)),
        (
            "expired secret, nothing valid",
            app.valid_credentials == Some(0)
                && app.credentials.as_ref().expect("credentials read")[0].expired,
        ),
        (
            "delegated ActivityFeed.Read only",
            app.o365_permissions.is_empty()
                && app.delegated_permissions.as_deref()
                    == Some(&["Office 365 Management APIs/ActivityFeed.Read".to_string()][..]),
        ),
        (
            "write permission",
            app.write_permissions == ["Directory.ReadWrite.All"],
        ),
        (
            "DLP.All not subscribed (AF20022)",
            ct("DLP.All").enabled == Some(false)
                && ct("DLP.All").error_code.as_deref() == Some("AF20022"),
        ),
        ("stale content", ct("Audit.Exchange").fresh == Some(false)),
        (
            "http webhook",
            ct("Audit.SharePoint").webhook_https == Some(false),
        ),
        (
            "5671 blocked",
            m.network
                .targets
                .iter()
                .any(|t| t.port == 5671 && t.reachable == Some(false)),
        ),
        ("no MDCA licence", m.tenant.licences.mdca == Some(false)),
        (
            "stale Graph audit log",
            m.graph.directory_audits.fresh == Some(false),
        ),
        (
            "Defender tables missing",
            m.defender.missing_tables.len() == 7,
        ),
    ];
    let missing: Vec<_> = mistakes
        .iter()
        .filter(|(_, ok)| !ok)
        .map(|(n, _)| *n)
        .collect();
    assert!(missing.is_empty(), "not read from the bundle: {missing:?}");
}

#[test]
fn woodgrove_is_forbidden_where_its_readme_says_and_nothing_passes_on_it() {
    let m = model("woodgrove-restricted");
    for kind in [
        "arm.aadiam.diagnostic_settings",
        "arm.aadiam.diagnostic_categories",
        "arm.storage.accounts",
        "graph.organization",
        "graph.subscribed_skus",
        "graph.directory_audits",
        "graph.sign_ins",
        "o365.subscriptions",
        "o365.content",
    ] {
        assert_eq!(status(&m, kind), EvidenceStatus::Forbidden, "{kind}");
    }
    let r = results("woodgrove-restricted");
    for c in r.checks.iter().filter(|c| c.status == Status::Pass) {
        for e in &c.evidence {
            assert!(
                e.status == "ok" || e.status == "not_found",
                "{} passed although {} is {}",
                c.id,
                e.kind,
                e.status
            );
        }
    }
}
