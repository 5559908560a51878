//! `siemproof fleet` end to end on the built-in fixture tenants: a fleet audit gives each tenant
//! the results `siemproof audit` gives it alone; one broken tenant is its own exit 2 and the
//! fleet's, never the others'; `--resume` keeps what did not change; shards merge into the same
//! portfolio; a signed portfolio verifies with siemproof, `sha256sum -c` and stock `minisign`;
//! a secret in the fleet file or a foreign state directory is refused with nothing written.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use support::{bin, copy_tree, require, run, text};

const AS_OF: &str = "2026-11-20T12:00:00Z";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/tenants")
        .join(name)
}

/// A fleet of the four fixture tenants plus a copy of contoso-demo with one evidence file
/// altered after sealing (its audit must fail: exit 2).
fn fleet(dir: &Path) -> PathBuf {
    let broken = dir.join("bundles/broken");
    copy_tree(&fixture("contoso-demo"), &broken);
    let raw = std::fs::read_dir(broken.join("raw/arm"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_file())
        .expect("a raw ARM file");
    let mut bytes = std::fs::read(&raw).unwrap();
    bytes.extend_from_slice(b" ");
    std::fs::write(&raw, bytes).unwrap();
    let mut toml = String::from("[fleet]\nname = \"Example MSSP\"\ntenants_at_once = 2\n");
    for (slug, name) in [
        ("contoso", "contoso-demo"),
        ("contoso-ok", "contoso-compliant"),
        ("fabrikam", "fabrikam-misconfigured"),
        ("woodgrove", "woodgrove-restricted"),
    ] {
        toml.push_str(&format!(
            "[[tenants]]\nslug = \"{slug}\"\nbundle = {:?}\n",
            fixture(name)
        ));
    }
    toml.push_str("[[tenants]]\nslug = \"broken\"\nbundle = \"bundles/broken\"\n");
    let f = dir.join("fleet.toml");
    std::fs::write(&f, toml).unwrap();
    f
}

fn siemproof(args: &[&str], paths: &[&Path]) -> (i32, String, String) {
    let mut c = bin();
    c.args(args).args(paths).env("NO_COLOR", "1");
    let o = run(&mut c);
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .unwrap()
}

/// What must be identical however a tenant was audited: everything but the run's id, paths
/// and the wall-clock age of the evidence.
fn comparable(results: &Value) -> Value {
    let mut v = results.clone();
    let run = v["run"].as_object_mut().unwrap();
    for k in ["id", "bundle", "evidence_age"] {
        run.remove(k);
    }
    v
}

fn audit_alone(bundle: &Path, out: &Path) -> (i32, Value) {
    let (code, o, e) = siemproof(
        &["audit", "--format", "json", "--as-of", AS_OF, "--out"],
        &[out, bundle],
    );
    assert!(matches!(code, 0 | 1), "{o}{e}");
    (code, json(&out.join("results.json")))
}

fn statuses(state: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(state)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("status.json").is_file())
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(p.join("status.json")).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

/// No staging directory may be left behind anywhere under `dir`.
fn assert_no_leftovers(dir: &Path) {
    for e in walk(dir) {
        let name = e.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            !name.starts_with(".siemproof-"),
            "left behind: {}",
            e.display()
        );
        assert!(!name.starts_with(".tmp"), "left behind: {}", e.display());
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p.clone());
            }
            out.push(p);
        }
    }
    out
}

