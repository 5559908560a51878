//! The normaliser reads Microsoft's real response shapes, traps included
//! (reference/microsoft-apis.md section 8): ids without a leading slash, case-varying keys and
//! types, absent security properties (absent is not `false`), `category` vs `categoryGroup`, the
//! O365 list as a bare array, per-metric errors inside a 200, and failed requests as evidence.

mod common;

use common::*;
use serde_json::json;

fn cfg() -> String {
    config_text("Contoso")
        + "\n[siem]\ncollector_egress_ips = [\"198.51.100.7\"]\n\n[storage]\naccount = \"qradarcheckpoints\"\ncontainer = \"checkpoints\"\n\n[app]\nclient_ids = [\"0a1b2c3d-0000-4000-8000-000000000001\"]\n"
}

const RG: &str = "/subscriptions/aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee/resourceGroups/siem-rg";

fn ns_id() -> String {
    format!("{RG}/providers/Microsoft.EventHub/namespaces/psiem-namespace")
}

#[test]
fn event_hub_shapes_and_links() {
    let t = tempfile::tempdir().unwrap();
    let ns = ns_id();
    let hub = format!("{ns}/eventhubs/security-logs-hub");
    let b = bundle_with(
        t.path(),
        &cfg(),
        &[
            // Id without a leading slash, `Microsoft.EventHub/Namespaces` casing, TLS absent.
            (
                "arm.eventhub.namespaces",
                Some(RG),
                json!({"value": [{"id": ns.trim_start_matches('/'), "name": "psiem-namespace",
                "type": "Microsoft.EventHub/Namespaces", "location": "West Europe", "Properties": {"Status": "Active", "publicNetworkAccess": "Enabled"}}]}),
            ),
            (
                "arm.eventhub.eventhubs",
                Some(&ns),
                json!({"value": [{"id": hub, "name": "security-logs-hub",
                "properties": {"status": "Active", "partitionCount": 4, "retentionDescription": {"cleanupPolicy": "Delete", "retentionTimeInHours": 72}}}]}),
            ),
            // A malformed id with a stray api-version, as in Microsoft's own example.
            (
                "arm.eventhub.namespace_rules",
                Some(&ns),
                json!({"value": [
                {"id": format!("{ns}/authorizationRules/RootManageSharedAccessKey?api-version=2017-04-01/"), "name": "RootManageSharedAccessKey", "properties": {"rights": ["Listen", "Manage", "Send"]}},
                {"id": format!("{ns}/authorizationRules/SendPolicy"), "name": "SendPolicy", "properties": {"rights": ["send"]}},
                {"id": format!("{ns}/authorizationRules/ListenPolicy"), "name": "ListenPolicy", "properties": {"rights": ["Listen"]}}]}),
            ),
            (
                "arm.eventhub.consumer_groups",
                Some(&hub),
                json!({"value": [{"id": format!("{hub}/consumergroups/$Default"), "name": "$Default"},
                {"id": format!("{hub}/consumergroups/qradar-cg"), "name": "qradar-cg", "properties": {"userMetadata": "QRadar \"prod\""}}]}),
            ),
            (
                "arm.eventhub.network_rule_sets",
                Some(&ns),
                json!({"id": format!("{ns}/networkRuleSets/default"), "name": "default",
                "properties": {"defaultAction": "Deny", "publicNetworkAccess": "Enabled", "ipRules": [{"ipMask": "198.51.100.0/24", "action": "Allow"}]}}),
            ),
            // One metric failed inside a 200; slots without data omit `total`.
            (
                "arm.eventhub.metrics",
                Some(&ns),
                json!({"timespan": "2026-11-19T08:00:00Z/2026-11-20T08:00:00Z", "value": [
                {"name": {"value": "IncomingMessages"}, "errorCode": "Success", "timeseries": [{"metadatavalues": [{"name": {"value": "entityname"}, "value": "security-logs-hub"}],
                    "data": [{"timeStamp": "2026-11-19T09:00:00Z", "total": 10.0}, {"timeStamp": "2026-11-19T10:00:00Z"}, {"timeStamp": "2026-11-19T11:00:00Z", "total": 5}]}]},
                {"name": {"value": "OutgoingMessages"}, "errorCode": "Success", "timeseries": [{"metadatavalues": [{"name": {"value": "entityname"}, "value": "security-logs-hub"}],
                    "data": [{"timeStamp": "2026-11-19T09:00:00Z", "total": 12}]}]},
                {"name": {"value": "ThrottledRequests"}, "errorCode": "InvalidMetric", "errorMessage": "Metric is not available"}]}),
            ),
            (
                "arm.aadiam.diagnostic_settings",
                None,
                json!({"value": [
                {"id": "/providers/microsoft.aadiam/diagnosticSettings/aad-to-eventhub", "type": null, "name": "aad-to-eventhub", "properties": {
                    "eventHubAuthorizationRuleId": format!("{}/authorizationrules/SendPolicy", ns.trim_start_matches('/')), "eventHubName": "Security-Logs-Hub",
                    "logs": [{"category": "AuditLogs", "enabled": true}, {"category": "SignInLogs", "enabled": "true"},
                             {"category": "NonInteractiveUserSIgnInLogs", "enabled": true}, {"category": "RiskyUsers", "enabled": false}]}},
                {"id": "/providers/microsoft.aadiam/diagnosticSettings/second", "name": "second", "properties": {
                    "eventHubAuthorizationRuleId": format!("{ns}/authorizationRules/RootManageSharedAccessKey"), "eventHubName": "security-logs-hub",
                    "logs": [{"categoryGroup": "allLogs", "enabled": true}]}}]}),
            ),
        ],
        &[],
    );
    let m = model_of(&b);
    let n = m
        .eventhub
        .namespace
        .as_ref()
        .expect("configured namespace found");
    assert_eq!(n.id, ns, "leading slash restored");
    assert_eq!(n.status.as_deref(), Some("Active"), "case-insensitive keys");
    assert_eq!(n.minimum_tls_version, None, "absent stays absent");
    assert_eq!(
        n.effective_min_tls, "1.0",
        "absent TLS means the 1.0 default"
    );
    let root = n.rules.iter().flatten().find(|r| r.is_root).unwrap();
    assert_eq!(
        (root.manage, root.listen, root.send),
        (Some(true), Some(true), Some(true))
    );
    let h = m.eventhub.hub.as_ref().unwrap();
    assert_eq!(h.retention_days, Some(3.0));
    assert_eq!(h.consumer_groups.as_ref().unwrap().len(), 2);
    assert!(m.eventhub.consumer_group.is_some());
    assert_eq!(
        m.eventhub.send_rule.as_ref().unwrap().send_only,
        Some(true),
        "rights compared case-insensitively"
    );
    assert_eq!(
        m.eventhub.listen_rule.as_ref().unwrap().listen_only,
        Some(true)
    );
    let net = n.network.as_ref().unwrap();
    assert_eq!(net.restricted, Some(true));
    assert_eq!(
        net.collector_allowed,
        Some(true),
        "198.51.100.7 is inside 198.51.100.0/24"
    );
    let hm = h.metrics.as_ref().unwrap();
    assert_eq!(hm.incoming_messages, Some(15.0));
    assert_eq!(hm.backlog, Some(3.0));
    let nm = n.metrics.as_ref().unwrap();
    assert_eq!(
        nm.throttled_requests, None,
        "a failed metric is unknown, not zero"
    );
    assert!(nm.errors[0].contains("InvalidMetric"));
    // The diagnostic setting resolves to the namespace, the rule (with rights) and the hub.
    let s = &m
        .entra
        .settings
        .iter()
        .find(|s| s.name == "aad-to-eventhub")
        .unwrap();
    let e = s.event_hub.as_ref().unwrap();
    assert_eq!(e.namespace_exists, Some(true));
    assert_eq!(e.rule_exists, Some(true));
    assert_eq!(e.rule_send_only, Some(true));
    assert_eq!(e.hub_exists, Some(true));
    assert!(e.to_configured);
    assert!(
        s.categories
            .contains(&"NonInteractiveUserSignInLogs".to_string()),
        "doc typo matched"
    );
    assert!(
        !s.categories.contains(&"RiskyUsers".to_string()),
        "disabled categories are not streamed"
    );
    let second = m
        .entra
        .settings
        .iter()
        .find(|s| s.name == "second")
        .unwrap();
    assert_eq!(
        second.category_groups,
        vec!["allLogs"],
        "unexpanded without the category list"
    );
    assert!(second.event_hub.as_ref().unwrap().rule_is_root);
    assert_eq!(m.entra.category_streamed("signinlogs"), Some(true));
}

