//! `siemproof verify`: the same checks an auditor makes with `sha256sum -c` and `minisign -V`,
//! plus the ones stock tools cannot make: files nobody listed, and the binding of the trusted
//! comment to results.json and the evidence manifest.
//!
//! Every problem is collected and named (a missing file does not hide an altered one), and the
//! verdict is "verified" only when the list is empty.

use std::path::Path;

use anyhow::{anyhow, Context, Result};
use minisign::{PublicKey, SignatureBox};

use super::sums::{self, SIG, SUMS};
use super::{keys, Binding, EVIDENCE_DIR};
use crate::results::Results;

/// One thing wrong with a signed output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// Listed in SHA256SUMS, not present.
    Missing(String),
    /// Present, not listed.
    Extra(String),
    /// Present, hash differs.
    Altered {
        path: String,
        expected: String,
        actual: String,
    },
    /// A symbolic link or special file.
    Irregular(String),
    /// SHA256SUMS or its signature is absent or unreadable.
    Unsigned(String),
    /// The signature does not verify with the given key.
    BadSignature(String),
    /// The trusted comment does not match results.json or the evidence manifest.
    Binding(String),
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Missing(p) => write!(f, "missing: {p} (listed in {SUMS}, not present)"),
            Problem::Extra(p) => write!(f, "extra: {p} (present, not listed in {SUMS})"),
            Problem::Altered {
                path,
                expected,
                actual,
            } => write!(
                f,
                "altered: {path} (SHA-256 is {actual}, {SUMS} says {expected})"
            ),
            Problem::Irregular(p) => write!(f, "not a regular file: {p}"),
            Problem::Unsigned(m) => write!(f, "unsigned: {m}"),
            Problem::BadSignature(m) => write!(f, "signature: {m}"),
            Problem::Binding(m) => write!(f, "binding: {m}"),
        }
    }
}

