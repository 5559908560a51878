//! Checkpoint blobs → `model.consumer`.
//!
//! The listing counts only when every page was read and the last page names no further one; a
//! blob the normaliser cannot place is kept as `unknown` and named. The hub's partitions are
//! `0 … partitionCount-1` (Event Hubs numbers them so) and its consumer groups come from ARM. An SDK ownership counts as held while it is younger than
//! `thresholds.ownership_expiry_minutes` and names an owner; an EPH lease blob while its lease is
//! `leased`. Checkpoint and ownership ages are taken when the evidence was collected (the
//! bundle's `collected_at`), not at the audit clock: a checkpoint a minute old then proves the
//! reader was reading then, and auditing the bundle later (`--as-of`) must not declare it dead;
//! the evidence's own age is reported apart.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};

use super::layout::{classify, parse_page, Blob, Entry};
use super::model::{Checkpoint, Consumer, Owner, PartitionState, Reader};
use crate::evidence::{Body, EvidenceStatus};
use crate::normalize::model::EventHub;
use crate::normalize::Input;

const KIND: &str = "blob.checkpoints";
const PARTITIONS: &str = super::partitions::KIND;
const LEASES: &str = "blob.leases";

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The blobs of the configured container, or the status that kept them from being read.
fn blobs(input: &Input<'_>, scope: &str) -> Result<Vec<Blob>, EvidenceStatus> {
    let Some(l) = input.listings(KIND).find(|l| {
        l.scope
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case(scope))
    }) else {
        return Err(EvidenceStatus::NotCollected);
    };
    if !l.complete() {
        return Err(l.status);
    }
    let mut items: Vec<_> = input
        .items(KIND)
        .into_iter()
        .filter(|i| {
            i.item
                .scope
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case(scope))
        })
        .collect();
    items.sort_by_key(|i| i.item.page.unwrap_or(0));
    let mut out = Vec::new();
    for it in items {
        let body = input.body(it);
        let Some(Body::Text(xml)) = body.as_deref() else {
            input.malformed(KIND, it, "the listing is not the Blob service's XML");
            return Err(EvidenceStatus::Error);
        };
        match parse_page(xml) {
            Ok(p) => out.extend(p.blobs),
            Err(e) => {
                input.malformed(KIND, it, &e);
                return Err(EvidenceStatus::Error);
            }
        }
    }
    Ok(out)
}

