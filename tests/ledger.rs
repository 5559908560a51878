//! The ledger of scheduled runs and the period report, end to end through the CLI: a 90-run
//! ledger of the compliant fixture tenant (with a planted five-day failure window), verified
//! by siemproof and by the stock `minisign` and `sha256sum`, every tampering caught and named,
//! and a period report with the right window, the same bytes twice, valid OSCAL.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::*;

const DAYS: i64 = 90;
/// Days (0-based) whose runs use a wrong consumer group: EH-CG-DEDICATED fails on them.
const BAD: std::ops::Range<i64> = 40..45;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/tenants/contoso-compliant")
}

fn as_of(day: i64) -> String {
    (chrono::DateTime::parse_from_rfc3339("2026-11-20T09:00:00Z").unwrap()
        + chrono::Duration::days(day))
    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

struct Built {
    _t: tempfile::TempDir,
    root: PathBuf,
    ledger: PathBuf,
    key: PathBuf,
    pubkey: PathBuf,
}

/// Writes the good and bad configs (freshness window wide enough for a 90-day series, a
/// daily schedule) and keys, and runs `audit --sign --ledger` once a day.
fn build() -> Built {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().to_path_buf();
    let base = std::fs::read_to_string(fixture().join("siemproof.toml")).unwrap();
    let good = base.replace("freshness_hours = 24", "freshness_hours = 8760")
        + "\n[schedule]\nevery = \"24h\"\n";
    let bad = good.replace(
        "consumer_group = \"qradar-cg\"",
        "consumer_group = \"wrong-cg\"",
    );
    assert_ne!(good, bad);
    std::fs::write(root.join("good.toml"), good).unwrap();
    std::fs::write(root.join("bad.toml"), bad).unwrap();
    let o = run(bin()
        .args(["keygen", "--unencrypted", "--out"])
        .arg(root.join("k")));
    assert!(o.status.success(), "{}", text(&o));
    let ledger = root.join("ledger");
    for day in 0..DAYS {
        let cfg = if BAD.contains(&day) {
            "bad.toml"
        } else {
            "good.toml"
        };
        let o = run(bin()
            .arg("audit")
            .arg(fixture())
            .arg("--config")
            .arg(root.join(cfg))
            .args(["--as-of", &as_of(day), "--format", "json", "--sign"])
            .arg(root.join("k.key"))
            .arg("--ledger")
            .arg(&ledger)
            .arg("--out")
            .arg(root.join(format!("run-{day}"))));
        assert!(
            matches!(o.status.code(), Some(0 | 1)),
            "day {day}: {}",
            text(&o)
        );
        assert!(
            text(&o).contains("appended as entry"),
            "day {day}: {}",
            text(&o)
        );
    }
    Built {
        _t: t,
        key: root.join("k.key"),
        pubkey: root.join("k.pub"),
        root,
        ledger,
    }
}

fn verify(b: &Built, ledger: &Path, extra: &[&str]) -> (i32, String) {
    let o = run(bin()
        .args(["ledger", "verify"])
        .arg(ledger)
        .arg("--pubkey")
        .arg(&b.pubkey)
        .args(extra));
    (o.status.code().unwrap_or(-1), text(&o))
}

fn copy(from: &Path, to: &Path) {
    let o = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .output()
        .unwrap();
    assert!(o.status.success());
}

/// A way to damage a copy of the ledger.
type Tamper = Box<dyn Fn(&Path)>;

fn entry(ledger: &Path, n: u64) -> PathBuf {
    ledger.join("entries").join(format!("{n:06}"))
}

#[test]
fn a_ninety_run_ledger_verifies_and_every_tampering_is_named() {
    let b = build();
    let (code, out) = verify(&b, &b.ledger, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.starts_with("VERIFIED:") && out.contains("90 entries"),
        "{out}"
    );

    // The stock tools an auditor has: minisign and sha256sum, entry by entry.
    if require("minisign", Command::new("minisign").arg("-v")) {
        for n in [1u64, 45, 90] {
            let e = entry(&b.ledger, n);
            for f in ["entry.json", "SHA256SUMS"] {
                let o = run(Command::new("minisign")
                    .args(["-V", "-m"])
                    .arg(e.join(f))
                    .arg("-p")
                    .arg(&b.pubkey));
                assert!(o.status.success(), "minisign {n} {f}: {}", text(&o));
            }
            let o = run(Command::new("sh")
                .arg("-c")
                .arg("grep ' results.json$' SHA256SUMS | sha256sum -c")
                .current_dir(&e));
            assert!(o.status.success(), "sha256sum {n}: {}", text(&o));
        }
        // Each entry names the previous entry.json's SHA-256, as sha256sum computes it.
        let o = run(Command::new("sha256sum").arg(entry(&b.ledger, 44).join("entry.json")));
        let hash = text(&o).split_whitespace().next().unwrap().to_string();
        let next = std::fs::read_to_string(entry(&b.ledger, 45).join("entry.json")).unwrap();
        assert!(next.contains(&hash), "entry 45 does not chain to 44");
    }

    let cases: Vec<(&str, Tamper, &str)> = vec![
        (
            "delete",
            Box::new(|l: &Path| std::fs::remove_dir_all(entry(l, 50)).unwrap()),
            "entries 000050 are missing before it",
        ),
        (
            "reorder",
            Box::new(|l: &Path| {
                let (a, b2, tmp) = (entry(l, 10), entry(l, 11), l.join("entries/swap"));
                std::fs::rename(&a, &tmp).unwrap();
                std::fs::rename(&b2, &a).unwrap();
                std::fs::rename(&tmp, &b2).unwrap();
            }),
            "entry 000010: entry.json says seq 11",
        ),
        (
            "edit results",
            Box::new(|l: &Path| {
                let p = entry(l, 20).join("results.json");
                let s = std::fs::read_to_string(&p).unwrap();
                std::fs::write(&p, s.replacen("\"fail\"", "\"pass\"", 1)).unwrap();
            }),
            "entry 000020: results.json was altered",
        ),
        (
            "edit entry",
            Box::new(|l: &Path| {
                let p = entry(l, 25).join("entry.json");
                let s = std::fs::read_to_string(&p).unwrap();
                let (day, later) = (as_of(24), as_of(24).replace("T09", "T10"));
                assert!(s.contains(&day));
                std::fs::write(&p, s.replace(&day, &later)).unwrap();
            }),
            "entry 000025: entry.json.minisig does not verify",
        ),
    ];
    for (name, tamper, expect) in cases {
        let copy_dir = b.root.join(format!("tampered-{}", name.replace(' ', "-")));
        copy(&b.ledger, &copy_dir);
        tamper(&copy_dir);
        let (code, out) = verify(&b, &copy_dir, &[]);
        assert_eq!(code, 1, "{name}: {out}");
        assert!(
            out.contains(expect),
            "{name}: expected {expect:?} in\n{out}"
        );
        assert!(out.contains("NOT VERIFIED"), "{name}: {out}");
        // A broken chain stops the period report, naming the entry...
        let o = run(bin()
            .arg("period")
            .arg(&copy_dir)
            .args(["--from", "2026-11-20", "--to", "2027-02-17", "--out"])
            .arg(b.root.join(format!("period-{}", name.replace(' ', "-")))));
        assert_eq!(o.status.code(), Some(2), "{name}: {}", text(&o));
        assert!(text(&o).contains("entry 0000"), "{name}: {}", text(&o));
    }

    // Re-signed with another key: the entry's signature names both keys.
    let other = b.root.join("other");
    let o = run(bin().args(["keygen", "--unencrypted", "--out"]).arg(&other));
    assert!(o.status.success());
    let resigned = b.root.join("resigned");
    copy(&b.ledger, &resigned);
    let e30 = entry(&resigned, 30).join("entry.json");
    let sk = siemproof::sign::keys::load_secret(Some(&b.root.join("other.key"))).unwrap();
    std::fs::remove_file(entry(&resigned, 30).join("entry.json.minisig")).unwrap();
    siemproof::ledger::sign_file(&e30, &sk, "forged").unwrap();
    let (code, out) = verify(&b, &resigned, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("entry 000030") && out.contains("re-signed with another key"),
        "{out}"
    );

    // A removed tail shows as runs missing up to --until.
    let truncated = b.root.join("truncated");
    copy(&b.ledger, &truncated);
    for n in 88..=90 {
        std::fs::remove_dir_all(entry(&truncated, n)).unwrap();
    }
    let (code, out) = verify(&b, &truncated, &["--until", &as_of(DAYS)]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("missing: 3 scheduled run(s)"), "{out}");

    // An interrupted append (a staging directory) leaves the ledger valid and is cleaned up
    // by the next append.
    let staging = b.ledger.join("entries/.staging-interrupted");
    std::fs::create_dir_all(&staging).unwrap();
    std::fs::write(staging.join("results.json"), b"{").unwrap();
    assert_eq!(verify(&b, &b.ledger, &[]).0, 0);
    let o = run(bin()
        .arg("audit")
        .arg(fixture())
        .arg("--config")
        .arg(b.root.join("good.toml"))
        .args(["--as-of", &as_of(DAYS), "--format", "json", "--sign"])
        .arg(&b.key)
        .arg("--ledger")
        .arg(&b.ledger)
        .arg("--out")
        .arg(b.root.join("run-last")));
    assert!(text(&o).contains("as entry 000091"), "{}", text(&o));
    assert!(!staging.exists());
    // A run already in the ledger, or older than its last entry, is refused.
    let o = run(bin()
        .args(["ledger", "add"])
        .arg(&b.ledger)
        .arg(b.root.join("run-3"))
        .arg("--sign")
        .arg(&b.key));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("already in the ledger"), "{}", text(&o));

    period_report(&b);
}

