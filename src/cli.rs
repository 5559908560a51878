//! The command line: clap definitions and the dispatch to each command.
//!
//! Output goes through explicit writers; errors bubble up as `anyhow` and become exit code 2 in
//! `main`, failing findings at or above `--fail-on` become exit code 1.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::audit::{self, AuditOptions};
use crate::catalog::{Catalog, Severity};
use crate::report;
use crate::results::Results;

#[derive(Parser)]
#[command(
    name = "siemproof",
    version,
    about = "Proves, with signed evidence, that Microsoft 365 / Azure security logs really reach your SIEM",
    long_about = "siemproof audits the pipeline from Microsoft 365 and Azure to your SIEM (IBM QRadar, Splunk, Elastic): \
Entra diagnostic settings, Event Hub namespace, hub, consumer group and SAS policies, checkpoint storage, \
the SIEM's app registration, Management Activity API subscriptions, network reachability and log-type coverage.\n\n\
Try it on the built-in demo tenant:  siemproof audit fixtures/tenants/contoso-demo",
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Write a siemproof.toml with the integration guide's example names
    Init(InitArgs),
    /// Print the permissions the collector needs, per evidence kind
    Permissions,
    /// Collect an evidence bundle from the tenant, read-only (GET only)
    Collect(CollectArgs),
    /// Probe network reachability from this (SIEM collector) host into an evidence bundle
    Probe(crate::probe::command::ProbeArgs),
    /// Audit an evidence bundle offline: results.json plus reports (the main job)
    Audit(AuditArgs),
    /// Re-render reports from a saved results.json
    Report(ReportArgs),
    /// List the check catalogue
    Checks(ChecksArgs),
    /// Explain one check: why it matters, how to fix it, what it reads
    Explain(ExplainArgs),
    /// Run check fixtures (the project's own, or yours with --checks/--fixtures)
    Test(TestArgs),
    /// Write an attestation for a check no API can read (attestations/<ID>.toml)
    Attest(AttestArgs),
    /// Generate a minisign key pair for signing reports (PREFIX.key, PREFIX.pub)
    Keygen(KeygenArgs),
    /// Sign a report directory: SHA256SUMS over every file, SHA256SUMS.minisig beside it
    Sign(SignArgs),
    /// Verify a signed report directory or archive (checksums, signature, binding)
    Verify(VerifyArgs),
    /// Write one .tar.gz with evidence, results, reports, SHA256SUMS and signature
    Export(ExportArgs),
}

#[derive(Args)]
pub struct CollectArgs {
    /// The deployment config (tenant, cloud, Event Hub, storage, SIEM apps)
    #[arg(long, default_value = "siemproof.toml")]
    pub config: PathBuf,
    /// Where to write the evidence bundle (a directory, replaced atomically)
    #[arg(long, short, default_value = "evidence")]
    pub out: PathBuf,
    /// Credential type (environment variables as the Azure SDKs name them)
    #[arg(long, value_enum, default_value = "default")]
    pub auth: crate::collect::auth::AuthKind,
    /// Extra CA certificate (PEM) to trust, e.g. a TLS-intercepting proxy
    #[arg(long)]
    pub ca_bundle: Option<PathBuf>,
    /// Log each request: method, URL (query values redacted), status, milliseconds
    #[arg(long, short)]
    pub verbose: bool,
    /// Requests in flight at most (1 = sequential)
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Pages followed per list at most
    #[arg(long, default_value_t = 1000)]
    pub page_limit: u32,
    /// Read only the configured Event Hub namespace, not every namespace in its resource group
    #[arg(long)]
    pub only_configured_namespace: bool,
    /// Retries per request after the first attempt
    #[arg(long, default_value_t = 6)]
    pub max_retries: u32,
    /// Seconds one request may take including its retries and throttling waits
    #[arg(long, default_value_t = 180)]
    pub deadline: u64,
    /// Seconds one HTTP attempt may take
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
}

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
    /// The audit clock for expiry and freshness (RFC 3339 or YYYY-MM-DD; default now)
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
pub struct KeygenArgs {
    /// Writes PREFIX.key (secret) and PREFIX.pub (public)
    #[arg(long, value_name = "PREFIX")]
    pub out: PathBuf,
    /// Do not encrypt the secret key (for CI keys held in a secret store)
    #[arg(long)]
    pub unencrypted: bool,
    /// Overwrite existing key files
    #[arg(long)]
    pub force: bool,
}

