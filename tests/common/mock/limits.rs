//! Microsoft's documented read limits, played by the mock: ARM's per-principal token bucket
//! (with its `x-ms-ratelimit-remaining-*` headers and 429 + `Retry-After`), Graph's limit on
//! identity and access reports (`auditLogs/*`), Graph's identity and access limit in resource
//! units (with `x-ms-resource-unit`, `x-ms-throttle-limit-percentage` and, on 429,
//! `x-ms-throttle-scope` / `x-ms-throttle-information`), and the Management Activity API's
//! per-tenant limit (throttled as 403 `AF429`).
//!
//! Off unless a test asks (`MockOptions.limits`), so the rest of the suite is unchanged.
//! `Limits::documented()` holds Microsoft's figures (sources below, from
//! `../shared/reference/microsoft-apis.md` §0 and §5); `Limits::scaled(k)` refills k times as
//! fast so tests finish quickly while the shape (burst, refill, headers) stays the same. The
//! bucket arithmetic is pure (it takes the time as an argument) so it is tested without clocks.
//!
//! Not documented, chosen here and marked so: how ARM rounds `Retry-After` (up to whole
//! seconds, at least 1, with the bucket held for all of them), the value a request sent inside
//! a pending `Retry-After` gets (the time still left), and whether AF429 carries `Retry-After`
//! (it does not here); the tenant size class for Graph's resource units (S, the least); and the
//! `<Limit>` part of `x-ms-throttle-scope` for reads (`Read`; the documented example is a
//! `ReadWrite` one).

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

/// A token bucket's size and refill.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub burst: f64,
    pub per_second: f64,
}

/// The limits the mock enforces.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// ARM subscription reads, per principal per subscription (per region; the mock is one).
    pub arm_reads: Rate,
    /// ARM tenant-level reads (`/providers/...`), per principal.
    pub arm_tenant_reads: Rate,
    /// The global subscription limit, shared by every principal: this many times `arm_reads`.
    pub arm_global_factor: f64,
    /// Graph identity and access reports (`/auditLogs/*`), per app per tenant.
    pub graph_reports: Rate,
    /// The same, per app across all tenants.
    pub graph_reports_app: Rate,
    /// The Management Activity API, per tenant.
    pub activity: Rate,
    /// Graph identity and access reads, in resource units per app per tenant.
    pub graph_ru: Rate,
    /// The same, per app across all tenants.
    pub graph_ru_app: Rate,
}

impl Limits {
    /// Microsoft's figures.
    pub fn documented() -> Limits {
        Limits {
            // request-limits-and-throttling: reads bucket 250, refill 25/s; tenant reads the same;
            // the global subscription limit is 15x the per-principal one.
            arm_reads: Rate {
                burst: 250.0,
                per_second: 25.0,
            },
            arm_tenant_reads: Rate {
                burst: 250.0,
                per_second: 25.0,
            },
            arm_global_factor: 15.0,
            // Graph throttling-limits: identity and access reports, 5 requests per 10 s per app
            // per tenant (as a bucket of 5 refilled at 0.5/s).
            graph_reports: Rate {
                burst: 5.0,
                per_second: 0.5,
            },
            // ... and 122 requests per 10 s per app across all tenants (the same table, as
            // published on learn.microsoft.com/graph/throttling-limits in 2025).
            graph_reports_app: Rate {
                burst: 122.0,
                per_second: 12.2,
            },
            // Management Activity API: 2,000 requests per minute per tenant (baseline).
            activity: Rate {
                burst: 2000.0,
                per_second: 2000.0 / 60.0,
            },
            // throttling-limits, identity and access service limits: 3,500 RU per 10 s per app
            // per tenant for a small tenant (S, under 50 users; M 5,000, L 8,000), and
            // 150,000 RU per 20 s per app across all tenants.
            graph_ru: Rate {
                burst: 3500.0,
                per_second: 350.0,
            },
            graph_ru_app: Rate {
                burst: 150_000.0,
                per_second: 7500.0,
            },
        }
    }

    /// The documented limits with every refill `k` times as fast (bursts unchanged).
    pub fn scaled(k: f64) -> Limits {
        let mut l = Limits::documented();
        for r in [
            &mut l.arm_reads,
            &mut l.arm_tenant_reads,
            &mut l.graph_reports,
            &mut l.graph_reports_app,
            &mut l.activity,
            &mut l.graph_ru,
            &mut l.graph_ru_app,
        ] {
            r.per_second *= k;
        }
        l
    }
}