pub fn consumer(input: &Input<'_>, eventhub: &EventHub) -> Consumer {
    let cfg = input.config;
    let (account, container) = (cfg.storage.account.clone(), cfg.storage.container.clone());
    let mut model = Consumer {
        status: "not_configured".into(),
        account: account.clone(),
        container: container.clone(),
        ..Consumer::default()
    };
    let (Some(account), Some(container)) = (account, container) else {
        model.partitions_status = "not_configured".into();
        return model;
    };
    model.configured = true;
    let hub_state = partition_states(input, &cfg.eventhub.namespace, &cfg.eventhub.hub);
    model.partitions_status = match &hub_state {
        Ok(_) => "ok".into(),
        Err(st) => st.as_str().into(),
    };
    let hub = eventhub.hub.as_ref();
    model.partition_ids = hub
        .and_then(|h| h.partition_count)
        .filter(|n| (1..=4096).contains(n))
        .map(|n| (0..n).map(|p| p.to_string()).collect());
    model.hub_groups = hub
        .and_then(|h| h.consumer_groups.as_ref())
        .map(|g| g.iter().map(|c| c.name.clone()).collect());
    let blobs = match blobs(input, &format!("{account}/{container}")) {
        Ok(b) => b,
        Err(st) => {
            model.status = st.as_str().into();
            return model;
        }
    };
    model.status = "ok".into();
    model.blobs = Some(blobs.len());
    let t = &cfg.thresholds;
    let expiry_h = t.ownership_expiry_minutes as f64 / 60.0;
    let eh = &cfg.eventhub;
    // SDK blobs name the namespace by its FQDN; its first label is the namespace's name.
    let ns_matches = |ns: &str| {
        ns.split('.')
            .next()
            .is_some_and(|n| n.eq_ignore_ascii_case(&eh.namespace))
    };
    // EPH leases keep their checkpoint in the blob's JSON body, read one by one (`blob.leases`).
    let lease_prefix = format!("{account}/{container}/");
    let leases: BTreeMap<String, (Option<i64>, Option<String>)> = input
        .items(LEASES)
        .into_iter()
        .filter(|i| i.status() == EvidenceStatus::Ok)
        .filter_map(|i| {
            let name = i.item.scope.as_deref()?.strip_prefix(&lease_prefix)?;
            let body = input.body(i);
            let Some(Body::Json(v)) = body.as_deref() else {
                return None;
            };
            Some((name.to_string(), super::layout::lease_checkpoint(v)))
        })
        .collect();
    let mut readers: BTreeMap<(String, String, String, String), Reader> = BTreeMap::new();
    let mut layouts = std::collections::BTreeSet::new();
    let seen_at = input.collected_at;
    for b in &blobs {
        // A checkpoint's age when the evidence was collected: what proves the reader was
        // reading then. A later audit clock cannot make it older (evidence age is reported on
        // its own); one written during the collection is 0 h old.
        let hours = b
            .last_modified
            // To a thousandth of an hour (3.6 s): the thresholds are in minutes.
            // A write up to 5 min after the collection started is the collection's own time;
            // a later one (a skewed or edited date) is no age at all.
            .and_then(|m| {
                let secs = (seen_at - m).num_seconds();
                (secs >= -300).then(|| (secs.max(0) as f64 / 3.6).round() / 1000.0)
            });
        let lm = b.last_modified.map(rfc3339);
        let (layout, ns, hubname, group, partition, is_owner) = match classify(&b.name) {
            Entry::SdkCheckpoint {
                namespace,
                hub,
                group,
                partition,
            } => ("sdk", Some(namespace), Some(hub), group, partition, false),
            Entry::SdkOwnership {
                namespace,
                hub,
                group,
                partition,
            } => ("sdk", Some(namespace), Some(hub), group, partition, true),
            Entry::EphLease { group, partition } => (
                "eph",
                None,
                // The lease names no hub: the container is the SIEM's, configured for this hub
                // (QRadar's Java EPH even names the container after it).
                Some(eh.hub.clone()),
                // A root lease (Go `eph`) does not name its group: the container is the SIEM's.
                group.unwrap_or_else(|| "(not in the layout)".into()),
                partition,
                false,
            ),
            Entry::Unknown => {
                layouts.insert("unknown");
                model.unattributed = true;
                if model.unknown_blobs.len() < 20 {
                    model.unknown_blobs.push(b.name.clone());
                }
                continue;
            }
        };
        layouts.insert(layout);
        // The service matches group names case-insensitively, and SDKs differ in case.
        let key = (
            layout.to_string(),
            ns.clone().unwrap_or_default().to_ascii_lowercase(),
            hubname.clone().unwrap_or_default().to_ascii_lowercase(),
            group.to_ascii_lowercase(),
        );
        let r = readers.entry(key).or_insert_with(|| Reader {
            layout: layout.into(),
            namespace: ns.clone(),
            hub: hubname.clone(),
            consumer_group: group.clone(),
            ..Reader::default()
        });
        if layout == "eph" {
            // One blob is both: the lease JSON carries the checkpoint, the lease the owner.
            // Without its body (not read, refused, never checkpointed) the sequence is unknown.
            let (sequence_number, offset) = leases.get(&b.name).cloned().unwrap_or_default();
            r.checkpoints.push(Checkpoint {
                partition: partition.clone(),
                sequence_number,
                offset,
                last_modified: lm.clone(),
                hours_since: hours,
            });
            let owner = b.meta("owninghost").map(str::to_string);
            r.owners.push(Owner {
                partition,
                active: b.lease_state.as_deref().map(|s| s == "leased"),
                owner_id: owner,
                last_modified: lm,
                hours_since: hours,
            });
        } else if is_owner {
            // No `ownerid` key at all is not "relinquished" (that is an empty value): unknown.
            let owner = b.meta("ownerid").map(str::to_string);
            let active = match (&owner, hours) {
                (Some(o), Some(h)) => Some(h <= expiry_h && !o.is_empty()),
                _ => None,
            };
            r.owners.push(Owner {
                partition,
                owner_id: owner,
                last_modified: lm,
                hours_since: hours,
                active,
            });
        } else {
            r.checkpoints.push(Checkpoint {
                partition,
                sequence_number: b.meta("sequencenumber").and_then(|v| v.trim().parse().ok()),
                offset: b
                    .meta("offset")
                    .filter(|o| !o.is_empty() && *o != "no offset")
                    .map(str::to_string),
                last_modified: lm,
                hours_since: hours,
            });
        }
    }
    let groups_lower: Option<Vec<String>> = model
        .hub_groups
        .as_ref()
        .map(|g| g.iter().map(|x| x.to_ascii_lowercase()).collect());
    let mut out: Vec<Reader> = readers.into_values().collect();
    for r in out.iter_mut() {
        let of_hub = r
            .hub
            .as_deref()
            .is_some_and(|h| h.eq_ignore_ascii_case(&eh.hub))
            && r.namespace.as_deref().is_none_or(ns_matches);
        let group_known = r.consumer_group != "(not in the layout)";
        // A lease that names no group (Go `eph` at the container root) cannot be tied to the
        // SIEM's group: it is nobody's checkpoint for certain, and it leaves the verdicts open.
        r.is_configured =
            of_hub && group_known && r.consumer_group.eq_ignore_ascii_case(&eh.consumer_group);
        if !group_known {
            model.unattributed = true;
        }
        r.group_exists = match (&groups_lower, of_hub && group_known) {
            (Some(g), true) => Some(g.contains(&r.consumer_group.to_ascii_lowercase())),
            _ => None,
        };
        r.owners.sort_by_key(|a| part_key(&a.partition));
        summarise(r, model.partition_ids.as_deref());
        let owners = |active_only: bool| -> Option<Vec<String>> {
            // No ownership shown, or one whose state or holder cannot be read (a held lease
            // without OWNINGHOST): the owners are unknown.
            let unreadable = |o: &Owner| {
                o.active.is_none()
                    || (o.active == Some(true) && o.owner_id.as_deref().is_none_or(str::is_empty))
            };
            if r.owners.is_empty() || (active_only && r.owners.iter().any(unreadable)) {
                return None;
            }
            let mut v: Vec<String> = r
                .owners
                .iter()
                .filter(|o| !active_only || o.active == Some(true))
                .filter_map(|o| o.owner_id.clone())
                .filter(|o| !o.is_empty())
                .collect();
            v.sort();
            v.dedup();
            Some(v)
        };
        r.active_owners = owners(true);
        r.all_owners = owners(false);
    }
    model.layouts = Some(layouts.into_iter().map(str::to_string).collect());
    // The configured reader, across layouts: a migration (Elastic v1 → v2) or a second client
    // in the same container writes both, and both are readers of the group.
    let mine: Vec<&Reader> = out.iter().filter(|r| r.is_configured).collect();
    model.configured_reader = merge(&mine, model.partition_ids.as_deref());
    if let Ok(states) = hub_state {
        model.partitions = Some(
            states
                .into_iter()
                .map(|p| against_checkpoints(p, &mine))
                .collect(),
        );
    }
    model.readers = Some(out);
    model
}

