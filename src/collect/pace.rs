//! Pacing: send no faster than Microsoft's documented read limits allow, so that a large
//! tenant is read close to the rate-limit bound with almost no 429s.
//!
//! Each request is sent only when every limit it falls under has room ([`keys_for`]):
//! - **ARM** (request-limits-and-throttling, microsoft-apis.md §0): a token bucket of 250 reads
//!   refilled at 25/s per principal per subscription, a global one 15 times larger shared by
//!   every principal, and 250 / 25/s for tenant-level reads. After every answer the bucket is
//!   lowered to what `x-ms-ratelimit-remaining-*` says is left, never raised: answers to
//!   concurrent requests arrive out of order, and other clients of the same principal spend
//!   the same tokens.
//! - **Graph identity and access reports** (`/auditLogs/*`, throttling-limits): 5 requests per
//!   10 s per app per tenant and 122 per 10 s per app across tenants, kept as sliding windows,
//!   which is the stricter reading of "N per period".
//! - **Graph identity and access** (every other Graph read, throttling-limits "Identity and
//!   access service limits"): resource units (RU), not requests, in a bucket of 3,500 RU per
//!   10 s per app per tenant (the smallest tenant size, S; M and L allow more) and 150,000 RU
//!   per 20 s per app across tenants. A read's cost is documented per request shape
//!   ([`resource_units`]). After each answer the app+tenant bucket is lowered to what
//!   `x-ms-resource-unit` (the cost charged) and `x-ms-throttle-limit-percentage` (the share of
//!   the limit used, sent from 0.8 on) say, never raised.
//! - **Management Activity API**: 2,000 requests per minute per tenant, as a window.
//!
//! A server's `Retry-After` (or our backoff after a throttled answer) holds the whole bucket,
//! not only the request that got it: ARM answers a request re-sent early with another 429.
//! Buckets refill at a little under the documented rate ([`MARGIN`]) so that network jitter
//! does not push arrivals over the server's edge. The bucket arithmetic takes the time as an
//! argument, so it is tested without clocks; keys carry the principal, so one pacer can serve
//! many tenants at once.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;

/// Share of a documented refill rate (or window) the pacer uses.
pub const MARGIN: f64 = 0.95;

/// A limit's shape.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rate {
    /// A token bucket.
    Bucket { burst: f64, per_second: f64 },
    /// At most `n` requests in any `period_s` seconds.
    Window { n: usize, period_s: f64 },
}

/// The limits the pacer knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Limit {
    /// ARM subscription reads, per principal per subscription.
    ArmReads,
    /// ARM's global subscription reads, shared by all principals (15 x `ArmReads`).
    ArmGlobalReads,
    /// ARM tenant-level reads (`/providers/...`), per principal.
    ArmTenantReads,
    /// Graph `auditLogs/*`, per app per tenant.
    GraphReports,
    /// Graph `auditLogs/*`, per app across all tenants.
    GraphReportsApp,
    /// Management Activity API, per tenant.
    Activity,
    /// Graph identity and access reads in resource units, per app per tenant.
    GraphIdentity,
    /// The same, per app across all tenants.
    GraphIdentityApp,
}

impl Limit {
    /// Microsoft's documented figure (sources in the module comment).
    pub fn documented(self) -> Rate {
        match self {
            Limit::ArmReads | Limit::ArmTenantReads => Rate::Bucket {
                burst: 250.0,
                per_second: 25.0,
            },
            Limit::ArmGlobalReads => Rate::Bucket {
                burst: 3750.0,
                per_second: 375.0,
            },
            Limit::GraphReports => Rate::Window {
                n: 5,
                period_s: 10.0,
            },
            Limit::GraphReportsApp => Rate::Window {
                n: 122,
                period_s: 10.0,
            },
            Limit::Activity => Rate::Window {
                n: 2000,
                period_s: 60.0,
            },
            // 3,500 RU per 10 s (tenant size S, the least; not knowable before reading).
            Limit::GraphIdentity => Rate::Bucket {
                burst: 3500.0,
                per_second: 350.0,
            },
            // 150,000 RU per 20 s.
            Limit::GraphIdentityApp => Rate::Bucket {
                burst: 150_000.0,
                per_second: 7500.0,
            },
        }
    }

