//! `siemproof fleet`: `audit` every tenant of a fleet file (or one shard of it) into the
//! fleet's state, `report` the portfolio over that state (or over its shards' states), and
//! `list` which tenants a shard holds.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};

use super::audit::{write_output, FailOn, FailOnUnassessed};
use crate::files::{self, OutputKind};
use crate::fleet::{portfolio, run, Fleet, Shard};

#[derive(Args)]
pub struct FleetArgs {
    #[command(subcommand)]
    pub command: FleetCommand,
}

#[derive(Subcommand)]
pub enum FleetCommand {
    /// Collect every tenant (or one shard's) into STATE/<slug>/evidence, read-only, each with
    /// its own credential under one shared rate-limit pacer
    Collect(FleetCollectArgs),
    /// Audit every tenant's bundle (or one shard's) into STATE/<slug>/run, on every core
    Audit(FleetAuditArgs),
    /// Render the portfolio over the fleet's state, or over its shards' states
    Report(FleetReportArgs),
    /// List the tenants of the fleet (or of one shard), with their bundles
    List(FleetListArgs),
}

#[derive(Args)]
pub struct ShardArgs {
    /// The fleet's state directory (default: `fleet.state` in the fleet file)
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,
    /// Only this stable slice of the fleet: I/N (0-based), or k8s/N in a Kubernetes Indexed
    /// Job (I from JOB_COMPLETION_INDEX); its state is STATE/shard-I-of-N
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
}

#[derive(Args)]
pub struct FleetCollectArgs {
    /// The fleet file (fleet.toml; see docs/fleet.md)
    pub fleet: PathBuf,
    #[command(flatten)]
    pub where_: ShardArgs,
    /// Keep every tenant whose last collection (same config, same credential entry, same
    /// siemproof) got an answer; collect the rest
    #[arg(long)]
    pub resume: bool,
    /// Requests in flight per tenant
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
    /// Tenants collected at once (default: `fleet.tenants_at_once`, else one per core)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub tenants_at_once: Option<u64>,
    /// Requests in flight to Microsoft over all tenants at once (default:
    /// `fleet.requests_in_flight`, else only each tenant's --concurrency)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub requests_in_flight: Option<u64>,
    /// Sign each tenant's manifest with this minisign secret key; `-` reads
    /// SIEMPROOF_SIGNING_KEY
    #[arg(long, value_name = "KEY")]
    pub sign: Option<PathBuf>,
    /// A tenant exits 3 when fewer than this percentage of its requests got an answer
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub min_answered: u8,
    /// Give up on one request (all its retries) after this many seconds
    #[arg(long, default_value_t = 120)]
    pub deadline: u64,
    /// Timeout of one HTTP request, in seconds
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
    /// Exit 0 once every tenant's outcome is in the state (see `fleet audit --exit-zero`)
    #[arg(long)]
    pub exit_zero: bool,
    /// The collection clock (RFC 3339), for reproducible test runs
    #[arg(long, env = "SIEMPROOF_COLLECT_CLOCK", hide = true)]
    pub clock: Option<String>,
}

#[derive(Args)]
pub struct FleetAuditArgs {
    /// The fleet file (fleet.toml; see docs/fleet.md)
    pub fleet: PathBuf,
    #[command(flatten)]
    pub where_: ShardArgs,
    /// Keep every tenant whose last audit had the same inputs (fleet entry, config, bundle
    /// manifest, options, siemproof version); audit the rest
    #[arg(long)]
    pub resume: bool,
    /// Comma-separated formats of each tenant's run (as `siemproof audit --format`; json is
    /// always written, the portfolio reads it)
    #[arg(long, default_value = "json,html,md")]
    pub format: String,
    /// The audit clock for every tenant (RFC 3339 or YYYY-MM-DD; default: each bundle's
    /// collected_at)
    #[arg(long, env = "SIEMPROOF_AS_OF")]
    pub as_of: Option<String>,
    /// A tenant exits 1 when a check at or above this severity fails
    #[arg(long, value_enum, default_value = "low")]
    pub fail_on: FailOn,
    /// A tenant exits 1 when these checks could not be assessed
    #[arg(long, value_enum, default_value = "blocking")]
    pub fail_on_unassessed: FailOnUnassessed,
    /// Tenants audited at once (default: `fleet.tenants_at_once`, else one per core)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub tenants_at_once: Option<u64>,
    /// Sign each tenant's run with this minisign secret key (`-`: SIEMPROOF_SIGNING_KEY; an
    /// encrypted key needs SIEMPROOF_SIGNING_PASSWORD) and append it to the tenant's `ledger`,
    /// when its fleet entry names one
    #[arg(long, value_name = "KEY")]
    pub sign: Option<PathBuf>,
    /// Exit 0 once every tenant's verdict is in the state, whatever the verdicts (for a
    /// scheduler's shard step: `fleet report` then exits with the worst tenant's code); an
    /// error of the fleet itself still exits 2
    #[arg(long)]
    pub exit_zero: bool,
}