/// The configured hub's partitions as the `$management` node reported them, or the status that
/// kept them from being read. A listing of another hub, a partition named twice or one the hub
/// does not list, or a missing figure is malformed: a partial view never counts.
fn partition_states(
    input: &Input<'_>,
    namespace: &str,
    hub: &str,
) -> Result<Vec<PartitionState>, EvidenceStatus> {
    let scope = format!("{namespace}/{hub}");
    let Some(l) = input.listings(PARTITIONS).find(|l| {
        l.scope
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case(&scope))
    }) else {
        return Err(EvidenceStatus::NotCollected);
    };
    if !l.complete() {
        return Err(l.status);
    }
    let Some(it) = input.items(PARTITIONS).into_iter().find(|i| {
        i.item
            .scope
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case(&scope))
    }) else {
        return Err(EvidenceStatus::NotCollected);
    };
    let parsed = match input.body(it).as_deref() {
        Some(Body::Json(v)) => parse_partitions(v, hub),
        _ => Err("the partition reads are not a JSON object".to_string()),
    };
    parsed.map_err(|e| {
        input.malformed(PARTITIONS, it, &e);
        EvidenceStatus::Error
    })
}

fn parse_partitions(v: &serde_json::Value, hub: &str) -> Result<Vec<PartitionState>, String> {
    use crate::normalize::raw;
    let name = raw::s(v, &["eventhub", "name"]).ok_or("eventhub.name is missing")?;
    if !name.eq_ignore_ascii_case(hub) {
        return Err(format!(
            "eventhub.name: {name:?} is not the configured hub {hub:?}"
        ));
    }
    let ids: Vec<String> = v
        .pointer("/eventhub/partition_ids")
        .and_then(|x| x.as_array())
        .ok_or("eventhub.partition_ids is missing")?
        .iter()
        .map(|x| x.as_str().map(str::to_string))
        .collect::<Option<_>>()
        .ok_or("eventhub.partition_ids: not a list of strings")?;
    if ids.is_empty() {
        return Err("eventhub.partition_ids is empty".into());
    }
    let parts = v
        .get("partitions")
        .and_then(|x| x.as_array())
        .ok_or("partitions is missing")?;
    let mut out: Vec<PartitionState> = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        let at = |k: &str| format!("partitions[{i}].{k}");
        let int = |k: &str| {
            p.get(k)
                .and_then(|x| x.as_i64())
                .ok_or_else(|| format!("{} is missing or not an integer", at(k)))
        };
        let id = raw::s(p, &["partition"]).ok_or_else(|| at("partition") + " is missing")?;
        if raw::s(p, &["name"]).is_none_or(|n| !n.eq_ignore_ascii_case(hub)) {
            return Err(format!("{} does not name the configured hub", at("name")));
        }
        if !ids.contains(&id) || out.iter().any(|o| o.partition == id) {
            return Err(format!(
                "{}: {id:?} is not one of the hub's partitions or is listed twice",
                at("partition")
            ));
        }
        let (begin, last) = (
            int("begin_sequence_number")?,
            int("last_enqueued_sequence_number")?,
        );
        let empty = p
            .get("is_partition_empty")
            .and_then(|x| x.as_bool())
            .ok_or_else(|| at("is_partition_empty") + " is missing or not a boolean")?;
        let enqueued = match p.get("last_enqueued_time_utc") {
            Some(serde_json::Value::String(t)) => Some(
                DateTime::parse_from_rfc3339(t)
                    .map_err(|e| format!("{}: {e}", at("last_enqueued_time_utc")))?
                    .with_timezone(&Utc),
            ),
            Some(serde_json::Value::Null) | None => None,
            Some(_) => return Err(at("last_enqueued_time_utc") + " is not a time"),
        };
        out.push(PartitionState {
            partition: id,
            begin_sequence_number: begin,
            last_enqueued_sequence_number: last,
            last_enqueued_at: enqueued.map(rfc3339),
            is_empty: empty,
            ..PartitionState::default()
        });
    }
    if out.len() != ids.len() {
        return Err(format!(
            "partitions: {} read of the {} the hub lists",
            out.len(),
            ids.len()
        ));
    }
    out.sort_by_key(|p| part_key(&p.partition));
    Ok(out)
}

