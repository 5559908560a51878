//! What to fetch, derived from the config and from earlier answers, in three rounds.
//!
//! Round 1 needs only the config: Entra diagnostic settings and categories, the Event Hub and
//! storage resource groups' lists, the tenant and its licences, the SIEM apps and their service
//! principals plus those of the resource APIs (Microsoft Graph, Office 365 Management APIs), the
//! Graph audit logs, and the Management Activity API subscriptions.
//! Round 2 reads every namespace listed in the configured resource group (only the configured
//! one with `only_configured_namespace`), the
//! checkpoint account's containers, the grants of each SIEM service principal, the service
//! principals of every other API an app requests, and the content listing of each content type.
//! Round 3 reads each event hub's rules and consumer groups, and the body of each Event Processor
//! Host lease blob the checkpoint listing shows. URLs, api-versions and token
//! audiences come only from the kinds table; item scopes follow the normaliser's conventions.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, SubsecRound, Utc};
use futures::future::join_all;
use serde_json::Value;

use super::fetch::Ctx;
use super::paging::{fetch_chain, Record};
use super::urlfill::fill;
use crate::cloud::CloudEndpoints;
use crate::config::Config;
use crate::evidence::kinds::{kind, Kind};
use crate::normalize::m365::{CONTENT_TYPES, GRAPH_APP_ID, O365_MGMT_APP_ID};
use crate::normalize::raw;

/// Options that shape the plan.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    pub page_limit: u32,
    /// Read only the configured namespace, not every namespace in its resource group (the
    /// default reads them all, so a diagnostic setting aimed at the wrong one is visible).
    pub only_configured_namespace: bool,
    /// The collection clock (metrics window, content window).
    pub now: DateTime<Utc>,
    /// Reading through an Azure Lighthouse delegation: ARM only (no Graph, Management Activity
    /// API, Blob service or tenant-level `microsoft.aadiam` reads), each other kind recorded as
    /// not collected, so the checks that need it are not assessed.
    pub lighthouse: bool,
    /// How namespace metrics are read: in batches of 50 where the cloud has the batched read
    /// (the default), or one ARM read per namespace.
    pub metrics: MetricsRead,
}

/// How the namespaces' metrics are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum MetricsRead {
    /// `metrics:getBatch` where the cloud has it and every namespace's region is known; one
    /// ARM read per namespace for the rest, and for every batch the API refuses (401/403).
    #[default]
    Auto,
    /// One ARM read per namespace (`arm.eventhub.metrics`), as before the batched read.
    PerResource,
}

/// Why a kind is not read through Azure Lighthouse, or `None` when it is.
pub fn lighthouse_excludes(k: &Kind) -> Option<&'static str> {
    match k.audience {
        Some("arm") if k.name.starts_with("arm.aadiam.") => Some(
            "not readable through Azure Lighthouse: tenant-level Entra diagnostic settings are not delegated (consumer-health.md §7.1)",
        ),
        Some("arm") => None,
        _ => Some(
            "not readable through Azure Lighthouse: only Azure Resource Manager is delegated; Graph, the Management Activity API and the data planes need the customer's own consent (consumer-health.md §7.1)",
        ),
    }
}

/// One request chain to run.
struct Step {
    kind: &'static Kind,
    scope: Option<String>,
    url: String,
    token_scope: String,
    publisher: Option<String>,
    /// A POST read's JSON body (the batched metrics read's resource ids).
    body: Option<String>,
}

/// The full URL of a kind: plane base + filled template + api-version, or why there is none
/// (no such endpoint in this cloud, a value that cannot be placed in a URL).
pub fn url_of(ep: &CloudEndpoints, k: &Kind, vars: &[(&str, &str)]) -> Result<String, String> {
    let no_endpoint = |audience: &str| format!("cloud {:?} has no {audience} endpoint", ep.cloud);
    let audience = k.audience.ok_or_else(|| no_endpoint("online"))?;
    let var = |name: &str| {
        vars.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
            .ok_or_else(|| no_endpoint(audience))
    };
    let base = match audience {
        // The Blob service is per account, Azure Monitor's batched read per region.
        "storage" => ep.blob_base(var("acct_name")?),
        "metrics" => ep
            .metrics_base(var("region")?)
            .ok_or_else(|| no_endpoint(audience))?,
        a => ep.base(a).ok_or_else(|| no_endpoint(a))?,
    };
    let mut s = format!("{base}{}", fill(k.url, vars)?);
    if let Some(v) = k.api_version {
        s.push(if s.contains('?') { '&' } else { '?' });
        s.push_str("api-version=");
        s.push_str(v);
    }
    // Parsing percent-encodes spaces and quotes in $filter the way the services expect.
    url::Url::parse(&s)
        .map(|u| u.to_string())
        .map_err(|e| format!("{}: not a valid URL ({e})", k.name))
}

