//! Sovereign clouds: the one table of base URLs, token scopes and DNS suffixes per cloud, and
//! the Management Activity API host per Microsoft 365 environment.
//!
//! Tokens from one cloud are not valid in another, and M365 GCC is the odd one out: commercial
//! Azure and Graph, but `manage-gcc.office.com` (reference/microsoft-apis.md section 7). A
//! `custom` cloud takes every base URL from the config's `[endpoints]`, which is also how the
//! local mock and TLS-intercepting proxies are reached; `[endpoints]` entries override the table
//! for the named clouds too.

use anyhow::{bail, Result};

use crate::config::Config;

/// One row of the cloud table.
#[derive(Debug, Clone, Copy)]
pub struct CloudRow {
    /// The `tenant.cloud` value.
    pub name: &'static str,
    pub authority_host: &'static str,
    pub arm: &'static str,
    pub graph: &'static str,
    pub eventhub_suffix: &'static str,
    pub blob_suffix: &'static str,
}

/// Azure clouds (microsoft-apis.md section 7). `custom` has no row: it is all config.
pub static CLOUDS: &[CloudRow] = &[
    CloudRow {
        name: "public",
        authority_host: "https://login.microsoftonline.com",
        arm: "https://management.azure.com",
        graph: "https://graph.microsoft.com",
        eventhub_suffix: "servicebus.windows.net",
        blob_suffix: "blob.core.windows.net",
    },
    CloudRow {
        name: "usgov",
        authority_host: "https://login.microsoftonline.us",
        arm: "https://management.usgovcloudapi.net",
        graph: "https://graph.microsoft.us",
        eventhub_suffix: "servicebus.usgovcloudapi.net",
        blob_suffix: "blob.core.usgovcloudapi.net",
    },
    CloudRow {
        name: "usgov-dod",
        authority_host: "https://login.microsoftonline.us",
        arm: "https://management.usgovcloudapi.net",
        graph: "https://dod-graph.microsoft.us",
        eventhub_suffix: "servicebus.usgovcloudapi.net",
        blob_suffix: "blob.core.usgovcloudapi.net",
    },
    CloudRow {
        name: "china",
        authority_host: "https://login.chinacloudapi.cn",
        arm: "https://management.chinacloudapi.cn",
        graph: "https://microsoftgraph.chinacloudapi.cn",
        eventhub_suffix: "servicebus.chinacloudapi.cn",
        blob_suffix: "blob.core.chinacloudapi.cn",
    },
];

/// Management Activity API hosts per `tenant.m365` (section 5). 21Vianet has none documented.
pub static M365_HOSTS: &[(&str, &str)] = &[
    ("enterprise", "https://manage.office.com"),
    ("gcc", "https://manage-gcc.office.com"),
    ("gcc-high", "https://manage.office365.us"),
    ("dod", "https://manage.protection.apps.mil"),
];

/// The resolved endpoints of one collection run.
#[derive(Debug, Clone, PartialEq)]
pub struct CloudEndpoints {
    pub cloud: String,
    /// Entra ID authority (login) host; azure_identity sends the token request there.
    pub authority_host: String,
    /// ARM base URL (no trailing slash).
    pub arm: String,
    /// Graph root (no trailing slash, without `/v1.0`).
    pub graph: String,
    /// Management Activity API root, when the cloud has one.
    pub management_activity: Option<String>,
    pub eventhub_suffix: String,
    pub blob_suffix: String,
    /// The Blob service URL of an account, `{account}` standing for its name (default
    /// `https://{account}.<blob_suffix>`; `[endpoints] blob` overrides it, e.g. a path-style
    /// emulator `https://127.0.0.1:10000/{account}`).
    pub blob: String,
    /// `[endpoints] eventhub_amqp`: the AMQP endpoint to connect to instead of the namespace's.
    pub eventhub_amqp: Option<String>,
    /// Azure Monitor's batched metrics read (`metrics:getBatch`), `{region}` standing for the
    /// namespaces' region: the public cloud's regional hosts, or `[endpoints] metrics_batch`.
    /// `None` elsewhere (Microsoft documents no sovereign host for it), so metrics are read
    /// per namespace through ARM there.
    pub metrics_batch: Option<String>,
}

/// Azure Monitor's regional metrics hosts in the public cloud (consumer-health.md §6.2;
/// migrate-to-batch-api.md).
pub const PUBLIC_METRICS_BATCH: &str = "https://{region}.metrics.monitor.azure.com";

