//! HTTP CONNECT proxies, as QRadar's "Use Proxy" option and most SIEM collectors use them.
//!
//! The proxy comes from `--proxy URL` or the `HTTPS_PROXY` environment variable (`NO_PROXY`
//! honoured), may carry Basic credentials in its URL, and is only ever shown redacted: the
//! password never reaches a report, a log line, an error or a panic message.

use std::fmt;

use base64::Engine as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A parsed `http://[user[:password]@]host[:port]` proxy URL.
#[derive(Clone, PartialEq, Eq)]
pub struct Proxy {
    pub host: String,
    pub port: u16,
    pub username: Option<String>,
    password: Option<String>,
}

impl Proxy {
    /// Parses a proxy URL with the url crate (IDNA hosts, IPv6 literals, percent-decoded
    /// credentials); errors never repeat the URL (it may hold a password). A URL without a
    /// port uses 80, the URL standard's (and reqwest's) default for `http://`.
    pub fn parse(url: &str) -> Result<Proxy, String> {
        let url = url.trim();
        let written = if url.contains("://") {
            url.to_string()
        } else {
            format!("http://{url}")
        };
        let bad = || "proxy URL: expected http://HOST:PORT".to_string();
        let u = url::Url::parse(&written).map_err(|_| bad())?;
        if u.scheme() != "http" {
            let scheme = u.scheme();
            return Err(format!(
                "proxy scheme {scheme:?} is not supported: use an http:// proxy URL (HTTP CONNECT)"
            ));
        }
        let host = match u.host() {
            Some(url::Host::Domain(d)) if !d.is_empty() => d.to_string(),
            Some(url::Host::Ipv4(a)) => a.to_string(),
            Some(url::Host::Ipv6(a)) => a.to_string(),
            _ => return Err(bad()),
        };
        let port = u.port_or_known_default().ok_or_else(bad)?;
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|_| "proxy URL: credentials are not UTF-8".to_string())
        };
        let username = match u.username() {
            "" => None,
            name => Some(decode(name)?),
        };
        let password = u.password().map(decode).transpose()?;
        Ok(Proxy {
            host,
            port,
            username,
            password,
        })
    }

    /// The proxy from the environment (`HTTPS_PROXY`, then `https_proxy`), if any.
    pub fn from_env() -> Result<Option<Proxy>, String> {
        for var in ["HTTPS_PROXY", "https_proxy"] {
            if let Ok(v) = std::env::var(var) {
                if !v.trim().is_empty() {
                    return Proxy::parse(&v)
                        .map(Some)
                        .map_err(|e| format!("environment variable {var}: {e}"));
                }
            }
        }
        Ok(None)
    }

    /// Redacts our own credentials (in any form they could come back in) and anything
    /// secret-looking from text a proxy sent, and keeps it short.
    fn scrub(&self, text: &str) -> String {
        let auth = self.authorization();
        let token = auth.as_deref().and_then(|a| a.strip_prefix("Basic "));
        let mut known: Vec<&str> = Vec::new();
        known.extend(self.password.as_deref());
        known.extend(token);
        known.extend(auth.as_deref());
        let clean = crate::redact::text_with(text, &known);
        crate::evidence::truncate_marked(&clean, 300)
    }

    /// `Proxy-Authorization` value for Basic credentials.
    fn authorization(&self) -> Option<String> {
        let user = self.username.as_deref()?;
        let pass = self.password.as_deref().unwrap_or("");
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        Some(format!("Basic {token}"))
    }

    /// Opens a tunnel to `host:port` over an established connection to the proxy.
    pub async fn connect(
        &self,
        stream: &mut TcpStream,
        host: &str,
        port: u16,
    ) -> Result<(), ProxyError> {
        let authority = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let mut req = format!(
            "CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: siemproof-probe/{}\r\n",
            env!("CARGO_PKG_VERSION")
        );
        if let Some(auth) = self.authorization() {
            req.push_str(&format!("Proxy-Authorization: {auth}\r\n"));
        }
        req.push_str("\r\n");
        stream
            .write_all(req.as_bytes())
            .await
            .map_err(|e| ProxyError::Io(e.to_string()))?;
        // Read the response head byte by byte so no tunnelled byte (e.g. a TLS ServerHello) is
        // consumed; bounded because a hostile proxy may send headers forever.
        let mut head = Vec::with_capacity(256);
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if head.len() >= 16 * 1024 {
                return Err(ProxyError::Malformed("response head over 16 KiB".into()));
            }
            match stream.read(&mut byte).await {
                Ok(0) => {
                    return Err(ProxyError::Malformed(
                        "the proxy closed the connection before answering CONNECT".into(),
                    ))
                }
                Ok(_) => head.push(byte[0]),
                Err(e) => return Err(ProxyError::Io(e.to_string())),
            }
        }
        // Only the status line is kept, never the reply's headers, and it is redacted: a
        // proxy may echo the Proxy-Authorization header (or the password) it was sent.
        let parsed =
            super::http::parse_head(&head).map_err(|e| ProxyError::Malformed(self.scrub(&e)))?;
        let status_line = self.scrub(&parsed.status_line);
        let code = parsed.code;
        match code {
            200..=299 => Ok(()),
            407 => Err(ProxyError::AuthRequired {
                had_credentials: self.username.is_some(),
                status_line,
            }),
            _ => Err(ProxyError::Refused(status_line)),
        }
    }

    /// Whether `NO_PROXY` / `no_proxy` exempts `host` (suffix match; `*` exempts everything).
    pub fn bypassed_by_env(host: &str) -> bool {
        let list = std::env::var("NO_PROXY")
            .or_else(|_| std::env::var("no_proxy"))
            .unwrap_or_default();
        no_proxy_matches(&list, host)
    }
}