    /// Whether a request takes its cost in resource units from this limit (else one).
    pub fn in_resource_units(self) -> bool {
        matches!(self, Limit::GraphIdentity | Limit::GraphIdentityApp)
    }

    /// The header in which the server says how many requests of this limit are left.
    pub fn remaining_header(self) -> Option<&'static str> {
        match self {
            Limit::ArmReads => Some("x-ms-ratelimit-remaining-subscription-reads"),
            Limit::ArmGlobalReads => Some("x-ms-ratelimit-remaining-subscription-global-reads"),
            Limit::ArmTenantReads => Some("x-ms-ratelimit-remaining-tenant-reads"),
            _ => None,
        }
    }
}

/// One bucket or window: a limit and what it is counted over.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    pub limit: Limit,
    /// The principal, subscription, tenant or app, as the limit counts.
    pub over: String,
}

/// Who sends: the app's client id and the tenant its tokens are for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub app: String,
    pub tenant: String,
}

/// The limits a request falls under. `audit_log` marks Graph `auditLogs/*` reads.
pub fn keys_for(audience: &str, url: &str, audit_log: bool, who: &Principal) -> Vec<Key> {
    let key = |limit, over: String| Key { limit, over };
    match audience {
        "arm" => {
            let path = reqwest::Url::parse(url)
                .map(|u| u.path().to_ascii_lowercase())
                .unwrap_or_default();
            match path.split_once("/subscriptions/") {
                Some((_, rest)) => {
                    let sub = rest.split('/').next().unwrap_or_default().to_string();
                    vec![
                        key(Limit::ArmReads, format!("{}@{}/{sub}", who.app, who.tenant)),
                        key(Limit::ArmGlobalReads, sub),
                    ]
                }
                None => vec![key(
                    Limit::ArmTenantReads,
                    format!("{}@{}", who.app, who.tenant),
                )],
            }
        }
        "graph" if audit_log => vec![
            key(Limit::GraphReports, format!("{}@{}", who.app, who.tenant)),
            key(Limit::GraphReportsApp, who.app.clone()),
        ],
        "graph" => vec![
            key(Limit::GraphIdentity, format!("{}@{}", who.app, who.tenant)),
            key(Limit::GraphIdentityApp, who.app.clone()),
        ],
        "o365" => vec![key(Limit::Activity, who.tenant.clone())],
        _ => Vec::new(),
    }
}

/// What a Graph identity and access read costs in resource units (throttling-limits, "Identity
/// and access service limits": `GET applications` 2, `oauth2PermissionGrants` 2,
/// `servicePrincipals/{id}/appRoleAssignments` 2, `subscribedSkus` 3, any other GET 1; `$select`
/// one less, `$top` under 20 one less; at least 1).
pub fn resource_units(url: &str) -> f64 {
    let Ok(u) = reqwest::Url::parse(url) else {
        return 1.0;
    };
    let path = u.path().to_ascii_lowercase();
    let rest = path
        .split_once("/v1.0/")
        .or_else(|| path.split_once("/beta/"))
        .map_or(path.as_str(), |(_, r)| r)
        .trim_end_matches('/');
    let segs: Vec<&str> = rest.split('/').collect();
    let base: f64 = match segs.as_slice() {
        ["applications"] => 2.0,
        ["oauth2permissiongrants"] => 2.0,
        ["serviceprincipals", _, "approleassignments"] => 2.0,
        ["subscribedskus"] => 3.0,
        _ => 1.0,
    };
    let mut cost = base;
    let mut top_small = false;
    let mut select = false;
    for (k, v) in u.query_pairs() {
        match k.as_ref() {
            "$select" => select = true,
            "$top" => top_small = v.parse::<u32>().is_ok_and(|n| n < 20),
            _ => {}
        }
    }
    cost -= f64::from(u8::from(select)) + f64::from(u8::from(top_small));
    cost.max(1.0)
}

