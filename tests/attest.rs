//! `siemproof attest`: writes a loadable attestations/<ID>.toml for a manual check, records the
//! reference file's SHA-256, refuses automated or unknown checks and impossible dates (exit 2),
//! and the written file turns the manual check into `pass` in an audit.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use chrono::NaiveDate;
use siemproof::attest::Attestation;
use siemproof::audit;
use siemproof::catalog::Catalog;
use siemproof::engine::Scope;
use siemproof::results::Status;
use siemproof::selftest;

fn attest(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_siemproof"))
        .arg("attest")
        .args(args)
        .output()
        .expect("siemproof runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn writes_a_loadable_attestation_with_the_file_hash() {
    let t = tempfile::tempdir().unwrap();
    let shot = t.path().join("streaming-api.png");
    std::fs::write(&shot, b"not really a png").unwrap();
    let out = t.path().join("attestations");
    let o = attest(&[
        "--check",
        "def-streaming-api",
        "--statement",
        "Streaming API exports AlertInfo, AlertEvidence, Device* to psiem-namespace",
        "--by",
        "Jane Doe <jane@contoso.example>",
        "--date",
        "2026-11-18",
        "--expires",
        "2027-05-18",
        "--ticket",
        "CHG-4711",
        "--file",
        shot.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let path = out.join("DEF-STREAMING-API.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let today = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
    let a = Attestation::parse(&text, &path.display().to_string(), today).unwrap();
    assert_eq!(a.check, "DEF-STREAMING-API");
    assert_eq!(a.attested_by, "Jane Doe <jane@contoso.example>");
    assert_eq!(a.date, NaiveDate::from_ymd_opt(2026, 11, 18).unwrap());
    assert_eq!(a.expires, NaiveDate::from_ymd_opt(2027, 5, 18).unwrap());
    assert!(a.valid);
    let r = a.reference.clone().unwrap();
    assert_eq!(r.ticket.as_deref(), Some("CHG-4711"));
    assert!(r.file.unwrap().ends_with("streaming-api.png"));
    use sha2::Digest;
    let want = hex::encode(sha2::Sha256::digest(b"not really a png"));
    assert_eq!(r.sha256.as_deref(), Some(want.as_str()));

    // The file satisfies the manual check in an audit, and no longer once it has expired.
    let catalog = Catalog::load(&[]).unwrap();
    let lc = catalog.find("DEF-STREAMING-API").unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/checks/DEF-STREAMING-API/manual-no-hubs.json");
    let model = selftest::load_fixture(&fixture).unwrap();
    let scope = Scope::new(&model);
    let r = audit::assess_one(
        lc,
        &scope,
        &model,
        std::slice::from_ref(&a),
        &BTreeMap::new(),
    );
    assert_eq!(r.status, Status::Pass);
    assert!(r.reason.unwrap().contains("Jane Doe"));
    let later = NaiveDate::from_ymd_opt(2027, 6, 1).unwrap();
    let stale = Attestation::parse(&text, "x", later).unwrap();
    let r = audit::assess_one(lc, &scope, &model, &[stale], &BTreeMap::new());
    assert_eq!(r.status, Status::Manual);

    // No silent overwrite; --force replaces it. The positional form works too.
    let again = [
        "DEF-STREAMING-API",
        "--statement",
        "re-checked",
        "--by",
        "Jane Doe",
        "--expires",
        "2099-01-01",
        "--out",
        out.to_str().unwrap(),
    ];
    let o = attest(&again);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("already exists"), "{}", stderr(&o));
    let mut forced = again.to_vec();
    forced.push("--force");
    let o = attest(&forced);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(std::fs::read_to_string(&path)
        .unwrap()
        .contains("re-checked"));
}

#[test]
fn refuses_unknown_automated_checks_and_bad_dates() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("a");
    let out_s = out.to_str().unwrap();
    let run = |check: &str, expires: &str, extra: &[&str]| {
        let mut v = vec![
            "--check",
            check,
            "--statement",
            "s",
            "--by",
            "me",
            "--date",
            "2026-11-20",
            "--expires",
            expires,
            "--out",
            out_s,
        ];
        v.extend_from_slice(extra);
        attest(&v)
    };
    let o = run("NO-SUCH-CHECK", "2027-01-01", &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("NO-SUCH-CHECK"), "{}", stderr(&o));

    let o = run("EH-HUB-ACTIVE", "2027-01-01", &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("automated"), "{}", stderr(&o));

    let o = run("DEF-MDCA-EXPORT", "2026-01-01", &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--expires"), "{}", stderr(&o));

    let o = run("DEF-MDCA-EXPORT", "31/12/2027", &[]);
    assert_eq!(o.status.code(), Some(2));

    let o = run(
        "DEF-MDCA-EXPORT",
        "2027-01-01",
        &["--file", "/nonexistent/shot.png"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("shot.png"), "{}", stderr(&o));

    assert!(!out.exists(), "nothing written for refused attestations");
}
