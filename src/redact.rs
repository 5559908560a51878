//! Redaction of secrets that arrive inside API data: the one place that knows what a secret
//! looks like, applied where evidence is written (manifest URLs, error messages, headers) and
//! where text is rendered into reports.
//!
//! Microsoft's responses are not supposed to carry secrets, but paging links have carried SAS
//! signatures and `access_token=` values, error messages quote connection strings, and a proxy
//! may echo the `Proxy-Authorization` header it was sent. Each pattern keeps the name and drops
//! the value (`sig=[REDACTED]`), so the text stays readable and the evidence stays honest about
//! what was there. Redaction is idempotent: redacting redacted text changes nothing.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::{Regex, RegexSet};

/// What replaces a secret value.
pub const MARK: &str = "[REDACTED]";

/// (pattern, replacement). Query-style patterns keep the key (group 1) and drop the value.
static PATTERNS: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    let p = |re: &str, rep: &'static str| (Regex::new(re).expect("redaction pattern"), rep);
    vec![
        // Query values and form fields: SAS signatures, OAuth tokens and codes, client secrets,
        // passwords. The value runs to the next separator or quote.
        p(
            r#"(?i)\b((?:sig|signature|access_token|refresh_token|id_token|code|client_secret|client_assertion|password|passwd|pwd|api[_-]?key|apikey|token|sas|skey)\s*=\s*)[^&\s"'<>;,\\]+"#,
            "${1}[REDACTED]",
        ),
        // Connection-string keys: `SharedAccessKey=…;`, `AccountKey=…`, `SharedAccessSignature=…`.
        p(
            r#"(?i)\b((?:SharedAccessKey|AccountKey|SharedAccessSignature|SharedSecret|Password)\s*=\s*)[^;\s"'<>\\]+"#,
            "${1}[REDACTED]",
        ),
        // HTTP credentials: `Bearer <token>` (16+ token characters, so prose such as "Bearer
        // token expired" stays); `Basic <base64>` is handled by [`BASIC`] below.
        p(
            r#"(?i)\b(Bearer|Negotiate|NTLM)(\s+)[A-Za-z0-9\-._~+/=%]{16,}"#,
            "${1}${2}[REDACTED]",
        ),
        // JWT-shaped strings (header.payload.signature, base64url), wherever they appear.
        p(
            r#"eyJ[A-Za-z0-9_\-]{2,}\.[A-Za-z0-9_\-]{2,}\.[A-Za-z0-9_\-]*"#,
            "[REDACTED]",
        ),
        // Authorization-like header lines quoted in text (`Proxy-Authorization: anything`).
        p(
            r#"(?i)\b((?:Proxy-)?Authorization\s*:\s*)[^\r\n"'\\]+"#,
            "${1}[REDACTED]",
        ),
    ]
});

/// `Basic <token>`; see [`is_basic_credential`] for which tokens count.
static BASIC: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)\b(Basic\s+)([A-Za-z0-9+/]{4,}={0,2})"#).expect("basic pattern")
});

/// Every pattern at once: nearly all text holds none of them, and one pass over it says so
/// (a large run's results hold hundreds of thousands of strings).
static ANY: LazyLock<RegexSet> = LazyLock::new(|| {
    RegexSet::new(
        PATTERNS
            .iter()
            .map(|(re, _)| re.as_str())
            .chain([BASIC.as_str()]),
    )
    .expect("redaction patterns")
});

/// Whether the word after `Basic` is a credential rather than prose ("Basic tier"): it has a
/// digit, `+`, `/` or `=`, or it decodes (base64) to `user:password`.
fn is_basic_credential(token: &str) -> bool {
    use base64::Engine as _;
    token.contains(|c: char| c.is_ascii_digit() || matches!(c, '+' | '/' | '='))
        || base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(token.trim_end_matches('='))
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .is_some_and(|t| t.contains(':') && !t.chars().any(char::is_control))
}

/// Redacts every secret-looking value in `text`.
pub fn text(text: &str) -> Cow<'_, str> {
    if !ANY.is_match(text) {
        return Cow::Borrowed(text);
    }
    let mut out: Cow<'_, str> = Cow::Borrowed(text);
    for (re, rep) in PATTERNS.iter() {
        if re.is_match(&out) {
            out = Cow::Owned(re.replace_all(&out, *rep).into_owned());
        }
    }
    if BASIC
        .captures_iter(&out)
        .any(|c| is_basic_credential(&c[2]))
    {
        let replaced = BASIC.replace_all(&out, |c: &regex::Captures<'_>| {
            if is_basic_credential(&c[2]) {
                format!("{}{MARK}", &c[1])
            } else {
                c[0].to_string()
            }
        });
        out = Cow::Owned(replaced.into_owned());
    }
    out
}

