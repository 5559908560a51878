//! Credentials through `azure_identity` (1.0.0, pinned), whose own token caches serve repeated
//! requests; a cache of ours only for the Azure CLI credential, which has none.
//!
//! `--auth` picks one credential type; `default` tries, in order, what the environment makes
//! available (the same variables the Azure SDKs read): a client secret, a client certificate, a
//! federated token file (workload identity: GitHub Actions, AKS), a managed identity when the
//! host advertises one, then the developer tools (Azure CLI, azd). Every token request goes
//! through the collector's own guarded client ([`GuardedTransport`]), so the read-only guard,
//! the extra CA and the verbose log cover it too. Tokens live in memory only (azure_identity's
//! per-scope cache, refreshed five minutes before expiry, one request per scope however many
//! callers wait on it), never written, never logged.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use azure_core::cloud::{CloudConfiguration, CustomConfiguration};
use azure_core::credentials::{AccessToken, Secret, SecretBytes, TokenCredential};
use azure_core::http::{
    AsyncRawResponse, ClientOptions, ExponentialRetryOptions, HttpClient, Request, RetryOptions,
    Transport,
};
use azure_identity::{
    ClientCertificateCredential, ClientCertificateCredentialOptions, ClientSecretCredential,
    ClientSecretCredentialOptions, DeveloperToolsCredential, ManagedIdentityCredential,
    ManagedIdentityCredentialOptions, WorkloadIdentityCredential,
    WorkloadIdentityCredentialOptions,
};
use tokio::sync::Mutex;

use super::http::{Http, SendError};

/// The `--auth` choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuthKind {
    /// AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET
    Secret,
    /// AZURE_CLIENT_CERTIFICATE_PATH (PKCS#12) [+ AZURE_CLIENT_CERTIFICATE_PASSWORD]
    Certificate,
    /// AZURE_FEDERATED_TOKEN_FILE + AZURE_CLIENT_ID (GitHub Actions, AKS)
    WorkloadIdentity,
    /// The host's managed identity (AZURE_CLIENT_ID picks a user-assigned one)
    ManagedIdentity,
    /// `az login` (and `azd auth login`)
    AzureCli,
    /// The first of the above the environment provides
    Default,
}

impl AuthKind {
    /// The manifest's `collector.auth` value.
    pub fn manifest_name(self) -> &'static str {
        match self {
            AuthKind::Secret => "client_secret",
            AuthKind::Certificate => "client_certificate",
            AuthKind::WorkloadIdentity => "workload_identity",
            AuthKind::ManagedIdentity => "managed_identity",
            AuthKind::AzureCli => "azure_cli",
            AuthKind::Default => "default",
        }
    }
}

/// azure_identity's transport: the collector's guarded client.
#[derive(Debug)]
pub struct GuardedTransport(pub Http);

#[async_trait::async_trait]
impl HttpClient for GuardedTransport {
    async fn execute_request(&self, request: &Request) -> azure_core::Result<AsyncRawResponse> {
        let headers: Vec<(String, String)> = request
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.as_str().to_string()))
            .collect();
        let body: azure_core::Bytes = request.body().into();
        let body = if body.is_empty() {
            None
        } else {
            Some(body.to_vec())
        };
        let r = self
            .0
            .send(
                request.method().as_str(),
                request.url().as_str(),
                &headers,
                body,
                None,
            )
            .await
            .map_err(|e| {
                let kind = match e {
                    SendError::Transport { .. } => azure_core::error::ErrorKind::Io,
                    _ => azure_core::error::ErrorKind::Other,
                };
                azure_core::Error::with_message(kind, e.to_string())
            })?;
        let mut h = azure_core::http::headers::Headers::new();
        for (k, v) in r.headers.iter() {
            if let Ok(v) = v.to_str() {
                h.insert(k.as_str().to_string(), v.to_string());
            }
        }
        Ok(AsyncRawResponse::from_bytes(r.status.into(), h, r.body))
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// A credential plus what the manifest says about it.
pub struct Credential {
    pub inner: Arc<dyn TokenCredential>,
    /// The kind actually used (for `default`, the one picked).
    pub kind: AuthKind,
    pub app_id: Option<String>,
}

