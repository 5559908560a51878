//! The HTTPS step on 443 (one `GET /` and its status line; any status proves the service speaks
//! HTTP from here) and the AMQP-over-WebSockets upgrade that Event Hubs offers on 443 at
//! `/$servicebus/websocket` with sub-protocol `AMQPWSB10`, a fallback when 5671 is blocked.

use base64::Engine as _;
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
    let head = read_head(stream, false).await?;
    let line = status_line(&head)?;
    Ok(line)
}

/// Asks for the AMQP WebSocket upgrade; returns the status line on a `101` with the right
/// sub-protocol, an error describing the answer otherwise.
pub async fn websocket_upgrade<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    host: &str,
    port: u16,
) -> Result<String, String> {
    let key = base64::engine::general_purpose::STANDARD.encode(uuid::Uuid::new_v4().as_bytes());
    let req = format!(
        "GET {WEBSOCKET_PATH} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: {WEBSOCKET_PROTOCOL}\r\n\
         User-Agent: siemproof-probe/{}\r\n\r\n",
        host_header(host, port),
        env!("CARGO_PKG_VERSION")
    );
    send(stream, &req).await?;
    let head = read_head(stream, true).await?;
    let line = status_line(&head)?;
    if line.split_whitespace().nth(1) != Some("101") {
        return Err(format!("no WebSocket upgrade: {line}"));
    }
    let agreed = head.lines().skip(1).any(|l| {
        l.split_once(':').is_some_and(|(k, v)| {
            k.trim().eq_ignore_ascii_case("sec-websocket-protocol")
                && v.split(',')
                    .any(|p| p.trim().eq_ignore_ascii_case(WEBSOCKET_PROTOCOL))
        })
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

/// Reads until the end of the status line (or of the whole head), at most 16 KiB.
async fn read_head<S: AsyncRead + Unpin>(stream: &mut S, whole: bool) -> Result<String, String> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let done = if whole {
            buf.windows(4).any(|w| w == b"\r\n\r\n")
        } else {
            buf.contains(&b'\n')
        };
        if done {
            break;
        }
        if buf.len() > 16 * 1024 {
            return Err("response head over 16 KiB".into());
        }
        match stream.read(&mut chunk).await {
            Ok(0) if buf.is_empty() => {
                return Err("the server closed the connection without an HTTP answer".into())
            }
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => return Err(format!("connection failed while waiting for HTTP: {e}")),
        }
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

fn status_line(head: &str) -> Result<String, String> {
    let line = head.lines().next().unwrap_or_default().trim();
    let mut parts = line.split_whitespace();
    let version_ok = parts.next().is_some_and(|v| v.starts_with("HTTP/"));
    let code_ok = parts
        .next()
        .is_some_and(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_digit()));
    if version_ok && code_ok {
        Ok(line.chars().take(120).collect())
    } else if head.starts_with("AMQP") {
        Err("the server answered with AMQP, not HTTP".into())
    } else {
        Err(format!(
            "not an HTTP status line: {:?}",
            line.chars().take(60).collect::<String>()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        assert_eq!(
            status_line("HTTP/1.1 404 Not Found\r\nX: y").unwrap(),
            "HTTP/1.1 404 Not Found"
        );
        assert!(status_line("AMQP\x03\x01\x00\x00")
            .unwrap_err()
            .contains("AMQP"));
        assert!(status_line("SSH-2.0-OpenSSH").is_err());
        assert_eq!(host_header("h", 443), "h");
        assert_eq!(host_header("::1", 8443), "[::1]:8443");
    }
}
