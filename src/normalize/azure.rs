//! Azure Resource Manager sections: Event Hubs (namespaces, hubs, consumer groups, rules,
//! firewall, metrics), checkpoint storage, and the Entra ID (`microsoft.aadiam`) diagnostic
//! settings linked to the Event Hub evidence.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use super::model::*;
use super::raw::{self, arr, b, i, id_part, n, s};
use super::Input;
use crate::netaddr;

/// Entra log categories in their canonical spelling (entra-docs, 2024), for case-insensitive
/// matching (the docs themselves misspell `NonInteractiveUserSIgnInLogs`).
pub const ENTRA_CATEGORIES: &[&str] = &[
    "AuditLogs",
    "SignInLogs",
    "NonInteractiveUserSignInLogs",
    "ServicePrincipalSignInLogs",
    "ManagedIdentitySignInLogs",
    "ProvisioningLogs",
    "ADFSSignInLogs",
    "RiskyUsers",
    "UserRiskEvents",
    "RiskyServicePrincipals",
    "ServicePrincipalRiskEvents",
    "NetworkAccessTrafficLogs",
    "EnrichedOffice365AuditLogs",
    "MicrosoftGraphActivityLogs",
    "RemoteNetworkHealthLogs",
    "CustomSecurityAttributeAuditLogs",
];

fn canonical_category(c: &str) -> String {
    ENTRA_CATEGORIES
        .iter()
        .find(|k| k.eq_ignore_ascii_case(c))
        .map(|k| k.to_string())
        .unwrap_or_else(|| c.to_string())
}

fn canonical_right(r: &str) -> String {
    match r.to_ascii_lowercase().as_str() {
        "listen" => "Listen".into(),
        "send" => "Send".into(),
        "manage" => "Manage".into(),
        _ => r.to_string(),
    }
}

fn eq(a: &Option<String>, b: &str) -> bool {
    a.as_deref().is_some_and(|a| a.eq_ignore_ascii_case(b))
}

fn auth_rule(v: &Value, scope: &str) -> AuthRule {
    let id = raw::norm_id(&s(v, &["id"]).unwrap_or_default());
    let name = s(v, &["name"])
        .or_else(|| id_part(&id, "authorizationrules"))
        .unwrap_or_default();
    let mut rights: Vec<String> = arr(v, &["properties", "rights"])
        .iter()
        .filter_map(|r| r.as_str())
        .map(canonical_right)
        .collect();
    rights.sort();
    rights.dedup();
    let has = |r: &str| rights.iter().any(|x| x == r);
    let manage = has("Manage");
    let listen = has("Listen") || manage;
    let send = has("Send") || manage;
    AuthRule {
        is_root: name.eq_ignore_ascii_case("RootManageSharedAccessKey"),
        listen_only: listen && !send && !manage,
        send_only: send && !listen && !manage,
        id,
        name,
        scope: scope.into(),
        rights,
        listen,
        send,
        manage,
    }
}

/// Builds firewall rules from a namespace network rule set or a storage account's `networkAcls`.
fn network_rules(
    default_action: Option<String>,
    public_network_access: Option<String>,
    ip_rules: Vec<String>,
    vnet_rules: i64,
    trusted: Option<bool>,
    private_endpoints: i64,
    egress: &[String],
) -> NetworkRules {
    let disabled = eq(&public_network_access, "Disabled");
    let deny = eq(&default_action, "Deny");
    let restricted = disabled || deny;
    let collector_allowed = if egress.is_empty() {
        None
    } else if disabled {
        // Only private endpoints remain; egress addresses say nothing about that path.
        if private_endpoints > 0 {
            None
        } else {
            Some(false)
        }
    } else if !deny {
        Some(true)
    } else {
        Some(
            egress
                .iter()
                .all(|ip| ip_rules.iter().any(|rule| netaddr::rule_allows(rule, ip))),
        )
    };
    NetworkRules {
        default_action,
        public_network_access,
        ip_rules,
        virtual_network_rules: vnet_rules,
        trusted_service_access: trusted,
        restricted,
        collector_allowed,
    }
}

