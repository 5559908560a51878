//! `ledger add|verify|list` and `period`: the series of scheduled runs.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};

use crate::files::{self, OutputKind};
use crate::ledger::{self, period, render, verify};
use crate::sign::keys;

#[derive(Subcommand)]
pub enum LedgerCommand {
    /// Append a signed run (a directory `audit --sign` wrote) to the ledger
    Add(LedgerAddArgs),
    /// Verify the chain, every signature and hash, and the runs missing from the schedule
    Verify(LedgerVerifyArgs),
    /// List the ledger's entries
    List(LedgerListArgs),
}

#[derive(Args)]
pub struct LedgerArgs {
    #[command(subcommand)]
    pub command: LedgerCommand,
}

#[derive(Args)]
pub struct LedgerAddArgs {
    /// The ledger directory (created on first use)
    pub ledger: PathBuf,
    /// The signed run: a report directory with results.json, SHA256SUMS and its signature
    pub run: PathBuf,
    /// The minisign secret key that signed the run; it signs the entry too (`-` reads
    /// SIEMPROOF_SIGNING_KEY)
    #[arg(long, value_name = "KEY")]
    pub sign: PathBuf,
}

#[derive(Args)]
pub struct LedgerVerifyArgs {
    /// The ledger directory
    pub ledger: PathBuf,
    /// The public key every run and entry must be signed by
    #[arg(long, value_name = "KEY.pub")]
    pub pubkey: PathBuf,
    /// Also report runs missing after the last entry up to this time (RFC 3339 or
    /// YYYY-MM-DD; a removed tail shows this way)
    #[arg(long)]
    pub until: Option<String>,
    /// Output format
    #[arg(long, value_enum, default_value = "text")]
    pub format: LedgerFormat,
}

#[derive(Args)]
pub struct LedgerListArgs {
    /// The ledger directory
    pub ledger: PathBuf,
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
pub enum LedgerFormat {
    Text,
    Json,
}

#[derive(Args)]
pub struct PeriodArgs {
    /// The ledger directory
    pub ledger: PathBuf,
    /// First day of the period (YYYY-MM-DD, from 00:00 UTC)
    #[arg(long)]
    pub from: String,
    /// Last day of the period (YYYY-MM-DD, to 23:59:59 UTC)
    #[arg(long)]
    pub to: String,
    /// Where to write period.json, period.md, period.html and oscal/assessment-results.json
    #[arg(long, short, default_value = "siemproof-period")]
    pub out: PathBuf,
    /// Check every run's and entry's signature with this public key
    #[arg(long, value_name = "KEY.pub")]
    pub pubkey: Option<PathBuf>,
    /// Render even when the chain is broken; the report then says so on its first line
    #[arg(long)]
    pub allow_broken_chain: bool,
    /// Sign the report (SHA256SUMS over its files, SHA256SUMS.minisig); `-` reads
    /// SIEMPROOF_SIGNING_KEY
    #[arg(long, value_name = "KEY")]
    pub sign: Option<PathBuf>,
    /// Override report templates (period.html, period.md) from this directory
    #[arg(long)]
    pub templates: Option<PathBuf>,
}

fn key_arg(p: &Path) -> Option<&Path> {
    (p != Path::new("-")).then_some(p)
}

pub(crate) fn ledger_cmd(a: &LedgerArgs, out: &mut dyn Write) -> Result<u8> {
    match &a.command {
        LedgerCommand::Add(a) => {
            let sk = keys::load_secret(key_arg(&a.sign))?;
            let done = ledger::append(&a.ledger, &a.run, &sk)?;
            writeln!(
                out,
                "appended run {} as entry {} ({})",
                done.run_id,
                ledger::entry_dir_name(done.seq),
                done.dir.display()
            )?;
            Ok(0)
        }
        LedgerCommand::Verify(a) => {
            let pk = keys::load_public(&a.pubkey)?;
            let until = a
                .until
                .as_deref()
                .map(|u| crate::audit::parse_as_of(u).context("--until"))
                .transpose()?;
            let r = verify::verify(&a.ledger, Some(&pk), until)?;
            match a.format {
                LedgerFormat::Text => write!(out, "{}", verify::render_text(&r, &a.ledger))?,
                LedgerFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(&r)?)?,
            }
            Ok(if r.ok() { 0 } else { 1 })
        }
        LedgerCommand::List(a) => {
            let (entries, _) = ledger::list(&a.ledger)?;
            for (n, dir) in entries {
                let (e, _) = ledger::read_entry(&dir)?;
                writeln!(
                    out,
                    "{} {} {} {}",
                    ledger::entry_dir_name(n),
                    e.as_of,
                    e.run_id,
                    e.tenant_id
                )?;
            }
            Ok(0)
        }
    }
}

