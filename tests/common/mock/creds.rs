//! The credentials only this mock accepts: a client secret, a client certificate (PKCS#12 with
//! an RSA key; the assertion's RS256 signature is verified against it) and a federated token
//! (the contents of a workload identity token file).

use anyhow::Result;
use base64::Engine;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::sign::Verifier;
use openssl::x509::{X509NameBuilder, X509};

pub struct Creds {
    pub client_id: String,
    pub secret: String,
    pub federated_token: String,
    /// PKCS#12 (no password) holding the certificate and its RSA key.
    pub pkcs12: Vec<u8>,
    cert: X509,
}

fn random_hex(n: usize) -> String {
    (0..n)
        .map(|_| format!("{:x}", fastrand::u8(0..16)))
        .collect()
}

fn guid() -> String {
    let h = random_hex(32);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

impl Creds {
    /// `secret` overrides the random client secret (the canary test plants its own).
    pub fn generate(secret: Option<String>) -> Result<Creds> {
        let key: PKey<Private> = PKey::from_rsa(Rsa::generate(2048)?)?;
        let mut name = X509NameBuilder::new()?;
        name.append_entry_by_text("CN", "siemproof-mock-client")?;
        let name = name.build();
        let mut b = X509::builder()?;
        b.set_version(2)?;
        b.set_subject_name(&name)?;
        b.set_issuer_name(&name)?;
        b.set_pubkey(&key)?;
        b.set_not_before(openssl::asn1::Asn1Time::days_from_now(0)?.as_ref())?;
        b.set_not_after(openssl::asn1::Asn1Time::days_from_now(2)?.as_ref())?;
        b.sign(&key, MessageDigest::sha256())?;
        let cert = b.build();
        let pkcs12 = openssl::pkcs12::Pkcs12::builder()
            .name("siemproof-mock-client")
            .pkey(&key)
            .cert(&cert)
            .build2("")?
            .to_der()?;
        Ok(Creds {
            client_id: guid(),
            secret: secret.unwrap_or_else(|| format!("mock-secret-{}", random_hex(32))),
            federated_token: format!("mock-federated-{}", random_hex(40)),
            pkcs12,
            cert,
        })
    }

    /// Checks a client assertion JWT: RS256 over `header.payload` with the certificate's key,
    /// and the subject is our client id.
    pub fn verify_assertion(&self, jwt: &str) -> bool {
        let parts: Vec<&str> = jwt.split('.').collect();
        if parts.len() != 3 {
            return false;
        }
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let (Ok(payload), Ok(sig)) = (
            b64.decode(parts[1].trim_end_matches('=')),
            b64.decode(parts[2].trim_end_matches('=')),
        ) else {
            return false;
        };
        let Ok(claims) = serde_json::from_slice::<serde_json::Value>(&payload) else {
            return false;
        };
        if claims.get("sub").and_then(|s| s.as_str()) != Some(self.client_id.as_str()) {
            return false;
        }
        let Ok(public) = self.cert.public_key() else {
            return false;
        };
        let Ok(mut v) = Verifier::new(MessageDigest::sha256(), &public) else {
            return false;
        };
        let signed = format!("{}.{}", parts[0], parts[1]);
        v.update(signed.as_bytes()).is_ok() && v.verify(&sig).unwrap_or(false)
    }
}