/// One bucket's or window's state, in seconds since the pacer started.
#[derive(Debug, Clone)]
struct State {
    tokens: f64,
    at: f64,
    sent: VecDeque<f64>,
    held_until: f64,
}

impl State {
    fn new(rate: Rate, now: f64) -> State {
        State {
            tokens: match rate {
                Rate::Bucket { burst, .. } => burst,
                Rate::Window { .. } => 0.0,
            },
            at: now,
            sent: VecDeque::new(),
            held_until: f64::NEG_INFINITY,
        }
    }

    /// Seconds until one more request costing `need` tokens fits (0: now).
    fn wait(&mut self, rate: Rate, now: f64) -> f64 {
        self.wait_for(rate, now, 1.0)
    }

    fn wait_for(&mut self, rate: Rate, now: f64, need: f64) -> f64 {
        let free = match rate {
            Rate::Bucket { burst, per_second } => {
                if now > self.at {
                    self.tokens = (self.tokens + (now - self.at) * per_second).min(burst);
                    self.at = now;
                }
                // A cost above the whole bucket still goes once the bucket is full.
                let need = need.min(burst);
                if self.tokens >= need {
                    0.0
                } else {
                    (need - self.tokens) / per_second
                }
            }
            Rate::Window { n, period_s } => {
                while self.sent.front().is_some_and(|t| now - t >= period_s) {
                    self.sent.pop_front();
                }
                if self.sent.len() < n {
                    0.0
                } else {
                    self.sent[self.sent.len() - n] + period_s - now
                }
            }
        };
        free.max(self.held_until - now).max(0.0)
    }

    fn take(&mut self, rate: Rate, now: f64, cost: f64) {
        match rate {
            Rate::Bucket { .. } => self.tokens -= cost,
            Rate::Window { .. } => self.sent.push_back(now),
        }
    }
}

/// The pacer of one run, or of a fleet (keys carry the principal).
#[derive(Debug)]
pub struct Pacer {
    start: Instant,
    rates: HashMap<Limit, Rate>,
    /// Whether ARM and the Activity API are paced too, or only Graph's reports.
    all: bool,
    states: Mutex<HashMap<Key, State>>,
}

impl Pacer {
    /// Microsoft's documented limits, refilled at `scale` times their rate (1 in real use; the
    /// tests run a mock with faster refills), with [`MARGIN`] kept.
    pub fn documented(scale: f64) -> Pacer {
        let scale = if scale.is_finite() && scale > 0.0 {
            scale
        } else {
            1.0
        };
        let rates = [
            Limit::ArmReads,
            Limit::ArmGlobalReads,
            Limit::ArmTenantReads,
            Limit::GraphReports,
            Limit::GraphReportsApp,
            Limit::Activity,
        ]
        .into_iter()
        .chain([Limit::GraphIdentity, Limit::GraphIdentityApp])
        .map(|l| {
            let r = match l.documented() {
                Rate::Bucket { burst, per_second } => Rate::Bucket {
                    burst,
                    per_second: per_second * scale * MARGIN,
                },
                Rate::Window { n, period_s } => Rate::Window {
                    n,
                    period_s: period_s / scale / MARGIN,
                },
            };
            (l, r)
        })
        .collect();
        Pacer {
            start: Instant::now(),
            rates,
            all: true,
            states: Mutex::new(HashMap::new()),
        }
    }

    /// The collector as it was before pacing, to measure what pacing saves: only Graph's
    /// report window (which it always kept) holds requests back; ARM and the Activity API
    /// rely on the servers' `Retry-After` alone.
    pub fn reports_only(scale: f64) -> Pacer {
        Pacer {
            all: false,
            ..Pacer::documented(scale)
        }
    }

    fn applies(&self, k: &Key) -> bool {
        self.all || matches!(k.limit, Limit::GraphReports | Limit::GraphReportsApp)
    }

    /// What a request costs under a limit: its resource units, or one request.
    fn cost(k: &Key, units: f64) -> f64 {
        if k.limit.in_resource_units() {
            units
        } else {
            1.0
        }
    }

    /// Replaces one limit's rate (tests).
    pub fn with_rate(mut self, limit: Limit, rate: Rate) -> Pacer {
        self.rates.insert(limit, rate);
        self
    }