#[derive(Args)]
pub struct SignArgs {
    /// A report directory written by `siemproof audit` (results.json and reports)
    pub dir: PathBuf,
    /// minisign secret key file (default: the contents of SIEMPROOF_SIGNING_KEY)
    #[arg(long)]
    pub key: Option<PathBuf>,
    /// Copy this evidence bundle into DIR/evidence first (needed unless DIR already has it)
    #[arg(long)]
    pub bundle: Option<PathBuf>,
}

#[derive(Args)]
pub struct VerifyArgs {
    /// A signed report directory, or a .tar.gz written by `siemproof export`
    pub path: PathBuf,
    /// The signer's minisign public key
    #[arg(long)]
    pub pubkey: PathBuf,
}

#[derive(Args)]
pub struct ExportArgs {
    /// A report directory written by `siemproof audit`
    pub results_dir: PathBuf,
    /// The evidence bundle (omit when the directory already holds a signed evidence/ copy)
    pub bundle: Option<PathBuf>,
    /// The archive to write
    #[arg(long, value_name = "FILE.tar.gz")]
    pub out: PathBuf,
    /// Sign the archived copy with this minisign secret key; `-` reads SIEMPROOF_SIGNING_KEY
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
pub enum ListFormat {
    Table,
    Md,
    Json,
}

#[derive(Args)]
pub struct ChecksArgs {
    #[arg(long, value_enum, default_value = "table")]
    pub format: ListFormat,
    #[arg(long)]
    pub checks: Vec<PathBuf>,
}

#[derive(Args)]
pub struct ExplainArgs {
    /// Check id (or alias)
    pub id: String,
    #[arg(long)]
    pub checks: Vec<PathBuf>,
}

#[derive(Args)]
pub struct TestArgs {
    /// Extra check directories to load (your own checks)
    #[arg(long)]
    pub checks: Vec<PathBuf>,
    /// Fixture directory: <ID>/<status>-<case>.json
    #[arg(long, default_value = "fixtures/checks")]
    pub fixtures: PathBuf,
    /// Only this check
    #[arg(long)]
    pub only: Option<String>,
}

#[derive(Args)]
pub struct AttestArgs {
    /// The manual check the statement satisfies (e.g. DEF-STREAMING-API)
    #[arg(long, required_unless_present = "id")]
    pub check: Option<String>,
    /// The same, given positionally (`siemproof attest DEF-STREAMING-API ...`)
    #[arg(value_name = "ID", conflicts_with = "check")]
    pub id: Option<String>,
    /// What the attester saw, in one sentence
    #[arg(long)]
    pub statement: String,
    /// Who attests (name or e-mail)
    #[arg(long)]
    pub by: String,
    /// Last day the attestation is in force (YYYY-MM-DD)
    #[arg(long)]
    pub expires: chrono::NaiveDate,
    /// Day the setting was seen (YYYY-MM-DD; default today, UTC)
    #[arg(long)]
    pub date: Option<chrono::NaiveDate>,
    /// Change or ticket reference
    #[arg(long)]
    pub ticket: Option<String>,
    /// A screenshot or export kept with the evidence; its SHA-256 is recorded
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// Directory to write <ID>.toml into
    #[arg(long, default_value = "attestations")]
    pub out: PathBuf,
    /// Overwrite an existing attestation for the check
    #[arg(long)]
    pub force: bool,
    /// Extra check directories (to attest your own manual checks)
    #[arg(long)]
    pub checks: Vec<PathBuf>,
}

/// Runs the command; returns the process exit code for non-error outcomes.
pub fn run(cli: Cli) -> Result<u8> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match cli.command {
        Command::Init(a) => init(&a, &mut out),
        Command::Audit(a) => audit_cmd(&a, &mut out),
        Command::Report(a) => report_cmd(&a, &mut out),
        Command::Checks(a) => checks_cmd(&a, &mut out),
        Command::Explain(a) => explain_cmd(&a, &mut out),
        Command::Test(a) => test_cmd(&a, &mut out),
        Command::Attest(a) => attest_cmd(&a, &mut out),
        Command::Keygen(a) => keygen_cmd(&a, &mut out),
        Command::Sign(a) => sign_cmd(&a, &mut out),
        Command::Verify(a) => verify_cmd(&a, &mut out),
        Command::Export(a) => export_cmd(&a, &mut out),
        Command::Probe(a) => probe_cmd(&a, &mut out),
        Command::Collect(a) => collect_cmd(&a, &mut out),
        Command::Permissions => {
            write!(out, "{}", crate::collect::permissions_text())?;
            Ok(0)
        }
    }
}