/// Totals of each metric, per entity (hub) and for the whole namespace.
#[derive(Default)]
struct MetricTotals {
    namespace: Metrics,
    by_entity: BTreeMap<String, Metrics>,
}

fn set_metric(m: &mut Metrics, name: &str, value: Option<f64>) {
    match name.to_ascii_lowercase().as_str() {
        "incomingmessages" => m.incoming_messages = value,
        "outgoingmessages" => m.outgoing_messages = value,
        "throttledrequests" => m.throttled_requests = value,
        "incomingbytes" => m.incoming_bytes = value,
        _ => {}
    }
}

fn get_metric(m: &Metrics, name: &str) -> Option<f64> {
    match name.to_ascii_lowercase().as_str() {
        "incomingmessages" => m.incoming_messages,
        "outgoingmessages" => m.outgoing_messages,
        "throttledrequests" => m.throttled_requests,
        "incomingbytes" => m.incoming_bytes,
        _ => None,
    }
}

fn finish_metrics(m: &mut Metrics) {
    m.backlog = match (m.incoming_messages, m.outgoing_messages) {
        (Some(i), Some(o)) => Some(i - o),
        _ => None,
    };
}

fn metrics(body: &Value) -> MetricTotals {
    let mut t = MetricTotals {
        namespace: Metrics {
            timespan: s(body, &["timespan"]),
            ..Metrics::default()
        },
        by_entity: BTreeMap::new(),
    };
    for m in arr(body, &["value"]) {
        let name = s(m, &["name", "value"]).unwrap_or_default();
        let code = s(m, &["errorCode"]);
        if let Some(code) = code.filter(|c| !c.eq_ignore_ascii_case("Success")) {
            let msg = s(m, &["errorMessage"]).unwrap_or_default();
            t.namespace
                .errors
                .push(format!("{name}: {code} {msg}").trim_end().to_string());
            set_metric(&mut t.namespace, &name, None);
            continue;
        }
        let mut total = 0.0;
        for series in arr(m, &["timeseries"]) {
            let entity = arr(series, &["metadatavalues"])
                .iter()
                .find(|md| {
                    s(md, &["name", "value"]).is_some_and(|n| n.eq_ignore_ascii_case("EntityName"))
                })
                .and_then(|md| s(md, &["value"]));
            // Slots without data omit the aggregate key.
            let sum: f64 = arr(series, &["data"])
                .iter()
                .filter_map(|d| n(d, &["total"]))
                .sum();
            total += sum;
            if let Some(e) = entity {
                let em = t.by_entity.entry(e.to_ascii_lowercase()).or_default();
                let prev = get_metric(em, &name).unwrap_or(0.0);
                set_metric(em, &name, Some(prev + sum));
            }
        }
        set_metric(&mut t.namespace, &name, Some(total));
    }
    finish_metrics(&mut t.namespace);
    for m in t.by_entity.values_mut() {
        finish_metrics(m);
    }
    t
}