/// What verification found.
#[derive(Debug, Default)]
pub struct Report {
    pub problems: Vec<Problem>,
    /// Files whose hash matched.
    pub checked: usize,
    pub key_id: Option<String>,
    pub trusted_comment: Option<String>,
    pub binding: Option<Binding>,
    /// A signed portfolio (`fleet report --sign`): the SHA-256 of `portfolio.json` the
    /// trusted comment names.
    pub portfolio: Option<String>,
    /// A signed period report (`period --sign`): the trusted comment, which names the period,
    /// its runs and the chain's state.
    pub period: Option<String>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Verifies the signed output in `dir` against `pk`.
pub fn verify_dir(dir: &Path, pk: &PublicKey) -> Result<Report> {
    if !dir.is_dir() {
        return Err(anyhow!("{}: not a directory", dir.display()));
    }
    let mut r = Report::default();
    let sums_path = dir.join(SUMS);
    let sums_text = match crate::files::read_bounded(&sums_path) {
        Ok(b) => b,
        Err(_) => {
            r.problems
                .push(Problem::Unsigned(format!("{SUMS} is missing")));
            return Ok(r);
        }
    };
    check_signature(dir, pk, &sums_text, &mut r);
    let text = String::from_utf8_lossy(&sums_text);
    let listed = match sums::parse(&text, SUMS) {
        Ok(s) => s,
        Err(e) => {
            r.problems.push(Problem::Unsigned(format!("{e:#}")));
            return Ok(r);
        }
    };
    let walk = sums::walk(dir)?;
    for p in &walk.irregular {
        r.problems.push(Problem::Irregular(p.clone()));
    }
    for (path, expected) in &listed {
        let full = dir.join(path);
        match std::fs::symlink_metadata(&full) {
            Err(_) => r.problems.push(Problem::Missing(path.clone())),
            Ok(m) if !m.file_type().is_file() => {
                if !walk.irregular.contains(path) {
                    r.problems.push(Problem::Irregular(path.clone()));
                }
            }
            Ok(_) => {
                let actual = sums::hash_file(&full)?;
                if &actual == expected {
                    r.checked += 1;
                } else {
                    r.problems.push(Problem::Altered {
                        path: path.clone(),
                        expected: expected.clone(),
                        actual,
                    });
                }
            }
        }
    }
    for f in &walk.files {
        if f != SUMS && f != SIG && !listed.contains_key(f) {
            r.problems.push(Problem::Extra(f.clone()));
        }
    }
    check_binding(dir, &mut r);
    Ok(r)
}

fn check_signature(dir: &Path, pk: &PublicKey, sums_text: &[u8], r: &mut Report) {
    let sig_text = match crate::files::read_text_bounded(&dir.join(SIG)) {
        Ok(t) => t,
        Err(_) => {
            r.problems
                .push(Problem::Unsigned(format!("{SIG} is missing")));
            return;
        }
    };
    let sig = match SignatureBox::from_string(&sig_text) {
        Ok(s) => s,
        Err(e) => {
            r.problems.push(Problem::BadSignature(format!(
                "{SIG} is not a minisign signature: {e}"
            )));
            return;
        }
    };
    // Checked before verifying so that a wrong key is reported as such, not as tampering.
    let sig_key = keys::key_id(sig.keynum());
    let pk_key = keys::key_id(pk.keynum());
    if sig_key != pk_key {
        r.problems.push(Problem::BadSignature(format!(
            "{SIG} was made by key {sig_key}, the public key given is {pk_key}"
        )));
        return;
    }
    if !sig.is_prehashed() {
        r.problems.push(Problem::BadSignature(format!(
            "{SIG} is a legacy (non-prehashed) signature; siemproof accepts only prehashed ones"
        )));
        return;
    }
    match minisign::verify(
        pk,
        &sig,
        std::io::Cursor::new(sums_text),
        true,
        false,
        false,
    ) {
        Ok(()) => {
            r.key_id = Some(pk_key);
            match sig.trusted_comment() {
                Ok(c) => {
                    r.binding = Binding::parse(&c);
                    r.portfolio = portfolio_binding(&c);
                    r.period = PeriodBinding::parse(&c).map(|_| c.clone());
                    if r.binding.is_none() && r.portfolio.is_none() && r.period.is_none() {
                        r.problems.push(Problem::Binding(format!(
                            "trusted comment {c:?} does not carry `siemproof run:<id> evidence-manifest-sha256:<hex>`"
                        )));
                    }
                    r.trusted_comment = Some(c);
                }
                Err(e) => r
                    .problems
                    .push(Problem::Binding(format!("no trusted comment: {e}"))),
            }
        }
        Err(e) => r.problems.push(Problem::BadSignature(format!(
            "{SIG} does not verify {SUMS} with key {pk_key}: {e}"
        ))),
    }
}

/// The `portfolio.json` hash a portfolio's trusted comment names
/// (`siemproof portfolio:<hex> tenants:<n> exit:<code>`).
fn portfolio_binding(comment: &str) -> Option<String> {
    let mut words = comment.split_whitespace();
    if words.next()? != "siemproof" {
        return None;
    }
    let h = words.next()?.strip_prefix("portfolio:")?;
    (h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit())).then(|| h.to_ascii_lowercase())
}

