//! The TLS step: a real rustls handshake, then an examination of the certificate the server
//! presented: protocol version, subject, SANs against the host name, the issuer chain, expiry
//! against the audit clock, whether this host's trust store accepts it, and whether the chain
//! comes from the CAs Microsoft uses (or from a TLS-inspecting proxy).
//!
//! The handshake itself accepts any certificate (handshake signatures are still verified) so
//! that an untrusted or mismatched certificate can be described instead of just refused; the
//! judgement is made afterwards with rustls' own WebPKI verifier. Only the protocol probe's
//! harmless bytes (an AMQP header, `GET /`) are ever sent over such a connection.

use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use chrono::{DateTime, TimeZone, Utc};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use serde::Serialize;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

/// Issuers Microsoft uses for its service endpoints, matched against the issuer of the server
/// certificate and of each presented intermediate. Source: "Azure Certificate Authority details"
/// (learn.microsoft.com/azure/security/fundamentals/azure-ca-details), which lists the roots
/// DigiCert Global Root CA/G2/G3, Entrust Root Certification Authority G2, Microsoft RSA/ECC Root
/// Certificate Authority 2017, and subordinates "Microsoft Azure (RSA|ECC) TLS Issuing CA nn",
/// "Microsoft TLS ..." and DigiCert/GeoTrust issuing CAs; it covers government and national
/// clouds (21Vianet uses DigiCert, e.g. "DigiCert Basic RSA CN CA G2"). Matched by organisation
/// and by common-name prefix, because issuing CAs rotate every few years.
const MICROSOFT_ISSUER_ORGS: &[&str] = &[
    "Microsoft Corporation",
    "DigiCert Inc",
    "DigiCert, Inc.",
    "Entrust, Inc.",
];
const MICROSOFT_ISSUER_CN_PREFIXES: &[&str] = &[
    "Microsoft Azure ",
    "Microsoft RSA Root Certificate Authority",
    "Microsoft ECC Root Certificate Authority",
    "Microsoft TLS ",
    "DigiCert ",
    "GeoTrust ",
    "Entrust ",
];

/// The PEM certificates in `path` (`what` names the file in errors: "CA bundle", "client
/// certificate"); none at all is an error.
pub fn pem_certs(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .with_context(|| format!("{}: cannot read the {what}", path.display()))?
        .collect::<Result<_, _>>()
        // The parser's error quotes the offending line: if a key file was given by mistake,
        // that line is a secret, so only the path is named.
        .map_err(|_| anyhow::anyhow!("{}: not a PEM certificate file", path.display()))?;
    if certs.is_empty() {
        bail!("{}: no PEM certificate in the {what}", path.display());
    }
    Ok(certs)
}

/// Trust anchors: the operating system's store (when `system_store`) plus the CA certificates in
/// `ca_bundle`. Unreadable individual files in the system store are not fatal: the rest count.
pub fn root_store(ca_bundle: Option<&Path>, system_store: bool) -> Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    if system_store {
        roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    }
    if let Some(path) = ca_bundle {
        let (added, ignored) = roots.add_parsable_certificates(pem_certs(path, "CA bundle")?);
        if added == 0 {
            bail!(
                "{}: none of the {ignored} certificate(s) is a usable CA certificate",
                path.display()
            );
        }
    }
    Ok(roots)
}

/// Trust anchors and the shared client configurations for every handshake of one run.
pub struct TlsSetup {
    /// `None` when no trust anchor could be loaded at all (then nothing counts as trusted).
    verifier: Option<Arc<WebPkiServerVerifier>>,
    pub anchors: usize,
    pub provider: Arc<rustls::crypto::CryptoProvider>,
    http: Arc<ClientConfig>,
    amqp: Arc<ClientConfig>,
}

impl TlsSetup {
    /// Loads the operating system's trust store (so a corporate CA installed on the collector
    /// host counts, as it does for the SIEM) plus the PEM certificates in `ca_bundle`.
    pub fn new(ca_bundle: Option<&Path>, system_store: bool) -> Result<TlsSetup> {
        let roots = root_store(ca_bundle, system_store)?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let anchors = roots.len();
        let verifier = if anchors == 0 {
            None
        } else {
            Some(
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .context("cannot build the certificate verifier")?,
            )
        };
        let accept = Arc::new(DescribeAnyCertificate {
            provider: provider.clone(),
        });
        let config = |alpn: Vec<Vec<u8>>| -> Result<Arc<ClientConfig>> {
            let mut c = ClientConfig::builder_with_provider(provider.clone())
                .with_safe_default_protocol_versions()
                .context("TLS protocol versions")?
                .dangerous()
                .with_custom_certificate_verifier(accept.clone())
                .with_no_client_auth();
            c.alpn_protocols = alpn;
            Ok(Arc::new(c))
        };
        Ok(TlsSetup {
            verifier,
            anchors,
            http: config(vec![b"http/1.1".to_vec()])?,
            amqp: config(vec![])?,
            provider,
        })
    }

