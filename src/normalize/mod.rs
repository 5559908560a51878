//! The normaliser: raw Microsoft responses in a verified bundle → the normalised [`model::Model`].
//!
//! It is a pure function of the bundle, the config, the attestations and the audit clock. A body
//! whose shape is not what Microsoft documents marks its kind `error` (with the file and JSON
//! path) instead of guessing, so checks that read it are `not_assessed`.

pub mod azure;
pub mod m365;
pub mod model;
pub mod raw;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::config::Config;
use crate::evidence::{Body, Bundle, EvidenceStatus, KindState, LoadedItem};
use model::Model;

/// Evidence handed to the normaliser: verified bundle items plus their kind states.
pub struct Input<'a> {
    items: Vec<&'a LoadedItem>,
    states: BTreeMap<String, KindState>,
    pub config: &'a Config,
    pub as_of: DateTime<Utc>,
}

impl<'a> Input<'a> {
    pub fn new(bundle: &'a Bundle, config: &'a Config, as_of: DateTime<Utc>) -> Input<'a> {
        Input {
            items: bundle.items.iter().collect(),
            states: bundle.kind_states(),
            config,
            as_of,
        }
    }

    /// Usable JSON bodies of a kind, with their items.
    pub fn bodies(&self, kind: &str) -> Vec<(&'a LoadedItem, &'a Value)> {
        self.items
            .iter()
            .filter(|i| i.item.kind == kind && i.status() == EvidenceStatus::Ok)
            .filter_map(|i| match &i.body {
                Some(Body::Json(v)) => Some((*i, v)),
                _ => None,
            })
            .collect()
    }

    /// Items of a kind, failed ones included.
    pub fn items(&self, kind: &str) -> Vec<&'a LoadedItem> {
        self.items
            .iter()
            .copied()
            .filter(|i| i.item.kind == kind)
            .collect()
    }

    /// Status of a kind as a string for model sections.
    pub fn status(&self, kind: &str) -> String {
        self.states
            .get(kind)
            .map(|s| s.status.as_str().to_string())
            .unwrap_or_else(|| "not_collected".into())
    }

    /// The combined status of several kinds (the worst wins).
    pub fn status_of(&self, kinds: &[&str]) -> String {
        kinds
            .iter()
            .filter_map(|k| self.states.get(*k).map(|s| s.status))
            .max()
            .unwrap_or(EvidenceStatus::NotCollected)
            .as_str()
            .to_string()
    }

    pub fn usable(&self, kind: &str) -> bool {
        self.states.get(kind).is_some_and(|s| s.status.is_usable())
    }

    /// Downgrades a kind to `error` because a body did not have the documented shape.
    pub fn malformed(&mut self, kind: &str, item: &LoadedItem, message: &str) {
        let file = item.item.path.clone().unwrap_or_default();
        let st = self.states.entry(kind.to_string()).or_insert(KindState {
            status: EvidenceStatus::Error,
            reason: None,
            files: vec![],
        });
        st.status = EvidenceStatus::Error;
        st.reason = Some(format!("{file}: malformed response: {message}"));
    }

    /// Lists the elements of a list body, marking the kind malformed when it is not a list.
    pub fn list_of(&mut self, kind: &str, item: &LoadedItem, body: &'a Value) -> Vec<&'a Value> {
        match raw::list(body) {
            Ok(v) => v,
            Err(e) => {
                self.malformed(kind, item, &e);
                vec![]
            }
        }
    }

    /// Hours from `t` to the audit clock, to a tenth of an hour.
    pub fn hours_since(&self, t: DateTime<Utc>) -> f64 {
        ((self.as_of - t).num_seconds() as f64 / 360.0).round() / 10.0
    }
}

/// Parses Microsoft timestamps: RFC 3339, or without an offset (the Management Activity API
/// returns `2015-06-29T20:03:19.6893588Z` and sometimes no `Z`), which is UTC.
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|n| n.and_utc())
}

/// Builds the model. `attested` lists check ids with a valid attestation (Defender corroboration
/// and the coverage matrix use them).
pub fn normalize(
    bundle: &Bundle,
    config: &Config,
    as_of: DateTime<Utc>,
    attested: &[String],
) -> Model {
    let mut input = Input::new(bundle, config, as_of);
    build(&mut input, attested)
}

fn build(input: &mut Input<'_>, attested: &[String]) -> Model {
    let tenant = m365::tenant(input);
    let eventhub = azure::eventhub(input);
    let storage = azure::storage(input, &eventhub);
    let entra = azure::entra(input, &eventhub);
    let apps = m365::apps(input);
    let o365 = m365::o365(input);
    let graph = m365::graph(input);
    let network = m365::network(input);
    let defender = m365::defender(input, &eventhub, attested);
    let mut model = Model {
        as_of: input
            .as_of
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        evidence: input.states.clone(),
        config: input.config.clone(),
        tenant,
        entra,
        eventhub,
        storage,
        apps,
        o365,
        graph,
        defender,
        network,
        coverage: vec![],
    };
    model.coverage = crate::coverage::compute(&model);
    model
}
