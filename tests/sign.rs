//! Signed outputs end to end: siemproof's signatures verify with Debian's `minisign` and
//! `sha256sum -c`, minisign's verify with siemproof, and any added, removed or altered file is
//! detected and named, in a directory and in an exported archive.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::*;

fn keygen(dir: &Path) -> (PathBuf, PathBuf) {
    let prefix = dir.join("siemproof");
    let o = run(bin()
        .args(["keygen", "--unencrypted", "--out"])
        .arg(&prefix));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    (dir.join("siemproof.key"), dir.join("siemproof.pub"))
}

fn verify(path: &Path, pubkey: &Path) -> (i32, String) {
    let o = run(bin().arg("verify").arg(path).arg("--pubkey").arg(pubkey));
    (o.status.code().unwrap_or(-1), text(&o))
}

fn have_minisign() -> bool {
    require("minisign", Command::new("minisign").arg("-v"))
}

fn have_sha256sum() -> bool {
    require("sha256sum", Command::new("sha256sum").arg("--version"))
}

#[test]
fn signed_audit_verifies_with_stock_tools_and_siemproof() {
    let tmp = tempfile::tempdir().unwrap();
    let (key, pubkey) = keygen(tmp.path());
    let (_bundle, out) = audit(tmp.path(), "Disabled", Some(&key));
    for f in [
        "results.json",
        "report.html",
        "oscal/assessment-results.json",
        "evidence/manifest.json",
        "evidence/siemproof.toml",
        "SHA256SUMS",
        "SHA256SUMS.minisig",
    ] {
        assert!(out.join(f).is_file(), "{f} missing from the signed output");
    }
    let sums = std::fs::read_to_string(out.join("SHA256SUMS")).unwrap();
    assert!(sums.contains("  evidence/raw/arm/arm.eventhub.eventhubs.json\n"));
    assert!(sums.contains("  results.json\n"));
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("results.json")).unwrap()).unwrap();
    let run_id = results["run"]["id"].as_str().unwrap().to_string();
    let manifest_sha = results["run"]["evidence_manifest_sha256"].as_str().unwrap();

    let (code, t) = verify(&out, &pubkey);
    assert_eq!(code, 0, "{t}");
    assert!(t.contains(&run_id), "{t}");

    // The report states its own signature to the auditor, with the key id the public key has
    // (minisign's untrusted comment names it), and says plainly when the evidence was unsigned.
    let key_id = results["run"]["signatures"]["report_key_id"]
        .as_str()
        .expect("the signing key id is recorded")
        .to_string();
    let pub_text = std::fs::read_to_string(&pubkey).unwrap();
    assert!(
        pub_text.contains(&key_id),
        "{key_id} is not the key of {pub_text}"
    );
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        html.contains(&format!("Signed with minisign key {key_id}")),
        "signature line"
    );
    assert!(
        html.contains("The evidence manifest is unsigned"),
        "evidence line"
    );
    let unsigned = tempfile::tempdir().unwrap();
    let (_b, plain) = audit(unsigned.path(), "Disabled", None);
    let html = std::fs::read_to_string(plain.join("report.html")).unwrap();
    assert!(
        html.contains("UNSIGNED: nothing proves this output"),
        "unsigned line"
    );

    if have_sha256sum() {
        let o = run(Command::new("sha256sum")
            .args(["-c", "--strict", "SHA256SUMS"])
            .current_dir(&out));
        assert!(o.status.success(), "sha256sum -c: {}", text(&o));
    }
    if have_minisign() {
        let o = run(Command::new("minisign")
            .args(["-Vm", "SHA256SUMS", "-p"])
            .arg(&pubkey)
            .current_dir(&out));
        assert!(o.status.success(), "minisign -V: {}", text(&o));
        let t = text(&o);
        assert!(
            t.contains(&format!(
                "siemproof run:{run_id} evidence-manifest-sha256:{manifest_sha}"
            )),
            "trusted comment not shown by minisign: {t}"
        );
    }
}

