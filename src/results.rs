//! `results.json` (format `siemproof-results/1`): the one canonical output of an audit, from
//! which every report format is rendered.

use serde::{Deserialize, Serialize};

use crate::attest::Attestation;
use crate::catalog::{Doc, Frameworks, GoLive, Severity};
use crate::coverage::LogTypeCoverage;
use crate::waiver::WaiverReport;

pub const FORMAT: &str = "siemproof-results/1";

/// The most any single string contributes to results and reports, in bytes.
pub const MAX_TEXT_BYTES: usize = 8 * 1024;

/// Redacts secret-looking text in `s` and caps it at [`MAX_TEXT_BYTES`].
pub fn sanitise_text(s: &mut String) {
    crate::redact::in_place(s);
    if s.len() > MAX_TEXT_BYTES {
        *s = crate::evidence::truncate_marked(s, MAX_TEXT_BYTES);
    }
}

/// One part of the results with every string sanitised ([`sanitise_text`]); `at` names the
/// part in an error.
fn sanitised<T: Serialize + serde::de::DeserializeOwned>(part: &T, at: &str) -> anyhow::Result<T> {
    let mut v = serde_json::to_value(part)?;
    sanitise_value(&mut v);
    serde_path_to_error::deserialize(v)
        .map_err(|e| anyhow::anyhow!("results: at `{at}.{}`: {}", e.path(), e.inner()))
}

/// The checks sanitised a few at a time on all cores (each check's tree exists only while it
/// is sanitised), in order.
fn sanitised_checks(checks: Vec<CheckResult>) -> anyhow::Result<Vec<CheckResult>> {
    let at_once = 2 * std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut out = Vec::with_capacity(checks.len());
    let mut rest = checks.into_iter().enumerate();
    loop {
        // The evidence list is most of a large check (every file of a kind, with its hash):
        // it is taken out and sanitised in place, the rest through its JSON tree.
        type Part = (usize, CheckResult, std::sync::Mutex<Vec<EvidenceRef>>);
        let chunk: Vec<Part> = rest
            .by_ref()
            .take(at_once)
            .map(|(i, mut c)| {
                let evidence = std::mem::take(&mut c.evidence);
                (i, c, std::sync::Mutex::new(evidence))
            })
            .collect();
        if chunk.is_empty() {
            return Ok(out);
        }
        let done = crate::parallel::map_in_order(&chunk, |(i, c, evidence)| {
            sanitise_evidence(&mut evidence.lock().unwrap_or_else(|p| p.into_inner()));
            sanitised(c, &format!("checks[{i}]"))
        });
        for (c, (_, _, evidence)) in done.into_iter().zip(chunk) {
            let mut c = c?;
            c.evidence = evidence.into_inner().unwrap_or_else(|p| p.into_inner());
            out.push(c);
        }
    }
}

/// Every string of the evidence references sanitised in place; destructured, so that a new
/// field cannot be left out.
fn sanitise_evidence(refs: &mut [EvidenceRef]) {
    for EvidenceRef {
        kind,
        status,
        files,
    } in refs
    {
        sanitise_text(kind);
        sanitise_text(status);
        for FileRef { path, sha256 } in files {
            sanitise_text(path);
            sanitise_text(sha256);
        }
    }
}

fn sanitise_value(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::String(s) => sanitise_text(s),
        serde_json::Value::Array(a) => a.iter_mut().for_each(sanitise_value),
        serde_json::Value::Object(o) => o.values_mut().for_each(sanitise_value),
        _ => {}
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    Fail,
    Warn,
    NotApplicable,
    NotAssessed,
    Manual,
    Waived,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Warn => "warn",
            Status::NotApplicable => "not_applicable",
            Status::NotAssessed => "not_assessed",
            Status::Manual => "manual",
            Status::Waived => "waived",
        }
    }

    /// How bad a status is, for aggregation and sorting (higher is worse).
    pub fn rank(self) -> u8 {
        match self {
            Status::NotApplicable => 0,
            Status::Pass => 1,
            Status::Waived => 2,
            Status::Manual => 3,
            Status::NotAssessed => 4,
            Status::Warn => 5,
            Status::Fail => 6,
        }
    }

    pub const ALL: [Status; 7] = [
        Status::Fail,
        Status::Warn,
        Status::NotAssessed,
        Status::Manual,
        Status::Waived,
        Status::Pass,
        Status::NotApplicable,
    ];
}