#[test]
fn a_fleet_audits_each_tenant_as_alone_isolates_a_failure_and_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let f = fleet(tmp.path());
    let state = tmp.path().join("fleet-state");
    let (code, out, err) = siemproof(&["fleet", "audit", "--as-of", AS_OF], &[&f]);
    // The broken tenant is exit 2, and so is the fleet; every other tenant was audited.
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        out.contains("5 tenant(s)") && out.contains("could not audit: broken"),
        "{out}"
    );
    assert!(err.contains("[5/5]"), "progress per tenant: {err}");
    let broken = json(&state.join("broken/status.json"));
    assert_eq!(broken["exit"], 2);
    assert_eq!(broken["phase"], "failed");
    assert!(
        broken["error"].as_str().unwrap().contains("raw/arm"),
        "the error names the altered file: {broken}"
    );
    assert!(!state.join("broken/run").exists(), "no half-written run");
    for (slug, name) in [
        ("contoso", "contoso-demo"),
        ("contoso-ok", "contoso-compliant"),
        ("fabrikam", "fabrikam-misconfigured"),
        ("woodgrove", "woodgrove-restricted"),
    ] {
        let fleet_results = json(&state.join(slug).join("run/results.json"));
        let (exit, alone) = audit_alone(&fixture(name), &tmp.path().join("alone").join(slug));
        assert_eq!(comparable(&fleet_results), comparable(&alone), "{slug}");
        let status = json(&state.join(slug).join("status.json"));
        assert_eq!(status["exit"], exit, "{slug}: {status}");
        assert!(state.join(slug).join("run/report.html").is_file());
    }

    // --resume keeps every tenant audited with the same inputs, byte for byte, and tries the
    // failed one again.
    let before = statuses(&state);
    let (code, out, err) = siemproof(&["fleet", "audit", "--as-of", AS_OF, "--resume"], &[&f]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.contains("4 kept by --resume"), "{out}");
    let again = statuses(&state);
    for ((slug, a), (_, b)) in before.iter().zip(&again) {
        assert_eq!(a == b, slug != "broken", "{slug}");
    }
    let before = again;

    // Repair the broken bundle: only it is audited again.
    copy_tree(&fixture("contoso-demo"), &tmp.path().join("bundles/broken"));
    let (code, out, err) = siemproof(&["fleet", "audit", "--as-of", AS_OF, "--resume"], &[&f]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("4 kept by --resume"), "{out}");
    let after = statuses(&state);
    for ((slug, a), (_, b)) in before.iter().zip(&after) {
        assert_eq!(a == b, slug != "broken", "{slug}");
    }
    assert_eq!(json(&state.join("broken/status.json"))["exit"], 1);

    // --exit-zero (a scheduler's shard step) exits 0 whatever the verdicts; they stay in the state.
    let (code, out, _) = siemproof(
        &[
            "fleet",
            "audit",
            "--as-of",
            AS_OF,
            "--resume",
            "--exit-zero",
        ],
        &[&f],
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("fleet exit 1"),
        "the worst code is still reported: {out}"
    );

    // A changed --as-of is a changed input: --resume audits every tenant again.
    let (code, _, _) = siemproof(
        &["fleet", "audit", "--as-of", "2026-11-21", "--resume"],
        &[&f],
    );
    assert_eq!(code, 1);
    assert_ne!(statuses(&state)[0].1, after[0].1);
    assert_no_leftovers(tmp.path());
}

