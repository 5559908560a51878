//! The fleet file (`fleet.toml`): where the fleet's state lives, how many tenants run at once,
//! and the tenants, each with a slug (its directory name in the state and its row in the
//! portfolio), its siemproof config, and the bundle to audit.
//!
//! Paths are relative to the fleet file, so a fleet directory can be moved or mounted whole.
//! A tenant entry is either one config (`config = "tenants/contoso.toml"`) or a directory of
//! them (`configs = "tenants/"`: one tenant per `*.toml`, its slug the file stem). The bundle
//! defaults to `STATE/<slug>/evidence`, where `fleet collect` will write it; `bundle = DIR`
//! audits a bundle collected elsewhere. Secrets never go in the fleet file: a key named like
//! one is refused, naming the key and never quoting its value.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use serde::Deserialize;

use crate::collect::auth::{AuthKind, CredentialSource, SecretRef};

/// The default number of tenants audited at once: one per core.
fn default_at_once() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    fleet: RawFleet,
    #[serde(default)]
    tenants: Vec<RawTenant>,
    #[serde(default)]
    credentials: Vec<RawCredential>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCredential {
    name: String,
    auth: String,
    client_id: Option<String>,
    secret_env: Option<String>,
    secret_file: Option<PathBuf>,
    certificate_file: Option<PathBuf>,
    certificate_password_env: Option<String>,
    certificate_password_file: Option<PathBuf>,
    federated_token_file: Option<PathBuf>,
    lighthouse_home_tenant: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFleet {
    state: Option<PathBuf>,
    tenants_at_once: Option<usize>,
    requests_in_flight: Option<usize>,
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTenant {
    slug: Option<String>,
    config: Option<PathBuf>,
    configs: Option<PathBuf>,
    bundle: Option<PathBuf>,
    pubkey: Option<PathBuf>,
    credentials: Option<String>,
    ledger: Option<PathBuf>,
}

/// One tenant of the fleet.
#[derive(Debug, Clone, PartialEq)]
pub struct Tenant {
    pub slug: String,
    /// Its siemproof config, when the fleet file names one; an audit otherwise uses the config
    /// that travels in the bundle.
    pub config: Option<PathBuf>,
    /// The bundle to audit when the fleet file names one; else `STATE/<slug>/evidence`.
    pub bundle: Option<PathBuf>,
    /// A minisign public key the bundle's manifest must be signed by.
    pub pubkey: Option<PathBuf>,
    /// The `[[credentials]]` entry `fleet collect` reads it with; `None`: the environment.
    pub credentials: Option<String>,
    /// Its ledger of signed runs: `fleet audit --sign` appends each run, `fleet report` shows
    /// the trend.
    pub ledger: Option<PathBuf>,
    /// `tenants[i]` in the fleet file, for messages.
    pub origin: String,
}

/// A parsed, validated fleet file.
#[derive(Debug, Clone)]
pub struct Fleet {
    pub path: PathBuf,
    /// A name for the portfolio's title (default: the fleet file's stem).
    pub name: String,
    pub state: PathBuf,
    pub tenants_at_once: usize,
    /// Requests in flight to Microsoft over all tenants of a `fleet collect` (`None`: only
    /// each tenant's own cap).
    pub requests_in_flight: Option<usize>,
    /// In slug order.
    pub tenants: Vec<Tenant>,
    /// By name.
    pub credentials: Vec<CredentialSource>,
}

/// Keys that would hold a secret: refused anywhere in the file.
const SECRET_KEYS: &[&str] = &[
    "secret",
    "client_secret",
    "password",
    "token",
    "key",
    "private_key",
    "sas",
    "connection_string",
];

/// Whether `s` can be a slug: lower-case letters, digits and `-`, starting with a letter or
/// digit, at most 63 characters (a DNS label, so it also names a Kubernetes object).
pub fn is_slug(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

/// Finds the first key in `v` named like a secret, as a dotted path.
fn secret_key(v: &toml::Value, path: &str) -> Option<String> {
    match v {
        toml::Value::Table(t) => t.iter().find_map(|(k, v)| {
            let here = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            if SECRET_KEYS.contains(&k.to_ascii_lowercase().as_str()) {
                Some(here)
            } else {
                secret_key(v, &here)
            }
        }),
        toml::Value::Array(a) => a
            .iter()
            .enumerate()
            .find_map(|(i, v)| secret_key(v, &format!("{path}[{i}]"))),
        _ => None,
    }
}

impl Tenant {
    /// The bundle to audit when the fleet's state is `state`.
    pub fn bundle_in(&self, state: &Path) -> PathBuf {
        self.bundle
            .clone()
            .unwrap_or_else(|| state.join(&self.slug).join("evidence"))
    }
}

impl Fleet {
    /// The credential tenant `t` is collected with (`None`: the environment).
    pub fn credential_of(&self, t: &Tenant) -> Option<&CredentialSource> {
        let name = t.credentials.as_ref()?;
        self.credentials.iter().find(|c| &c.name == name)
    }

    /// Reads and validates `path`.
    pub fn load(path: &Path) -> Result<Fleet> {
        let text = crate::files::read_text_bounded(path)?;
        Fleet::parse(&text, path)
    }

    /// Parses `text`, the contents of `path` (relative paths in it are resolved against
    /// `path`'s directory).
    pub fn parse(text: &str, path: &Path) -> Result<Fleet> {
        let file = path.display();
        // toml's messages quote the offending line, which could hold a secret: say where only.
        let value: toml::Value = toml::from_str(text).map_err(|e| {
            let at = e
                .span()
                .map(|s| {
                    let line = text[..s.start.min(text.len())].matches('\n').count() + 1;
                    format!(" at line {line}")
                })
                .unwrap_or_default();
            anyhow!("{file}: not valid TOML{at}: {}", e.message())
        })?;
        if let Some(k) = secret_key(&value, "") {
            bail!(
                "{file}: `{k}`: secrets never go in the fleet file (it is copied, committed and mounted as a ConfigMap); give each tenant's credentials through its siemproof config and the environment or files it names"
            );
        }
        let raw: Raw = serde_path_to_error::deserialize(value)
            .map_err(|e| anyhow!("{file}: at `{}`: {}", e.path(), e.inner()))?;
        let base = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let state = base.join(raw.fleet.state.unwrap_or_else(|| "fleet-state".into()));
        let tenants_at_once = match raw.fleet.tenants_at_once {
            Some(0) => bail!("{file}: `fleet.tenants_at_once` must be at least 1"),
            Some(n) => n,
            None => default_at_once(),
        };
        if raw.fleet.requests_in_flight == Some(0) {
            bail!("{file}: `fleet.requests_in_flight` must be at least 1");
        }
        let name = raw
            .fleet
            .name
            .map(|mut n| {
                crate::results::sanitise_text(&mut n);
                n
            })
            .unwrap_or_else(|| {
                path.file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "fleet".into())
            });
        let mut credentials: Vec<CredentialSource> = Vec::new();
        for (i, c) in raw.credentials.into_iter().enumerate() {
            let at = |key: &str| format!("{file}: `credentials[{i}].{key}`");
            if !is_slug(&c.name) {
                bail!(
                    "{}: {:?} is not a name (lower-case letters, digits and -)",
                    at("name"),
                    c.name
                );
            }
            if credentials.iter().any(|x| x.name == c.name) {
                bail!("{}: {} is defined twice", at("name"), c.name);
            }
            let kind = match c.auth.as_str() {
                "secret" => AuthKind::Secret,
                "certificate" => AuthKind::Certificate,
                "workload-identity" => AuthKind::WorkloadIdentity,
                "managed-identity" => AuthKind::ManagedIdentity,
                other => bail!(
                    "{}: {other:?} is not one of secret, certificate, workload-identity, managed-identity (the Azure CLI signs one user in to one tenant at a time, so it cannot serve a fleet)",
                    at("auth")
                ),
            };
            let one_of = |env: Option<String>, file: Option<PathBuf>, keys: &str| match (env, file)
            {
                (Some(_), Some(_)) => Err(anyhow!("{}: give one of them, not both", at(keys))),
                (Some(v), None) => Ok(Some(SecretRef::Env(v))),
                (None, Some(f)) => Ok(Some(SecretRef::File(base.join(f)))),
                (None, None) => Ok(None),
            };
            let mut src = CredentialSource::named(&c.name, kind);
            src.client_id = c.client_id;
            src.secret = one_of(c.secret_env, c.secret_file, "secret_env/secret_file")?;
            src.certificate_password = one_of(
                c.certificate_password_env,
                c.certificate_password_file,
                "certificate_password_env/certificate_password_file",
            )?;
            src.certificate_file = c.certificate_file.map(|f| base.join(f));
            src.federated_token_file = c.federated_token_file.map(|f| base.join(f));
            if let Some(home) = c.lighthouse_home_tenant {
                if !crate::config::is_guid(&home) {
                    bail!(
                        "{}: {home:?} is not a tenant id (a GUID): the MSSP's own tenant, where the identity lives",
                        at("lighthouse_home_tenant")
                    );
                }
                src.lighthouse_home = Some(home);
            }
            let needs: &[(&str, bool)] = match kind {
                AuthKind::Secret => &[
                    ("client_id", src.client_id.is_some()),
                    ("secret_env or secret_file", src.secret.is_some()),
                ],
                AuthKind::Certificate => &[
                    ("client_id", src.client_id.is_some()),
                    ("certificate_file", src.certificate_file.is_some()),
                ],
                AuthKind::WorkloadIdentity => &[
                    ("client_id", src.client_id.is_some()),
                    ("federated_token_file", src.federated_token_file.is_some()),
                ],
                _ => &[],
            };
            if let Some((what, _)) = needs.iter().find(|(_, ok)| !ok) {
                bail!(
                    "{file}: `credentials[{i}]` ({}): auth = {:?} needs {what}",
                    c.name,
                    c.auth
                );
            }
            credentials.push(src);
        }
        let mut tenants = Vec::new();
        for (i, t) in raw.tenants.into_iter().enumerate() {
            let origin = format!("tenants[{i}]");
            let at = |key: &str| format!("{file}: `{origin}.{key}`");
            match (&t.config, &t.configs) {
                (Some(_), Some(_)) => {
                    bail!("{}: give `config` or `configs`, not both", at("configs"))
                }
                (None, Some(dir)) => {
                    if t.slug.is_some()
                        || t.bundle.is_some()
                        || t.pubkey.is_some()
                        || t.ledger.is_some()
                    {
                        bail!(
                            "{}: a `configs` directory names its tenants by file stem; `slug`, `bundle`, `pubkey` and `ledger` belong to single-config entries",
                            at("configs")
                        );
                    }
                    let dir = base.join(dir);
                    let mut found = Vec::new();
                    for e in std::fs::read_dir(&dir).with_context(|| {
                        format!("{}: cannot read {}", at("configs"), dir.display())
                    })? {
                        let p = e
                            .with_context(|| format!("{}: cannot list", dir.display()))?
                            .path();
                        if p.extension().is_some_and(|x| x == "toml") && p.is_file() {
                            found.push(p);
                        }
                    }
                    found.sort();
                    if found.is_empty() {
                        bail!(
                            "{}: {} holds no *.toml config",
                            at("configs"),
                            dir.display()
                        );
                    }
                    for p in found {
                        let slug = p
                            .file_stem()
                            .map(|s| s.to_string_lossy().into_owned())
                            .unwrap_or_default();
                        if !is_slug(&slug) {
                            bail!(
                                "{}: {}: the file stem {slug:?} is not a slug (lower-case letters, digits and -, at most 63); rename the file",
                                at("configs"),
                                p.display()
                            );
                        }
                        tenants.push(Tenant {
                            bundle: None,
                            slug,
                            config: Some(p),
                            pubkey: None,
                            credentials: t.credentials.clone(),
                            ledger: None,
                            origin: origin.clone(),
                        });
                    }
                }
                (config, None) => {
                    let slug = match (&t.slug, config) {
                        (Some(s), _) => s.clone(),
                        (None, Some(c)) => c
                            .file_stem()
                            .map(|s| s.to_string_lossy().into_owned())
                            .unwrap_or_default(),
                        (None, None) => bail!(
                            "{}: a tenant needs a `slug` (and a `config`, a `bundle`, or both)",
                            at("slug")
                        ),
                    };
                    if !is_slug(&slug) {
                        bail!(
                            "{}: {slug:?} is not a slug: lower-case letters, digits and -, starting with a letter or digit, at most 63",
                            at("slug")
                        );
                    }
                    if config.is_none() && t.bundle.is_none() {
                        bail!(
                            "{}: tenant {slug} names neither a `config` nor a `bundle`",
                            at("config")
                        );
                    }
                    tenants.push(Tenant {
                        bundle: t.bundle.as_ref().map(|b| base.join(b)),
                        config: config.as_ref().map(|c| base.join(c)),
                        pubkey: t.pubkey.as_ref().map(|k| base.join(k)),
                        credentials: t.credentials.clone(),
                        ledger: t.ledger.as_ref().map(|l| base.join(l)),
                        slug,
                        origin,
                    });
                }
            }
        }
        if tenants.is_empty() {
            bail!("{file}: lists no tenant (add [[tenants]] tables)");
        }
        let mut seen = BTreeSet::new();
        for t in &tenants {
            if !seen.insert(t.slug.as_str()) {
                bail!(
                    "{file}: `{}`: slug {} is used twice; each tenant needs its own",
                    t.origin,
                    t.slug
                );
            }
        }
        for t in &tenants {
            if let Some(c) = &t.credentials {
                if !credentials.iter().any(|x| &x.name == c) {
                    bail!(
                        "{file}: `{}.credentials`: no [[credentials]] entry is named {c:?}",
                        t.origin
                    );
                }
            }
        }
        tenants.sort_by(|a, b| a.slug.cmp(&b.slug));
        Ok(Fleet {
            path: path.to_path_buf(),
            name,
            state,
            tenants_at_once,
            requests_in_flight: raw.fleet.requests_in_flight,
            tenants,
            credentials,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Fleet> {
        Fleet::parse(s, Path::new("/f/fleet.toml"))
    }

    #[test]
    fn paths_resolve_against_the_fleet_file_and_bundles_default_to_the_state() {
        let f = parse(
            r#"
            [fleet]
            state = "st"
            tenants_at_once = 3
            [[tenants]]
            slug = "b"
            bundle = "bundles/b"
            [[tenants]]
            config = "tenants/a.toml"
            "#,
        )
        .unwrap();
        assert_eq!(f.tenants_at_once, 3);
        assert_eq!(f.name, "fleet");
        let slugs: Vec<&str> = f.tenants.iter().map(|t| t.slug.as_str()).collect();
        assert_eq!(slugs, ["a", "b"]);
        assert_eq!(
            f.tenants[0].bundle_in(&f.state),
            Path::new("/f/st/a/evidence")
        );
        assert_eq!(
            f.tenants[0].config.as_deref(),
            Some(Path::new("/f/tenants/a.toml"))
        );
        assert_eq!(f.tenants[1].bundle_in(&f.state), Path::new("/f/bundles/b"));
    }

    #[test]
    fn a_secret_is_refused_by_key_without_its_value() {
        let e = parse("[[tenants]]\nslug = \"a\"\nbundle = \"b\"\nclient_secret = \"Zm9vYmFyLXNlY3JldC12YWx1ZQ\"\n")
            .unwrap_err();
        let m = format!("{e:#}");
        assert!(m.contains("tenants[0].client_secret"), "{m}");
        assert!(!m.contains("Zm9vYmFy"), "{m}");
        // A TOML error does not quote the line either.
        let e = parse("[[tenants]]\nslug = \"a\" password = \"Zm9vYmFyLXNlY3JldC12YWx1ZQ\"\n")
            .unwrap_err();
        let m = format!("{e:#}");
        assert!(m.contains("line 2") && !m.contains("Zm9vYmFy"), "{m}");
    }

    #[test]
    fn bad_slugs_duplicates_unknown_keys_and_empty_fleets_are_refused() {
        for (text, says) in [
            ("[[tenants]]\nslug = \"Bad_Slug\"\nbundle = \"b\"\n", "not a slug"),
            (
                "[[tenants]]\nslug = \"a\"\nbundle = \"b\"\n[[tenants]]\nslug = \"a\"\nbundle = \"c\"\n",
                "used twice",
            ),
            ("[[tenants]]\nslug = \"a\"\nbundel = \"b\"\n", "tenants[0]"),
            ("[fleet]\nstate = \"s\"\n", "lists no tenant"),
            ("[[tenants]]\nslug = \"a\"\n", "neither"),
            (
                "[fleet]\ntenants_at_once = 0\n[[tenants]]\nslug = \"a\"\nbundle = \"b\"\n",
                "at least 1",
            ),
        ] {
            let m = format!("{:#}", parse(text).unwrap_err());
            assert!(m.contains(says) && m.contains("fleet.toml"), "{text}: {m}");
        }
    }

    #[test]
    fn credentials_name_their_secrets_by_variable_or_file_and_are_checked() {
        let f = parse(
            r#"
            [[credentials]]
            name = "mssp-app"
            auth = "secret"
            client_id = "00000000-0000-0000-0000-000000000001"
            secret_env = "MSSP_SECRET"
            [[credentials]]
            name = "delegated"
            auth = "secret"
            client_id = "00000000-0000-0000-0000-000000000001"
            secret_env = "MSSP_SECRET"
            lighthouse_home_tenant = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
            [[credentials]]
            name = "wi"
            auth = "workload-identity"
            client_id = "00000000-0000-0000-0000-000000000002"
            federated_token_file = "tokens/wi"
            [[tenants]]
            slug = "a"
            config = "a.toml"
            credentials = "mssp-app"
            "#,
        )
        .unwrap();
        let c = f.credential_of(&f.tenants[0]).unwrap();
        assert_eq!(c.secret, Some(SecretRef::Env("MSSP_SECRET".into())));
        assert!(!c.is_lighthouse());
        assert!(f.credentials[1].is_lighthouse());
        assert_eq!(
            f.credentials[2].federated_token_file.as_deref(),
            Some(Path::new("/f/tokens/wi"))
        );
        for (text, says) in [
            (
                "[[credentials]]\nname = \"x\"\nauth = \"secret\"\nclient_id = \"c\"\n[[tenants]]\nslug = \"a\"\nbundle = \"b\"\n",
                "needs secret_env or secret_file",
            ),
            (
                "[[credentials]]\nname = \"x\"\nauth = \"azure-cli\"\n[[tenants]]\nslug = \"a\"\nbundle = \"b\"\n",
                "cannot serve a fleet",
            ),
            (
                "[[tenants]]\nslug = \"a\"\nbundle = \"b\"\ncredentials = \"nope\"\n",
                "no [[credentials]] entry",
            ),
            (
                "[[credentials]]\nname = \"x\"\nauth = \"secret\"\nclient_id = \"c\"\nsecret_env = \"A\"\nsecret_file = \"f\"\n[[tenants]]\nslug = \"a\"\nbundle = \"b\"\n",
                "not both",
            ),
        ] {
            let m = format!("{:#}", parse(text).unwrap_err());
            assert!(m.contains(says), "{text}: {m}");
        }
    }

    #[test]
    fn a_configs_directory_gives_one_tenant_per_file() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("t")).unwrap();
        for n in ["zeta.toml", "alpha.toml", "notes.txt"] {
            std::fs::write(d.path().join("t").join(n), "").unwrap();
        }
        let f = Fleet::parse(
            "[[tenants]]\nconfigs = \"t\"\n",
            &d.path().join("fleet.toml"),
        )
        .unwrap();
        let slugs: Vec<&str> = f.tenants.iter().map(|t| t.slug.as_str()).collect();
        assert_eq!(slugs, ["alpha", "zeta"]);
        assert_eq!(
            f.tenants[1].bundle_in(&f.state),
            d.path().join("fleet-state/zeta/evidence")
        );
    }
}