/// One partition against the configured group's checkpoints, every layout's: the figures of the
/// reader furthest behind, and whether every reader's checkpoint could be read.
fn against_checkpoints(mut p: PartitionState, readers: &[&Reader]) -> PartitionState {
    let cps: Vec<&Checkpoint> = readers
        .iter()
        .filter_map(|r| r.checkpoints.iter().find(|c| c.partition == p.partition))
        .collect();
    let behind = cps
        .iter()
        .filter_map(|c| c.sequence_number.map(|s| (s, *c)))
        .min_by_key(|(s, _)| *s);
    // A checkpoint past the hub's last event belongs to another life of the hub (deleted and
    // recreated): the reader would resume nowhere. Its lag is not a number.
    let ahead = behind.is_some_and(|(s, _)| s > p.last_enqueued_sequence_number);
    p.complete = !cps.is_empty()
        && cps.len() == readers.len()
        && cps.iter().all(|c| c.sequence_number.is_some())
        && !ahead;
    match behind {
        Some((seq, c)) if !ahead => {
            let lag = p.last_enqueued_sequence_number - seq;
            p.checkpoint_sequence_number = Some(seq);
            p.lag_events = Some(lag);
            p.lag_minutes = if lag == 0 {
                Some(0.0)
            } else {
                c.hours_since.map(|h| (h * 60.0 * 10.0).round() / 10.0)
            };
            p.lost_events = Some((p.begin_sequence_number - seq - 1).max(0));
        }
        Some((seq, _)) => p.checkpoint_sequence_number = Some(seq),
        // Nothing was ever enqueued: nothing to read, nothing lost, with or without checkpoints.
        None if p.is_empty && p.last_enqueued_sequence_number < 0 => {
            p.complete = true;
            p.lag_events = Some(0);
            p.lag_minutes = Some(0.0);
            p.lost_events = Some(0);
        }
        None => {}
    }
    p
}