#[test]
fn the_portfolio_lists_every_tenant_worst_first_and_its_signature_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    let f = fleet(tmp.path());
    let (code, _, err) = siemproof(&["fleet", "audit", "--as-of", AS_OF], &[&f]);
    assert_eq!(code, 2, "{err}");
    let o = run(bin()
        .args(["keygen", "--unencrypted", "--out"])
        .arg(tmp.path().join("k")));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let key = tmp.path().join("k.key");
    let pubkey = tmp.path().join("k.pub");
    let port = tmp.path().join("portfolio");
    let (code, out, err) = siemproof(
        &["fleet", "report", "--out"],
        &[&port, &f, Path::new("--sign"), &key],
    );
    assert_eq!(code, 2, "the worst tenant's exit: {out}{err}");
    assert!(out.contains("broken"), "{out}");
    let p = json(&port.join("portfolio.json"));
    assert_eq!(p["format"], "siemproof-portfolio/1");
    assert_eq!(p["exit"], 2);
    assert_eq!(p["fleet"], "Example MSSP");
    let tenants = p["tenants"].as_array().unwrap();
    let slugs: Vec<&str> = tenants
        .iter()
        .map(|t| t["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs.len(), 5);
    assert_eq!(slugs[0], "broken", "worst first: {slugs:?}");
    assert!(tenants[0]["results"] == false && tenants[0]["error"].is_string());
    // The compliant tenant is the best one, and the only one ready.
    assert_eq!(*slugs.last().unwrap(), "contoso-ok", "{slugs:?}");
    assert_eq!(p["ready"], 1, "{p}");
    for t in &tenants[1..] {
        let slug = t["slug"].as_str().unwrap();
        let copied = std::fs::read(port.join("tenants").join(slug).join("results.json")).unwrap();
        assert_eq!(
            t["results_sha256"].as_str().unwrap(),
            siemproof::evidence::sha256_hex(&copied)
        );
        assert_eq!(
            t["families"].as_array().unwrap().len(),
            p["families"].as_array().unwrap().len()
        );
    }
    // Tera escapes `/` in attributes as `&#x2F;`, which every browser reads as `/`.
    let html = std::fs::read_to_string(port.join("portfolio.html"))
        .unwrap()
        .replace("&#x2F;", "/");
    assert!(
        html.contains("<svg") && !html.contains("<script"),
        "inline SVG, no scripts"
    );
    assert!(html.contains("href=\"tenants/fabrikam/report.html\""));
    let md = std::fs::read_to_string(port.join("portfolio.md")).unwrap();
    assert!(md.contains("| broken |") || md.contains("broken"), "{md}");

    // siemproof, sha256sum -c and stock minisign accept the signed portfolio.
    let (code, out, _) = siemproof(&["verify", "--pubkey"], &[&pubkey, &port]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("portfolio.json"), "{out}");
    if require("sha256sum", Command::new("sha256sum").arg("--version")) {
        let o = Command::new("sha256sum")
            .args(["-c", "--strict", "SHA256SUMS"])
            .current_dir(&port)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
    }
    if require("minisign", Command::new("minisign").arg("-v")) {
        let o = Command::new("minisign")
            .args(["-V", "-m", "SHA256SUMS", "-p"])
            .arg(&pubkey)
            .current_dir(&port)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
        assert!(String::from_utf8_lossy(&o.stdout).contains("siemproof portfolio:"));
    }
    // A copied tenant result altered afterwards is caught by the binding, not only the sums.
    let victim = port.join("tenants/fabrikam/results.json");
    let mut bytes = std::fs::read(&victim).unwrap();
    bytes.push(b'\n');
    std::fs::write(&victim, bytes).unwrap();
    let (code, out, _) = siemproof(&["verify", "--pubkey"], &[&pubkey, &port]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("tenants/fabrikam/results.json"), "{out}");

    // A second report replaces the earlier portfolio whole; a foreign directory is refused.
    let (code, _, err) = siemproof(&["fleet", "report", "--out"], &[&port, &f]);
    assert_eq!(code, 2, "{err}");
    assert!(
        !port.join("SHA256SUMS").exists(),
        "replaced whole, not added to"
    );
    let foreign = tmp.path().join("thesis");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("chapter1.tex"), "mine").unwrap();
    let (code, _, err) = siemproof(&["fleet", "report", "--out"], &[&foreign, &f]);
    assert_eq!(code, 2);
    assert!(err.contains("not a siemproof portfolio"), "{err}");
    assert_eq!(std::fs::read_dir(&foreign).unwrap().count(), 1);
    assert_no_leftovers(tmp.path());
}

