//! `siemproof.toml`: what the deployment is supposed to be.
//!
//! The config names the tenant and cloud, the SIEM, the Event Hub and checkpoint storage the
//! SIEM reads, the SIEM's app registrations, the log types that must reach the SIEM, the
//! thresholds that judgements use, and the waivers that are in force. Unknown keys are errors
//! (a typo must not silently disable a check), and every semantic error names its key.

use std::path::Path;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::coverage::LOG_TYPES;

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("{file}: {message}")]
    Parse { file: String, message: String },
    #[error("{file}: key `{key}`: {message}")]
    Invalid {
        file: String,
        key: String,
        message: String,
    },
    #[error("{file}: {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub tenant: TenantConfig,
    #[serde(default)]
    pub siem: SiemConfig,
    pub eventhub: EventHubConfig,
    #[serde(default)]
    pub storage: StorageConfig,
    #[serde(default)]
    pub app: AppConfig,
    #[serde(default)]
    pub coverage: CoverageConfig,
    #[serde(default)]
    pub thresholds: Thresholds,
    #[serde(default)]
    pub defender: DefenderConfig,
    /// Base URLs for `cloud = "custom"` (and overrides for the others).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoints: Option<Endpoints>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waivers: Vec<Waiver>,
    /// How often scheduled runs happen; `ledger verify` and `period` report runs missing from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<ScheduleConfig>,
}

/// `[schedule]`: the declared cadence of scheduled runs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    /// `24h`, `12h`, `7d`, …: hours (`h`) or days (`d`), one hour to 31 days.
    pub every: String,
}

impl ScheduleConfig {
    /// The interval in hours, when `every` is well formed.
    pub fn hours(&self) -> Option<i64> {
        parse_every(&self.every)
    }
}

/// `24h` / `7d` → hours; `None` when malformed or out of range (1 h to 31 days).
pub fn parse_every(s: &str) -> Option<i64> {
    let s = s.trim();
    let (n, unit) = s.split_at(s.len().checked_sub(1)?);
    let n: i64 = n.parse().ok().filter(|n| *n > 0)?;
    let hours = match unit {
        "h" => n,
        "d" => n.checked_mul(24)?,
        _ => return None,
    };
    (1..=31 * 24).contains(&hours).then_some(hours)
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    /// Directory (tenant) id, a GUID.
    pub id: String,
    /// `public`, `usgov` (GCC High), `usgov-dod`, `china`, or `custom`.
    #[serde(default = "default_cloud")]
    pub cloud: String,
    /// Microsoft 365 environment for the Management Activity API host: `enterprise`, `gcc`,
    /// `gcc-high`, `dod`. GCC uses commercial Azure and Graph but `manage-gcc.office.com`.
    #[serde(default = "default_m365")]
    pub m365: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

fn default_cloud() -> String {
    "public".into()
}
fn default_m365() -> String {
    "enterprise".into()
}

/// The SIEM: `[siem]` (its kind and collector host, plus `[[siem.targets]]` to read its API),
/// or `[[siem]]`, one table per SIEM API to read (several, of different kinds, are fine).
/// Both forms become this one shape, which is also how it serialises.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SiemConfig {
    /// `qradar`, `splunk` or `elastic`: the SIEM the guide's pipeline feeds (the first target's
    /// kind with `[[siem]]`).
    pub kind: String,
    /// Public egress addresses (or CIDRs) of the SIEM collector host(s), for firewall checks.
    pub collector_egress_ips: Vec<String>,
    /// SIEM APIs to read (read-only), with where their credentials are.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<crate::siem::config::SiemTarget>,
}