fn init(a: &InitArgs, out: &mut dyn Write) -> Result<u8> {
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

fn as_of(s: &Option<String>) -> Result<chrono::DateTime<chrono::Utc>> {
    match s {
        Some(s) => audit::parse_as_of(s),
        None => Ok(chrono::Utc::now()),
    }
}

fn print_table(results: &Results, all: bool, out: &mut dyn Write) -> Result<()> {
    let tty = std::io::stdout().is_terminal();
    // On a terminal comfy-table measures it; otherwise (CI logs, pipes) use COLUMNS or 160.
    let width = if tty {
        None
    } else {
        Some(
            std::env::var("COLUMNS")
                .ok()
                .and_then(|c| c.parse().ok())
                .unwrap_or(160),
        )
    };
    write!(
        out,
        "{}",
        report::table::render(results, all, report::table::use_colour(tty), width)
    )?;
    Ok(())
}

fn audit_cmd(a: &AuditArgs, out: &mut dyn Write) -> Result<u8> {
    let mut formats = report::parse_formats(&a.format)?;
    if a.sign.is_some() && !formats.iter().any(|f| f == "json") {
        // The signature binds the run named in results.json, so a signed output always has it.
        formats.push("json".into());
    }
    let catalog = Catalog::load(&a.checks)?;
    let opts = AuditOptions {
        bundle: a.bundle.clone(),
        config: a.config.clone(),
        as_of: as_of(&a.as_of)?,
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
    summarise(&results, &formats, a.all, &files, out)?;
    Ok(if results.fails_at(opts.fail_on) { 1 } else { 0 })
}

fn report_cmd(a: &ReportArgs, out: &mut dyn Write) -> Result<u8> {
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

/// The terminal table (when asked for) and the list of files written.
fn summarise(
    results: &Results,
    formats: &[String],
    all: bool,
    files: &[PathBuf],
    out: &mut dyn Write,
) -> Result<()> {
    if formats.iter().any(|f| f == "table") {
        print_table(results, all, out)?;
    }
    if !files.is_empty() {
        let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
        writeln!(out, "wrote {}", names.join(", "))?;
    }
    Ok(())
}

/// `--sign KEY` / `--key KEY`: a file, or `-` for SIEMPROOF_SIGNING_KEY.
fn load_signing_key(k: &Path) -> Result<minisign::SecretKey> {
    if k == Path::new("-") {
        crate::sign::keys::load_secret(None)
    } else {
        crate::sign::keys::load_secret(Some(k))
    }
}

/// Removes what a signed output owns (the evidence copy and the signature files) before a new
/// audit writes into the same directory; reports are replaced file by file anyway.
fn clear_signed_output(out: &Path) -> Result<()> {
    let ev = out.join(crate::sign::EVIDENCE_DIR);
    if ev.is_dir() {
        std::fs::remove_dir_all(&ev)
            .with_context(|| format!("{}: cannot replace", ev.display()))?;
    }
    for f in [crate::sign::sums::SUMS, crate::sign::sums::SIG] {
        let p = out.join(f);
        if p.exists() {
            std::fs::remove_file(&p).with_context(|| format!("{}: cannot replace", p.display()))?;
        }
    }
    Ok(())
}

fn keygen_cmd(a: &KeygenArgs, out: &mut dyn Write) -> Result<u8> {
    let g = crate::sign::keys::keygen(&a.out, a.unencrypted, a.force)?;
    writeln!(
        out,
        "wrote {} (secret, keep it private{}) and {} (public, give it to auditors); key id {}",
        g.secret.display(),
        if a.unencrypted { ", NOT encrypted" } else { "" },
        g.public.display(),
        g.key_id
    )?;
    Ok(0)
}

fn sign_cmd(a: &SignArgs, out: &mut dyn Write) -> Result<u8> {
    let sk = match &a.key {
        Some(k) => load_signing_key(k)?,
        None => crate::sign::keys::load_secret(None)?,
    };
    if let Some(b) = &a.bundle {
        crate::sign::copy_bundle_into(b, &a.dir)?;
    }
    let s = crate::sign::sign_dir(&a.dir, &sk)?;
    writeln!(
        out,
        "signed {} files: wrote {} and {} (key {}, run {})",
        s.files,
        s.sums.display(),
        s.signature.display(),
        s.key_id,
        s.binding.run_id
    )?;
    Ok(0)
}

fn verify_cmd(a: &VerifyArgs, out: &mut dyn Write) -> Result<u8> {
    let r = crate::sign::verify::verify_path(&a.path, &a.pubkey)?;
    for p in &r.problems {
        writeln!(out, "FAIL {p}")?;
    }
    if r.ok() {
        let b = r.binding.as_ref().expect("a verified output has a binding");
        writeln!(
            out,
            "OK {}: {} files match SHA256SUMS, signature by key {} verifies, run {} bound to evidence manifest {}",
            a.path.display(),
            r.checked,
            r.key_id.as_deref().unwrap_or("?"),
            b.run_id,
            b.evidence_manifest_sha256
        )?;
        Ok(0)
    } else {
        writeln!(
            out,
            "NOT VERIFIED {}: {} problem(s)",
            a.path.display(),
            r.problems.len()
        )?;
        Ok(1)
    }
}

fn export_cmd(a: &ExportArgs, out: &mut dyn Write) -> Result<u8> {
    let sk = match &a.sign {
        Some(k) => Some(load_signing_key(k)?),
        None => None,
    };
    let e = crate::sign::archive::export(&a.results_dir, a.bundle.as_deref(), sk.as_ref(), &a.out)?;
    writeln!(
        out,
        "wrote {} ({} files under {}/{})",
        e.archive.display(),
        e.files,
        e.top,
        if e.signed_now { ", signed now" } else { "" }
    )?;
    Ok(0)
}

/// `docs/checks.md`: generated from the catalogue, kept current by a test.
pub fn checks_markdown(catalog: &Catalog) -> String {
    let mut s = String::from(
        "# Check catalogue\n\n<!-- Generated by `siemproof checks --format md`; do not edit by hand. -->\n\n",
    );
    s.push_str(&format!(
        "{} checks, catalogue version {}.\n\n",
        catalog.checks.len(),
        crate::catalog::CATALOGUE_VERSION
    ));
    s.push_str("| ID | Family | Severity | Go-live | Requirement | Evidence |\n|---|---|---|---|---|---|\n");
    for c in &catalog.checks {
        let k = &c.check;
        s.push_str(&format!(
            "| [{id}](#{anchor}) | {} | {} | {} | {} | {} |\n",
            k.family,
            k.severity.as_str(),
            if k.go_live == crate::catalog::GoLive::Blocking {
                "blocking"
            } else {
                "advisory"
            },
            k.title.replace('|', "\\|"),
            if k.manual && k.evidence.is_empty() {
                "attestation".to_string()
            } else {
                k.evidence.join(", ")
            },
            id = k.id,
            anchor = k.id.to_ascii_lowercase()
        ));
    }
    for c in &catalog.checks {
        let k = &c.check;
        s.push_str(&format!("\n## {}\n\n**{}**\n\n", k.id, k.title));
        s.push_str(&format!(
            "Family `{}` · severity `{}` · {} · since {}{}\n\n",
            k.family,
            k.severity.as_str(),
            if k.go_live == crate::catalog::GoLive::Blocking {
                "blocks go-live"
            } else {
                "advisory"
            },
            k.since,
            if k.manual {
                " · needs an attestation where no API can read it"
            } else {
                ""
            }
        ));
        s.push_str(&format!(
            "**Why.** {}\n\n**Fix.** {}\n\n",
            k.doc.why.trim(),
            k.doc.fix.trim()
        ));
        let fw = k.frameworks.pairs();
        if !fw.is_empty() {
            s.push_str("**Controls.** ");
            s.push_str(
                &fw.iter()
                    .map(|(f, id)| format!("{f} {id}"))
                    .collect::<Vec<_>>()
                    .join(" · "),
            );
            s.push_str("\n\n");
        }
        s.push_str("**References.**\n");
        for r in &k.references {
            s.push_str(&format!("- {r}\n"));
        }
    }
    s
}

fn checks_cmd(a: &ChecksArgs, out: &mut dyn Write) -> Result<u8> {
    let catalog = Catalog::load(&a.checks)?;
    match a.format {
        ListFormat::Md => write!(out, "{}", checks_markdown(&catalog))?,
        ListFormat::Json => {
            let v: Vec<_> = catalog.checks.iter().map(|c| &c.check).collect();
            writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        }
        ListFormat::Table => {
            let mut t = comfy_table::Table::new();
            t.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
            t.force_no_tty();
            t.set_header(vec!["ID", "Family", "Severity", "Go-live", "Requirement"]);
            for c in &catalog.checks {
                let k = &c.check;
                t.add_row(vec![
                    k.id.clone(),
                    k.family.clone(),
                    k.severity.as_str().into(),
                    if k.go_live == crate::catalog::GoLive::Blocking {
                        "blocking".into()
                    } else {
                        "advisory".to_string()
                    },
                    k.title.clone(),
                ]);
            }
            writeln!(out, "{t}\n{} checks", catalog.checks.len())?;
        }
    }
    Ok(0)
}

fn explain_cmd(a: &ExplainArgs, out: &mut dyn Write) -> Result<u8> {
    let catalog = Catalog::load(&a.checks)?;
    let Some(lc) = catalog.find(&a.id) else {
        bail!("no check {:?}; `siemproof checks` lists them", a.id);
    };
    let k = &lc.check;
    writeln!(out, "{}  {}\n", k.id, k.title)?;
    writeln!(
        out,
        "family {} · severity {} · {} · since {} · {}",
        k.family,
        k.severity.as_str(),
        if k.go_live == crate::catalog::GoLive::Blocking {
            "blocks go-live"
        } else {
            "advisory"
        },
        k.since,
        lc.source
    )?;
    writeln!(
        out,
        "\nWhy\n  {}\n\nFix\n  {}",
        k.doc.why.trim().replace('\n', "\n  "),
        k.doc.fix.trim().replace('\n', "\n  ")
    )?;
    if let Some(na) = &k.doc.not_assessed {
        writeln!(out, "\nWhen not assessed\n  {}", na.trim())?;
    }
    writeln!(out, "\nEvidence")?;
    for e in &k.evidence {
        let kd = crate::evidence::kinds::kind(e);
        writeln!(out, "  {e}: {}", kd.map(|k| k.permission).unwrap_or("-"))?;
    }
    writeln!(out, "\nLogic")?;
    for (key, v) in [
        ("applies", &k.applies),
        ("each", &k.each),
        ("name", &k.name),
        ("assert", &k.assert),
        ("warn", &k.warn),
        ("observed", &k.observed),
    ] {
        if let Some(v) = v {
            writeln!(out, "  {key:8} {v}")?;
        }
    }
    writeln!(out, "\nControls")?;
    for (f, id) in k.frameworks.pairs() {
        writeln!(out, "  {f} {id}")?;
    }
    writeln!(out, "\nReferences")?;
    for r in &k.references {
        writeln!(out, "  {r}")?;
    }
    Ok(0)
}

fn probe_cmd(a: &crate::probe::command::ProbeArgs, out: &mut dyn Write) -> Result<u8> {
    crate::probe::command::run(a, out)
}

fn test_cmd(a: &TestArgs, out: &mut dyn Write) -> Result<u8> {
    let catalog = Catalog::load(&a.checks)?;
    let cases = crate::selftest::run_all(&catalog, &a.fixtures, a.only.as_deref())?;
    let mut failed = 0;
    for c in &cases {
        if c.ok() {
            writeln!(out, "ok    {} {}", c.check, c.fixture)?;
        } else {
            failed += 1;
            writeln!(
                out,
                "FAIL  {} {}: expected {}, got {}{}",
                c.check,
                c.fixture,
                c.expected.as_str(),
                c.actual.as_str(),
                c.reason
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            )?;
        }
    }
    writeln!(out, "{} passed, {} failed", cases.len() - failed, failed)?;
    Ok(if failed > 0 { 1 } else { 0 })
}

fn collect_cmd(a: &CollectArgs, out: &mut dyn Write) -> Result<u8> {
    let mut opts = crate::collect::CollectOptions::new(a.config.clone(), a.out.clone());
    opts.auth = a.auth;
    opts.ca_bundle = a.ca_bundle.clone();
    opts.verbose = a.verbose;
    opts.progress = std::io::stderr().is_terminal() && !a.verbose;
    opts.concurrency = a.concurrency.max(1);
    opts.page_limit = a.page_limit.max(1);
    opts.only_configured_namespace = a.only_configured_namespace;
    opts.retry.max_retries = a.max_retries;
    opts.retry.deadline = std::time::Duration::from_secs(a.deadline.max(1));
    opts.request_timeout = std::time::Duration::from_secs(a.timeout.max(1));
    let s = crate::collect::collect(&opts)?;
    writeln!(
        out,
        "wrote {} ({} items, {} requests, {} retries, {} throttling waits, {:.1}s)",
        s.bundle.display(),
        s.items,
        s.requests,
        s.retries,
        s.throttle_waits,
        s.elapsed.as_secs_f64()
    )?;
    if !s.failures.is_empty() {
        writeln!(
            out,
            "partial collection: {} requests failed; checks that read them will be not_assessed:",
            s.failures.len()
        )?;
        for f in &s.failures {
            writeln!(out, "  {f}")?;
        }
    }
    Ok(0)
}

/// `siemproof attest`: writes `<out>/<ID>.toml` for a manual check, atomically, and reads it back
/// through the same parser `audit` uses so a written file is always a loadable one.
fn attest_cmd(a: &AttestArgs, out: &mut dyn Write) -> Result<u8> {
    use crate::attest::{Attestation, Reference};
    use sha2::{Digest, Sha256};

    let catalog = Catalog::load(&a.checks)?;
    let wanted = a.check.as_deref().or(a.id.as_deref()).unwrap_or_default();
    let Some(lc) = catalog.find(wanted) else {
        bail!("--check {wanted:?}: no such check; `siemproof checks` lists them");
    };
    let id = lc.check.id.clone();
    if !lc.check.manual {
        bail!("--check {id}: the check is automated (not manual); attestations only satisfy manual checks");
    }
    for (flag, v) in [("--statement", &a.statement), ("--by", &a.by)] {
        if v.trim().is_empty() {
            bail!("{flag}: must not be empty");
        }
    }
    let date = a.date.unwrap_or_else(|| chrono::Utc::now().date_naive());
    if a.expires < date {
        bail!(
            "--expires {}: before the attestation date {date}",
            a.expires
        );
    }
    let file = match &a.file {
        None => None,
        Some(p) => {
            let bytes =
                std::fs::read(p).with_context(|| format!("--file {}: cannot read", p.display()))?;
            Some((p.display().to_string(), hex::encode(Sha256::digest(&bytes))))
        }
    };
    let reference = (a.ticket.is_some() || file.is_some()).then(|| Reference {
        ticket: a.ticket.clone(),
        file: file.as_ref().map(|f| f.0.clone()),
        sha256: file.as_ref().map(|f| f.1.clone()),
    });
    let att = Attestation {
        check: id.clone(),
        statement: a.statement.trim().to_string(),
        attested_by: a.by.trim().to_string(),
        date,
        expires: a.expires,
        reference,
        source: None,
        valid: false,
    };
    let text = format!(
        "# Attestation for {id}: {}\n# Written by `siemproof attest`; keep it with the evidence bundle (attestations/).\n{}",
        lc.check.title,
        att.to_toml()
    );
    let target = a.out.join(format!("{id}.toml"));
    Attestation::parse(&text, &target.display().to_string(), date)
        .context("the attestation would not load back")?;
    if target.exists() && !a.force {
        bail!(
            "{}: already exists (use --force to overwrite)",
            target.display()
        );
    }
    std::fs::create_dir_all(&a.out)
        .with_context(|| format!("{}: cannot create", a.out.display()))?;
    let mut tmp = tempfile::NamedTempFile::new_in(&a.out)
        .with_context(|| format!("{}: cannot write", a.out.display()))?;
    tmp.write_all(text.as_bytes())?;
    tmp.persist(&target)
        .with_context(|| format!("{}: cannot write", target.display()))?;
    writeln!(
        out,
        "wrote {} ({id}, by {}, {date} until {})",
        target.display(),
        att.attested_by,
        att.expires
    )?;
    Ok(0)
}