/// What a bucket answers a request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Take {
    /// Served; this many whole tokens are left.
    Granted { left: u64 },
    /// Refused: retry after this many seconds. `early` when the request came while an earlier
    /// `Retry-After` was still pending.
    Throttled { wait: f64, early: bool },
}

/// One token bucket.
#[derive(Debug, Clone)]
pub struct Bucket {
    tokens: f64,
    at: f64,
    blocked_until: f64,
}

impl Bucket {
    /// A full bucket at time `now` (seconds).
    pub fn new(rate: Rate, now: f64) -> Bucket {
        Bucket {
            tokens: rate.burst,
            at: now,
            blocked_until: f64::NEG_INFINITY,
        }
    }

    fn refill(&mut self, rate: Rate, now: f64) {
        if now > self.at {
            self.tokens = (self.tokens + (now - self.at) * rate.per_second).min(rate.burst);
            self.at = now;
        }
    }

    /// Takes `cost` tokens at `now`.
    pub fn take(&mut self, rate: Rate, now: f64, cost: f64) -> Take {
        self.refill(rate, now);
        if now < self.blocked_until {
            return Take::Throttled {
                wait: self.blocked_until - now,
                early: true,
            };
        }
        if self.tokens >= cost {
            self.tokens -= cost;
            return Take::Granted {
                left: self.tokens.floor() as u64,
            };
        }
        let wait = (cost - self.tokens) / rate.per_second;
        self.blocked_until = now + wait;
        Take::Throttled { wait, early: false }
    }

    /// Refuses everything until `until` (the whole seconds a `Retry-After` promised).
    pub fn hold(&mut self, until: f64) {
        self.blocked_until = self.blocked_until.max(until);
    }

    /// Whole tokens left at `now`, without taking any.
    pub fn left(&mut self, rate: Rate, now: f64) -> u64 {
        self.refill(rate, now);
        self.tokens.floor() as u64
    }
}

/// Which limit a request falls under.
#[derive(Debug, Clone, PartialEq)]
pub enum Plane {
    /// ARM subscription read: (subscription id).
    ArmSubscription(String),
    ArmTenant,
    GraphReports,
    /// Graph identity and access: what the read costs in resource units.
    GraphIdentity(f64),
    Activity,
}

/// A Graph read's cost in resource units, as the throttling-limits page tabulates it: GET
/// `applications` 2, `oauth2PermissionGrants` 2, `servicePrincipals/{id}/appRoleAssignments`
/// 2, `subscribedSkus` 3, anything else 1; `$select` and `$top` under 20 take one off each,
/// never below 1.
pub fn graph_cost(path: &str, query: &str) -> f64 {
    let p = path.to_ascii_lowercase();
    let rest = p.trim_start_matches("/v1.0/").trim_end_matches('/');
    let segs: Vec<&str> = rest.split('/').collect();
    let two = segs == ["applications"]
        || segs == ["oauth2permissiongrants"]
        || (segs.len() == 3 && segs[0] == "serviceprincipals" && segs[2] == "approleassignments");
    let base = if two {
        2.0
    } else if segs == ["subscribedskus"] {
        3.0
    } else {
        1.0
    };
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let select = pairs.iter().any(|(k, _)| k == "$select");
    let small_top = pairs
        .iter()
        .any(|(k, v)| k == "$top" && v.parse::<u32>().is_ok_and(|n| n < 20));
    (base - f64::from(u8::from(select)) - f64::from(u8::from(small_top))).max(1.0)
}

/// The plane of a GET to `path_and_query` (`None`: not limited by the mock).
pub fn plane(path_and_query: &str) -> Option<Plane> {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let lower = path.to_ascii_lowercase();
    if let Some(rest) = lower.strip_prefix("/subscriptions/") {
        let sub = rest.split('/').next().unwrap_or_default();
        return Some(Plane::ArmSubscription(sub.to_string()));
    }
    if lower.starts_with("/providers/") {
        return Some(Plane::ArmTenant);
    }
    if lower.starts_with("/v1.0/auditlogs/") || lower.starts_with("/beta/auditlogs/") {
        return Some(Plane::GraphReports);
    }
    if lower.contains("/activity/feed/") {
        return Some(Plane::Activity);
    }
    if lower.starts_with("/v1.0/") {
        return Some(Plane::GraphIdentity(graph_cost(path, query)));
    }
    None
}