#[test]
fn storage_absent_hardening_is_not_false() {
    let t = tempfile::tempdir().unwrap();
    let acct = format!("{RG}/providers/Microsoft.Storage/storageAccounts/qradarcheckpoints");
    let b = bundle_with(
        t.path(),
        &cfg(),
        &[
            (
                "arm.storage.accounts",
                Some(RG),
                json!({"value": [{"id": acct, "name": "qradarcheckpoints", "location": "westeurope", "kind": "StorageV2", "properties": {}}]}),
            ),
            (
                "arm.storage.containers",
                Some(&acct),
                json!({"value": [{"id": format!("{acct}/blobServices/default/containers/checkpoints"), "name": "checkpoints", "properties": {"publicAccess": "None"}}]}),
            ),
        ],
        &[],
    );
    let m = model_of(&b);
    let a = m.storage.account.as_ref().unwrap();
    assert_eq!(a.https_only, None);
    assert_eq!(a.allow_blob_public_access, None);
    assert_eq!(a.allow_shared_key_access, None);
    assert!(a.shared_key_enabled, "null is equivalent to true");
    assert_eq!(a.effective_min_tls, "TLS1_0");
    assert_eq!(a.checkpoint_container_exists, Some(true));
}

#[test]
fn app_permissions_resolve_by_name_through_app_roles() {
    let t = tempfile::tempdir().unwrap();
    let app = "0a1b2c3d-0000-4000-8000-000000000001";
    // Role ids here are deliberately NOT the commercial-cloud GUIDs: names must come from appRoles.
    let b = bundle_with(
        t.path(),
        &cfg(),
        &[
            (
                "graph.applications",
                Some(app),
                json!({"value": [{"id": "obj-1", "appId": app, "displayName": "QRadar-M365-Integration", "signInAudience": "AzureADMultipleOrgs",
                "passwordCredentials": [{"keyId": "k1", "displayName": "qradar", "startDateTime": "2025-01-01T00:00:00Z", "endDateTime": "2026-12-01T00:00:00Z", "secretText": null},
                                        {"keyId": "k2", "displayName": "old", "startDateTime": "2024-01-01T00:00:00Z", "endDateTime": "2026-01-01T00:00:00Z"}],
                "keyCredentials": [],
                "requiredResourceAccess": [{"resourceAppId": "c5393580-f805-4401-95e8-94b7a6ef2fc2", "resourceAccess": [
                    {"id": "11111111-0000-4000-8000-000000000001", "type": "Role"}, {"id": "11111111-0000-4000-8000-000000000002", "type": "Role"}]}]}]}),
            ),
            // One request per app id, as the collector sends them (`$filter=appId eq '…'`).
            (
                "graph.service_principals",
                Some(app),
                json!({"value": [
                {"id": "sp-app", "appId": app, "displayName": "QRadar-M365-Integration", "accountEnabled": true, "appRoles": []}]}),
            ),
            (
                "graph.service_principals",
                Some("c5393580-f805-4401-95e8-94b7a6ef2fc2"),
                json!({"value": [
                {"id": "sp-o365", "appId": "c5393580-f805-4401-95e8-94b7a6ef2fc2", "displayName": "Office 365 Management APIs", "appRoles": [
                    {"id": "11111111-0000-4000-8000-000000000001", "value": "ActivityFeed.Read", "allowedMemberTypes": ["Application"]},
                    {"id": "11111111-0000-4000-8000-000000000002", "value": "ActivityFeed.ReadDlp", "allowedMemberTypes": ["Application"]}]}]}),
            ),
            (
                "graph.service_principals",
                Some("00000003-0000-0000-c000-000000000000"),
                json!({"value": [
                {"id": "sp-graph", "appId": "00000003-0000-0000-c000-000000000000", "displayName": "Microsoft Graph", "appRoles": [
                    {"id": "22222222-0000-4000-8000-000000000001", "value": "Mail.ReadWrite"}]}]}),
            ),
            (
                "graph.app_role_assignments",
                Some("sp-app"),
                json!({"value": [
                {"principalId": "sp-app", "resourceId": "sp-o365", "appRoleId": "11111111-0000-4000-8000-000000000001"},
                {"principalId": "sp-app", "resourceId": "sp-graph", "appRoleId": "22222222-0000-4000-8000-000000000001"},
                {"principalId": "sp-app", "resourceId": "sp-graph", "appRoleId": "99999999-0000-4000-8000-000000000009"}]}),
            ),
            (
                "graph.oauth2_permission_grants",
                Some("sp-app"),
                json!({"value": [{"clientId": "sp-app", "consentType": "AllPrincipals", "resourceId": "sp-o365", "scope": " ActivityFeed.ReadDlp "}]}),
            ),
        ],
        &[],
    );
    let m = model_of(&b);
    let a = &m.apps.items[0];
    assert_eq!(a.found, Some(true));
    assert_eq!(a.single_tenant, Some(false));
    assert_eq!(a.o365_permissions, vec!["ActivityFeed.Read"]);
    assert_eq!(a.graph_permissions, vec!["Mail.ReadWrite"]);
    assert_eq!(a.write_permissions, vec!["Mail.ReadWrite"]);
    assert_eq!(a.unresolved_assignments, 1);
    assert_eq!(
        a.can_write,
        Some(true),
        "a known write decides, unresolved or not"
    );
    assert_eq!(a.permissions_resolved, Some(false));
    assert_eq!(
        a.not_consented, None,
        "an assignment that cannot be named might be the requested role: consent is unknown"
    );
    assert_eq!(
        a.delegated_permissions.as_deref(),
        Some(&["Office 365 Management APIs/ActivityFeed.ReadDlp".to_string()][..])
    );
    let creds = a
        .credentials
        .as_ref()
        .expect("both credential lists returned");
    let k1 = creds
        .iter()
        .find(|c| c.key_id.as_deref() == Some("k1"))
        .unwrap();
    assert_eq!(k1.days_left, Some(10));
    assert!(k1.expiring && !k1.expired);
    let k2 = creds
        .iter()
        .find(|c| c.key_id.as_deref() == Some("k2"))
        .unwrap();
    assert!(k2.expired);
    assert_eq!(a.valid_credentials, Some(1));
}

