//! The AMQP step on 5671: after TLS, send the AMQP 1.0 SASL protocol header and expect an AMQP
//! protocol header back, which is what Event Hubs answers before SASL negotiation starts.
//!
//! Nothing secret is sent: no SASL mechanism is chosen and no SAS token is presented.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// AMQP 1.0 protocol header for the SASL layer: "AMQP", protocol id 3, version 1.0.0
/// (OASIS AMQP 1.0 part 5, §5.3.2).
pub const SASL_HEADER: &[u8; 8] = b"AMQP\x03\x01\x00\x00";

/// Sends the header and reads the 8-byte answer; returns a description of what came back.
pub async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S) -> Result<String, String> {
    stream
        .write_all(SASL_HEADER)
        .await
        .map_err(|e| format!("cannot send the AMQP header: {e}"))?;
    stream
        .flush()
        .await
        .map_err(|e| format!("cannot send the AMQP header: {e}"))?;
    let mut answer = [0u8; 8];
    let mut got = 0;
    while got < answer.len() {
        match stream.read(&mut answer[got..]).await {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) => {
                return Err(format!(
                    "connection failed while waiting for the AMQP header: {e}"
                ))
            }
        }
    }
    describe(&answer[..got])
}

/// Interprets the server's first bytes.
pub fn describe(answer: &[u8]) -> Result<String, String> {
    if answer.is_empty() {
        return Err("the server closed the connection without answering the AMQP header".into());
    }
    if answer.len() == 8 && answer.starts_with(b"AMQP") {
        let layer = match answer[4] {
            0 => "AMQP",
            2 => "TLS",
            3 => "SASL",
            _ => "unknown layer",
        };
        return Ok(format!(
            "AMQP {} {}.{}.{} ({layer})",
            answer[4], answer[5], answer[6], answer[7]
        ));
    }
    if answer.starts_with(b"HTTP/") {
        return Err("the server answered with HTTP, not AMQP".into());
    }
    Err(format!(
        "not an AMQP header: {:?}",
        String::from_utf8_lossy(answer)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_headers() {
        assert_eq!(describe(SASL_HEADER).unwrap(), "AMQP 3 1.0.0 (SASL)");
        assert!(describe(b"HTTP/1.1 400").unwrap_err().contains("HTTP"));
        assert!(describe(b"").unwrap_err().contains("closed"));
        assert!(describe(b"AMQP").is_err());
    }
}
