//! What to probe: the Microsoft endpoints the SIEM connects to, derived from the config and its
//! cloud (sovereign host names included), plus `--target` extras and `--connect-to` overrides.
//!
//! The host table follows reference/microsoft-apis.md §7 (national clouds) and seed-guide §4 /
//! "Required Network Access": Event Hubs over AMQPS 5671, checkpoint blobs, login, the Management
//! Activity API and Graph over HTTPS 443. `[endpoints]` in the config overrides any of them (and
//! is required for `cloud = "custom"`).

use std::fmt;

use crate::config::Config;

/// The application protocol spoken after TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// AMQP 1.0 over TLS (Event Hubs, port 5671): the SASL protocol-header exchange.
    Amqp,
    /// HTTP/1.1 over TLS: one `GET /` and its status line.
    Https,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Amqp => "amqp",
            Protocol::Https => "https",
        }
    }
}

/// One endpoint to probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `eventhub`, `blob`, `login`, `o365`, `graph`, or `extra`.
    pub role: String,
    /// The name the SIEM connects to: used for DNS, SNI, certificate checks and the Host header.
    pub host: String,
    pub port: u16,
    pub protocol: Protocol,
    /// Whether an unreachable target fails the probe (exit 1). Hosts the configured ingestion
    /// method does not use are probed for information only.
    pub required: bool,
    /// Whether the host is a Microsoft endpoint, so its certificate must come from Microsoft's CAs.
    pub microsoft: bool,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// Host names of one cloud (reference/microsoft-apis.md §7).
struct CloudHosts {
    eventhub_suffix: &'static str,
    blob_suffix: &'static str,
    login: &'static str,
    graph: &'static str,
}

fn cloud_hosts(cloud: &str) -> Option<CloudHosts> {
    Some(match cloud {
        "public" => CloudHosts {
            eventhub_suffix: "servicebus.windows.net",
            blob_suffix: "blob.core.windows.net",
            login: "login.microsoftonline.com",
            graph: "graph.microsoft.com",
        },
        "usgov" => CloudHosts {
            eventhub_suffix: "servicebus.usgovcloudapi.net",
            blob_suffix: "blob.core.usgovcloudapi.net",
            login: "login.microsoftonline.us",
            graph: "graph.microsoft.us",
        },
        "usgov-dod" => CloudHosts {
            eventhub_suffix: "servicebus.usgovcloudapi.net",
            blob_suffix: "blob.core.usgovcloudapi.net",
            login: "login.microsoftonline.us",
            graph: "dod-graph.microsoft.us",
        },
        "china" => CloudHosts {
            eventhub_suffix: "servicebus.chinacloudapi.cn",
            blob_suffix: "blob.core.chinacloudapi.cn",
            login: "login.chinacloudapi.cn",
            graph: "microsoftgraph.chinacloudapi.cn",
        },
        _ => return None,
    })
}

/// Management Activity API host per Microsoft 365 environment. GCC uses commercial Azure and
/// Graph but its own Management Activity host; 21Vianet documents none (so none is guessed).
fn management_host(cloud: &str, m365: &str) -> Option<&'static str> {
    if cloud == "china" {
        return None;
    }
    Some(match m365 {
        "gcc" => "manage-gcc.office.com",
        "gcc-high" => "manage.office365.us",
        "dod" => "manage.protection.apps.mil",
        _ => "manage.office.com",
    })
}

/// The host (and port, when one is given) of a configured endpoint, which may be written as a
/// bare host, a suffix with a leading dot, or a URL (`https://login.microsoftonline.com/`).
fn host_of(value: &str) -> (String, Option<u16>) {
    let v = value.trim();
    let v = v.split_once("://").map(|(_, rest)| rest).unwrap_or(v);
    let v = v.split(['/', '?', '#']).next().unwrap_or(v);
    let v = v.trim_start_matches('.').trim_end_matches('.');
    match v.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => match p.parse() {
            Ok(port) => (h.to_ascii_lowercase(), Some(port)),
            Err(_) => (v.to_ascii_lowercase(), None),
        },
        _ => (v.to_ascii_lowercase(), None),
    }
}