#[test]
fn o365_bare_array_errors_and_freshness() {
    let t = tempfile::tempdir().unwrap();
    let b = bundle_with(
        t.path(),
        &cfg(),
        &[
            (
                "o365.subscriptions",
                None,
                json!([
                {"contentType": "Audit.AzureActiveDirectory", "status": "enabled", "webhook": null},
                {"contentType": "Audit.Exchange", "status": "enabled", "webhook": {"address": "http://siem.example/hook", "status": "enabled"}},
                {"contentType": "Audit.SharePoint", "status": "disabled", "webhook": null},
                {"contentType": "Audit.General", "webhook": null}]),
            ),
            (
                "o365.content",
                Some("Audit.AzureActiveDirectory"),
                json!([{"contentType": "Audit.AzureActiveDirectory", "contentId": "x", "contentCreated": "2026-11-20T10:30:00.000Z"}]),
            ),
            (
                "o365.content",
                Some("Audit.Exchange"),
                json!([{"contentType": "Audit.Exchange", "contentId": "y", "contentCreated": "2026-11-18T10:30:00"}]),
            ),
        ],
        &[("o365.content", Some("DLP.All"), 400, "AF20022")],
    );
    let m = model_of(&b);
    let ct = |n: &str| {
        m.o365
            .content_types
            .iter()
            .find(|c| c.content_type == n)
            .unwrap()
    };
    assert_eq!(ct("Audit.AzureActiveDirectory").enabled, Some(true));
    assert_eq!(ct("Audit.AzureActiveDirectory").fresh, Some(true));
    assert_eq!(
        ct("Audit.AzureActiveDirectory").hours_since_latest,
        Some(1.5)
    );
    assert_eq!(
        ct("Audit.Exchange").fresh,
        Some(false),
        "no offset means UTC; 49.5 h old"
    );
    assert_eq!(ct("Audit.Exchange").webhook_https, Some(false));
    assert_eq!(ct("Audit.SharePoint").enabled, Some(false));
    assert_eq!(
        ct("Audit.General").enabled,
        None,
        "listed without a status: unknown"
    );
    assert_eq!(
        ct("DLP.All").enabled,
        Some(false),
        "not listed: no subscription"
    );
    assert_eq!(ct("DLP.All").error_code.as_deref(), Some("AF20022"));
    assert!(ct("DLP.All")
        .explanation
        .as_deref()
        .unwrap()
        .contains("no subscription"));
    assert_eq!(ct("DLP.All").content_status, "not_found");
}

