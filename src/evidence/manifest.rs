//! The evidence manifest (`manifest.json`, format `siemproof-evidence/1`): what was collected,
//! when, by whom, from where, and the SHA-256 of every file.
//!
//! A request that failed is an item too: it has no `path` but an HTTP `status` and an `error`
//! with Microsoft's code and message, because "not authorised" is a finding of its own.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub const FORMAT: &str = "siemproof-evidence/1";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: String,
    pub tool: Tool,
    pub tenant_id: String,
    pub cloud: String,
    pub collected_at: DateTime<Utc>,
    pub collector: Collector,
    /// Other hosts that added evidence (e.g. `probe` run on the SIEM collector host).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contributors: Vec<Collector>,
    pub items: Vec<Item>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Collector {
    /// Client id of the app that read the tenant, when one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_id: Option<String>,
    /// `client_secret`, `client_certificate`, `workload_identity`, `managed_identity`,
    /// `azure_cli`, `fixture`, `probe`, or `none` (`collect --only siem`: no Microsoft request).
    pub auth: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Item {
    /// Stable evidence kind (see `kinds.rs`).
    pub kind: String,
    /// Relative path of the body inside the bundle; absent for failed requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// The resource the request was about (namespace id for its hubs, content type for O365 content…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Page number within one request chain, from 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
    /// HTTP status; absent for local files and for requests that never got a response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    pub fetched_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ItemError>,
    /// Response headers that carry evidence (e.g. `NextPageUri`), never auth headers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<std::collections::BTreeMap<String, String>>,
}

impl Item {
    /// An item for a file siemproof writes itself (config, attestation, probe results): no HTTP
    /// request behind it. `path`, `sha256` and `bytes` are filled in by the bundle writer.
    pub fn local(kind: &str, fetched_at: DateTime<Utc>) -> Item {
        Item {
            kind: kind.into(),
            path: None,
            sha256: None,
            bytes: None,
            scope: None,
            page: None,
            source: None,
            status: None,
            fetched_at,
            error: None,
            headers: None,
        }
    }

    /// A successful GET of `url` (HTTP 200).
    pub fn get(kind: &str, url: &str, fetched_at: DateTime<Utc>) -> Item {
        Item {
            source: Some(Source {
                method: "GET".into(),
                url: url.into(),
            }),
            status: Some(200),
            ..Item::local(kind, fetched_at)
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    pub method: String,
    pub url: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ItemError {
    pub code: String,
    pub message: String,
}
