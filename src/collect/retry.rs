//! Throttling and transient faults: when to retry, how long to wait, when to give up.
//!
//! Retried: 429 (waiting `Retry-After` as seconds, fractional seconds or an HTTP date), the
//! Management Activity API's `AF429` that arrives as HTTP 403, 5xx, transport errors
//! (timeouts, resets) and bodies that are not JSON. Waits are jittered exponential backoff
//! unless the server names one, and the whole chain of attempts for one request has a deadline:
//! a wait that would cross it is not taken and the last failure is recorded instead (for a
//! server's `Retry-After`, with the server's figure in the message). A server's figure is
//! waited exactly, never cut short: re-sending early is what ARM punishes.
//! Per-plane concurrency limits are [`Limits`]; the documented rate limits are kept by the
//! pacer (`pace.rs`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::Semaphore;

use crate::evidence::ItemError;

/// Retry settings.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts after the first one.
    pub max_retries: u32,
    /// First backoff step; doubles per attempt, full jitter.
    pub base: Duration,
    /// Largest backoff step of our own. A server's `Retry-After` is not capped by it: it is
    /// waited exactly when the deadline allows, and recorded as throttled when it does not.
    pub max_wait: Duration,
    /// Deadline for one request including all its retries.
    pub deadline: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 6,
            base: Duration::from_millis(500),
            max_wait: Duration::from_secs(60),
            deadline: Duration::from_secs(180),
        }
    }
}

impl RetryPolicy {
    /// Jittered exponential backoff for attempt `n` (0-based).
    pub fn backoff(&self, n: u32) -> Duration {
        let cap = self
            .base
            .saturating_mul(1u32 << n.min(16))
            .min(self.max_wait);
        // Full jitter between half and all of the step keeps retries of parallel requests apart.
        let half = cap / 2;
        half + Duration::from_secs_f64(half.as_secs_f64() * fastrand::f64())
    }
}

/// Parses `Retry-After`: delta seconds (integer or fractional, as Graph sends) or an HTTP date
/// (httpdate).
pub fn parse_retry_after(v: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<f64>() {
        if secs.is_finite() && secs >= 0.0 {
            return Some(Duration::from_secs_f64(secs.min(86_400.0)));
        }
        return None;
    }
    // IMF-fixdate, and the obsolete RFC 850 and asctime forms RFC 9110 §5.6.7 makes
    // recipients accept.
    let when: chrono::DateTime<chrono::Utc> = httpdate::parse_http_date(v).ok()?.into();
    Some((when - now).to_std().unwrap_or(Duration::ZERO))
}

/// Whether a response should be retried, and why (for progress counters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Done,
    Throttled,
    Transient,
}

/// Classifies a response.
pub fn classify(status: u16, body: &[u8]) -> Verdict {
    match status {
        429 => Verdict::Throttled,
        // Azure Monitor's batched metrics read says "throttled" with 529 (migrate-to-batch-api.md:
        // back off exponentially); it sends no documented Retry-After.
        529 => Verdict::Throttled,
        403 if is_af429(body) => Verdict::Throttled,
        500 | 502 | 503 | 504 => Verdict::Transient,
        _ => Verdict::Done,
    }
}

/// The Management Activity API reports throttling as 403 with code AF429.
fn is_af429(body: &[u8]) -> bool {
    parse_error(403, body).code == "AF429"
}