#[test]
fn two_shards_merge_into_the_portfolio_of_one_run_and_a_missing_shard_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let f = fleet(tmp.path());
    let whole = tmp.path().join("whole");
    let (code, _, err) = siemproof(
        &["fleet", "audit", "--as-of", AS_OF, "--state"],
        &[&whole, &f],
    );
    assert_eq!(code, 2, "{err}");
    // The shards write inside the fleet's own state (fleet-state/shard-I-of-2).
    let sharded = tmp.path().join("fleet-state");
    let mut seen = Vec::new();
    for i in 0..2 {
        let shard = format!("{i}/2");
        let (_, list, _) = siemproof(&["fleet", "list", "--shard", &shard], &[&f]);
        seen.extend(
            list.lines()
                .map(|l| l.split('\t').next().unwrap().to_string()),
        );
        let (code, out, err) = siemproof(
            &["fleet", "audit", "--as-of", AS_OF, "--shard", &shard],
            &[&f],
        );
        assert!(matches!(code, 0..=2), "{out}{err}");
    }
    seen.sort();
    assert_eq!(
        seen,
        ["broken", "contoso", "contoso-ok", "fabrikam", "woodgrove"]
    );
    // Each tenant's results are the same whole or sharded.
    for slug in ["contoso", "contoso-ok", "fabrikam", "woodgrove"] {
        let a = json(&whole.join(slug).join("run/results.json"));
        let shard = (0..2)
            .map(|i| sharded.join(format!("shard-{i}-of-2")).join(slug))
            .find(|p| p.is_dir())
            .unwrap();
        let b = json(&shard.join("run/results.json"));
        assert_eq!(comparable(&a), comparable(&b), "{slug}");
    }
    // The default --from finds both shards in the fleet's state; the merge is one run's
    // portfolio.
    let merged = tmp.path().join("merged");
    let (code, out, err) = siemproof(&["fleet", "report", "--out"], &[&merged, &f]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        out.contains("shard-0-of-2") && out.contains("shard-1-of-2"),
        "{out}"
    );
    let one = tmp.path().join("one");
    let (code, _, _) = siemproof(
        &["fleet", "report", "--from"],
        &[&whole, Path::new("--out"), &one, &f],
    );
    assert_eq!(code, 2);
    let strip = |mut p: Value| -> Value {
        p.as_object_mut().unwrap().remove("generated_at");
        for t in p["tenants"].as_array_mut().unwrap() {
            let t = t.as_object_mut().unwrap();
            // Which directory, and run ids inside each results.json, differ by design.
            t.remove("from");
            t.remove("results_sha256");
        }
        p
    };
    assert_eq!(
        strip(json(&merged.join("portfolio.json"))),
        strip(json(&one.join("portfolio.json")))
    );
    // One shard alone: the other shard's tenants are listed without results, and exit 2.
    let half = tmp.path().join("half");
    let (code, out, _) = siemproof(
        &["fleet", "report", "--from"],
        &[&sharded.join("shard-0-of-2"), Path::new("--out"), &half, &f],
    );
    assert_eq!(code, 2);
    let p = json(&half.join("portfolio.json"));
    let missing: Vec<&str> = p["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["results"] == false && t["error"].as_str().unwrap().contains("no results"))
        .map(|t| t["slug"].as_str().unwrap())
        .collect();
    assert!(!missing.is_empty(), "{p}");
    for m in &missing {
        assert!(out.contains(m), "the missing tenants are named: {out}");
    }
    // A tenant in two --from directories is refused, and nothing is written.
    let dup = tmp.path().join("dup");
    let (code, _, err) = siemproof(
        &["fleet", "report", "--from"],
        &[
            &whole,
            Path::new("--from"),
            &sharded.join("shard-0-of-2"),
            Path::new("--out"),
            &dup,
            &f,
        ],
    );
    assert_eq!(code, 2);
    assert!(err.contains("state directories"), "{err}");
    assert!(!dup.exists());
    // A --from that does not exist, and a shard that does not exist, are refused.
    let (code, _, err) = siemproof(
        &["fleet", "report", "--from"],
        &[&tmp.path().join("nope"), Path::new("--out"), &dup, &f],
    );
    assert_eq!(code, 2);
    assert!(err.contains("no such state directory"), "{err}");
    let (code, _, err) = siemproof(&["fleet", "audit", "--shard", "2/2"], &[&f]);
    assert_eq!(code, 2);
    assert!(err.contains("does not exist"), "{err}");
    assert_no_leftovers(tmp.path());
}

#[test]
fn a_secret_in_the_fleet_file_or_a_foreign_state_is_refused_with_nothing_written() {
    let tmp = tempfile::tempdir().unwrap();
    let canary = "c2llbXByb29mLWZsZWV0LWNhbmFyeQ";
    let f = tmp.path().join("fleet.toml");
    std::fs::write(
        &f,
        format!("[[tenants]]\nslug = \"a\"\nbundle = \"b\"\nclient_secret = \"{canary}\"\n"),
    )
    .unwrap();
    let (code, out, err) = siemproof(&["fleet", "audit"], &[&f]);
    assert_eq!(code, 2);
    assert!(err.contains("tenants[0].client_secret"), "{err}");
    assert!(!format!("{out}{err}").contains(canary));
    assert!(!tmp.path().join("fleet-state").exists());

    std::fs::write(
        &f,
        "[fleet]\nstate = \"mine\"\n[[tenants]]\nslug = \"a\"\nbundle = \"b\"\n",
    )
    .unwrap();
    std::fs::create_dir(tmp.path().join("mine")).unwrap();
    std::fs::write(tmp.path().join("mine/notes.txt"), "keep").unwrap();
    let (code, _, err) = siemproof(&["fleet", "audit"], &[&f]);
    assert_eq!(code, 2);
    assert!(err.contains("not a siemproof fleet state"), "{err}");
    assert_eq!(
        std::fs::read_dir(tmp.path().join("mine")).unwrap().count(),
        1
    );
}