impl<'de> Deserialize<'de> for SiemConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Table {
            #[serde(default = "default_siem")]
            kind: String,
            #[serde(default)]
            collector_egress_ips: Vec<String>,
            #[serde(default)]
            targets: Vec<crate::siem::config::SiemTarget>,
        }
        struct Form;
        impl<'de> serde::de::Visitor<'de> for Form {
            type Value = SiemConfig;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a [siem] table or [[siem]] tables")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<SiemConfig, A::Error> {
                let t = Table::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                let mut ips = t.collector_egress_ips;
                for target in &t.targets {
                    ips.extend(target.collector_egress_ips.iter().cloned());
                }
                ips.dedup();
                Ok(SiemConfig {
                    kind: t.kind,
                    collector_egress_ips: ips,
                    targets: t.targets,
                })
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                seq: A,
            ) -> Result<SiemConfig, A::Error> {
                let targets = Vec::<crate::siem::config::SiemTarget>::deserialize(
                    serde::de::value::SeqAccessDeserializer::new(seq),
                )?;
                let mut ips: Vec<String> = Vec::new();
                for t in &targets {
                    for ip in &t.collector_egress_ips {
                        if !ips.contains(ip) {
                            ips.push(ip.clone());
                        }
                    }
                }
                Ok(SiemConfig {
                    kind: targets
                        .first()
                        .map(|t| t.kind.clone())
                        .unwrap_or_else(default_siem),
                    collector_egress_ips: ips,
                    targets,
                })
            }
        }
        d.deserialize_any(Form)
    }
}

fn default_siem() -> String {
    "qradar".into()
}

