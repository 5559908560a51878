//! Generates a synthetic tenant as an evidence bundle, in Microsoft's real response shapes, for
//! benchmarks (`benches/audit.sh`) and the collector benchmark against the mock.
//!
//! Usage: cargo run --release --example gen-tenant -- --namespaces 1000 --siem-apps 3 --out /tmp/big
//! (`--index K` gives tenant K of a fleet its own tenant and subscription ids; 0 is the default)
//!
//! The first namespace is the configured one and is set up per the guide; the rest vary
//! deterministically (from the index), so two runs with the same arguments give the same bundle.
//! Served by the mock (`examples/mock-cloud.rs`), it answers every request the collector makes
//! for its config: the URLs of the requests that depend on the plan (per-app Graph reads, the
//! audit logs, the Blob service) are built by the collector's own `plan::url_of`, so they match.

use std::path::PathBuf;

use anyhow::{Context, Result};
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use siemproof::cloud::CloudEndpoints;
use siemproof::config::Config;
use siemproof::evidence::manifest::{Collector, Item, Manifest, Tool};
use siemproof::evidence::writer::BundleWriter;

/// The URL the collector requests for `kind` with these plan variables.
fn url(ep: &CloudEndpoints, kind: &str, vars: &[(&str, &str)]) -> Result<String> {
    let k = siemproof::evidence::kinds::kind(kind).with_context(|| format!("no kind {kind}"))?;
    siemproof::collect::plan::url_of(ep, k, vars).map_err(anyhow::Error::msg)
}

/// Tenant and subscription of `--index 0` (the default); other indexes derive their own, so a
/// fleet of generated tenants has distinct ids.
const TENANT0: &str = "6f1c2b4e-3d5a-4e8f-9a7b-1c2d3e4f5a6b";
const SUB0: &str = "9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d";
static IDS: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();

/// The generated tenant's id.
fn tenant() -> &'static str {
    &IDS.get().expect("ids set in main").0
}

/// The generated subscription's id.
fn sub() -> &'static str {
    &IDS.get().expect("ids set in main").1
}
const RG: &str = "siem-rg";
const ARM: &str = "https://management.azure.com";
const GRAPH: &str = "https://graph.microsoft.com/v1.0";
const O365: &str = "https://manage.office.com";
/// The Office 365 Management APIs' and Microsoft Graph's well-known app ids.
const O365_APP: &str = "c5393580-f805-4401-95e8-94b7a6ef2fc2";
const GRAPH_APP: &str = "00000003-0000-0000-c000-000000000000";

struct Args {
    index: usize,
    namespaces: usize,
    siem_apps: usize,
    out: PathBuf,
}

fn args() -> Result<Args> {
    let mut a = Args {
        index: 0,
        namespaces: 10,
        siem_apps: 3,
        out: PathBuf::from("generated-tenant"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut v = || it.next().with_context(|| format!("{k} needs a value"));
        match k.as_str() {
            "--namespaces" => a.namespaces = v()?.parse()?,
            "--index" => a.index = v()?.parse()?,
            "--siem-apps" => a.siem_apps = v()?.parse()?,
            "--out" => a.out = PathBuf::from(v()?),
            other => anyhow::bail!(
                "unknown argument {other}; use --namespaces N --siem-apps N --index K --out DIR"
            ),
        }
    }
    a.siem_apps = a.siem_apps.max(1);
    Ok(a)
}

/// A deterministic GUID from a label and an index.
fn guid(label: u32, i: usize) -> String {
    let x = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ u64::from(label);
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        label,
        (i >> 16) & 0xffff,
        i & 0xfff,
        (x >> 20) & 0xfff,
        x & 0xffff_ffff_ffff
    )
}

struct Gen {
    w: BundleWriter,
    at: DateTime<Utc>,
}

impl Gen {
    fn add(
        &mut self,
        kind: &str,
        plane: &str,
        url: String,
        scope: Option<String>,
        page: u32,
        body: &Value,
    ) -> Result<()> {
        let path = self.w.next_raw_path(plane, kind);
        let item = Item {
            scope,
            page: Some(page),
            ..Item::get(kind, &url, self.at)
        };
        self.w
            .add_file(item, &path, &serde_json::to_vec_pretty(body)?)
    }