fn date(s: &str, flag: &str) -> Result<chrono::NaiveDate> {
    chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .with_context(|| format!("{flag} {s:?}: not a date (YYYY-MM-DD)"))
}

pub(crate) fn period_cmd(a: &PeriodArgs, out: &mut dyn Write) -> Result<u8> {
    let from = date(&a.from, "--from")?;
    let to = date(&a.to, "--to")?;
    if to < from {
        bail!("--to {to} is before --from {from}");
    }
    let previous = files::check_target(&a.out, OutputKind::Report, false, "--out")?;
    let pk = a.pubkey.as_deref().map(keys::load_public).transpose()?;
    let signing = a
        .sign
        .as_deref()
        .map(|k| keys::load_secret(key_arg(k)))
        .transpose()?;
    let r = verify::verify(&a.ledger, pk.as_ref(), None)?;
    if !r.chain_ok() && !a.allow_broken_chain {
        let first = &r.problems[0];
        bail!(
            "{}: the ledger's chain is broken at {first} ({} problem(s) in all; `siemproof ledger verify` lists them); pass --allow-broken-chain to render a report marked as such",
            a.ledger.display(),
            r.problems.len()
        );
    }
    let (start, end) = period::bounds(from, to);
    let in_period: Vec<&ledger::Entry> = r
        .chain
        .iter()
        .filter(|e| {
            chrono::DateTime::parse_from_rfc3339(&e.as_of)
                .map(|t| t.with_timezone(&chrono::Utc))
                .is_ok_and(|t| t >= start && t <= end)
        })
        .collect();
    let runs = ledger::view::load_runs(&a.ledger, &in_period)?;
    let lref = period::LedgerRef {
        entries_in_period: runs.len(),
        first_seq: runs.first().map(|r| r.entry.seq),
        last_seq: runs.last().map(|r| r.entry.seq),
        chain_intact: r.chain_ok(),
        signatures_checked: r.signatures_checked,
        key_id: r.key_id.clone(),
        problems: r.problems.iter().map(|p| p.to_string()).collect(),
    };
    let p = period::compute(&runs, from, to, lref, r.schedule_every_hours);
    let docs = render::render(&p, a.templates.as_deref())?;
    let written = crate::cli::audit::write_output(&a.out, previous, |dir| {
        let mut written = Vec::new();
        for (name, bytes) in &docs {
            let target = dir.join(name);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("{}: cannot create", parent.display()))?;
            }
            files::write_synced(&target, bytes)?;
            written.push(target);
        }
        if let Some(sk) = &signing {
            let comment = format!(
                "siemproof period:{}..{} runs:{} chain:{}",
                p.from,
                p.to,
                p.runs.len(),
                if p.ledger.chain_intact {
                    "intact"
                } else {
                    "broken"
                }
            );
            written.extend(ledger::sign_sums(dir, sk, &comment)?);
        }
        Ok(written)
    })?;
    writeln!(out, "{}", p.verdict)?;
    let names: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
    writeln!(out, "wrote {}", names.join(", "))?;
    Ok(if p.continuous { 0 } else { 1 })
}
