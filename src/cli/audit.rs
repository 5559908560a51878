//! `init`, `audit`, `report` and `diff`: writing a config, auditing a bundle, re-rendering and
//! comparing results.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};

use crate::audit::{self, AuditOptions};
use crate::catalog::{Catalog, Severity};
use crate::report;
use crate::results::Results;

use super::signing::{clear_signed_output, load_signing_key};
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

#[derive(Clone, Copy, ValueEnum)]
pub enum FailOn {
    Critical,
    High,
    Medium,
    Low,
    Info,
    Never,
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
    /// Comma-separated formats: table, json, html, md, junit, sarif, oscal, jsonl, csv
    #[arg(long, default_value = "table,json,html,md")]
    pub format: String,
    /// The audit clock for expiry and freshness (RFC 3339 or YYYY-MM-DD; default: the bundle's
    /// collected_at, so the same bundle gives the same verdicts on any day; never earlier)
    #[arg(long, env = "SIEMPROOF_AS_OF")]
    pub as_of: Option<String>,
    /// Exit 1 when a check at or above this severity fails
    #[arg(long, value_enum, default_value = "low")]
    pub fail_on: FailOn,
    /// Extra check directories (same layout as checks/)
    #[arg(long)]
    pub checks: Vec<PathBuf>,
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
}

#[derive(Args)]
pub struct ReportArgs {
    /// A results.json written by `siemproof audit`
    pub results: PathBuf,
    #[arg(long, short, default_value = "siemproof-report")]
    pub out: PathBuf,
    /// Comma-separated formats: table, json, html, md, junit, sarif, oscal, jsonl, csv
    #[arg(long, default_value = "html,md")]
    pub format: String,
    #[arg(long)]
    pub templates: Option<PathBuf>,
    #[arg(long)]
    pub all: bool,
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
    #[arg(long, value_enum, default_value = "text")]
    pub format: DiffFormat,
}

/// A results.json path, or a report directory that holds one.
fn results_path(p: &Path) -> PathBuf {
    if p.is_dir() {
        p.join("results.json")
    } else {
        p.to_path_buf()
    }
}

/// `diff`: exit 1 on regressions (a check got worse, or a failing finding is new), so a
/// scheduled run can alert on drift.
pub(crate) fn diff_cmd(a: &DiffArgs, out: &mut dyn Write) -> Result<u8> {
    let old = Results::load(&results_path(&a.old))?;
    let new = Results::load(&results_path(&a.new))?;
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
    let mut formats = report::parse_formats(&a.format)?;
    if a.sign.is_some() && !formats.iter().any(|f| f == "json") {
        // The signature binds the run named in results.json, so a signed output always has it.
        formats.push("json".into());
    }
    let catalog = Catalog::load(&a.checks)?;
    let opts = AuditOptions {
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
    };
    // Load (and decrypt) the key before the audit, so a wrong password costs nothing.
    let signing_key = match &a.sign {
        Some(k) => Some(load_signing_key(k)?),
        None => None,
    };
    let (results, _model) = audit::audit(&opts, &catalog)?;
    let evidence = match &signing_key {
        Some(_) => crate::sign::bundle_files(&a.bundle)?,
        None => Vec::new(),
    };
    if signing_key.is_some() {
        // A previous run's files would otherwise be signed as part of this one.
        clear_signed_output(&a.out)?;
    }
    let mut files = report::write_all(
        &results,
        &a.out,
        &formats,
        a.templates.as_deref(),
        &catalog.steps,
        &evidence,
    )?;
    files.retain(|f| !f.starts_with(a.out.join(crate::sign::EVIDENCE_DIR)));
    if let Some(sk) = &signing_key {
        let signed = crate::sign::sign_dir(&a.out, sk)?;
        files.push(signed.sums);
        files.push(signed.signature);
    }
    for w in &results.run.unverified {
        eprintln!("warning: unverified evidence: {w}");
    }
    for n in &results.run.notes {
        eprintln!("warning: {n}");
    }
    if let Some(age) = results.run.evidence_age.as_ref().filter(|a| a.stale) {
        eprintln!(
            "warning: the evidence is {} h old (collected {}; thresholds.max_evidence_age_hours = {}): the verdicts describe the tenant as it was then; collect again for a current picture",
            age.hours, results.run.collected_at, age.threshold_hours
        );
    }
    summarise(&results, &formats, a.all, &files, out)?;
    Ok(if results.fails_at(opts.fail_on) { 1 } else { 0 })
}

pub(crate) fn report_cmd(a: &ReportArgs, out: &mut dyn Write) -> Result<u8> {
    let formats = report::parse_formats(&a.format)?;
    let results = Results::load(&a.results)?;
    let catalog = Catalog::load(&[])?;
    let files = report::write_all(
        &results,
        &a.out,
        &formats,
        a.templates.as_deref(),
        &catalog.steps,
        &[],
    )?;
    summarise(&results, &formats, a.all, &files, out)?;
    Ok(0)
}