/// Whether a `NO_PROXY` list exempts `host`, by hyper-util's matcher (the one reqwest uses):
/// domains and their subdomains, `*`, IP addresses and CIDR ranges. `*.corp` is read as `.corp`,
/// as the list this replaced did.
pub fn no_proxy_matches(list: &str, host: &str) -> bool {
    let list: Vec<&str> = list
        .split(',')
        .map(|e| {
            let e = e.trim();
            e.strip_prefix("*.").unwrap_or(e)
        })
        .collect();
    let list = list.join(",");
    if list.split(',').any(|e| e == "*") {
        return true;
    }
    let matcher = hyper_util::client::proxy::matcher::Matcher::builder()
        .https("http://proxy.invalid:1")
        .no(list)
        .build();
    let authority = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    match format!("https://{authority}/").parse::<http::Uri>() {
        Ok(uri) => matcher.intercept(&uri).is_none(),
        Err(_) => false,
    }
}

/// Shown everywhere the proxy is mentioned: the password is replaced by `***`.
impl fmt::Display for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        match (&self.username, &self.password) {
            (Some(u), Some(_)) => write!(f, "http://{u}:***@{host}:{}", self.port),
            (Some(u), None) => write!(f, "http://{u}@{host}:{}", self.port),
            _ => write!(f, "http://{host}:{}", self.port),
        }
    }
}

/// Debug output is redacted too, so a `{:?}` in a panic cannot leak the password.
impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Proxy({self})")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyError {
    AuthRequired {
        had_credentials: bool,
        status_line: String,
    },
    Refused(String),
    Malformed(String),
    Io(String),
}

impl fmt::Display for ProxyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProxyError::AuthRequired {
                had_credentials: true,
                status_line,
            } => write!(f, "the proxy rejected the credentials ({status_line})"),
            ProxyError::AuthRequired { status_line, .. } => write!(
                f,
                "the proxy requires credentials ({status_line}): give them in the proxy URL"
            ),
            ProxyError::Refused(s) => write!(f, "the proxy refused the tunnel ({s})"),
            ProxyError::Malformed(s) => write!(f, "the proxy's answer is not HTTP: {s}"),
            ProxyError::Io(s) => write!(f, "proxy connection failed: {s}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_redacts() {
        let p = Proxy::parse("http://svc-siem:s%40cret@proxy.corp:3128/").unwrap();
        assert_eq!((p.host.as_str(), p.port), ("proxy.corp", 3128));
        assert_eq!(p.username.as_deref(), Some("svc-siem"));
        assert_eq!(p.to_string(), "http://svc-siem:***@proxy.corp:3128");
        assert!(!format!("{p:?}").contains("cret"));
        assert_eq!(
            p.authorization().unwrap(),
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode("svc-siem:s@cret")
            )
        );
        assert_eq!(Proxy::parse("proxy.corp").unwrap().port, 80);
        assert_eq!(Proxy::parse("http://proxy.corp:80").unwrap().port, 80);
        // What the string splitting this replaced let through or got wrong: a space in the
        // host, an IDN host (needs punycode to resolve), an IPv6 literal.
        assert!(Proxy::parse("http://pro xy.corp:3128").is_err());
        assert_eq!(
            Proxy::parse("http://prøxy.corp:3128").unwrap().host,
            "xn--prxy-hra.corp"
        );
        assert_eq!(Proxy::parse("http://[::1]:3128").unwrap().host, "::1");
        let e = Proxy::parse("https://u:topsecret@p:443").unwrap_err();
        assert!(!e.contains("topsecret"), "{e}");
        assert!(Proxy::parse("http://u:p@:80").is_err());
    }

    #[test]
    fn no_proxy() {
        assert!(no_proxy_matches(
            "localhost, .corp.example",
            "svc.corp.example"
        ));
        assert!(no_proxy_matches("*", "x"));
        assert!(!no_proxy_matches("corp.example", "servicebus.windows.net"));
        assert!(no_proxy_matches("*.corp.example", "svc.corp.example"));
        // IP addresses and CIDR ranges, which the suffix matching this replaced missed.
        assert!(no_proxy_matches("10.0.0.0/8", "10.1.2.3"));
        assert!(no_proxy_matches("::1", "::1"));
        assert!(!no_proxy_matches("10.0.0.0/8", "11.1.2.3"));
    }
}
