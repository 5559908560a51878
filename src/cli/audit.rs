//! `init`, `audit`, `report` and `diff`: writing a config, auditing a bundle, re-rendering and
//! comparing results.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};

use crate::audit::{self, AuditOptions};
use crate::catalog::{Catalog, GoLive, Severity};
use crate::files::{self, OutputKind, Staging, Target};
use crate::report;
use crate::results::{Results, Status};

use super::signing::load_signing_key;
use super::summarise;

#[derive(Args)]
pub struct InitArgs {
    /// Where to write the config
    #[arg(long, default_value = "siemproof.toml")]
    pub out: PathBuf,
    /// Overwrite an existing file
    #[arg(long)]
    pub force: bool,
}

#[derive(Clone, Copy, ValueEnum, Debug)]
pub enum FailOn {
    Critical,
    High,
    Medium,
    Low,
    Info,
    Never,
}

/// Which checks that could not be assessed fail the run (`--fail-on-unassessed`).
#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
pub enum FailOnUnassessed {
    /// Checks marked `go_live = "blocking"`: a go-live gate is not green on unread evidence.
    Blocking,
    /// Every check.
    Any,
    /// None (exit codes reflect failing findings only).
    None,
}

impl FailOnUnassessed {
    /// The checks of `results` that this policy counts as failing the run.
    pub fn offenders(self, results: &Results) -> Vec<&crate::results::CheckResult> {
        results
            .checks
            .iter()
            .filter(|c| c.status == Status::NotAssessed)
            .filter(|c| match self {
                FailOnUnassessed::Blocking => c.go_live == GoLive::Blocking,
                FailOnUnassessed::Any => true,
                FailOnUnassessed::None => false,
            })
            .collect()
    }
}

impl FailOn {
    pub fn threshold(self) -> Option<Severity> {
        match self {
            FailOn::Critical => Some(Severity::Critical),
            FailOn::High => Some(Severity::High),
            FailOn::Medium => Some(Severity::Medium),
            FailOn::Low => Some(Severity::Low),
            FailOn::Info => Some(Severity::Info),
            FailOn::Never => None,
        }
    }
}