fn period_report(b: &Built) {
    let out1 = b.root.join("period-1");
    let out2 = b.root.join("period-2");
    for out in [&out1, &out2] {
        let o = run(bin()
            .arg("period")
            .arg(&b.ledger)
            .args(["--from", "2026-11-20", "--to", "2027-02-17", "--pubkey"])
            .arg(&b.pubkey)
            .arg("--out")
            .arg(out));
        // Not continuous: the planted window, so exit 1.
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        assert!(text(&o).contains("NOT CONTINUOUS"), "{}", text(&o));
    }
    for f in [
        "period.json",
        "period.md",
        "period.html",
        "oscal/assessment-results.json",
    ] {
        assert!(
            std::fs::read(out1.join(f)).unwrap() == std::fs::read(out2.join(f)).unwrap(),
            "{f} differs between two renders of the same ledger"
        );
    }
    let p: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out1.join("period.json")).unwrap()).unwrap();
    assert_eq!(p["runs"].as_array().unwrap().len(), DAYS as usize);
    assert_eq!(p["ledger"]["chain_intact"], true);
    assert_eq!(p["ledger"]["signatures_checked"], true);
    assert_eq!(p["missing_runs"], 0, "{}", p["missing"]);
    let cg = p["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "EH-CG-DEDICATED")
        .unwrap();
    assert_eq!(cg["runs_counted"], DAYS);
    assert_eq!(cg["runs_held"], DAYS - 5);
    let w = &cg["windows"].as_array().unwrap()[..];
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(w[0]["first_seen"], as_of(BAD.start));
    assert_eq!(w[0]["resolved"], as_of(BAD.end));
    assert_eq!(w[0]["runs"], 5);
    assert_eq!(w[0]["hours"], 120.0);
    assert_eq!(w[0]["worst"], "fail");
    assert_eq!(cg["mean_hours_to_fix"], 120.0);
    // The regression into the window is listed, with diff's possible-T1562.008 flag.
    let reg = p["regressions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["at"] == as_of(BAD.start))
        .expect("the regression at the window's start");
    assert!(reg["checks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c == "EH-CG-DEDICATED"));
    assert_eq!(reg["pipeline_drift"], true);
    let html = std::fs::read_to_string(out1.join("period.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("class=\"c-fail\""));
    assert!(!html.contains("<script"));
    if let Some(schema) = schema("oscal-1.2.3/oscal_complete_schema.json") {
        if require(
            "check-jsonschema",
            Command::new("check-jsonschema").arg("--version"),
        ) {
            let o = run(Command::new("check-jsonschema")
                .arg("--schemafile")
                .arg(&schema)
                .arg(out1.join("oscal/assessment-results.json")));
            assert!(o.status.success(), "OSCAL: {}", text(&o));
        }
    }
    let ar: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out1.join("oscal/assessment-results.json")).unwrap())
            .unwrap();
    let r = &ar["assessment-results"]["results"][0];
    assert_eq!(r["start"], "2026-11-20T00:00:00Z");
    assert_eq!(r["end"], "2027-02-17T23:59:59Z");
    assert_eq!(r["observations"].as_array().unwrap().len(), DAYS as usize);

    // Signed like any report: SHA256SUMS over its files, verified by the stock tools.
    let signed = b.root.join("period-signed");
    let o = run(bin()
        .arg("period")
        .arg(&b.ledger)
        .args(["--from", "2026-11-20", "--to", "2027-02-17", "--sign"])
        .arg(&b.key)
        .arg("--pubkey")
        .arg(&b.pubkey)
        .arg("--out")
        .arg(&signed));
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        std::fs::read(signed.join("period.json")).unwrap()
            == std::fs::read(out1.join("period.json")).unwrap(),
        "signing changed period.json"
    );
    if require("minisign", Command::new("minisign").arg("-v")) {
        let o = run(Command::new("minisign")
            .args(["-V", "-m"])
            .arg(signed.join("SHA256SUMS"))
            .arg("-p")
            .arg(&b.pubkey));
        assert!(o.status.success(), "{}", text(&o));
        let o = run(Command::new("sha256sum")
            .args(["-c", "SHA256SUMS"])
            .current_dir(&signed));
        assert!(o.status.success(), "{}", text(&o));
    }

    // ... and by siemproof verify, which also checks the comment against period.json.
    let o = run(bin()
        .arg("verify")
        .arg(&signed)
        .arg("--pubkey")
        .arg(&b.pubkey));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("period.json bound (period:2026-11-20T00:00:00Z..2027-02-17T23:59:59Z runs:90 chain:intact)"),
        "{}",
        text(&o)
    );

    // diff between two ledger entries, by run id.
    let runs = p["runs"].as_array().unwrap();
    let (before, into) = (
        runs[(BAD.start - 1) as usize]["run_id"].as_str().unwrap(),
        runs[BAD.start as usize]["run_id"].as_str().unwrap(),
    );
    let o = run(bin()
        .args(["diff", "--ledger"])
        .arg(&b.ledger)
        .args([before, &into[..8]]));
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("EH-CG-DEDICATED"), "{}", text(&o));

    // A prefix that names two entries is refused, not resolved to the first.
    let twins = b.root.join("twins");
    copy(&b.ledger, &twins);
    for (n, id) in [(3, "0000aaaa-one"), (4, "0000aaaa-two")] {
        let f = entry(&twins, n).join("entry.json");
        let mut e: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        e["run_id"] = id.into();
        std::fs::write(&f, serde_json::to_vec_pretty(&e).unwrap()).unwrap();
    }
    let o = run(bin()
        .args(["diff", "--ledger"])
        .arg(&twins)
        .args(["0000aaaa", "0000aaaa-two"]));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("matches 2 entries (0000aaaa-one, 0000aaaa-two)"),
        "{}",
        text(&o)
    );

    // --allow-broken-chain renders, and says so on the first line.
    let broken = b.root.join("broken");
    copy(&b.ledger, &broken);
    std::fs::remove_dir_all(entry(&broken, 60)).unwrap();
    let out = b.root.join("period-broken");
    let o = run(bin()
        .arg("period")
        .arg(&broken)
        .args([
            "--from",
            "2026-11-20",
            "--to",
            "2027-02-17",
            "--allow-broken-chain",
            "--out",
        ])
        .arg(&out));
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let md = std::fs::read_to_string(out.join("period.md")).unwrap();
    assert!(
        md.lines().next().unwrap().contains("BROKEN LEDGER CHAIN"),
        "{md:.200}"
    );
}