#[test]
fn failures_are_evidence_and_malformed_bodies_fail_closed() {
    let t = tempfile::tempdir().unwrap();
    let b = bundle_with(
        t.path(),
        &cfg(),
        &[(
            "arm.storage.accounts",
            Some(RG),
            json!({"value": {"oops": 1}}),
        )],
        &[
            (
                "arm.aadiam.diagnostic_settings",
                None,
                403,
                "AuthorizationFailed",
            ),
            ("o365.subscriptions", None, 403, "AF429"),
        ],
    );
    let m = model_of(&b);
    let st = |k: &str| m.evidence[k].status.as_str();
    assert_eq!(st("arm.aadiam.diagnostic_settings"), "forbidden");
    assert!(m.evidence["arm.aadiam.diagnostic_settings"]
        .reason
        .as_deref()
        .unwrap()
        .contains("AuthorizationFailed"));
    assert_eq!(
        st("o365.subscriptions"),
        "throttled",
        "AF429 arrives as 403 but is throttling"
    );
    assert_eq!(st("arm.storage.accounts"), "error");
    assert!(m.evidence["arm.storage.accounts"]
        .reason
        .as_deref()
        .unwrap()
        .contains("expected an array"));
    assert_eq!(st("graph.sign_ins"), "not_collected");
    assert_eq!(
        m.entra.category_streamed("SignInLogs"),
        None,
        "unreadable is unknown, not false"
    );
    assert!(m.o365.content_types.iter().all(|c| c.enabled.is_none()));
}

