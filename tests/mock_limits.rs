//! The mock's Microsoft read limits (`tests/common/mock/limits.rs`): bucket arithmetic, the
//! headers and refusals each plane answers with, on explicit times (no clock, no sleeping).

#[allow(dead_code)]
#[path = "common/mock/limits.rs"]
mod limits;

use limits::{Admit, Bucket, Limits, Rate, Take, Throttle};

const SUB: &str = "/subscriptions/8d2c1f4e-0000-4000-8000-000000000001/resourceGroups/rg/providers/Microsoft.EventHub/namespaces?api-version=2024-01-01";
const APP: &str = "11111111-1111-4111-8111-111111111111";
const TENANT: &str = "22222222-2222-4222-8222-222222222222";

fn header<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
    h.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[test]
fn arms_bucket_gives_its_burst_then_refills_at_its_rate() {
    let rate = Limits::documented().arm_reads;
    let mut b = Bucket::new(rate, 0.0);
    for n in (0..250).rev() {
        assert_eq!(b.take(rate, 0.0, 1.0), Take::Granted { left: n });
    }
    match b.take(rate, 0.0, 1.0) {
        Take::Throttled { wait, early } => {
            assert!((wait - 0.04).abs() < 1e-9, "{wait}");
            assert!(!early);
        }
        t => panic!("the 251st read was {t:?}"),
    }
    // Asked again before the wait is over: refused, with the time still left.
    match b.take(rate, 0.03, 1.0) {
        Take::Throttled { wait, early } => {
            assert!(early);
            assert!((wait - 0.01).abs() < 1e-9, "{wait}");
        }
        t => panic!("{t:?}"),
    }
    assert_eq!(b.take(rate, 0.05, 1.0), Take::Granted { left: 0 });
    // A second later, 25 more.
    assert_eq!(b.left(rate, 1.05), 25);
    // Never more than the burst.
    assert_eq!(b.left(rate, 1000.0), 250);
}

#[test]
fn arm_reads_carry_the_remaining_headers_and_429_with_retry_after() {
    let mut t = Throttle::new(Limits::documented());
    let Admit::Serve(h) = t.admit_at(SUB, APP, TENANT, 0.0) else {
        panic!("the first read was refused")
    };
    // 250 - 1 and 15 x 250 - 1, as Az.Accounts' Invoke-AzRestMethod example shows.
    assert_eq!(
        header(&h, "x-ms-ratelimit-remaining-subscription-reads"),
        Some("249")
    );
    assert_eq!(
        header(&h, "x-ms-ratelimit-remaining-subscription-global-reads"),
        Some("3749")
    );
    for _ in 0..249 {
        assert!(matches!(t.admit_at(SUB, APP, TENANT, 0.0), Admit::Serve(_)));
    }
    let Admit::Refuse(429, h, body) = t.admit_at(SUB, APP, TENANT, 0.0) else {
        panic!("the 251st read was served")
    };
    // 0.04 s rounds up to a whole second.
    assert_eq!(header(&h, "Retry-After"), Some("1"));
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["error"]["code"], "TooManyRequests");
    // The bucket is held for the whole second promised, though a token is back in 0.04 s.
    let Admit::Refuse(429, h, _) = t.admit_at(SUB, APP, TENANT, 0.5) else {
        panic!("a read inside the Retry-After was served")
    };
    assert_eq!(header(&h, "Retry-After"), Some("1"));
    assert_eq!(t.early, 1);
    assert_eq!(t.refused.values().sum::<u64>(), 2);
    assert!(matches!(t.admit_at(SUB, APP, TENANT, 1.0), Admit::Serve(_)));
}

#[test]
fn principals_have_their_own_buckets_but_share_the_global_one() {
    let mut l = Limits::documented();
    l.arm_global_factor = 1.5;
    let mut t = Throttle::new(l);
    for app in ["app-a", "app-b"] {
        for _ in 0..187 {
            assert!(matches!(t.admit_at(SUB, app, TENANT, 0.0), Admit::Serve(_)));
        }
    }
    // 374 of the global 375 are gone; app-a still has tokens of its own, the global has one.
    assert!(matches!(
        t.admit_at(SUB, "app-a", TENANT, 0.0),
        Admit::Serve(_)
    ));
    assert!(matches!(
        t.admit_at(SUB, "app-b", TENANT, 0.0),
        Admit::Refuse(429, _, _)
    ));
    assert_eq!(
        t.served["arm-global/8d2c1f4e-0000-4000-8000-000000000001"],
        375
    );
}