/// Each tampering is detected (exit 1) and the file named.
#[test]
fn any_added_removed_or_altered_file_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let (key, pubkey) = keygen(tmp.path());
    let (_bundle, out) = audit(tmp.path(), "Disabled", Some(&key));
    type Tamper = fn(&Path);
    let cases: Vec<(&str, &str, Tamper)> = vec![
        ("altered", "report.html", |d| {
            let p = d.join("report.html");
            let mut b = std::fs::read(&p).unwrap();
            b[10] ^= 1;
            std::fs::write(p, b).unwrap();
        }),
        (
            "altered",
            "evidence/raw/arm/arm.eventhub.eventhubs.json",
            |d| {
                let p = d.join("evidence/raw/arm/arm.eventhub.eventhubs.json");
                let t = std::fs::read_to_string(&p)
                    .unwrap()
                    .replace("Disabled", "Active");
                std::fs::write(p, t).unwrap();
            },
        ),
        ("missing", "findings.csv", |d| {
            std::fs::remove_file(d.join("findings.csv")).unwrap()
        }),
        ("missing", "evidence/manifest.json", |d| {
            std::fs::remove_file(d.join("evidence/manifest.json")).unwrap()
        }),
        ("extra", "evidence/raw/arm/injected.json", |d| {
            std::fs::write(d.join("evidence/raw/arm/injected.json"), b"{}").unwrap()
        }),
        ("extra", "notes.txt", |d| {
            std::fs::write(d.join("notes.txt"), b"hello").unwrap()
        }),
        ("signature", "SHA256SUMS.minisig", |d| {
            // Re-listing a changed file in SHA256SUMS breaks the signature instead.
            let p = d.join("SHA256SUMS");
            let t = std::fs::read_to_string(&p).unwrap();
            let first = t.lines().next().unwrap().to_string();
            let changed = format!("{}{}", "0".repeat(64), &first[64..]);
            std::fs::write(p, t.replacen(&first, &changed, 1)).unwrap();
        }),
    ];
    for (i, (what, file, tamper)) in cases.iter().enumerate() {
        let d = tmp.path().join(format!("case{i}"));
        copy_tree(&out, &d);
        assert_eq!(verify(&d, &pubkey).0, 0, "untampered copy {i} must verify");
        tamper(&d);
        let (code, t) = verify(&d, &pubkey);
        assert_eq!(code, 1, "case {what} {file}: {t}");
        assert!(
            t.lines()
                .any(|l| l.starts_with("FAIL") && l.contains(what) && l.contains(file)),
            "case {what} {file} not named: {t}"
        );
    }
    // A different key is named as such.
    let other = tmp.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    let (_k, other_pub) = keygen(&other);
    let (code, t) = verify(&out, &other_pub);
    assert_eq!(code, 1, "{t}");
    assert!(t.contains("was made by key"), "{t}");
}

#[test]
fn a_signature_made_by_minisign_verifies_with_siemproof() {
    if !have_minisign() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (key, _pub) = keygen(tmp.path());
    let (_bundle, out) = audit(tmp.path(), "Active", Some(&key));
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("results.json")).unwrap()).unwrap();
    let comment = format!(
        "siemproof run:{} evidence-manifest-sha256:{}",
        results["run"]["id"].as_str().unwrap(),
        results["run"]["evidence_manifest_sha256"].as_str().unwrap()
    );
    let msec = tmp.path().join("m.key");
    let mpub = tmp.path().join("m.pub");
    let pw = "minisign-made password";
    // minisign reads the password from standard input when it is not a terminal.
    let minisign = |args: &[&std::ffi::OsStr]| {
        let mut c = Command::new("minisign");
        c.args(args)
            .current_dir(&out)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = c.spawn().unwrap();
        use std::io::Write as _;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{pw}\n{pw}\n").as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let o = minisign(&[
        "-G".as_ref(),
        "-p".as_ref(),
        mpub.as_os_str(),
        "-s".as_ref(),
        msec.as_os_str(),
    ]);
    assert!(o.status.success(), "minisign -G: {}", text(&o));
    let sign_with = |comment: &str| {
        let o = minisign(&[
            "-S".as_ref(),
            "-s".as_ref(),
            msec.as_os_str(),
            "-m".as_ref(),
            "SHA256SUMS".as_ref(),
            "-t".as_ref(),
            comment.as_ref(),
        ]);
        assert!(o.status.success(), "minisign -S: {}", text(&o));
    };
    sign_with(&comment);
    let (code, t) = verify(&out, &mpub);
    assert_eq!(code, 0, "{t}");
    // The same key signing without the binding comment is refused by siemproof.
    sign_with("timestamp:1700000000");
    let (code, t) = verify(&out, &mpub);
    assert_eq!(code, 1, "{t}");
    assert!(t.contains("binding"), "{t}");
    // And siemproof signs with a key minisign generated.
    let o = run(bin()
        .arg("sign")
        .arg(&out)
        .arg("--key")
        .arg(&msec)
        .env("SIEMPROOF_SIGNING_PASSWORD", pw));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(verify(&out, &mpub).0, 0);
    // minisign's unencrypted keys (-W, zero checksum) are refused with an explanation.
    let wsec = tmp.path().join("w.key");
    let wpub = tmp.path().join("w.pub");
    let o = run(Command::new("minisign")
        .args(["-G", "-W", "-p"])
        .arg(&wpub)
        .arg("-s")
        .arg(&wsec));
    assert!(o.status.success(), "{}", text(&o));
    let o = run(bin().arg("sign").arg(&out).arg("--key").arg(&wsec));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("siemproof keygen --unencrypted"),
        "{}",
        text(&o)
    );
}

