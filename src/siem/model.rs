//! One normalised shape for every SIEM's Microsoft inputs (`model.siem`).
//!
//! A QRadar log source, a Splunk input and an Elastic package policy all become a
//! [`SiemInput`]: which path it reads (Event Hub, Office 365 Management API, Graph), whether it
//! is enabled, its health (the SIEM's raw value kept, mapped to ok / warn / error / never_ran /
//! disabled / unknown: an unknown value is never ok), when its last event arrived, and what it
//! is bound to. A binding field the SIEM does not show (inside a secret connection string) is
//! `null` and named in `hidden`: not determinable, never guessed.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Siem {
    /// The combined status of the SIEM evidence (`not_configured` without `[[siem]]` targets).
    pub status: String,
    /// Whether any `[[siem]]` target is configured.
    pub configured: bool,
    /// Targets that were read, by label.
    pub targets: Vec<String>,
    /// The Microsoft inputs, every SIEM together; `null` when a target's inputs were not read
    /// completely (then no check may conclude that an input is missing).
    pub inputs: Option<Vec<SiemInput>>,
    /// Installed DSMs, protocols, add-ons and integrations with their versions.
    pub products: Option<Vec<SiemProduct>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct SiemInput {
    /// The target's label (`[[siem]] name`, else its kind).
    pub siem: String,
    /// `qradar`, `splunk` or `elastic`.
    pub kind: String,
    pub id: String,
    pub name: String,
    /// `event_hub`, `o365_api` or `graph`.
    pub path: String,
    /// The protocol, input kind or package the input runs.
    pub product: Option<String>,
    /// The DSM or data type that parses it.
    pub parser: Option<String>,
    pub enabled: Option<bool>,
    /// A change the SIEM has not deployed yet (QRadar `requires_deploy`).
    pub pending_deploy: Option<bool>,
    /// The SIEM's own health value, as returned.
    pub health_raw: Option<String>,
    /// `ok`, `warn`, `error`, `never_ran`, `disabled` or `unknown`.
    pub health: String,
    /// The SIEM's messages about the input (protocol errors), as returned.
    pub health_messages: Vec<String>,
    /// A QRadar gateway source: it feeds other sources and receives nothing itself, so its
    /// freshness is that of the sources it feeds.
    pub gateway: bool,
    /// The newest event the SIEM holds for this input (RFC 3339); `null` when none ever arrived
    /// or the SIEM does not say.
    pub last_event_at: Option<String>,
    pub hours_since_last_event: Option<f64>,
    /// The last event is within the window for this path; `null` when unknown.
    pub fresh: Option<bool>,
    /// Events counted over the freshness window (opt-in searches only).
    pub events_in_window: Option<i64>,
    /// Share of those events the SIEM could not parse (opt-in searches only).
    pub unparsed_ratio: Option<f64>,
    /// The guide's log types this input carries.
    pub log_types: Vec<String>,
    /// Whether `log_types` is known (an Office 365 source without an Event Filter is not).
    pub log_types_known: bool,
    pub binding: Binding,
    /// Event Hub inputs: the consumer group they must read through (the target's
    /// `consumer_group`, else `[eventhub] consumer_group`).
    pub expected_consumer_group: Option<String>,
    /// Whether the target ran the opt-in searches (`event_counts = true`) for this input.
    pub counted: bool,
    /// Splunk: the hubs and consumer groups that delivered this input's events in the window,
    /// from the events' `source`; `null` without the opt-in searches.
    pub delivered: Option<Vec<Delivery>>,
}

/// One `source` seen in the SIEM: `eventhub://<fqdn>/<hub>;[partition_id=N;][consumer_group=<cg>;]`.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Delivery {
    pub namespace: String,
    pub hub: String,
    /// Present only when the input writes it (`event_format_flags` & 4).
    pub consumer_group: Option<String>,
    pub partition: Option<String>,
    pub events: Option<i64>,
    pub last_event_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Binding {
    pub namespace: Option<String>,
    pub hub: Option<String>,
    pub consumer_group: Option<String>,
    pub tenant_id: Option<String>,
    pub client_id: Option<String>,
    /// Office 365 content types the input collects.
    pub content_types: Option<Vec<String>>,
    /// Binding fields the SIEM keeps inside a secret (not determinable without it).
    pub hidden: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct SiemProduct {
    pub siem: String,
    /// `protocol`, `dsm`, `add-on` or `integration`.
    pub role: String,
    pub name: String,
    pub version: Option<String>,
    pub latest_version: Option<String>,
    /// `[[siem]] min_versions` for it, when configured.
    pub min_version: Option<String>,
    /// `version` ≥ `min_version`; `null` without a minimum or a comparable version.
    pub meets_minimum: Option<bool>,
}
