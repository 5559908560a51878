//! The audit: bundle + config + catalogue + attestations + audit clock → results.
//!
//! Everything here is a pure function of its inputs, so the same bundle audited with the same
//! catalogue, config and `--as-of` gives the same results on any machine, any year.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use chrono::{DateTime, NaiveDate, Utc};

use crate::attest::{self, Attestation};
use crate::catalog::{Catalog, LoadedCheck, Severity};
use crate::config::{Config, Waiver};
use crate::engine::{self, Scope};
use crate::evidence::{Body, Bundle};
use crate::normalize::{self, model::Model};
use crate::results::{CheckResult, EvidenceRef, FileRef, Results, Run, Status, Summary};
use crate::waiver::{self, WaiverReport};

pub struct AuditOptions {
    pub bundle: PathBuf,
    pub config: Option<PathBuf>,
    /// `--as-of`; `None` judges the evidence at its `collected_at`.
    pub as_of: Option<DateTime<Utc>>,
    pub allow_unverified: bool,
    pub attestations: Option<PathBuf>,
    pub fail_on: Option<Severity>,
    /// Recorded in results.json for the reports to state.
    pub signatures: crate::results::Signatures,
    /// Notes for results.json beyond the bundle's own (a partial `--select` run).
    pub extra_notes: Vec<String>,
    /// Only part of the catalogue is assessed: the go-live gate cannot be cleared.
    pub partial: bool,
}

/// The config that travels in the bundle, or the one given.
pub fn config_for(bundle: &Bundle, explicit: Option<&Path>) -> Result<(Config, String)> {
    if let Some(p) = explicit {
        return Ok((Config::load(p)?, p.display().to_string()));
    }
    let item = bundle.of_kind("config").next().ok_or_else(|| {
        anyhow!(
            "{}: the bundle carries no siemproof.toml; pass --config FILE",
            bundle.root.display()
        )
    })?;
    let name = format!(
        "{}/{}",
        bundle.root.display(),
        item.item.path.as_deref().unwrap_or("siemproof.toml")
    );
    match bundle.body(item)?.as_deref() {
        Some(Body::Text(t)) => Ok((Config::parse(t, &name)?, "bundle".into())),
        _ => Err(anyhow!(
            "{name}: the bundled config is unverified; pass --config FILE"
        )),
    }
}

