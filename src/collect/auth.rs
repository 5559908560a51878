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

/// Where a secret comes from: a named environment variable or a file. Only the name or path
/// is ever held or shown; the value is read when the credential is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    Env(String),
    File(PathBuf),
}

impl SecretRef {
    fn read(&self) -> Result<String> {
        match self {
            SecretRef::Env(v) => env(v).ok_or_else(|| anyhow!("{v} is not set")),
            SecretRef::File(p) => {
                let t = crate::files::read_text_bounded(p)
                    .with_context(|| format!("{}: cannot read the secret", p.display()))?;
                let t = t.trim_end_matches(['\r', '\n']).to_string();
                if t.trim().is_empty() {
                    bail!("{}: the secret file is empty", p.display());
                }
                Ok(t)
            }
        }
    }
}

/// Where a credential's parts come from: the process environment (`collect`, the variables the
/// Azure SDKs read), or a fleet file's `[[credentials]]` entry (a multi-tenant app or a
/// per-tenant identity, its secrets through named variables or files). The token is always
/// requested in the audited tenant (`tenant.id`), so one multi-tenant app consented in each
/// customer tenant serves the whole fleet.
#[derive(Debug, Clone)]
pub struct CredentialSource {
    /// `environment`, or the fleet file's credential name (for messages and the manifest).
    pub name: String,
    /// Never [`AuthKind::Default`] once resolved.
    pub kind: AuthKind,
    pub client_id: Option<String>,
    pub secret: Option<SecretRef>,
    pub certificate_file: Option<PathBuf>,
    pub certificate_password: Option<SecretRef>,
    pub federated_token_file: Option<PathBuf>,
    /// Azure Lighthouse: tokens come from this tenant (the MSSP's own, where the identity
    /// lives) and reach the customer's subscriptions through the delegation. Only ARM can be
    /// read that way; a home-tenant token sent to Graph or the Management Activity API would
    /// read the MSSP's own directory, so the collector sends it to neither.
    pub lighthouse_home: Option<String>,
    /// Taken from the environment: messages name its variables.
    from_env: bool,
}

impl CredentialSource {
    /// A fleet file's credential (`kind` must not be `Default`).
    pub fn named(name: &str, kind: AuthKind) -> CredentialSource {
        CredentialSource {
            name: name.to_string(),
            kind,
            client_id: None,
            secret: None,
            certificate_file: None,
            certificate_password: None,
            federated_token_file: None,
            lighthouse_home: None,
            from_env: false,
        }
    }

    /// Whether the credential reads through an Azure Lighthouse delegation (ARM only).
    pub fn is_lighthouse(&self) -> bool {
        self.lighthouse_home.is_some()
    }

    /// `--auth kind` from the environment; `AZURE_TENANT_ID`, when set, must be `tenant_id`.
    pub fn from_env(kind: AuthKind, tenant_id: &str) -> Result<CredentialSource> {
        let tenant = env("AZURE_TENANT_ID").unwrap_or_else(|| tenant_id.to_string());
        if !tenant.eq_ignore_ascii_case(tenant_id) {
            bail!("AZURE_TENANT_ID ({tenant}) is not the config's tenant.id ({tenant_id})");
        }
        let kind = match kind {
            AuthKind::Default if env("AZURE_CLIENT_SECRET").is_some() => AuthKind::Secret,
            AuthKind::Default if env("AZURE_CLIENT_CERTIFICATE_PATH").is_some() => {
                AuthKind::Certificate
            }
            AuthKind::Default if env("AZURE_FEDERATED_TOKEN_FILE").is_some() => {
                AuthKind::WorkloadIdentity
            }
            AuthKind::Default
                if env("IDENTITY_ENDPOINT").is_some() || env("MSI_ENDPOINT").is_some() =>
            {
                AuthKind::ManagedIdentity
            }
            AuthKind::Default => AuthKind::AzureCli,
            k => k,
        };
        Ok(CredentialSource {
            name: "environment".into(),
            kind,
            client_id: env("AZURE_CLIENT_ID"),
            secret: Some(SecretRef::Env("AZURE_CLIENT_SECRET".into())),
            certificate_file: env("AZURE_CLIENT_CERTIFICATE_PATH").map(PathBuf::from),
            certificate_password: env("AZURE_CLIENT_CERTIFICATE_PASSWORD")
                .map(|_| SecretRef::Env("AZURE_CLIENT_CERTIFICATE_PASSWORD".into())),
            federated_token_file: env("AZURE_FEDERATED_TOKEN_FILE").map(PathBuf::from),
            lighthouse_home: None,
            from_env: true,
        })
    }