#[derive(Args)]
pub struct FleetReportArgs {
    /// The fleet file (fleet.toml)
    pub fleet: PathBuf,
    /// Where to write the portfolio (a new directory, or an earlier portfolio to replace)
    #[arg(long, short, default_value = "siemproof-portfolio")]
    pub out: PathBuf,
    /// A state directory to read (repeat for each shard's); default: the fleet's state and
    /// every shard-I-of-N state inside it
    #[arg(long = "from", value_name = "STATE")]
    pub from: Vec<PathBuf>,
    /// Sign the portfolio with this minisign secret key (SHA256SUMS and SHA256SUMS.minisig);
    /// `-` reads the key from SIEMPROOF_SIGNING_KEY
    #[arg(long, value_name = "KEY")]
    pub sign: Option<PathBuf>,
    /// Override the portfolio templates (portfolio.html, portfolio.md) from this directory
    #[arg(long)]
    pub templates: Option<PathBuf>,
}

#[derive(Args)]
pub struct FleetListArgs {
    /// The fleet file (fleet.toml)
    pub fleet: PathBuf,
    #[command(flatten)]
    pub where_: ShardArgs,
}

/// The fleet's state directory for `a`, and the shard it selects.
fn state_of(fleet: &Fleet, a: &ShardArgs) -> Result<(PathBuf, PathBuf, Option<Shard>)> {
    let base = a.state.clone().unwrap_or_else(|| fleet.state.clone());
    let shard = a
        .shard
        .as_deref()
        .map(|s| Shard::parse(s, |k| std::env::var(k).ok()))
        .transpose()?;
    let state = match shard {
        Some(s) => base.join(s.dir_name()),
        None => base.clone(),
    };
    Ok((base, state, shard))
}

pub(crate) fn fleet_cmd(a: &FleetArgs, out: &mut dyn Write) -> Result<u8> {
    match &a.command {
        FleetCommand::Collect(a) => collect_cmd(a, out),
        FleetCommand::Audit(a) => audit_cmd(a, out),
        FleetCommand::Report(a) => report_cmd(a, out),
        FleetCommand::List(a) => list_cmd(a, out),
    }
}

fn list_cmd(a: &FleetListArgs, out: &mut dyn Write) -> Result<u8> {
    let fleet = Fleet::load(&a.fleet)?;
    let (_, state, shard) = state_of(&fleet, &a.where_)?;
    for t in run::select(&fleet, shard) {
        writeln!(
            out,
            "{}\t{}\t{}",
            t.slug,
            t.bundle_in(&state).display(),
            t.config
                .as_deref()
                .map(|c| c.display().to_string())
                .unwrap_or_else(|| "(config in the bundle)".into())
        )?;
    }
    Ok(0)
}

/// Runs `work` with a progress writer on stderr, then [`summarise`]s its outcomes.
fn run_and_summarise(
    verb: &str,
    tenants: &[&crate::fleet::Tenant],
    state: &Path,
    out: &mut dyn Write,
    work: impl FnOnce(&Mutex<&mut (dyn Write + Send)>) -> Result<Vec<Result<run::Outcome>>>,
) -> Result<u8> {
    let mut stderr = std::io::stderr();
    let progress: Mutex<&mut (dyn Write + Send)> = Mutex::new(&mut stderr);
    let started = std::time::Instant::now();
    let outcomes = work(&progress)?;
    summarise(verb, &outcomes, tenants, state, started.elapsed(), out)
}