/// A listing learns whether its last page names a further page from the body it reads; the
/// kind's state is settled from what the listings learned. A cut-short chain must come out
/// `incomplete` (its groups unknown, not empty) and the complete one beside it still read.
#[test]
fn a_chain_whose_last_page_names_a_next_page_is_incomplete_when_read_streaming() {
    let t = tempfile::tempdir().unwrap();
    let ns = ns_id();
    let cut = format!("{ns}/eventhubs/cut-hub");
    let whole = format!("{ns}/eventhubs/whole-hub");
    let b = bundle_with(
        t.path(),
        &cfg(),
        &[
            (
                "arm.eventhub.namespaces",
                Some(RG),
                json!({"value": [{"id": ns, "name": "psiem-namespace", "properties": {"status": "Active"}}]}),
            ),
            (
                "arm.eventhub.eventhubs",
                Some(&ns),
                json!({"value": [
                    {"id": cut, "name": "cut-hub", "properties": {"status": "Active"}},
                    {"id": whole, "name": "whole-hub", "properties": {"status": "Active"}}]}),
            ),
            (
                "arm.eventhub.consumer_groups",
                Some(&cut),
                json!({"value": [{"id": format!("{cut}/consumergroups/$Default"), "name": "$Default"}],
                    "nextLink": "https://management.azure.com/next?$skiptoken=x"}),
            ),
            (
                "arm.eventhub.consumer_groups",
                Some(&whole),
                json!({"value": [{"id": format!("{whole}/consumergroups/qradar-cg"), "name": "qradar-cg"}]}),
            ),
        ],
        &[],
    );
    let m = model_of(&b);
    let hubs = m.eventhub.namespaces[0].hubs.as_ref().expect("hubs listed");
    let groups = |name: &str| {
        hubs.iter()
            .find(|h| h.name == name)
            .expect(name)
            .consumer_groups
            .as_ref()
            .map(|g| g.iter().map(|c| c.name.clone()).collect::<Vec<_>>())
    };
    assert_eq!(groups("cut-hub"), None, "a cut-short listing is not a list");
    assert_eq!(groups("whole-hub"), Some(vec!["qradar-cg".to_string()]));
    let st = &m.evidence["arm.eventhub.consumer_groups"];
    assert_eq!(st.status, siemproof::evidence::EvidenceStatus::Incomplete);
    let reason = st.reason.as_deref().unwrap_or_default();
    assert!(
        reason.contains("cut-hub") && reason.contains("names a next page"),
        "{reason}"
    );
}

