//! The command line: clap definitions and the dispatch to each command, one module per group
//! of commands.
//!
//! Output goes through explicit writers; errors bubble up as `anyhow` and become exit code 2 in
//! `main`, failing findings at or above `--fail-on` (and checks `--fail-on-unassessed` counts)
//! become exit code 1, a collection that observed nothing or too little exit code 3
//! (docs/exit-codes.md).

mod audit;
mod catalog;
mod collect;
mod fleet;
mod ledger;
mod send;
mod signing;

pub(crate) use self::audit::run_audit;
pub use self::audit::{
    AuditArgs, DiffArgs, DiffFormat, FailOn, FailOnUnassessed, InitArgs, ReportArgs,
};
pub use self::catalog::{
    checks_markdown, AttestArgs, ChecksArgs, ExplainArgs, ListFormat, TestArgs,
};
pub use self::collect::CollectArgs;
pub use self::signing::{ExportArgs, KeygenArgs, SignArgs, VerifyArgs};

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};

use crate::report;
use crate::results::Results;

/// `--version`: the release, the commit it was built from and the check catalogue's version.
fn long_version() -> String {
    format!(
        "{} (commit {}, check catalogue {})",
        env!("CARGO_PKG_VERSION"),
        env!("SIEMPROOF_COMMIT"),
        crate::catalog::CATALOGUE_VERSION
    )
}

#[derive(Parser)]
#[command(
    name = "siemproof",
    version,
    long_version = long_version(),
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
    /// Largest single file any command reads, in MiB (evidence files, manifests, results.json,
    /// configs, templates, archive members); a larger one is an error naming it
    #[arg(
        long,
        global = true,
        env = "SIEMPROOF_MAX_FILE_MIB",
        default_value_t = 256,
        value_parser = clap::value_parser!(u64).range(1..=65536)
    )]
    pub max_file_mib: u64,
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
    /// Compare two audits: regressions, new and resolved findings, coverage drift
    Diff(DiffArgs),
    /// The ledger of scheduled runs: append a signed run, verify the chain, list entries
    Ledger(ledger::LedgerArgs),
    /// The period report: every check and log type over a ledger's runs from one day to another
    Period(ledger::PeriodArgs),
    /// Many tenants: audit a fleet (or one shard of it) and render its portfolio
    Fleet(fleet::FleetArgs),
    /// Send a run's events (LEEF or CEF) to the SOC's SIEM over syslog/TLS (RFC 5425); opt-in
    Send(send::SendArgs),
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
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish) to stdout
    Completions(CompletionsArgs),
    /// Print the man page (roff) of siemproof or of one of its commands to stdout
    Man(ManArgs),
}

#[derive(clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete for, e.g. `siemproof completions bash > /etc/bash_completion.d/siemproof`
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(clap::Args)]
pub struct ManArgs {
    /// A command's own page (`siemproof man audit > siemproof-audit.1`); none for the main page
    pub command: Option<String>,
}

/// The man page of the program or of one subcommand, rendered from the clap definitions.
fn man_page(command: Option<&str>, out: &mut dyn Write) -> Result<u8> {
    use clap::CommandFactory;
    let mut root = Cli::command();
    root.build();
    let cmd = match command {
        None => root,
        Some(name) => {
            let names: Vec<String> = root
                .get_subcommands()
                .map(|c| c.get_name().to_string())
                .filter(|n| n != "help")
                .collect();
            match root.find_subcommand(name) {
                Some(c) => c.clone().name(format!("siemproof-{name}")),
                None => anyhow::bail!(
                    "no command {name:?}{}; the commands are: {}",
                    crate::cli::catalog::did_you_mean(name, names.iter().map(String::as_str)),
                    names.join(", ")
                ),
            }
        }
    };
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd).render(&mut buf)?;
    out.write_all(&buf)?;
    Ok(0)
}

