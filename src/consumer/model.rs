//! `model.consumer`: what the SIEM's checkpoint store shows of its consumption, from Azure.
//!
//! The checkpoint container's blobs are grouped by the reader they belong to (namespace, hub,
//! consumer group) and read through the layout that wrote them: the Azure SDK processor layout
//! (zero-byte `checkpoint/<pid>` and `ownership/<pid>` blobs whose state is metadata), the
//! Event Processor Host lease layout (one JSON lease blob per partition, a real blob lease:
//! QRadar's Java ingress and Elastic's v1 processor), or `unknown`, which is reported as
//! such and never read as "no checkpoints".

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Consumer {
    /// The status of the checkpoint listing (`not_configured` without `[storage] container`).
    pub status: String,
    /// `[storage] account` and `container` are both configured.
    pub configured: bool,
    pub account: Option<String>,
    pub container: Option<String>,
    /// Blobs in the container; `null` when the listing was not read completely.
    pub blobs: Option<usize>,
    /// The layouts found (`sdk`, `eph`, `unknown`); `null` when unread.
    pub layouts: Option<Vec<String>>,
    /// Blob names no known layout explains (at most 20 shown).
    pub unknown_blobs: Vec<String>,
    /// Some blobs cannot be tied to a reader's group (an unknown layout, a lease at the
    /// container root): the absence of the SIEM's checkpoints, or of a second reader, is then
    /// not proven.
    pub unattributed: bool,
    /// Partition ids of the configured hub (from ARM); `null` when unknown.
    pub partition_ids: Option<Vec<String>>,
    /// The consumer groups of the configured hub (from ARM); `null` when unknown.
    pub hub_groups: Option<Vec<String>>,
    /// Every reader found in the container; `null` when the listing was not read completely.
    pub readers: Option<Vec<Reader>>,
    /// The reader for the configured namespace, hub and consumer group, if any.
    pub configured_reader: Option<Reader>,
    /// The status of the hub's partition reads (`amqp.partitions`).
    pub partitions_status: String,
    /// Each partition as Event Hubs reports it, with the configured group's lag against it;
    /// `null` when the partitions were not read completely.
    pub partitions: Option<Vec<PartitionState>>,
}

/// One partition's runtime state (AMQP `$management` READ) against the configured group's
/// checkpoints. Sequence numbers, never offsets: offsets are opaque since geo-replication.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct PartitionState {
    pub partition: String,
    /// The oldest event the hub still holds.
    pub begin_sequence_number: i64,
    pub last_enqueued_sequence_number: i64,
    pub last_enqueued_at: Option<String>,
    pub is_empty: bool,
    /// The configured group's checkpoint (the lowest among its readers); `null` when none has a
    /// readable sequence number.
    pub checkpoint_sequence_number: Option<i64>,
    /// Every reader of the configured group has a checkpoint here with a sequence number, so the
    /// figures below are the whole group's, not a lower bound.
    pub complete: bool,
    /// Events enqueued after the checkpoint (last enqueued − checkpointed sequence number).
    pub lag_events: Option<i64>,
    /// How long events have waited without the checkpoint moving: the checkpoint's age when
    /// the evidence was collected if events wait, 0 when caught up.
    pub lag_minutes: Option<f64>,
    /// Events that aged out of the hub unread (first held − checkpointed − 1, when positive):
    /// the hub's retention deleted them before the SIEM read them.
    pub lost_events: Option<i64>,
}

/// The checkpoint state of one (namespace, hub, consumer group) in one layout.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Reader {
    /// `sdk` or `eph`.
    pub layout: String,
    /// The namespace as the blob names spell it (`null` in the EPH layout, which does not say).
    pub namespace: Option<String>,
    /// `null` in an EPH layout whose container is not named after the hub.
    pub hub: Option<String>,
    pub consumer_group: String,
    /// It reads the configured namespace (when named), hub and consumer group.
    pub is_configured: bool,
    /// The consumer group exists on the configured hub; `null` when the hub's groups are
    /// unknown or the reader is of another hub.
    pub group_exists: Option<bool>,
    pub checkpoints: Vec<Checkpoint>,
    pub owners: Vec<Owner>,
    /// Partitions of the hub without a checkpoint; `null` when the hub's partitions are unknown.
    pub missing_partitions: Option<Vec<String>>,
    /// The newest checkpoint write (RFC 3339) and its age when the evidence was collected.
    pub newest_checkpoint_at: Option<String>,
    pub hours_since_newest_checkpoint: Option<f64>,
    /// The oldest checkpoint write's age (a stalled partition among moving ones).
    pub hours_since_oldest_checkpoint: Option<f64>,
    /// Distinct owner identities holding a partition now (ownership within the expiry, or a
    /// leased EPH blob); `null` when the layout shows no ownership.
    pub active_owners: Option<Vec<String>>,
    /// Distinct owner identities seen on any partition, current or not.
    pub all_owners: Option<Vec<String>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Checkpoint {
    pub partition: String,
    /// The last processed event's sequence number; `null` when the blob does not say.
    pub sequence_number: Option<i64>,
    /// Opaque since geo-replication: shown, never subtracted.
    pub offset: Option<String>,
    pub last_modified: Option<String>,
    pub hours_since: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Owner {
    pub partition: String,
    /// Empty means relinquished.
    pub owner_id: Option<String>,
    pub last_modified: Option<String>,
    pub hours_since: Option<f64>,
    /// Owned now: an SDK ownership younger than the expiry with an owner id, or an EPH blob
    /// whose lease is held.
    pub active: Option<bool>,
}