/// The audit drops the hourly points once the results hold the configured hub's: every copy
/// goes (listed namespaces and hubs, the configured ones), and the totals stay.
#[test]
fn drop_hourly_clears_every_copy_and_keeps_the_totals() {
    use siemproof::normalize::model::{EventHub, Hub, MetricHour, Metrics, Namespace};
    let metrics = || {
        Some(Metrics {
            incoming_messages: Some(3.0),
            hourly: vec![MetricHour::default(); 2],
            ..Default::default()
        })
    };
    let hub = Hub {
        name: "h".into(),
        metrics: metrics(),
        ..Default::default()
    };
    let ns = Namespace {
        name: "n".into(),
        metrics: metrics(),
        hubs: Some(vec![hub.clone()]),
        ..Default::default()
    };
    let mut eh = EventHub {
        namespaces: vec![ns.clone(), ns.clone()],
        namespace: Some(ns),
        hub: Some(hub),
        ..Default::default()
    };
    eh.drop_hourly();
    let all: Vec<&Metrics> = eh
        .namespaces
        .iter()
        .chain(eh.namespace.as_ref())
        .flat_map(|n| {
            std::iter::once(n.metrics.as_ref())
                .chain(n.hubs.iter().flatten().map(|h| h.metrics.as_ref()))
        })
        .chain(eh.hub.as_ref().map(|h| h.metrics.as_ref()))
        .flatten()
        .collect();
    assert_eq!(
        all.len(),
        7,
        "two listed namespaces and the configured one, each with a hub, and the configured hub"
    );
    assert!(all.iter().all(|m| m.hourly.is_empty()));
    assert!(all.iter().all(|m| m.incoming_messages == Some(3.0)));
}

/// One namespace's metrics response with `n` messages in for `hub`, as a batch entry would carry.
fn metrics_of(hub: &str, n: f64) -> serde_json::Value {
    json!({"timespan": "2026-11-19T08:00:00Z/2026-11-20T08:00:00Z", "interval": "PT1H", "value": [
        {"name": {"value": "IncomingMessages"}, "errorCode": "Success", "timeseries": [{"metadatavalues": [{"name": {"value": "entityname"}, "value": hub}],
            "data": [{"timeStamp": "2026-11-19T09:00:00Z", "total": n}]}]},
        {"name": {"value": "ThrottledRequests"}, "errorCode": "Success", "timeseries": [{"metadatavalues": [{"name": {"value": "entityname"}, "value": hub}],
            "data": [{"timeStamp": "2026-11-19T09:00:00Z", "total": 0.0}]}]}]})
}

/// Evidence items with owned scopes: (kind, scope, body).
type Owned = Vec<(&'static str, Option<String>, serde_json::Value)>;

/// `items` as [`bundle_with_batches`] takes them.
fn borrowed<'a>(
    items: &'a [(&'static str, Option<String>, serde_json::Value)],
) -> Vec<(&'static str, Option<&'a str>, serde_json::Value)> {
    items
        .iter()
        .map(|(k, s, v)| (*k, s.as_deref(), v.clone()))
        .collect()
}

/// Three namespaces of one region, each with the hub `h`.
fn three_namespaces() -> (Vec<String>, Owned) {
    let ids: Vec<String> = ["ns-a", "ns-b", "ns-c"]
        .iter()
        .map(|n| format!("{RG}/providers/Microsoft.EventHub/namespaces/{n}"))
        .collect();
    let list: Vec<serde_json::Value> = ids
        .iter()
        .map(|id| json!({"id": id, "name": id.rsplit('/').next(), "location": "West Europe", "properties": {"status": "Active"}}))
        .collect();
    let mut items = vec![(
        "arm.eventhub.namespaces",
        Some(RG.to_string()),
        json!({ "value": list }),
    )];
    for id in &ids {
        items.push((
            "arm.eventhub.eventhubs",
            Some(id.clone()),
            json!({"value": [{"id": format!("{id}/eventhubs/h"), "name": "h", "properties": {"status": "Active"}}]}),
        ));
    }
    (ids, items)
}

fn incoming(m: &siemproof::normalize::model::Model, n: usize) -> (Option<f64>, Vec<String>) {
    let ns = &m.eventhub.namespaces[n];
    let h = &ns.hubs.as_ref().unwrap()[0];
    let hm = h.metrics.as_ref().expect("hub metrics set");
    (hm.incoming_messages, hm.errors.clone())
}