/// Runs the command; returns the process exit code for non-error outcomes.
pub fn run(cli: Cli) -> Result<u8> {
    crate::files::set_max_file_bytes(cli.max_file_mib * 1024 * 1024);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match cli.command {
        Command::Init(a) => audit::init(&a, &mut out),
        Command::Audit(a) => audit::audit_cmd(&a, &mut out),
        Command::Report(a) => audit::report_cmd(&a, &mut out),
        Command::Diff(a) => audit::diff_cmd(&a, &mut out),
        Command::Ledger(a) => ledger::ledger_cmd(&a, &mut out),
        Command::Period(a) => ledger::period_cmd(&a, &mut out),
        Command::Fleet(a) => fleet::fleet_cmd(&a, &mut out),
        Command::Send(a) => send::send_cmd(&a, &mut out),
        Command::Checks(a) => catalog::checks_cmd(&a, &mut out),
        Command::Explain(a) => catalog::explain_cmd(&a, &mut out),
        Command::Test(a) => catalog::test_cmd(&a, &mut out),
        Command::Attest(a) => catalog::attest_cmd(&a, &mut out),
        Command::Keygen(a) => signing::keygen_cmd(&a, &mut out),
        Command::Sign(a) => signing::sign_cmd(&a, &mut out),
        Command::Verify(a) => signing::verify_cmd(&a, &mut out),
        Command::Export(a) => signing::export_cmd(&a, &mut out),
        Command::Probe(a) => collect::probe_cmd(&a, &mut out),
        Command::Collect(a) => collect::collect_cmd(&a, &mut out),
        Command::Completions(a) => {
            use clap::CommandFactory;
            let mut buf = Vec::new();
            clap_complete::generate(a.shell, &mut Cli::command(), "siemproof", &mut buf);
            out.write_all(&buf)?;
            Ok(0)
        }
        Command::Man(a) => man_page(a.command.as_deref(), &mut out),
        Command::Permissions => {
            write!(out, "{}", crate::collect::permissions_text())?;
            Ok(0)
        }
    }
}

/// On a terminal comfy-table measures it; otherwise (CI logs, pipes) COLUMNS or 160.
fn table_width(tty: bool) -> Option<u16> {
    if tty {
        None
    } else {
        Some(
            std::env::var("COLUMNS")
                .ok()
                .and_then(|c| c.parse().ok())
                .unwrap_or(160),
        )
    }
}

pub(crate) fn print_table(results: &Results, all: bool, out: &mut dyn Write) -> Result<()> {
    let tty = std::io::stdout().is_terminal();
    let width = table_width(tty);
    write!(
        out,
        "{}",
        report::table::render(results, all, report::table::use_colour(tty), width)
    )?;
    Ok(())
}

/// The terminal table (when asked for) and the list of files written.
pub(crate) fn summarise(
    results: &Results,
    formats: &[String],
    all: bool,
    compliance: &[report::compliance::Framework],
    files: &[PathBuf],
    out: &mut dyn Write,
) -> Result<()> {
    let table = formats.iter().any(|f| f == "table");
    if table {
        print_table(results, all, out)?;
    }
    if !compliance.is_empty() {
        let width = table_width(std::io::stdout().is_terminal());
        write!(
            out,
            "{}",
            report::compliance::table(results, compliance, width)
        )?;
        if table {
            // The verdict stays the last line of the terminal view.
            let colour = report::table::use_colour(std::io::stdout().is_terminal());
            writeln!(out, "{}", report::table::verdict_line(results, colour))?;
        }
    }
    if !files.is_empty() {
        let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
        writeln!(out, "wrote {}", names.join(", "))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every option and argument of every command explains itself in `--help`.
    #[test]
    fn every_option_has_help_text() {
        use clap::CommandFactory;
        fn walk(c: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for a in c.get_arguments() {
                let id = a.get_id().as_str();
                if a.get_help().is_none() && !matches!(id, "help" | "version") {
                    missing.push(format!("{path}: {id}"));
                }
            }
            for s in c.get_subcommands() {
                if s.get_name() != "help" {
                    walk(s, &format!("{path} {}", s.get_name()), missing);
                }
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "siemproof", &mut missing);
        assert!(missing.is_empty(), "no help text: {missing:#?}");
    }

    #[test]
    fn long_version_names_the_commit_and_the_catalogue() {
        let v = long_version();
        assert!(v.starts_with(env!("CARGO_PKG_VERSION")), "{v}");
        assert!(
            v.contains("commit ") && v.contains(crate::catalog::CATALOGUE_VERSION),
            "{v}"
        );
    }
}