#[test]
fn encrypted_key_needs_its_password_and_never_prints_it() {
    let tmp = tempfile::tempdir().unwrap();
    let prefix = tmp.path().join("enc");
    let password = "correct horse battery staple 42";
    // Without a password and without a terminal, keygen refuses instead of hanging.
    let o = run(bin().args(["keygen", "--out"]).arg(&prefix));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = run(bin()
        .args(["keygen", "--out"])
        .arg(&prefix)
        .env("SIEMPROOF_SIGNING_PASSWORD", password));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(!text(&o).contains(password));
    let key = tmp.path().join("enc.key");
    let pubkey = tmp.path().join("enc.pub");
    let key_text = std::fs::read_to_string(&key).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "secret key must be private");
    }
    // An unsigned report, signed afterwards with the key from the environment.
    let (bundle, out) = audit(tmp.path(), "Active", None);
    assert!(!out.join("SHA256SUMS").exists());
    let o = run(bin()
        .arg("sign")
        .arg(&out)
        .arg("--bundle")
        .arg(&bundle)
        .env("SIEMPROOF_SIGNING_KEY", &key_text)
        .env("SIEMPROOF_SIGNING_PASSWORD", "wrong password"));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let t = text(&o);
    assert!(!t.contains("wrong password") && !t.contains(key_text.lines().nth(1).unwrap()));
    let o = run(bin()
        .arg("sign")
        .arg(&out)
        .arg("--bundle")
        .arg(&bundle)
        .env("SIEMPROOF_SIGNING_KEY", &key_text)
        .env("SIEMPROOF_SIGNING_PASSWORD", password));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(!text(&o).contains(password));
    assert_eq!(verify(&out, &pubkey).0, 0);
    if have_minisign() {
        let o = run(Command::new("minisign")
            .args(["-Vm", "SHA256SUMS", "-p"])
            .arg(&pubkey)
            .current_dir(&out));
        assert!(o.status.success(), "{}", text(&o));
    }
}

