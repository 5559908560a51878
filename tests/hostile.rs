//! Nothing lost, nothing mixed, nothing leaked (issue 10): output paths that hold someone
//! else's files, two runs under one signature, a write failure half-way, a 16 MB display name,
//! out-of-range config numbers, and self-edits of an unsigned manifest.

mod common;
mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn keygen(dir: &Path) -> (PathBuf, PathBuf) {
    let prefix = dir.join("k");
    let o = run(&["keygen", "--unencrypted", "--out", prefix.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    (dir.join("k.key"), dir.join("k.pub"))
}

/// Every file below `dir`, relative path → bytes.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn copy_dir(from: &Path, to: &Path) {
    for (rel, bytes) in tree(from) {
        let p = to.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
}

fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect()
}

const DEMO: &str = "contoso-demo";

#[test]
fn no_writer_replaces_what_is_not_its_own() {
    let t = tempfile::tempdir().unwrap();
    let demo = tenant_dir(DEMO);
    let theirs = t.path().join("theirs");
    std::fs::create_dir(&theirs).unwrap();
    std::fs::write(theirs.join("notes.txt"), "mine").unwrap();
    let file = t.path().join("file.txt");
    std::fs::write(&file, "mine").unwrap();
    for target in [&theirs, &file] {
        let o = audit_into(&demo, AS_OF, target, "json,html", &[]);
        assert_eq!(o.status.code(), Some(2), "audit: {}", stderr(&o));
        assert!(stderr(&o).contains("nothing was changed"), "{}", stderr(&o));
    }
    // An earlier report is replaced (re-running an audit is the normal case)…
    let out = t.path().join("out");
    assert_eq!(
        audit_into(&demo, AS_OF, &out, "json", &[]).status.code(),
        Some(1)
    );
    assert_eq!(
        audit_into(&demo, AS_OF, &out, "json", &[]).status.code(),
        Some(1)
    );
    // …but a report directory someone added a file to is no longer only ours.
    std::fs::write(out.join("minutes.docx"), "mine").unwrap();
    let o = audit_into(&demo, AS_OF, &out, "json", &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    std::fs::remove_file(out.join("minutes.docx")).unwrap();
    // `report` into someone's directory or onto a file: refused too.
    let results = out.join("results.json");
    for target in [&theirs, &file] {
        let o = run(&[
            "report",
            results.to_str().unwrap(),
            "--out",
            target.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(2), "report: {}", stderr(&o));
    }
    // `report` into the results' own directory keeps results.json beside the new reports.
    let o = run(&[
        "report",
        results.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--format",
        "junit",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(out.join("results.json").is_file() && out.join("report.junit.xml").is_file());
    // `export` onto an existing file needs --force; onto a directory never.
    let (key, _) = keygen(t.path());
    let o = run(&[
        "export",
        out.to_str().unwrap(),
        demo.to_str().unwrap(),
        "--out",
        file.to_str().unwrap(),
        "--sign",
        key.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--force"));
    let o = run(&[
        "export",
        out.to_str().unwrap(),
        demo.to_str().unwrap(),
        "--out",
        theirs.to_str().unwrap(),
        "--sign",
        key.to_str().unwrap(),
        "--force",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    // keygen and attest refuse to overwrite (their existing rule).
    let o = run(&[
        "keygen",
        "--unencrypted",
        "--out",
        t.path().join("k").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    // Nothing of theirs changed.
    assert_eq!(
        std::fs::read_to_string(theirs.join("notes.txt")).unwrap(),
        "mine"
    );
    assert_eq!(tree(&theirs).len(), 1);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "mine");
    assert!(leftovers(t.path()).is_empty(), "{:?}", leftovers(t.path()));
}

#[test]
fn a_signature_covers_exactly_one_run() {
    let t = tempfile::tempdir().unwrap();
    let (key, pubkey) = keygen(t.path());
    let demo = tenant_dir(DEMO);
    let out = t.path().join("out");
    // An earlier run with more formats, then a signed run with fewer into the same --out.
    assert_eq!(
        audit_into(&demo, AS_OF, &out, "json,html,md,csv", &[])
            .status
            .code(),
        Some(1)
    );
    let o = audit_into(
        &demo,
        AS_OF,
        &out,
        "json",
        &["--sign", key.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    for stale in ["report.html", "report.md", "findings.csv"] {
        assert!(
            !out.join(stale).exists(),
            "{stale} of the earlier run survived"
        );
    }
    let sums = std::fs::read_to_string(out.join("SHA256SUMS")).unwrap();
    let listed: Vec<&str> = sums.lines().map(|l| &l[66..]).collect();
    assert!(listed.contains(&"results.json"));
    assert!(
        listed
            .iter()
            .all(|p| *p == "results.json" || p.starts_with("evidence/")),
        "{listed:?}"
    );
    let o = run(&[
        "verify",
        out.to_str().unwrap(),
        "--pubkey",
        pubkey.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    // A file the run did not write is flagged.
    std::fs::write(out.join("report.html"), "<p>from another run</p>").unwrap();
    let o = run(&[
        "verify",
        out.to_str().unwrap(),
        "--pubkey",
        pubkey.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("extra: report.html"), "{}", stdout(&o));
}

/// Runs siemproof under a file-size limit: writes beyond it fail with EFBIG (SIGXFSZ ignored),
/// the way a full disk fails them, with no mount and no test hook in the binary.
fn run_with_file_limit(kib: u32, args: &[&str]) -> std::process::Output {
    let mut script = format!(
        "trap '' XFSZ; ulimit -f {kib}; exec '{}'",
        env!("CARGO_BIN_EXE_siemproof")
    );
    for a in args {
        script.push_str(&format!(" '{a}'"));
    }
    Command::new("bash")
        .args(["-c", &script])
        .env("NO_COLOR", "1")
        .env_remove("SIEMPROOF_AS_OF")
        .output()
        .expect("bash runs")
}

#[test]
fn a_write_failure_half_way_leaves_the_previous_output_intact() {
    let t = tempfile::tempdir().unwrap();
    let demo = tenant_dir(DEMO);
    let out = t.path().join("out");
    assert_eq!(
        audit_into(&demo, AS_OF, &out, "json,html,md", &[])
            .status
            .code(),
        Some(1)
    );
    let before = tree(&out);
    // results.json is ~270 KiB; the limit lets smaller files through and fails that one.
    let o = run_with_file_limit(
        100,
        &[
            "audit",
            demo.to_str().unwrap(),
            "--as-of",
            "2027-01-01",
            "--out",
            out.to_str().unwrap(),
            "--format",
            "md,json,html",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("the previous output there is unchanged"),
        "{}",
        stderr(&o)
    );
    assert_eq!(tree(&out), before, "the previous output changed");
    assert!(leftovers(t.path()).is_empty(), "{:?}", leftovers(t.path()));
}

/// Runs siemproof and samples its peak resident memory (VmHWM) until it exits; returns the
/// output and the peak in MiB.
fn run_measured(args: &[&str]) -> (std::process::Output, u64) {
    let child = common::bin()
        .args(args)
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let status = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0u64;
    let started = Instant::now();
    let handle = std::thread::spawn(move || child.wait_with_output().expect("output"));
    while !handle.is_finished() && started.elapsed() < Duration::from_secs(120) {
        if let Ok(s) = std::fs::read_to_string(&status) {
            if let Some(l) = s.lines().find(|l| l.starts_with("VmHWM:")) {
                let kib: u64 = l
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or("0")
                    .parse()
                    .unwrap_or(0);
                peak_kib = peak_kib.max(kib);
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    (handle.join().expect("join"), peak_kib / 1024)
}

#[test]
fn a_16_mb_display_name_costs_bounded_memory_and_output() {
    let t = tempfile::tempdir().unwrap();
    let name = "N".repeat(16 * 1024 * 1024);
    let b = small_bundle(t.path(), &name);
    let out = t.path().join("out");
    let (o, peak_mib) = run_measured(&[
        "audit",
        b.to_str().unwrap(),
        "--as-of",
        AS_OF,
        "--out",
        out.to_str().unwrap(),
        "--format",
        "table,json,html,md,junit,sarif,oscal,jsonl,csv",
        "--all",
    ]);
    assert!(o.status.code().is_some_and(|c| c <= 1), "{}", stderr(&o));
    // The bundle is 16 MiB; the old code peaked at 3.4 GB.
    assert!(peak_mib > 0, "memory was sampled");
    assert!(peak_mib < 400, "peak memory {peak_mib} MiB");
    let total: usize = tree(&out).values().map(Vec::len).sum();
    assert!(total < 8 * 1024 * 1024, "reports total {total} bytes");
    assert!(
        o.stdout.len() < 1024 * 1024,
        "stdout {} bytes",
        o.stdout.len()
    );
    let results = std::fs::read_to_string(out.join("results.json")).unwrap();
    assert!(results.contains("[truncated: "), "the cut is marked");
    // The evidence keeps the full value.
    let raw = std::fs::read_to_string(b.join("raw/graph/graph.organization.json")).unwrap();
    assert!(raw.contains(&name));
}

#[test]
fn every_file_read_is_bounded_and_the_error_names_the_file() {
    let t = tempfile::tempdir().unwrap();
    let b = small_bundle(t.path(), &"N".repeat(2 * 1024 * 1024));
    let out = t.path().join("out");
    let o = audit_into(&b, AS_OF, &out, "json", &["--max-file-mib", "1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("graph.organization.json") && stderr(&o).contains("limit"),
        "{}",
        stderr(&o)
    );
    // results.json for `report` and `diff`, too.
    let o = audit_into(&tenant_dir(DEMO), AS_OF, &out, "json", &[]);
    assert_eq!(o.status.code(), Some(1));
    let results = out.join("results.json");
    let again = t.path().join("again");
    let o = run(&[
        "--max-file-mib",
        "1",
        "report",
        results.to_str().unwrap(),
        "--out",
        again.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "275 KiB is within 1 MiB: {}",
        stderr(&o)
    );
    let big = t.path().join("big.json");
    std::fs::write(&big, vec![b' '; 2 * 1024 * 1024]).unwrap();
    let o = run(&[
        "--max-file-mib",
        "1",
        "diff",
        big.to_str().unwrap(),
        results.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("big.json"), "{}", stderr(&o));
}

fn config_with(extra: &str, replace: (&str, &str)) -> String {
    let base = format!(
        "{}min_partitions = 2\nmin_retention_days = 3\n\n[thresholds]\n{extra}\n",
        config_text("Edge")
    );
    base.replace(replace.0, replace.1)
}

#[test]
fn impossible_config_numbers_are_refused_with_the_key_and_never_panic() {
    let t = tempfile::tempdir().unwrap();
    for (i, (cfg, key)) in [
        (
            config_with("metrics_window_hours = 2400000000", ("", "")),
            "thresholds.metrics_window_hours",
        ),
        (
            config_with("", ("min_retention_days = 3", "min_retention_days = inf")),
            "eventhub.min_retention_days",
        ),
        (
            config_with("freshness_hours = 9223372036854775807", ("", "")),
            "thresholds.freshness_hours",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        // collect validates before any request (exit 2, not a panic's 101).
        let path = t.path().join(format!("c{i}.toml"));
        std::fs::write(&path, &cfg).unwrap();
        let o = run(&[
            "collect",
            "--config",
            path.to_str().unwrap(),
            "--out",
            t.path().join(format!("ev{i}")).to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(2), "collect: {}", stderr(&o));
        assert!(stderr(&o).contains(key), "{}", stderr(&o));
        // audit of a bundle carrying it.
        let dir = t.path().join(format!("b{i}"));
        std::fs::create_dir(&dir).unwrap();
        let b = bundle_with(&dir, &cfg, &[], &[]);
        let o = audit_into(&b, AS_OF, &t.path().join(format!("o{i}")), "json", &[]);
        assert_eq!(o.status.code(), Some(2), "audit: {}", stderr(&o));
        assert!(stderr(&o).contains(key), "{}", stderr(&o));
        assert!(!t.path().join(format!("o{i}")).exists(), "nothing written");
    }
}

#[test]
fn results_json_is_always_readable_by_the_version_that_wrote_it() {
    let t = tempfile::tempdir().unwrap();
    let (key, pubkey) = keygen(t.path());
    let mut bundles: Vec<PathBuf> = [
        "contoso-demo",
        "contoso-compliant",
        "fabrikam-misconfigured",
        "woodgrove-restricted",
    ]
    .iter()
    .map(|n| tenant_dir(n))
    .collect();
    // Config edges: every number at the bottom and the top of its range.
    for (i, (lo_hi, retention, partitions)) in [("1", "0.04", "1"), ("hi", "90", "2048")]
        .iter()
        .enumerate()
    {
        let th = if *lo_hi == "1" {
            "secret_expiry_warning_days = 1\nmax_credential_lifetime_days = 1\nfreshness_hours = 1\nmetrics_window_hours = 1".to_string()
        } else {
            "secret_expiry_warning_days = 3650\nmax_credential_lifetime_days = 36500\nfreshness_hours = 8760\nmetrics_window_hours = 2232".to_string()
        };
        let cfg = config_with(&th, ("", ""))
            .replace(
                "min_retention_days = 3",
                &format!("min_retention_days = {retention}"),
            )
            .replace(
                "min_partitions = 2",
                &format!("min_partitions = {partitions}"),
            );
        let dir = t.path().join(format!("edge{i}"));
        std::fs::create_dir(&dir).unwrap();
        bundles.push(small_bundle_with_config(&dir, &cfg));
    }
    for (i, b) in bundles.iter().enumerate() {
        let out = t.path().join(format!("out{i}"));
        let o = audit_into(b, AS_OF, &out, "json", &["--sign", key.to_str().unwrap()]);
        assert!(
            o.status.code().is_some_and(|c| c <= 1),
            "{}: {}",
            b.display(),
            stderr(&o)
        );
        let results = out.join("results.json");
        let loaded = siemproof::results::Results::load(&results)
            .unwrap_or_else(|e| panic!("{}: {e:#}", b.display()));
        // Loading and saving again gives the same document.
        let again = serde_json::to_vec_pretty(&loaded).unwrap();
        assert_eq!(again, std::fs::read(&results).unwrap(), "{}", b.display());
        let o = run(&[
            "report",
            results.to_str().unwrap(),
            "--out",
            t.path().join(format!("r{i}")).to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let o = run(&["diff", results.to_str().unwrap(), results.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let o = run(&[
            "verify",
            out.to_str().unwrap(),
            "--pubkey",
            pubkey.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    }
}

/// [`small_bundle`] with a config of our own.
fn small_bundle_with_config(dir: &Path, cfg: &str) -> PathBuf {
    let b = small_bundle(dir, "Edge tenant");
    replace_sealed(&b, "siemproof.toml", cfg.as_bytes());
    b
}

#[test]
fn audit_says_an_unsigned_manifest_is_unprotected_and_pubkey_requires_a_signature() {
    let t = tempfile::tempdir().unwrap();
    let (key, pubkey) = keygen(t.path());
    let b = t.path().join("bundle");
    copy_dir(&tenant_dir(DEMO), &b);
    let out = t.path().join("out");
    let pk = pubkey.to_str().unwrap();
    // Unsigned: audited, with the limit stated; --pubkey refuses it.
    let o = audit_into(&b, AS_OF, &out, "json", &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("is unsigned"), "{}", stderr(&o));
    let o = audit_into(&b, AS_OF, &out, "json", &["--pubkey", pk]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("manifest.json.minisig"),
        "{}",
        stderr(&o)
    );
    // Signed: verified.
    let o = run(&["sign", b.to_str().unwrap(), "--key", key.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(b.join("manifest.json.minisig").is_file());
    let o = audit_into(&b, AS_OF, &out, "json", &["--pubkey", pk]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("verified"), "{}", stderr(&o));
    let o = run(&["verify", b.to_str().unwrap(), "--pubkey", pk]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    // The stock tool agrees (required in CI; locally skipped with a note when not installed).
    if support::require("minisign", Command::new("minisign").arg("-v")) {
        let o = Command::new("minisign")
            .args(["-Vm", "manifest.json", "-p", pk])
            .current_dir(&b)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    // A newline appended and a byte flipped in the manifest: both caught with --pubkey.
    let m = b.join("manifest.json");
    let original = std::fs::read(&m).unwrap();
    let mut flipped = original.clone();
    let i = flipped.iter().position(|c| *c == b'1').unwrap();
    flipped[i] = b'2';
    let mut newline = original.clone();
    newline.push(b'\n');
    for edited in [flipped, newline] {
        std::fs::write(&m, &edited).unwrap();
        let o = audit_into(&b, AS_OF, &out, "json", &["--pubkey", pk]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(
            stderr(&o).contains("changed after signing"),
            "{}",
            stderr(&o)
        );
        let o = run(&["verify", b.to_str().unwrap(), "--pubkey", pk]);
        assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
        assert!(
            stdout(&o).contains("changed after signing"),
            "{}",
            stdout(&o)
        );
    }
    // A different key's public half: refused.
    let other = t.path().join("other");
    std::fs::create_dir(&other).unwrap();
    let (_, other_pub) = keygen(&other);
    std::fs::write(&m, &original).unwrap();
    let o = audit_into(
        &b,
        AS_OF,
        &out,
        "json",
        &["--pubkey", other_pub.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn every_command_handles_terminating_signals_like_ctrl_c() {
    // `audit --config FIFO` blocks reading the config until killed: a deterministic moment to
    // send the signal. The old binary died of it (no exit code); now it exits 2, says why, and
    // the earlier output is untouched.
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    assert_eq!(
        audit_into(&tenant_dir(DEMO), AS_OF, &out, "json", &[])
            .status
            .code(),
        Some(1)
    );
    let before = tree(&out);
    for signal in ["TERM", "HUP", "INT"] {
        let fifo = t.path().join(format!("fifo-{signal}"));
        assert!(Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success());
        let child = common::bin()
            .args(["audit", tenant_dir(DEMO).to_str().unwrap(), "--config"])
            .arg(&fifo)
            .arg("--out")
            .arg(&out)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id().to_string();
        // Wait until the signal watcher thread runs (its handlers are installed before main
        // goes on to read the config), however slow the machine.
        let started = Instant::now();
        while !watcher_running(&pid) && started.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(200));
        assert!(Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .unwrap()
            .success());
        let started = Instant::now();
        let handle = std::thread::spawn(move || child.wait_with_output().unwrap());
        while !handle.is_finished() {
            if started.elapsed() > Duration::from_secs(20) {
                let _ = Command::new("kill").args(["-9", &pid]).status();
                panic!("SIG{signal} was ignored");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let o = handle.join().unwrap();
        // 128 + the signal number, as a shell reports it.
        let code = match signal {
            "TERM" => 143,
            "HUP" => 129,
            _ => 130,
        };
        assert_eq!(o.status.code(), Some(code), "SIG{signal}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(&format!("interrupted by SIG{signal}")),
            "{}",
            stderr(&o)
        );
    }
    assert_eq!(tree(&out), before);
    assert!(leftovers(t.path()).is_empty(), "{:?}", leftovers(t.path()));
}

/// Whether the process runs siemproof's signal watcher thread (`siemproof-signals`, which
/// /proc shows cut to 15 characters).
fn watcher_running(pid: &str) -> bool {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|tasks| {
            tasks.filter_map(|t| t.ok()).any(|t| {
                std::fs::read_to_string(t.path().join("comm"))
                    .is_ok_and(|c| c.trim() == "siemproof-signa")
            })
        })
        .unwrap_or(false)
}