/// Counts outcomes, prints the summary line and the tenants that failed; returns the worst code.
fn summarise(
    verb: &str,
    outcomes: &[Result<run::Outcome>],
    tenants: &[&crate::fleet::Tenant],
    state: &Path,
    elapsed: std::time::Duration,
    out: &mut dyn Write,
) -> Result<u8> {
    let mut codes = Vec::new();
    let (mut kept, mut errors) = (0, Vec::new());
    for (o, t) in outcomes.iter().zip(tenants) {
        match o {
            Ok(o) => {
                codes.push(o.exit);
                kept += usize::from(o.kept);
                if matches!(o.exit, 2 | 3) {
                    errors.push(format!("{} (exit {})", o.slug, o.exit));
                }
            }
            Err(e) => {
                codes.push(2);
                errors.push(format!("{} (state not written: {e:#})", t.slug));
            }
        }
    }
    let worst = run::worst(codes.iter().copied());
    let mut counts: Vec<String> = Vec::new();
    for c in [0u8, 1, 3, 2] {
        let n = codes.iter().filter(|x| **x == c).count();
        if n > 0 || c <= 1 {
            counts.push(format!("{n} exit {c}"));
        }
    }
    writeln!(
        out,
        "{verb}: {} tenant(s) in {:.1} s into {}: {}{}; fleet exit {worst}",
        tenants.len(),
        elapsed.as_secs_f64(),
        state.display(),
        counts.join(", "),
        if kept > 0 {
            format!(" ({kept} kept by --resume)")
        } else {
            String::new()
        }
    )?;
    if !errors.is_empty() {
        writeln!(
            out,
            "could not {}: {} (each tenant's status in {} says why)",
            verb.trim_start_matches("fleet "),
            crate::redact::text(&errors.join(", ")),
            state.display()
        )?;
    }
    Ok(worst)
}

fn collect_cmd(a: &FleetCollectArgs, out: &mut dyn Write) -> Result<u8> {
    let fleet = Fleet::load(&a.fleet)?;
    let (base, state, shard) = state_of(&fleet, &a.where_)?;
    let selected = run::select(&fleet, shard);
    let (tenants, elsewhere) = crate::fleet::collect::collectable(&selected);
    for t in &elsewhere {
        writeln!(
            out,
            "{}: not collected here ({})",
            t.slug,
            if t.bundle.is_some() {
                "its fleet entry names a bundle collected elsewhere"
            } else {
                "its fleet entry names no config"
            }
        )?;
    }
    // Load (and decrypt) the key before any request.
    let sign = a
        .sign
        .as_deref()
        .map(|k| {
            super::signing::load_signing_key(k)
                .map(|sk| crate::sign::keys::HeldKey(std::sync::Arc::new(sk)))
        })
        .transpose()?;
    if shard.is_some() {
        run::prepare_state(&base)?;
    }
    let plan = crate::fleet::collect::CollectPlan {
        state: state.clone(),
        resume: a.resume,
        concurrency: usize::from(a.concurrency),
        at_once: a
            .tenants_at_once
            .map(|n| n as usize)
            .unwrap_or(fleet.tenants_at_once),
        sign,
        clock: a
            .clock
            .as_deref()
            .map(crate::audit::parse_as_of)
            .transpose()?,
        min_answered: a.min_answered,
        deadline: std::time::Duration::from_secs(a.deadline.max(1)),
        timeout: std::time::Duration::from_secs(a.timeout.max(1)),
        // One pacer for the whole fleet: its buckets are keyed by principal and scope.
        pacer: std::sync::Arc::new(crate::collect::pace::Pacer::documented(1.0)),
        in_flight: a
            .requests_in_flight
            .map(|n| n as usize)
            .or(fleet.requests_in_flight)
            .map(|n| std::sync::Arc::new(tokio::sync::Semaphore::new(n))),
    };
    if tenants.is_empty() {
        run::prepare_state(&state)?;
        writeln!(out, "fleet collect: no tenant to collect here")?;
        return Ok(0);
    }
    let worst = run_and_summarise("fleet collect", &tenants, &state, out, |progress| {
        crate::fleet::collect::collect_all(&fleet, &tenants, &plan, progress)
    })?;
    Ok(if a.exit_zero { 0 } else { worst })
}