/// The mock's answer to a limited request.
#[derive(Debug, Clone, PartialEq)]
pub enum Admit {
    /// Serve it, adding these headers.
    Serve(Vec<(String, String)>),
    /// Refuse it: status, headers, body.
    Refuse(u16, Vec<(String, String)>, Vec<u8>),
}

/// The buckets of a running mock and what they did.
#[derive(Debug)]
pub struct Throttle {
    limits: Limits,
    start: Instant,
    buckets: HashMap<String, Bucket>,
    /// Requests served per bucket key.
    pub served: BTreeMap<String, u64>,
    /// Requests refused per bucket key.
    pub refused: BTreeMap<String, u64>,
    /// Tokens served per bucket key (resource units for Graph's identity limit, else requests).
    units: BTreeMap<String, f64>,
    /// Requests refused because they came inside a pending `Retry-After`.
    pub early: u64,
    /// The rate of each bucket key, for the bound.
    rates: HashMap<String, Rate>,
}

fn error_json(code: &str, message: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({"error": {"code": code, "message": message}}))
        .expect("json")
}

impl Throttle {
    pub fn new(limits: Limits) -> Throttle {
        Throttle {
            limits,
            start: Instant::now(),
            buckets: HashMap::new(),
            served: BTreeMap::new(),
            refused: BTreeMap::new(),
            units: BTreeMap::new(),
            early: 0,
            rates: HashMap::new(),
        }
    }

    /// The rate-limit bound of what was served: the least time any client could have taken
    /// to be served as many requests from each bucket, that is the slowest bucket's
    /// `max(0, served - burst) / refill` seconds.
    pub fn bound_s(&self) -> f64 {
        self.units
            .iter()
            .filter_map(|(k, n)| {
                let r = self.rates.get(k)?;
                Some((*n - r.burst).max(0.0) / r.per_second)
            })
            .fold(0.0, f64::max)
    }

    /// Takes a token from the bucket `key` (made full on first use) and counts the answer.
    fn take(&mut self, key: &str, rate: Rate, now: f64) -> Take {
        self.take_cost(key, rate, now, 1.0)
    }

    /// Takes `cost` tokens from the bucket `key`.
    fn take_cost(&mut self, key: &str, rate: Rate, now: f64, cost: f64) -> Take {
        self.rates.entry(key.to_string()).or_insert(rate);
        let t = self
            .buckets
            .entry(key.to_string())
            .or_insert_with(|| Bucket::new(rate, now))
            .take(rate, now, cost);
        match t {
            Take::Granted { .. } => {
                *self.served.entry(key.to_string()).or_insert(0) += 1;
                *self.units.entry(key.to_string()).or_insert(0.0) += cost;
            }
            Take::Throttled { early, .. } => {
                *self.refused.entry(key.to_string()).or_insert(0) += 1;
                self.early += u64::from(early);
            }
        }
        t
    }

    /// An ARM read from the bucket `key`: the tokens left, or ARM's refusal. That is
    /// `Retry-After` in whole seconds (at least 1), with the bucket held for all of them, so a
    /// request re-sent before then is refused again (told the time left, without extending it).
    fn arm_read(&mut self, key: &str, rate: Rate, now: f64) -> Result<u64, Admit> {
        match self.take(key, rate, now) {
            Take::Granted { left } => Ok(left),
            Take::Throttled { wait, early } => {
                let secs = wait.ceil().max(1.0);
                if !early {
                    if let Some(b) = self.buckets.get_mut(key) {
                        b.hold(now + secs);
                    }
                }
                Err(Admit::Refuse(
                    429,
                    vec![("Retry-After".into(), (secs as u64).to_string())],
                    error_json("TooManyRequests", "Too many requests (mock limit)."),
                ))
            }
        }
    }

    /// A subscription read: the principal's bucket, then the global one every principal shares.
    fn arm_subscription_read(
        &mut self,
        principal: &str,
        sub: &str,
        own: Rate,
        global: Rate,
        now: f64,
    ) -> Result<Vec<(String, String)>, Admit> {
        let left = self.arm_read(&format!("arm/{principal}/{sub}"), own, now)?;
        let global_left = self.arm_read(&format!("arm-global/{sub}"), global, now)?;
        Ok(vec![
            (
                "x-ms-ratelimit-remaining-subscription-reads".into(),
                left.to_string(),
            ),
            (
                "x-ms-ratelimit-remaining-subscription-global-reads".into(),
                global_left.to_string(),
            ),
        ])
    }

