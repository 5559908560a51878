//! Rebuilds the crate when an embedded check file, check fixture or report template changes: `include_dir!`
//! does not tell Cargo which files it read, so without this an edited check would keep running
//! its old embedded version until something in `src/` changed.
//!
//! Also records the git commit the binary was built from (`siemproof --version`), or
//! `unknown` outside a git checkout (a source archive).

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=checks");
    println!("cargo:rerun-if-changed=reports");
    println!("cargo:rerun-if-changed=fixtures/checks");
    println!("cargo:rerun-if-changed=build.rs");
    // A new commit moves HEAD or the branch it points to.
    for f in [".git/HEAD", ".git/refs/heads", ".git/packed-refs"] {
        if std::path::Path::new(f).exists() {
            println!("cargo:rerun-if-changed={f}");
        }
    }
    let commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit()))
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=SIEMPROOF_COMMIT={commit}");
}