/// The portfolio of three fixture tenants, reviewed as a snapshot (HTML and Markdown); only the
/// generation time is normalised.
#[test]
fn a_three_tenant_portfolio_renders_as_reviewed() {
    let tmp = tempfile::tempdir().unwrap();
    let mut toml = String::from("[fleet]\nname = \"Example MSSP\"\n");
    for (slug, name) in [
        ("contoso", "contoso-demo"),
        ("contoso-ok", "contoso-compliant"),
        ("fabrikam", "fabrikam-misconfigured"),
    ] {
        toml.push_str(&format!(
            "[[tenants]]\nslug = \"{slug}\"\nbundle = {:?}\n",
            fixture(name)
        ));
    }
    let f = tmp.path().join("fleet.toml");
    std::fs::write(&f, toml).unwrap();
    let (code, _, err) = siemproof(&["fleet", "audit", "--as-of", AS_OF], &[&f]);
    assert_eq!(code, 1, "{err}");
    let port = tmp.path().join("portfolio");
    let (code, _, err) = siemproof(&["fleet", "report", "--out"], &[&port, &f]);
    assert_eq!(code, 1, "{err}");
    let generated = json(&port.join("portfolio.json"))["generated_at"]
        .as_str()
        .unwrap()
        .to_string();
    for name in ["portfolio.md", "portfolio.html"] {
        let text = std::fs::read_to_string(port.join(name))
            .unwrap()
            .replace(&generated, "<generated_at>")
            .replace(env!("CARGO_PKG_VERSION"), "<version>");
        insta::assert_snapshot!(name.replace('.', "-"), text);
    }
}

/// With `--sign`, each tenant's run is signed and appended to the ledger its fleet entry names;
/// the portfolio shows the tenant's last runs from that ledger as a trend.
#[test]
fn signed_fleet_runs_go_to_each_tenants_ledger_and_the_portfolio_shows_the_trend() {
    let tmp = tempfile::tempdir().unwrap();
    let o = run(bin()
        .args(["keygen", "--unencrypted", "--out"])
        .arg(tmp.path().join("k")));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let key = tmp.path().join("k.key");
    let f = tmp.path().join("fleet.toml");
    std::fs::write(
        &f,
        format!(
            "[[tenants]]\nslug = \"contoso\"\nbundle = {:?}\nledger = \"ledgers/contoso\"\n[[tenants]]\nslug = \"fabrikam\"\nbundle = {:?}\n",
            fixture("contoso-demo"),
            fixture("fabrikam-misconfigured")
        ),
    )
    .unwrap();
    for day in [
        "2026-11-20T12:00:00Z",
        "2026-11-21T12:00:00Z",
        "2026-11-22T12:00:00Z",
    ] {
        let (code, out, err) = siemproof(
            &["fleet", "audit", "--resume", "--as-of", day, "--sign"],
            &[&key, &f],
        );
        assert_eq!(code, 1, "{out}{err}");
    }
    let ledger = tmp.path().join("ledgers/contoso");
    let (code, out, _) = siemproof(
        &["ledger", "verify", "--pubkey"],
        &[&tmp.path().join("k.pub"), &ledger],
    );
    assert!(matches!(code, 0 | 1), "{out}");
    assert!(
        !out.contains("FAIL") && !out.to_lowercase().contains("broken"),
        "{out}"
    );
    let port = tmp.path().join("portfolio");
    let (code, _, err) = siemproof(&["fleet", "report", "--out"], &[&port, &f]);
    assert_eq!(code, 1, "{err}");
    let p = json(&port.join("portfolio.json"));
    let row = |slug: &str| {
        p["tenants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["slug"] == slug)
            .unwrap()
            .clone()
    };
    let trend = row("contoso")["trend"].as_array().unwrap().clone();
    let seqs: Vec<u64> = trend.iter().map(|t| t["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, [1, 2, 3], "{trend:?}");
    assert_eq!(trend[2]["as_of"], "2026-11-22T12:00:00Z");
    assert_eq!(row("fabrikam")["trend"], serde_json::json!([]));
    let html = std::fs::read_to_string(port.join("portfolio.html")).unwrap();
    assert_eq!(
        html.matches("runs from the ledger").count(),
        1,
        "one sparkline"
    );
    let md = std::fs::read_to_string(port.join("portfolio.md")).unwrap();
    assert!(md.contains("of the last 3 runs"), "{md}");
}