impl Default for SiemConfig {
    fn default() -> Self {
        SiemConfig {
            kind: default_siem(),
            collector_egress_ips: vec![],
            targets: vec![],
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EventHubConfig {
    pub subscription_id: String,
    pub resource_group: String,
    pub namespace: String,
    pub hub: String,
    #[serde(default = "default_cg")]
    pub consumer_group: String,
    #[serde(default = "default_listen")]
    pub listen_policy: String,
    #[serde(default = "default_send")]
    pub send_policy: String,
    /// Expected Azure region (e.g. `westeurope`); unchecked when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(default = "default_partitions")]
    pub min_partitions: i64,
    /// Enough retention to ride out a SIEM outage over a weekend.
    #[serde(default = "default_retention")]
    pub min_retention_days: f64,
}

fn default_cg() -> String {
    "qradar-cg".into()
}
fn default_listen() -> String {
    "ListenPolicy".into()
}
fn default_send() -> String {
    "SendPolicy".into()
}
fn default_partitions() -> i64 {
    2
}
fn default_retention() -> f64 {
    3.0
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    /// Checkpoint storage account name (e.g. `qradarcheckpoints`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Checkpoint container, where the SIEM is configured with one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// Defaults to the Event Hub subscription and resource group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_group: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AppConfig {
    /// `management_api`, `graph` or `both`: how the SIEM polls audit logs (guide method 2A/2B).
    #[serde(default = "default_method")]
    pub method: String,
    /// Client (application) ids of the SIEM's app registrations.
    #[serde(default)]
    pub client_ids: Vec<String>,
}

fn default_method() -> String {
    "management_api".into()
}

impl Default for AppConfig {
    fn default() -> Self {
        AppConfig {
            method: default_method(),
            client_ids: vec![],
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CoverageConfig {
    /// Log types (ids from the guide's Log Source Mapping) that must reach the SIEM.
    #[serde(default = "default_required")]
    pub required: Vec<String>,
}

fn default_required() -> Vec<String> {
    LOG_TYPES
        .iter()
        .filter(|l| l.required_by_default)
        .map(|l| l.id.to_string())
        .collect()
}

impl Default for CoverageConfig {
    fn default() -> Self {
        CoverageConfig {
            required: default_required(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// Warn when a SIEM app credential expires within this many days.
    #[serde(default = "d30")]
    pub secret_expiry_warning_days: i64,
    /// Longest credential lifetime before an advisory (the guide suggests 24 months).
    #[serde(default = "d730")]
    pub max_credential_lifetime_days: i64,
    /// Audit content must be newer than this to count as flowing.
    #[serde(default = "h24")]
    pub freshness_hours: i64,
    /// Window of Event Hub metrics the collector reads.
    #[serde(default = "h24")]
    pub metrics_window_hours: i64,
    /// Evidence older than this (collection time against the time of the audit) is reported
    /// as stale. It never changes a check's verdict: those are judged at the audit clock.
    #[serde(default = "h48")]
    pub max_evidence_age_hours: i64,
    /// The most a Microsoft SIEM input's events may be unparsed, in percent (opt-in counts).
    #[serde(default = "p5")]
    pub max_unparsed_percent: i64,
    /// The newest checkpoint of the SIEM's consumer group may be at most this old (the SIEM is
    /// alive and reading).
    #[serde(default = "m30")]
    pub max_checkpoint_age_minutes: i64,
    /// An SDK ownership blob younger than this counts as held (Azure SDKs expire ownership after
    /// 60 s by default; Splunk's add-on after 300 s).
    #[serde(default = "m5")]
    pub ownership_expiry_minutes: i64,
    /// The most events a partition may hold past the SIEM's checkpoint (CONSUMER-LAG). Readers
    /// checkpoint in batches, so a busy hub always shows some lag.
    #[serde(default = "e500k")]
    pub max_lag_events: i64,
    /// The longest events may wait while a partition's checkpoint does not move (CONSUMER-LAG).
    #[serde(default = "m30")]
    pub max_lag_minutes: i64,
}

fn e500k() -> i64 {
    500_000
}

fn m30() -> i64 {
    30
}
fn m5() -> i64 {
    5
}

fn p5() -> i64 {
    5
}

fn d30() -> i64 {
    30
}
fn d730() -> i64 {
    730
}
fn h24() -> i64 {
    24
}
fn h48() -> i64 {
    48
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            secret_expiry_warning_days: 30,
            max_credential_lifetime_days: 730,
            freshness_hours: 24,
            metrics_window_hours: 24,
            max_evidence_age_hours: 48,
            max_unparsed_percent: 5,
            max_checkpoint_age_minutes: 30,
            ownership_expiry_minutes: 5,
            max_lag_events: 500_000,
            max_lag_minutes: 30,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DefenderConfig {
    /// Advanced hunting tables the Defender Streaming API must export.
    #[serde(default = "default_tables")]
    pub required_tables: Vec<String>,
}

fn default_tables() -> Vec<String> {
    [
        "AlertInfo",
        "AlertEvidence",
        "DeviceEvents",
        "DeviceLogonEvents",
        "DeviceProcessEvents",
        "DeviceNetworkEvents",
        "EmailEvents",
        "IdentityLogonEvents",
        "CloudAppEvents",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

impl Default for DefenderConfig {
    fn default() -> Self {
        DefenderConfig {
            required_tables: default_tables(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct Endpoints {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authority_host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arm: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graph: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub management_activity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eventhub_suffix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blob_suffix: Option<String>,
    /// The Blob service URL with `{account}` (default `https://{account}.<blob_suffix>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blob: Option<String>,
    /// Where the Event Hubs AMQP connection goes instead of `amqps://<namespace>.<eventhub_suffix>`
    /// (an emulator or a private endpoint's name); the namespace's FQDN is still the AMQP host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eventhub_amqp: Option<String>,
    /// Azure Monitor's regional metrics host for the batched read (`metrics:getBatch`), with
    /// `{region}` (public cloud: `https://{region}.metrics.monitor.azure.com`). Elsewhere the
    /// batch is not used unless this is set; metrics are then read per namespace from ARM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_batch: Option<String>,
    /// Extra CA certificate (PEM) to trust, e.g. a TLS-intercepting proxy or a local mock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_bundle: Option<String>,
}

/// An accepted risk: a check (optionally one resource) that may fail until `expires`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Waiver {
    pub check: String,
    /// Resource id or name the waiver is limited to; all findings of the check when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    pub reason: String,
    pub approver: String,
    /// Last day the waiver applies (inclusive).
    #[serde(with = "toml_date")]
    pub expires: NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
}

/// Dates written either as TOML dates (`expires = 2027-03-31`) or as strings
/// (`expires = "2027-03-31"`); serialised as `YYYY-MM-DD` strings.
pub mod toml_date {
    use chrono::NaiveDate;
    use serde::{Deserialize, Deserializer, Serializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Text(String),
        Toml(toml::value::Datetime),
    }

    pub fn serialize<S: Serializer>(d: &NaiveDate, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&d.format("%Y-%m-%d").to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
        let text = match Raw::deserialize(d)? {
            Raw::Text(t) => t,
            Raw::Toml(dt) => match (dt.date, dt.time) {
                (Some(date), None) => date.to_string(),
                _ => {
                    return Err(serde::de::Error::custom(format!(
                        "{dt} is not a date (YYYY-MM-DD)"
                    )))
                }
            },
        };
        NaiveDate::parse_from_str(&text, "%Y-%m-%d")
            .map_err(|_| serde::de::Error::custom(format!("{text:?} is not a date (YYYY-MM-DD)")))
    }
}

const CLOUDS: &[&str] = &["public", "usgov", "usgov-dod", "china", "custom"];
const M365: &[&str] = &["enterprise", "gcc", "gcc-high", "dod"];
const SIEMS: &[&str] = &["qradar", "splunk", "elastic"];
const METHODS: &[&str] = &["management_api", "graph", "both"];

/// Whether `s` is a GUID in the hyphenated form Azure shows (tenant and client ids). The uuid
/// crate parses it; its simple, braced and URN forms are refused, as Azure never shows them.
pub fn is_guid(s: &str) -> bool {
    s.len() == 36 && uuid::Uuid::try_parse(s).is_ok()
}

/// Allowed ranges of the numeric settings (inclusive), documented in docs/config.md.
pub const RANGE_PARTITIONS: (i64, i64) = (1, 2048);
/// Events past a checkpoint: one up to a thousand million.
pub const RANGE_LAG_EVENTS: (i64, i64) = (1, 1_000_000_000);
/// One hour to 90 days (the Event Hubs maximum).
pub const RANGE_RETENTION_DAYS: (f64, f64) = (0.04, 90.0);
pub const RANGE_WARNING_DAYS: (i64, i64) = (1, 3650);
pub const RANGE_LIFETIME_DAYS: (i64, i64) = (1, 36500);
/// One hour to a year.
pub const RANGE_FRESHNESS_HOURS: (i64, i64) = (1, 8760);
/// One hour to 93 days (Azure Monitor's metric retention).
pub const RANGE_METRICS_HOURS: (i64, i64) = (1, 2232);
/// One hour to ten years.
pub const RANGE_EVIDENCE_AGE_HOURS: (i64, i64) = (1, 87600);
pub const RANGE_PERCENT: (i64, i64) = (0, 100);
pub const RANGE_MINUTES: (i64, i64) = (1, 10080);

fn int_in(_key: &str, v: i64, (lo, hi): (i64, i64)) -> Result<(), String> {
    if v < lo || v > hi {
        Err(format!("{v} is out of range: must be from {lo} to {hi}"))
    } else {
        Ok(())
    }
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = match crate::files::read_bounded(path) {
            Ok(b) => String::from_utf8(b).map_err(|_| ConfigError::Io {
                file: path.display().to_string(),
                source: std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"),
            })?,
            Err(crate::files::ReadError::Io { source, .. }) => {
                return Err(ConfigError::Io {
                    file: path.display().to_string(),
                    source,
                })
            }
            Err(e @ crate::files::ReadError::TooLarge { .. }) => {
                return Err(ConfigError::Io {
                    file: path.display().to_string(),
                    source: std::io::Error::other(e.to_string()),
                })
            }
        };
        Config::parse(&text, &path.display().to_string())
    }

    /// Parses and validates config text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Config, ConfigError> {
        let cfg: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            file: file.to_string(),
            message: e.to_string().trim_end().to_string(),
        })?;
        cfg.validate(file)?;
        Ok(cfg)
    }

    fn validate(&self, file: &str) -> Result<(), ConfigError> {
        let bad = |key: &str, message: String| ConfigError::Invalid {
            file: file.to_string(),
            key: key.to_string(),
            message,
        };
        if let Some(sc) = &self.schedule {
            if sc.hours().is_none() {
                return Err(bad(
                    "schedule.every",
                    format!(
                        "{:?} is not an interval like \"24h\" or \"7d\" (hours or days, 1 h to 31 d)",
                        sc.every
                    ),
                ));
            }
        }
        if !is_guid(&self.tenant.id) {
            return Err(bad(
                "tenant.id",
                format!("{:?} is not a GUID", self.tenant.id),
            ));
        }
        if !CLOUDS.contains(&self.tenant.cloud.as_str()) {
            return Err(bad(
                "tenant.cloud",
                format!(
                    "{:?} is not one of {}",
                    self.tenant.cloud,
                    CLOUDS.join(", ")
                ),
            ));
        }
        if !M365.contains(&self.tenant.m365.as_str()) {
            return Err(bad(
                "tenant.m365",
                format!("{:?} is not one of {}", self.tenant.m365, M365.join(", ")),
            ));
        }
        if self.tenant.cloud == "custom" {
            let e = self.endpoints.clone().unwrap_or_default();
            for (k, v) in [
                ("authority_host", &e.authority_host),
                ("arm", &e.arm),
                ("graph", &e.graph),
                ("management_activity", &e.management_activity),
                ("eventhub_suffix", &e.eventhub_suffix),
                ("blob_suffix", &e.blob_suffix),
            ] {
                if v.is_none() {
                    return Err(bad(
                        &format!("endpoints.{k}"),
                        "required when tenant.cloud = \"custom\"".into(),
                    ));
                }
            }
        }
        for (i, t) in self.siem.targets.iter().enumerate() {
            if let Err((key, message)) = t.validate() {
                return Err(bad(&format!("siem[{i}].{key}"), message));
            }
            // Evidence is filed by target label: two targets with one label would mix.
            if let Some(j) = self.siem.targets[..i]
                .iter()
                .position(|o| o.label().eq_ignore_ascii_case(&t.label()))
            {
                return Err(bad(
                    &format!("siem[{i}].name"),
                    format!(
                        "{:?} is already the label of siem[{j}]: give each target its own name",
                        t.label()
                    ),
                ));
            }
        }
        if !SIEMS.contains(&self.siem.kind.as_str()) {
            return Err(bad(
                "siem.kind",
                format!("{:?} is not one of {}", self.siem.kind, SIEMS.join(", ")),
            ));
        }
        for (i, ip) in self.siem.collector_egress_ips.iter().enumerate() {
            if crate::netaddr::parse_cidr(ip).is_none() {
                return Err(bad(
                    &format!("siem.collector_egress_ips[{i}]"),
                    format!("{ip:?} is not an IP address or CIDR range"),
                ));
            }
        }
        if !is_guid(&self.eventhub.subscription_id) {
            return Err(bad(
                "eventhub.subscription_id",
                format!("{:?} is not a GUID", self.eventhub.subscription_id),
            ));
        }
        for (k, v) in [
            ("eventhub.resource_group", &self.eventhub.resource_group),
            ("eventhub.namespace", &self.eventhub.namespace),
            ("eventhub.hub", &self.eventhub.hub),
            ("eventhub.consumer_group", &self.eventhub.consumer_group),
            ("eventhub.listen_policy", &self.eventhub.listen_policy),
            ("eventhub.send_policy", &self.eventhub.send_policy),
        ] {
            if v.trim().is_empty() {
                return Err(bad(k, "must not be empty".into()));
            }
        }
        // Every number has a range: values outside it are typos or attacks, and an unbounded
        // one overflows date arithmetic (a panic) or serialises as `null` (unreadable results).
        int_in(
            "eventhub.min_partitions",
            self.eventhub.min_partitions,
            RANGE_PARTITIONS,
        )
        .map_err(|m| bad("eventhub.min_partitions", m))?;
        let r = self.eventhub.min_retention_days;
        if !(r.is_finite() && r >= RANGE_RETENTION_DAYS.0 && r <= RANGE_RETENTION_DAYS.1) {
            return Err(bad(
                "eventhub.min_retention_days",
                format!(
                    "{r} is out of range: must be a number from {} (one hour) to {} days",
                    RANGE_RETENTION_DAYS.0, RANGE_RETENTION_DAYS.1
                ),
            ));
        }
        if let Some(s) = &self.storage.subscription_id {
            if !is_guid(s) {
                return Err(bad(
                    "storage.subscription_id",
                    format!("{s:?} is not a GUID"),
                ));
            }
        }
        if !METHODS.contains(&self.app.method.as_str()) {
            return Err(bad(
                "app.method",
                format!("{:?} is not one of {}", self.app.method, METHODS.join(", ")),
            ));
        }
        for (i, id) in self.app.client_ids.iter().enumerate() {
            if !is_guid(id) {
                return Err(bad(
                    &format!("app.client_ids[{i}]"),
                    format!("{id:?} is not a GUID"),
                ));
            }
        }
        for (i, id) in self.coverage.required.iter().enumerate() {
            if !LOG_TYPES.iter().any(|l| l.id == id) {
                let known: Vec<_> = LOG_TYPES.iter().map(|l| l.id).collect();
                return Err(bad(
                    &format!("coverage.required[{i}]"),
                    format!("unknown log type {id:?}; known: {}", known.join(", ")),
                ));
            }
        }
        let t = &self.thresholds;
        for (k, v, range) in [
            (
                "thresholds.secret_expiry_warning_days",
                t.secret_expiry_warning_days,
                RANGE_WARNING_DAYS,
            ),
            (
                "thresholds.max_credential_lifetime_days",
                t.max_credential_lifetime_days,
                RANGE_LIFETIME_DAYS,
            ),
            (
                "thresholds.freshness_hours",
                t.freshness_hours,
                RANGE_FRESHNESS_HOURS,
            ),
            (
                "thresholds.metrics_window_hours",
                t.metrics_window_hours,
                RANGE_METRICS_HOURS,
            ),
            (
                "thresholds.max_evidence_age_hours",
                t.max_evidence_age_hours,
                RANGE_EVIDENCE_AGE_HOURS,
            ),
            (
                "thresholds.max_unparsed_percent",
                t.max_unparsed_percent,
                RANGE_PERCENT,
            ),
            (
                "thresholds.max_checkpoint_age_minutes",
                t.max_checkpoint_age_minutes,
                RANGE_MINUTES,
            ),
            (
                "thresholds.ownership_expiry_minutes",
                t.ownership_expiry_minutes,
                RANGE_MINUTES,
            ),
            (
                "thresholds.max_lag_events",
                t.max_lag_events,
                RANGE_LAG_EVENTS,
            ),
            (
                "thresholds.max_lag_minutes",
                t.max_lag_minutes,
                RANGE_MINUTES,
            ),
        ] {
            int_in(k, v, range).map_err(|m| bad(k, m))?;
        }
        for (i, w) in self.waivers.iter().enumerate() {
            if w.reason.trim().is_empty() {
                return Err(bad(
                    &format!("waivers[{i}].reason"),
                    "must not be empty".into(),
                ));
            }
            if w.approver.trim().is_empty() {
                return Err(bad(
                    &format!("waivers[{i}].approver"),
                    "must not be empty".into(),
                ));
            }
        }
        Ok(())
    }

    /// Storage subscription, defaulting to the Event Hub's.
    pub fn storage_subscription(&self) -> &str {
        self.storage
            .subscription_id
            .as_deref()
            .unwrap_or(&self.eventhub.subscription_id)
    }

    /// Storage resource group, defaulting to the Event Hub's.
    pub fn storage_resource_group(&self) -> &str {
        self.storage
            .resource_group
            .as_deref()
            .unwrap_or(&self.eventhub.resource_group)
    }

    /// Whether the SIEM polls the Management Activity API (guide method 2A).
    pub fn uses_management_api(&self) -> bool {
        matches!(self.app.method.as_str(), "management_api" | "both")
    }

    /// Whether the SIEM polls the Graph audit log API (guide method 2B).
    pub fn uses_graph(&self) -> bool {
        matches!(self.app.method.as_str(), "graph" | "both")
    }
}

/// The config `siemproof init` writes: the guide's example names, with placeholders to fill in.
pub const INIT_TEMPLATE: &str = include_str!("../docs/siemproof.example.toml");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guids_in_azure_form_only() {
        assert!(is_guid("11111111-2222-3333-4444-55555555aaaa"));
        assert!(is_guid("11111111-2222-3333-4444-55555555AAAA"));
        for s in [
            "1111111122223333444455555555aaaa",
            "{11111111-2222-3333-4444-55555555aaaa}",
            "urn:uuid:11111111-2222-3333-4444-55555555aaaa",
            "11111111-2222-3333-4444-55555555aaa\u{e9}",
            "1111111-12222-3333-4444-55555555aaaa",
        ] {
            assert!(!is_guid(s), "{s}");
        }
    }

    #[test]
    fn init_template_is_valid() {
        let c = Config::parse(INIT_TEMPLATE, "init").expect("template parses");
        assert_eq!(c.eventhub.namespace, "psiem-namespace");
        assert_eq!(c.eventhub.hub, "security-logs-hub");
        assert_eq!(c.eventhub.consumer_group, "qradar-cg");
        assert_eq!(c.storage.account.as_deref(), Some("qradarcheckpoints"));
    }

    #[test]
    fn waiver_dates_as_toml_dates_or_strings() {
        for expires in ["2027-03-31", "\"2027-03-31\""] {
            let t = format!(
                "{INIT_TEMPLATE}\n[[waivers]]\ncheck = \"X\"\nreason = \"r\"\napprover = \"a\"\nexpires = {expires}\n"
            );
            let c = Config::parse(&t, "x.toml").expect("parses");
            assert_eq!(c.waivers[0].expires.to_string(), "2027-03-31");
        }
        let t = format!("{INIT_TEMPLATE}\n[[waivers]]\ncheck = \"X\"\nreason = \"r\"\napprover = \"a\"\nexpires = \"next year\"\n");
        let e = Config::parse(&t, "x.toml").unwrap_err().to_string();
        assert!(e.contains("next year"), "{e}");
    }

    #[test]
    fn every_number_has_a_range_named_in_the_error() {
        for (from, to, key) in [
            (
                "min_partitions = 2",
                "min_partitions = 0",
                "eventhub.min_partitions",
            ),
            (
                "min_partitions = 2",
                "min_partitions = 99999",
                "eventhub.min_partitions",
            ),
            (
                "min_retention_days = 3",
                "min_retention_days = inf",
                "eventhub.min_retention_days",
            ),
            (
                "min_retention_days = 3",
                "min_retention_days = nan",
                "eventhub.min_retention_days",
            ),
            (
                "min_retention_days = 3",
                "min_retention_days = 1e300",
                "eventhub.min_retention_days",
            ),
            (
                "min_retention_days = 3",
                "min_retention_days = 0.0",
                "eventhub.min_retention_days",
            ),
        ] {
            let t = INIT_TEMPLATE.replace(from, to);
            assert_ne!(t, INIT_TEMPLATE, "template holds {from:?}");
            let e = Config::parse(&t, "x.toml").unwrap_err().to_string();
            assert!(e.contains(key) && e.contains("range"), "{to}: {e}");
        }
        for (key, v) in [
            ("metrics_window_hours", "2400000000"),
            ("metrics_window_hours", "-1"),
            ("freshness_hours", "9223372036854775807"),
            ("secret_expiry_warning_days", "0"),
            ("max_credential_lifetime_days", "40000"),
        ] {
            let t = set_threshold(INIT_TEMPLATE, key, v);
            let e = Config::parse(&t, "x.toml").unwrap_err().to_string();
            assert!(e.contains(&format!("thresholds.{key}")), "{key} = {v}: {e}");
        }
        // The edges themselves are accepted.
        let mut t = INIT_TEMPLATE
            .replace("min_partitions = 2", "min_partitions = 2048")
            .replace("min_retention_days = 3", "min_retention_days = 90");
        for (k, v) in [
            ("metrics_window_hours", RANGE_METRICS_HOURS.1),
            ("freshness_hours", RANGE_FRESHNESS_HOURS.1),
            ("secret_expiry_warning_days", RANGE_WARNING_DAYS.1),
            ("max_credential_lifetime_days", RANGE_LIFETIME_DAYS.1),
        ] {
            t = set_threshold(&t, k, &v.to_string());
        }
        Config::parse(&t, "x.toml").expect("edges are valid");
    }

    /// Replaces `key = …` in the template's [thresholds] table.
    fn set_threshold(t: &str, key: &str, v: &str) -> String {
        t.lines()
            .map(|l| {
                if l.starts_with(&format!("{key} = ")) {
                    format!("{key} = {v}")
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn errors_name_the_key() {
        let t = INIT_TEMPLATE.replace("min_partitions = 2", "min_partitions = 0");
        let e = Config::parse(&t, "x.toml").unwrap_err().to_string();
        assert!(e.contains("eventhub.min_partitions"), "{e}");
        let t = INIT_TEMPLATE.replace("[eventhub]", "[eventhub]\nnamepsace = \"typo\"");
        let e = Config::parse(&t, "x.toml").unwrap_err().to_string();
        assert!(e.contains("namepsace"), "{e}");
    }
}
