//! Signed outputs: `SHA256SUMS` over every artifact of an audit, signed with minisign, so that an
//! auditor checks them with stock tools (`sha256sum -c`, `minisign -V`) and no siemproof.
//!
//! Layout of a signed output directory (see docs/verify.md):
//!
//! ```text
//! results.json, report.*, findings.*, oscal/*.json   the reports
//! evidence/manifest.json, evidence/raw/…              a verbatim copy of the evidence bundle
//! SHA256SUMS                                          every file above, relative paths
//! SHA256SUMS.minisig                                  minisign (prehashed) signature of SHA256SUMS
//! ```
//!
//! The signature's trusted comment is `siemproof run:<run id> evidence-manifest-sha256:<hex>`:
//! it is covered by the signature, so it binds the reports (whose results.json names the same
//! run and manifest hash) to exactly this evidence.

pub mod archive;
pub mod keys;
pub mod manifest;
pub mod sums;
pub mod verify;

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};

use crate::results::Results;

/// Where a signed output keeps its copy of the evidence bundle.
pub const EVIDENCE_DIR: &str = "evidence";

/// The binding carried in the trusted comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub run_id: String,
    pub evidence_manifest_sha256: String,
}

impl Binding {
    pub fn trusted_comment(&self) -> String {
        format!(
            "siemproof run:{} evidence-manifest-sha256:{}",
            self.run_id, self.evidence_manifest_sha256
        )
    }

    /// Parses a trusted comment written by [`Binding::trusted_comment`].
    pub fn parse(comment: &str) -> Option<Binding> {
        let mut words = comment.split_whitespace();
        if words.next()? != "siemproof" {
            return None;
        }
        let mut run_id = None;
        let mut sha = None;
        for w in words {
            if let Some(v) = w.strip_prefix("run:") {
                run_id = Some(v.to_string());
            } else if let Some(v) = w.strip_prefix("evidence-manifest-sha256:") {
                sha = Some(v.to_ascii_lowercase());
            }
        }
        Some(Binding {
            run_id: run_id?,
            evidence_manifest_sha256: sha?,
        })
    }
}

/// Writes a public file atomically (temporary file beside it, then rename), readable by all:
/// temporary files start private, which suits secret keys but not public keys or checksums.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_mode(path, bytes, 0o644)
}

/// Writes a file atomically with the given Unix permissions (ignored elsewhere).
pub fn write_atomic_mode(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("{}: cannot create a temporary file", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    std::io::Write::write_all(&mut tmp, bytes)?;
    tmp.persist(path)
        .with_context(|| format!("{}: cannot write", path.display()))?;
    Ok(())
}

/// The bundle's files as `(evidence/<path>, bytes)` pairs, after verifying the bundle against
/// its manifest: a signature must never cover evidence that was already altered.
pub fn bundle_files(bundle: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    crate::evidence::Bundle::verified(bundle).map_err(|e| anyhow!("{e}"))?;
    let w = sums::walk(bundle)?;
    let mut out = Vec::new();
    for rel in w.files {
        let p = bundle.join(&rel);
        let bytes = std::fs::read(&p).with_context(|| format!("{}: cannot read", p.display()))?;
        out.push((format!("{EVIDENCE_DIR}/{rel}"), bytes));
    }
    Ok(out)
}

/// Replaces `dir/evidence` with a copy of `bundle`.
pub fn copy_bundle_into(bundle: &Path, dir: &Path) -> Result<()> {
    let files = bundle_files(bundle)?;
    let target = dir.join(EVIDENCE_DIR);
    if target.exists() {
        std::fs::remove_dir_all(&target)
            .with_context(|| format!("{}: cannot replace", target.display()))?;
    }
    for (rel, bytes) in files {
        let p = dir.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("{}: cannot create", parent.display()))?;
        }
        std::fs::write(&p, bytes).with_context(|| format!("{}: cannot write", p.display()))?;
    }
    Ok(())
}

/// What `sign_dir` produced.
#[derive(Debug)]
pub struct Signed {
    pub sums: PathBuf,
    pub signature: PathBuf,
    pub files: usize,
    pub binding: Binding,
    pub key_id: String,
}

/// Reads the binding of a report directory from its results.json and checks that its evidence
/// copy is the bundle that results.json was computed from.
pub fn binding_of(dir: &Path) -> Result<Binding> {
    let results = Results::load(&dir.join("results.json"))?;
    let manifest = dir.join(EVIDENCE_DIR).join("manifest.json");
    if !manifest.is_file() {
        bail!(
            "{}: no evidence copy; pass the bundle (`siemproof sign DIR --bundle BUNDLE`) so the signature covers the evidence",
            manifest.display()
        );
    }
    // The copy must be a consistent bundle: every file its manifest lists, unaltered.
    crate::evidence::Bundle::verified(&dir.join(EVIDENCE_DIR)).map_err(|e| anyhow!("{e}"))?;
    let actual = sums::hash_file(&manifest)?;
    if actual != results.run.evidence_manifest_sha256 {
        bail!(
            "{}: SHA-256 is {actual}, but results.json was computed from a manifest with {}; this is not the audited evidence",
            manifest.display(),
            results.run.evidence_manifest_sha256
        );
    }
    Ok(Binding {
        run_id: results.run.id,
        evidence_manifest_sha256: actual,
    })
}

/// Writes `SHA256SUMS` over every file in `dir` and signs it with `sk`.
pub fn sign_dir(dir: &Path, sk: &minisign::SecretKey) -> Result<Signed> {
    let binding = binding_of(dir)?;
    let sums = sums::compute(dir)?;
    let text = sums::render(&sums);
    let pk = keys::public_of(sk)?;
    let key_id = keys::key_id(pk.keynum());
    let sig = minisign::sign(
        Some(&pk),
        sk,
        std::io::Cursor::new(text.as_bytes()),
        Some(&binding.trusted_comment()),
        Some(&format!("signature from siemproof key {key_id}")),
    )
    .map_err(|e| anyhow!("cannot sign {}: {e}", sums::SUMS))?;
    let sums_path = dir.join(sums::SUMS);
    let sig_path = dir.join(sums::SIG);
    write_atomic(&sums_path, text.as_bytes())?;
    let mut sig_text = sig.to_string();
    if !sig_text.ends_with('\n') {
        sig_text.push('\n');
    }
    write_atomic(&sig_path, sig_text.as_bytes())?;
    Ok(Signed {
        sums: sums_path,
        signature: sig_path,
        files: sums.len(),
        binding,
        key_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trusted_comment_round_trips() {
        let b = Binding {
            run_id: "0b6f6a1e-3c6f-4f7a-9d5e-1f2a3b4c5d6e".into(),
            evidence_manifest_sha256: "ab".repeat(32),
        };
        assert_eq!(Binding::parse(&b.trusted_comment()), Some(b));
        assert_eq!(Binding::parse("timestamp:1700000000"), None);
    }
}