    pub fn connector(&self, http: bool) -> tokio_rustls::TlsConnector {
        tokio_rustls::TlsConnector::from(if http {
            self.http.clone()
        } else {
            self.amqp.clone()
        })
    }

    /// Judges the presented chain for `host` at the audit clock.
    pub fn examine(
        &self,
        host: &str,
        chain: &[CertificateDer<'static>],
        clock: DateTime<Utc>,
        microsoft: bool,
    ) -> CertReport {
        let mut report = CertReport::default();
        let Some(ee_der) = chain.first() else {
            report.trust_error = Some("the server presented no certificate".into());
            return report;
        };
        let parsed: Vec<Option<CertSummary>> = chain.iter().map(|c| summarise(c)).collect();
        report.chain = parsed.iter().flatten().map(|c| c.brief.clone()).collect();
        let Some(ee) = parsed.first().cloned().flatten() else {
            report.trust_error = Some("the server certificate cannot be parsed".into());
            return report;
        };
        report.subject = Some(ee.brief.subject.clone());
        report.issuer = Some(ee.brief.issuer.clone());
        report.not_before = Some(ee.not_before);
        report.not_after = Some(ee.brief.not_after);
        report.sans = ee.sans.clone();
        report.hostname_ok = hostname_matches(host, &ee.sans, &ee.ip_sans);
        report.expired = clock > ee.brief.not_after;
        report.not_yet_valid = clock < ee.not_before;
        report.days_left = Some((ee.brief.not_after - clock).num_days());

        // Trust is judged at a moment when the server certificate is valid, so that an expired
        // certificate is still reported as trusted or not; expiry is judged separately above.
        let at = if report.expired || report.not_yet_valid {
            ee.not_before + (ee.brief.not_after - ee.not_before) / 2
        } else {
            clock
        };
        let now = UnixTime::since_unix_epoch(std::time::Duration::from_secs(
            at.timestamp().max(0) as u64
        ));
        match &self.verifier {
            None => {
                report.trust_error = Some(
                    "no trust anchors on this host (install the CA certificates package or pass --ca-bundle)".into(),
                )
            }
            Some(v) => {
                let name = ServerName::try_from(host.to_string())
                    .unwrap_or_else(|_| ServerName::try_from("invalid.invalid").expect("valid"));
                match v.verify_server_cert(ee_der, &chain[1..], &name, &[], now) {
                    Ok(_) => report.trusted = true,
                    Err(rustls::Error::InvalidCertificate(
                        CertificateError::NotValidForName
                        | CertificateError::NotValidForNameContext { .. },
                    )) => report.trusted = true,
                    Err(e) => report.trust_error = Some(describe_cert_error(&e)),
                }
            }
        }

        report.microsoft_issuer = parsed
            .iter()
            .flatten()
            .any(|c| is_microsoft_issuer(&c.issuer_org, &c.issuer_cn));
        report.intercepted = microsoft && !report.microsoft_issuer;
        report
    }
}

fn describe_cert_error(e: &rustls::Error) -> String {
    match e {
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
            "issuer not trusted by this host's trust store".into()
        }
        rustls::Error::InvalidCertificate(CertificateError::BadSignature) => {
            "certificate signature does not verify".into()
        }
        rustls::Error::InvalidCertificate(c) => format!("certificate rejected: {c:?}"),
        other => other.to_string(),
    }
}

fn is_microsoft_issuer(org: &str, cn: &str) -> bool {
    MICROSOFT_ISSUER_ORGS
        .iter()
        .any(|o| org.eq_ignore_ascii_case(o))
        || MICROSOFT_ISSUER_CN_PREFIXES
            .iter()
            .any(|p| cn.to_ascii_lowercase().starts_with(&p.to_ascii_lowercase()))
}

/// One certificate of the presented chain, as reported.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ChainCert {
    pub subject: String,
    pub issuer: String,
    pub not_after: DateTime<Utc>,
}

#[derive(Debug, Clone)]
struct CertSummary {
    brief: ChainCert,
    not_before: DateTime<Utc>,
    issuer_org: String,
    issuer_cn: String,
    sans: Vec<String>,
    ip_sans: Vec<std::net::IpAddr>,
}