#[derive(Args)]
pub struct AuditArgs {
    /// The evidence bundle (a directory written by `siemproof collect`)
    pub bundle: PathBuf,
    /// Use this config instead of the one that travels in the bundle
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Where to write results.json and reports
    #[arg(long, short, default_value = "siemproof-report")]
    pub out: PathBuf,
    /// Comma-separated formats: table, json, html, md, junit, sarif, oscal, jsonl, csv, hdf
    /// (Heimdall), compliance (compliance.md: results per framework control), leef (IBM LEEF
    /// 2.0, for QRadar) and cef (ArcSight CEF), one event per finding and coverage row
    #[arg(long, default_value = "table,json,html,md")]
    pub format: String,
    /// The audit clock for expiry and freshness (RFC 3339 or YYYY-MM-DD; default: the bundle's
    /// collected_at, so the same bundle gives the same verdicts on any day; never earlier)
    #[arg(long, env = "SIEMPROOF_AS_OF")]
    pub as_of: Option<String>,
    /// Exit 1 when a check at or above this severity fails
    #[arg(long, value_enum, default_value = "low")]
    pub fail_on: FailOn,
    /// Exit 1 when these checks could not be assessed (missing, forbidden or failed evidence)
    #[arg(long, value_enum, default_value = "blocking")]
    pub fail_on_unassessed: FailOnUnassessed,
    /// Require a valid minisign signature (manifest.json.minisig) over the bundle's manifest by
    /// this public key; without it an unsigned manifest's self-edits cannot be detected
    #[arg(long, value_name = "KEY.pub")]
    pub pubkey: Option<PathBuf>,
    /// Extra check directories (same layout as checks/)
    #[arg(long)]
    pub checks: Vec<PathBuf>,
    /// Assess only these checks: ids, id prefixes ending in `-` (EH-), families (consumer) or
    /// severities (critical), comma-separated; the report says the run is partial
    #[arg(long, value_delimiter = ',', value_name = "ID|PREFIX-|FAMILY|SEVERITY")]
    pub select: Vec<String>,
    /// Leave these checks out (same forms as --select; wins over it)
    #[arg(long, value_delimiter = ',', value_name = "ID|PREFIX-|FAMILY|SEVERITY")]
    pub ignore: Vec<String>,
    /// Attestation files (*.toml) in addition to those in the bundle
    #[arg(long)]
    pub attestations: Option<PathBuf>,
    /// Audit a bundle whose files do not match the manifest; checks reading them are not assessed
    #[arg(long)]
    pub allow_unverified: bool,
    /// Override report templates with files of the same name from this directory
    #[arg(long)]
    pub templates: Option<PathBuf>,
    /// Show every check in the terminal table, passes included
    #[arg(long)]
    pub all: bool,
    /// Sign the output with this minisign secret key (copies the bundle into OUT/evidence);
    /// `-` reads the key from SIEMPROOF_SIGNING_KEY
    #[arg(long, value_name = "KEY")]
    pub sign: Option<PathBuf>,
    /// Append the signed run to this ledger of scheduled runs (needs --sign; see `siemproof
    /// ledger` and docs/ledger.md)
    #[arg(long, value_name = "DIR", requires = "sign")]
    pub ledger: Option<PathBuf>,
    /// Also show the results per control of these frameworks (NIST-800-53, ISO-27001, PCI-DSS,
    /// HIPAA, CIS, SOC2), comma-separated: in the terminal and as compliance.md
    #[arg(long, value_enum, value_delimiter = ',', value_name = "FRAMEWORK")]
    pub compliance: Vec<crate::report::compliance::Framework>,
}

#[derive(Args)]
pub struct ReportArgs {
    /// A results.json written by `siemproof audit`
    pub results: PathBuf,
    /// Where to write the reports (a new directory, or an earlier unsigned report to add to)
    #[arg(long, short, default_value = "siemproof-report")]
    pub out: PathBuf,
    /// Comma-separated formats: table, json, html, md, junit, sarif, oscal, jsonl, csv, hdf
    /// (Heimdall), compliance (compliance.md: results per framework control), leef (IBM LEEF
    /// 2.0, for QRadar) and cef (ArcSight CEF), one event per finding and coverage row
    #[arg(long, default_value = "html,md")]
    pub format: String,
    /// Override report templates with files of the same name from this directory
    #[arg(long)]
    pub templates: Option<PathBuf>,
    /// Show every check in the terminal table, passes included
    #[arg(long)]
    pub all: bool,
    /// Also show the results per control of these frameworks (NIST-800-53, ISO-27001, PCI-DSS,
    /// HIPAA, CIS, SOC2), comma-separated: in the terminal and as compliance.md
    #[arg(long, value_enum, value_delimiter = ',', value_name = "FRAMEWORK")]
    pub compliance: Vec<crate::report::compliance::Framework>,
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
pub enum DiffFormat {
    Text,
    Json,
}

#[derive(Args)]
pub struct DiffArgs {
    /// The earlier results.json (or the report directory holding it)
    pub old: PathBuf,
    /// The later results.json (or the report directory holding it)
    pub new: PathBuf,
    /// Output format: text for people, json for tools
    #[arg(long, value_enum, default_value = "text")]
    pub format: DiffFormat,
    /// Read OLD and NEW as run ids (or their first 8+ characters) of this ledger's entries
    #[arg(long, value_name = "DIR")]
    pub ledger: Option<PathBuf>,
}

/// A results.json path, or a report directory that holds one.
pub(crate) fn results_path(p: &Path) -> PathBuf {
    if p.is_dir() {
        p.join("results.json")
    } else {
        p.to_path_buf()
    }
}

/// `diff`: exit 1 on regressions (a check got worse, or a failing finding is new), so a
/// scheduled run can alert on drift.
pub(crate) fn diff_cmd(a: &DiffArgs, out: &mut dyn Write) -> Result<u8> {
    let path = |p: &Path| -> Result<PathBuf> {
        match &a.ledger {
            Some(l) => crate::ledger::find_run(l, &p.to_string_lossy()),
            None => Ok(results_path(p)),
        }
    };
    let old = Results::load(&path(&a.old)?)?;
    let new = Results::load(&path(&a.new)?)?;
    let d = crate::diff::diff(&old, &new);
    match a.format {
        DiffFormat::Text => write!(out, "{}", crate::diff::render_text(&d))?,
        DiffFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(&d)?)?,
    }
    Ok(if d.has_regressions() { 1 } else { 0 })
}