struct Planner<'a> {
    ctx: &'a Ctx,
    cfg: &'a Config,
    ep: &'a CloudEndpoints,
    opts: &'a PlanOptions,
    records: Vec<Record>,
    /// Why a kind was not requested at all (e.g. no Management Activity API in this cloud).
    pub skipped: Vec<(String, String)>,
}

impl Planner<'_> {
    fn step(&mut self, name: &str, scope: Option<String>, vars: &[(&str, &str)]) -> Option<Step> {
        let k = kind(name).expect("kind in table");
        let audience = k.audience.expect("online kind");
        if self.opts.lighthouse {
            if let Some(why) = lighthouse_excludes(k) {
                if !self.skipped.iter().any(|(n, _)| n == name) {
                    self.skipped.push((name.to_string(), why.to_string()));
                }
                return None;
            }
        }
        let url = match url_of(self.ep, k, vars) {
            Ok(u) => u,
            Err(why) => {
                self.skipped.push((name.to_string(), why));
                return None;
            }
        };
        let Some(token_scope) = self.ep.scope(audience) else {
            self.skipped.push((
                name.to_string(),
                format!("cloud {:?} has no {audience} endpoint", self.ep.cloud),
            ));
            return None;
        };
        Some(Step {
            kind: k,
            scope,
            url,
            token_scope,
            publisher: (audience == "o365").then(|| self.cfg.tenant.id.clone()),
            body: None,
        })
    }

    /// One batched metrics read for up to 50 namespaces of one subscription and region: the
    /// kind's step with the resource ids as its body.
    fn batch_step(
        &mut self,
        sub: &str,
        region: &str,
        n: usize,
        ids: &[String],
        window: (&str, &str),
    ) -> Option<Step> {
        let step = self.step(
            "metrics.eventhub.batch",
            Some(format!("/subscriptions/{sub}/{region}/{n}")),
            &[
                ("sub", sub),
                ("region", region),
                ("start", window.0),
                ("end", window.1),
            ],
        )?;
        Some(Step {
            body: Some(serde_json::json!({ "resourceids": ids }).to_string()),
            ..step
        })
    }

    async fn run(&mut self, steps: Vec<Step>) -> Vec<Record> {
        let ctx = self.ctx;
        let limit = self.opts.page_limit;
        let chains = steps.iter().map(|s| {
            fetch_chain(
                ctx,
                s.kind,
                s.scope.clone(),
                s.url.clone(),
                &s.token_scope,
                limit,
                s.publisher.as_deref(),
                s.body.as_deref(),
            )
        });
        join_all(chains).await.into_iter().flatten().collect()
    }

    fn bodies<'r>(records: &'r [Record], kind: &str) -> Vec<(&'r Record, Value)> {
        records
            .iter()
            .filter(|r| r.kind == kind && r.body.is_some())
            .filter_map(|r| Some((r, r.json()?)))
            .collect()
    }
}

fn rg_path(sub: &str, rg: &str) -> String {
    format!("/subscriptions/{sub}/resourceGroups/{rg}")
}

