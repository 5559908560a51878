//! Signed evidence manifests: `manifest.json.minisig` beside a bundle's `manifest.json`.
//!
//! A bundle's files are bound to its manifest by SHA-256, but nothing binds the manifest to
//! anyone: a byte flip or an added newline in an unsigned `manifest.json` is, by design,
//! undetectable. `siemproof sign BUNDLE` (or `collect --sign KEY`) writes a prehashed minisign
//! signature of the manifest's exact bytes, which `minisign -Vm manifest.json -p KEY.pub` checks
//! with the stock tool, and `audit --pubkey KEY.pub` requires. The trusted comment names the
//! manifest hash and the tenant. The signature file is not listed in the manifest (it cannot
//! list its own signature) and is the one extra file a bundle may hold.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use minisign::SignatureBox;

use super::keys;

/// The signature file's name inside a bundle.
pub const SIG: &str = "manifest.json.minisig";

/// What signing a bundle produced.
pub struct SignedManifest {
    pub signature: PathBuf,
    pub key_id: String,
    pub manifest_sha256: String,
}

/// What verifying a bundle's manifest signature found.
pub struct VerifiedManifest {
    pub key_id: String,
    pub trusted_comment: String,
}

/// The signature of `manifest` (its exact bytes) as minisign text.
pub fn signature_text(manifest: &[u8], tenant: &str, sk: &minisign::SecretKey) -> Result<String> {
    let pk = keys::public_of(sk)?;
    let key_id = keys::key_id(pk.keynum());
    let comment = format!(
        "siemproof evidence-manifest-sha256:{} tenant:{tenant}",
        crate::evidence::sha256_hex(manifest)
    );
    let sig = minisign::sign(
        Some(&pk),
        sk,
        std::io::Cursor::new(manifest),
        Some(&comment),
        Some(&format!("signature from siemproof key {key_id}")),
    )
    .map_err(|e| anyhow!("cannot sign manifest.json: {e}"))?;
    let mut text = sig.to_string();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    Ok(text)
}

/// Signs the manifest of the bundle in `dir`, after verifying the bundle against it: a
/// signature must never vouch for evidence that was already altered.
pub fn sign_bundle(dir: &Path, sk: &minisign::SecretKey) -> Result<SignedManifest> {
    let b = crate::evidence::Bundle::verified(dir).map_err(|e| anyhow!("{e}"))?;
    let manifest = crate::files::read_bounded(&dir.join("manifest.json"))?;
    let text = signature_text(&manifest, &b.manifest.tenant_id, sk)?;
    let signature = dir.join(SIG);
    super::write_atomic(&signature, text.as_bytes())?;
    Ok(SignedManifest {
        signature,
        key_id: keys::key_id(keys::public_of(sk)?.keynum()),
        manifest_sha256: crate::evidence::sha256_hex(&manifest),
    })
}

/// Requires a valid signature by `pubkey` over the bundle's `manifest.json`.
pub fn verify_bundle(dir: &Path, pubkey: &Path) -> Result<VerifiedManifest> {
    let pk = keys::load_public(pubkey)?;
    let sig_path = dir.join(SIG);
    let sig_text = match std::fs::symlink_metadata(&sig_path) {
        Ok(m) if m.is_file() => crate::files::read_text_bounded(&sig_path)?,
        _ => bail!(
            "{}: missing; --pubkey requires a signed evidence manifest (`siemproof sign {}`)",
            sig_path.display(),
            dir.display()
        ),
    };
    let sig = SignatureBox::from_string(&sig_text)
        .map_err(|e| anyhow!("{}: not a minisign signature: {e}", sig_path.display()))?;
    let sig_key = keys::key_id(sig.keynum());
    let pk_key = keys::key_id(pk.keynum());
    if sig_key != pk_key {
        bail!(
            "{}: made by key {sig_key}, the public key given is {pk_key}",
            sig_path.display()
        );
    }
    if !sig.is_prehashed() {
        bail!(
            "{}: a legacy (non-prehashed) signature; siemproof accepts only prehashed ones",
            sig_path.display()
        );
    }
    let manifest_path = dir.join("manifest.json");
    let manifest = crate::files::read_bounded(&manifest_path)?;
    minisign::verify(
        &pk,
        &sig,
        std::io::Cursor::new(&manifest),
        true,
        false,
        false,
    )
    .map_err(|e| {
        anyhow!(
            "{}: the signature does not verify with key {pk_key}: manifest.json was changed after signing ({e})",
            manifest_path.display()
        )
    })?;
    let trusted_comment = sig
        .trusted_comment()
        .with_context(|| format!("{}: no trusted comment", sig_path.display()))?;
    Ok(VerifiedManifest {
        key_id: pk_key,
        trusted_comment,
    })
}