    /// A Graph identity and access read costing `cost` RU: the app's bucket across tenants,
    /// then its bucket in this tenant. Served with `x-ms-resource-unit`, and
    /// `x-ms-throttle-limit-percentage` once more than 0.8 of the tenant's limit is used;
    /// refused with 429, a fractional `Retry-After` and the throttle scope and reason.
    fn graph_identity(&mut self, principal: &str, tenant: &str, cost: f64, now: f64) -> Admit {
        let l = self.limits;
        let key = format!("graph-ru/{principal}/{tenant}");
        let app = self.take_cost(
            &format!("graph-ru-app/{principal}"),
            l.graph_ru_app,
            now,
            cost,
        );
        let take = match app {
            Take::Granted { .. } => self.take_cost(&key, l.graph_ru, now, cost),
            refused => refused,
        };
        match take {
            Take::Granted { left } => {
                let used = (l.graph_ru.burst - left as f64) / l.graph_ru.burst;
                let mut h = vec![("x-ms-resource-unit".to_string(), format!("{cost:.0}"))];
                if used > 0.8 {
                    h.push((
                        "x-ms-throttle-limit-percentage".into(),
                        format!("{:.2}", used.min(1.8)),
                    ));
                }
                Admit::Serve(h)
            }
            Take::Throttled { wait, .. } => Admit::Refuse(
                429,
                vec![
                    ("Retry-After".into(), format!("{:.3}", wait.max(0.001))),
                    (
                        "x-ms-throttle-scope".into(),
                        format!("Tenant_Application/Read/{principal}/{tenant}"),
                    ),
                    (
                        "x-ms-throttle-information".into(),
                        "ResourceUnitLimitExceeded".into(),
                    ),
                ],
                error_json("TooManyRequests", "Too many requests (mock limit)."),
            ),
        }
    }

    /// Admits a GET to `path` (with its query, which sets a Graph read's cost) by `principal`
    /// (the app's client id) in `tenant`, now.
    pub fn admit(&mut self, path: &str, principal: &str, tenant: &str) -> Admit {
        let now = self.start.elapsed().as_secs_f64();
        self.admit_at(path, principal, tenant, now)
    }

    /// [`Throttle::admit`] at a given time (seconds since the mock started).
    pub fn admit_at(&mut self, path: &str, principal: &str, tenant: &str, now: f64) -> Admit {
        let Some(plane) = plane(path) else {
            return Admit::Serve(Vec::new());
        };
        let l = self.limits;
        let arm = |r: Result<Vec<(String, String)>, Admit>| r.map_or_else(|e| e, Admit::Serve);
        match plane {
            Plane::ArmSubscription(sub) => {
                let global = Rate {
                    burst: l.arm_reads.burst * l.arm_global_factor,
                    per_second: l.arm_reads.per_second * l.arm_global_factor,
                };
                arm(self.arm_subscription_read(principal, &sub, l.arm_reads, global, now))
            }
            Plane::ArmTenant => arm(self
                .arm_read(&format!("arm-tenant/{principal}"), l.arm_tenant_reads, now)
                .map(|left| {
                    vec![(
                        "x-ms-ratelimit-remaining-tenant-reads".into(),
                        left.to_string(),
                    )]
                })),
            Plane::GraphReports => {
                let app = self.take(
                    &format!("graph-reports-app/{principal}"),
                    l.graph_reports_app,
                    now,
                );
                let take = match app {
                    Take::Granted { .. } => self.take(
                        &format!("graph-reports/{principal}/{tenant}"),
                        l.graph_reports,
                        now,
                    ),
                    refused => refused,
                };
                match take {
                    Take::Granted { .. } => Admit::Serve(Vec::new()),
                    // Graph's Retry-After can be fractional (microsoft-apis.md §0).
                    Take::Throttled { wait, .. } => Admit::Refuse(
                        429,
                        vec![("Retry-After".into(), format!("{:.3}", wait.max(0.001)))],
                        error_json("TooManyRequests", "Too many requests (mock limit)."),
                    ),
                }
            }
            Plane::GraphIdentity(cost) => self.graph_identity(principal, tenant, cost, now),
            Plane::Activity => {
                match self.take(&format!("activity/{tenant}"), l.activity, now) {
                    Take::Granted { .. } => Admit::Serve(Vec::new()),
                    // Throttling arrives as HTTP 403 AF429 (microsoft-apis.md §5).
                    Take::Throttled { .. } => Admit::Refuse(
                        403,
                        Vec::new(),
                        error_json(
                            "AF429",
                            "Too many requests. Method=GetBlob, PublisherId=mock",
                        ),
                    ),
                }
            }
        }
    }
}