/// A batch entry counts only for a namespace the batch asked for, in the region it was asked
/// in (the batch API answers another region with empty series); a namespace its answer leaves
/// out is unknown, never zero.
#[test]
fn batched_metrics_are_taken_only_as_asked_and_in_their_region() {
    let t = tempfile::tempdir().unwrap();
    let (ids, items) = three_namespaces();
    let entry = |id: &str, region: &str, n: f64| {
        let mut v = metrics_of("h", n);
        v["resourceid"] = json!(id);
        v["namespace"] = json!("microsoft.eventhub/namespaces");
        v["resourceregion"] = json!(region);
        v
    };
    let items = borrowed(&items);
    let b = bundle_with_batches(
        t.path(),
        &cfg(),
        &items,
        &[],
        &[(
            ids.clone(),
            Ok(
                json!({"values": [entry(&ids[0], "westeurope", 7.0), entry(&ids[1], "eastus", 9.0)]}),
            ),
        )],
    );
    let m = model_of(&b);
    let names: Vec<&str> = m
        .eventhub
        .namespaces
        .iter()
        .map(|n| n.name.as_str())
        .collect();
    assert_eq!(names, ["ns-a", "ns-b", "ns-c"]);
    assert_eq!(incoming(&m, 0), (Some(7.0), vec![]));
    let (b_in, b_err) = incoming(&m, 1);
    assert_eq!(
        b_in, None,
        "another region's answer is not this namespace's traffic"
    );
    assert!(
        b_err.iter().any(|e| e.contains("another region")),
        "{b_err:?}"
    );
    let (c_in, c_err) = incoming(&m, 2);
    assert_eq!(c_in, None, "left out of the answer is unknown, never 0");
    assert!(c_err.iter().any(|e| e.contains("no entry")), "{c_err:?}");
    assert_eq!(m.evidence["arm.eventhub.metrics"].status.as_str(), "ok");
    assert!(m.evidence["arm.eventhub.metrics"]
        .files
        .iter()
        .any(|f| f.starts_with("raw/metrics/")));

    // An answer for a namespace the batch did not ask for is not taken, and says so.
    let t = tempfile::tempdir().unwrap();
    let b = bundle_with_batches(
        t.path(),
        &cfg(),
        &items,
        &[],
        &[(
            vec![ids[0].clone()],
            Ok(
                json!({"values": [entry(&ids[0], "westeurope", 7.0), entry(&ids[2], "westeurope", 3.0)]}),
            ),
        )],
    );
    let m = model_of(&b);
    assert_eq!(incoming(&m, 0).0, Some(7.0));
    assert!(m.eventhub.namespaces[2].metrics.is_none());
    let st = &m.evidence["arm.eventhub.metrics"];
    assert_eq!(st.status.as_str(), "inconsistent");
    assert!(
        st.reason
            .as_deref()
            .unwrap_or_default()
            .contains("did not ask for"),
        "{st:?}"
    );
}