/// The targets the configured deployment needs from the SIEM collector host, plus notes about
/// targets that could not be derived (e.g. no Management Activity host in the China cloud).
pub fn from_config(cfg: &Config) -> (Vec<Target>, Vec<String>) {
    let table = cloud_hosts(&cfg.tenant.cloud);
    let ep = cfg.endpoints.clone().unwrap_or_default();
    let mut notes = Vec::new();
    let pick = |over: &Option<String>, default: Option<&str>| -> Option<(String, Option<u16>)> {
        match over {
            Some(v) => Some(host_of(v)),
            None => default.map(|d| (d.to_string(), None)),
        }
    };
    let mut out = Vec::new();
    // A custom cloud (e.g. Azure Stack Hub) has its own PKI: its hosts are only held to
    // Microsoft's issuers when they are under Microsoft's domains.
    let custom = cfg.tenant.cloud == "custom";
    let mut push = |role: &str, host: String, port: u16, protocol: Protocol, required: bool| {
        out.push(Target {
            role: role.into(),
            microsoft: !custom || is_microsoft_host(&host),
            host,
            port,
            protocol,
            required,
        })
    };

    if let Some((suffix, port)) = pick(
        &ep.eventhub_suffix,
        table.as_ref().map(|t| t.eventhub_suffix),
    ) {
        let host = format!("{}.{suffix}", cfg.eventhub.namespace.to_ascii_lowercase());
        push("eventhub", host, port.unwrap_or(5671), Protocol::Amqp, true);
    }
    match (
        &cfg.storage.account,
        pick(&ep.blob_suffix, table.as_ref().map(|t| t.blob_suffix)),
    ) {
        (Some(account), Some((suffix, port))) => {
            // A suffix given as `core.windows.net` still means the blob endpoint.
            let suffix = if suffix.starts_with("blob.") {
                suffix
            } else {
                format!("blob.{suffix}")
            };
            let host = format!("{}.{suffix}", account.to_ascii_lowercase());
            push("blob", host, port.unwrap_or(443), Protocol::Https, true);
        }
        (None, _) => notes.push(
            "no storage.account in the config: the checkpoint blob endpoint is not probed".into(),
        ),
        _ => {}
    }
    if let Some((host, port)) = pick(&ep.authority_host, table.as_ref().map(|t| t.login)) {
        push("login", host, port.unwrap_or(443), Protocol::Https, true);
    }
    match pick(
        &ep.management_activity,
        management_host(&cfg.tenant.cloud, &cfg.tenant.m365),
    ) {
        Some((host, port)) => push(
            "o365",
            host,
            port.unwrap_or(443),
            Protocol::Https,
            cfg.uses_management_api(),
        ),
        None => notes.push(format!(
            "no documented Management Activity API host for cloud {:?}: set endpoints.management_activity",
            cfg.tenant.cloud
        )),
    }
    if let Some((host, port)) = pick(&ep.graph, table.as_ref().map(|t| t.graph)) {
        push(
            "graph",
            host,
            port.unwrap_or(443),
            Protocol::Https,
            cfg.uses_graph(),
        );
    }
    (out, notes)
}

