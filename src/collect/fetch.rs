//! One evidence request with its token, limits and retries: the unit every plan step uses.
//!
//! The outcome is either a JSON body worth keeping or a failure with Microsoft's error code and
//! message; nothing is dropped. A 2xx body that is not JSON is treated as transient (retried)
//! and, if it stays malformed, recorded as a `MalformedJson` failure so that the bundle stays
//! valid and the checks that read it are `not_assessed`.

use std::sync::Arc;
use std::time::Instant;

use reqwest::header::HeaderMap;

use super::auth::Tokens;
use super::http::{Http, SendError};
use super::pace::{keys_for, resource_units, Pacer, Principal};
use super::retry::{
    classify, parse_error, parse_retry_after, Counters, Limits, RetryPolicy, Verdict,
};
use crate::evidence::ItemError;

/// Shared state of one collection run.
pub struct Ctx {
    pub http: Http,
    pub tokens: Tokens,
    pub limits: Limits,
    pub retry: RetryPolicy,
    pub counters: Arc<Counters>,
    pub progress: super::progress::Progress,
    /// Keeps to Microsoft's rate limits; shared when several tenants are collected at once.
    pub pacer: Arc<Pacer>,
    /// Whose limits the requests count against.
    pub principal: Principal,
}

/// What one request came to.
#[derive(Debug)]
pub enum Outcome {
    Ok {
        status: u16,
        headers: HeaderMap,
        body: Vec<u8>,
    },
    Failed {
        status: Option<u16>,
        error: ItemError,
    },
}

/// How long to wait before the next attempt.
enum Wait {
    /// The server named it (`Retry-After`).
    Server(std::time::Duration),
    /// Our own jittered backoff; `true` when it follows throttling.
    Backoff(std::time::Duration, bool),
}

/// The failure recorded when a server's `Retry-After` reaches past the request's deadline:
/// throttled, with the server's figure, and never re-sent early.
fn throttled_beyond_deadline(failed: Outcome, wait: std::time::Duration) -> Outcome {
    let secs = wait.as_secs_f64();
    let shown = if secs.fract() == 0.0 {
        format!("{secs:.0}")
    } else {
        format!("{secs:.2}")
    };
    match failed {
        Outcome::Failed { status, error } => Outcome::Failed {
            status,
            error: ItemError {
                code: error.code,
                message: format!(
                    "throttled: server asked to retry after {shown} s, beyond the deadline ({})",
                    error.message
                ),
            },
        },
        ok => ok,
    }
}

/// The Blob service's version header: OAuth needs 2017-11-09 or later (consumer-health.md §4.1).
pub const STORAGE_VERSION: &str = "2021-08-06";

/// Request headers per plane: the Blob service wants its version; its listings are XML, a lease
/// blob's content is the JSON its writer stored.
fn headers_for(audience: &str, xml: bool) -> Vec<(String, String)> {
    let accept = if xml {
        "application/xml"
    } else {
        "application/json"
    };
    let mut h = vec![("Accept".to_string(), accept.to_string())];
    if audience == "storage" {
        h.push(("x-ms-version".into(), STORAGE_VERSION.into()));
    }
    h
}

/// Whether a 2xx body has the syntax its kind is read in (XML for the Blob service's listings,
/// JSON elsewhere).
fn well_formed(xml: bool, body: &[u8]) -> bool {
    if xml {
        std::str::from_utf8(body).is_ok_and(|t| roxmltree::Document::parse(t).is_ok())
    } else {
        serde_json::from_slice::<serde_json::Value>(body).is_ok()
    }
}

/// GETs `url` with a token for `scope`, honouring limits and retrying what is transient.
pub async fn get(
    ctx: &Ctx,
    audience: &str,
    scope: &str,
    url: &str,
    audit_log: bool,
    xml: bool,
) -> Outcome {
    send(ctx, audience, scope, url, None, audit_log, xml).await
}