/// One reader from the configured group's readers of every layout: per partition the newest
/// checkpoint, the owners of all.
fn merge(readers: &[&Reader], partitions: Option<&[String]>) -> Option<Reader> {
    let first = (*readers.first()?).clone();
    if readers.len() == 1 {
        return Some(first);
    }
    let mut r = Reader {
        layout: readers
            .iter()
            .map(|r| r.layout.as_str())
            .collect::<Vec<_>>()
            .join("+"),
        checkpoints: vec![],
        owners: vec![],
        ..first
    };
    for x in readers {
        for c in &x.checkpoints {
            match r
                .checkpoints
                .iter_mut()
                .find(|k| k.partition == c.partition)
            {
                Some(k)
                    if k.hours_since.unwrap_or(f64::MAX) > c.hours_since.unwrap_or(f64::MAX) =>
                {
                    *k = c.clone()
                }
                Some(_) => {}
                None => r.checkpoints.push(c.clone()),
            }
        }
        r.owners.extend(x.owners.iter().cloned());
    }
    summarise(&mut r, partitions);
    // Owners of several layouts: unknown as soon as one layout's owners are (a reader that
    // shows ownership it cannot name may be the second reader).
    let union = |f: fn(&Reader) -> &Option<Vec<String>>| -> Option<Vec<String>> {
        let mut v: Vec<String> = Vec::new();
        let mut any = false;
        for x in readers {
            match f(x) {
                Some(o) => {
                    any = true;
                    v.extend(o.iter().cloned());
                }
                None if !x.owners.is_empty() => return None,
                None => {}
            }
        }
        v.sort();
        v.dedup();
        any.then_some(v)
    };
    r.active_owners = union(|x| &x.active_owners);
    r.all_owners = union(|x| &x.all_owners);
    Some(r)
}

/// Fills a reader's partition gaps and checkpoint ages from its checkpoints.
fn summarise(r: &mut Reader, partitions: Option<&[String]>) {
    r.checkpoints.sort_by_key(|a| part_key(&a.partition));
    r.missing_partitions = partitions.map(|ids| {
        ids.iter()
            .filter(|p| !r.checkpoints.iter().any(|c| &c.partition == *p))
            .cloned()
            .collect()
    });
    let newest = r
        .checkpoints
        .iter()
        .filter_map(|c| c.hours_since.map(|h| (h, c.last_modified.clone())))
        .min_by(|a, b| a.0.total_cmp(&b.0));
    r.hours_since_newest_checkpoint = newest.as_ref().map(|n| n.0);
    r.newest_checkpoint_at = newest.and_then(|n| n.1);
    r.hours_since_oldest_checkpoint = r
        .checkpoints
        .iter()
        .filter_map(|c| c.hours_since)
        .max_by(|a, b| a.total_cmp(b));
}

/// Partition ids sort numerically.
fn part_key(p: &str) -> (usize, String) {
    (p.len(), p.to_string())
}