fn audit_cmd(a: &FleetAuditArgs, out: &mut dyn Write) -> Result<u8> {
    let fleet = Fleet::load(&a.fleet)?;
    let (base, state, shard) = state_of(&fleet, &a.where_)?;
    let mut formats = crate::report::parse_formats(&a.format)?;
    if !formats.iter().any(|f| f == "json") {
        formats.push("json".into());
    }
    formats.retain(|f| f != "table");
    if let Some(t) = &a.as_of {
        crate::audit::parse_as_of(t).context("--as-of")?;
    }
    let tenants = run::select(&fleet, shard);
    if let Some(k) = &a.sign {
        // A key that does not load fails the fleet before any tenant, not every tenant.
        super::signing::load_signing_key(k)?;
    }
    if shard.is_some() {
        // The shards' parent is a fleet state too, so a report can find them in it.
        run::prepare_state(&base)?;
    }
    let plan = run::AuditPlan {
        state: state.clone(),
        resume: a.resume,
        format: formats.join(","),
        as_of: a.as_of.clone(),
        fail_on: a.fail_on,
        fail_on_unassessed: a.fail_on_unassessed,
        at_once: a
            .tenants_at_once
            .map(|n| n as usize)
            .unwrap_or(fleet.tenants_at_once),
        sign: a.sign.clone(),
    };
    if tenants.is_empty() {
        run::prepare_state(&state)?;
        writeln!(
            out,
            "fleet audit: shard {} holds none of the {} tenants; nothing to audit",
            a.where_.shard.as_deref().unwrap_or("?"),
            fleet.tenants.len()
        )?;
        return Ok(0);
    }
    // One compiled catalogue for every tenant (compiling it is most of a small audit).
    let catalog = crate::catalog::Catalog::load(&[])?;
    let worst = run_and_summarise("fleet audit", &tenants, &state, out, |progress| {
        run::audit_all(&tenants, &plan, &catalog, progress)
    })?;
    Ok(if a.exit_zero { 0 } else { worst })
}

/// The default `--from`: the fleet's state, if it holds tenants, and each shard state in it.
fn default_from(state: &Path) -> Result<Vec<PathBuf>> {
    let mut from = Vec::new();
    if !state.is_dir() {
        anyhow::bail!(
            "{}: no fleet state yet; run `siemproof fleet audit` first, or give --from",
            state.display()
        );
    }
    let mut holds_tenants = false;
    let mut shards = Vec::new();
    for e in
        std::fs::read_dir(state).with_context(|| format!("{}: cannot list", state.display()))?
    {
        let p = e?.path();
        let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
        if name.as_deref().is_some_and(|n| n.starts_with("shard-")) && p.join(run::MARKER).is_file()
        {
            shards.push(p);
        } else if p.join(run::STATUS).is_file() {
            holds_tenants = true;
        }
    }
    shards.sort();
    if holds_tenants || shards.is_empty() {
        from.push(state.to_path_buf());
    }
    from.extend(shards);
    Ok(from)
}

fn report_cmd(a: &FleetReportArgs, out: &mut dyn Write) -> Result<u8> {
    let fleet = Fleet::load(&a.fleet)?;
    let previous = files::check_target(&a.out, OutputKind::Portfolio, false, "--out")?;
    let signing = a
        .sign
        .as_deref()
        .map(super::signing::load_signing_key)
        .transpose()?;
    let from = if a.from.is_empty() {
        default_from(&fleet.state)?
    } else {
        a.from.clone()
    };
    let found = portfolio::gather(&fleet, &from)?;
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let p = portfolio::build(&fleet, &found, now);
    let docs = portfolio::render(&p, a.templates.as_deref())?;
    let written = write_output(&a.out, previous, |dir| {
        let mut written = Vec::new();
        for (name, bytes) in &docs {
            let target = dir.join(name);
            files::write_synced(&target, bytes)?;
            written.push(target);
        }
        written.extend(portfolio::write_copies(&found, dir)?);
        if let Some(sk) = &signing {
            let json_sha = crate::evidence::sha256_hex(&docs[0].1);
            let comment = portfolio::trusted_comment(&json_sha, &p);
            written.extend(crate::ledger::sign_sums(dir, sk, &comment)?);
        }
        Ok(written)
    })?;
    writeln!(out, "{}", p.verdict)?;
    for t in p.tenants.iter().filter(|t| !t.results || !t.go_live_ready) {
        let mut why = match &t.error {
            Some(e) => format!("exit {}: {e}", t.exit),
            None => format!(
                "exit {}: {} failing ({} critical, {} high), {} not assessed, {} blocking open",
                t.exit, t.fail, t.fails.critical, t.fails.high, t.not_assessed, t.blocking_open
            ),
        };
        if let Some(e) = &t.collect_error {
            why.push_str(&format!(
                "; collect exit {}: {e}",
                t.collect_exit.unwrap_or(2)
            ));
        }
        writeln!(out, "  {}: {}", t.slug, crate::redact::text(&why))?;
    }
    writeln!(
        out,
        "wrote {} files to {} (from {}); fleet exit {}",
        written.len(),
        a.out.display(),
        from.iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        p.exit
    )?;
    Ok(p.exit)
}