/// Sends one read: a GET, or with `post_body` a POST of that JSON body (only the batched
/// metrics read, whose body the plan builds from the resource ids it listed; the client's
/// guard admits nothing else). Limits, pacing and retries are the same as for a GET.
pub async fn send(
    ctx: &Ctx,
    audience: &str,
    scope: &str,
    url: &str,
    post_body: Option<&[u8]>,
    audit_log: bool,
    xml: bool,
) -> Outcome {
    let method = if post_body.is_some() { "POST" } else { "GET" };
    let mut headers = headers_for(audience, xml);
    if post_body.is_some() {
        headers.push(("Content-Type".into(), "application/json".into()));
    }
    let started = Instant::now();
    let policy = ctx.retry;
    let plane = ctx.limits.plane(audience);
    let counts = ctx.counters.plane(audience);
    let keys = keys_for(audience, url, audit_log, &ctx.principal);
    // Graph's identity and access reads are limited in resource units, by request shape.
    let units = if audience == "graph" && !audit_log {
        resource_units(url)
    } else {
        1.0
    };
    ctx.progress.pending(audience, 1);
    let mut attempt = 0u32;
    let outcome = loop {
        let token = match ctx.tokens.get(scope).await {
            Ok(t) => t,
            Err(message) => {
                break Outcome::Failed {
                    status: None,
                    error: ItemError {
                        code: "TokenRequestFailed".into(),
                        message,
                    },
                };
            }
        };
        // Every wait (the plane's and the global limit, the pacer, the attempt itself) is
        // bounded by what is left of the request's deadline. The pacer comes last, holding the
        // slots: a request it lets go must leave at once, or late requests would arrive at
        // Microsoft together, as the burst the pacer kept them from being.
        let remaining = policy.deadline.saturating_sub(started.elapsed());
        let attempt_fut = async {
            let _p = plane.acquire().await.expect("semaphore open");
            let _g = ctx.limits.global.acquire().await.expect("semaphore open");
            let _f = match &ctx.limits.fleet {
                Some(f) => Some(f.acquire().await.expect("semaphore open")),
                None => None,
            };
            let left = policy.deadline.saturating_sub(started.elapsed());
            let paced = ctx.pacer.acquire_units(&keys, units, left).await?;
            Counters::add_wait(&counts.pacing_ms, paced);
            Counters::add(&counts.requests, 1);
            Ok::<_, std::time::Duration>(
                ctx.http
                    .send(
                        method,
                        url,
                        &headers,
                        post_body.map(<[u8]>::to_vec),
                        Some(&token),
                    )
                    .await,
            )
        };
        let r = match tokio::time::timeout(remaining, attempt_fut).await {
            Ok(Ok(r)) => r,
            // Not sent: the limit it falls under is held (by a server's Retry-After) past the
            // deadline. Recorded as throttled with the time, like a Retry-After beyond it.
            Ok(Err(needed)) => {
                break Outcome::Failed {
                    status: None,
                    error: ItemError {
                        code: "Throttled".into(),
                        message: format!(
                            "throttled: not sent, the rate limit it falls under is held for another {:.0} s (the server's Retry-After), beyond the deadline",
                            needed.as_secs_f64().ceil()
                        ),
                    },
                };
            }
            Err(_) => {
                break Outcome::Failed {
                    status: None,
                    error: ItemError {
                        code: "Timeout".into(),
                        message: format!(
                            "no answer within the request deadline of {} s",
                            policy.deadline.as_secs()
                        ),
                    },
                };
            }
        };
        let (failed, wait) = {
            match r {
                Ok(resp) => {
                    ctx.pacer.observe_units(&keys, units, &resp.headers);
                    let verdict = match classify(resp.status, &resp.body) {
                        Verdict::Done
                            if (200..300).contains(&resp.status)
                                && !well_formed(xml, &resp.body) =>
                        {
                            Verdict::Transient
                        }
                        v => v,
                    };
                    match verdict {
                        Verdict::Done => {
                            if (200..300).contains(&resp.status) {
                                break Outcome::Ok {
                                    status: resp.status,
                                    headers: resp.headers,
                                    body: resp.body,
                                };
                            }
                            break Outcome::Failed {
                                status: Some(resp.status),
                                error: parse_error(resp.status, &resp.body),
                            };
                        }
                        Verdict::Throttled => {
                            Counters::add(&counts.throttled, 1);
                            let ra = resp
                                .headers
                                .get("retry-after")
                                .and_then(|v| v.to_str().ok())
                                .and_then(|v| parse_retry_after(v, chrono::Utc::now()));
                            (
                                Outcome::Failed {
                                    status: Some(resp.status),
                                    error: parse_error(resp.status, &resp.body),
                                },
                                {
                                    let w = match ra {
                                        Some(ra) => Wait::Server(ra),
                                        None => Wait::Backoff(policy.backoff(attempt), true),
                                    };
                                    // No request under the same limits goes before this one
                                    // may, retried or not.
                                    ctx.pacer.hold(
                                        &keys,
                                        match w {
                                            Wait::Server(d) | Wait::Backoff(d, _) => d,
                                        },
                                    );
                                    Some(w)
                                },
                            )
                        }
                        Verdict::Transient => {
                            let error = if (200..300).contains(&resp.status) {
                                if audience == "storage" {
                                    ItemError {
                                        code: "MalformedXml".into(),
                                        message: "the response body is not well-formed XML".into(),
                                    }
                                } else {
                                    ItemError {
                                        code: "MalformedJson".into(),
                                        message: "the response body is not valid JSON".into(),
                                    }
                                }
                            } else {
                                parse_error(resp.status, &resp.body)
                            };
                            (
                                Outcome::Failed {
                                    status: Some(resp.status),
                                    error,
                                },
                                Some(Wait::Backoff(policy.backoff(attempt), false)),
                            )
                        }
                    }
                }
                Err(SendError::Transport { timeout, message }) => (
                    Outcome::Failed {
                        status: None,
                        error: ItemError {
                            code: if timeout { "Timeout" } else { "TransportError" }.into(),
                            message,
                        },
                    },
                    Some(Wait::Backoff(policy.backoff(attempt), false)),
                ),
                Err(e) => {
                    break Outcome::Failed {
                        status: None,
                        error: ItemError {
                            code: "Refused".into(),
                            message: e.to_string(),
                        },
                    }
                }
            }
        };
        let Some(wait) = wait else {
            break failed;
        };
        let (wait, throttled, server) = match wait {
            // The server's figure is waited exactly (ARM punishes early re-sends), or, when the
            // deadline does not allow it, recorded with the figure and not re-sent.
            Wait::Server(w) => {
                if started.elapsed() + w > policy.deadline {
                    break throttled_beyond_deadline(failed, w);
                }
                (w, true, true)
            }
            Wait::Backoff(w, throttled) => (w.min(policy.max_wait), throttled, false),
        };
        if attempt >= policy.max_retries || started.elapsed() + wait > policy.deadline {
            break failed;
        }
        attempt += 1;
        Counters::add(&counts.retries, 1);
        Counters::add_wait(
            if server {
                &counts.retry_after_ms
            } else {
                &counts.backoff_ms
            },
            wait,
        );
        ctx.progress.retry(audience, throttled);
        tokio::time::sleep(wait).await;
    };
    ctx.progress.done(audience);
    outcome
}
