//! Every `sh` block of README.md runs as written and ends as the README says.
//!
//! Each block runs in bash (`-e -o pipefail`, so a failing command ends it) from a scratch
//! directory laid out like a clone (`fixtures/` and `.ci/` link to this checkout), with a fresh
//! `HOME`, `TMPDIR` and `CARGO_HOME`. Rebuilding inside the test suite would take minutes, so
//! `cargo` on `PATH` is a stand-in that answers the README's cargo commands with the binaries
//! this test build already made: `cargo run --release -- ARGS` runs siemproof with ARGS,
//! `cargo build --release …` finds them linked under `target/release/`, `cargo install --path .`
//! copies siemproof into `$CARGO_HOME/bin`, and `cargo test` (this very suite) is not re-entered.
//! Any other cargo command fails the block. The comment before a block
//! (`<!-- readme-test: exit=N expect="…" -->`) gives its exit code and a line its output must
//! hold; a block without one must exit 0.

use std::path::{Path, PathBuf};
use std::process::Command;

struct Block {
    line: usize,
    script: String,
    exit: i32,
    expect: Option<String>,
}

fn blocks(readme: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let lines: Vec<&str> = readme.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim() == "```sh" {
            let start = i + 1;
            let mut j = start;
            while j < lines.len() && lines[j].trim() != "```" {
                j += 1;
            }
            let (mut exit, mut expect) = (0, None);
            if let Some(note) = i
                .checked_sub(1)
                .map(|k| lines[k].trim())
                .and_then(|l| l.strip_prefix("<!-- readme-test:"))
            {
                for part in note.trim_end_matches("-->").split_whitespace() {
                    if let Some(n) = part.strip_prefix("exit=") {
                        exit = n.parse().expect("exit=N");
                    }
                }
                if let Some((_, rest)) = note.split_once("expect=\"") {
                    expect = rest.split_once('"').map(|(e, _)| e.to_string());
                }
            }
            out.push(Block {
                line: start,
                script: lines[start..j].join("\n"),
                exit,
                expect,
            });
            i = j;
        }
        i += 1;
    }
    out
}

const CARGO_STANDIN: &str = r#"#!/usr/bin/env bash
# Stand-in for cargo inside tests/readme.rs (see there).
set -euo pipefail
case "${1:-}" in
  run)
    shift
    [ "${1:-}" = "--release" ] && shift
    [ "${1:-}" = "--" ] && shift
    exec "$SIEMPROOF_TEST_BIN" "$@" ;;
  build)
    [ -x target/release/siemproof ] && [ -x target/release/examples/mock-cloud ] ;;
  install)
    [ "$*" = "install --path . --locked" ] || { echo "cargo stand-in: unexpected: cargo $*" >&2; exit 97; }
    mkdir -p "$CARGO_HOME/bin"
    cp "$SIEMPROOF_TEST_BIN" "$CARGO_HOME/bin/siemproof"
    echo "  Installed $CARGO_HOME/bin/siemproof (stand-in)" ;;
  test)
    [ "$*" = "test --all-targets" ] || { echo "cargo stand-in: unexpected: cargo $*" >&2; exit 97; }
    echo "cargo test --all-targets: this suite itself (not re-entered)" ;;
  *)
    echo "cargo stand-in: unexpected: cargo $*" >&2; exit 97 ;;
esac
"#;

fn link(from: &Path, to: &Path) {
    std::os::unix::fs::symlink(from, to).unwrap_or_else(|e| panic!("{}: {e}", to.display()));
}