/// Runs the plan; returns every record in plan order, and the kinds skipped with the reason.
pub async fn run(
    ctx: &Ctx,
    cfg: &Config,
    ep: &CloudEndpoints,
    opts: &PlanOptions,
) -> (Vec<Record>, Vec<(String, String)>) {
    let mut p = Planner {
        ctx,
        cfg,
        ep,
        opts,
        records: Vec::new(),
        skipped: Vec::new(),
    };
    let eh = &cfg.eventhub;
    let (ssub, srg) = (cfg.storage_subscription(), cfg.storage_resource_group());
    let tenant = cfg.tenant.id.as_str();

    // Round 1.
    let mut steps = Vec::new();
    let aadiam = Some("/providers/microsoft.aadiam".to_string());
    steps.extend(p.step("arm.aadiam.diagnostic_settings", aadiam.clone(), &[]));
    steps.extend(p.step("arm.aadiam.diagnostic_categories", aadiam, &[]));
    steps.extend(p.step(
        "arm.eventhub.namespaces",
        Some(rg_path(&eh.subscription_id, &eh.resource_group)),
        &[("sub", &eh.subscription_id), ("rg", &eh.resource_group)],
    ));
    steps.extend(p.step(
        "arm.storage.accounts",
        Some(rg_path(ssub, srg)),
        &[("sub", ssub), ("rg", srg)],
    ));
    steps.extend(p.step("graph.organization", None, &[]));
    steps.extend(p.step("graph.subscribed_skus", None, &[]));
    let mut sp_app_ids: BTreeSet<String> = BTreeSet::new();
    for app in &cfg.app.client_ids {
        let app = app.to_ascii_lowercase();
        steps.extend(p.step("graph.applications", Some(app.clone()), &[("app_id", &app)]));
        sp_app_ids.insert(app);
    }
    sp_app_ids.insert(GRAPH_APP_ID.into());
    sp_app_ids.insert(O365_MGMT_APP_ID.into());
    for app in &sp_app_ids {
        steps.extend(p.step(
            "graph.service_principals",
            Some(app.clone()),
            &[("app_id", app)],
        ));
    }
    // Read whatever the SIEM's method: a readable, non-empty Graph audit log also corroborates
    // the Entra licence and diagnostic settings (one request each, `$top=1`).
    steps.extend(p.step("graph.directory_audits", None, &[]));
    steps.extend(p.step("graph.sign_ins", None, &[]));
    if cfg.uses_management_api() {
        steps.extend(p.step("o365.subscriptions", None, &[("tenant", tenant)]));
    }
    let r1 = p.run(steps).await;

    // Round 2.
    let mut steps = Vec::new();
    let mut ns_ids = Vec::new();
    // Each namespace's region, where the listing gives one (the batched read is per region).
    let mut ns_regions = Vec::new();
    for (_, body) in Planner::bodies(&r1, "arm.eventhub.namespaces") {
        for ns in raw::list(&body).unwrap_or_default() {
            let (Some(id), Some(name)) = (raw::s(ns, &["id"]), raw::s(ns, &["name"])) else {
                continue;
            };
            if !opts.only_configured_namespace || name.eq_ignore_ascii_case(&eh.namespace) {
                ns_ids.push(raw::norm_id(&id));
                ns_regions.push(
                    raw::s(ns, &["location"])
                        .map(|l| crate::normalize::azure::region(&l))
                        .filter(|r| ep.metrics_base(r).is_some()),
                );
            }
        }
    }
    let batched = batches(&ns_ids, &ns_regions, batch_metrics(ep, opts));
    let start = (opts.now - Duration::hours(cfg.thresholds.metrics_window_hours)).trunc_subsecs(0);
    let (m_start, m_end) = (rfc3339(start), rfc3339(opts.now.trunc_subsecs(0)));
    let in_batch: BTreeSet<&String> = batched.iter().flat_map(|b| &b.ids).collect();
    for ns in &ns_ids {
        let v: &[(&str, &str)] = &[("ns_id", ns), ("start", &m_start), ("end", &m_end)];
        for k in [
            "arm.eventhub.eventhubs",
            "arm.eventhub.namespace_rules",
            "arm.eventhub.network_rule_sets",
            "arm.eventhub.metrics",
        ] {
            if k == "arm.eventhub.metrics" && in_batch.contains(ns) {
                continue;
            }
            steps.extend(p.step(k, Some(ns.clone()), v));
        }
    }
    for b in &batched {
        steps.extend(p.batch_step(&b.sub, &b.region, b.n, &b.ids, (&m_start, &m_end)));
    }
    if let Some(acct) = &cfg.storage.account {
        let mut acct_ids = Vec::new();
        for (_, body) in Planner::bodies(&r1, "arm.storage.accounts") {
            for a in raw::list(&body).unwrap_or_default() {
                if raw::s(a, &["name"]).is_some_and(|n| n.eq_ignore_ascii_case(acct)) {
                    acct_ids.extend(raw::s(a, &["id"]).map(|i| raw::norm_id(&i)));
                }
            }
        }
        for id in acct_ids {
            steps.extend(p.step(
                "arm.storage.containers",
                Some(id.clone()),
                &[("acct_id", &id)],
            ));
        }
        // The checkpoint blobs, when the SIEM's container is known: the data plane, read with
        // a storage token (Storage Blob Data Reader), never with the account keys.
        if let Some(container) = &cfg.storage.container {
            steps.extend(p.step(
                "blob.checkpoints",
                Some(format!("{acct}/{container}")),
                &[("acct_name", acct), ("container", container)],
            ));
        }
    }
    let siem_apps: BTreeSet<String> = cfg
        .app
        .client_ids
        .iter()
        .map(|a| a.to_ascii_lowercase())
        .collect();
    for (r, body) in Planner::bodies(&r1, "graph.service_principals") {
        let for_siem = r.scope.as_ref().is_some_and(|s| siem_apps.contains(s));
        if !for_siem {
            continue;
        }
        for sp in raw::list(&body).unwrap_or_default() {
            if let Some(id) = raw::s(sp, &["id"]) {
                steps.extend(p.step(
                    "graph.app_role_assignments",
                    Some(id.clone()),
                    &[("sp", &id)],
                ));
                steps.extend(p.step(
                    "graph.oauth2_permission_grants",
                    Some(id.clone()),
                    &[("sp", &id)],
                ));
            }
        }
    }
    let mut more_apis = BTreeSet::new();
    for (_, body) in Planner::bodies(&r1, "graph.applications") {
        for app in raw::list(&body).unwrap_or_default() {
            for rra in raw::arr(app, &["requiredResourceAccess"]) {
                if let Some(res) = raw::s(rra, &["resourceAppId"]) {
                    let res = res.to_ascii_lowercase();
                    if !sp_app_ids.contains(&res) {
                        more_apis.insert(res);
                    }
                }
            }
        }
    }
    for app in &more_apis {
        steps.extend(p.step(
            "graph.service_principals",
            Some(app.clone()),
            &[("app_id", app)],
        ));
    }
    if cfg.uses_management_api() && ep.management_activity.is_some() {
        let hours = cfg.thresholds.freshness_hours.clamp(1, 24);
        let end = opts.now.trunc_subsecs(0);
        let (c_start, c_end) = (rfc3339(end - Duration::hours(hours)), rfc3339(end));
        // Every content type, subscribed or not: AF20022 (no subscription) is evidence too.
        for ct in CONTENT_TYPES {
            steps.extend(p.step(
                "o365.content",
                Some(ct.to_string()),
                &[
                    ("tenant", tenant),
                    ("content_type", ct),
                    ("start", &c_start),
                    ("end", &c_end),
                ],
            ));
        }
    }
    let r2 = p.run(steps).await;

    // Round 3.
    let mut steps = Vec::new();
    for (_, body) in Planner::bodies(&r2, "arm.eventhub.eventhubs") {
        for hub in raw::list(&body).unwrap_or_default() {
            if let Some(id) = raw::s(hub, &["id"]) {
                let id = raw::norm_id(&id);
                steps.extend(p.step(
                    "arm.eventhub.hub_rules",
                    Some(id.clone()),
                    &[("hub_id", &id)],
                ));
                steps.extend(p.step(
                    "arm.eventhub.consumer_groups",
                    Some(id.clone()),
                    &[("hub_id", &id)],
                ));
            }
        }
    }
    // A batch the API refused (no Monitoring Reader on the subscription: "the request fails")
    // is read again one namespace at a time through ARM, where Reader on the namespace is
    // enough. Both answers stay in the bundle.
    for r in r2.iter().filter(|r| {
        r.kind == "metrics.eventhub.batch"
            && r.body.is_none()
            && matches!(r.status, Some(401 | 403))
    }) {
        for ns in batch_ids(r.request_body.as_deref()) {
            let v: &[(&str, &str)] = &[("ns_id", &ns), ("start", &m_start), ("end", &m_end)];
            steps.extend(p.step("arm.eventhub.metrics", Some(ns.clone()), v));
        }
    }
    // The EPH lease blobs of the checkpoint listing, whose checkpoint is their JSON body.
    if let (Some(acct), Some(container)) = (&cfg.storage.account, &cfg.storage.container) {
        for name in eph_leases(&r2) {
            steps.extend(p.step(
                "blob.leases",
                Some(format!("{acct}/{container}/{name}")),
                &[
                    ("acct_name", acct),
                    ("container", container),
                    ("blob", &name),
                ],
            ));
        }
    }
    let r3 = p.run(steps).await;

    p.records.extend(r1);
    p.records.extend(r2);
    p.records.extend(r3);
    let skipped = std::mem::take(&mut p.skipped);
    (p.records, skipped)
}