impl CloudEndpoints {
    /// Resolves the endpoints for a config: the table row, the M365 host, then `[endpoints]`.
    pub fn resolve(cfg: &Config) -> Result<CloudEndpoints> {
        let ov = cfg.endpoints.clone().unwrap_or_default();
        let pick = |o: &Option<String>, d: &str| -> String {
            o.clone()
                .unwrap_or_else(|| d.to_string())
                .trim_end_matches('/')
                .to_string()
        };
        let (row, mgmt) = if cfg.tenant.cloud == "custom" {
            (None, None)
        } else {
            let Some(row) = CLOUDS.iter().find(|r| r.name == cfg.tenant.cloud) else {
                bail!(
                    "tenant.cloud: unknown cloud {:?}; known: public, usgov, usgov-dod, china, custom",
                    cfg.tenant.cloud
                );
            };
            // 21Vianet: no documented Management Activity API endpoint.
            let mgmt = if row.name == "china" {
                None
            } else {
                M365_HOSTS
                    .iter()
                    .find(|(m, _)| *m == cfg.tenant.m365)
                    .map(|(_, h)| h.to_string())
            };
            (Some(row), mgmt)
        };
        let need = |o: &Option<String>, key: &str, d: Option<&str>| -> Result<String> {
            match (o, d) {
                (Some(_), _) => Ok(pick(o, "")),
                (None, Some(d)) => Ok(d.trim_end_matches('/').to_string()),
                (None, None) => bail!("endpoints.{key}: required when tenant.cloud = \"custom\""),
            }
        };
        let ep = CloudEndpoints {
            cloud: cfg.tenant.cloud.clone(),
            authority_host: need(
                &ov.authority_host,
                "authority_host",
                row.map(|r| r.authority_host),
            )?,
            arm: need(&ov.arm, "arm", row.map(|r| r.arm))?,
            graph: need(&ov.graph, "graph", row.map(|r| r.graph))?,
            management_activity: match &ov.management_activity {
                Some(_) => Some(pick(&ov.management_activity, "")),
                None => mgmt,
            },
            eventhub_suffix: need(
                &ov.eventhub_suffix,
                "eventhub_suffix",
                row.map(|r| r.eventhub_suffix),
            )?,
            blob_suffix: need(&ov.blob_suffix, "blob_suffix", row.map(|r| r.blob_suffix))?,
            blob: String::new(),
            eventhub_amqp: ov.eventhub_amqp.clone(),
            metrics_batch: match (&ov.metrics_batch, cfg.tenant.cloud.as_str()) {
                (Some(t), _) => Some(t.trim_end_matches('/').to_string()),
                (None, "public") => Some(PUBLIC_METRICS_BATCH.to_string()),
                (None, _) => None,
            },
        };
        let mut ep = ep;
        ep.blob = match &ov.blob {
            Some(b) => b.trim_end_matches('/').to_string(),
            None => format!("https://{{account}}.{}", ep.blob_suffix),
        };
        if !ep.blob.contains("{account}") {
            bail!("endpoints.blob: {:?} must contain {{account}}", ep.blob);
        }
        if !ep.blob.starts_with("https://") {
            bail!("endpoints.blob: {:?} must use https", ep.blob);
        }
        if let Some(t) = &ep.metrics_batch {
            // A bearer token goes to it: https only, and the region must be a host label or
            // a path segment, nothing the template could hide another host in.
            let probe = t.replace("{region}", "westeurope");
            let ok = t.matches("{region}").count() == 1
                && url::Url::parse(&probe).is_ok_and(|u| {
                    u.scheme() == "https" && u.query().is_none() && u.fragment().is_none()
                });
            if !ok {
                bail!(
                    "endpoints.metrics_batch: {t:?} must be an https URL with {{region}} once and no query"
                );
            }
        }
        if let Some(a) = &ep.eventhub_amqp {
            let u = url::Url::parse(a)
                .map_err(|e| anyhow::anyhow!("endpoints.eventhub_amqp: {a:?} is not a URL: {e}"))?;
            // The partition reads carry an Entra token: never over a clear-text connection.
            if u.scheme() != "amqps" || u.domain().is_none() {
                bail!("endpoints.eventhub_amqp: {a:?} must be amqps://<host name>[:port]");
            }
        }
        for (k, v) in [
            ("authority_host", Some(&ep.authority_host)),
            ("arm", Some(&ep.arm)),
            ("graph", Some(&ep.graph)),
            ("management_activity", ep.management_activity.as_ref()),
        ] {
            if let Some(v) = v {
                let u = url::Url::parse(v)
                    .map_err(|e| anyhow::anyhow!("endpoints.{k}: {v:?} is not a URL: {e}"))?;
                if u.scheme() != "https" {
                    bail!("endpoints.{k}: {v:?} must use https");
                }
            }
        }
        Ok(ep)
    }