    fn now(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    fn states(&self) -> std::sync::MutexGuard<'_, HashMap<Key, State>> {
        // A panic elsewhere cannot leave a bucket half-updated: every update is one statement.
        self.states.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes room under every key at `now`, all or none: `Err(seconds)` is how long until all
    /// of them might have room.
    pub fn try_acquire_at(&self, keys: &[Key], now: f64) -> Result<(), f64> {
        self.try_acquire_units_at(keys, 1.0, now)
    }

    /// [`Pacer::try_acquire_at`] for a request of `units` resource units (Graph identity reads).
    pub fn try_acquire_units_at(&self, keys: &[Key], units: f64, now: f64) -> Result<(), f64> {
        let keys: Vec<&Key> = keys.iter().filter(|k| self.applies(k)).collect();
        if keys.is_empty() {
            return Ok(());
        }
        let mut states = self.states();
        let mut wait = 0.0f64;
        for k in keys.iter().copied() {
            let rate = self.rates[&k.limit];
            let s = states
                .entry(k.clone())
                .or_insert_with(|| State::new(rate, now));
            wait = wait.max(s.wait_for(rate, now, Pacer::cost(k, units)));
        }
        if wait > 0.0 {
            return Err(wait);
        }
        for k in keys {
            let rate = self.rates[&k.limit];
            states
                .get_mut(k)
                .expect("inserted above")
                .take(rate, now, Pacer::cost(k, units));
        }
        Ok(())
    }

    /// Waits until the request may be sent and returns the time waited, or, when the wait
    /// would go past `within` (what is left of the request's deadline), returns at once with
    /// the wait still needed: a limit held by a long `Retry-After` must fail the requests
    /// under it quickly, not keep each one (and its concurrency slot) until its deadline.
    pub async fn acquire(&self, keys: &[Key], within: Duration) -> Result<Duration, Duration> {
        self.acquire_units(keys, 1.0, within).await
    }

    /// [`Pacer::acquire`] for a request of `units` resource units.
    pub async fn acquire_units(
        &self,
        keys: &[Key],
        units: f64,
        within: Duration,
    ) -> Result<Duration, Duration> {
        let started = Instant::now();
        // Each pass either takes room, gives up, or sleeps until room may be free, so time
        // moves on and the loop ends.
        while let Err(wait) = self.try_acquire_units_at(keys, units, self.now()) {
            let wait = Duration::from_secs_f64(wait.clamp(0.001, 86_400.0));
            if started.elapsed() + wait > within {
                return Err(wait);
            }
            tokio::time::sleep(wait).await;
        }
        Ok(started.elapsed())
    }

    /// Lowers each bucket to what the server's answer says is left, at `now`.
    pub fn observe_at(&self, keys: &[Key], headers: &HeaderMap, now: f64) {
        self.observe_units_at(keys, 1.0, headers, now);
    }

    /// Lowers the buckets to what the answer says, for a request charged `units` resource
    /// units: `x-ms-resource-unit` (what the server charged, when it is more) and
    /// `x-ms-throttle-limit-percentage` (the share of the app+tenant limit used, 0.8 to 1.8).
    pub fn observe_units(&self, keys: &[Key], units: f64, headers: &HeaderMap) {
        self.observe_units_at(keys, units, headers, self.now());
    }

    pub fn observe_units_at(&self, keys: &[Key], units: f64, headers: &HeaderMap, now: f64) {
        let number = |h: &str| {
            headers
                .get(h)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|v| v.is_finite() && *v >= 0.0)
        };
        let charged = number("x-ms-resource-unit");
        let used = number("x-ms-throttle-limit-percentage").filter(|p| *p <= 10.0);
        let mut states = self.states();
        for k in keys
            .iter()
            .filter(|k| self.applies(k) && k.limit.in_resource_units())
        {
            let rate = self.rates[&k.limit];
            let s = states
                .entry(k.clone())
                .or_insert_with(|| State::new(rate, now));
            s.wait(rate, now);
            if let Some(c) = charged.filter(|c| *c > units) {
                s.tokens -= c - units;
            }
            if let (Some(p), Limit::GraphIdentity, Rate::Bucket { burst, .. }) =
                (used, k.limit, rate)
            {
                s.tokens = s.tokens.min(burst * (1.0 - p));
            }
        }
        drop(states);
        self.observe_remaining_at(keys, headers, now);
    }