/// Parses a `--target` value: `host:port`, `[v6]:port`, or with a scheme `amqps://host:port` /
/// `https://host:port`. Without a scheme, port 5671 means AMQP and anything else HTTPS.
pub fn parse_extra(spec: &str) -> Result<Target, String> {
    let (scheme, rest) = match spec.split_once("://") {
        Some((s, r)) => (Some(s.to_ascii_lowercase()), r),
        None => (None, spec),
    };
    let rest = rest.trim_end_matches('/');
    let (host, port) = split_host_port(rest).ok_or_else(|| {
        format!("--target {spec:?}: expected HOST:PORT (e.g. myns.servicebus.windows.net:5671)")
    })?;
    let protocol = match scheme.as_deref() {
        Some("amqps") => Protocol::Amqp,
        Some("https") => Protocol::Https,
        Some(other) => {
            return Err(format!(
                "--target {spec:?}: unsupported scheme {other:?} (use amqps:// or https://)"
            ))
        }
        None if port == 5671 => Protocol::Amqp,
        None => Protocol::Https,
    };
    Ok(Target {
        role: "extra".into(),
        microsoft: is_microsoft_host(&host),
        host,
        port,
        protocol,
        required: true,
    })
}

/// Splits `host:port` or `[v6]:port`; the host is lower-cased, brackets removed.
pub fn split_host_port(s: &str) -> Option<(String, u16)> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (h, p) = rest.split_once("]:")?;
        (h, p)
    } else {
        s.rsplit_once(':')?
    };
    if host.is_empty() || host.contains(['/', ' ', '@']) {
        return None;
    }
    let port: u16 = port.parse().ok().filter(|p| *p != 0)?;
    Some((host.to_ascii_lowercase(), port))
}

/// Domains whose endpoints Microsoft serves with certificates from its own CAs: an extra target
/// under one of them is judged for TLS interception like the configured ones.
const MICROSOFT_DOMAINS: &[&str] = &[
    "windows.net",
    "microsoftonline.com",
    "microsoft.com",
    "office.com",
    "office365.us",
    "microsoftonline.us",
    "microsoft.us",
    "usgovcloudapi.net",
    "chinacloudapi.cn",
    "apps.mil",
    "azure.com",
    "azure.net",
];

pub fn is_microsoft_host(host: &str) -> bool {
    let h = host.trim_end_matches('.').to_ascii_lowercase();
    MICROSOFT_DOMAINS
        .iter()
        .any(|d| h == *d || h.ends_with(&format!(".{d}")))
}

/// `--connect-to HOST:PORT:ADDR:PORT2` (as curl has it): connect to ADDR:PORT2 whenever HOST:PORT
/// is probed, while DNS, SNI, certificate checks and Host headers keep using HOST. For testing a
/// path through a port forward, a private endpoint's address, or a local mock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectTo {
    pub host: String,
    pub port: u16,
    pub to_host: String,
    pub to_port: u16,
}

impl ConnectTo {
    pub fn parse(spec: &str) -> Result<ConnectTo, String> {
        let bad = || format!("--connect-to {spec:?}: expected HOST:PORT:ADDR:PORT");
        // HOST:PORT:ADDR:PORT where ADDR may be a bracketed IPv6 address.
        let (left, right) = if let Some(i) = spec.find(":[") {
            (&spec[..i], &spec[i + 1..])
        } else {
            let mut idx = spec.match_indices(':').map(|(i, _)| i);
            let second = idx.nth(1).ok_or_else(bad)?;
            (&spec[..second], &spec[second + 1..])
        };
        let (host, port) = split_host_port(left).ok_or_else(bad)?;
        let (to_host, to_port) = split_host_port(right).ok_or_else(bad)?;
        Ok(ConnectTo {
            host,
            port,
            to_host,
            to_port,
        })
    }