pub fn eventhub(input: &mut Input<'_>) -> EventHub {
    let cfg = input.config;
    let egress = cfg.siem.collector_egress_ips.clone();
    let mut namespaces: Vec<Namespace> = Vec::new();
    for (item, body) in input.bodies("arm.eventhub.namespaces") {
        for v in input.list_of("arm.eventhub.namespaces", item, body) {
            let id = raw::norm_id(&s(v, &["id"]).unwrap_or_default());
            let tls = s(v, &["properties", "minimumTlsVersion"]);
            namespaces.push(Namespace {
                name: s(v, &["name"])
                    .or_else(|| id_part(&id, "namespaces"))
                    .unwrap_or_default(),
                subscription_id: id_part(&id, "subscriptions"),
                resource_group: id_part(&id, "resourcegroups"),
                location: s(v, &["location"]),
                status: s(v, &["properties", "status"]),
                provisioning_state: s(v, &["properties", "provisioningState"]),
                sku: s(v, &["sku", "name"]),
                capacity: i(v, &["sku", "capacity"]),
                effective_min_tls: tls.clone().unwrap_or_else(|| "1.0".into()),
                minimum_tls_version: tls,
                public_network_access: s(v, &["properties", "publicNetworkAccess"]),
                disable_local_auth: b(v, &["properties", "disableLocalAuth"]),
                auto_inflate: b(v, &["properties", "isAutoInflateEnabled"]),
                max_throughput_units: i(v, &["properties", "maximumThroughputUnits"]),
                private_endpoints: arr(v, &["properties", "privateEndpointConnections"]).len()
                    as i64,
                id,
                ..Namespace::default()
            });
        }
    }
    // Index by lowercase name: large tenants have thousands of namespaces and rules.
    let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
    for (k, n) in namespaces.iter().enumerate() {
        by_name
            .entry(n.name.to_ascii_lowercase())
            .or_default()
            .push(k);
    }
    let find_ns = |nss: &mut Vec<Namespace>, id: &str| -> Option<usize> {
        let ns = id_part(id, "namespaces")?;
        let sub = id_part(id, "subscriptions");
        by_name
            .get(&ns.to_ascii_lowercase())?
            .iter()
            .copied()
            .find(|&k| match (&sub, &nss[k].subscription_id) {
                (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                _ => true,
            })
    };

    let cg_usable = input.usable("arm.eventhub.consumer_groups");
    for (item, body) in input.bodies("arm.eventhub.eventhubs") {
        for v in input.list_of("arm.eventhub.eventhubs", item, body) {
            let id = raw::norm_id(&s(v, &["id"]).unwrap_or_default());
            let Some(k) = find_ns(&mut namespaces, &id) else {
                continue;
            };
            let retention = n(
                v,
                &["properties", "retentionDescription", "retentionTimeInHours"],
            )
            .map(|h| h / 24.0)
            .or_else(|| n(v, &["properties", "messageRetentionInDays"]));
            namespaces[k].hubs.push(Hub {
                name: s(v, &["name"])
                    .or_else(|| id_part(&id, "eventhubs"))
                    .unwrap_or_default(),
                status: s(v, &["properties", "status"]),
                partition_count: i(v, &["properties", "partitionCount"]),
                retention_days: retention,
                capture_enabled: b(v, &["properties", "captureDescription", "enabled"]),
                consumer_groups: cg_usable.then(Vec::new),
                id,
                ..Hub::default()
            });
        }
    }
    for kind in ["arm.eventhub.namespace_rules", "arm.eventhub.hub_rules"] {
        for (item, body) in input.bodies(kind) {
            for v in input.list_of(kind, item, body) {
                let id = raw::norm_id(&s(v, &["id"]).unwrap_or_default());
                let Some(k) = find_ns(&mut namespaces, &id) else {
                    continue;
                };
                match id_part(&id, "eventhubs") {
                    Some(hub) => {
                        let rule = auth_rule(v, "eventhub");
                        if let Some(h) = namespaces[k]
                            .hubs
                            .iter_mut()
                            .find(|h| h.name.eq_ignore_ascii_case(&hub))
                        {
                            h.rules.push(rule);
                        }
                    }
                    None => namespaces[k].rules.push(auth_rule(v, "namespace")),
                }
            }
        }
    }
    for (item, body) in input.bodies("arm.eventhub.consumer_groups") {
        for v in input.list_of("arm.eventhub.consumer_groups", item, body) {
            let id = raw::norm_id(&s(v, &["id"]).unwrap_or_default());
            let (Some(k), Some(hub)) = (find_ns(&mut namespaces, &id), id_part(&id, "eventhubs"))
            else {
                continue;
            };
            let name = s(v, &["name"])
                .or_else(|| id_part(&id, "consumergroups"))
                .unwrap_or_default();
            if let Some(h) = namespaces[k]
                .hubs
                .iter_mut()
                .find(|h| h.name.eq_ignore_ascii_case(&hub))
            {
                h.consumer_groups
                    .get_or_insert_with(Vec::new)
                    .push(ConsumerGroup {
                        is_default: name == "$Default",
                        user_metadata: s(v, &["properties", "userMetadata"]),
                        name,
                    });
            }
        }
    }
    for (item, body) in input.bodies("arm.eventhub.network_rule_sets") {
        for v in input.list_of("arm.eventhub.network_rule_sets", item, body) {
            let id = raw::norm_id(&s(v, &["id"]).unwrap_or_default());
            let Some(k) = find_ns(&mut namespaces, &id) else {
                continue;
            };
            let ips = arr(v, &["properties", "ipRules"])
                .iter()
                .filter(|r| s(r, &["action"]).is_none_or(|a| a.eq_ignore_ascii_case("Allow")))
                .filter_map(|r| s(r, &["ipMask"]))
                .collect();
            let pna = s(v, &["properties", "publicNetworkAccess"])
                .or_else(|| namespaces[k].public_network_access.clone());
            namespaces[k].network = Some(network_rules(
                s(v, &["properties", "defaultAction"]),
                pna,
                ips,
                arr(v, &["properties", "virtualNetworkRules"]).len() as i64,
                b(v, &["properties", "trustedServiceAccessEnabled"]),
                namespaces[k].private_endpoints,
                &egress,
            ));
        }
    }
    for ns in namespaces.iter_mut().filter(|n| n.network.is_none()) {
        if input.usable("arm.eventhub.namespaces") && ns.public_network_access.is_some() {
            // Without a rule set, the namespace's own public access setting still tells a lot.
            ns.network = Some(network_rules(
                None,
                ns.public_network_access.clone(),
                vec![],
                0,
                None,
                ns.private_endpoints,
                &egress,
            ));
        }
    }
    for (item, body) in input.bodies("arm.eventhub.metrics") {
        let scope = item.item.scope.clone().unwrap_or_default();
        let Some(k) = find_ns(&mut namespaces, &scope) else {
            continue;
        };
        let t = metrics(body);
        for h in namespaces[k].hubs.iter_mut() {
            h.metrics = t.by_entity.get(&h.name.to_ascii_lowercase()).cloned();
        }
        namespaces[k].metrics = Some(t.namespace);
    }
    for ns in namespaces.iter_mut() {
        ns.advanced_hunting_hubs = ns
            .hubs
            .iter()
            .filter(|h| {
                h.name
                    .to_ascii_lowercase()
                    .starts_with("insights-logs-advancedhunting-")
            })
            .map(|h| h.name.clone())
            .collect();
        ns.hubs.sort_by(|a, b| a.name.cmp(&b.name));
    }

    let ec = &cfg.eventhub;
    let namespace = namespaces
        .iter()
        .find(|n| {
            n.name.eq_ignore_ascii_case(&ec.namespace)
                && n.subscription_id
                    .as_deref()
                    .is_none_or(|s| s.eq_ignore_ascii_case(&ec.subscription_id))
        })
        .cloned();
    let hub = namespace.as_ref().and_then(|n| {
        n.hubs
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(&ec.hub))
            .cloned()
    });
    let consumer_group = hub.as_ref().and_then(|h| {
        h.consumer_groups
            .as_ref()?
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(&ec.consumer_group))
            .cloned()
    });
    let find_rule = |name: &str| -> Option<AuthRule> {
        hub.as_ref()
            .and_then(|h| h.rules.iter().find(|r| r.name.eq_ignore_ascii_case(name)))
            .or_else(|| {
                namespace
                    .as_ref()
                    .and_then(|n| n.rules.iter().find(|r| r.name.eq_ignore_ascii_case(name)))
            })
            .cloned()
    };
    let listen_rule = find_rule(&ec.listen_policy);
    let send_rule = find_rule(&ec.send_policy);
    EventHub {
        status: input.status("arm.eventhub.namespaces"),
        namespaces,
        namespace,
        hub,
        consumer_group,
        listen_rule,
        send_rule,
    }
}