#[test]
fn tenant_level_reads_have_their_own_header() {
    let mut t = Throttle::new(Limits::documented());
    let path = "/providers/microsoft.aadiam/diagnosticSettings?api-version=2017-04-01";
    let Admit::Serve(h) = t.admit_at(path, APP, TENANT, 0.0) else {
        panic!("refused")
    };
    assert_eq!(
        header(&h, "x-ms-ratelimit-remaining-tenant-reads"),
        Some("249")
    );
    assert_eq!(
        header(&h, "x-ms-ratelimit-remaining-subscription-reads"),
        None
    );
}

#[test]
fn graph_audit_logs_allow_five_per_ten_seconds_with_a_fractional_retry_after() {
    let mut t = Throttle::new(Limits::documented());
    let path = "/v1.0/auditLogs/directoryAudits";
    for _ in 0..5 {
        assert!(matches!(
            t.admit_at(path, APP, TENANT, 0.0),
            Admit::Serve(_)
        ));
    }
    let Admit::Refuse(429, h, _) = t.admit_at(path, APP, TENANT, 0.5) else {
        panic!("the sixth request in 10 s was served")
    };
    // Half a second in, a token is 1.5 s away.
    assert_eq!(header(&h, "Retry-After"), Some("1.500"));
    // Other Graph reads are not reports.
    assert!(matches!(
        t.admit_at("/v1.0/applications", APP, TENANT, 0.5),
        Admit::Serve(_)
    ));
    // Another tenant of the same app has its own window.
    assert!(matches!(
        t.admit_at(path, APP, "another-tenant", 0.5),
        Admit::Serve(_)
    ));
    assert!(matches!(
        t.admit_at(path, APP, TENANT, 2.0),
        Admit::Serve(_)
    ));
}

#[test]
fn graph_audit_logs_allow_122_per_ten_seconds_per_app_across_tenants() {
    let mut t = Throttle::new(Limits::documented());
    let path = "/v1.0/auditLogs/signIns";
    // 122 tenants, one request each: every tenant's own window has room, the app's fills.
    for n in 0..122 {
        let tenant = format!("tenant-{n}");
        assert!(
            matches!(t.admit_at(path, APP, &tenant, 0.0), Admit::Serve(_)),
            "request {n}"
        );
    }
    let Admit::Refuse(429, h, _) = t.admit_at(path, APP, "tenant-122", 0.0) else {
        panic!("the 123rd request of the app in 10 s was served")
    };
    assert!(header(&h, "Retry-After").is_some(), "{h:?}");
    // Another app is counted apart.
    assert!(matches!(
        t.admit_at(path, "another-app", "tenant-122", 0.0),
        Admit::Serve(_)
    ));
}

#[test]
fn the_management_activity_api_throttles_with_403_af429() {
    let mut l = Limits::documented();
    l.activity = Rate {
        burst: 3.0,
        per_second: 1.0,
    };
    let mut t = Throttle::new(l);
    let path = format!("/api/v1.0/{TENANT}/activity/feed/subscriptions/list");
    for _ in 0..3 {
        assert!(matches!(
            t.admit_at(&path, APP, TENANT, 0.0),
            Admit::Serve(_)
        ));
    }
    let Admit::Refuse(403, h, body) = t.admit_at(&path, APP, TENANT, 0.0) else {
        panic!("served")
    };
    assert!(h.is_empty(), "{h:?}");
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["error"]["code"], "AF429");
}

#[test]
fn scaled_limits_keep_the_bursts_and_speed_the_refill() {
    let d = Limits::documented();
    let s = Limits::scaled(20.0);
    assert_eq!(s.arm_reads.burst, d.arm_reads.burst);
    assert_eq!(s.arm_reads.per_second, 500.0);
    assert_eq!(s.graph_reports.per_second, 10.0);
    assert_eq!(s.arm_global_factor, d.arm_global_factor);
}