pub(crate) fn init(a: &InitArgs, out: &mut dyn Write) -> Result<u8> {
    if a.out.exists() && !a.force {
        bail!(
            "{}: already exists (use --force to overwrite)",
            a.out.display()
        );
    }
    let mut tmp = tempfile::NamedTempFile::new_in(
        a.out
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new(".")),
    )?;
    tmp.write_all(crate::config::INIT_TEMPLATE.as_bytes())?;
    tmp.persist(&a.out)
        .with_context(|| format!("{}: cannot write", a.out.display()))?;
    writeln!(
        out,
        "wrote {}: fill in tenant.id, eventhub.subscription_id, eventhub.resource_group and app.client_ids",
        a.out.display()
    )?;
    Ok(0)
}

pub(crate) fn audit_cmd(a: &AuditArgs, out: &mut dyn Write) -> Result<u8> {
    run_audit(a, None, out, &mut std::io::stderr())
}

/// `audit`, optionally with a catalogue compiled by the caller (a fleet compiles the embedded
/// one once for every tenant; it is used when `a` selects every check and adds none): the
/// summary goes to `out`, warnings and notes to `err`; returns the exit code.
pub(crate) fn run_audit(
    a: &AuditArgs,
    shared: Option<&Catalog>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<u8> {
    let mut formats = report::parse_formats(&a.format)?;
    if a.sign.is_some() && !formats.iter().any(|f| f == "json") {
        // The signature binds the run named in results.json, so a signed output always has it.
        formats.push("json".into());
    }
    // Judge the output path before any work: nothing is touched when it is refused.
    let previous = files::check_target(&a.out, OutputKind::Report, false, "--out")?;
    let selection = crate::catalog::Selection {
        select: a
            .select
            .iter()
            .filter(|s| !s.trim().is_empty())
            .cloned()
            .collect(),
        ignore: a
            .ignore
            .iter()
            .filter(|s| !s.trim().is_empty())
            .cloned()
            .collect(),
    };
    let owned;
    let (catalog, total) = match shared {
        Some(c) if selection.is_all() && a.checks.is_empty() => (c, c.checks.len()),
        _ => {
            let all = Catalog::load(&a.checks)?;
            let total = all.checks.len();
            owned = all
                .select(&selection)
                .map_err(|e| anyhow::anyhow!("--select/--ignore: {e}"))?;
            (&owned, total)
        }
    };
    let opts = AuditOptions {
        partial: !selection.is_all(),
        extra_notes: selection
            .note(catalog.checks.len(), total)
            .into_iter()
            .collect(),
        bundle: a.bundle.clone(),
        config: a.config.clone(),
        as_of: a
            .as_of
            .as_deref()
            .map(crate::audit::parse_as_of)
            .transpose()?,
        allow_unverified: a.allow_unverified,
        attestations: a.attestations.clone(),
        fail_on: a.fail_on.threshold(),
        signatures: Default::default(),
    };
    // Load (and decrypt) the key before the audit, so a wrong password costs nothing.
    let signing_key = match &a.sign {
        Some(k) => Some(load_signing_key(k)?),
        None => None,
    };
    let mut opts = opts;
    opts.signatures.report_key_id = match &signing_key {
        Some(sk) => Some(crate::sign::keys::key_id(
            crate::sign::keys::public_of(sk)?.keynum(),
        )),
        None => None,
    };
    let manifest_note = match &a.pubkey {
        Some(pk) => {
            let v = crate::sign::manifest::verify_bundle(&a.bundle, pk)?;
            opts.signatures.evidence = "verified".into();
            opts.signatures.evidence_key_id = Some(v.key_id.clone());
            format!("evidence manifest signed by key {}: verified", v.key_id)
        }
        None if a.bundle.join(crate::sign::manifest::SIG).is_file() => {
            opts.signatures.evidence = "not_checked".into();
            format!(
                "note: {} carries {} but no --pubkey was given: its manifest was not checked against a key",
                a.bundle.display(),
                crate::sign::manifest::SIG
            )
        }
        None => {
            opts.signatures.evidence = "unsigned".into();
            format!(
                "note: {} is unsigned: file hashes are checked against manifest.json, but an edit of manifest.json itself cannot be detected (sign bundles with `siemproof sign BUNDLE` and audit with --pubkey KEY)",
                a.bundle.display()
            )
        }
    };
    // The model goes now (on a thread of its own): the reports are rendered from the results
    // alone.
    let (results, model) = audit::audit(&opts, catalog)?;
    crate::parallel::drop_in_background(model);
    let evidence = match &signing_key {
        Some(_) => crate::sign::bundle_files(&a.bundle)?,
        None => Vec::new(),
    };
    let writes_files =
        signing_key.is_some() || formats.iter().any(|f| !report::files_of(f).is_empty());
    let mut files = Vec::new();
    if writes_files {
        files = write_output(&a.out, previous, |dir| {
            let mut files = report::write_all(
                &results,
                dir,
                &formats,
                a.templates.as_deref(),
                &catalog.steps,
                &with_compliance(&evidence, &results, &a.compliance),
            )?;
            files.retain(|f| !f.starts_with(dir.join(crate::sign::EVIDENCE_DIR)));
            if let Some(sk) = &signing_key {
                let signed = crate::sign::sign_dir(dir, sk)?;
                files.push(signed.sums);
                files.push(signed.signature);
            }
            Ok(files)
        })?;
    }
    if let (Some(dir), Some(sk)) = (&a.ledger, &signing_key) {
        let done = crate::ledger::append(dir, &a.out, sk).with_context(|| {
            format!(
                "--ledger {}: the run was written to {} but not appended",
                dir.display(),
                a.out.display()
            )
        })?;
        writeln!(
            err,
            "ledger: run {} appended as entry {} of {}",
            done.run_id,
            crate::ledger::entry_dir_name(done.seq),
            dir.display()
        )?;
    }
    for w in &results.run.unverified {
        writeln!(
            err,
            "warning: unverified evidence: {}",
            crate::redact::text(w)
        )?;
    }
    writeln!(err, "{manifest_note}")?;
    for n in &results.run.notes {
        writeln!(err, "warning: {}", crate::redact::text(n))?;
    }
    if let Some(age) = results.run.evidence_age.as_ref().filter(|a| a.stale) {
        writeln!(
            err,
            "warning: the evidence is {} h old (collected {}; thresholds.max_evidence_age_hours = {}): the verdicts describe the tenant as it was then; collect again for a current picture",
            age.hours, results.run.collected_at, age.threshold_hours
        )?;
    }
    summarise(&results, &formats, a.all, &a.compliance, &files, out)?;
    let unassessed = a.fail_on_unassessed.offenders(&results);
    if !unassessed.is_empty() {
        let ids: Vec<&str> = unassessed.iter().map(|c| c.id.as_str()).collect();
        writeln!(
            out,
            "not assessed: {} {} could not be assessed ({}); exit 1 because --fail-on-unassessed is {} (a go-live gate cannot be green on evidence that was not read)",
            ids.len(),
            match a.fail_on_unassessed {
                FailOnUnassessed::Blocking => "blocking check(s)",
                _ => "check(s)",
            },
            ids.join(", "),
            match a.fail_on_unassessed {
                FailOnUnassessed::Blocking => "blocking",
                FailOnUnassessed::Any => "any",
                FailOnUnassessed::None => "none",
            }
        )?;
    }
    Ok(
        if results.fails_at(opts.fail_on) || !unassessed.is_empty() {
            1
        } else {
            0
        },
    )
}

/// Writes an output set through `fill` into a fresh staging directory beside `target` and
/// swaps it in whole; returns the written paths as they are after the swap. On any failure the
/// previous output is untouched and the error says so.
pub(crate) fn write_output(
    target: &Path,
    previous: Target,
    fill: impl FnOnce(&Path) -> Result<Vec<PathBuf>>,
) -> Result<Vec<PathBuf>> {
    let staging = Staging::new(target, ".siemproof-report-")
        .with_context(|| files::unchanged_note(target, previous))?;
    let dir = staging.path().to_path_buf();
    let written = fill(&dir).with_context(|| files::unchanged_note(target, previous))?;
    staging
        .commit(target)
        .with_context(|| files::unchanged_note(target, previous))?;
    Ok(written
        .into_iter()
        .map(|p| target.join(p.strip_prefix(&dir).unwrap_or(&p)))
        .collect())
}

pub(crate) fn report_cmd(a: &ReportArgs, out: &mut dyn Write) -> Result<u8> {
    let formats = report::parse_formats(&a.format)?;
    let previous = files::check_target(&a.out, OutputKind::Report, false, "--out")?;
    if previous == Target::Previous && a.out.join(crate::sign::sums::SUMS).exists() {
        bail!(
            "--out {}: is a signed report; adding files would leave them outside the signature (nothing was changed); render into another directory",
            a.out.display()
        );
    }
    let results = Results::load(&a.results)?;
    let catalog = Catalog::load(&[])?;
    if !formats.iter().any(|f| !report::files_of(f).is_empty()) {
        // `--format table` only: nothing to write, and --out is left as it is.
        summarise(&results, &formats, a.all, &a.compliance, &[], out)?;
        return Ok(0);
    }
    let files = write_output(&a.out, previous, |dir| {
        // Re-rendering keeps the earlier report's other files (e.g. results.json beside it).
        if previous == Target::Previous {
            copy_tree(&a.out, dir)?;
        }
        report::write_all(
            &results,
            dir,
            &formats,
            a.templates.as_deref(),
            &catalog.steps,
            &with_compliance(&[], &results, &a.compliance),
        )
    })?;
    summarise(&results, &formats, a.all, &a.compliance, &files, out)?;
    Ok(0)
}

/// The extra output files plus `compliance.md` for the frameworks `--compliance` names.
fn with_compliance(
    extra: &[(String, Vec<u8>)],
    results: &Results,
    frameworks: &[crate::report::compliance::Framework],
) -> Vec<(String, Vec<u8>)> {
    let mut v = extra.to_vec();
    if !frameworks.is_empty() {
        let mut fws = frameworks.to_vec();
        fws.sort();
        fws.dedup();
        v.push((
            "compliance.md".into(),
            crate::report::compliance::markdown(results, &fws).into_bytes(),
        ));
    }
    v
}

/// Copies the regular files below `from` into `to` (fsynced), refusing anything irregular.
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    let w = crate::sign::sums::walk(from)?;
    if let Some(bad) = w.irregular.first() {
        bail!(
            "{}: is a symbolic link or special file; refusing",
            from.join(bad).display()
        );
    }
    for rel in w.files {
        let bytes = files::read_bounded(&from.join(&rel))?;
        files::write_synced(&to.join(&rel), &bytes)?;
    }
    Ok(())
}
