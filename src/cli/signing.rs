//! `keygen`, `sign`, `verify` and `export`: signed evidence auditors check with stock tools.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Args;

#[derive(Args)]
pub struct KeygenArgs {
    /// Writes PREFIX.key (secret) and PREFIX.pub (public)
    #[arg(long, value_name = "PREFIX")]
    pub out: PathBuf,
    /// Do not encrypt the secret key (for CI keys held in a secret store)
    #[arg(long)]
    pub unencrypted: bool,
    /// Overwrite existing key files
    #[arg(long)]
    pub force: bool,
}

#[derive(Args)]
pub struct SignArgs {
    /// A report directory written by `siemproof audit` (results.json and reports), or an
    /// evidence bundle (then its manifest is signed into manifest.json.minisig)
    pub dir: PathBuf,
    /// minisign secret key file (default: the contents of SIEMPROOF_SIGNING_KEY)
    #[arg(long)]
    pub key: Option<PathBuf>,
    /// Copy this evidence bundle into DIR/evidence first (needed unless DIR already has it)
    #[arg(long)]
    pub bundle: Option<PathBuf>,
}

#[derive(Args)]
pub struct VerifyArgs {
    /// A signed report directory, a .tar.gz written by `siemproof export`, or an evidence
    /// bundle with a signed manifest (manifest.json.minisig)
    pub path: PathBuf,
    /// The signer's minisign public key
    #[arg(long)]
    pub pubkey: PathBuf,
}

#[derive(Args)]
pub struct ExportArgs {
    /// A report directory written by `siemproof audit`
    pub results_dir: PathBuf,
    /// The evidence bundle (omit when the directory already holds a signed evidence/ copy)
    pub bundle: Option<PathBuf>,
    /// The archive to write
    #[arg(long, value_name = "FILE.tar.gz")]
    pub out: PathBuf,
    /// Sign the archived copy with this minisign secret key; `-` reads SIEMPROOF_SIGNING_KEY
    #[arg(long, value_name = "KEY")]
    pub sign: Option<PathBuf>,
    /// Replace an existing file at --out
    #[arg(long)]
    pub force: bool,
}

/// `--sign KEY` / `--key KEY`: a file, or `-` for SIEMPROOF_SIGNING_KEY.
pub(crate) fn load_signing_key(k: &Path) -> Result<minisign::SecretKey> {
    if k == Path::new("-") {
        crate::sign::keys::load_secret(None)
    } else {
        crate::sign::keys::load_secret(Some(k))
    }
}

pub(crate) fn keygen_cmd(a: &KeygenArgs, out: &mut dyn Write) -> Result<u8> {
    let g = crate::sign::keys::keygen(&a.out, a.unencrypted, a.force)?;
    writeln!(
        out,
        "wrote {} (secret, keep it private{}) and {} (public, give it to auditors); key id {}",
        g.secret.display(),
        if a.unencrypted { ", NOT encrypted" } else { "" },
        g.public.display(),
        g.key_id
    )?;
    Ok(0)
}

pub(crate) fn sign_cmd(a: &SignArgs, out: &mut dyn Write) -> Result<u8> {
    let sk = match &a.key {
        Some(k) => load_signing_key(k)?,
        None => crate::sign::keys::load_secret(None)?,
    };
    if a.bundle.is_none() && crate::files::is_bundle(&a.dir) && !a.dir.join("results.json").exists()
    {
        let s = crate::sign::manifest::sign_bundle(&a.dir, &sk)?;
        writeln!(
            out,
            "signed the evidence manifest of {}: wrote {} (key {}, manifest SHA-256 {})",
            a.dir.display(),
            s.signature.display(),
            s.key_id,
            s.manifest_sha256
        )?;
        return Ok(0);
    }
    if let Some(b) = &a.bundle {
        crate::sign::copy_bundle_into(b, &a.dir)?;
    }
    let s = crate::sign::sign_dir(&a.dir, &sk)?;
    writeln!(
        out,
        "signed {} files: wrote {} and {} (key {}, run {})",
        s.files,
        s.sums.display(),
        s.signature.display(),
        s.key_id,
        s.binding.run_id
    )?;
    Ok(0)
}