/// Builds the credential for `--auth`.
pub fn credential(
    kind: AuthKind,
    tenant_id: &str,
    authority_host: &str,
    http: &Http,
) -> Result<Credential> {
    let client_options = || {
        let mut cloud = CustomConfiguration::default();
        cloud.authority_host = authority_host.to_string();
        // Token requests: a few quick retries, bounded, so a dead authority is a prompt error.
        let retry = ExponentialRetryOptions {
            initial_delay: azure_core::time::Duration::milliseconds(500),
            max_retries: 3,
            max_delay: azure_core::time::Duration::seconds(5),
            max_total_elapsed: azure_core::time::Duration::seconds(30),
        };
        ClientOptions {
            transport: Some(Transport::new(Arc::new(GuardedTransport(http.clone())))),
            cloud: Some(Arc::new(CloudConfiguration::from(cloud))),
            retry: RetryOptions::exponential(retry),
            ..Default::default()
        }
    };
    let tenant = env("AZURE_TENANT_ID").unwrap_or_else(|| tenant_id.to_string());
    if !tenant.eq_ignore_ascii_case(tenant_id) {
        bail!("AZURE_TENANT_ID ({tenant}) is not the config's tenant.id ({tenant_id})");
    }
    let client_id = env("AZURE_CLIENT_ID");
    let need_client = || {
        client_id
            .clone()
            .ok_or_else(|| anyhow!("AZURE_CLIENT_ID is not set"))
    };
    let built: Arc<dyn TokenCredential> = match kind {
        AuthKind::Secret => {
            let secret = env("AZURE_CLIENT_SECRET")
                .ok_or_else(|| anyhow!("--auth secret: AZURE_CLIENT_SECRET is not set"))?;
            ClientSecretCredential::new(
                &tenant,
                need_client()?,
                Secret::new(secret),
                Some(ClientSecretCredentialOptions {
                    client_options: client_options(),
                }),
            )
            .map_err(|e| anyhow!("--auth secret: {e}"))?
        }
        AuthKind::Certificate => {
            let path = env("AZURE_CLIENT_CERTIFICATE_PATH").ok_or_else(|| {
                anyhow!("--auth certificate: AZURE_CLIENT_CERTIFICATE_PATH is not set")
            })?;
            let bytes = std::fs::read(&path)
                .with_context(|| format!("{path}: cannot read the client certificate"))?;
            ClientCertificateCredential::new(
                tenant.clone(),
                need_client()?,
                SecretBytes::new(bytes),
                Some(ClientCertificateCredentialOptions {
                    client_options: client_options(),
                    password: env("AZURE_CLIENT_CERTIFICATE_PASSWORD").map(Secret::new),
                }),
            )
            .map_err(|e| anyhow!("{path}: {e} (a PKCS#12 file with an RSA key is expected)"))?
        }
        AuthKind::WorkloadIdentity => {
            let file = env("AZURE_FEDERATED_TOKEN_FILE").ok_or_else(|| {
                anyhow!("--auth workload-identity: AZURE_FEDERATED_TOKEN_FILE is not set")
            })?;
            WorkloadIdentityCredential::new(Some(WorkloadIdentityCredentialOptions {
                credential_options: azure_identity::ClientAssertionCredentialOptions {
                    client_options: client_options(),
                },
                client_id: Some(need_client()?),
                tenant_id: Some(tenant.clone()),
                token_file_path: Some(PathBuf::from(&file)),
            }))
            .map_err(|e| anyhow!("{file}: {e}"))?
        }
        AuthKind::ManagedIdentity => {
            ManagedIdentityCredential::new(Some(ManagedIdentityCredentialOptions {
                user_assigned_id: client_id
                    .clone()
                    .map(azure_identity::UserAssignedId::ClientId),
                client_options: client_options(),
            }))
            .map_err(|e| anyhow!("--auth managed-identity: {e}"))?
        }
        AuthKind::AzureCli => {
            DeveloperToolsCredential::new(None).map_err(|e| anyhow!("--auth azure-cli: {e}"))?
        }
        AuthKind::Default => {
            let pick = if env("AZURE_CLIENT_SECRET").is_some() {
                AuthKind::Secret
            } else if env("AZURE_CLIENT_CERTIFICATE_PATH").is_some() {
                AuthKind::Certificate
            } else if env("AZURE_FEDERATED_TOKEN_FILE").is_some() {
                AuthKind::WorkloadIdentity
            } else if env("IDENTITY_ENDPOINT").is_some() || env("MSI_ENDPOINT").is_some() {
                AuthKind::ManagedIdentity
            } else {
                AuthKind::AzureCli
            };
            return credential(pick, tenant_id, authority_host, http);
        }
    };
    Ok(Credential {
        inner: built,
        kind,
        app_id: match kind {
            AuthKind::AzureCli => None,
            _ => client_id,
        },
    })
}

/// Tokens per scope, in memory only.
pub struct Tokens {
    credential: Arc<dyn TokenCredential>,
    /// Only for credentials that do not cache (the Azure CLI, which azure_identity runs anew on
    /// every call); the others keep azure_identity's own cache.
    cache: Option<Mutex<HashMap<String, AccessToken>>>,
}

impl Tokens {
    pub fn new(credential: Arc<dyn TokenCredential>, kind: AuthKind) -> Tokens {
        Tokens {
            credential,
            cache: (kind == AuthKind::AzureCli).then(|| Mutex::new(HashMap::new())),
        }
    }

    /// A bearer token for `scope`, reused until five minutes before it expires.
    pub async fn get(&self, scope: &str) -> Result<String, String> {
        let Some(cache) = &self.cache else {
            let t = self
                .credential
                .get_token(&[scope], None)
                .await
                .map_err(|e| first_line(&e.to_string()))?;
            return Ok(t.token.secret().to_string());
        };
        // The lock is held across the request so concurrent callers cause one `az` run.
        let mut cache = cache.lock().await;
        let soon =
            azure_core::time::OffsetDateTime::now_utc() + azure_core::time::Duration::minutes(5);
        if let Some(t) = cache.get(scope) {
            if t.expires_on > soon {
                return Ok(t.token.secret().to_string());
            }
        }
        let t = self
            .credential
            .get_token(&[scope], None)
            .await
            .map_err(|e| first_line(&e.to_string()))?;
        let s = t.token.secret().to_string();
        cache.insert(scope.to_string(), t);
        Ok(s)
    }
}

/// The first line of an error (azure_identity appends troubleshooting links).
fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().trim().to_string()
}