fn region(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase()
}

pub fn storage(input: &mut Input<'_>, eh: &EventHub) -> Storage {
    let cfg = input.config;
    let egress = cfg.siem.collector_egress_ips.clone();
    let mut accounts = Vec::new();
    for (item, body) in input.bodies("arm.storage.accounts") {
        for v in input.list_of("arm.storage.accounts", item, body) {
            let id = raw::norm_id(&s(v, &["id"]).unwrap_or_default());
            let tls = s(v, &["properties", "minimumTlsVersion"]);
            let shared = b(v, &["properties", "allowSharedKeyAccess"]);
            let acl = path_or_null(v, &["properties", "networkAcls"]);
            let ips = arr(acl, &["ipRules"])
                .iter()
                .filter(|r| s(r, &["action"]).is_none_or(|a| a.eq_ignore_ascii_case("Allow")))
                .filter_map(|r| s(r, &["value"]))
                .collect();
            let pna = s(v, &["properties", "publicNetworkAccess"]);
            let pe = arr(v, &["properties", "privateEndpointConnections"]).len() as i64;
            let location = s(v, &["location"]);
            accounts.push(Account {
                name: s(v, &["name"])
                    .or_else(|| id_part(&id, "storageaccounts"))
                    .unwrap_or_default(),
                kind: s(v, &["kind"]),
                sku: s(v, &["sku", "name"]),
                https_only: b(v, &["properties", "supportsHttpsTrafficOnly"]),
                effective_min_tls: tls.clone().unwrap_or_else(|| "TLS1_0".into()),
                minimum_tls_version: tls,
                allow_blob_public_access: b(v, &["properties", "allowBlobPublicAccess"]),
                allow_shared_key_access: shared,
                shared_key_enabled: shared != Some(false),
                network: network_rules(
                    s(acl, &["defaultAction"]),
                    pna.clone(),
                    ips,
                    arr(acl, &["virtualNetworkRules"]).len() as i64,
                    s(acl, &["bypass"]).map(|b| b.contains("AzureServices")),
                    pe,
                    &egress,
                ),
                public_network_access: pna,
                same_region_as_namespace: match (
                    &location,
                    eh.namespace.as_ref().and_then(|n| n.location.as_ref()),
                ) {
                    (Some(a), Some(b)) => Some(region(a) == region(b)),
                    _ => None,
                },
                location,
                id,
                ..Account::default()
            });
        }
    }
    let cont_usable = input.usable("arm.storage.containers");
    if cont_usable {
        for a in accounts.iter_mut() {
            a.containers = Some(vec![]);
        }
    }
    for (item, body) in input.bodies("arm.storage.containers") {
        for v in input.list_of("arm.storage.containers", item, body) {
            let id = raw::norm_id(&s(v, &["id"]).unwrap_or_default());
            let Some(acct) = id_part(&id, "storageaccounts") else {
                continue;
            };
            if let Some(a) = accounts
                .iter_mut()
                .find(|a| a.name.eq_ignore_ascii_case(&acct))
            {
                a.containers.get_or_insert_with(Vec::new).push(Container {
                    name: s(v, &["name"])
                        .or_else(|| id_part(&id, "containers"))
                        .unwrap_or_default(),
                    public_access: s(v, &["properties", "publicAccess"]),
                });
            }
        }
    }
    for a in accounts.iter_mut() {
        a.checkpoint_container_exists = match (&cfg.storage.container, &a.containers) {
            (Some(c), Some(list)) => Some(list.iter().any(|x| x.name.eq_ignore_ascii_case(c))),
            _ => None,
        };
    }
    let account = cfg.storage.account.as_ref().and_then(|name| {
        accounts
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
            .cloned()
    });
    Storage {
        status: input.status("arm.storage.accounts"),
        accounts,
        account,
    }
}