fn summarise(der: &CertificateDer<'_>) -> Option<CertSummary> {
    let (_, cert) = X509Certificate::from_der(der.as_ref()).ok()?;
    let time = |t: x509_parser::time::ASN1Time| Utc.timestamp_opt(t.timestamp(), 0).single();
    let first = |it: &mut dyn Iterator<Item = &x509_parser::x509::AttributeTypeAndValue>| {
        it.next()
            .and_then(|a| a.as_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let issuer_org = first(&mut cert.issuer().iter_organization());
    let issuer_cn = first(&mut cert.issuer().iter_common_name());
    let mut sans = Vec::new();
    let mut ip_sans = Vec::new();
    if let Ok(Some(ext)) = cert.subject_alternative_name() {
        for n in &ext.value.general_names {
            match n {
                GeneralName::DNSName(d) => sans.push(d.to_ascii_lowercase()),
                GeneralName::IPAddress(b) => {
                    let ip = match b.len() {
                        4 => Some(std::net::IpAddr::from(<[u8; 4]>::try_from(*b).ok()?)),
                        16 => Some(std::net::IpAddr::from(<[u8; 16]>::try_from(*b).ok()?)),
                        _ => None,
                    };
                    if let Some(ip) = ip {
                        sans.push(format!("IP:{ip}"));
                        ip_sans.push(ip);
                    }
                }
                _ => {}
            }
        }
    }
    Some(CertSummary {
        brief: ChainCert {
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            not_after: time(cert.validity().not_after)?,
        },
        not_before: time(cert.validity().not_before)?,
        issuer_org,
        issuer_cn,
        sans,
        ip_sans,
    })
}

/// RFC 6125 matching: exact names, or a wildcard as the whole left-most label (`*.x.y` matches
/// `a.x.y` but not `x.y` or `a.b.x.y`); IP addresses only against IP SANs.
pub fn hostname_matches(host: &str, sans: &[String], ip_sans: &[std::net::IpAddr]) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return ip_sans.contains(&ip);
    }
    sans.iter().filter(|s| !s.starts_with("IP:")).any(|san| {
        let san = san.trim_end_matches('.');
        match san.strip_prefix("*.") {
            Some(rest) => host
                .split_once('.')
                .is_some_and(|(label, tail)| !label.is_empty() && tail == rest),
            None => san == host,
        }
    })
}

/// What the TLS step learnt about the certificate.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CertReport {
    pub subject: Option<String>,
    pub issuer: Option<String>,
    pub sans: Vec<String>,
    pub not_before: Option<DateTime<Utc>>,
    pub not_after: Option<DateTime<Utc>>,
    /// Whole days from the audit clock to `not_after` (negative when expired).
    pub days_left: Option<i64>,
    pub expired: bool,
    pub not_yet_valid: bool,
    pub hostname_ok: bool,
    pub trusted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trust_error: Option<String>,
    /// The chain names one of the CAs Microsoft uses.
    pub microsoft_issuer: bool,
    /// A Microsoft host presented a certificate not issued by Microsoft's CAs.
    pub intercepted: bool,
    pub chain: Vec<ChainCert>,
}

/// Accepts whatever certificate the server presents so the probe can describe it; handshake
/// signatures are still checked, so the session keys belong to the presented certificate.
#[derive(Debug)]
struct DescribeAnyCertificate {
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for DescribeAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// `TLSv1_3` → `TLS 1.3`.
pub fn version_name(v: Option<rustls::ProtocolVersion>) -> Option<String> {
    Some(match v? {
        rustls::ProtocolVersion::TLSv1_3 => "TLS 1.3".into(),
        rustls::ProtocolVersion::TLSv1_2 => "TLS 1.2".into(),
        other => format!("{other:?}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_matching() {
        let sans = vec!["*.servicebus.windows.net".to_string(), "exact.test".into()];
        assert!(hostname_matches("ns.servicebus.windows.net", &sans, &[]));
        assert!(hostname_matches("EXACT.test.", &sans, &[]));
        assert!(!hostname_matches("servicebus.windows.net", &sans, &[]));
        assert!(!hostname_matches("a.b.servicebus.windows.net", &sans, &[]));
        assert!(!hostname_matches("127.0.0.1", &sans, &[]));
        assert!(hostname_matches(
            "127.0.0.1",
            &sans,
            &["127.0.0.1".parse().unwrap()]
        ));
    }

    #[test]
    fn issuer_table() {
        assert!(is_microsoft_issuer(
            "Microsoft Corporation",
            "Microsoft Azure RSA TLS Issuing CA 03"
        ));
        assert!(is_microsoft_issuer("", "DigiCert Global Root G2"));
        assert!(!is_microsoft_issuer(
            "Contoso Ltd",
            "Contoso TLS Inspection CA"
        ));
    }
}