/// A portfolio's trusted comment must name `portfolio.json`'s hash, and `portfolio.json` each
/// tenant's copied results by theirs.
fn check_portfolio(dir: &Path, sha: &str, r: &mut Report) {
    let path = dir.join("portfolio.json");
    let bytes = match crate::files::read_bounded(&path) {
        Ok(b) => b,
        Err(_) => {
            r.problems.push(Problem::Binding(format!(
                "portfolio.json is missing; the signature binds portfolio {sha}"
            )));
            return;
        }
    };
    let h = crate::evidence::sha256_hex(&bytes);
    if h != sha {
        r.problems.push(Problem::Binding(format!(
            "portfolio.json has SHA-256 {h}, the signed comment says {sha}"
        )));
        return;
    }
    #[derive(serde::Deserialize)]
    struct Row {
        slug: String,
        results_sha256: Option<String>,
        results: bool,
    }
    #[derive(serde::Deserialize)]
    struct P {
        tenants: Vec<Row>,
    }
    let p: P = match serde_json::from_slice(&bytes) {
        Ok(p) => p,
        Err(e) => {
            r.problems.push(Problem::Binding(format!(
                "portfolio.json: cannot read: {e}"
            )));
            return;
        }
    };
    for t in p.tenants.iter().filter(|t| t.results) {
        let rel = format!("tenants/{}/results.json", t.slug);
        if !crate::fleet::file::is_slug(&t.slug) {
            r.problems.push(Problem::Binding(format!(
                "portfolio.json names tenant {:?}, which is not a slug",
                t.slug
            )));
            continue;
        }
        match (sums::hash_file(&dir.join(&rel)), &t.results_sha256) {
            (Ok(h), Some(want)) if &h == want => {}
            (Ok(h), want) => r.problems.push(Problem::Binding(format!(
                "{rel} has SHA-256 {h}, portfolio.json says {}",
                want.as_deref().unwrap_or("nothing")
            ))),
            (Err(_), _) => r.problems.push(Problem::Binding(format!(
                "{rel} is missing; portfolio.json lists its results"
            ))),
        }
    }
}

/// What a period report's trusted comment says
/// (`siemproof period:<from>..<to> runs:<n> chain:intact|broken`).
#[derive(Debug, PartialEq)]
struct PeriodBinding {
    from: String,
    to: String,
    runs: usize,
    chain_intact: bool,
}

impl PeriodBinding {
    fn parse(comment: &str) -> Option<PeriodBinding> {
        let mut words = comment.split_whitespace();
        if words.next()? != "siemproof" {
            return None;
        }
        let (from, to) = words.next()?.strip_prefix("period:")?.split_once("..")?;
        let runs = words.next()?.strip_prefix("runs:")?.parse().ok()?;
        let chain_intact = match words.next()?.strip_prefix("chain:")? {
            "intact" => true,
            "broken" => false,
            _ => return None,
        };
        Some(PeriodBinding {
            from: from.to_string(),
            to: to.to_string(),
            runs,
            chain_intact,
        })
    }
}

/// A period report's trusted comment must say what its `period.json` says.
fn check_period(dir: &Path, comment: &str, r: &mut Report) {
    let Some(want) = PeriodBinding::parse(comment) else {
        return;
    };
    #[derive(serde::Deserialize)]
    struct Ledger {
        chain_intact: bool,
    }
    #[derive(serde::Deserialize)]
    struct P {
        from: String,
        to: String,
        runs: Vec<serde::de::IgnoredAny>,
        ledger: Ledger,
    }
    let read = crate::files::read_bounded(&dir.join("period.json"))
        .map_err(anyhow::Error::from)
        .and_then(|b| serde_json::from_slice::<P>(&b).map_err(anyhow::Error::from));
    match read {
        Ok(p) => {
            let got = PeriodBinding {
                from: p.from,
                to: p.to,
                runs: p.runs.len(),
                chain_intact: p.ledger.chain_intact,
            };
            if got != want {
                r.problems.push(Problem::Binding(format!(
                    "period.json is {}..{} with {} runs (chain {}), the signed comment says {comment:?}",
                    got.from,
                    got.to,
                    got.runs,
                    if got.chain_intact { "intact" } else { "broken" }
                )));
            }
        }
        Err(e) => r.problems.push(Problem::Binding(format!(
            "period.json: cannot read: {e:#}; the signature binds {comment:?}"
        ))),
    }
}