/// Microsoft's error code and message from an error body, whichever shape it has:
/// `{"error":{"code","message"}}` (ARM, Graph, O365), unwrapped `{"code","message"}` (ARM
/// resource-provider throttles), `{"Message": …}` or plain text. Messages are kept short.
pub fn parse_error(status: u16, body: &[u8]) -> ItemError {
    let fallback = || ItemError {
        code: format!("HTTP{status}"),
        message: text_excerpt(body),
    };
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        let t = String::from_utf8_lossy(body);
        // The Blob service: `<Error><Code>…</Code><Message>…</Message></Error>`.
        if let Ok(doc) = roxmltree::Document::parse(&t) {
            let text = |name: &str| {
                doc.descendants()
                    .find(|n| n.has_tag_name(name))
                    .and_then(|n| n.text())
                    .map(|x| x.trim().to_string())
            };
            if let Some(code) = text("Code") {
                return ItemError {
                    code,
                    message: crate::redact::text(
                        text("Message")
                            .unwrap_or_default()
                            .lines()
                            .next()
                            .unwrap_or_default(),
                    )
                    .into_owned(),
                };
            }
        }
        // AF429 bodies have been seen with single quotes; look for the code in the text.
        if let Some(p) = t.find("AF") {
            let code: String = t[p..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            if code.len() >= 5 && code[2..].chars().all(|c| c.is_ascii_digit()) {
                return ItemError {
                    code,
                    message: text_excerpt(body),
                };
            }
        }
        return fallback();
    };
    let err = crate::normalize::raw::field(&v, "error").filter(|e| e.is_object());
    let obj = err.unwrap_or(&v);
    let code = crate::normalize::raw::s(obj, &["code"]);
    let message = crate::normalize::raw::s(obj, &["message"])
        .or_else(|| crate::normalize::raw::s(&v, &["message"]));
    // An unwrapped RP error may carry the detail in details[0].
    let detail = crate::normalize::raw::arr(obj, &["details"])
        .first()
        .and_then(|d| crate::normalize::raw::s(d, &["message"]));
    match (code, message.or(detail)) {
        (None, None) => fallback(),
        (code, message) => ItemError {
            code: code.unwrap_or_else(|| format!("HTTP{status}")),
            message: clip(&message.unwrap_or_default()),
        },
    }
}

fn text_excerpt(body: &[u8]) -> String {
    let t = String::from_utf8_lossy(body);
    let t = t.trim();
    if t.is_empty() {
        "empty response body".into()
    } else {
        clip(t)
    }
}

fn clip(s: &str) -> String {
    let s: String = s.chars().take(500).collect();
    s.replace(['\n', '\r'], " ")
}

/// The planes the collector counts apart: the kinds table's token audiences (`metrics` is
/// Azure Monitor's batched read), and AMQP for the Event Hubs `$management` reads.
pub const PLANES: [&str; 6] = ["arm", "graph", "o365", "storage", "amqp", "metrics"];

/// One plane's counters, updated by every attempt.
#[derive(Debug, Default)]
pub struct PlaneCounters {
    /// Attempts sent (re-sends included).
    pub requests: AtomicU64,
    /// Answers that said "throttled": 429, or the Management Activity API's 403 `AF429`.
    pub throttled: AtomicU64,
    /// Attempts that followed a failed one.
    pub retries: AtomicU64,
    /// Time slept on a server's `Retry-After`.
    pub retry_after_ms: AtomicU64,
    /// Time slept on our own backoff (throttling without `Retry-After`, 5xx, transport errors).
    pub backoff_ms: AtomicU64,
    /// Time held back by the pacer before sending, so as not to be throttled.
    pub pacing_ms: AtomicU64,
}

/// Counters per plane, for the progress display, the summary and `collect --stats`.
#[derive(Debug, Default)]
pub struct Counters {
    planes: [PlaneCounters; PLANES.len()],
}

impl Counters {
    pub fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }

    /// Adds a wait to a millisecond counter.
    pub fn add_wait(c: &AtomicU64, d: Duration) {
        Counters::add(c, u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    }

    /// The counters of a plane; an audience the table does not know counts as ARM, as
    /// [`Limits::plane`] treats it.
    pub fn plane(&self, name: &str) -> &PlaneCounters {
        &self.planes[PLANES.iter().position(|p| *p == name).unwrap_or(0)]
    }

    /// What each plane that sent anything came to, in [`PLANES`] order.
    pub fn snapshot(&self) -> Vec<PlaneStats> {
        let ms = |c: &AtomicU64| c.load(Ordering::Relaxed) as f64 / 1000.0;
        PLANES
            .iter()
            .zip(&self.planes)
            .filter(|(_, c)| c.requests.load(Ordering::Relaxed) > 0)
            .map(|(name, c)| PlaneStats {
                plane: (*name).to_string(),
                requests: c.requests.load(Ordering::Relaxed),
                throttled: c.throttled.load(Ordering::Relaxed),
                retries: c.retries.load(Ordering::Relaxed),
                retry_after_s: ms(&c.retry_after_ms),
                backoff_s: ms(&c.backoff_ms),
                pacing_s: ms(&c.pacing_ms),
            })
            .collect()
    }
}

