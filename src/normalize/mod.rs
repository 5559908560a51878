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
    /// When the evidence was collected (the manifest's `collected_at`).
    pub collected_at: DateTime<Utc>,
}

impl<'a> Input<'a> {
    pub fn new(bundle: &'a Bundle, config: &'a Config, as_of: DateTime<Utc>) -> Input<'a> {
        Input {
            items: bundle.items.iter().collect(),
            states: bundle.kind_states(),
            config,
            as_of,
            collected_at: bundle.manifest.collected_at,
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

    /// Downgrades a kind to `inconsistent`: an item disagrees with the request that returned it.
    /// The item is kept (linked to the parent the request named); the checks that read the kind
    /// are `not_assessed` with this reason, so nothing vanishes silently.
    pub fn inconsistent(&mut self, kind: &str, item: &LoadedItem, message: &str) {
        let file = item.item.path.clone().unwrap_or_default();
        let st = self.states.entry(kind.to_string()).or_insert(KindState {
            status: EvidenceStatus::Inconsistent,
            reason: None,
            files: vec![],
        });
        if st.status < EvidenceStatus::Inconsistent {
            st.status = EvidenceStatus::Inconsistent;
            st.reason = Some(format!("{file}: {message}"));
        }
    }

    /// The listings of a kind, one per recorded request scope (a namespace's hubs, an account's
    /// containers…), each with the status of its own pages. Elements are read only from a
    /// listing whose every page was read and whose page chain is complete.
    pub fn listings(&mut self, kind: &str) -> Vec<Listing<'a>> {
        let paging = crate::evidence::kinds::kind(kind).map(|k| k.paging);
        let mut groups: BTreeMap<String, Vec<&'a LoadedItem>> = BTreeMap::new();
        for it in self.items.iter().copied().filter(|i| i.item.kind == kind) {
            let key = it
                .item
                .scope
                .as_deref()
                .map(raw::norm_id)
                .unwrap_or_default()
                .to_ascii_lowercase();
            groups.entry(key).or_default().push(it);
        }
        let mut out = Vec::new();
        for (_, mut items) in groups {
            items.sort_by_key(|i| i.item.page.unwrap_or(0));
            let mut status = crate::evidence::state_of(&items).status;
            if status == EvidenceStatus::Ok {
                if let Some(p) = paging {
                    if crate::evidence::chain_gap(p, &items).is_some() {
                        status = EvidenceStatus::Incomplete;
                    }
                }
            }
            let mut elements = Vec::new();
            let mut bodies = Vec::new();
            if status == EvidenceStatus::Ok {
                for it in &items {
                    if let Some(Body::Json(v)) = &it.body {
                        bodies.push((*it, v));
                        for e in self.list_of(kind, it, v) {
                            elements.push((*it, e));
                        }
                    }
                }
            }
            out.push(Listing {
                scope: items[0].item.scope.clone(),
                status,
                elements,
                bodies,
            });
        }
        out
    }

    /// Marks a child kind that was never collected because it had no parent to be collected for
    /// (no namespace, so no hubs to list) as `ok`: its absence is then complete evidence.
    pub fn vacuous(&mut self, kind: &str, why: &str) {
        let st = self.states.entry(kind.to_string()).or_insert(KindState {
            status: EvidenceStatus::NotCollected,
            reason: None,
            files: vec![],
        });
        if st.status == EvidenceStatus::NotCollected {
            st.status = EvidenceStatus::Ok;
            st.reason = Some(format!("nothing to collect: {why}"));
        }
    }

