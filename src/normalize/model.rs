//! The normalised model: one typed document that check expressions read.
//!
//! Raw Microsoft responses are tolerant-parsed into these types, with derived, linked fields
//! (a diagnostic setting knows its rule's rights; an app knows its granted permissions by name)
//! so that check expressions stay one line. `Option` fields are `null` when the fact could not be
//! read or was absent in the response: absent is never `false`. Every section carries the status
//! of the evidence it came from. The same types deserialise the per-check fixtures, with unknown
//! fields refused, so fixtures cannot drift from what the normaliser produces.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::coverage::{LogTypeCoverage, Path};
use crate::evidence::KindState;

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Model {
    /// The audit clock (RFC 3339) every time-dependent field was computed against.
    pub as_of: String,
    /// State of each evidence kind.
    pub evidence: BTreeMap<String, KindState>,
    pub config: Config,
    pub tenant: Tenant,
    pub entra: Entra,
    pub eventhub: EventHub,
    pub storage: Storage,
    pub apps: Apps,
    pub o365: O365,
    pub graph: GraphAudit,
    pub defender: Defender,
    pub network: Network,
    /// What the SIEM's own API says about its Microsoft inputs.
    pub siem: crate::siem::model::Siem,
    /// The SIEM's consumption as its checkpoint store shows it.
    pub consumer: crate::consumer::model::Consumer,
    pub coverage: Vec<LogTypeCoverage>,
}

impl Default for Config {
    fn default() -> Self {
        Config::parse(crate::config::INIT_TEMPLATE, "built-in example").expect("example config")
    }
}

fn unknown() -> String {
    "not_collected".into()
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Tenant {
    pub status: String,
    pub id: Option<String>,
    pub display_name: Option<String>,
    pub licences: Licences,
    /// Enabled, provisioned service plan names across all SKUs.
    pub service_plans: Vec<String>,
    /// SKU part numbers the tenant has.
    pub skus: Vec<String>,
}

/// Licence flags from service plans; `null` when `graph.subscribed_skus` was unreadable.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Licences {
    pub entra_p1: Option<bool>,
    pub entra_p2: Option<bool>,
    pub mde_p2: Option<bool>,
    pub mdi: Option<bool>,
    pub mdo_p2: Option<bool>,
    pub mdca: Option<bool>,
    pub audit_premium: Option<bool>,
    /// Any of MDE P2, MDI, MDO P2 (Defender alerts exist to stream).
    pub defender_any: Option<bool>,
}