    pub fn applies(&self, t: &Target) -> bool {
        self.host.eq_ignore_ascii_case(&t.host) && self.port == t.port
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(extra: &str) -> Config {
        let text = format!("{}\n{extra}", crate::config::INIT_TEMPLATE);
        Config::parse(&text, "t.toml").unwrap()
    }

    #[test]
    fn public_cloud_targets() {
        let (t, _) = from_config(&cfg(""));
        let names: Vec<String> = t.iter().map(|t| format!("{} {t}", t.role)).collect();
        assert_eq!(
            names,
            [
                "eventhub psiem-namespace.servicebus.windows.net:5671",
                "blob qradarcheckpoints.blob.core.windows.net:443",
                "login login.microsoftonline.com:443",
                "o365 manage.office.com:443",
                "graph graph.microsoft.com:443",
            ]
        );
        assert!(t[0].protocol == Protocol::Amqp && t[0].required);
        assert!(
            !t[4].required,
            "graph is informational under method management_api"
        );
    }

    #[test]
    fn sovereign_hosts() {
        let t = crate::config::INIT_TEMPLATE.replace("cloud = \"public\"", "cloud = \"usgov\"");
        let t = t.replace("m365 = \"enterprise\"", "m365 = \"gcc-high\"");
        let (t, _) = from_config(&Config::parse(&t, "t").unwrap());
        let hosts: Vec<&str> = t.iter().map(|t| t.host.as_str()).collect();
        assert_eq!(
            hosts,
            [
                "psiem-namespace.servicebus.usgovcloudapi.net",
                "qradarcheckpoints.blob.core.usgovcloudapi.net",
                "login.microsoftonline.us",
                "manage.office365.us",
                "graph.microsoft.us",
            ]
        );
        let c = crate::config::INIT_TEMPLATE.replace("cloud = \"public\"", "cloud = \"china\"");
        let (t, notes) = from_config(&Config::parse(&c, "t").unwrap());
        assert!(t.iter().all(|t| t.role != "o365"));
        assert!(notes.iter().any(|n| n.contains("management_activity")));
        assert_eq!(t[0].host, "psiem-namespace.servicebus.chinacloudapi.cn");
        let c = crate::config::INIT_TEMPLATE.replace("m365 = \"enterprise\"", "m365 = \"dod\"");
        let (t, _) = from_config(&Config::parse(&c, "t").unwrap());
        assert!(t.iter().any(|t| t.host == "manage.protection.apps.mil"));
    }

    #[test]
    fn custom_endpoints() {
        let c = crate::config::INIT_TEMPLATE.replace("cloud = \"public\"", "cloud = \"custom\"");
        let c = format!(
            "{c}\n[endpoints]\nauthority_host = \"https://login.example.test/\"\narm = \"https://arm.example.test\"\n\
             graph = \"https://graph.example.test:8443\"\nmanagement_activity = \"https://manage.example.test\"\n\
             eventhub_suffix = \".sb.example.test\"\nblob_suffix = \"core.example.test\"\n"
        );
        let (t, _) = from_config(&Config::parse(&c, "t").unwrap());
        let names: Vec<String> = t.iter().map(|t| t.to_string()).collect();
        assert_eq!(
            names,
            [
                "psiem-namespace.sb.example.test:5671",
                "qradarcheckpoints.blob.core.example.test:443",
                "login.example.test:443",
                "manage.example.test:443",
                "graph.example.test:8443",
            ]
        );
        assert!(
            t.iter().all(|t| !t.microsoft),
            "a custom cloud has its own PKI"
        );
    }

    #[test]
    fn extras_and_connect_to() {
        let t = parse_extra("myns.servicebus.windows.net:5671").unwrap();
        assert_eq!(t.protocol, Protocol::Amqp);
        assert!(t.microsoft);
        let t = parse_extra("amqps://localhost:40000").unwrap();
        assert_eq!((t.protocol, t.microsoft), (Protocol::Amqp, false));
        let t = parse_extra("[::1]:443").unwrap();
        assert_eq!(t.host, "::1");
        assert!(parse_extra("nohost").is_err());
        assert!(parse_extra("h:0").is_err());
        assert!(parse_extra("ftp://h:21").is_err());
        let c = ConnectTo::parse("a.servicebus.windows.net:5671:127.0.0.1:4000").unwrap();
        assert_eq!((c.to_host.as_str(), c.to_port), ("127.0.0.1", 4000));
        let c = ConnectTo::parse("h:443:[::1]:8443").unwrap();
        assert_eq!(c.to_host, "::1");
        assert!(ConnectTo::parse("h:443").is_err());
    }
}