/// The worst status of a set of findings (`not_applicable` when there are none).
pub fn aggregate(statuses: impl Iterator<Item = Status>) -> Status {
    statuses
        .max_by_key(|s| s.rank())
        .unwrap_or(Status::NotApplicable)
}

/// A waiver as applied to a finding.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AppliedWaiver {
    pub reason: String,
    pub approver: String,
    pub expires: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
    /// The status the finding had before the waiver.
    pub original_status: Status,
}

/// One verdict about one resource.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Finding {
    /// Resource id (waiver key, SARIF logical location).
    pub resource: String,
    /// Display name.
    pub name: String,
    pub status: Status,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiver: Option<AppliedWaiver>,
}

/// An evidence file a check read, with its hash for OSCAL observations and auditors.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EvidenceRef {
    pub kind: String,
    pub status: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileRef>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FileRef {
    pub path: String,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CheckResult {
    pub id: String,
    pub title: String,
    pub family: String,
    pub severity: Severity,
    pub go_live: GoLive,
    pub status: Status,
    /// Why the status is what it is when there are no findings to say it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestation: Option<Attestation>,
    pub evidence: Vec<EvidenceRef>,
    pub frameworks: Frameworks,
    pub doc: Doc,
    pub references: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub guide_steps: Vec<String>,
    pub findings: Vec<Finding>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    pub pass: usize,
    pub fail: usize,
    pub warn: usize,
    pub not_applicable: usize,
    pub not_assessed: usize,
    pub manual: usize,
    pub waived: usize,
    pub total: usize,
    /// Failing checks that block go-live.
    pub blocking_failures: usize,
    /// Ready for go-live: no blocking check fails, is unassessed or awaits attestation, and
    /// the run assessed the whole catalogue.
    pub go_live_ready: bool,
    /// Only some checks were assessed (`--select` / `--ignore`): the gate cannot be cleared.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
}

impl Summary {
    pub fn from_checks(checks: &[CheckResult]) -> Summary {
        let mut s = Summary::default();
        let mut blocking_open = 0;
        for c in checks {
            s.total += 1;
            match c.status {
                Status::Pass => s.pass += 1,
                Status::Fail => s.fail += 1,
                Status::Warn => s.warn += 1,
                Status::NotApplicable => s.not_applicable += 1,
                Status::NotAssessed => s.not_assessed += 1,
                Status::Manual => s.manual += 1,
                Status::Waived => s.waived += 1,
            }
            if c.go_live == GoLive::Blocking {
                if c.status == Status::Fail {
                    s.blocking_failures += 1;
                }
                if matches!(
                    c.status,
                    Status::Fail | Status::NotAssessed | Status::Manual
                ) {
                    blocking_open += 1;
                }
            }
        }
        s.go_live_ready = blocking_open == 0;
        s
    }

    pub fn count(&self, st: Status) -> usize {
        match st {
            Status::Pass => self.pass,
            Status::Fail => self.fail,
            Status::Warn => self.warn,
            Status::NotApplicable => self.not_applicable,
            Status::NotAssessed => self.not_assessed,
            Status::Manual => self.manual,
            Status::Waived => self.waived,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Run {
    pub id: String,
    pub tool: String,
    pub tool_version: String,
    pub catalogue_version: String,
    /// The audit clock.
    pub as_of: String,
    /// Where the audit clock came from: `collected_at` (the default: the evidence is judged as
    /// of when it was observed, so the same bundle gives the same verdicts forever) or `--as-of`.
    #[serde(default = "clock_default")]
    pub clock: String,
    pub bundle: String,
    pub evidence_manifest_sha256: String,
    pub tenant_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_name: Option<String>,
    pub cloud: String,
    pub collected_at: String,
    pub collector: String,
    /// `bundle` or the path given with `--config`.
    pub config_source: String,
    pub fail_on: String,
    /// Integrity problems tolerated with `--allow-unverified`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unverified: Vec<String>,
    /// How old the evidence was when this audit ran (wall clock, not the audit clock).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence_age: Option<EvidenceAge>,
    /// Things the audit noticed about the bundle that no check reads (unknown evidence kinds).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Who signed what: the output's signature key and the evidence manifest's verification.
    #[serde(default)]
    pub signatures: Signatures,
}

/// The signatures of a run, as the report states them to an auditor.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct Signatures {
    /// The minisign key id that signs this output (`SHA256SUMS.minisig`, `audit --sign`);
    /// `null` when the output is unsigned.
    #[serde(default)]
    pub report_key_id: Option<String>,
    /// The evidence manifest's signature: `verified` (checked against `--pubkey`),
    /// `not_checked` (present, no `--pubkey` given) or `unsigned`; empty when not recorded.
    #[serde(default)]
    pub evidence: String,
    /// The key that verified the evidence manifest.
    #[serde(default)]
    pub evidence_key_id: Option<String>,
}

fn clock_default() -> String {
    "collected_at".into()
}

/// Evidence age: reported on its own so that a stale bundle is visible without changing any
/// time-based verdict (those are judged at the audit clock).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EvidenceAge {
    /// When the audit ran.
    pub audited_at: String,
    /// Whole hours from `collected_at` to `audited_at`.
    pub hours: i64,
    /// `thresholds.max_evidence_age_hours`.
    pub threshold_hours: i64,
    pub stale: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Results {
    pub format: String,
    pub run: Run,
    pub summary: Summary,
    pub coverage: Vec<LogTypeCoverage>,
    /// The SIEM's consumption per partition, from its checkpoint store (when it was read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumer: Option<ConsumerSummary>,
    /// The configured hub's hourly Azure Monitor metrics (for the report's sparklines), when
    /// the metrics were read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<MetricsSummary>,
    #[serde(serialize_with = "checks_unless_left_out")]
    pub checks: Vec<CheckResult>,
    pub waivers: WaiverReport,
    pub attestations: Vec<Attestation>,
    pub config: crate::config::Config,
}

thread_local! {
    /// Set while [`write_pretty`] writes the results around their checks.
    static LEAVING_OUT_CHECKS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// `Results::checks` as serialised: as they are, or none while [`write_pretty`] writes the
/// rest of the results (on this thread only).
fn checks_unless_left_out<S: serde::Serializer>(
    checks: &[CheckResult],
    s: S,
) -> Result<S::Ok, S::Error> {
    if crate::leave_out::is_on(&LEAVING_OUT_CHECKS) {
        s.collect_seq(std::iter::empty::<&CheckResult>())
    } else {
        s.collect_seq(checks)
    }
}

/// How many checks [`write_pretty`] renders at once (one per core at a time): a large
/// tenant's check holds every file of the kinds it read, up to 4 MB of text.
const CHECKS_PER_BATCH: usize = 16;

/// Writes results.json exactly as `serde_json::to_writer_pretty` writes it, byte for byte,
/// with the checks (nearly all of a 6,000-namespace tenant's 45 MB) rendered on all cores, a
/// batch at a time, instead of all on one.
pub fn write_pretty(w: &mut dyn std::io::Write, results: &Results) -> anyhow::Result<()> {
    if results.checks.is_empty() {
        serde_json::to_writer_pretty(w, results)?;
        return Ok(());
    }
    let rest = crate::leave_out::with(&LEAVING_OUT_CHECKS, true, || {
        serde_json::to_vec_pretty(results)
    })?;
    // A raw newline is only ever layout (strings escape theirs), and a top-level key is the
    // only thing indented by exactly two spaces after one.
    const EMPTY: &[u8] = b"\n  \"checks\": []";
    let at = rest
        .windows(EMPTY.len())
        .position(|w| w == EMPTY)
        .ok_or_else(|| anyhow::anyhow!("results: the checks' place was not found"))?;
    // `head` ends with the empty array's `[`; `tail` is its `]` and what follows it.
    let (head, tail) = rest.split_at(at + EMPTY.len() - 1);
    w.write_all(head)?;
    let mut first = true;
    for batch in results.checks.chunks(CHECKS_PER_BATCH) {
        let rendered = crate::parallel::map_in_order(batch, |c| {
            serde_json::to_vec_pretty(c).map(|text| indented(&text, b"    "))
        });
        for text in rendered {
            w.write_all(if first { b"\n    " } else { b",\n    " })?;
            w.write_all(&text?)?;
            first = false;
        }
    }
    w.write_all(b"\n  ")?;
    w.write_all(tail)?;
    Ok(())
}

/// Pretty JSON text one level deeper: `by` after every newline.
fn indented(text: &[u8], by: &[u8]) -> Vec<u8> {
    let lines = text.iter().filter(|b| **b == b'\n').count();
    let mut out = Vec::with_capacity(text.len() + lines * by.len());
    for (i, line) in text.split(|b| *b == b'\n').enumerate() {
        if i > 0 {
            out.push(b'\n');
            out.extend_from_slice(by);
        }
        out.extend_from_slice(line);
    }
    out
}

/// The hourly metrics of the configured hub (or, without a per-hub dimension, its namespace).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MetricsSummary {
    /// `namespace/hub`, or `namespace` when only namespace totals were given.
    pub entity: String,
    /// The window Azure Monitor answered for (`timespan`).
    pub timespan: Option<String>,
    pub hours: Vec<crate::normalize::model::MetricHour>,
}

impl MetricsSummary {
    pub fn of(m: &crate::normalize::model::Model) -> Option<MetricsSummary> {
        let eh = &m.eventhub;
        let ns = eh.namespace.as_ref()?;
        let hub = eh.hub.as_ref();
        let (entity, metrics) = match hub.and_then(|h| h.metrics.as_ref()) {
            Some(hm) if !hm.hourly.is_empty() => (format!("{}/{}", ns.name, hub?.name), hm),
            _ => (ns.name.clone(), ns.metrics.as_ref()?),
        };
        (!metrics.hourly.is_empty()).then(|| MetricsSummary {
            entity,
            timespan: metrics.timespan.clone(),
            hours: metrics.hourly.clone(),
        })
    }
}

/// Per partition of the configured hub: the SIEM's checkpoint as its store showed it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ConsumerSummary {
    pub account: String,
    pub container: String,
    pub consumer_group: String,
    /// `sdk`, `eph` or both (`eph+sdk`); `null` when no checkpoint of the group was found.
    pub layout: Option<String>,
    /// `thresholds.max_checkpoint_age_minutes`.
    pub threshold_minutes: i64,
    /// The hub's partition state was read (`amqp.partitions`), so lag figures can exist.
    #[serde(default)]
    pub partitions_read: bool,
    /// `thresholds.max_lag_events` and `thresholds.max_lag_minutes`.
    #[serde(default)]
    pub lag_threshold_events: i64,
    #[serde(default)]
    pub lag_threshold_minutes: i64,
    pub partitions: Vec<PartitionState>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PartitionState {
    pub partition: String,
    /// Hours from the checkpoint's last write to the collection; `null` without a checkpoint.
    pub checkpoint_age_hours: Option<f64>,
    pub sequence_number: Option<i64>,
    /// The owner holding it now (SDK ownership or EPH lease), when one does.
    pub owner: Option<String>,
    /// The hub's last enqueued sequence number and time (AMQP `$management` READ).
    #[serde(default)]
    pub last_enqueued_sequence_number: Option<i64>,
    #[serde(default)]
    pub last_enqueued_at: Option<String>,
    /// The checkpoint lag is measured from: the lowest of the group's readers (it can differ
    /// from `sequence_number`, the newest checkpoint, when two readers share the group).
    #[serde(default)]
    pub lag_from_sequence_number: Option<i64>,
    /// Events past the configured group's checkpoint; `null` when not known for the whole group.
    #[serde(default)]
    pub lag_events: Option<i64>,
    /// How long events have waited without the checkpoint moving.
    #[serde(default)]
    pub lag_minutes: Option<f64>,
    /// Events that aged out of the hub unread.
    #[serde(default)]
    pub lost_events: Option<i64>,
}

impl ConsumerSummary {
    /// The summary of a model's checkpoint store; `None` when it was not read.
    pub fn of(m: &crate::normalize::model::Model) -> Option<ConsumerSummary> {
        let c = &m.consumer;
        if !c.configured || c.status != "ok" {
            return None;
        }
        let r = c.configured_reader.as_ref();
        let ids: Vec<String> = c.partition_ids.clone().unwrap_or_else(|| {
            r.map(|r| r.checkpoints.iter().map(|k| k.partition.clone()).collect())
                .unwrap_or_default()
        });
        let partitions = ids
            .iter()
            .map(|p| {
                let cp = r.and_then(|r| r.checkpoints.iter().find(|k| &k.partition == p));
                let hub = c
                    .partitions
                    .as_ref()
                    .and_then(|ps| ps.iter().find(|h| &h.partition == p));
                // A figure of one reader among several not read is a lower bound: shown only
                // when it already fails, as the checks do (a proven problem stands).
                let known = |v: Option<i64>| v.filter(|_| hub.is_some_and(|h| h.complete));
                PartitionState {
                    last_enqueued_sequence_number: hub.map(|h| h.last_enqueued_sequence_number),
                    last_enqueued_at: hub.and_then(|h| h.last_enqueued_at.clone()),
                    lag_from_sequence_number: hub.and_then(|h| h.checkpoint_sequence_number),
                    lag_events: known(hub.and_then(|h| h.lag_events)).or_else(|| {
                        hub.and_then(|h| h.lag_events)
                            .filter(|l| *l > m.config.thresholds.max_lag_events)
                    }),
                    lag_minutes: hub.and_then(|h| h.lag_minutes).filter(|l| {
                        hub.is_some_and(|h| h.complete)
                            || *l > m.config.thresholds.max_lag_minutes as f64
                    }),
                    lost_events: known(hub.and_then(|h| h.lost_events))
                        .or_else(|| hub.and_then(|h| h.lost_events).filter(|l| *l > 0)),
                    partition: p.clone(),
                    checkpoint_age_hours: cp.and_then(|k| k.hours_since),
                    sequence_number: cp.and_then(|k| k.sequence_number),
                    owner: r.and_then(|r| {
                        r.owners
                            .iter()
                            .filter(|o| &o.partition == p && o.active == Some(true))
                            .filter_map(|o| o.owner_id.clone())
                            .next()
                    }),
                }
            })
            .collect();
        Some(ConsumerSummary {
            account: c.account.clone().unwrap_or_default(),
            container: c.container.clone().unwrap_or_default(),
            consumer_group: m.config.eventhub.consumer_group.clone(),
            layout: r.map(|r| r.layout.clone()),
            threshold_minutes: m.config.thresholds.max_checkpoint_age_minutes,
            partitions_read: c.partitions.is_some(),
            lag_threshold_events: m.config.thresholds.max_lag_events,
            lag_threshold_minutes: m.config.thresholds.max_lag_minutes,
            partitions,
        })
    }
}

impl Results {
    /// Redacts secret-looking text and caps every string at [`MAX_TEXT_BYTES`]: the one place
    /// text copied from API data is made safe before any report renders it (audit and
    /// [`Results::load`] both pass through here). The full values stay in the evidence.
    pub fn sanitise(self) -> anyhow::Result<Results> {
        // Field by field, and check by check, so that the JSON tree in between is never more
        // than one check's (a large tenant's results are tens of MiB, their tree several times
        // that). Destructured, so a new field cannot be left out.
        let Results {
            format,
            run,
            summary,
            coverage,
            consumer,
            metrics,
            checks,
            waivers,
            attestations,
            config,
        } = self;
        Ok(Results {
            format: sanitised(&format, "format")?,
            run: sanitised(&run, "run")?,
            summary: sanitised(&summary, "summary")?,
            coverage: sanitised(&coverage, "coverage")?,
            consumer: sanitised(&consumer, "consumer")?,
            metrics: sanitised(&metrics, "metrics")?,
            checks: sanitised_checks(checks)?,
            waivers: sanitised(&waivers, "waivers")?,
            attestations: sanitised(&attestations, "attestations")?,
            config: sanitised(&config, "config")?,
        })
    }

    /// Reads a saved `results.json`, naming the JSON path of any shape error.
    pub fn load(path: &std::path::Path) -> anyhow::Result<Results> {
        use anyhow::Context as _;
        let bytes = crate::files::read_bounded(path)?;
        let mut v: serde_json::Value = serde_json::from_slice(&bytes)
            .with_context(|| format!("{}: not valid JSON", path.display()))?;
        // The text is not needed once parsed (a large run's is tens of MiB).
        drop(bytes);
        let f = v.get("format").and_then(|f| f.as_str()).unwrap_or_default();
        if f != FORMAT {
            anyhow::bail!("{}: format {f:?} is not {FORMAT:?}", path.display());
        }
        // Sanitised as a tree before the typed read: the same result as `sanitise`, without
        // building the results a second time.
        sanitise_value(&mut v);
        serde_path_to_error::deserialize(v)
            .map_err(|e| anyhow::anyhow!("{}: at `{}`: {}", path.display(), e.path(), e.inner()))
    }

    /// Whether a failing check at or above `threshold` exists (exit code 1).
    /// The failing blocking checks in the order to fix them: the guide's setup order first
    /// (a namespace before its hub, the hub before its consumer group: an earlier step's fix
    /// unblocks the checks of the later ones), then severity, then id. `steps` is the guide's
    /// step order (`checks/guide-steps.toml`).
    pub fn fix_first(&self, steps: &[String]) -> Vec<&CheckResult> {
        let rank = |c: &CheckResult| {
            c.guide_steps
                .iter()
                .filter_map(|g| steps.iter().position(|s| s == g))
                // Fixable once its latest step is right: checks of early steps come first.
                .max()
                .unwrap_or(usize::MAX)
        };
        let mut v: Vec<&CheckResult> = self
            .checks
            .iter()
            .filter(|c| c.go_live == GoLive::Blocking && c.status == Status::Fail)
            .collect();
        v.sort_by(|a, b| {
            rank(a)
                .cmp(&rank(b))
                .then(b.severity.cmp(&a.severity))
                .then(a.id.cmp(&b.id))
        });
        v
    }

    pub fn fails_at(&self, threshold: Option<Severity>) -> bool {
        let Some(t) = threshold else { return false };
        self.checks
            .iter()
            .any(|c| c.status == Status::Fail && c.severity >= t)
    }
}

#[cfg(test)]
mod tests {
    /// `write_pretty` writes exactly what `serde_json::to_writer_pretty` writes: for each demo
    /// tenant's results (106 checks, several batches), with text that looks like the checks'
    /// place inside strings, and with no checks at all.
    #[test]
    fn results_are_written_as_to_writer_pretty_writes_them() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/tenants");
        let catalog = crate::catalog::Catalog::load(&[]).expect("embedded catalogue");
        for name in [
            "contoso-demo",
            "fabrikam-misconfigured",
            "contoso-compliant",
        ] {
            let opts = crate::audit::AuditOptions {
                bundle: root.join(name),
                config: None,
                as_of: Some(crate::audit::parse_as_of("2026-11-20T12:00:00Z").unwrap()),
                allow_unverified: false,
                attestations: None,
                fail_on: None,
                signatures: Default::default(),
                extra_notes: vec![],
                partial: false,
            };
            let (mut results, _) = crate::audit::audit(&opts, &catalog).expect("audit runs");
            assert!(results.checks.len() > super::CHECKS_PER_BATCH, "{name}");
            let same = |r: &super::Results| {
                let mut ours = Vec::new();
                super::write_pretty(&mut ours, r).unwrap();
                assert_eq!(
                    String::from_utf8(ours).unwrap(),
                    serde_json::to_string_pretty(r).unwrap(),
                    "{name}"
                );
            };
            same(&results);
            results.run.notes.push("x\n  \"checks\": []\n".into());
            results.checks[0].title = "\n  \"checks\": [] \n    }".into();
            same(&results);
            results.checks.clear();
            same(&results);
        }
    }
}
