//! `[[siem]]` targets: both config forms, credentials named never given, and what the audit
//! makes of SIEM evidence that is missing.

mod common;

use common::*;

fn base() -> String {
    config_text("Contoso")
}

fn parse(text: &str) -> Result<siemproof::config::Config, String> {
    siemproof::config::Config::parse(text, "siemproof.toml").map_err(|e| e.to_string())
}

#[test]
fn both_forms_give_one_shape() {
    let table = base()
        + "\n[siem]\nkind = \"qradar\"\ncollector_egress_ips = [\"198.51.100.7\"]\n\n[[siem.targets]]\nkind = \"qradar\"\nurl = \"https://qradar.example\"\ncredential_env = \"QRADAR_TOKEN\"\n";
    let c = parse(&table).expect("table form");
    assert_eq!(c.siem.kind, "qradar");
    assert_eq!(c.siem.targets.len(), 1);
    let array = base()
        + "\n[[siem]]\nkind = \"qradar\"\nurl = \"https://qradar.example\"\ncredential_env = \"QRADAR_TOKEN\"\ncollector_egress_ips = [\"198.51.100.7\"]\n\n[[siem]]\nkind = \"splunk\"\nurl = \"https://splunk.example:8089\"\ncredential_file = \"/run/secrets/splunk\"\n";
    let c = parse(&array).expect("array form");
    assert_eq!(c.siem.kind, "qradar", "the first target's kind");
    assert_eq!(c.siem.targets.len(), 2);
    assert_eq!(c.siem.collector_egress_ips, vec!["198.51.100.7"]);
    // It serialises as the table form, which reads back the same.
    let json = serde_json::to_value(&c).unwrap();
    let again: siemproof::config::Config = serde_json::from_value(json).unwrap();
    assert_eq!(again.siem, c.siem);
}

#[test]
fn a_credential_in_the_config_is_refused_without_echoing_it() {
    let secret = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0.c2ln";
    let text = base()
        + &format!("\n[[siem]]\nkind = \"qradar\"\nurl = \"https://qradar.example\"\ncredential_env = \"{secret}\"\n");
    let e = parse(&text).expect_err("a token is not a variable name");
    assert!(e.contains("siem[0].credential_env"), "{e}");
    assert!(
        !e.contains(secret),
        "the error must not echo the credential: {e}"
    );
    let text = base()
        + "\n[[siem]]\nkind = \"qradar\"\nurl = \"https://admin:hunter2@qradar.example\"\ncredential_env = \"QRADAR_TOKEN\"\n";
    let e = parse(&text).expect_err("credentials in the URL");
    assert!(!e.contains("hunter2"), "{e}");
    for (bad, key) in [
        (
            "url = \"http://qradar.example\"\ncredential_env = \"T\"",
            "siem[0].url",
        ),
        ("url = \"https://qradar.example\"", "siem[0].credential_env"),
        (
            "kind = \"arcsight\"\nurl = \"https://x.example\"\ncredential_env = \"T\"",
            "siem[0].kind",
        ),
    ] {
        let body = if bad.starts_with("kind") {
            bad.to_string()
        } else {
            format!("kind = \"qradar\"\n{bad}")
        };
        let e = parse(&(base() + "\n[[siem]]\n" + &body + "\n")).expect_err(bad);
        assert!(e.contains(key), "{bad}: {e}");
    }
    let text = base()
        + "\n[[siem]]\nkind = \"qradar\"\nurl = \"https://qradar.example\"\ncredential_env = \"T\"\nevent_counts = true\n";
    assert!(parse(&text).is_ok(), "QRadar runs the opt-in Ariel search");
    let text = base()
        + "\n[[siem]]\nkind = \"elastic\"\nurl = \"https://es.example:9200\"\nkibana_url = \"https://kb.example\"\ncredential_env = \"T\"\nevent_counts = true\n";
    assert!(
        parse(&text)
            .expect_err("elastic has no opt-in search")
            .contains("siem[0].event_counts"),
        "an option that would do nothing is refused"
    );
    let text = base()
        + "\n[[siem]]\nkind = \"qradar\"\nurl = \"https://a.example\"\ncredential_env = \"T\"\n[[siem]]\nkind = \"qradar\"\nurl = \"https://b.example\"\ncredential_env = \"T\"\n";
    assert!(
        parse(&text)
            .expect_err("two targets, one label")
            .contains("siem[1].name"),
        "two targets with one label would mix their evidence"
    );
    let text = base()
        + "\n[[siem]]\nkind = \"elastic\"\nurl = \"https://es.example:9200\"\ncredential_env = \"ES_KEY\"\n";
    assert!(parse(&text)
        .expect_err("elastic needs kibana")
        .contains("kibana_url"));
}

#[test]
fn without_a_siem_target_the_siem_side_is_not_applicable_and_in_siem_unknown() {
    let t = tempfile::tempdir().unwrap();
    let b = small_bundle(t.path(), "Contoso");
    let m = model_of(&b);
    assert!(!m.siem.configured);
    assert!(m.coverage.iter().all(|r| r.in_siem.is_none()));
}
