//! The `siemproof` binary: parse the command line, run, map the outcome to an exit code
//! (0 clean, 1 failing findings at or above `--fail-on`, 2 usage/config/evidence/template error,
//! 128 + the signal's number when a signal ended the run).

use std::process::ExitCode;

use clap::Parser;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = siemproof::cli::Cli::parse();
    // Every terminating signal ends the process like Ctrl-C, removing temporary outputs.
    siemproof::signals::watch();
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
            // Hostile inputs can make a message huge (a quoted 100 KB value): keep it readable.
            let mut msg = siemproof::redact::text(&format!("{e:#}")).into_owned();
            if msg.len() > 8192 {
                let mut end = 8192;
                while !msg.is_char_boundary(end) {
                    end -= 1;
                }
                msg.truncate(end);
                msg.push_str("… [message cut at 8 KiB]");
            }
            eprintln!("error: {msg}");
            match e.downcast_ref::<siemproof::signals::Interrupted>() {
                Some(i) => ExitCode::from(i.exit_code()),
                None => ExitCode::from(2),
            }
        }
    }
}