/// Whether the plan reads metrics in batches: asked for, a batch host in this cloud, and not
/// through Azure Lighthouse (which delegates ARM only; consumer-health.md §7.1).
fn batch_metrics(ep: &CloudEndpoints, opts: &PlanOptions) -> bool {
    opts.metrics == MetricsRead::Auto && ep.metrics_batch.is_some() && !opts.lighthouse
}

/// One batched metrics read: up to 50 namespaces of one subscription and region.
#[derive(Debug, PartialEq)]
struct Batch {
    sub: String,
    region: String,
    /// The batch's number within its subscription and region, from 0.
    n: usize,
    ids: Vec<String>,
}

/// The namespaces grouped for the batched read: by subscription and region (the API takes
/// one of each per call), in chunks of at most 50, in a stable order. A namespace whose
/// region is unknown, or whose id names no subscription, is left to the per-namespace read.
fn batches(ids: &[String], regions: &[Option<String>], on: bool) -> Vec<Batch> {
    if !on {
        return Vec::new();
    }
    let mut groups: std::collections::BTreeMap<(String, String), Vec<String>> = Default::default();
    for (id, region) in ids.iter().zip(regions) {
        let (Some(region), Some(sub)) = (region, subscription_of(id)) else {
            continue;
        };
        groups
            .entry((sub, region.clone()))
            .or_default()
            .push(id.clone());
    }
    let mut out = Vec::new();
    for ((sub, region), mut ids) in groups {
        ids.sort_by_key(|i| i.to_ascii_lowercase());
        ids.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
        for (n, chunk) in ids.chunks(super::http::METRICS_BATCH_MAX).enumerate() {
            out.push(Batch {
                sub: sub.clone(),
                region: region.clone(),
                n,
                ids: chunk.to_vec(),
            });
        }
    }
    out
}