#[test]
fn every_readme_command_block_runs_as_written() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(repo.join("README.md")).unwrap();
    let blocks = blocks(&readme);
    assert!(
        blocks.len() >= 4,
        "expected the demo, install, test and mock blocks, found {}",
        blocks.len()
    );
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_siemproof"));
    let mock = bin.parent().unwrap().join("examples/mock-cloud");
    assert!(
        mock.is_file(),
        "{} is not built: run the suite as README says (`cargo build --examples && cargo test --all-targets`)",
        mock.display()
    );

    let t = tempfile::tempdir().unwrap();
    let clone = t.path().join("clone");
    let release = clone.join("target/release");
    std::fs::create_dir_all(release.join("examples")).unwrap();
    link(&repo.join("fixtures"), &clone.join("fixtures"));
    link(&repo.join(".ci"), &clone.join(".ci"));
    link(&bin, &release.join("siemproof"));
    link(&mock, &release.join("examples/mock-cloud"));
    let standin = t.path().join("standin");
    std::fs::create_dir_all(&standin).unwrap();
    let cargo = standin.join("cargo");
    std::fs::write(&cargo, CARGO_STANDIN).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&cargo, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (home, tmp) = (t.path().join("home"), t.path().join("tmp"));
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&tmp).unwrap();
    let cargo_home = home.join(".cargo");
    let path = format!(
        "{}:{}:{}",
        standin.display(),
        cargo_home.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );

    for b in &blocks {
        let mut c = Command::new("timeout");
        c.args([
            "--kill-after=5",
            "300",
            "bash",
            "-e",
            "-o",
            "pipefail",
            "-c",
        ])
        .arg(&b.script)
        .current_dir(&clone)
        .env_clear()
        .env("PATH", &path)
        .env("HOME", &home)
        .env("TMPDIR", &tmp)
        .env("CARGO_HOME", &cargo_home)
        .env("SIEMPROOF_TEST_BIN", &bin)
        .env("COLUMNS", "160")
        .env("LANG", "C.UTF-8");
        // The validators the install block looks for live where the system put them.
        for var in ["SIEMPROOF_SKIP_VALIDATORS", "SSL_CERT_FILE"] {
            if let Ok(v) = std::env::var(var) {
                c.env(var, v);
            }
        }
        let o = c.output().expect("bash runs");
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(
            o.status.code(),
            Some(b.exit),
            "README.md line {}: the block exited {:?}, the README says {}:\n{}\n--- output ---\n{all}",
            b.line,
            o.status.code(),
            b.exit,
            b.script
        );
        if let Some(e) = &b.expect {
            assert!(
                all.contains(e.as_str()),
                "README.md line {}: the output lacks {e:?}:\n{all}",
                b.line
            );
        }
    }
    // What the blocks say they leave behind is there.
    assert!(clone.join("siemproof-report/report.html").is_file());
    assert!(cargo_home.join("bin/siemproof").is_file());
    let man = home.join(".local/share/man/man1/siemproof-audit.1");
    assert!(std::fs::read_to_string(&man).unwrap().contains(".TH"));
    let comp = home.join(".local/share/bash-completion/completions/siemproof");
    assert!(std::fs::read_to_string(&comp).unwrap().contains("complete"));
}

#[test]
fn blocks_and_their_expectations_are_read() {
    let md = "x\n<!-- readme-test: exit=1 expect=\"go-live: NOT\" -->\n```sh\na\nb\n```\n```\nnot sh\n```\n```sh\nc\n```\n";
    let b = blocks(md);
    assert_eq!(b.len(), 2);
    assert_eq!((b[0].script.as_str(), b[0].exit), ("a\nb", 1));
    assert_eq!(b[0].expect.as_deref(), Some("go-live: NOT"));
    assert_eq!(
        (b[1].script.as_str(), b[1].exit, b[1].expect.is_none()),
        ("c", 0, true)
    );
}

/// The GitHub Actions workflow docs/setup.md gives is one GitHub accepts: it validates against
/// the workflow schema check-jsonschema ships (`vendor.github-workflows`, offline).
#[test]
fn the_setup_guides_workflow_is_a_valid_github_workflow() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let setup = std::fs::read_to_string(repo.join("docs/setup.md")).unwrap();
    let yaml: Vec<String> = setup
        .split("```yaml\n")
        .skip(1)
        .filter_map(|b| b.split_once("\n```").map(|(y, _)| y.to_string()))
        .collect();
    assert_eq!(yaml.len(), 1, "expected one workflow in docs/setup.md");
    let ok = Command::new("check-jsonschema").arg("--version").output();
    if !ok.is_ok_and(|o| o.status.success()) {
        assert!(
            std::env::var_os("SIEMPROOF_SKIP_VALIDATORS").is_some(),
            "check-jsonschema is required: run `bash .ci/install.sh`"
        );
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let f = t.path().join("siemproof.yml");
    // The guide shows the job part; a workflow also needs its trigger.
    std::fs::write(
        &f,
        format!(
            "name: siemproof\non:\n  schedule:\n    - cron: \"0 6 * * *\"\n{}\n",
            yaml[0]
        ),
    )
    .unwrap();
    let o = Command::new("check-jsonschema")
        .args(["--builtin-schema", "vendor.github-workflows"])
        .arg(&f)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}
