//! The `siemproof` binary: parse the command line, run, map the outcome to an exit code
//! (0 clean, 1 failing findings at or above `--fail-on`, 2 usage/config/evidence/template error).

use std::process::ExitCode;

use clap::Parser;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = siemproof::cli::Cli::parse();
    match siemproof::cli::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            // A closed pipe (`siemproof checks | head`) is not an error.
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            // Errors quote inputs (a path, a value from a manifest): redacted like reports.
            eprintln!("error: {}", siemproof::redact::text(&format!("{e:#}")));
            ExitCode::from(2)
        }
    }
}
