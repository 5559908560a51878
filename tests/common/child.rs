//! Running the siemproof binary from a test with only the given environment, its pipes drained
//! while it runs (a summary over 64 KiB would otherwise block it) and killed after a limit, so
//! no test can hang. Shared by the tests that talk to the local mocks.

#![allow(dead_code)]

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs siemproof with `args` and only `env` (plus `PATH` and the fixtures' collection clock),
/// killing it after `limit`.
pub fn siemproof(args: &[&str], env: &[(&str, String)], limit: Duration) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_siemproof"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        // The fixture tenants' collection day, so a collected bundle is audited at the same
        // clock as the fixture it came from (an audit clock may not precede collection).
        .env("SIEMPROOF_COLLECT_CLOCK", "2026-11-20T08:00:00Z")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn siemproof");
    let drain = |r: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut r) = r {
                let _ = std::io::Read::read_to_end(&mut r, &mut buf);
            }
            buf
        })
    };
    let stdout = drain(child.stdout.take().map(|r| Box::new(r) as _));
    let stderr = drain(child.stderr.take().map(|r| Box::new(r) as _));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            let err = stderr.join().expect("stderr reader");
            panic!(
                "siemproof {args:?} did not finish within {limit:?}\nstderr: {}",
                String::from_utf8_lossy(&err)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Output {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

/// stdout then stderr, as text.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `env` as [`siemproof`] takes it.
pub fn env_of(env: &[(String, String)]) -> Vec<(&str, String)> {
    env.iter().map(|(k, v)| (k.as_str(), v.clone())).collect()
}
