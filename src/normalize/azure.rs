//! Azure Resource Manager sections: Event Hubs (namespaces, hubs, consumer groups, rules,
//! firewall, metrics), checkpoint storage, and the Entra ID (`microsoft.aadiam`) diagnostic
//! settings linked to the Event Hub evidence.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use super::metrics;
use super::model::*;
use super::raw::{self, arr, b, i, id_part, n, s};
use super::Input;
use crate::evidence::LoadedItem;
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

/// The hub Azure Monitor writes a category to when a setting names no `eventHubName`.
fn default_hub(category: &str) -> String {
    format!("insights-logs-{}", category.to_ascii_lowercase())
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
    // Absent rights are unknown rights, not none: every derived flag stays `null`.
    // An element that is not a string (null, a number) is a right we cannot read: unknown.
    let rights: Option<Vec<String>> = raw::opt_arr(v, &["properties", "rights"]).and_then(|a| {
        let mut r: Vec<String> = a
            .iter()
            .map(|r| r.as_str().map(canonical_right))
            .collect::<Option<_>>()?;
        r.sort();
        r.dedup();
        Some(r)
    });
    let has = |r: &str| rights.as_ref().map(|x| x.iter().any(|y| y == r));
    let manage = has("Manage");
    let listen = has("Listen").zip(manage).map(|(l, m)| l || m);
    let send = has("Send").zip(manage).map(|(s, m)| s || m);
    let all = listen.zip(send).zip(manage);
    AuthRule {
        is_root: name.eq_ignore_ascii_case("RootManageSharedAccessKey"),
        listen_only: all.map(|((l, s), m)| l && !s && !m),
        send_only: all.map(|((l, s), m)| s && !l && !m),
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
/// An absent default action is unknown: the rules are then neither open nor restricted.
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
    let restricted = if disabled {
        Some(true)
    } else {
        default_action
            .as_deref()
            .map(|a| a.eq_ignore_ascii_case("Deny"))
    };
    let denied: Vec<String> = egress
        .iter()
        .filter(|ip| !ip_rules.iter().any(|rule| netaddr::rule_allows(rule, ip)))
        .cloned()
        .collect();
    let collector_allowed = match restricted {
        _ if egress.is_empty() => None,
        None => None,
        Some(false) => Some(true),
        // Only private endpoints remain; egress addresses say nothing about that path.
        Some(true) if disabled => (private_endpoints == 0).then_some(false),
        Some(true) => Some(denied.is_empty()),
    };
    let collector_denied = match (restricted, disabled) {
        (Some(true), true) => egress.to_vec(),
        (Some(true), false) => denied,
        _ => vec![],
    };
    NetworkRules {
        default_action,
        public_network_access,
        ip_rules,
        virtual_network_rules: vnet_rules,
        trusted_service_access: trusted,
        restricted,
        collector_allowed,
        collector_denied,
    }
}

pub fn eventhub(input: &Input<'_>) -> EventHub {
    let cfg = input.config;
    let egress = cfg.siem.collector_egress_ips.clone();
    let mut namespaces: Vec<Namespace> = Vec::new();
    for (item, body) in input.bodies("arm.eventhub.namespaces") {
        for v in input.list_of("arm.eventhub.namespaces", item, &body) {
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
    // Index by lowercase id: large tenants have thousands of namespaces and rules. Children are
    // linked to the parent their request named (the item's recorded scope), never to the parent
    // their own ids claim, so an item that disagrees is kept, linked and reported.
    let mut by_id: HashMap<String, usize> = HashMap::new();
    for (k, n) in namespaces.iter().enumerate() {
        by_id.insert(n.id.to_ascii_lowercase(), k);
    }
    let ns_of = |scope: &Option<String>| -> Option<usize> {
        let scope = raw::norm_id(scope.as_deref()?).to_ascii_lowercase();
        // A hub-scoped request (rules, consumer groups) names the namespace as its prefix.
        let ns = match scope.find("/eventhubs/") {
            Some(i) => &scope[..i],
            None => &scope[..],
        };
        by_id.get(ns).copied()
    };
    let hub_name_of =
        |scope: &Option<String>| scope.as_deref().and_then(|s| id_part(s, "eventhubs"));

    for l in input.listings("arm.eventhub.eventhubs") {
        let Some(k) = ns_of(&l.scope) else {
            orphan(input, "arm.eventhub.eventhubs", &l);
            continue;
        };
        if !l.complete() {
            continue;
        }
        let mut hubs = Vec::new();
        for (item, v) in &l.elements() {
            let id = raw::norm_id(&s(v, &["id"]).unwrap_or_default());
            disagree(
                input,
                "arm.eventhub.eventhubs",
                item,
                &id,
                &namespaces[k].id,
            );
            let hours = n(
                v,
                &["properties", "retentionDescription", "retentionTimeInHours"],
            );
            // -1 is infinite retention (Premium and Dedicated): it meets any minimum.
            let unlimited = hours.map(|h| h < 0.0);
            let retention = hours
                .filter(|h| *h >= 0.0)
                .map(|h| h / 24.0)
                .or_else(|| n(v, &["properties", "messageRetentionInDays"]));
            hubs.push(Hub {
                name: s(v, &["name"])
                    .or_else(|| id_part(&id, "eventhubs"))
                    .unwrap_or_default(),
                status: s(v, &["properties", "status"]),
                partition_count: i(v, &["properties", "partitionCount"]),
                retention_days: retention,
                retention_unlimited: unlimited.or(retention.map(|_| false)),
                cleanup_policy: s(v, &["properties", "retentionDescription", "cleanupPolicy"]),
                capture_enabled: b(v, &["properties", "captureDescription", "enabled"]),
                id,
                ..Hub::default()
            });
        }
        namespaces[k].hubs.get_or_insert_with(Vec::new).extend(hubs);
    }
    for l in input.listings("arm.eventhub.namespace_rules") {
        let Some(k) = ns_of(&l.scope) else {
            orphan(input, "arm.eventhub.namespace_rules", &l);
            continue;
        };
        if !l.complete() {
            continue;
        }
        let ns_id = namespaces[k].id.clone();
        let mut rules = Vec::new();
        for (item, v) in &l.elements() {
            let id = raw::norm_id(&s(v, &["id"]).unwrap_or_default());
            disagree(input, "arm.eventhub.namespace_rules", item, &id, &ns_id);
            rules.push(auth_rule(v, "namespace"));
        }
        namespaces[k]
            .rules
            .get_or_insert_with(Vec::new)
            .extend(rules);
    }
    for kind in ["arm.eventhub.hub_rules", "arm.eventhub.consumer_groups"] {
        for l in input.listings(kind) {
            let (Some(k), Some(hub)) = (ns_of(&l.scope), hub_name_of(&l.scope)) else {
                orphan(input, kind, &l);
                continue;
            };
            let Some(h) = namespaces[k]
                .hubs
                .iter_mut()
                .flatten()
                .position(|h| h.name.eq_ignore_ascii_case(&hub))
            else {
                if namespaces[k].hubs.is_some() {
                    orphan(input, kind, &l);
                }
                continue;
            };
            if !l.complete() {
                continue;
            }
            let hub_id = namespaces[k].hubs.as_ref().expect("found above")[h]
                .id
                .clone();
            let parent = if hub_id.is_empty() {
                l.scope.clone().unwrap_or_default()
            } else {
                hub_id
            };
            let mut rules = Vec::new();
            let mut groups = Vec::new();
            for (item, v) in &l.elements() {
                let id = raw::norm_id(&s(v, &["id"]).unwrap_or_default());
                disagree(input, kind, item, &id, &parent);
                if kind == "arm.eventhub.hub_rules" {
                    rules.push(auth_rule(v, "eventhub"));
                } else {
                    let name = s(v, &["name"])
                        .or_else(|| id_part(&id, "consumergroups"))
                        .unwrap_or_default();
                    groups.push(ConsumerGroup {
                        is_default: name == "$Default",
                        user_metadata: s(v, &["properties", "userMetadata"]),
                        name,
                    });
                }
            }
            let hub = &mut namespaces[k].hubs.as_mut().expect("found above")[h];
            if kind == "arm.eventhub.hub_rules" {
                hub.rules.get_or_insert_with(Vec::new).extend(rules);
            } else {
                hub.consumer_groups
                    .get_or_insert_with(Vec::new)
                    .extend(groups);
            }
        }
    }
    for l in input.listings("arm.eventhub.network_rule_sets") {
        let Some(k) = ns_of(&l.scope) else {
            orphan(input, "arm.eventhub.network_rule_sets", &l);
            continue;
        };
        let ns_id = namespaces[k].id.clone();
        for (item, v) in &l.elements() {
            let id = raw::norm_id(&s(v, &["id"]).unwrap_or_default());
            disagree(input, "arm.eventhub.network_rule_sets", item, &id, &ns_id);
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
        if input.usable("arm.eventhub.namespaces") && eq(&ns.public_network_access, "Disabled") {
            // Without a rule set, public access switched off still says the namespace is closed.
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
    let kind = "arm.eventhub.metrics";
    let batched = !input.items(BATCH).is_empty();
    if batched {
        input.restate(kind, &metrics_items(input));
    }
    for l in input.reduced_listings(kind, metrics::read, metrics::from_json) {
        let Some(k) = ns_of(&l.scope) else {
            let first = l
                .pages
                .iter()
                .find(|(_, t, listable)| *listable && t.listed > 0);
            orphan_at(input, kind, &l.scope, first.map(|(item, _, _)| *item));
            continue;
        };
        let Some((_, t, _)) = l.pages.into_iter().next() else {
            continue;
        };
        set_metrics(&mut namespaces[k], t);
    }
    if batched {
        batch_metrics(input, &mut namespaces, &by_id);
    }
    for ns in namespaces.iter_mut() {
        ns.advanced_hunting_hubs = ns.hubs.as_ref().map(|hubs| {
            hubs.iter()
                .filter(|h| {
                    h.name
                        .to_ascii_lowercase()
                        .starts_with("insights-logs-advancedhunting-")
                })
                .map(|h| h.name.clone())
                .collect()
        });
        if let Some(h) = ns.hubs.as_mut() {
            h.sort_by(|a, b| a.name.cmp(&b.name));
        }
    }

    if input.usable("arm.eventhub.namespaces") {
        let why = "the resource group has no Event Hub namespace";
        if namespaces.is_empty() {
            for k in [
                "arm.eventhub.eventhubs",
                "arm.eventhub.namespace_rules",
                "arm.eventhub.network_rule_sets",
                "arm.eventhub.metrics",
                BATCH,
            ] {
                input.vacuous(k, why);
            }
        }
        if namespaces
            .iter()
            .all(|n| n.hubs.as_ref().is_some_and(|h| h.is_empty()))
        {
            for k in ["arm.eventhub.hub_rules", "arm.eventhub.consumer_groups"] {
                input.vacuous(k, "no namespace has a hub");
            }
        }
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
            .flatten()
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
            .and_then(|h| {
                h.rules
                    .iter()
                    .flatten()
                    .find(|r| r.name.eq_ignore_ascii_case(name))
            })
            .or_else(|| {
                namespace.as_ref().and_then(|n| {
                    n.rules
                        .iter()
                        .flatten()
                        .find(|r| r.name.eq_ignore_ascii_case(name))
                })
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

/// Reports an item whose own id names another parent than the request that returned it.
fn disagree(input: &Input<'_>, kind: &str, item: &LoadedItem, id: &str, parent: &str) {
    if !super::is_below(id, parent) {
        input.inconsistent(
            kind,
            item,
            &format!("item {id} was returned by the request for {parent} but names another parent; kept under {parent}"),
        );
    }
}

/// Reports a listing whose request scope names no parent in the evidence.
fn orphan(input: &Input<'_>, kind: &str, l: &super::Listing<'_>) {
    let first = l.elements().first().map(|(item, _)| *item);
    orphan_at(input, kind, &l.scope, first);
}

/// Reports a listing for `scope`, whose first listed element came from `first`, when the
/// scope names no parent in the evidence.
fn orphan_at(input: &Input<'_>, kind: &str, scope: &Option<String>, first: Option<&LoadedItem>) {
    let parents = if kind.starts_with("arm.storage.") {
        "arm.storage.accounts"
    } else {
        "arm.eventhub.namespaces"
    };
    if !input.usable(parents) {
        return; // the parents are unknown, so nothing can be said about their children
    }
    if let Some(item) = first {
        let scope = scope.clone().unwrap_or_else(|| "no recorded scope".into());
        input.inconsistent(
            kind,
            item,
            &format!("a listing for {scope}, which is not among the listed parents"),
        );
    }
}

/// The batched metrics read's kind.
const BATCH: &str = "metrics.eventhub.batch";

/// A namespace's metrics from one response (a per-namespace read, or one entry of a batch).
fn set_metrics(ns: &mut Namespace, mut t: metrics::MetricTotals) {
    // Each hub's series are moved to it, and copied only for hubs whose names differ in case
    // alone (a 6,000-namespace tenant's hourly points are many).
    let mut wanted: HashMap<String, usize> = HashMap::new();
    for h in ns.hubs.iter().flatten() {
        *wanted.entry(h.name.to_ascii_lowercase()).or_default() += 1;
    }
    for h in ns.hubs.iter_mut().flatten() {
        let key = h.name.to_ascii_lowercase();
        let left = wanted.get_mut(&key).expect("counted above");
        *left -= 1;
        let series = if *left == 0 {
            t.by_entity.remove(&key)
        } else {
            t.by_entity.get(&key).cloned()
        };
        // No series for a hub means the response does not say: unknown, never zero, and
        // never the namespace total (which is every hub's traffic).
        h.metrics = Some(series.unwrap_or_else(|| {
            Metrics {
                timespan: t.namespace.timespan.clone(),
                errors: [
                    t.namespace.errors.clone(),
                    vec![format!(
                        "the metrics response has no series for hub {}",
                        h.name
                    )],
                ]
                .concat(),
                ..Metrics::default()
            }
        }));
    }
    ns.metrics = Some(t.namespace);
}

/// A namespace's metrics when its answer cannot be used: unknown, with why, never zero.
fn unknown_metrics(ns: &mut Namespace, why: String) {
    set_metrics(
        ns,
        metrics::MetricTotals {
            namespace: Metrics {
                errors: vec![why],
                ..Metrics::default()
            },
            ..Default::default()
        },
    );
}

/// The resource ids a batch item asked for (the request body the collector recorded).
fn asked_ids(it: &crate::evidence::LoadedItem) -> Option<Vec<String>> {
    let body = it
        .item
        .headers
        .as_ref()?
        .get(crate::collect::REQUEST_BODY_HEADER)?;
    let ids = crate::collect::plan::batch_ids(Some(body));
    (!ids.is_empty()).then_some(ids)
}

/// The items the namespaces' metrics stand on: every per-namespace read, and every batch
/// except one the API refused (401/403) whose namespaces were all read again one by one.
fn metrics_items<'a>(input: &Input<'a>) -> Vec<&'a crate::evidence::LoadedItem> {
    let per_ns = input.items("arm.eventhub.metrics");
    let read_again: std::collections::HashSet<String> = per_ns
        .iter()
        .filter_map(|i| i.item.scope.as_deref())
        .map(|s| raw::norm_id(s).to_ascii_lowercase())
        .collect();
    let mut out = per_ns.clone();
    for it in input.items(BATCH) {
        let refused = it.item.path.is_none() && matches!(it.item.status, Some(401 | 403));
        let covered = asked_ids(it).is_some_and(|ids| {
            ids.iter()
                .all(|i| read_again.contains(&i.to_ascii_lowercase()))
        });
        if !(refused && covered) {
            out.push(it);
        }
    }
    out
}

/// The batched reads' answers, one `values[]` entry per namespace (consumer-health.md §6.2).
/// An entry is taken only for a namespace the batch asked for, in the subscription and region
/// it was asked in; a namespace the answer leaves out, or whose entry names another region
/// (the batch API answers a wrong region with empty series), has unknown metrics, never zero.
/// A namespace a per-namespace read already answered keeps that answer.
fn batch_metrics(input: &Input<'_>, namespaces: &mut [Namespace], by_id: &HashMap<String, usize>) {
    let kind = "arm.eventhub.metrics";
    let listed = input.usable("arm.eventhub.namespaces");
    for l in input.listings(BATCH) {
        if !l.complete() {
            continue; // its state is in the kind's; the namespaces stay unknown
        }
        for (item, body) in l.bodies() {
            let Some(asked) = asked_ids(item) else {
                input.malformed(
                    kind,
                    item,
                    "the batched metrics read does not record which namespaces it asked for",
                );
                continue;
            };
            let Some(values) = body.get("values").and_then(Value::as_array) else {
                input.malformed(
                    kind,
                    item,
                    "the metrics:getBatch response has no `values` array",
                );
                continue;
            };
            let asked: Vec<String> = asked.iter().map(|i| i.to_ascii_lowercase()).collect();
            let mut answered = std::collections::HashSet::new();
            for v in values {
                let Some(id) = s(v, &["resourceid"]).map(|i| raw::norm_id(&i).to_ascii_lowercase())
                else {
                    input.malformed(kind, item, "a metrics:getBatch entry has no `resourceid`");
                    continue;
                };
                if !asked.contains(&id) {
                    input.inconsistent(
                        kind,
                        item,
                        &format!("the batch answered for {id}, which it did not ask for"),
                    );
                    continue;
                }
                if !answered.insert(id.clone()) {
                    input.inconsistent(
                        kind,
                        item,
                        &format!("the batch answered twice for {id}; the first answer is used"),
                    );
                    continue;
                }
                let Some(&k) = by_id.get(&id) else {
                    if listed {
                        input.inconsistent(
                            kind,
                            item,
                            &format!("the batch answered for {id}, which is not among the listed namespaces"),
                        );
                    }
                    continue;
                };
                if namespaces[k].metrics.is_some() {
                    continue;
                }
                let want = namespaces[k].location.as_deref().map(region);
                let got = s(v, &["resourceregion"]).map(|r| region(&r));
                let ns_kind = s(v, &["namespace"]);
                if want.is_none() || got != want {
                    let why = format!(
                        "the batched metrics read answered for region {} but the namespace is in {}: the batch API returns no data for another region",
                        got.as_deref().unwrap_or("(none given)"),
                        want.as_deref().unwrap_or("(unknown)")
                    );
                    unknown_metrics(&mut namespaces[k], why);
                } else if ns_kind
                    .as_deref()
                    .is_some_and(|n| !n.eq_ignore_ascii_case("microsoft.eventhub/namespaces"))
                {
                    let why = format!(
                        "the batched metrics read answered for metric namespace {}, not microsoft.eventhub/namespaces",
                        ns_kind.unwrap_or_default()
                    );
                    unknown_metrics(&mut namespaces[k], why);
                } else {
                    set_metrics(&mut namespaces[k], metrics::from_batch_entry(v));
                }
            }
            for id in asked.iter().filter(|i| !answered.contains(*i)) {
                if let Some(&k) = by_id.get(id) {
                    if namespaces[k].metrics.is_none() {
                        unknown_metrics(
                            &mut namespaces[k],
                            "the batched metrics read asked for this namespace and its answer has no entry for it".into(),
                        );
                    }
                }
            }
        }
    }
    // A batch body that could not be read as JSON (a hand-made or hostile bundle: the
    // collector keeps no such body) marked only its own kind; the metrics stand on it too.
    input.carry_error(kind, BATCH);
}

pub fn region(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase()
}

pub fn storage(input: &Input<'_>, eh: &EventHub) -> Storage {
    let cfg = input.config;
    let egress = cfg.siem.collector_egress_ips.clone();
    let mut accounts = Vec::new();
    for (item, body) in input.bodies("arm.storage.accounts") {
        for v in input.list_of("arm.storage.accounts", item, &body) {
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
    for l in input.listings("arm.storage.containers") {
        let scope = l.scope.as_deref().map(raw::norm_id).unwrap_or_default();
        // The request was for one account (`{acct_id}/blobServices/default/containers`).
        let acct_id = match scope.to_ascii_lowercase().find("/blobservices/") {
            Some(i) => scope[..i].to_string(),
            None => scope.clone(),
        };
        let Some(k) = accounts.iter().position(|a| raw::same_id(&a.id, &acct_id)) else {
            orphan(input, "arm.storage.containers", &l);
            continue;
        };
        if !l.complete() {
            continue;
        }
        let mut list = Vec::new();
        for (item, v) in &l.elements() {
            let id = raw::norm_id(&s(v, &["id"]).unwrap_or_default());
            disagree(input, "arm.storage.containers", item, &id, &acct_id);
            list.push(Container {
                name: s(v, &["name"])
                    .or_else(|| id_part(&id, "containers"))
                    .unwrap_or_default(),
                public_access: s(v, &["properties", "publicAccess"]),
            });
        }
        accounts[k]
            .containers
            .get_or_insert_with(Vec::new)
            .extend(list);
    }
    for a in accounts.iter_mut() {
        a.checkpoint_container_exists = match (&cfg.storage.container, &a.containers) {
            (Some(c), Some(list)) => Some(list.iter().any(|x| x.name.eq_ignore_ascii_case(c))),
            _ => None,
        };
    }
    if input.usable("arm.storage.accounts") && accounts.is_empty() {
        input.vacuous(
            "arm.storage.containers",
            "the resource group has no storage account",
        );
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

pub fn entra(input: &Input<'_>, eh: &EventHub) -> Entra {
    let cfg = input.config;
    let available: Option<Vec<String>> = if input.usable("arm.aadiam.diagnostic_categories") {
        let mut out = Vec::new();
        for (item, body) in input.bodies("arm.aadiam.diagnostic_categories") {
            for v in input.list_of("arm.aadiam.diagnostic_categories", item, &body) {
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
        for v in input.list_of("arm.aadiam.diagnostic_settings", item, &body) {
            let mut categories = Vec::new();
            let mut groups = Vec::new();
            // `logs` is what the setting sends: without it, or with an entry that does not say
            // whether it is on or which category it is, the setting cannot be judged.
            let Some(logs) = raw::opt_arr(v, &["properties", "logs"]) else {
                input.malformed(
                    "arm.aadiam.diagnostic_settings",
                    item,
                    "a setting lacks `properties.logs`",
                );
                continue;
            };
            for log in logs {
                let named = s(log, &["category"]).is_some() || s(log, &["categoryGroup"]).is_some();
                if b(log, &["enabled"]).is_none() || !named {
                    input.malformed(
                        "arm.aadiam.diagnostic_settings",
                        item,
                        "a `logs` entry lacks `enabled` or its `category`/`categoryGroup`",
                    );
                    continue;
                }
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
                // A hub-level rule can only write to its own hub, so it names the hub when the
                // setting does not.
                let hub = s(v, &["properties", "eventHubName"]).or_else(|| rule_hub.clone());
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
                        Some(h) => n
                            .hubs
                            .iter()
                            .flatten()
                            .find(|x| x.name.eq_ignore_ascii_case(h))?
                            .rules
                            .as_ref()?,
                        None => n.rules.as_ref()?,
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
                let rule_listed = |n: &Namespace| match &rule_hub {
                    Some(h) => n
                        .hubs
                        .iter()
                        .flatten()
                        .find(|x| x.name.eq_ignore_ascii_case(h))
                        .is_some_and(|x| x.rules.is_some()),
                    None => n.rules.is_some(),
                };
                let rule_exists = match (ns, rule) {
                    (_, Some(_)) => Some(true),
                    (Some(n), None) if rules_listed && rule_listed(n) => Some(false),
                    // The namespace does not exist, so neither does its rule.
                    (None, None) if namespace_exists == Some(false) => Some(false),
                    _ => None,
                };
                let hub_exists = match (ns, &hub) {
                    (Some(n), Some(h)) if hubs_listed => n
                        .hubs
                        .as_ref()
                        .map(|hubs| hubs.iter().any(|x| x.name.eq_ignore_ascii_case(h))),
                    (None, Some(_)) if namespace_exists == Some(false) => Some(false),
                    _ => None,
                };
                let same_ns = eq(&ns_name, &cfg.eventhub.namespace)
                    && sub
                        .as_deref()
                        .is_none_or(|s| s.eq_ignore_ascii_case(&cfg.eventhub.subscription_id));
                // Without `eventHubName`, Azure Monitor writes each category to a hub of its own,
                // `insights-logs-<category>` (lowercase), in the rule's namespace.
                let configured_categories: Vec<String> = if !same_ns {
                    vec![]
                } else if let Some(h) = &hub {
                    if h.eq_ignore_ascii_case(&cfg.eventhub.hub) {
                        categories.clone()
                    } else {
                        vec![]
                    }
                } else {
                    categories
                        .iter()
                        .filter(|c| default_hub(c).eq_ignore_ascii_case(&cfg.eventhub.hub))
                        .cloned()
                        .collect()
                };
                let to_configured = same_ns
                    && (!configured_categories.is_empty()
                        || hub
                            .as_deref()
                            .is_some_and(|h| h.eq_ignore_ascii_case(&cfg.eventhub.hub)));
                DiagEventHub {
                    rule_scope: if rule_hub.is_some() {
                        "eventhub"
                    } else {
                        "namespace"
                    }
                    .into(),
                    rule_rights: rule.and_then(|r| r.rights.clone()),
                    rule_send_only: rule.and_then(|r| r.send_only),
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
                    configured_categories,
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
        .filter_map(|s| s.event_hub.as_ref())
        .flat_map(|e| e.configured_categories.iter().cloned())
        .collect();
    streamed.sort();
    streamed.dedup();
    // The same category to the same hub twice doubles every event in the SIEM.
    let mut by_target: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for st in &settings {
        let Some(e) = &st.event_hub else { continue };
        for c in &st.categories {
            let hub = e.hub.clone().unwrap_or_else(|| default_hub(c));
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
    let targets: Vec<DuplicateCategory> = by_target
        .into_iter()
        .map(|((category, target), settings)| DuplicateCategory {
            category,
            target,
            settings,
        })
        .collect();
    let duplicates = targets
        .iter()
        .filter(|t| t.settings.len() > 1)
        .cloned()
        .collect();
    Entra {
        status: input.status("arm.aadiam.diagnostic_settings"),
        settings,
        available_categories: available,
        to_configured_hub: to_configured,
        streamed_categories: streamed,
        targets,
        duplicates,
    }
}