pub(crate) fn verify_cmd(a: &VerifyArgs, out: &mut dyn Write) -> Result<u8> {
    // A directory with a manifest and no SHA256SUMS is a bundle (even one whose manifest was
    // edited so far that it no longer reads as one).
    if a.path.join("manifest.json").is_file() && !a.path.join(crate::sign::sums::SUMS).exists() {
        return verify_bundle_cmd(a, out);
    }
    let r = crate::sign::verify::verify_path(&a.path, &a.pubkey)?;
    for p in &r.problems {
        writeln!(out, "FAIL {p}")?;
    }
    if let (true, Some(sha)) = (r.ok(), &r.portfolio) {
        writeln!(
            out,
            "OK {}: {} files match SHA256SUMS, signature by key {} verifies, portfolio.json {} binds each tenant's results",
            a.path.display(),
            r.checked,
            r.key_id.as_deref().unwrap_or("?"),
            sha
        )?;
        return Ok(0);
    }
    if let (true, Some(c)) = (r.ok(), &r.period) {
        writeln!(
            out,
            "OK {}: {} files match SHA256SUMS, signature by key {} verifies, period.json bound ({})",
            a.path.display(),
            r.checked,
            r.key_id.as_deref().unwrap_or("?"),
            c.trim_start_matches("siemproof ")
        )?;
        return Ok(0);
    }
    if r.ok() {
        let b = r.binding.as_ref().expect("a verified output has a binding");
        writeln!(
            out,
            "OK {}: {} files match SHA256SUMS, signature by key {} verifies, run {} bound to evidence manifest {}",
            a.path.display(),
            r.checked,
            r.key_id.as_deref().unwrap_or("?"),
            b.run_id,
            b.evidence_manifest_sha256
        )?;
        Ok(0)
    } else {
        writeln!(
            out,
            "NOT VERIFIED {}: {} problem(s)",
            a.path.display(),
            r.problems.len()
        )?;
        Ok(1)
    }
}

/// `verify BUNDLE`: the manifest's signature (manifest.json.minisig) and every file against
/// the manifest.
fn verify_bundle_cmd(a: &VerifyArgs, out: &mut dyn Write) -> Result<u8> {
    let mut problems = Vec::new();
    let mut key = None;
    match crate::sign::manifest::verify_bundle(&a.path, &a.pubkey) {
        Ok(v) => key = Some(v.key_id),
        Err(e) => problems.push(format!("signature: {e:#}")),
    }
    if let Err(e) = crate::evidence::Bundle::verified(&a.path) {
        problems.push(format!("evidence: {e}"));
    }
    for p in &problems {
        writeln!(out, "FAIL {}", crate::redact::text(p))?;
    }
    if problems.is_empty() {
        writeln!(
            out,
            "OK {}: evidence manifest signed by key {}, every file matches it",
            a.path.display(),
            key.as_deref().unwrap_or("?")
        )?;
        Ok(0)
    } else {
        writeln!(
            out,
            "NOT VERIFIED {}: {} problem(s)",
            a.path.display(),
            problems.len()
        )?;
        Ok(1)
    }
}

pub(crate) fn export_cmd(a: &ExportArgs, out: &mut dyn Write) -> Result<u8> {
    match std::fs::symlink_metadata(&a.out) {
        Ok(m) if m.is_dir() => anyhow::bail!(
            "--out {}: is a directory; give the archive's file name (nothing was changed)",
            a.out.display()
        ),
        Ok(_) if !a.force => anyhow::bail!(
            "--out {}: already exists; pass --force to replace it (it is kept until the new archive is complete)",
            a.out.display()
        ),
        _ => {}
    }
    let sk = match &a.sign {
        Some(k) => Some(load_signing_key(k)?),
        None => None,
    };
    let e = crate::sign::archive::export(&a.results_dir, a.bundle.as_deref(), sk.as_ref(), &a.out)?;
    writeln!(
        out,
        "wrote {} ({} files under {}/{})",
        e.archive.display(),
        e.files,
        e.top,
        if e.signed_now { ", signed now" } else { "" }
    )?;
    Ok(0)
}