impl Licences {
    pub fn get(&self, flag: &str) -> Option<bool> {
        match flag {
            "entra_p1" => self.entra_p1,
            "entra_p2" => self.entra_p2,
            "mde_p2" => self.mde_p2,
            "mdi" => self.mdi,
            "mdo_p2" => self.mdo_p2,
            "mdca" => self.mdca,
            "audit_premium" => self.audit_premium,
            "defender_any" => self.defender_any,
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Entra {
    pub status: String,
    pub settings: Vec<DiagSetting>,
    /// Categories the tenant offers (diagnosticSettingsCategories), when collected.
    pub available_categories: Option<Vec<String>>,
    /// Names of the settings that stream to the configured namespace and hub.
    pub to_configured_hub: Vec<String>,
    /// Categories enabled in those settings (canonical spelling).
    pub streamed_categories: Vec<String>,
    /// Every (category, target hub) pair the settings stream, with the settings that send it.
    pub targets: Vec<DuplicateCategory>,
    /// The same category sent twice to the same hub.
    pub duplicates: Vec<DuplicateCategory>,
}

impl Entra {
    /// Whether `category` streams to the configured hub; `None` when the settings were unreadable.
    pub fn category_streamed(&self, category: &str) -> Option<bool> {
        if self.status != "ok" && self.status != "not_found" {
            return None;
        }
        Some(
            self.streamed_categories
                .iter()
                .any(|c| c.eq_ignore_ascii_case(category)),
        )
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct DiagSetting {
    pub id: String,
    pub name: String,
    /// Enabled log categories, canonical spelling, category groups expanded where possible.
    pub categories: Vec<String>,
    /// Category groups (`allLogs`, `audit`) that could not be expanded.
    pub category_groups: Vec<String>,
    pub event_hub: Option<DiagEventHub>,
    pub workspace: bool,
    pub storage_account: bool,
}

/// Where a diagnostic setting streams, linked to what the Event Hub evidence shows.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct DiagEventHub {
    pub rule_id: String,
    pub subscription_id: Option<String>,
    pub resource_group: Option<String>,
    pub namespace: Option<String>,
    pub rule: Option<String>,
    /// `namespace` or `eventhub`: where the rule is defined.
    pub rule_scope: String,
    /// The hub named in the setting; `null` means one hub per category (`insights-logs-<category>`).
    pub hub: Option<String>,
    /// `null` when the target namespace lies outside the collected scope.
    pub namespace_exists: Option<bool>,
    pub rule_exists: Option<bool>,
    pub rule_rights: Option<Vec<String>>,
    pub rule_send_only: Option<bool>,
    pub rule_is_root: bool,
    pub hub_exists: Option<bool>,
    /// Targets the configured namespace and hub.
    pub to_configured: bool,
    /// The setting's categories that reach the configured hub (all of them when it names that
    /// hub; with no `eventHubName`, those whose `insights-logs-<category>` hub it is).
    pub configured_categories: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct DuplicateCategory {
    pub category: String,
    pub target: String,
    pub settings: Vec<String>,
}

impl EventHub {
    /// Drops every namespace's and hub's hourly points. The audit does so once the results
    /// have taken the configured hub's, when no check reads them: on a large tenant they are a
    /// large part of the model, and the CEL scope is built beside it.
    pub fn drop_hourly(&mut self) {
        let hubs = self
            .namespaces
            .iter_mut()
            .chain(self.namespace.as_mut())
            .flat_map(|n| {
                let hubs = n.hubs.iter_mut().flatten().map(|h| &mut h.metrics);
                std::iter::once(&mut n.metrics).chain(hubs)
            })
            .chain(self.hub.as_mut().map(|h| &mut h.metrics));
        for m in hubs.flatten() {
            m.hourly = Vec::new();
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct EventHub {
    pub status: String,
    /// Left out of the model's text only while the CEL scope reads the namespaces apart
    /// ([`crate::engine::leaving_out_namespaces`]).
    #[serde(skip_serializing_if = "crate::engine::leaving_out_namespaces")]
    pub namespaces: Vec<Namespace>,
    /// The configured namespace, when found.
    pub namespace: Option<Namespace>,
    /// The configured hub in the configured namespace, when found.
    pub hub: Option<Hub>,
    /// The configured consumer group on the configured hub, when found.
    pub consumer_group: Option<ConsumerGroup>,
    /// The configured listen policy (hub-level first, then namespace-level), when found.
    pub listen_rule: Option<AuthRule>,
    /// The configured send policy, when found.
    pub send_rule: Option<AuthRule>,
}

impl EventHub {
    /// Messages into the configured hub over the metrics window, falling back to the namespace
    /// total when the metrics had no per-hub dimension.
    pub fn configured_hub_incoming(&self) -> Option<f64> {
        self.hub
            .as_ref()
            .and_then(|h| h.metrics.as_ref())
            .and_then(|m| m.incoming_messages)
            .or_else(|| {
                self.namespace
                    .as_ref()
                    .and_then(|n| n.metrics.as_ref())
                    .and_then(|m| m.incoming_messages)
            })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Namespace {
    pub id: String,
    pub name: String,
    pub subscription_id: Option<String>,
    pub resource_group: Option<String>,
    pub location: Option<String>,
    pub status: Option<String>,
    pub provisioning_state: Option<String>,
    pub sku: Option<String>,
    pub capacity: Option<i64>,
    /// As returned; `null` when absent (old namespaces default to TLS 1.0).
    pub minimum_tls_version: Option<String>,
    /// The version in force: the returned one, or `1.0` when absent.
    pub effective_min_tls: String,
    pub public_network_access: Option<String>,
    pub disable_local_auth: Option<bool>,
    pub auto_inflate: Option<bool>,
    pub max_throughput_units: Option<i64>,
    pub private_endpoints: i64,
    /// `null` when the namespace's rules were not listed completely.
    pub rules: Option<Vec<AuthRule>>,
    /// `null` when the namespace's hubs were not listed completely.
    pub hubs: Option<Vec<Hub>>,
    pub network: Option<NetworkRules>,
    pub metrics: Option<Metrics>,
    /// Hubs named `insights-logs-advancedhunting-*` (created by the Defender Streaming API);
    /// `null` when the hubs are unknown.
    pub advanced_hunting_hubs: Option<Vec<String>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Hub {
    pub id: String,
    pub name: String,
    pub status: Option<String>,
    pub partition_count: Option<i64>,
    /// Retention in days (from `retentionTimeInHours` or `messageRetentionInDays`); `null`
    /// when unknown or unlimited.
    pub retention_days: Option<f64>,
    /// `retentionTimeInHours: -1`: kept without limit (Premium, Dedicated).
    pub retention_unlimited: Option<bool>,
    /// `Delete` or `Compact` (`retentionDescription.cleanupPolicy`), as returned.
    pub cleanup_policy: Option<String>,
    pub capture_enabled: Option<bool>,
    /// `null` when the consumer groups were not listed completely.
    pub consumer_groups: Option<Vec<ConsumerGroup>>,
    /// `null` when the hub's rules were not listed completely.
    pub rules: Option<Vec<AuthRule>>,
    pub metrics: Option<Metrics>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ConsumerGroup {
    pub name: String,
    pub user_metadata: Option<String>,
    pub is_default: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct AuthRule {
    pub id: String,
    pub name: String,
    /// `namespace` or `eventhub`.
    pub scope: String,
    /// Sorted, canonical spelling (`Listen`, `Manage`, `Send`); `null` when the rule's body
    /// has no `rights` (then every flag below is `null` too).
    pub rights: Option<Vec<String>>,
    pub listen: Option<bool>,
    pub send: Option<bool>,
    /// Manage implies Listen and Send.
    pub manage: Option<bool>,
    pub listen_only: Option<bool>,
    pub send_only: Option<bool>,
    pub is_root: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkRules {
    pub default_action: Option<String>,
    pub public_network_access: Option<String>,
    pub ip_rules: Vec<String>,
    pub virtual_network_rules: i64,
    pub trusted_service_access: Option<bool>,
    /// Public access is off or the default action is Deny; `null` when neither is known.
    pub restricted: Option<bool>,
    /// Every configured collector egress address is allowed; `null` when none are configured
    /// or the rules are unknown.
    pub collector_allowed: Option<bool>,
    /// Configured collector egress addresses the firewall does not admit.
    pub collector_denied: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Metrics {
    pub timespan: Option<String>,
    /// Totals over the window; `null` when the metric failed (per-metric error inside a 200).
    pub incoming_messages: Option<f64>,
    pub outgoing_messages: Option<f64>,
    pub throttled_requests: Option<f64>,
    pub incoming_bytes: Option<f64>,
    /// Incoming minus outgoing over the window.
    pub backlog: Option<f64>,
    /// Per-metric errors (`name: errorCode errorMessage`).
    pub errors: Vec<String>,
    /// The hourly data points (PT1H) of IncomingMessages, OutgoingMessages and
    /// ThrottledRequests, oldest first, for the report's sparklines; a slot Azure Monitor left
    /// without a `total` is `null`, not zero. Left out of the text the CEL scope is read
    /// from unless a check names it ([`crate::engine::REPORT_ONLY_FIELDS`]).
    #[serde(skip_serializing_if = "crate::engine::leaving_out_report_only")]
    pub hourly: Vec<MetricHour>,
}

/// One hour of the metrics window.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct MetricHour {
    /// The slot's `timeStamp` as Azure Monitor gave it.
    pub at: String,
    pub incoming_messages: Option<f64>,
    pub outgoing_messages: Option<f64>,
    pub throttled_requests: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Storage {
    pub status: String,
    pub accounts: Vec<Account>,
    /// The configured checkpoint account, when found.
    pub account: Option<Account>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Account {
    pub id: String,
    pub name: String,
    pub location: Option<String>,
    pub kind: Option<String>,
    pub sku: Option<String>,
    /// As returned (`null` when absent).
    pub https_only: Option<bool>,
    pub minimum_tls_version: Option<String>,
    /// The version in force (`TLS1_0` when absent).
    pub effective_min_tls: String,
    pub allow_blob_public_access: Option<bool>,
    pub allow_shared_key_access: Option<bool>,
    /// `null` means true.
    pub shared_key_enabled: bool,
    pub public_network_access: Option<String>,
    pub network: NetworkRules,
    /// `null` when containers were not readable.
    pub containers: Option<Vec<Container>>,
    pub same_region_as_namespace: Option<bool>,
    /// `null` when no container is configured or containers were unreadable.
    pub checkpoint_container_exists: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Container {
    pub name: String,
    pub public_access: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Apps {
    pub status: String,
    /// One entry per configured client id, found or not.
    pub items: Vec<App>,
}

impl Apps {
    /// Service health path: a SIEM app holds Management API `ServiceHealth.Read` or Graph
    /// `ServiceHealth.Read.All`. Flow cannot be observed from the tenant side.
    pub fn service_health_path(&self) -> Path {
        if self.status != "ok" {
            return Path::default();
        }
        let any = self.items.iter().any(|a| {
            a.o365_permissions.iter().any(|p| p == "ServiceHealth.Read")
                || a.graph_permissions
                    .iter()
                    .any(|p| p == "ServiceHealth.Read.All")
        });
        Path {
            configured: Some(any),
            flowing: None,
            attested: false,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct App {
    pub app_id: String,
    /// Whether the request for this app id returned a registration; `null` when it was not
    /// read completely.
    pub found: Option<bool>,
    pub object_id: Option<String>,
    pub display_name: Option<String>,
    pub sign_in_audience: Option<String>,
    pub single_tenant: Option<bool>,
    pub service_principal_id: Option<String>,
    pub service_principal_enabled: Option<bool>,
    /// `null` when the registration was not found or its body lacks `passwordCredentials` or
    /// `keyCredentials` (absent is unknown, not none).
    pub credentials: Option<Vec<Credential>>,
    pub secrets: Option<i64>,
    pub certificates: Option<i64>,
    /// Credentials valid at the audit clock.
    pub valid_credentials: Option<i64>,
    /// When the SIEM's ingestion stops unless a credential is added: the latest `end` among the
    /// credentials valid at the audit clock; `null` when none is valid (it has already stopped).
    pub ingestion_stops: Option<String>,
    /// Whole days from the audit clock to `ingestion_stops`.
    pub days_until_ingestion_stops: Option<i64>,
    /// Application permissions (admin-consented app role assignments) on the Office 365
    /// Management APIs, by name.
    pub o365_permissions: Vec<String>,
    /// Application permissions on Microsoft Graph, by name.
    pub graph_permissions: Vec<String>,
    /// Application permissions on any other API, as `Resource/Name`.
    pub other_permissions: Vec<String>,
    /// Delegated permissions granted (oauth2PermissionGrants), as `Resource/scope`; `null`
    /// when the grants were not read completely.
    pub delegated_permissions: Option<Vec<String>>,
    /// Application permissions requested in the registration but not granted (no admin
    /// consent); `null` when the registration's `requiredResourceAccess` is unknown or a
    /// requested role cannot be resolved to a name.
    pub not_consented: Option<Vec<String>>,
    /// Granted permissions that can write, application and delegated (`Resource/scope`).
    pub write_permissions: Vec<String>,
    /// Whether the app can write: `true` when a write permission is known, `null` when an
    /// assignment or grant could not be resolved (it might be one), else `false`.
    pub can_write: Option<bool>,
    /// Whether the permission lists below are complete: `null` when the app's assignments or
    /// grants were not readable, `false` when an assignment could not be resolved to a name.
    pub permissions_resolved: Option<bool>,
    /// Assignments whose role id no resource service principal lists.
    pub unresolved_assignments: i64,
    /// Why the permissions are not fully known, in plain words.
    pub unresolved: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Credential {
    /// `secret` or `certificate`.
    pub kind: String,
    pub key_id: Option<String>,
    pub display_name: Option<String>,
    pub start: Option<String>,
    pub end: Option<String>,
    /// Whole days from the audit clock to `end` (negative once expired).
    pub days_left: Option<i64>,
    pub expired: bool,
    /// Starts after the audit clock: not usable yet, and not expired either.
    pub not_yet_valid: bool,
    /// Expires within `thresholds.secret_expiry_warning_days`.
    pub expiring: bool,
    pub lifetime_days: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct O365 {
    pub status: String,
    /// Status of `o365.content` evidence.
    pub content_status: String,
    pub content_types: Vec<ContentType>,
}

impl O365 {
    pub fn path(&self, content_type: &str) -> Path {
        let Some(ct) = self
            .content_types
            .iter()
            .find(|c| c.content_type == content_type)
        else {
            return Path::default();
        };
        Path {
            configured: ct.enabled,
            flowing: ct.fresh,
            attested: false,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ContentType {
    pub content_type: String,
    /// Needed by a required log type and the configured method.
    pub required: bool,
    /// Subscription status as listed (`enabled`, `disabled`), `null` when not listed.
    pub subscription: Option<String>,
    /// `null` when the subscription list was unreadable.
    pub enabled: Option<bool>,
    pub webhook: Option<String>,
    pub webhook_https: Option<bool>,
    /// Status of this content type's content listing.
    pub content_status: String,
    pub blobs: Option<i64>,
    pub latest_content: Option<String>,
    pub hours_since_latest: Option<f64>,
    /// Content newer than `thresholds.freshness_hours`; `null` when unknown.
    pub fresh: Option<bool>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    /// What the error code means and what to do, for AF2002x and friends.
    pub explanation: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct GraphAudit {
    pub directory_audits: GraphLog,
    pub sign_ins: GraphLog,
}

impl GraphAudit {
    pub fn path(&self) -> Path {
        Path {
            configured: self.directory_audits.readable,
            flowing: self.directory_audits.fresh,
            attested: false,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GraphLog {
    pub status: String,
    pub readable: Option<bool>,
    pub latest: Option<String>,
    pub hours_since_latest: Option<f64>,
    pub fresh: Option<bool>,
    pub error: Option<String>,
}

impl Default for GraphLog {
    fn default() -> Self {
        GraphLog {
            status: unknown(),
            readable: None,
            latest: None,
            hours_since_latest: None,
            fresh: None,
            error: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Defender {
    /// Advanced hunting hubs in the configured namespace; `null` when its hubs are unknown.
    pub advanced_hunting_hubs: Option<Vec<String>>,
    /// Tables those hubs carry (`AlertInfo`, …), from their names.
    pub tables_seen: Vec<String>,
    /// Configured required tables with no hub of their own; only meaningful when hubs exist.
    pub missing_tables: Vec<String>,
    /// Messages into the advanced hunting hubs over the metrics window.
    pub incoming_messages: Option<f64>,
    /// Valid attestations by check id (filled from attestation files).
    pub attested: Vec<String>,
}

impl Defender {
    /// Defender XDR streaming: corroborated by advanced hunting hubs, else attested, else unknown.
    pub fn streaming_path(&self, detail: &mut Vec<String>) -> Path {
        let hubs = self.advanced_hunting_hubs.as_deref().unwrap_or_default();
        if !hubs.is_empty() {
            detail.push(format!(
                "{} advanced hunting hub(s) in the namespace",
                hubs.len()
            ));
            return Path {
                configured: Some(true),
                flowing: self.incoming_messages.map(|n| n > 0.0),
                attested: false,
            };
        }
        if self.attested.iter().any(|c| c == "DEF-STREAMING-API") {
            detail.push("Defender streaming attested".into());
            return Path {
                configured: Some(true),
                flowing: None,
                attested: true,
            };
        }
        detail.push("Defender streaming has no read API: attest it".into());
        Path::default()
    }

    pub fn mdca_path(&self, detail: &mut Vec<String>) -> Path {
        if self.attested.iter().any(|c| c == "DEF-MDCA-EXPORT") {
            detail.push("Defender for Cloud Apps export attested".into());
            Path {
                configured: Some(true),
                flowing: None,
                attested: true,
            }
        } else {
            detail.push("Defender for Cloud Apps export has no read API: attest it".into());
            Path::default()
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Network {
    pub status: String,
    /// Host(s) the probe ran on.
    pub hosts: Vec<String>,
    pub targets: Vec<ProbeTarget>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ProbeTarget {
    /// `eventhub`, `blob`, `login`, `o365`, `graph`, or `extra`.
    pub role: String,
    pub host: String,
    pub port: i64,
    /// `reachable`, `blocked`, `dns_failed`, `tls_failed`, `intercepted`, `timeout`, …
    pub verdict: String,
    pub reachable: Option<bool>,
    pub detail: String,
    /// The probe host that produced this result.
    pub from: Option<String>,
}
