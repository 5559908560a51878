//! The HTTPS step on 443 (one `GET /` and its status line; any status proves the service speaks
//! HTTP from here) and the AMQP-over-WebSockets upgrade that Event Hubs offers on 443 at
//! `/$servicebus/websocket` with sub-protocol `AMQPWSB10`, a fallback when 5671 is blocked.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The WebSocket path and sub-protocol of AMQP over WebSockets on Azure Service Bus / Event Hubs.
pub const WEBSOCKET_PATH: &str = "/$servicebus/websocket";
pub const WEBSOCKET_PROTOCOL: &str = "AMQPWSB10";

fn host_header(host: &str, port: u16) -> String {
    let h = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    if port == 443 {
        h
    } else {
        format!("{h}:{port}")
    }
}

/// A parsed response head (httparse): the status line as text and the headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub code: u16,
    /// `HTTP/1.x CODE REASON`, at most 120 characters.
    pub status_line: String,
    pub headers: Vec<(String, String)>,
}

impl Head {
    /// The values of header `name` (case-insensitive).
    pub fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Parses a response head with httparse. A head cut short after its status line (the server
/// closed the connection) still yields the status line.
pub fn parse_head(buf: &[u8]) -> Result<Head, String> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut resp = httparse::Response::new(&mut headers);
    let parsed = resp.parse(buf);
    let code = match (&parsed, resp.code) {
        (Ok(_), Some(code)) => code,
        _ if buf.starts_with(b"AMQP") => {
            return Err("the server answered with AMQP, not HTTP".into())
        }
        (Err(e), _) => {
            let line =
                String::from_utf8_lossy(buf.split(|b| *b == b'\n').next().unwrap_or_default())
                    .trim()
                    .chars()
                    .take(60)
                    .collect::<String>();
            return Err(format!("not an HTTP status line ({e}): {line:?}"));
        }
        (Ok(_), None) => return Err("the HTTP answer ends inside its status line".into()),
    };
    let status_line = format!(
        "HTTP/1.{} {code} {}",
        resp.version.unwrap_or(1),
        resp.reason.unwrap_or_default()
    )
    .trim()
    .chars()
    .take(120)
    .collect();
    let headers = resp
        .headers
        .iter()
        .take_while(|h| !h.name.is_empty())
        .map(|h| {
            (
                h.name.to_string(),
                String::from_utf8_lossy(h.value).trim().to_string(),
            )
        })
        .collect();
    Ok(Head {
        code,
        status_line,
        headers,
    })
}

/// Sends `GET /` and returns the status line.
pub async fn get_status<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    host: &str,
    port: u16,
) -> Result<String, String> {
    let req = format!(
        "GET / HTTP/1.1\r\nHost: {}\r\nUser-Agent: siemproof-probe/{}\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        host_header(host, port),
        env!("CARGO_PKG_VERSION")
    );
    send(stream, &req).await?;
    let head = parse_head(&read_head(stream).await?)?;
    Ok(head.status_line)
}

/// Asks for the AMQP WebSocket upgrade; returns the status line on a `101` that answers our
/// key (`Sec-WebSocket-Accept`, RFC 6455 §4.2.2, by tungstenite) with the right sub-protocol,
/// an error describing the answer otherwise.
pub async fn websocket_upgrade<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    host: &str,
    port: u16,
) -> Result<String, String> {
    let key = tungstenite::handshake::client::generate_key();
    let req = format!(
        "GET {WEBSOCKET_PATH} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: {WEBSOCKET_PROTOCOL}\r\n\
         User-Agent: siemproof-probe/{}\r\n\r\n",
        host_header(host, port),
        env!("CARGO_PKG_VERSION")
    );
    send(stream, &req).await?;
    let head = parse_head(&read_head(stream).await?)?;
    let line = head.status_line.clone();
    if head.code != 101 {
        return Err(format!("no WebSocket upgrade: {line}"));
    }
    let expected = tungstenite::handshake::derive_accept_key(key.as_bytes());
    if !head.values("sec-websocket-accept").any(|v| v == expected) {
        return Err(format!(
            "{line} but its Sec-WebSocket-Accept does not answer our key: not a real WebSocket endpoint (a middlebox?)"
        ));
    }
    let agreed = head.values("sec-websocket-protocol").any(|v| {
        v.split(',')
            .any(|p| p.trim().eq_ignore_ascii_case(WEBSOCKET_PROTOCOL))
    });
    if !agreed {
        return Err(format!(
            "{line} but without sub-protocol {WEBSOCKET_PROTOCOL}"
        ));
    }
    Ok(line)
}

async fn send<S: AsyncWrite + Unpin>(stream: &mut S, req: &str) -> Result<(), String> {
    stream
        .write_all(req.as_bytes())
        .await
        .map_err(|e| format!("cannot send the request: {e}"))?;
    stream
        .flush()
        .await
        .map_err(|e| format!("cannot send the request: {e}"))
}

/// Reads the response head (up to the blank line, or until the server closes), at most 16 KiB.
async fn read_head<S: AsyncRead + Unpin>(stream: &mut S) -> Result<Vec<u8>, String> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        if buf.len() > 16 * 1024 {
            return Err("response head over 16 KiB".into());
        }
        match stream.read(&mut chunk).await {
            Ok(0) if buf.is_empty() => {
                return Err("the server closed the connection without an HTTP answer".into())
            }
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            // A reset after the status line still leaves an answer to report.
            Err(_) if !buf.is_empty() => break,
            Err(e) => return Err(format!("connection failed while waiting for HTTP: {e}")),
        }
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        let h = parse_head(b"HTTP/1.1 404 Not Found\r\nX: y\r\n\r\n").unwrap();
        assert_eq!(h.status_line, "HTTP/1.1 404 Not Found");
        assert_eq!(h.values("x").collect::<Vec<_>>(), ["y"]);
        // Cut after the status line: still an answer.
        assert_eq!(
            parse_head(b"HTTP/1.1 200 OK\r\nServer: x").unwrap().code,
            200
        );
        assert!(parse_head(b"AMQP\x03\x01\x00\x00")
            .unwrap_err()
            .contains("AMQP"));
        assert!(parse_head(b"SSH-2.0-OpenSSH\r\n").is_err());
        // A status code of four digits, which splitting on spaces let through as text.
        assert!(parse_head(b"HTTP/1.1 2000 OK\r\n\r\n").is_err());
        assert_eq!(host_header("h", 443), "h");
        assert_eq!(host_header("::1", 8443), "[::1]:8443");
    }
}