    fn observe_remaining_at(&self, keys: &[Key], headers: &HeaderMap, now: f64) {
        let mut states = self.states();
        for k in keys.iter().filter(|k| self.applies(k)) {
            let Some(left) = k
                .limit
                .remaining_header()
                .and_then(|h| headers.get(h))
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|v| v.is_finite() && *v >= 0.0)
            else {
                continue;
            };
            let rate = self.rates[&k.limit];
            let s = states
                .entry(k.clone())
                .or_insert_with(|| State::new(rate, now));
            s.wait(rate, now);
            s.tokens = s.tokens.min(left);
        }
    }

    /// Holds every key for `wait` after a throttled answer, and empties its bucket.
    pub fn hold(&self, keys: &[Key], wait: Duration) {
        self.hold_at(keys, self.now() + wait.as_secs_f64(), self.now());
    }

    pub fn hold_at(&self, keys: &[Key], until: f64, now: f64) {
        let mut states = self.states();
        for k in keys.iter().filter(|k| self.applies(k)) {
            let rate = self.rates[&k.limit];
            let s = states
                .entry(k.clone())
                .or_insert_with(|| State::new(rate, now));
            s.wait(rate, now);
            s.held_until = s.held_until.max(until);
            s.tokens = s.tokens.min(0.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who() -> Principal {
        Principal {
            app: "app".into(),
            tenant: "t1".into(),
        }
    }

    fn arm_keys() -> Vec<Key> {
        keys_for(
            "arm",
            "https://management.azure.com/subscriptions/S1/resourceGroups/rg?api-version=1",
            false,
            &who(),
        )
    }

    #[test]
    fn requests_fall_under_the_documented_limits() {
        let limits = |k: Vec<Key>| -> Vec<(Limit, String)> {
            k.into_iter().map(|k| (k.limit, k.over)).collect()
        };
        assert_eq!(
            limits(arm_keys()),
            vec![
                (Limit::ArmReads, "app@t1/s1".into()),
                (Limit::ArmGlobalReads, "s1".into())
            ]
        );
        let tenant = "https://management.azure.com/providers/microsoft.aadiam/diagnosticSettings?api-version=2017-04-01";
        assert_eq!(
            limits(keys_for("arm", tenant, false, &who())),
            vec![(Limit::ArmTenantReads, "app@t1".into())]
        );
        let report = "https://graph.microsoft.com/v1.0/auditLogs/signIns?$top=1";
        assert_eq!(
            limits(keys_for("graph", report, true, &who())),
            vec![
                (Limit::GraphReports, "app@t1".into()),
                (Limit::GraphReportsApp, "app".into())
            ]
        );
        assert_eq!(
            limits(keys_for(
                "graph",
                "https://graph.microsoft.com/v1.0/organization",
                false,
                &who()
            )),
            vec![
                (Limit::GraphIdentity, "app@t1".into()),
                (Limit::GraphIdentityApp, "app".into())
            ]
        );
        assert_eq!(
            limits(keys_for(
                "o365",
                "https://manage.office.com/api/v1.0/t1/activity/feed/subscriptions/list",
                false,
                &who()
            )),
            vec![(Limit::Activity, "t1".into())]
        );
        assert!(keys_for(
            "storage",
            "https://a.blob.core.windows.net/c",
            false,
            &who()
        )
        .is_empty());
    }

    #[test]
    fn the_arm_bucket_bursts_then_refills_at_the_documented_rate() {
        let p = Pacer::documented(1.0);
        let k = arm_keys();
        for _ in 0..250 {
            p.try_acquire_at(&k, 0.0).unwrap();
        }
        let wait = p.try_acquire_at(&k, 0.0).unwrap_err();
        // One token at 25/s less the margin.
        assert!((wait - 1.0 / (25.0 * MARGIN)).abs() < 1e-9, "{wait}");
        p.try_acquire_at(&k, wait).unwrap();
        assert!(p.try_acquire_at(&k, wait).is_err());
    }

    #[test]
    fn the_remaining_header_only_ever_lowers_the_bucket() {
        let p = Pacer::documented(1.0);
        let k = arm_keys();
        let mut h = HeaderMap::new();
        h.insert(
            "x-ms-ratelimit-remaining-subscription-reads",
            "2".parse().unwrap(),
        );
        p.observe_at(&k, &h, 0.0);
        p.try_acquire_at(&k, 0.0).unwrap();
        p.try_acquire_at(&k, 0.0).unwrap();
        assert!(p.try_acquire_at(&k, 0.0).is_err());
        // A later, higher figure (an answer that overtook an earlier one) does not raise it.
        h.insert(
            "x-ms-ratelimit-remaining-subscription-reads",
            "200".parse().unwrap(),
        );
        p.observe_at(&k, &h, 0.0);
        assert!(p.try_acquire_at(&k, 0.0).is_err());
        // The global header lowers the shared bucket, which every principal then waits on.
        let mut g = HeaderMap::new();
        g.insert(
            "x-ms-ratelimit-remaining-subscription-global-reads",
            "0".parse().unwrap(),
        );
        let other = keys_for(
            "arm",
            "https://management.azure.com/subscriptions/s1/providers/x?api-version=1",
            false,
            &Principal {
                app: "other".into(),
                tenant: "t1".into(),
            },
        );
        p.observe_at(&k, &g, 0.0);
        assert!(p.try_acquire_at(&other, 0.0).is_err());
    }

    #[test]
    fn a_throttled_answer_holds_every_waiter() {
        let p = Pacer::documented(1.0);
        let k = arm_keys();
        p.hold_at(&k, 3.0, 0.0);
        let wait = p.try_acquire_at(&k, 1.0).unwrap_err();
        assert!((wait - 2.0).abs() < 1e-9, "{wait}");
        assert!(p.try_acquire_at(&k, 2.99).is_err());
        // After the hold the bucket has refilled for the time held.
        p.try_acquire_at(&k, 3.0).unwrap();
    }

    #[test]
    fn graph_reports_keep_to_five_in_any_ten_seconds() {
        let p = Pacer::documented(1.0);
        let k = keys_for(
            "graph",
            "https://graph.microsoft.com/v1.0/auditLogs/directoryAudits",
            true,
            &who(),
        );
        let mut sent = Vec::new();
        let mut now = 0.0;
        // Bounded: 12 requests, each at the earliest time the pacer allows.
        while sent.len() < 12 {
            match p.try_acquire_at(&k, now) {
                Ok(()) => sent.push(now),
                Err(w) => now += w,
            }
        }
        let period = 10.0 / MARGIN;
        for (i, t) in sent.iter().enumerate() {
            let in_window = sent[i..].iter().filter(|u| *u - t < period).count();
            assert!(in_window <= 5, "{sent:?}");
        }
        assert!((sent[5] - period).abs() < 1e-9, "{sent:?}");
    }

    #[test]
    fn unpaced_arm_never_waits_but_graph_reports_still_do() {
        let p = Pacer::reports_only(1.0);
        let k = arm_keys();
        p.hold_at(&k, 100.0, 0.0);
        for _ in 0..1000 {
            p.try_acquire_at(&k, 0.0).unwrap();
        }
        let r = keys_for(
            "graph",
            "https://graph.microsoft.com/v1.0/auditLogs/signIns",
            true,
            &who(),
        );
        for _ in 0..5 {
            p.try_acquire_at(&r, 0.0).unwrap();
        }
        assert!(p.try_acquire_at(&r, 0.0).is_err());
    }

    #[tokio::test]
    async fn acquire_sleeps_until_there_is_room() {
        let p = Pacer::documented(1.0).with_rate(
            Limit::Activity,
            Rate::Window {
                n: 2,
                period_s: 0.3,
            },
        );
        let k = keys_for(
            "o365",
            "https://manage.office.com/api/v1.0/t/activity/feed/x",
            false,
            &who(),
        );
        let started = Instant::now();
        let mut waited = Duration::ZERO;
        for _ in 0..3 {
            waited += p.acquire(&k, Duration::from_secs(10)).await.unwrap();
        }
        assert!(started.elapsed() >= Duration::from_millis(300));
        assert!(waited >= Duration::from_millis(290), "{waited:?}");
    }

    #[tokio::test]
    async fn a_hold_longer_than_the_deadline_fails_at_once() {
        let p = Pacer::documented(1.0);
        let k = arm_keys();
        p.hold(&k, Duration::from_secs(1200));
        let started = Instant::now();
        let needed = p.acquire(&k, Duration::from_secs(5)).await.unwrap_err();
        assert!(needed > Duration::from_secs(1100), "{needed:?}");
        assert!(started.elapsed() < Duration::from_secs(1), "waited");
    }

    #[test]
    fn graph_reads_cost_their_documented_resource_units() {
        let g = |p: &str| resource_units(&format!("https://graph.microsoft.com/v1.0{p}"));
        // The collector's own reads, as the kinds table builds them.
        assert_eq!(
            g("/applications?$filter=appId%20eq%20%27x%27&$select=id,appId"),
            1.0
        );
        assert_eq!(g("/applications"), 2.0);
        assert_eq!(g("/servicePrincipals/abc/appRoleAssignments"), 2.0);
        assert_eq!(
            g("/oauth2PermissionGrants?$filter=clientId%20eq%20%27x%27"),
            2.0
        );
        assert_eq!(g("/subscribedSkus?$select=skuId"), 2.0);
        assert_eq!(g("/subscribedSkus"), 3.0);
        assert_eq!(g("/organization?$select=id"), 1.0, "never below 1");
        assert_eq!(g("/servicePrincipals?$top=5&$select=id"), 1.0);
        assert_eq!(g("/oauth2PermissionGrants?$top=5"), 1.0);
        assert_eq!(g("/oauth2PermissionGrants?$top=50"), 2.0);
    }

    #[test]
    fn resource_units_fill_the_graph_bucket_and_its_headers_lower_it() {
        let p = Pacer::documented(1.0).with_rate(
            Limit::GraphIdentity,
            Rate::Bucket {
                burst: 10.0,
                per_second: 1.0,
            },
        );
        let keys = keys_for(
            "graph",
            "https://graph.microsoft.com/v1.0/applications",
            false,
            &who(),
        );
        // 10 RU: five reads of 2, then the sixth waits for 2 RU (2 s at 1 RU/s).
        for _ in 0..5 {
            assert_eq!(p.try_acquire_units_at(&keys, 2.0, 0.0), Ok(()));
        }
        let w = p.try_acquire_units_at(&keys, 2.0, 0.0).unwrap_err();
        assert!((w - 2.0).abs() < 1e-9, "{w}");
        // A full bucket again at t = 10; the server says 90 % of the limit is used: 1 RU left.
        let mut h = HeaderMap::new();
        h.insert("x-ms-throttle-limit-percentage", "0.9".parse().unwrap());
        p.observe_units_at(&keys, 2.0, &h, 10.0);
        let w = p.try_acquire_units_at(&keys, 2.0, 10.0).unwrap_err();
        assert!((w - 1.0).abs() < 1e-6, "{w}");
        // The server charged 5 where 2 was reckoned: 3 more come off.
        let mut h = HeaderMap::new();
        h.insert("x-ms-resource-unit", "5".parse().unwrap());
        p.observe_units_at(&keys, 2.0, &h, 30.0);
        let w = p.try_acquire_units_at(&keys, 8.0, 30.0).unwrap_err();
        assert!((w - 1.0).abs() < 1e-6, "{w}");
        // Headers never raise a bucket: a lower charge than reckoned gives nothing back.
        let mut h = HeaderMap::new();
        h.insert("x-ms-resource-unit", "1".parse().unwrap());
        p.observe_units_at(&keys, 2.0, &h, 30.0);
        let w = p.try_acquire_units_at(&keys, 8.0, 30.0).unwrap_err();
        assert!((w - 1.0).abs() < 1e-6, "{w}");
    }
}