#[test]
fn unlimited_paths_are_served_untouched() {
    let mut t = Throttle::new(Limits::documented());
    assert_eq!(
        t.admit_at("/api/ariel/searches", APP, TENANT, 0.0),
        Admit::Serve(vec![])
    );
    assert!(t.served.is_empty() && t.refused.is_empty());
}

#[test]
fn the_bound_is_the_slowest_buckets_time_beyond_its_burst() {
    let mut t = Throttle::new(Limits::documented());
    // 300 subscription reads, served 1/25 s apart after the burst: the principal's bucket
    // needs (300 - 250) / 25 = 2 s; the global bucket (burst 3,750) none.
    let mut now = 0.0;
    let mut served = 0;
    while served < 300 {
        match t.admit_at(SUB, APP, TENANT, now) {
            Admit::Serve(_) => served += 1,
            Admit::Refuse(..) => now += 0.04,
        }
        assert!(now < 10.0, "bounded");
    }
    assert!((t.bound_s() - 2.0).abs() < 1e-9, "{}", t.bound_s());
    assert!(now >= t.bound_s() - 1e-9);
}

#[test]
fn graph_identity_reads_spend_resource_units_and_say_so() {
    let mut t = Throttle::new(Limits::documented());
    let cost = |t: &mut Throttle, pq: &str| match t.admit_at(pq, APP, "cost-tenant", 0.0) {
        Admit::Serve(h) => header(&h, "x-ms-resource-unit").map(str::to_string),
        Admit::Refuse(..) => None,
    };
    // The collector's reads, costed as the throttling-limits page tabulates them.
    assert_eq!(
        cost(&mut t, "/v1.0/applications?$filter=x&$select=id").as_deref(),
        Some("1")
    );
    assert_eq!(cost(&mut t, "/v1.0/applications").as_deref(), Some("2"));
    assert_eq!(cost(&mut t, "/v1.0/subscribedSkus").as_deref(), Some("3"));
    assert_eq!(
        cost(&mut t, "/v1.0/servicePrincipals/x/appRoleAssignments").as_deref(),
        Some("2")
    );
    assert_eq!(
        cost(&mut t, "/v1.0/organization?$select=id").as_deref(),
        Some("1")
    );

    // 3,500 RU per 10 s for the app in a small tenant: 1,750 reads of 2 RU at once.
    let path = "/v1.0/applications";
    let mut warned = 0;
    for n in 0..1750 {
        let Admit::Serve(h) = t.admit_at(path, APP, TENANT, 0.0) else {
            panic!("read {n} refused within the limit")
        };
        if let Some(p) = header(&h, "x-ms-throttle-limit-percentage") {
            let p: f64 = p.parse().unwrap();
            assert!((0.8..=1.8).contains(&p), "{p}");
            warned += 1;
        }
    }
    // Sent only above 0.8 of the limit: the last fifth of the reads.
    assert!((340..=351).contains(&warned), "{warned}");
    let Admit::Refuse(429, h, _) = t.admit_at(path, APP, TENANT, 0.0) else {
        panic!("the bucket was empty")
    };
    // 2 RU at 350 RU/s.
    assert_eq!(header(&h, "Retry-After"), Some("0.006"));
    assert_eq!(
        header(&h, "x-ms-throttle-scope"),
        Some(format!("Tenant_Application/Read/{APP}/{TENANT}").as_str())
    );
    assert_eq!(
        header(&h, "x-ms-throttle-information"),
        Some("ResourceUnitLimitExceeded")
    );
    // Another tenant of the app has its own bucket; reports are their own limit.
    assert!(matches!(
        t.admit_at(path, APP, "other", 0.0),
        Admit::Serve(_)
    ));
    assert!(matches!(
        t.admit_at("/v1.0/auditLogs/signIns?$top=1", APP, TENANT, 0.0),
        Admit::Serve(_)
    ));
    // 10 s later the bucket is full again.
    assert!(matches!(
        t.admit_at(path, APP, TENANT, 10.0),
        Admit::Serve(_)
    ));
}