/// Redacts `text` and also every occurrence of the given known secrets (a proxy password and
/// its Basic encoding, say), however they were quoted.
pub fn text_with(text: &str, known: &[&str]) -> String {
    let mut out = self::text(text).into_owned();
    for k in known.iter().filter(|k| k.len() >= 3) {
        if out.contains(k) {
            out = out.replace(k, MARK);
        }
    }
    out
}

/// Redacts a string in place when it holds a secret.
pub fn in_place(s: &mut String) {
    if let Cow::Owned(r) = text(s) {
        *s = r;
    }
}

/// Redacts a response body before it is stored as evidence. Bodies without anything
/// secret-looking (nearly all) are kept byte for byte; a JSON body with a secret in a string
/// (a SAS `sig=` in a `nextLink`, a token in an error) is re-serialised with those strings
/// redacted, so it stays valid JSON; any other body is redacted as text.
pub fn body(bytes: &[u8]) -> Cow<'_, [u8]> {
    let Ok(t) = std::str::from_utf8(bytes) else {
        return Cow::Borrowed(bytes);
    };
    if matches!(text(t), Cow::Borrowed(_)) {
        return Cow::Borrowed(bytes);
    }
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(mut v) => {
            json(&mut v);
            Cow::Owned(serde_json::to_vec_pretty(&v).unwrap_or_else(|_| bytes.to_vec()))
        }
        Err(_) => Cow::Owned(text(t).into_owned().into_bytes()),
    }
}

/// Redacts every string of a JSON value (keys are kept).
pub fn json(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::String(s) => in_place(s),
        serde_json::Value::Array(a) => a.iter_mut().for_each(json),
        serde_json::Value::Object(o) => o.values_mut().for_each(json),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pattern_redacts_and_keeps_the_name() {
        let cases = [
            (
                "https://x.blob.core.windows.net/c?sv=2021&sig=abc%2Fdef&se=2027",
                "https://x.blob.core.windows.net/c?sv=2021&sig=[REDACTED]&se=2027",
            ),
            (
                "next?$skiptoken=1&access_token=s3cr3t",
                "next?$skiptoken=1&access_token=[REDACTED]",
            ),
            (
                "Endpoint=sb://n.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=AbC+dEf=",
                "Endpoint=sb://n.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=[REDACTED]",
            ),
            ("DefaultEndpointsProtocol=https;AccountKey=zzz==;x", "DefaultEndpointsProtocol=https;AccountKey=[REDACTED];x"),
            ("failed: Bearer abcdef1234567890xyz", "failed: Bearer [REDACTED]"),
            ("auth Basic dXNlcjpwYXNz end", "auth Basic [REDACTED] end"),
            ("Proxy-Authorization: Basic dXNlcjpwYXNz", "Proxy-Authorization: [REDACTED]"),
            ("token eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl end", "token [REDACTED] end"),
            ("client_secret=hunter2&x=1", "client_secret=[REDACTED]&x=1"),
        ];
        for (input, want) in cases {
            let got = text(input);
            assert_eq!(got, want, "{input}");
            assert_eq!(text(&got), got, "idempotent: {input}");
        }
        for harmless in [
            "no secrets: SharedAccessKeyName=ListenPolicy",
            "the namespace is Basic tier; Bearer token expired",
            "$skiptoken=abc&$top=100",
        ] {
            assert_eq!(text(harmless), harmless);
        }
        assert_eq!(text_with("echo p4ssw0rd", &["p4ssw0rd"]), "echo [REDACTED]");
        // JSON escapes survive: the value stops before a backslash.
        let b = br#"{"nextLink":"https://x/?sig=abc&y=1","m":"SharedAccessKey=k\"q"}"#;
        let r = body(b);
        let v: serde_json::Value = serde_json::from_slice(&r).expect("still JSON");
        assert_eq!(v["nextLink"], "https://x/?sig=[REDACTED]&y=1");
        assert!(matches!(body(br#"{"clean":true}"#), Cow::Borrowed(_)));
    }
}