/// The trusted comment must name the run in results.json and the hash of the evidence manifest.
fn check_binding(dir: &Path, r: &mut Report) {
    if let Some(sha) = r.portfolio.clone() {
        check_portfolio(dir, &sha, r);
        return;
    }
    if let Some(c) = r.period.clone() {
        check_period(dir, &c, r);
        return;
    }
    let Some(b) = r.binding.clone() else { return };
    let manifest = dir.join(EVIDENCE_DIR).join("manifest.json");
    match sums::hash_file(&manifest) {
        Ok(h) if h == b.evidence_manifest_sha256 => {}
        Ok(h) => r.problems.push(Problem::Binding(format!(
            "{EVIDENCE_DIR}/manifest.json has SHA-256 {h}, the signed comment says {}",
            b.evidence_manifest_sha256
        ))),
        Err(_) => r.problems.push(Problem::Binding(format!(
            "{EVIDENCE_DIR}/manifest.json is missing; the signature binds evidence {}",
            b.evidence_manifest_sha256
        ))),
    }
    // The evidence copy must also agree with its own manifest (what `siemproof audit` checks).
    if manifest.is_file() {
        if let Err(e) = crate::evidence::Bundle::verified(&dir.join(EVIDENCE_DIR)) {
            r.problems.push(Problem::Binding(format!(
                "evidence bundle does not verify: {e}"
            )));
        }
    }
    let results = dir.join("results.json");
    if !results.exists() {
        r.problems.push(Problem::Binding(
            "results.json is missing; the signature binds run ".to_string() + &b.run_id,
        ));
        return;
    }
    match Results::load(&results) {
        Ok(res) => {
            if res.run.id != b.run_id {
                r.problems.push(Problem::Binding(format!(
                    "results.json is run {}, the signed comment says run {}",
                    res.run.id, b.run_id
                )));
            }
            if res.run.evidence_manifest_sha256 != b.evidence_manifest_sha256 {
                r.problems.push(Problem::Binding(format!(
                    "results.json was computed from evidence manifest {}, the signed comment says {}",
                    res.run.evidence_manifest_sha256, b.evidence_manifest_sha256
                )));
            }
        }
        Err(e) => r.problems.push(Problem::Binding(format!(
            "results.json: cannot read: {e:#}"
        ))),
    }
}

/// Verifies a directory or a `.tar.gz` written by `siemproof export`.
pub fn verify_path(path: &Path, pubkey: &Path) -> Result<Report> {
    let pk = keys::load_public(pubkey)?;
    let meta =
        std::fs::metadata(path).with_context(|| format!("{}: cannot read", path.display()))?;
    if meta.is_dir() {
        return verify_dir(path, &pk);
    }
    let tmp = tempfile::Builder::new()
        .prefix("siemproof-verify-")
        .tempdir()
        .context("cannot create a temporary directory")?;
    let root = super::archive::extract(path, tmp.path())?;
    verify_dir(&root, &pk)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_period_comment_must_say_what_period_json_says() {
        let c = "siemproof period:2026-11-20..2027-02-17 runs:90 chain:intact";
        let b = PeriodBinding::parse(c).unwrap();
        assert_eq!((b.runs, b.chain_intact), (90, true));
        assert!(PeriodBinding::parse("siemproof run:x evidence-manifest-sha256:y").is_none());
        assert!(PeriodBinding::parse("siemproof period:a..b runs:x chain:intact").is_none());
        let d = tempfile::tempdir().unwrap();
        let period = |runs: usize| {
            let runs: Vec<u8> = vec![0; runs];
            serde_json::json!({"from": "2026-11-20", "to": "2027-02-17", "runs": runs,
                "ledger": {"chain_intact": true}})
            .to_string()
        };
        std::fs::write(d.path().join("period.json"), period(90)).unwrap();
        let mut r = Report::default();
        check_period(d.path(), c, &mut r);
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        std::fs::write(d.path().join("period.json"), period(89)).unwrap();
        check_period(d.path(), c, &mut r);
        assert_eq!(r.problems.len(), 1);
        assert!(
            r.problems[0].to_string().contains("89 runs"),
            "{}",
            r.problems[0]
        );
    }
}