    /// Writes a list in pages of `size`, linking pages with `link_key`.
    #[allow(clippy::too_many_arguments)]
    fn paged(
        &mut self,
        kind: &str,
        plane: &str,
        url: &str,
        scope: Option<String>,
        items: Vec<Value>,
        size: usize,
        link_key: &str,
        extra: Value,
    ) -> Result<()> {
        let pages: Vec<&[Value]> = if items.is_empty() {
            vec![&[][..]]
        } else {
            items.chunks(size).collect()
        };
        let n = pages.len();
        for (p, chunk) in pages.into_iter().enumerate() {
            let page_url = if p == 0 {
                url.to_string()
            } else {
                format!("{url}&$skiptoken={p}")
            };
            let mut body = extra.clone();
            body["value"] = Value::Array(chunk.to_vec());
            if p + 1 < n {
                body[link_key] = Value::String(format!("{url}&$skiptoken={}", p + 1));
            }
            self.add(kind, plane, page_url, scope.clone(), p as u32, &body)?;
        }
        Ok(())
    }
}

fn main() -> Result<()> {
    let a = args()?;
    let ids = match a.index {
        0 => (TENANT0.to_string(), SUB0.to_string()),
        k => (guid(0x7e4a_0001, k), guid(0x5b0c_0001, k)),
    };
    IDS.set(ids).expect("ids set once");
    let at: DateTime<Utc> = "2026-11-20T08:00:00Z".parse()?;
    let manifest = Manifest {
        format: siemproof::evidence::manifest::FORMAT.into(),
        tool: Tool {
            name: "siemproof gen-tenant".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        tenant_id: tenant().into(),
        cloud: "public".into(),
        collected_at: at,
        collector: Collector {
            app_id: Some(guid(7, 0)),
            auth: "fixture".into(),
            host: None,
            at: None,
        },
        contributors: vec![],
        items: vec![],
    };
    let mut g = Gen {
        w: BundleWriter::new(&a.out, manifest)?,
        at,
    };
    let siem_ids: Vec<String> = (0..a.siem_apps).map(|i| guid(1, i)).collect();
    let config = format!(
        "[tenant]\nid = \"{}\"\nname = \"Generated tenant\"\n\n[siem]\nkind = \"qradar\"\ncollector_egress_ips = [\"198.51.100.7\"]\n\n\
[eventhub]\nsubscription_id = \"{}\"\nresource_group = \"{RG}\"\nnamespace = \"ns-0000\"\nhub = \"security-logs-hub\"\n\n\
[storage]\naccount = \"qradarcheckpoints\"\ncontainer = \"checkpoints\"\n\n[app]\nmethod = \"management_api\"\nclient_ids = [{}]\n",
        tenant(),
        sub(),
        siem_ids.iter().map(|s| format!("\"{s}\"")).collect::<Vec<_>>().join(", ")
    );
    let item = Item::local("config", at);
    g.w.add_file(item, "siemproof.toml", config.as_bytes())?;
    let ep = CloudEndpoints::resolve(&Config::parse(&config, "generated siemproof.toml")?)?;

    let rg_id = format!("/subscriptions/{}/resourceGroups/{RG}", sub());
    let ns_prefix = format!("{rg_id}/providers/Microsoft.EventHub/namespaces");
    let mut nss = Vec::new();
    for i in 0..a.namespaces {
        let name = format!("ns-{i:04}");
        nss.push(json!({
            "sku": {"name": "Standard", "tier": "Standard", "capacity": 1 + i % 4},
            "id": format!("{ns_prefix}/{name}"),
            "name": name,
            "type": "Microsoft.EventHub/Namespaces",
            "location": "West Europe",
            "tags": {},
            "properties": {
                "minimumTlsVersion": if i % 3 == 0 { "1.2" } else { "1.0" },
                "publicNetworkAccess": "Enabled",
                "disableLocalAuth": false,
                "zoneRedundant": true,
                "isAutoInflateEnabled": i % 2 == 0,
                "maximumThroughputUnits": if i % 2 == 0 { 10 } else { 0 },
                "kafkaEnabled": true,
                "provisioningState": "Succeeded",
                "status": "Active",
                "serviceBusEndpoint": format!("https://{name}.servicebus.windows.net:443/"),
                "privateEndpointConnections": []
            }
        }));
    }
    g.paged(
        "arm.eventhub.namespaces",
        "arm",
        &format!("{ARM}{ns_prefix}?api-version=2024-01-01"),
        Some(rg_id.clone()),
        nss,
        100,
        "nextLink",
        json!({}),
    )?;
    let hubs = [
        "security-logs-hub",
        "insights-logs-advancedhunting-alertinfo",
        "insights-logs-advancedhunting-deviceevents",
    ];
    for i in 0..a.namespaces {
        let ns_id = format!("{ns_prefix}/ns-{i:04}");
        let hub_list: Vec<Value> = hubs.iter().map(|h| json!({
            "id": format!("{ns_id}/eventhubs/{h}"), "name": h, "type": "Microsoft.EventHub/Namespaces/EventHubs", "location": "West Europe",
            "properties": {"partitionIds": ["0","1","2","3"], "partitionCount": 4, "status": "Active",
                "retentionDescription": {"cleanupPolicy": "Delete", "retentionTimeInHours": 72},
                "createdAt": "2026-01-10T10:00:00Z", "updatedAt": "2026-01-10T10:00:00Z"}
        })).collect();
        g.paged(
            "arm.eventhub.eventhubs",
            "arm",
            &format!("{ARM}{ns_id}/eventhubs?api-version=2024-01-01"),
            Some(ns_id.clone()),
            hub_list,
            100,
            "nextLink",
            json!({}),
        )?;
        let rules: Vec<Value> = [("RootManageSharedAccessKey", vec!["Listen", "Manage", "Send"]), ("SendPolicy", vec!["Send"]), ("ListenPolicy", vec!["Listen"])]
            .iter().map(|(n, r)| json!({"id": format!("{ns_id}/authorizationRules/{n}"), "name": n, "type": "Microsoft.EventHub/Namespaces/AuthorizationRules", "location": "West Europe", "properties": {"rights": r}})).collect();
        g.paged(
            "arm.eventhub.namespace_rules",
            "arm",
            &format!("{ARM}{ns_id}/authorizationRules?api-version=2024-01-01"),
            Some(ns_id.clone()),
            rules,
            100,
            "nextLink",
            json!({}),
        )?;
        g.add("arm.eventhub.network_rule_sets", "arm", format!("{ARM}{ns_id}/networkRuleSets/default?api-version=2024-01-01"), Some(ns_id.clone()), 0, &json!({
            "id": format!("{ns_id}/networkRuleSets/default"), "name": "default", "type": "Microsoft.EventHub/Namespaces/NetworkRuleSets", "location": "West Europe",
            "properties": {"publicNetworkAccess": "Enabled", "defaultAction": "Deny", "virtualNetworkRules": [], "trustedServiceAccessEnabled": true,
                "ipRules": [{"ipMask": "198.51.100.0/24", "action": "Allow"}]}
        }))?;
        for h in hubs {
            let hub_id = format!("{ns_id}/eventhubs/{h}");
            let cgs: Vec<Value> = ["$Default", "qradar-cg"].iter().map(|c| json!({"id": format!("{hub_id}/consumergroups/{c}"), "name": c, "type": "Microsoft.EventHub/Namespaces/EventHubs/ConsumerGroups", "location": "West Europe", "properties": {"createdAt": "2026-01-10T10:00:00Z", "updatedAt": "2026-01-10T10:00:00Z"}})).collect();
            g.paged(
                "arm.eventhub.consumer_groups",
                "arm",
                &format!("{ARM}{hub_id}/consumergroups?api-version=2024-01-01"),
                Some(hub_id.clone()),
                cgs,
                100,
                "nextLink",
                json!({}),
            )?;
            g.paged(
                "arm.eventhub.hub_rules",
                "arm",
                &format!("{ARM}{hub_id}/authorizationRules?api-version=2024-01-01"),
                Some(hub_id.clone()),
                vec![],
                100,
                "nextLink",
                json!({}),
            )?;
        }
        let series = |metric: &str, per_hour: f64| -> Value {
            let ts: Vec<Value> = hubs.iter().map(|h| json!({
                "metadatavalues": [{"name": {"value": "entityname", "localizedValue": "entityname"}, "value": h}],
                "data": (0..24).map(|k| json!({"timeStamp": (at - Duration::hours(24 - k)).to_rfc3339(), "total": per_hour})).collect::<Vec<_>>()
            })).collect();
            json!({"id": format!("{ns_id}/providers/Microsoft.Insights/metrics/{metric}"), "type": "Microsoft.Insights/metrics",
                "name": {"value": metric, "localizedValue": metric}, "displayDescription": "", "unit": "Count", "timeseries": ts, "errorCode": "Success"})
        };
        g.add("arm.eventhub.metrics", "arm", format!("{ARM}{ns_id}/providers/Microsoft.Insights/metrics?metricnames=IncomingMessages,OutgoingMessages,ThrottledRequests,IncomingBytes&aggregation=Total&interval=PT1H&api-version=2023-10-01"), Some(ns_id.clone()), 0, &json!({
            "cost": 0, "timespan": format!("{}/{}", (at - Duration::hours(24)).to_rfc3339(), at.to_rfc3339()), "interval": "PT1H",
            "value": [series("IncomingMessages", 1200.0), series("OutgoingMessages", 1190.0), series("ThrottledRequests", 0.0), series("IncomingBytes", 3.5e6)],
            "namespace": "Microsoft.EventHub/namespaces", "resourceregion": "westeurope"
        }))?;
    }
    let st_prefix = format!("{rg_id}/providers/Microsoft.Storage/storageAccounts");
    let acct_id = format!("{st_prefix}/qradarcheckpoints");
    g.paged("arm.storage.accounts", "arm", &format!("{ARM}{st_prefix}?api-version=2024-01-01"), Some(rg_id.clone()), vec![json!({
        "sku": {"name": "Standard_LRS", "tier": "Standard"}, "kind": "StorageV2", "id": acct_id, "name": "qradarcheckpoints",
        "type": "Microsoft.Storage/storageAccounts", "location": "westeurope",
        "properties": {"minimumTlsVersion": "TLS1_2", "allowBlobPublicAccess": false, "allowSharedKeyAccess": true, "supportsHttpsTrafficOnly": true,
            "networkAcls": {"bypass": "AzureServices", "virtualNetworkRules": [], "ipRules": [{"value": "198.51.100.7", "action": "Allow"}], "defaultAction": "Deny"},
            "provisioningState": "Succeeded", "primaryLocation": "westeurope", "statusOfPrimary": "available"}
    })], 100, "nextLink", json!({}))?;
    g.paged("arm.storage.containers", "arm", &format!("{ARM}{acct_id}/blobServices/default/containers?api-version=2023-05-01"), Some(acct_id.clone()), vec![json!({
        "id": format!("{acct_id}/blobServices/default/containers/checkpoints"), "name": "checkpoints", "type": "Microsoft.Storage/storageAccounts/blobServices/containers",
        "etag": "\"0x8DC1234567890AB\"", "properties": {"publicAccess": "None", "hasImmutabilityPolicy": false, "hasLegalHold": false}
    })], 100, "nextLink", json!({}))?;
    let logs: Vec<Value> = ["AuditLogs", "SignInLogs", "NonInteractiveUserSignInLogs", "ServicePrincipalSignInLogs"]
        .iter()
        .map(|c| json!({"category": c, "enabled": true, "retentionPolicy": {"enabled": false, "days": 0}}))
        .collect();
    g.add("arm.aadiam.diagnostic_settings", "arm", format!("{ARM}/providers/microsoft.aadiam/diagnosticSettings?api-version=2017-04-01"), None, 0, &json!({"value": [{
        "id": "/providers/microsoft.aadiam/diagnosticSettings/aad-to-eventhub", "type": null, "name": "aad-to-eventhub",
        "properties": {"eventHubAuthorizationRuleId": format!("{ns_prefix}/ns-0000/authorizationrules/SendPolicy"), "eventHubName": "security-logs-hub",
            "logs": logs,
            "metrics": []}
    }]}))?;
    g.add("graph.organization", "graph", format!("{GRAPH}/organization?$select=id,displayName,verifiedDomains"), None, 0, &json!({
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#organization(id,displayName,verifiedDomains)",
        "value": [{"id": tenant(), "displayName": "Generated tenant", "verifiedDomains": [{"name": "generated.onmicrosoft.com", "isDefault": true, "isInitial": true, "type": "Managed", "capabilities": "Email"}]}]
    }))?;
    let plans = [
        "AAD_PREMIUM",
        "AAD_PREMIUM_P2",
        "WINDEFATP",
        "ATA",
        "THREAT_INTELLIGENCE",
        "ADALLOM_S_STANDALONE",
        "M365_ADVANCED_AUDITING",
    ];
    g.add("graph.subscribed_skus", "graph", format!("{GRAPH}/subscribedSkus?$select=skuId,skuPartNumber,capabilityStatus,prepaidUnits,consumedUnits,servicePlans"), None, 0, &json!({
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#subscribedSkus", "value": [{
            "capabilityStatus": "Enabled", "consumedUnits": 900, "skuId": "06ebc4ee-1bb5-47dd-8120-11324bc54e06", "skuPartNumber": "SPE_E5",
            "prepaidUnits": {"enabled": 1000, "suspended": 0, "warning": 0},
            "servicePlans": plans.iter().enumerate().map(|(k, p)| json!({"servicePlanId": guid(9, k), "servicePlanName": p, "provisioningStatus": "Success", "appliesTo": "User"})).collect::<Vec<_>>()
        }]
    }))?;
    let end = |i: usize| (at + Duration::days(30 + (i % 700) as i64)).to_rfc3339();
    for (i, id) in siem_ids.iter().enumerate() {
        let app = json!({
            "id": guid(2, i), "appId": id, "displayName": format!("App {i}"), "signInAudience": "AzureADMyOrg",
            "passwordCredentials": [{"customKeyIdentifier": null, "displayName": "qradar", "endDateTime": end(i), "hint": "abc", "keyId": guid(3, i), "secretText": null, "startDateTime": (at - Duration::days(300)).to_rfc3339()}],
            "keyCredentials": [],
            "requiredResourceAccess": [{"resourceAppId": O365_APP, "resourceAccess": [{"id": "594c1fb6-4f81-4475-ae41-0c394909246c", "type": "Role"}]}]
        });
        g.add(
            "graph.applications",
            "graph",
            url(&ep, "graph.applications", &[("app_id", id)])?,
            Some(id.clone()),
            0,
            &json!({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#applications(id,appId,displayName,signInAudience,passwordCredentials,keyCredentials,requiredResourceAccess)", "value": [app]}),
        )?;
    }
    let o365_sp = guid(5, 1);
    let mut sps = vec![
        json!({"id": o365_sp, "appId": O365_APP, "displayName": "Office 365 Management APIs", "accountEnabled": true, "servicePrincipalType": "Application",
        "appRoles": [
            {"allowedMemberTypes": ["Application"], "id": "594c1fb6-4f81-4475-ae41-0c394909246c", "value": "ActivityFeed.Read", "isEnabled": true, "displayName": "Read activity data for your organization", "description": "x", "origin": "Application"},
            {"allowedMemberTypes": ["Application"], "id": "4807a72c-ad38-4250-94c9-4eabfe26cd55", "value": "ActivityFeed.ReadDlp", "isEnabled": true, "displayName": "Read DLP policy events including detected sensitive data", "description": "x", "origin": "Application"},
            {"allowedMemberTypes": ["Application"], "id": "e2cea78f-e743-4d8f-a16a-75b629a038ae", "value": "ServiceHealth.Read", "isEnabled": true, "displayName": "Read service health information for your organization", "description": "x", "origin": "Application"}]}),
        json!({"id": guid(5, 2), "appId": GRAPH_APP, "displayName": "Microsoft Graph", "accountEnabled": true, "servicePrincipalType": "Application",
        "appRoles": [
            {"allowedMemberTypes": ["Application"], "id": "b0afded3-3588-46d8-8b3d-9842eff778da", "value": "AuditLog.Read.All", "isEnabled": true, "displayName": "Read all audit log data", "description": "x", "origin": "Application"}]}),
    ];
    for (i, id) in siem_ids.iter().enumerate() {
        sps.push(json!({"id": guid(6, i), "appId": id, "displayName": format!("App {i}"), "accountEnabled": true, "servicePrincipalType": "Application", "appRoles": []}));
    }
    for sp in &sps {
        let app_id = sp["appId"].as_str().expect("appId").to_string();
        g.add(
            "graph.service_principals",
            "graph",
            url(&ep, "graph.service_principals", &[("app_id", &app_id)])?,
            Some(app_id),
            0,
            &json!({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#servicePrincipals(id,appId,displayName,appRoles,accountEnabled,servicePrincipalType)", "value": [sp]}),
        )?;
    }
    for i in 0..siem_ids.len() {
        let sp = guid(6, i);
        let roles = [
            "594c1fb6-4f81-4475-ae41-0c394909246c",
            "4807a72c-ad38-4250-94c9-4eabfe26cd55",
            "e2cea78f-e743-4d8f-a16a-75b629a038ae",
        ];
        let assigns: Vec<Value> = roles.iter().enumerate().map(|(k, r)| json!({"id": guid(8, i * 10 + k), "appRoleId": r, "createdDateTime": "2026-01-10T10:00:00Z", "principalDisplayName": format!("App {i}"), "principalId": sp, "principalType": "ServicePrincipal", "resourceDisplayName": "Office 365 Management APIs", "resourceId": o365_sp})).collect();
        g.paged(
            "graph.app_role_assignments",
            "graph",
            &format!("{GRAPH}/servicePrincipals/{sp}/appRoleAssignments?"),
            Some(sp.clone()),
            assigns,
            999,
            "@odata.nextLink",
            json!({}),
        )?;
        g.paged(
            "graph.oauth2_permission_grants",
            "graph",
            &format!("{GRAPH}/oauth2PermissionGrants?$filter=clientId eq '{sp}'"),
            Some(sp.clone()),
            vec![],
            999,
            "@odata.nextLink",
            json!({}),
        )?;
    }
    let root = format!("{O365}/api/v1.0/{}/activity/feed", tenant());
    let cts = [
        "Audit.AzureActiveDirectory",
        "Audit.Exchange",
        "Audit.SharePoint",
        "Audit.General",
        "DLP.All",
    ];
    let subs: Vec<Value> = cts
        .iter()
        .map(|c| json!({"contentType": c, "status": "enabled", "webhook": null}))
        .collect();
    g.add(
        "o365.subscriptions",
        "o365",
        format!("{root}/subscriptions/list?PublisherIdentifier={}", tenant()),
        None,
        0,
        &Value::Array(subs),
    )?;
    for c in cts {
        let blobs: Vec<Value> = (0..24).map(|k| {
            let created = at - Duration::minutes(30 + 60 * k);
            let id = format!("20261120{k:02}0000{}$20261120{k:02}0000{}${}$emea0026", guid(4, k as usize), guid(4, k as usize + 100), c.replace('.', "_").to_ascii_lowercase());
            json!({"contentType": c, "contentId": id, "contentUri": format!("{root}/audit/{id}"), "contentCreated": created.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(), "contentExpiration": (created + Duration::days(7)).format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()})
        }).collect();
        g.add("o365.content", "o365", format!("{root}/subscriptions/content?contentType={c}&startTime={}&endTime={}&PublisherIdentifier={}", (at - Duration::hours(24)).format("%Y-%m-%dT%H:%M:%S"), at.format("%Y-%m-%dT%H:%M:%S"), tenant()), Some(c.to_string()), 0, &Value::Array(blobs))?;
    }
    let categories: Vec<Value> = ["AuditLogs", "SignInLogs", "NonInteractiveUserSignInLogs", "ServicePrincipalSignInLogs", "ManagedIdentitySignInLogs", "ProvisioningLogs", "ADFSSignInLogs", "RiskyUsers", "UserRiskEvents"]
        .iter().map(|c| json!({"id": format!("/providers/microsoft.aadiam/diagnosticSettingsCategories/{c}"), "name": c, "type": "microsoft.aadiam/diagnosticSettingsCategories", "properties": {"categoryType": "Logs"}})).collect();
    g.add(
        "arm.aadiam.diagnostic_categories",
        "arm",
        url(&ep, "arm.aadiam.diagnostic_categories", &[])?,
        Some("/providers/microsoft.aadiam".into()),
        0,
        &json!({"value": categories}),
    )?;
    g.add("graph.directory_audits", "graph", url(&ep, "graph.directory_audits", &[])?, None, 0, &json!({
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#auditLogs/directoryAudits(id,activityDateTime,category,activityDisplayName)",
        "value": [{"id": format!("Directory_{}_A1B2C_118502941", guid(10, 0)), "activityDateTime": (at - Duration::minutes(7)).to_rfc3339(), "category": "ApplicationManagement", "activityDisplayName": "Update service principal"}]
    }))?;
    g.add("graph.sign_ins", "graph", url(&ep, "graph.sign_ins", &[])?, None, 0, &json!({
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#auditLogs/signIns(id,createdDateTime,appDisplayName)",
        "value": [{"id": guid(10, 1), "createdDateTime": (at - Duration::minutes(3)).to_rfc3339(), "appDisplayName": "Office 365 Exchange Online"}]
    }))?;
    // The consumer's checkpoints: one EPH lease per partition of the configured hub, each
    // renewed in the last minute, and the hub's runtime state a little ahead of them.
    let (acct, container, group) = ("qradarcheckpoints", "checkpoints", "qradar-cg");
    let http_date = |t: DateTime<Utc>| t.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    let blobs: String = (0..4)
        .map(|p| format!("    <Blob>\n      <Name>{group}/{p}</Name>\n      <Properties>\n        <Creation-Time>{}</Creation-Time>\n        <Last-Modified>{}</Last-Modified>\n        <Etag>0x8DD8224849{p:07X}</Etag>\n        <Content-Length>148</Content-Length>\n        <Content-Type>application/octet-stream</Content-Type>\n        <BlobType>BlockBlob</BlobType>\n        <LeaseStatus>locked</LeaseStatus>\n        <LeaseState>leased</LeaseState>\n        <LeaseDuration>fixed</LeaseDuration>\n        <ServerEncrypted>true</ServerEncrypted>\n      </Properties>\n      <Metadata><OWNINGHOST>qradar-ec01.generated.example</OWNINGHOST></Metadata>\n      <OrMetadata />\n    </Blob>\n",
            http_date(at - Duration::days(200)), http_date(at - Duration::seconds(30 + 10 * p))))
        .collect();
    let listing = format!("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<EnumerationResults ServiceEndpoint=\"https://{acct}.blob.core.windows.net/\" ContainerName=\"{container}\">\n  <MaxResults>5000</MaxResults>\n  <Blobs>\n{blobs}  </Blobs>\n  <NextMarker />\n</EnumerationResults>\n");
    let path = g.w.next_raw_path("blob", "blob.checkpoints");
    let item = Item {
        scope: Some(format!("{acct}/{container}")),
        page: Some(0),
        ..Item::get(
            "blob.checkpoints",
            &url(
                &ep,
                "blob.checkpoints",
                &[("acct_name", acct), ("container", container)],
            )?,
            at,
        )
    };
    g.w.add_file(item, &path, listing.as_bytes())?;
    for p in 0..4u64 {
        let blob = format!("{group}/{p}");
        let path = g.w.next_raw_path("blob", "blob.leases");
        let item = Item {
            scope: Some(format!("{acct}/{container}/{blob}")),
            ..Item::get(
                "blob.leases",
                &url(
                    &ep,
                    "blob.leases",
                    &[
                        ("acct_name", acct),
                        ("container", container),
                        ("blob", &blob),
                    ],
                )?,
                at,
            )
        };
        let lease = json!({"partitionId": p.to_string(), "owner": "qradar-ec01.generated.example", "epoch": 7, "offset": (5_000_000 + p * 1000).to_string(), "sequenceNumber": 900_000 + p * 10});
        g.w.add_file(item, &path, &serde_json::to_vec_pretty(&lease)?)?;
    }
    let partitions: Vec<Value> = (0..4u64).map(|p| json!({"name": "security-logs-hub", "partition": p.to_string(), "begin_sequence_number": 1000 + p,
        "last_enqueued_sequence_number": 900_020 + p * 10, "last_enqueued_offset": (5_001_000 + p * 1000).to_string(),
        "last_enqueued_time_utc": (at - Duration::seconds(2)).to_rfc3339(), "is_partition_empty": false})).collect();
    let path = g.w.next_raw_path("amqp", "amqp.partitions");
    let mut item = Item {
        scope: Some("ns-0000/security-logs-hub".into()),
        ..Item::get(
            "amqp.partitions",
            "amqps://ns-0000.servicebus.windows.net/security-logs-hub/$management",
            at,
        )
    };
    if let Some(src) = item.source.as_mut() {
        src.method = "READ".into();
    }
    g.w.add_file(item, &path, &serde_json::to_vec_pretty(&json!({
        "eventhub": {"name": "security-logs-hub", "created_at": "2026-01-10T10:00:00Z", "partition_ids": ["0", "1", "2", "3"]},
        "partitions": partitions
    }))?)?;
    let out = g.w.finish(None)?;
    println!(
        "wrote {} ({} namespaces, {} SIEM apps)",
        out.display(),
        a.namespaces,
        a.siem_apps
    );
    Ok(())
}