    /// The token scope (`<resource>/.default`) for a plane audience name from the kinds table.
    pub fn scope(&self, audience: &str) -> Option<String> {
        // Storage takes one resource in every cloud (authorize-with-azure-active-directory).
        if audience == "storage" {
            return Some("https://storage.azure.com/.default".into());
        }
        let base = match audience {
            "arm" => &self.arm,
            "graph" => &self.graph,
            "o365" => self.management_activity.as_ref()?,
            // One audience for every regional host (the Monitor Query SDK's batch client).
            "metrics" => {
                let t = self.metrics_batch.as_ref()?;
                return Some(if t == PUBLIC_METRICS_BATCH {
                    "https://metrics.monitor.azure.com/.default".into()
                } else {
                    format!("{}/.default", origin(&t.replace("{region}", "region")))
                });
            }
            _ => return None,
        };
        Some(format!("{}/.default", origin(base)))
    }

    /// The Blob service URL of a storage account.
    pub fn blob_base(&self, account: &str) -> String {
        self.blob.replace("{account}", account)
    }

    /// The batched metrics read's base URL for one region, when the cloud has one.
    pub fn metrics_base(&self, region: &str) -> Option<String> {
        let ok = !region.is_empty()
            && region.len() <= 40
            && region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        ok.then(|| {
            self.metrics_batch
                .as_ref()
                .map(|t| t.replace("{region}", region))
        })
        .flatten()
    }

    /// The base URL requests of a plane audience are joined to.
    pub fn base(&self, audience: &str) -> Option<String> {
        match audience {
            "arm" => Some(self.arm.clone()),
            "graph" => Some(format!("{}/v1.0", self.graph)),
            "o365" => self.management_activity.clone(),
            _ => None,
        }
    }
}

/// `scheme://host[:port]` of a URL (token audiences are origins).
pub fn origin(u: &str) -> String {
    match url::Url::parse(u) {
        Ok(p) => p.origin().ascii_serialization(),
        Err(_) => u.trim_end_matches('/').to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(cloud: &str, m365: &str) -> Config {
        let t = crate::config::INIT_TEMPLATE
            .replace("cloud = \"public\"", &format!("cloud = \"{cloud}\""))
            .replace("m365 = \"enterprise\"", &format!("m365 = \"{m365}\""));
        let mut c = Config::parse(&t, "t").unwrap_or_else(|e| panic!("{e}"));
        c.tenant.cloud = cloud.into();
        c.tenant.m365 = m365.into();
        c
    }

    #[test]
    fn gcc_uses_commercial_graph_but_its_own_management_host() {
        let e = CloudEndpoints::resolve(&cfg("public", "gcc")).unwrap();
        assert_eq!(e.graph, "https://graph.microsoft.com");
        assert_eq!(
            e.management_activity.as_deref(),
            Some("https://manage-gcc.office.com")
        );
        assert_eq!(
            e.scope("o365").as_deref(),
            Some("https://manage-gcc.office.com/.default")
        );
    }

    #[test]
    fn sovereign_rows() {
        let e = CloudEndpoints::resolve(&cfg("usgov-dod", "dod")).unwrap();
        assert_eq!(e.graph, "https://dod-graph.microsoft.us");
        assert_eq!(
            e.management_activity.as_deref(),
            Some("https://manage.protection.apps.mil")
        );
        let e = CloudEndpoints::resolve(&cfg("usgov", "gcc-high")).unwrap();
        assert_eq!(e.arm, "https://management.usgovcloudapi.net");
        assert_eq!(
            e.management_activity.as_deref(),
            Some("https://manage.office365.us")
        );
        let e = CloudEndpoints::resolve(&cfg("china", "enterprise")).unwrap();
        assert_eq!(e.management_activity, None);
        assert_eq!(e.blob_suffix, "blob.core.chinacloudapi.cn");
    }

    #[test]
    fn a_metrics_batch_host_must_be_https_with_one_region() {
        for (t, ok) in [
            ("https://{region}.metrics.example", true),
            ("https://127.0.0.1:8443/metrics/{region}", true),
            ("http://{region}.metrics.example", false),
            ("https://metrics.example", false),
            ("https://{region}.{region}.example", false),
            ("https://{region}.metrics.example?x=1", false),
        ] {
            let mut c = cfg("public", "enterprise");
            c.endpoints = Some(crate::config::Endpoints {
                metrics_batch: Some(t.into()),
                ..Default::default()
            });
            let r = CloudEndpoints::resolve(&c);
            assert_eq!(r.is_ok(), ok, "{t}: {r:?}");
            if let Err(e) = r {
                assert!(e.to_string().contains("endpoints.metrics_batch"), "{e}");
            }
        }
    }

    #[test]
    fn custom_needs_every_endpoint() {
        let mut c = cfg("public", "enterprise");
        c.tenant.cloud = "custom".into();
        let e = CloudEndpoints::resolve(&c).unwrap_err().to_string();
        assert!(e.contains("endpoints.authority_host"), "{e}");
    }
}