/// The subscription GUID an ARM id is under (lowercase), if it is one.
fn subscription_of(id: &str) -> Option<String> {
    let mut segs = id.trim_start_matches('/').split('/');
    let (Some(s), Some(g)) = (segs.next(), segs.next()) else {
        return None;
    };
    (s.eq_ignore_ascii_case("subscriptions") && uuid::Uuid::try_parse(g).is_ok())
        .then(|| g.to_ascii_lowercase())
}

/// The resource ids a batched read asked for, from the body it sent.
pub fn batch_ids(body: Option<&str>) -> Vec<String> {
    body.and_then(|b| serde_json::from_str::<Value>(b).ok())
        .and_then(|v| {
            v.get("resourceids")?.as_array().map(|a| {
                a.iter()
                    .filter_map(|i| i.as_str().map(raw::norm_id))
                    .collect()
            })
        })
        .unwrap_or_default()
}

/// At most this many lease bodies are read: a hub has at most 2048 partitions (Dedicated), and
/// a SIEM's container holds one lease per partition and group.
const MAX_LEASES: usize = 4096;

/// The names of the EPH lease blobs in the checkpoint listing's pages (small blobs only: a
/// lease is about 150 bytes, so anything large is not one and is not downloaded).
fn eph_leases(records: &[Record]) -> Vec<String> {
    use crate::consumer::layout::{classify, parse_page, Entry};
    let mut out = Vec::new();
    for r in records.iter().filter(|r| r.kind == "blob.checkpoints") {
        let Some(text) = r.body.as_deref().and_then(|b| std::str::from_utf8(b).ok()) else {
            continue;
        };
        let Ok(page) = parse_page(text) else {
            continue;
        };
        for b in page.blobs {
            let small = b.content_length.is_some_and(|n| n <= 4096);
            if small && matches!(classify(&b.name), Entry::EphLease { .. }) {
                out.push(b.name);
            }
        }
    }
    out.sort();
    out.dedup();
    out.truncate(MAX_LEASES);
    out
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn through_lighthouse_only_arms_subscription_reads_are_planned() {
        for k in crate::evidence::kinds::KINDS
            .iter()
            .filter(|k| k.audience.is_some())
        {
            let excluded = lighthouse_excludes(k).is_some();
            let subscription_arm = k.audience == Some("arm") && !k.name.starts_with("arm.aadiam.");
            assert_eq!(excluded, !subscription_arm, "{}", k.name);
        }
        let eh = kind("arm.eventhub.namespaces").unwrap();
        assert!(lighthouse_excludes(eh).is_none());
        assert!(lighthouse_excludes(kind("graph.organization").unwrap()).is_some());
    }

    #[test]
    fn namespaces_are_batched_by_subscription_and_region_fifty_at_a_time() {
        let sub = |n: u32| format!("6a1b2c3d-0000-4000-8000-{n:012}");
        let id = |s: &str, i: usize| {
            format!("/subscriptions/{s}/resourceGroups/rg/providers/Microsoft.EventHub/namespaces/ns{i:03}")
        };
        let mut ids = Vec::new();
        let mut regions = Vec::new();
        for i in 0..120 {
            ids.push(id(&sub(1), i));
            regions.push(Some("westeurope".to_string()));
        }
        ids.push(id(&sub(1), 500));
        regions.push(Some("northeurope".into()));
        ids.push(id(&sub(2), 0));
        regions.push(Some("westeurope".into()));
        // No region: read per namespace.
        ids.push(id(&sub(1), 900));
        regions.push(None);
        // Not a subscription id.
        ids.push("/providers/x/ns".into());
        regions.push(Some("westeurope".into()));
        let b = batches(&ids, &regions, true);
        let shape: Vec<(String, &str, usize, usize)> = b
            .iter()
            .map(|b| (b.sub.clone(), b.region.as_str(), b.n, b.ids.len()))
            .collect();
        assert_eq!(
            shape,
            [
                (sub(1), "northeurope", 0, 1),
                (sub(1), "westeurope", 0, 50),
                (sub(1), "westeurope", 1, 50),
                (sub(1), "westeurope", 2, 20),
                (sub(2), "westeurope", 0, 1),
            ]
        );
        let all: BTreeSet<&String> = b.iter().flat_map(|b| &b.ids).collect();
        assert!(!all.contains(&id(&sub(1), 900)));
        assert_eq!(all.len(), 122);
        assert!(batches(&ids, &regions, false).is_empty());
        let body = serde_json::json!({"resourceids": &b[0].ids}).to_string();
        assert_eq!(batch_ids(Some(&body)), b[0].ids);
        assert!(batch_ids(Some("not json")).is_empty());
    }

    #[test]
    fn metrics_are_batched_only_where_the_cloud_has_the_host_and_not_through_lighthouse() {
        let cfg = Config::parse(crate::config::INIT_TEMPLATE, "t").unwrap();
        let ep = CloudEndpoints::resolve(&cfg).unwrap();
        assert_eq!(
            ep.metrics_batch.as_deref(),
            Some(crate::cloud::PUBLIC_METRICS_BATCH)
        );
        assert_eq!(
            ep.scope("metrics").as_deref(),
            Some("https://metrics.monitor.azure.com/.default")
        );
        let opts = |lighthouse, metrics| PlanOptions {
            page_limit: 1,
            only_configured_namespace: false,
            now: Utc::now(),
            lighthouse,
            metrics,
        };
        assert!(batch_metrics(&ep, &opts(false, MetricsRead::Auto)));
        assert!(!batch_metrics(&ep, &opts(true, MetricsRead::Auto)));
        assert!(!batch_metrics(&ep, &opts(false, MetricsRead::PerResource)));
        let mut gov = cfg.clone();
        gov.tenant.cloud = "usgov".into();
        gov.tenant.m365 = "gcc-high".into();
        let gov = CloudEndpoints::resolve(&gov).unwrap();
        assert_eq!(gov.metrics_batch, None, "no documented sovereign host");
        assert!(!batch_metrics(&gov, &opts(false, MetricsRead::Auto)));
        assert_eq!(
            ep.metrics_base("westeurope").as_deref(),
            Some("https://westeurope.metrics.monitor.azure.com")
        );
        for bad in ["", "West Europe", "west.europe", "eu/evil"] {
            assert_eq!(ep.metrics_base(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn urls_come_from_the_kinds_table() {
        let cfg = Config::parse(crate::config::INIT_TEMPLATE, "t").unwrap();
        let ep = CloudEndpoints::resolve(&cfg).unwrap();
        let k = kind("graph.applications").unwrap();
        let u = url_of(
            &ep,
            k,
            &[("app_id", "11111111-2222-3333-4444-555555555555")],
        )
        .unwrap();
        assert!(
            u.starts_with("https://graph.microsoft.com/v1.0/applications?$filter=appId%20eq%20"),
            "{u}"
        );
        assert!(!u.contains("api-version"), "{u}");
        let k = kind("arm.eventhub.eventhubs").unwrap();
        let u = url_of(
            &ep,
            k,
            &[(
                "ns_id",
                "/subscriptions/s/resourceGroups/r/providers/Microsoft.EventHub/namespaces/n",
            )],
        )
        .unwrap();
        assert_eq!(u, "https://management.azure.com/subscriptions/s/resourceGroups/r/providers/Microsoft.EventHub/namespaces/n/eventhubs?api-version=2024-01-01");
    }
}