    /// Sets a derived kind's state from the kinds it is made of: the worst of them (with its
    /// reason and every file), `not_collected` when there are none.
    pub fn derive(&mut self, name: &str, from: &[&str]) {
        let mut st = KindState {
            status: EvidenceStatus::NotCollected,
            reason: Some("no [[siem]] target is configured".into()),
            files: vec![],
        };
        let mut why = Vec::new();
        for (n, k) in from.iter().enumerate() {
            let s = self.states.get(*k).cloned().unwrap_or(KindState {
                status: EvidenceStatus::NotCollected,
                reason: Some("not in the bundle".into()),
                files: vec![],
            });
            if n == 0 || s.status > st.status {
                st.status = s.status;
            }
            // Every unusable part is named: the first failure (a 403) explains the ones after it.
            if s.status != EvidenceStatus::Ok && !why.iter().any(|w: &String| w.starts_with(k)) {
                let mut line = format!("{k} is {}", s.status.as_str());
                if let Some(r) = s.reason {
                    line.push_str(&format!(" ({r})"));
                }
                why.push(line);
            }
            st.files.extend(s.files);
        }
        if !from.is_empty() {
            st.reason = (!why.is_empty()).then(|| why.join("; "));
        }
        st.files.sort();
        st.files.dedup();
        self.states.insert(name.to_string(), st);
    }

    /// Lists the elements of a list body, marking the kind malformed when it is not a list.
    pub fn list_of(&mut self, kind: &str, item: &LoadedItem, body: &'a Value) -> Vec<&'a Value> {
        match raw::list_at(body, crate::evidence::kinds::list_key(kind)) {
            Ok(v) => {
                // Every list Microsoft returns holds objects; anything else is not a resource
                // that can be judged, and dropping it would make the list look complete.
                if let Some(i) = v.iter().position(|e| !e.is_object()) {
                    self.malformed(
                        kind,
                        item,
                        &format!("element {i} is {}, not an object", raw::type_name(v[i])),
                    );
                    return vec![];
                }
                v
            }
            Err(e) => {
                self.malformed(kind, item, &e);
                vec![]
            }
        }
    }

    /// Marks the kind malformed unless `v` has every key in `keys` (as a non-null value).
    pub fn require(&mut self, kind: &str, item: &LoadedItem, v: &Value, keys: &[&[&str]]) -> bool {
        for k in keys {
            if matches!(raw::path(v, k), None | Some(Value::Null)) {
                self.malformed(kind, item, &format!("an element lacks `{}`", k.join(".")));
                return false;
            }
        }
        true
    }

    /// Hours from `t` to the audit clock, to a tenth of an hour.
    pub fn hours_since(&self, t: DateTime<Utc>) -> f64 {
        ((self.as_of - t).num_seconds() as f64 / 360.0).round() / 10.0
    }
}

/// One request chain's listing: the elements of all its pages, when they could all be read.
pub struct Listing<'a> {
    /// The resource the request was about (the parent), as recorded by the collector.
    pub scope: Option<String>,
    /// `ok` only when every page was read and the chain is complete.
    pub status: EvidenceStatus,
    /// The listed elements with the page they came from; empty unless `status` is `ok`.
    pub elements: Vec<(&'a LoadedItem, &'a Value)>,
    /// The whole bodies (one per page), for responses that are not lists (metrics).
    pub bodies: Vec<(&'a LoadedItem, &'a Value)>,
}

impl Listing<'_> {
    /// Whether the listing can show what exists (and so what does not).
    pub fn complete(&self) -> bool {
        self.status == EvidenceStatus::Ok
    }
}

/// Whether an ARM id lies below `parent` (case-insensitive, normalised). An item with no id
/// cannot disagree with its request, so it is taken as below it.
pub fn is_below(id: &str, parent: &str) -> bool {
    if id.trim().is_empty() {
        return true;
    }
    let id = raw::norm_id(id).to_ascii_lowercase();
    let parent = raw::norm_id(parent).to_ascii_lowercase();
    id.starts_with(&format!("{parent}/"))
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
    let siem = crate::siem::normalize::siem(input);
    let consumer = crate::consumer::normalize::consumer(input, &eventhub);
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
        siem,
        consumer,
        coverage: vec![],
    };
    model.coverage = crate::coverage::compute(&model);
    model
}