/// A batch the API refused (no Monitoring Reader on the subscription) stands for nothing once
/// every namespace it asked for was read again on its own; without those reads it leaves the
/// metrics not assessable.
#[test]
fn a_refused_batch_read_again_per_namespace_is_covered_and_otherwise_fails_closed() {
    let (ids, items) = three_namespaces();
    let mut with_fallback = items.clone();
    for (n, id) in ids.iter().enumerate() {
        with_fallback.push((
            "arm.eventhub.metrics",
            Some(id.clone()),
            metrics_of("h", n as f64 + 1.0),
        ));
    }
    let refused: Vec<BatchRead<'_>> = vec![(ids.clone(), Err((403, "AuthorizationFailed")))];
    let run = |items: &[(&'static str, Option<String>, serde_json::Value)]| {
        let t = tempfile::tempdir().unwrap();
        let items = borrowed(items);
        let b = bundle_with_batches(t.path(), &cfg(), &items, &[], &refused);
        (model_of(&b), t)
    };
    let (m, _t) = run(&with_fallback);
    assert_eq!(m.evidence["arm.eventhub.metrics"].status.as_str(), "ok");
    assert_eq!(
        m.evidence["metrics.eventhub.batch"].status.as_str(),
        "forbidden"
    );
    assert_eq!(incoming(&m, 2).0, Some(3.0));

    // Two of three read again: the refused batch still stands for the third.
    let (m, _t) = run(&with_fallback[..with_fallback.len() - 1]);
    let st = &m.evidence["arm.eventhub.metrics"];
    assert_eq!(st.status.as_str(), "forbidden");
    assert!(
        st.reason
            .as_deref()
            .unwrap_or_default()
            .contains("AuthorizationFailed"),
        "{st:?}"
    );
    assert!(m.eventhub.namespaces[2].metrics.is_none());

    // No per-namespace read at all.
    let (m, _t) = run(&items);
    assert_eq!(
        m.evidence["arm.eventhub.metrics"].status.as_str(),
        "forbidden"
    );
}

/// Microsoft's published batch answer (MetricBatchExample.json, 2023-10-01; shortened, see its
/// .toml): its window is `starttime`/`endtime`, and it is Storage metrics, so it is refused as
/// the namespaces' traffic; the same entry named as Event Hubs metrics is read, window and all.
#[test]
fn microsofts_published_batch_answer_is_read_by_its_own_shape() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let published: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            root.join("fixtures/published/metrics.eventhub.batch/metric-batch-2023-10-01.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let ids: Vec<String> = published["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["resourceid"].as_str().unwrap().to_string())
        .collect();
    let rg = "/subscriptions/12345678-abcd-1234-abcd-123456789abc/resourceGroups/TestGroup";
    let list: Vec<serde_json::Value> = ids
        .iter()
        .map(|id| json!({"id": id, "name": id.rsplit('/').next(), "location": "East US", "properties": {"status": "Active"}}))
        .collect();
    let read = |answer: serde_json::Value| {
        let t = tempfile::tempdir().unwrap();
        let b = bundle_with_batches(
            t.path(),
            &cfg(),
            &[(
                "arm.eventhub.namespaces",
                Some(rg),
                json!({ "value": list }),
            )],
            &[],
            &[(ids.clone(), Ok(answer))],
        );
        (model_of(&b), t)
    };
    let (m, _t) = read(published.clone());
    for ns in &m.eventhub.namespaces {
        let nm = ns.metrics.as_ref().expect("set");
        assert!(
            nm.errors
                .iter()
                .any(|e| e.contains("microsoft.storage/storageaccounts")),
            "{:?}",
            nm.errors
        );
        assert_eq!(nm.incoming_messages, None);
    }
    let mut as_eventhub = published.clone();
    for v in as_eventhub["values"].as_array_mut().unwrap() {
        v["namespace"] = json!("microsoft.eventhub/namespaces");
    }
    let (m, _t) = read(as_eventhub);
    let nm = m.eventhub.namespaces[0].metrics.as_ref().unwrap();
    assert_eq!(
        nm.timespan.as_deref(),
        Some("2023-02-01T20:00:00.123Z/2023-02-01T23:00:00.345Z")
    );
    assert!(nm.errors.is_empty(), "{:?}", nm.errors);
    assert_eq!(
        nm.incoming_messages, None,
        "no IncomingMessages in a Storage answer"
    );
    assert_eq!(m.evidence["arm.eventhub.metrics"].status.as_str(), "ok");
}

/// A batch body that is not the documented object (a list, `values` that is not a list)
/// leaves its namespaces unknown and the metrics not assessable, never `ok`. (A body that is
/// not JSON at all does not get this far: the bundle refuses it, naming the file.)
#[test]
fn a_batch_body_of_another_shape_fails_the_metrics_closed() {
    let (ids, items) = three_namespaces();
    let items = borrowed(&items);
    for body in [
        json!(["a", "list"]),
        json!({"values": "x"}),
        json!({"values": [1, 2]}),
    ] {
        let t = tempfile::tempdir().unwrap();
        let b = bundle_with_batches(
            t.path(),
            &cfg(),
            &items,
            &[],
            &[(ids.clone(), Ok(body.clone()))],
        );
        let m = model_of(&b);
        let st = &m.evidence["arm.eventhub.metrics"];
        assert_eq!(st.status.as_str(), "error", "{body}: {st:?}");
        assert!(
            st.files.iter().any(|f| f.starts_with("raw/metrics/")),
            "{body}: the batch file is named: {st:?}"
        );
        assert!(
            m.eventhub.namespaces.iter().all(|n| n
                .metrics
                .as_ref()
                .is_none_or(|x| x.incoming_messages.is_none())),
            "{body}"
        );
    }
}