#[test]
fn exported_archive_verifies_and_tampering_inside_it_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let (key, pubkey) = keygen(tmp.path());
    let (bundle, out) = audit(tmp.path(), "Disabled", None);
    let archive = tmp.path().join("audit.tar.gz");
    // Unsigned output without a key: refused.
    let o = run(bin()
        .arg("export")
        .arg(&out)
        .arg(&bundle)
        .arg("--out")
        .arg(&archive));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(!archive.exists(), "nothing half-written");
    let o = run(bin()
        .arg("export")
        .arg(&out)
        .arg(&bundle)
        .arg("--out")
        .arg(&archive)
        .arg("--sign")
        .arg(&key));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let (code, t) = verify(&archive, &pubkey);
    assert_eq!(code, 0, "{t}");

    // The auditor's path: tar, sha256sum, minisign.
    let x = tmp.path().join("x");
    std::fs::create_dir_all(&x).unwrap();
    let o = run(Command::new("tar").arg("xzf").arg(&archive).current_dir(&x));
    assert!(o.status.success(), "{}", text(&o));
    let top: Vec<_> = std::fs::read_dir(&x).unwrap().collect();
    assert_eq!(top.len(), 1, "one top-level directory");
    let root = top.into_iter().next().unwrap().unwrap().path();
    assert!(root.join("evidence/manifest.json").is_file());
    if have_sha256sum() {
        let o = run(Command::new("sha256sum")
            .args(["-c", "--strict", "SHA256SUMS"])
            .current_dir(&root));
        assert!(o.status.success(), "{}", text(&o));
    }
    if have_minisign() {
        let o = run(Command::new("minisign")
            .args(["-Vm", "SHA256SUMS", "-p"])
            .arg(&pubkey)
            .current_dir(&root));
        assert!(o.status.success(), "{}", text(&o));
    }
    // A signed directory exports without re-signing, and the archive still verifies.
    let (code, _) = verify(&root, &pubkey);
    assert_eq!(code, 0);
    let again = tmp.path().join("again.tar.gz");
    let o = run(bin().arg("export").arg(&root).arg("--out").arg(&again));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(verify(&again, &pubkey).0, 0);

    // Alter one evidence file inside the archive: named, exit 1.
    let ev = root.join("evidence/raw/arm/arm.eventhub.namespaces.json");
    let t = std::fs::read_to_string(&ev).unwrap().replace("1.2", "1.0");
    std::fs::write(&ev, t).unwrap();
    let bad = tmp.path().join("bad.tar.gz");
    let o = run(Command::new("tar")
        .arg("czf")
        .arg(&bad)
        .arg(root.file_name().unwrap())
        .current_dir(&x));
    assert!(o.status.success());
    let (code, t) = verify(&bad, &pubkey);
    assert_eq!(code, 1, "{t}");
    assert!(
        t.contains("altered: evidence/raw/arm/arm.eventhub.namespaces.json"),
        "{t}"
    );
}

/// Hostile archives are refused before anything is written outside the temporary directory.
#[test]
fn unsafe_archives_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (_key, pubkey) = keygen(tmp.path());
    let mk =
        |name: &str, build: &dyn Fn(&mut tar::Builder<flate2::write::GzEncoder<std::fs::File>>)| {
            let p = tmp.path().join(name);
            let f = std::fs::File::create(&p).unwrap();
            let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
                f,
                flate2::Compression::fast(),
            ));
            build(&mut b);
            b.into_inner().unwrap().finish().unwrap();
            p
        };
    let raw_entry = |b: &mut tar::Builder<flate2::write::GzEncoder<std::fs::File>>, path: &str| {
        let data = b"x";
        let mut h = tar::Header::new_gnu();
        // Written into the header bytes directly: the tar crate's setters refuse `..`.
        let name = &mut h.as_old_mut().name;
        name[..path.len()].copy_from_slice(path.as_bytes());
        h.set_size(1);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        b.append(&h, &data[..]).unwrap();
    };
    let dotdot = mk("dotdot.tar.gz", &|b| raw_entry(b, "top/../../escape.txt"));
    let absolute = mk("abs.tar.gz", &|b| raw_entry(b, "/tmp/siemproof-escape.txt"));
    let link = mk("link.tar.gz", &|b| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        h.set_mode(0o777);
        b.append_link(&mut h, "top/SHA256SUMS", "/etc/passwd")
            .unwrap();
    });
    for (p, why) in [
        (&dotdot, "unsafe path"),
        (&absolute, "unsafe path"),
        (&link, "Symlink"),
    ] {
        let (code, t) = verify(p, &pubkey);
        assert_eq!(code, 2, "{}: {t}", p.display());
        assert!(t.contains(why), "{}: {t}", p.display());
    }
    assert!(!tmp.path().join("escape.txt").exists());
    let junk = tmp.path().join("junk.tar.gz");
    std::fs::write(&junk, b"not an archive").unwrap();
    assert_eq!(verify(&junk, &pubkey).0, 2);
    assert_eq!(verify(&tmp.path().join("nope"), &pubkey).0, 2);
}