/// Runs an audit end to end. The model it hands back lacks the hourly metric points when no
/// check read them (the results keep the configured hub's).
pub fn audit(opts: &AuditOptions, catalog: &Catalog) -> Result<(Results, Model)> {
    // Indexed, not loaded: each file is read, verified and parsed when the normaliser reaches
    // it and dropped after, so the audit holds a scope's bodies rather than the bundle.
    let bundle = Bundle::index(&opts.bundle, opts.allow_unverified)?;
    let (config, config_source) = config_for(&bundle, opts.config.as_deref())?;
    let collected_at = bundle.manifest.collected_at;
    let (as_of, clock) = match opts.as_of {
        None => (collected_at, "collected_at"),
        Some(t) if t < collected_at => {
            return Err(anyhow!(
                "--as-of {} is before the evidence was collected ({}): an audit cannot judge what was observed later than its clock; give a time at or after {}",
                t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                collected_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                collected_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            ))
        }
        Some(t) => (t, "--as-of"),
    };
    let now = Utc::now();
    let age_hours = (now - collected_at).num_hours();
    let evidence_age = crate::results::EvidenceAge {
        audited_at: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        hours: age_hours,
        threshold_hours: config.thresholds.max_evidence_age_hours,
        stale: age_hours > config.thresholds.max_evidence_age_hours,
    };
    let mut notes: Vec<String> = bundle
        .unknown_kinds()
        .into_iter()
        .map(|k| {
            format!("the manifest names evidence kind `{k}`, which this siemproof does not know: its files were verified but no check reads them")
        })
        .collect();
    notes.extend(opts.extra_notes.iter().cloned());
    let today = as_of.date_naive();
    let attestations = attest::load(&bundle, opts.attestations.as_deref(), today)?;
    let attested: Vec<String> = attestations
        .iter()
        .filter(|a| a.valid)
        .map(|a| a.check.clone())
        .collect();
    let mut model = normalize::normalize(&bundle, &config, as_of, &attested)?;
    // The results keep the configured hub's hourly points; no check reads the others unless
    // one names them, so they go before the CEL scope is built (the returned model lacks them).
    let metrics = crate::results::MetricsSummary::of(&model);
    if engine::report_only_unread(catalog.checks.iter().map(|c| &c.check)).contains(&"hourly") {
        model.eventhub.drop_hourly();
    }
    let hashes: BTreeMap<String, String> = bundle
        .items
        .iter()
        .filter_map(|i| Some((i.item.path.clone()?, i.item.sha256.clone()?)))
        .collect();
    // From here on the items are not needed (the run record reads the manifest's header, and
    // an indexed bundle's manifest has no items): let them go before the CEL scope, the
    // audit's largest allocation, is built.
    let mut bundle = bundle;
    bundle.items = Vec::new();
    let (checks, waivers) = assess(
        catalog,
        &model,
        &attestations,
        &config.waivers,
        today,
        &hashes,
    );
    let m = &bundle.manifest;
    let run = Run {
        id: uuid::Uuid::new_v4().to_string(),
        tool: "siemproof".into(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        catalogue_version: crate::catalog::CATALOGUE_VERSION.into(),
        as_of: model.as_of.clone(),
        clock: clock.into(),
        bundle: opts.bundle.display().to_string(),
        evidence_manifest_sha256: bundle.manifest_sha256.clone(),
        tenant_id: m.tenant_id.clone(),
        tenant_name: model
            .tenant
            .display_name
            .clone()
            .or(config.tenant.name.clone()),
        cloud: m.cloud.clone(),
        collected_at: m
            .collected_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        collector: match &m.collector.app_id {
            Some(a) => format!("{} ({a})", m.collector.auth),
            None => m.collector.auth.clone(),
        },
        config_source,
        fail_on: opts
            .fail_on
            .map(|s| s.as_str().to_string())
            .unwrap_or_else(|| "never".into()),
        unverified: bundle.problems.clone(),
        evidence_age: Some(evidence_age),
        notes,
        signatures: opts.signatures.clone(),
    };
    let results = Results {
        format: crate::results::FORMAT.into(),
        run,
        summary: {
            let mut s = Summary::from_checks(&checks);
            if opts.partial {
                s.partial = true;
                s.go_live_ready = false;
            }
            s
        },
        coverage: model.coverage.clone(),
        consumer: crate::results::ConsumerSummary::of(&model),
        metrics,
        checks,
        waivers,
        attestations,
        config,
    }
    .sanitise()?;
    Ok((results, model))
}

/// Normalises a loaded bundle with its own config and attestations and evaluates the catalogue
/// on it at `as_of`, without waivers: what a check concludes from the evidence alone. Tests and
/// tools that mutate a bundle in memory use it.
pub fn evaluate_bundle(
    bundle: &Bundle,
    catalog: &Catalog,
    as_of: DateTime<Utc>,
) -> Result<(Model, Vec<CheckResult>)> {
    let (config, _) = config_for(bundle, None)?;
    let attestations = attest::load(bundle, None, as_of.date_naive())?;
    let attested: Vec<String> = attestations
        .iter()
        .filter(|a| a.valid)
        .map(|a| a.check.clone())
        .collect();
    let model = normalize::normalize(bundle, &config, as_of, &attested)?;
    let (checks, _) = assess(
        catalog,
        &model,
        &attestations,
        &[],
        as_of.date_naive(),
        &BTreeMap::new(),
    );
    Ok((model, checks))
}

/// Evaluates every check against a model, then applies attestations and waivers.
pub fn assess(
    catalog: &Catalog,
    model: &Model,
    attestations: &[Attestation],
    waivers: &[Waiver],
    today: NaiveDate,
    hashes: &BTreeMap<String, String>,
) -> (Vec<CheckResult>, WaiverReport) {
    let scope = Scope::for_checks(model, catalog.checks.iter().map(|c| &c.check));
    // Checks are independent and read the scope only: on all cores, in catalogue order.
    let mut out: Vec<CheckResult> = crate::parallel::map_in_order(&catalog.checks, |lc| {
        assess_one(lc, &scope, model, attestations, hashes)
    });
    crate::parallel::drop_in_background(scope);
    let report = waiver::apply(waivers, &mut out, today);
    (out, report)
}

pub fn assess_one(
    lc: &LoadedCheck,
    scope: &Scope,
    model: &Model,
    attestations: &[Attestation],
    hashes: &BTreeMap<String, String>,
) -> CheckResult {
    let check = &lc.check;
    let mut outcome = engine::evaluate(check, &lc.compiled, scope);
    let mut attestation = None;
    if check.manual && outcome.status != Status::Pass && outcome.status != Status::NotApplicable {
        // Evidence that does not corroborate a manual check is not a failure of the
        // requirement: no API can read it, so such findings await the attestation.
        for f in outcome.findings.iter_mut() {
            if matches!(f.status, Status::Fail | Status::Warn | Status::NotAssessed) {
                f.status = Status::Manual;
            }
        }
        let mine: Vec<&Attestation> = attestations
            .iter()
            .filter(|a| a.check.eq_ignore_ascii_case(&check.id))
            .collect();
        if let Some(a) = mine.iter().find(|a| a.valid) {
            outcome.status = Status::Pass;
            outcome.reason = Some(format!(
                "attested by {} on {} (valid until {}): {}",
                a.attested_by, a.date, a.expires, a.statement
            ));
            attestation = Some((*a).clone());
        } else {
            let prior = outcome
                .reason
                .take()
                .map(|r| format!(" Evidence could not corroborate it: {r}."))
                .unwrap_or_default();
            let stale = mine
                .first()
                .map(|a| {
                    format!(
                        " The attestation by {} is not in force (dated {}, expires {}).",
                        a.attested_by, a.date, a.expires
                    )
                })
                .unwrap_or_default();
            outcome.status = Status::Manual;
            outcome.reason = Some(format!(
                "No API can read this: needs an attestation (`siemproof attest {}`).{stale}{prior}",
                check.id
            ));
            attestation = mine.first().map(|a| (*a).clone());
        }
    }
    let evidence = check
        .evidence
        .iter()
        .map(|k| {
            let st = model.evidence.get(k);
            EvidenceRef {
                kind: k.clone(),
                status: st
                    .map(|s| s.status.as_str())
                    .unwrap_or("not_collected")
                    .into(),
                files: st
                    .map(|s| {
                        s.files
                            .iter()
                            .map(|p| FileRef {
                                path: p.clone(),
                                sha256: hashes.get(p).cloned().unwrap_or_default(),
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            }
        })
        .collect();
    CheckResult {
        id: check.id.clone(),
        title: check.title.clone(),
        family: check.family.clone(),
        severity: check.severity,
        go_live: check.go_live,
        status: outcome.status,
        reason: outcome.reason,
        attestation,
        evidence,
        frameworks: check.frameworks.clone(),
        // The fix names this tenant's resources, not the guide's examples.
        doc: crate::catalog::Doc {
            fix: crate::fix::render(&check.doc.fix, &crate::fix::Names::of(model)),
            ..check.doc.clone()
        },
        references: check.references.clone(),
        guide_steps: check.guide_steps.clone(),
        findings: outcome.findings,
    }
}

/// Parses `--as-of`: RFC 3339, or a date (midnight UTC).
pub fn parse_as_of(s: &str) -> Result<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").with_context(|| {
        format!("--as-of {s:?}: expected RFC 3339 (2026-11-26T12:00:00Z) or a date (2026-11-26)")
    })?;
    Ok(d.and_hms_opt(0, 0, 0).expect("midnight").and_utc())
}