fn path_or_null<'a>(v: &'a Value, keys: &[&str]) -> &'a Value {
    static NULL: Value = Value::Null;
    raw::path(v, keys).unwrap_or(&NULL)
}

pub fn entra(input: &mut Input<'_>, eh: &EventHub) -> Entra {
    let cfg = input.config;
    let available: Option<Vec<String>> = if input.usable("arm.aadiam.diagnostic_categories") {
        let mut out = Vec::new();
        for (item, body) in input.bodies("arm.aadiam.diagnostic_categories") {
            for v in input.list_of("arm.aadiam.diagnostic_categories", item, body) {
                let is_logs = s(v, &["properties", "categoryType"])
                    .is_none_or(|t| t.eq_ignore_ascii_case("Logs"));
                if let (true, Some(name)) = (is_logs, s(v, &["name"])) {
                    out.push(canonical_category(&name));
                }
            }
        }
        Some(out)
    } else {
        None
    };
    let ns_listed = input.usable("arm.eventhub.namespaces");
    let hubs_listed = input.usable("arm.eventhub.eventhubs");
    let mut settings = Vec::new();
    for (item, body) in input.bodies("arm.aadiam.diagnostic_settings") {
        for v in input.list_of("arm.aadiam.diagnostic_settings", item, body) {
            let mut categories = Vec::new();
            let mut groups = Vec::new();
            for log in arr(v, &["properties", "logs"]) {
                if b(log, &["enabled"]) != Some(true) {
                    continue;
                }
                if let Some(c) = s(log, &["category"]) {
                    categories.push(canonical_category(&c));
                } else if let Some(g) = s(log, &["categoryGroup"]) {
                    match (&available, g.to_ascii_lowercase().as_str()) {
                        (Some(all), "alllogs") => categories.extend(all.iter().cloned()),
                        _ => groups.push(g),
                    }
                }
            }
            categories.sort();
            categories.dedup();
            let rule_id = s(v, &["properties", "eventHubAuthorizationRuleId"])
                .or_else(|| s(v, &["properties", "serviceBusRuleId"]));
            let event_hub = rule_id.map(|rid| {
                let rid = raw::norm_id(&rid);
                let sub = id_part(&rid, "subscriptions");
                let rg = id_part(&rid, "resourcegroups");
                let ns_name = id_part(&rid, "namespaces");
                let rule_name = id_part(&rid, "authorizationrules");
                let rule_hub = id_part(&rid, "eventhubs");
                let hub = s(v, &["properties", "eventHubName"]);
                let ns = ns_name.as_ref().and_then(|name| {
                    eh.namespaces.iter().find(|n| {
                        n.name.eq_ignore_ascii_case(name)
                            && match (&sub, &n.subscription_id) {
                                (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                                _ => true,
                            }
                    })
                });
                let in_scope = sub
                    .as_deref()
                    .is_some_and(|s| s.eq_ignore_ascii_case(&cfg.eventhub.subscription_id))
                    && rg
                        .as_deref()
                        .is_some_and(|r| r.eq_ignore_ascii_case(&cfg.eventhub.resource_group));
                let namespace_exists = match ns {
                    Some(_) => Some(true),
                    None if in_scope && ns_listed => Some(false),
                    None => None,
                };
                let rule = ns.and_then(|n| {
                    let rules = match &rule_hub {
                        Some(h) => {
                            &n.hubs
                                .iter()
                                .find(|x| x.name.eq_ignore_ascii_case(h))?
                                .rules
                        }
                        None => &n.rules,
                    };
                    rules.iter().find(|r| {
                        rule_name
                            .as_deref()
                            .is_some_and(|rn| r.name.eq_ignore_ascii_case(rn))
                    })
                });
                let rules_listed = input.usable(if rule_hub.is_some() {
                    "arm.eventhub.hub_rules"
                } else {
                    "arm.eventhub.namespace_rules"
                });
                let rule_exists = match (ns, rule) {
                    (_, Some(_)) => Some(true),
                    (Some(_), None) if rules_listed => Some(false),
                    _ => None,
                };
                let hub_exists = match (ns, &hub) {
                    (Some(n), Some(h)) if hubs_listed => {
                        Some(n.hubs.iter().any(|x| x.name.eq_ignore_ascii_case(h)))
                    }
                    _ => None,
                };
                let to_configured = eq(&ns_name, &cfg.eventhub.namespace)
                    && eq(&hub, &cfg.eventhub.hub)
                    && sub
                        .as_deref()
                        .is_none_or(|s| s.eq_ignore_ascii_case(&cfg.eventhub.subscription_id));
                DiagEventHub {
                    rule_scope: if rule_hub.is_some() {
                        "eventhub"
                    } else {
                        "namespace"
                    }
                    .into(),
                    rule_rights: rule.map(|r| r.rights.clone()),
                    rule_send_only: rule.map(|r| r.send_only),
                    rule_is_root: rule_name
                        .as_deref()
                        .is_some_and(|r| r.eq_ignore_ascii_case("RootManageSharedAccessKey")),
                    rule_id: rid,
                    subscription_id: sub,
                    resource_group: rg,
                    namespace: ns_name,
                    rule: rule_name,
                    hub,
                    namespace_exists,
                    rule_exists,
                    hub_exists,
                    to_configured,
                }
            });
            settings.push(DiagSetting {
                id: raw::norm_id(&s(v, &["id"]).unwrap_or_default()),
                name: s(v, &["name"]).unwrap_or_default(),
                categories,
                category_groups: groups,
                event_hub,
                workspace: s(v, &["properties", "workspaceId"]).is_some(),
                storage_account: s(v, &["properties", "storageAccountId"]).is_some(),
            });
        }
    }
    settings.sort_by(|a, b| a.name.cmp(&b.name));
    let to_configured: Vec<String> = settings
        .iter()
        .filter(|s| s.event_hub.as_ref().is_some_and(|e| e.to_configured))
        .map(|s| s.name.clone())
        .collect();
    let mut streamed: Vec<String> = settings
        .iter()
        .filter(|s| s.event_hub.as_ref().is_some_and(|e| e.to_configured))
        .flat_map(|s| s.categories.iter().cloned())
        .collect();
    streamed.sort();
    streamed.dedup();
    // The same category to the same hub twice doubles every event in the SIEM.
    let mut by_target: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for st in &settings {
        let Some(e) = &st.event_hub else { continue };
        for c in &st.categories {
            let hub = e
                .hub
                .clone()
                .unwrap_or_else(|| format!("insights-logs-{}", c.to_ascii_lowercase()));
            let target = format!(
                "{}/{}",
                e.namespace.clone().unwrap_or_default().to_ascii_lowercase(),
                hub.to_ascii_lowercase()
            );
            by_target
                .entry((c.clone(), target))
                .or_default()
                .push(st.name.clone());
        }
    }
    let duplicates = by_target
        .into_iter()
        .filter(|(_, v)| v.len() > 1)
        .map(|((category, target), settings)| DuplicateCategory {
            category,
            target,
            settings,
        })
        .collect();
    Entra {
        status: input.status("arm.aadiam.diagnostic_settings"),
        settings,
        available_categories: available,
        to_configured_hub: to_configured,
        streamed_categories: streamed,
        duplicates,
    }
}