/// One plane's figures at the end of a run (the `--stats` file's `planes[]`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaneStats {
    pub plane: String,
    pub requests: u64,
    pub throttled: u64,
    pub retries: u64,
    /// Seconds slept on servers' `Retry-After`.
    pub retry_after_s: f64,
    /// Seconds slept on our own backoff.
    pub backoff_s: f64,
    /// Seconds the pacer held requests back.
    pub pacing_s: f64,
}

impl PlaneStats {
    /// Throttled answers as a share of requests, in percent.
    pub fn throttled_percent(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.throttled as f64 * 100.0 / self.requests as f64
        }
    }
}

/// Concurrency limits per plane.
pub struct Limits {
    pub global: Arc<Semaphore>,
    /// A cap shared with other collections in this process (a fleet's `requests_in_flight`).
    pub fleet: Option<Arc<Semaphore>>,
    pub arm: Arc<Semaphore>,
    pub graph: Arc<Semaphore>,
    pub o365: Arc<Semaphore>,
}

impl Limits {
    /// `concurrency` caps all requests in flight; each plane gets at most that many, ARM and
    /// Graph up to 8, the Management Activity API up to 4.
    pub fn new(concurrency: usize) -> Limits {
        let c = concurrency.max(1);
        Limits {
            global: Arc::new(Semaphore::new(c)),
            fleet: None,
            arm: Arc::new(Semaphore::new(c.min(8))),
            graph: Arc::new(Semaphore::new(c.min(8))),
            o365: Arc::new(Semaphore::new(c.min(4))),
        }
    }

    pub fn plane(&self, audience: &str) -> Arc<Semaphore> {
        match audience {
            "graph" => self.graph.clone(),
            "o365" => self.o365.clone(),
            _ => self.arm.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_in_all_three_forms() {
        let now = chrono::DateTime::parse_from_rfc3339("2015-10-21T07:27:58Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("2.128", now),
            Some(Duration::from_millis(2128))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(Duration::from_secs(2))
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn retry_after_in_the_obsolete_date_forms() {
        // RFC 850 and asctime dates, which RFC 2822 parsing (the code this replaced) refused.
        let now = chrono::DateTime::parse_from_rfc3339("1994-11-06T08:49:30Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        for v in ["Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994"] {
            assert_eq!(
                parse_retry_after(v, now),
                Some(Duration::from_secs(7)),
                "{v}"
            );
        }
    }

    #[test]
    fn error_bodies_in_every_shape() {
        let e = parse_error(
            403,
            br#"{"error":{"code":"AuthorizationFailed","message":"does not have authorization"}}"#,
        );
        assert_eq!(e.code, "AuthorizationFailed");
        let e = parse_error(
            429,
            br#"{"code":"OperationNotAllowed","details":[{"code":"x","message":"throttled"}]}"#,
        );
        assert_eq!(
            (e.code.as_str(), e.message.as_str()),
            ("OperationNotAllowed", "throttled")
        );
        let e = parse_error(
            403,
            br#"{'error':{'code':'AF429','message':'Too many requests. Method=GetBlob'}}"#,
        );
        assert_eq!(e.code, "AF429");
        assert_eq!(
            classify(403, br#"{"error":{"code":"AF429","message":"x"}}"#),
            Verdict::Throttled
        );
        assert_eq!(
            classify(403, br#"{"error":{"code":"AF10001","message":"x"}}"#),
            Verdict::Done
        );
        let e = parse_error(502, b"<html>Bad gateway</html>");
        assert_eq!(e.code, "HTTP502");
        // getBatch's throttled answer.
        assert_eq!(
            classify(529, br#"{"error":{"code":"TooManyRequests"}}"#),
            Verdict::Throttled
        );
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy::default();
        assert!(p.backoff(0) <= Duration::from_millis(500));
        assert!(p.backoff(20) <= p.max_wait);
        assert!(p.backoff(3) >= Duration::from_secs(2));
    }
}