    /// What is missing, said the way the user gave it.
    fn missing(&self, env_var: &str, fleet_keys: &str) -> anyhow::Error {
        let flag = format!("--auth {}", self.kind.to_possible_value_name());
        if self.from_env {
            anyhow!("{flag}: {env_var} is not set")
        } else {
            anyhow!(
                "credentials {}: auth = \"{}\" needs {fleet_keys}",
                self.name,
                self.kind.to_possible_value_name()
            )
        }
    }

    fn context(&self) -> String {
        if self.from_env {
            format!("--auth {}", self.kind.to_possible_value_name())
        } else {
            format!("credentials {}", self.name)
        }
    }
}

impl AuthKind {
    /// The `--auth` (and fleet file `auth`) spelling.
    pub fn to_possible_value_name(self) -> &'static str {
        match self {
            AuthKind::Secret => "secret",
            AuthKind::Certificate => "certificate",
            AuthKind::WorkloadIdentity => "workload-identity",
            AuthKind::ManagedIdentity => "managed-identity",
            AuthKind::AzureCli => "azure-cli",
            AuthKind::Default => "default",
        }
    }
}

/// Builds the credential for `--auth` from the environment.
pub fn credential(
    kind: AuthKind,
    tenant_id: &str,
    authority_host: &str,
    http: &Http,
) -> Result<Credential> {
    credential_from(
        &CredentialSource::from_env(kind, tenant_id)?,
        tenant_id,
        authority_host,
        http,
    )
}

/// Builds the credential `src` describes, requesting tokens in `tenant_id`.
pub fn credential_from(
    src: &CredentialSource,
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
    // Through Lighthouse the token is the home tenant's; otherwise the audited tenant's.
    let tenant = src
        .lighthouse_home
        .clone()
        .unwrap_or_else(|| tenant_id.to_string());
    let client_id = src.client_id.clone();
    let need_client = || {
        client_id
            .clone()
            .ok_or_else(|| src.missing("AZURE_CLIENT_ID", "client_id"))
    };
    let what = src.context();
    let kind = src.kind;
    let built: Arc<dyn TokenCredential> = match kind {
        AuthKind::Secret => {
            let secret = match &src.secret {
                Some(r) => r.read().map_err(|e| match r {
                    SecretRef::Env(_) if src.from_env => src.missing("AZURE_CLIENT_SECRET", ""),
                    _ => anyhow!("{what}: {e:#}"),
                })?,
                None => return Err(src.missing("AZURE_CLIENT_SECRET", "secret_env or secret_file")),
            };
            ClientSecretCredential::new(
                &tenant,
                need_client()?,
                Secret::new(secret),
                Some(ClientSecretCredentialOptions {
                    client_options: client_options(),
                }),
            )
            .map_err(|e| anyhow!("{what}: {e}"))?
        }
        AuthKind::Certificate => {
            let path = src
                .certificate_file
                .clone()
                .ok_or_else(|| src.missing("AZURE_CLIENT_CERTIFICATE_PATH", "certificate_file"))?;
            let bytes = crate::files::read_bounded(&path).with_context(|| {
                format!("{}: cannot read the client certificate", path.display())
            })?;
            let password = src
                .certificate_password
                .as_ref()
                .map(|r| r.read().map_err(|e| anyhow!("{what}: {e:#}")))
                .transpose()?;
            ClientCertificateCredential::new(
                tenant.clone(),
                need_client()?,
                SecretBytes::new(bytes),
                Some(ClientCertificateCredentialOptions {
                    client_options: client_options(),
                    password: password.map(Secret::new),
                }),
            )
            .map_err(|e| {
                anyhow!(
                    "{}: {e} (a PKCS#12 file with an RSA key is expected)",
                    path.display()
                )
            })?
        }
        AuthKind::WorkloadIdentity => {
            let file = src
                .federated_token_file
                .clone()
                .ok_or_else(|| src.missing("AZURE_FEDERATED_TOKEN_FILE", "federated_token_file"))?;
            WorkloadIdentityCredential::new(Some(WorkloadIdentityCredentialOptions {
                credential_options: azure_identity::ClientAssertionCredentialOptions {
                    client_options: client_options(),
                },
                client_id: Some(need_client()?),
                tenant_id: Some(tenant.clone()),
                token_file_path: Some(file.clone()),
            }))
            .map_err(|e| anyhow!("{}: {e}", file.display()))?
        }
        AuthKind::ManagedIdentity => {
            ManagedIdentityCredential::new(Some(ManagedIdentityCredentialOptions {
                user_assigned_id: client_id
                    .clone()
                    .map(azure_identity::UserAssignedId::ClientId),
                client_options: client_options(),
            }))
            .map_err(|e| anyhow!("{what}: {e}"))?
        }
        AuthKind::AzureCli => {
            DeveloperToolsCredential::new(None).map_err(|e| anyhow!("{what}: {e}"))?
        }
        AuthKind::Default => bail!("{what}: name a credential type (auth = \"secret\", …)"),
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
