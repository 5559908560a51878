//! minisign key pairs: generating them (`siemproof keygen`) and loading them for signing and
//! verifying.
//!
//! The secret key is password-protected (scrypt, as minisign does) unless `--unencrypted` is
//! asked for, e.g. for a CI key kept in a secret store. The password comes from
//! `SIEMPROOF_SIGNING_PASSWORD` or an interactive prompt on the terminal, never from an argument
//! (arguments show up in `ps` and shell history). Neither the key nor the password is ever
//! formatted into a message: the crate's `SecretKey` Debug output prints key bytes, so errors
//! here carry only minisign's own error text.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Result};
use minisign::{KeyPair, PublicKey, PublicKeyBox, SecretKey, SecretKeyBox};

/// Holds the contents of a secret key file, for CI secret stores.
pub const KEY_ENV: &str = "SIEMPROOF_SIGNING_KEY";
/// Holds the password of an encrypted secret key.
pub const PASSWORD_ENV: &str = "SIEMPROOF_SIGNING_PASSWORD";

/// The files `keygen` wrote.
pub struct Generated {
    pub secret: PathBuf,
    pub public: PathBuf,
    /// minisign key id, upper-case hex, as `minisign` prints it.
    pub key_id: String,
}

fn password_from_env() -> Option<String> {
    std::env::var(PASSWORD_ENV).ok().filter(|p| !p.is_empty())
}

/// Formats a minisign key id (8 bytes, little-endian) the way the minisign tool prints it.
pub fn key_id(keynum: &[u8]) -> String {
    let mut b = [0u8; 8];
    b.copy_from_slice(&keynum[..8]);
    format!("{:016X}", u64::from_le_bytes(b))
}

/// Generates `PREFIX.key` and `PREFIX.pub`. Refuses to overwrite either unless `force`.
pub fn keygen(prefix: &Path, unencrypted: bool, force: bool) -> Result<Generated> {
    let secret = with_suffix(prefix, "key");
    let public = with_suffix(prefix, "pub");
    for p in [&secret, &public] {
        if p.exists() && !force {
            bail!("{}: already exists (use --force to overwrite)", p.display());
        }
    }
    let kp = if unencrypted {
        KeyPair::generate_unencrypted_keypair()
    } else {
        let pw = match password_from_env() {
            Some(pw) => Some(pw),
            // The crate prompts twice on the terminal when given no password.
            None if std::io::stdin().is_terminal() => None,
            None => bail!(
                "no password for the secret key: set {PASSWORD_ENV}, run on a terminal, or pass --unencrypted"
            ),
        };
        KeyPair::generate_encrypted_keypair(pw)
    }
    .map_err(|e| anyhow!("cannot generate a key pair: {e}"))?;
    let key_id = key_id(kp.pk.keynum());
    let pk_text = kp
        .pk
        .to_box()
        .map_err(|e| anyhow!("cannot encode the public key: {e}"))?
        .to_string();
    let sk_text = kp
        .sk
        .to_box(Some(&format!("siemproof secret key {key_id}")))
        .map_err(|e| anyhow!("cannot encode the secret key: {e}"))?
        .to_string();
    write_private(&secret, sk_text.as_bytes())?;
    crate::sign::write_atomic(&public, pk_text.as_bytes())?;
    Ok(Generated {
        secret,
        public,
        key_id,
    })
}

fn with_suffix(prefix: &Path, ext: &str) -> PathBuf {
    let mut s = prefix.as_os_str().to_owned();
    s.push(".");
    s.push(ext);
    PathBuf::from(s)
}

/// Writes the secret key readable by its owner only.
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    super::write_atomic_mode(path, bytes, 0o600)
}

/// Loads the secret key from `path`, or from `SIEMPROOF_SIGNING_KEY` when no path is given,
/// decrypting it with `SIEMPROOF_SIGNING_PASSWORD` or a terminal prompt.
pub fn load_secret(path: Option<&Path>) -> Result<SecretKey> {
    let (text, source) = match path {
        Some(p) => (crate::files::read_text_bounded(p)?, p.display().to_string()),
        None => (
            std::env::var(KEY_ENV).map_err(|_| {
                anyhow!(
                    "no signing key: pass --key FILE or set {KEY_ENV} to the key file's contents"
                )
            })?,
            format!("${KEY_ENV}"),
        ),
    };
    let sk_box = SecretKeyBox::from_string(&text)
        .map_err(|e| anyhow!("{source}: not a minisign secret key: {e}"))?;
    match SecretKey::from_unencrypted_box(sk_box.clone()) {
        Ok(sk) => return Ok(sk),
        Err(e) if e.to_string().contains("Corrupted") => bail!(
            "{source}: unencrypted secret key with an invalid checksum ({e}); the minisign tool's `-G -W` \
             writes such keys, which the minisign library refuses: use `siemproof keygen --unencrypted` \
             or a password-protected key"
        ),
        Err(e) if !e.to_string().contains("encrypted") => {
            bail!("{source}: not a usable minisign secret key: {e}")
        }
        Err(_) => {}
    }
    let pw = match password_from_env() {
        Some(pw) => Some(pw),
        None if std::io::stdin().is_terminal() => None,
        None => {
            bail!("{source}: the secret key is encrypted: set {PASSWORD_ENV} or run on a terminal")
        }
    };
    SecretKey::from_box(sk_box, pw).map_err(|e| anyhow!("{source}: cannot decrypt: {e}"))
}

/// Loads a public key from a minisign `.pub` file (or a bare base64 key line).
pub fn load_public(path: &Path) -> Result<PublicKey> {
    let text = crate::files::read_text_bounded(path)?;
    let trimmed = text.trim();
    let pk = if trimmed.starts_with("untrusted comment:") {
        PublicKeyBox::from_string(trimmed).and_then(PublicKeyBox::into_public_key)
    } else {
        PublicKey::from_base64(trimmed)
    };
    pk.map_err(|e| anyhow!("{}: not a minisign public key: {e}", path.display()))
}

/// The public key matching a secret key (for the signer's own check after signing).
pub fn public_of(sk: &SecretKey) -> Result<PublicKey> {
    PublicKey::from_secret_key(sk).map_err(|e| anyhow!("cannot derive the public key: {e}"))
}

/// A secret key held for later use (e.g. signing a bundle at the end of `collect`): cloning
/// shares it, and Debug prints no key bytes.
#[derive(Clone)]
pub struct HeldKey(pub std::sync::Arc<SecretKey>);

impl std::fmt::Debug for HeldKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HeldKey(<secret key>)")
    }
}
