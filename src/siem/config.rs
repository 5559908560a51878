//! `[[siem]]`: the SIEM APIs siemproof may read, and where their credentials are.
//!
//! A target names its kind, its base URL(s) and where the credential lives: the *name* of an
//! environment variable or the path of a file, never the credential itself (a value that looks
//! like a token is refused, so a pasted secret cannot travel in a bundle). Searches that create
//! a server-side job (QRadar Ariel, Splunk search) run only with `event_counts = true`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The SIEMs siemproof can read.
pub const KINDS: &[&str] = &["qradar", "splunk", "elastic"];

/// The QRadar REST API version sent as the `Version` header unless the config names one.
pub const QRADAR_DEFAULT_VERSION: &str = "26.0";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SiemTarget {
    /// `qradar`, `splunk` or `elastic`.
    pub kind: String,
    /// A label for reports (default: the kind).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// QRadar console (`https://qradar.example`), Splunk management port
    /// (`https://splunk.example:8089`), or Elasticsearch (`https://es.example:9200`).
    pub url: String,
    /// Elastic only: Kibana, for the Fleet API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kibana_url: Option<String>,
    /// Elastic only: the Kibana space that holds the Fleet policies (default space otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub space: Option<String>,
    /// QRadar only: the `Version` header (default 26.0; older consoles need older versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// A PEM file of extra trust anchors for this SIEM's TLS certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_bundle: Option<PathBuf>,
    /// The name of the environment variable holding the credential (QRadar authorised-service
    /// token, Splunk bearer token, Elastic API key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_env: Option<String>,
    /// Or a file holding it (one line).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_file: Option<PathBuf>,
    /// Opt-in: run the searches that create a server-side job (QRadar Ariel, Splunk search)
    /// to count events per source over the freshness window.
    #[serde(default)]
    pub event_counts: bool,
    /// The consumer group this SIEM's Event Hub inputs must read through, when it is not
    /// `[eventhub] consumer_group` (every reader of a hub needs a group of its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumer_group: Option<String>,
    /// Public egress addresses (or CIDRs) of this SIEM's collector host, for firewall checks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub collector_egress_ips: Vec<String>,
    /// The oldest acceptable version of each installed DSM, protocol, add-on or integration,
    /// by its name as the SIEM reports it ("Keep DSMs up to date").
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub min_versions: BTreeMap<String, String>,
}

impl SiemTarget {
    /// The label used in findings: the name, else the kind.
    pub fn label(&self) -> String {
        self.name.clone().unwrap_or_else(|| self.kind.clone())
    }

    /// Checks one target; errors are `(key below the target, message)`.
    pub fn validate(&self) -> Result<(), (String, String)> {
        if !KINDS.contains(&self.kind.as_str()) {
            return Err((
                "kind".into(),
                format!("{:?} is not one of {}", self.kind, KINDS.join(", ")),
            ));
        }
        for (key, url) in [
            ("url", Some(&self.url)),
            ("kibana_url", self.kibana_url.as_ref()),
        ] {
            let Some(url) = url else { continue };
            let parsed =
                url::Url::parse(url).map_err(|e| (key.to_string(), format!("{url:?}: {e}")))?;
            if parsed.scheme() != "https" {
                return Err((
                    key.into(),
                    format!("{url:?}: the SIEM API is read over HTTPS only"),
                ));
            }
            if !parsed.username().is_empty() || parsed.password().is_some() {
                return Err((
                    key.into(),
                    "credentials do not belong in the URL: name a variable in credential_env"
                        .into(),
                ));
            }
        }
        if self.kind == "elastic" && self.kibana_url.is_none() {
            return Err((
                "kibana_url".into(),
                "required for elastic: the Fleet policies are read from Kibana".into(),
            ));
        }
        if let Some(cg) = &self.consumer_group {
            if cg.trim().is_empty() || cg.len() > 50 {
                return Err((
                    "consumer_group".into(),
                    "must name an Event Hub consumer group (1 to 50 characters)".into(),
                ));
            }
        }
        if self.event_counts && self.kind == "elastic" {
            // Accepting it and doing nothing would let a user believe counts were checked.
            return Err((
                "event_counts".into(),
                "elastic has no opt-in search: its data stream stats are always read; remove it (or set false)".into(),
            ));
        }
        match (&self.credential_env, &self.credential_file) {
            (None, None) => {
                return Err((
                    "credential_env".into(),
                    "name the environment variable (or credential_file) that holds the SIEM's read-only credential".into(),
                ))
            }
            (Some(_), Some(_)) => {
                return Err((
                    "credential_env".into(),
                    "give credential_env or credential_file, not both".into(),
                ))
            }
            (Some(name), None) => {
                let ok = !name.is_empty()
                    && name.len() <= 128
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_')
                    && !name.starts_with(|c: char| c.is_ascii_digit());
                if !ok {
                    // Never echo it: it may be the secret itself, pasted by mistake.
                    return Err((
                        "credential_env".into(),
                        "must be the NAME of an environment variable (letters, digits, `_`), not the credential".into(),
                    ));
                }
            }
            (None, Some(_)) => {}
        }
        Ok(())
    }
}
