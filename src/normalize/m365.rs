//! Microsoft 365 sections: tenant and licences (Graph), the SIEM's app registrations with their
//! credentials and permissions resolved by name, Management Activity API subscriptions and
//! content, the Graph audit log API, Defender corroboration, and network probe results.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::model::*;
use super::raw::{self, arr, b, s};
use super::{parse_time, Input};
use crate::coverage::LOG_TYPES;

/// Microsoft Graph's appId (the same in every cloud).
pub const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";
/// Office 365 Management APIs' appId.
pub const O365_MGMT_APP_ID: &str = "c5393580-f805-4401-95e8-94b7a6ef2fc2";

/// Management Activity API content types, in the guide's event-filter order.
pub const CONTENT_TYPES: &[&str] = &[
    "Audit.AzureActiveDirectory",
    "Audit.Exchange",
    "Audit.SharePoint",
    "Audit.General",
    "DLP.All",
];

/// Service plans (not SKUs: bundles vary) that carry each licence flag.
const PLANS: &[(&str, &[&str])] = &[
    ("entra_p1", &["AAD_PREMIUM", "AAD_PREMIUM_P2"]),
    ("entra_p2", &["AAD_PREMIUM_P2"]),
    ("mde_p2", &["WINDEFATP"]),
    ("mdi", &["ATA"]),
    ("mdo_p2", &["THREAT_INTELLIGENCE"]),
    ("mdca", &["ADALLOM_S_STANDALONE"]),
    ("audit_premium", &["M365_ADVANCED_AUDITING"]),
];

pub fn tenant(input: &Input<'_>) -> Tenant {
    let mut t = Tenant {
        status: input.status_of(&["graph.organization", "graph.subscribed_skus"]),
        ..Tenant::default()
    };
    for (item, body) in input.bodies("graph.organization") {
        if let Some(org) = input.list_of("graph.organization", item, &body).first() {
            t.id = s(org, &["id"]);
            t.display_name = s(org, &["displayName"]);
        }
    }
    if !input.usable("graph.subscribed_skus") {
        return t;
    }
    let mut plans = Vec::new();
    let mut skus = Vec::new();
    for (item, body) in input.bodies("graph.subscribed_skus") {
        for sku in input.list_of("graph.subscribed_skus", item, &body) {
            let active = s(sku, &["capabilityStatus"]).is_some_and(|c| {
                c.eq_ignore_ascii_case("Enabled") || c.eq_ignore_ascii_case("Warning")
            });
            if !active {
                continue;
            }
            if let Some(p) = s(sku, &["skuPartNumber"]) {
                skus.push(p);
            }
            for plan in arr(sku, &["servicePlans"]) {
                let ok = s(plan, &["provisioningStatus"])
                    .is_some_and(|p| p.eq_ignore_ascii_case("Success"));
                if let (true, Some(name)) = (ok, s(plan, &["servicePlanName"])) {
                    plans.push(name);
                }
            }
        }
    }
    plans.sort();
    plans.dedup();
    skus.sort();
    skus.dedup();
    let has = |flag: &str| {
        let names = PLANS
            .iter()
            .find(|(f, _)| *f == flag)
            .map(|(_, n)| *n)
            .unwrap_or(&[]);
        Some(plans.iter().any(|p| names.contains(&p.as_str())))
    };
    let l = &mut t.licences;
    l.entra_p1 = has("entra_p1");
    l.entra_p2 = has("entra_p2");
    l.mde_p2 = has("mde_p2");
    l.mdi = has("mdi");
    l.mdo_p2 = has("mdo_p2");
    l.mdca = has("mdca");
    l.audit_premium = has("audit_premium");
    l.defender_any = Some(l.mde_p2 == Some(true) || l.mdi == Some(true) || l.mdo_p2 == Some(true));
    t.service_plans = plans;
    t.skus = skus;
    t
}

fn credential(v: &Value, kind: &str, as_of: DateTime<Utc>, warn_days: i64) -> Credential {
    let start = s(v, &["startDateTime"]);
    let end = s(v, &["endDateTime"]);
    let end_t = end.as_deref().and_then(parse_time);
    let start_t = start.as_deref().and_then(parse_time);
    let days_left = end_t.map(|e| (e - as_of).num_seconds().div_euclid(86_400));
    let expired = end_t.is_some_and(|e| e <= as_of);
    let not_yet_valid = !expired && start_t.is_some_and(|s| s > as_of);
    Credential {
        kind: kind.into(),
        key_id: s(v, &["keyId"]),
        display_name: s(v, &["displayName"]),
        expiring: !expired && !not_yet_valid && days_left.is_some_and(|d| d < warn_days),
        expired,
        not_yet_valid,
        days_left,
        lifetime_days: match (start_t, end_t) {
            (Some(a), Some(b)) => Some((b - a).num_days()),
            _ => None,
        },
        start,
        end,
    }
}

/// Whether a credential can be used at `as_of`: started and not expired.
fn in_force(c: &Credential, as_of: DateTime<Utc>) -> bool {
    !c.expired
        && c.start
            .as_deref()
            .and_then(parse_time)
            .is_none_or(|s| s <= as_of)
}

/// The credential valid at `as_of` (started, not expired) that ends last: the SIEM keeps signing
/// in until then, so its end is the day ingestion stops.
fn last_valid_credential(creds: &[Credential], as_of: DateTime<Utc>) -> Option<&Credential> {
    creds
        .iter()
        .filter(|c| in_force(c, as_of))
        .filter_map(|c| Some((c.end.as_deref().and_then(parse_time)?, c)))
        .max_by_key(|(end, _)| *end)
        .map(|(_, c)| c)
}

/// Whether a permission name grants writes (least privilege for a collector).
fn is_write(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "readwrite",
        ".write",
        "fullcontrol",
        ".manage",
        ".send",
        "manageasapp",
    ]
    .iter()
    .any(|w| n.contains(w))
}

/// The elements of every listing of `kind`, keyed by the lowercase request scope (an app id,
/// a service principal's object id); scopes whose listing is incomplete map to `None`.
/// `own` names the field that must agree with the scope, and `required` the fields every
/// element must carry (else the kind is malformed).
fn by_scope<'a>(
    input: &Input<'a>,
    kind: &str,
    own: &str,
    required: &[&[&str]],
) -> HashMap<String, Option<Vec<Value>>> {
    let mut out = HashMap::new();
    for l in input.listings(kind) {
        let key = l.scope.clone().unwrap_or_default().to_ascii_lowercase();
        let mut scope_items = Vec::new();
        let mut whole = l.complete();
        for (item, v) in &l.elements() {
            if !input.require(kind, item, v, required) {
                whole = false;
                continue;
            }
            // A child whose own id names another app or principal disagrees with the
            // request: keep it under the request's scope and report it.
            if let Some(own) =
                s(v, &[own]).filter(|o| !key.is_empty() && !o.eq_ignore_ascii_case(&key))
            {
                input.inconsistent(
                    kind,
                    item,
                    &format!(
                        "an item for {own} was returned by the request for {key}; kept under {key}"
                    ),
                );
            }
            scope_items.push((*v).clone());
        }
        out.insert(key, whole.then_some(scope_items));
    }
    out
}

/// What the request for `app` returned: `None` when it was not read completely, `Some(None)`
/// when it listed nothing for that app id.
fn lookup<'v>(
    lists: &'v HashMap<String, Option<Vec<Value>>>,
    app: &str,
) -> Option<Option<&'v Value>> {
    let list = lists.get(app)?.as_ref()?;
    Some(
        list.iter()
            .find(|v| s(v, &["appId"]).is_some_and(|a| a.eq_ignore_ascii_case(app))),
    )
}

pub fn apps(input: &Input<'_>) -> Apps {
    let kinds = [
        "graph.applications",
        "graph.service_principals",
        "graph.app_role_assignments",
        "graph.oauth2_permission_grants",
    ];
    let status = input.status_of(&kinds[..3]);
    // Each request was for one app id (`$filter=appId eq '…'`): what it returned is what
    // exists for that app id, and a configured id with no complete request is unknown.
    let app_lists = by_scope(input, "graph.applications", "appId", &[&["appId"]]);
    let sp_lists = by_scope(
        input,
        "graph.service_principals",
        "appId",
        &[&["appId"], &["id"]],
    );
    let mut sp_by_app: HashMap<String, &Value> = HashMap::new();
    let mut sp_by_id: HashMap<String, &Value> = HashMap::new();
    for v in sp_lists.values().flatten().flatten() {
        if let Some(a) = s(v, &["appId"]) {
            sp_by_app.insert(a.to_ascii_lowercase(), v);
        }
        if let Some(id) = s(v, &["id"]) {
            sp_by_id.insert(id.to_ascii_lowercase(), v);
        }
    }
    let assignments = by_scope(
        input,
        "graph.app_role_assignments",
        "principalId",
        &[&["appRoleId"], &["resourceId"]],
    );
    let grants = by_scope(
        input,
        "graph.oauth2_permission_grants",
        "clientId",
        &[&["resourceId"], &["scope"], &["consentType"]],
    );
    // Resolves an app role id on a resource service principal to its permission name; `None`
    // when the resource lists no such role (or no `appRoles` at all).
    let role_name = |resource_sp: &Value, role_id: &str| -> Option<String> {
        raw::opt_arr(resource_sp, &["appRoles"])?
            .iter()
            .find(|r| s(r, &["id"]).is_some_and(|id| id.eq_ignore_ascii_case(role_id)))
            .and_then(|r| s(r, &["value"]))
    };
    let cfg = input.config;
    let as_of = input.as_of;
    let warn = cfg.thresholds.secret_expiry_warning_days;
    let mut items = Vec::new();
    let mut any_sp = false;
    for client_id in &cfg.app.client_ids {
        let key = client_id.to_ascii_lowercase();
        let mut app = App {
            app_id: client_id.clone(),
            ..App::default()
        };
        let registration = lookup(&app_lists, &key);
        app.found = registration.map(|r| r.is_some());
        if registration.is_none() {
            app.unresolved
                .push("the app registration was not read completely".into());
        }
        if let Some(Some(v)) = registration {
            app.object_id = s(v, &["id"]);
            app.display_name = s(v, &["displayName"]);
            app.sign_in_audience = s(v, &["signInAudience"]);
            app.single_tenant = app
                .sign_in_audience
                .as_deref()
                .map(|a| a.eq_ignore_ascii_case("AzureADMyOrg"));
            // Both lists are selected explicitly; a body without one says nothing about it.
            if let (Some(pw), Some(keys)) = (
                raw::opt_arr(v, &["passwordCredentials"]),
                raw::opt_arr(v, &["keyCredentials"]),
            ) {
                let mut creds: Vec<Credential> = pw
                    .iter()
                    .map(|c| credential(c, "secret", as_of, warn))
                    .chain(
                        keys.iter()
                            .map(|c| credential(c, "certificate", as_of, warn)),
                    )
                    .collect();
                creds.sort_by(|a, b| a.end.cmp(&b.end));
                let secrets = creds.iter().filter(|c| c.kind == "secret").count() as i64;
                app.secrets = Some(secrets);
                app.certificates = Some(creds.len() as i64 - secrets);
                app.valid_credentials =
                    Some(creds.iter().filter(|c| in_force(c, as_of)).count() as i64);
                let last_valid = last_valid_credential(&creds, as_of);
                app.ingestion_stops = last_valid.and_then(|c| c.end.clone());
                app.days_until_ingestion_stops = last_valid.and_then(|c| c.days_left);
                app.credentials = Some(creds);
            } else {
                app.unresolved.push(
                    "the registration's body lacks passwordCredentials or keyCredentials".into(),
                );
            }
        }
        let mut granted_names: Vec<(String, String)> = Vec::new(); // (resource appId, name)
        let mut resolved = Some(true);
        // Whether the application permissions granted are known (consent is judged on them
        // alone; delegated grants matter only for what the app can write).
        let principal = lookup(&sp_lists, &key);
        let mut roles_known = principal == Some(None);
        if principal.is_none() {
            app.unresolved
                .push("the app's service principal was not read completely".into());
            resolved = None;
        }
        if let Some(Some(sp)) = principal {
            any_sp = true;
            let sp_id = s(sp, &["id"]).unwrap_or_default();
            app.service_principal_id = Some(sp_id.clone());
            app.service_principal_enabled = b(sp, &["accountEnabled"]);
            match assignments.get(&sp_id.to_ascii_lowercase()) {
                Some(Some(list)) => {
                    roles_known = true;
                    for a in list {
                        let resource_id = s(a, &["resourceId"])
                            .unwrap_or_default()
                            .to_ascii_lowercase();
                        let role_id = s(a, &["appRoleId"]).unwrap_or_default();
                        let resource = sp_by_id.get(&resource_id);
                        let name = resource.and_then(|r| role_name(r, &role_id));
                        match (resource, name) {
                            (Some(r), Some(name)) => {
                                let rapp =
                                    s(r, &["appId"]).unwrap_or_default().to_ascii_lowercase();
                                if rapp == GRAPH_APP_ID {
                                    app.graph_permissions.push(name.clone());
                                } else if rapp == O365_MGMT_APP_ID {
                                    app.o365_permissions.push(name.clone());
                                } else {
                                    let rname = s(r, &["displayName"])
                                        .or_else(|| s(a, &["resourceDisplayName"]))
                                        .unwrap_or(rapp.clone());
                                    app.other_permissions.push(format!("{rname}/{name}"));
                                }
                                if is_write(&name) {
                                    app.write_permissions.push(name.clone());
                                }
                                granted_names.push((rapp, name));
                            }
                            (r, _) => {
                                app.unresolved_assignments += 1;
                                let what = s(a, &["resourceDisplayName"])
                                    .unwrap_or_else(|| resource_id.clone());
                                app.unresolved.push(match r {
                                    None => format!(
                                        "an app role on {what} cannot be named: its service principal was not collected"
                                    ),
                                    Some(_) => format!(
                                        "app role {role_id} on {what} is not among that service principal's appRoles"
                                    ),
                                });
                                resolved = Some(false);
                            }
                        }
                    }
                }
                _ => {
                    app.unresolved.push(
                        "the service principal's app role assignments were not read completely"
                            .into(),
                    );
                    resolved = None;
                }
            }
            match grants.get(&sp_id.to_ascii_lowercase()) {
                Some(Some(list)) => {
                    app.delegated_permissions = Some(vec![]);
                    for g in list {
                        let resource_id = s(g, &["resourceId"])
                            .unwrap_or_default()
                            .to_ascii_lowercase();
                        let rname = sp_by_id
                            .get(&resource_id)
                            .and_then(|r| s(r, &["displayName"]))
                            .unwrap_or_else(|| resource_id.clone());
                        for scope in s(g, &["scope"]).unwrap_or_default().split_whitespace() {
                            app.delegated_permissions
                                .get_or_insert_with(Vec::new)
                                .push(format!("{rname}/{scope}"));
                            // A delegated write scope lets the app write as its user (or as
                            // every user, with `consentType: AllPrincipals`): it counts.
                            if is_write(scope) {
                                let who = s(g, &["consentType"]).unwrap_or_default();
                                app.write_permissions.push(format!(
                                    "{rname}/{scope} (delegated{})",
                                    if who.eq_ignore_ascii_case("AllPrincipals") {
                                        ", admin-consented for all users"
                                    } else {
                                        ""
                                    }
                                ));
                            }
                        }
                    }
                }
                _ => {
                    app.unresolved
                        .push("the delegated permission grants were not read completely".into());
                    resolved = None;
                }
            }
        }
        if let Some(Some(v)) = registration {
            match raw::opt_arr(v, &["requiredResourceAccess"]) {
                None => {
                    app.unresolved
                        .push("the registration's body lacks requiredResourceAccess".into());
                }
                Some(rras) => {
                    let mut missing = Vec::new();
                    let mut known = true;
                    for rra in rras {
                        let rapp = s(rra, &["resourceAppId"])
                            .unwrap_or_default()
                            .to_ascii_lowercase();
                        let Some(access) = raw::opt_arr(rra, &["resourceAccess"]) else {
                            known = false;
                            app.unresolved.push(format!(
                                "a requiredResourceAccess entry for {rapp} lacks resourceAccess"
                            ));
                            continue;
                        };
                        for ra in access {
                            let Some(ty) = s(ra, &["type"]) else {
                                known = false;
                                app.unresolved.push(format!(
                                    "a requested permission of {rapp} does not say whether it is a Role or a Scope"
                                ));
                                continue;
                            };
                            if !ty.eq_ignore_ascii_case("Role") {
                                continue;
                            }
                            let name = sp_by_app
                                .get(&rapp)
                                .and_then(|r| s(ra, &["id"]).and_then(|id| role_name(r, &id)));
                            match name {
                                Some(name) => {
                                    if !granted_names.iter().any(|(r, n)| *r == rapp && *n == name)
                                    {
                                        missing.push(name);
                                    }
                                }
                                None => {
                                    known = false;
                                    app.unresolved.push(format!(
                                        "a requested app role of {rapp} cannot be named (its service principal or role is not in the evidence)"
                                    ));
                                }
                            }
                        }
                    }
                    // Consent can only be judged against what was granted, completely.
                    app.not_consented = (known && roles_known && app.unresolved_assignments == 0)
                        .then_some(missing);
                }
            }
        }
        app.permissions_resolved = if app.service_principal_id.is_some() {
            resolved
        } else if app.found == Some(true) && principal == Some(None) {
            // No service principal: nothing can have been granted to it.
            Some(true)
        } else {
            None
        };
        for list in [
            &mut app.o365_permissions,
            &mut app.graph_permissions,
            &mut app.other_permissions,
            &mut app.write_permissions,
        ] {
            list.sort();
            list.dedup();
        }
        if let Some(l) = app.delegated_permissions.as_mut() {
            l.sort();
            l.dedup();
        }
        if let Some(l) = app.not_consented.as_mut() {
            l.sort();
            l.dedup();
        }
        app.can_write = if !app.write_permissions.is_empty() {
            Some(true)
        } else {
            app.permissions_resolved.filter(|r| *r).map(|_| false)
        };
        items.push(app);
    }
    if !any_sp && input.usable("graph.service_principals") {
        // No configured app has a service principal, so there was nothing to list.
        input.vacuous(
            "graph.app_role_assignments",
            "no configured app has a service principal",
        );
        input.vacuous(
            "graph.oauth2_permission_grants",
            "no configured app has a service principal",
        );
    }
    Apps { status, items }
}

/// What a Management Activity API error code means for the SIEM, and what to do.
pub fn explain_af(code: &str) -> Option<&'static str> {
    Some(match code {
        "AF10001" => "the token lacks ActivityFeed.Read: grant it as an application permission and consent",
        "AF20010" | "AF20011" | "AF20012" | "AF20013" => "the tenant is not provisioned for the Management Activity API (check the tenant id, and that unified audit logging is on)",
        "AF20020" => "invalid content type",
        "AF20021" => "the webhook failed validation: it must answer the validation POST over HTTPS",
        "AF20022" => "no subscription exists for this content type: the SIEM never called subscriptions/start (QRadar does on first poll when the event filter includes it)",
        "AF20023" => "the subscription was disabled by a tenant or service admin: start it again from the SIEM",
        "AF20030" | "AF20055" => "the requested time window is invalid (at most 24 hours, at most 7 days back)",
        "AF20031" => "invalid nextPage token",
        "AF20050" | "AF20051" | "AF20052" => "the content blob is missing, expired (after 7 days) or invalid",
        "AF429" => "throttled by the Management Activity API; send PublisherIdentifier and back off",
        "AF50000" => "an internal error at Microsoft; retry later",
        _ => return None,
    })
}

/// Content types the required log types need, when the SIEM uses the Management Activity API.
fn required_content_types(input: &Input<'_>) -> Vec<&'static str> {
    let cfg = input.config;
    if !cfg.uses_management_api() {
        return vec![];
    }
    let req = |id: &str| cfg.coverage.required.iter().any(|r| r == id);
    let mut out = Vec::new();
    for lt in LOG_TYPES {
        if !req(lt.id) {
            continue;
        }
        let cts: &[&str] = match lt.id {
            "entra_audit" => &["Audit.AzureActiveDirectory"],
            "exchange_audit" => &["Audit.Exchange"],
            "sharepoint_audit" => &["Audit.SharePoint"],
            "teams_audit" => &["Audit.General"],
            "purview_dlp" => &["DLP.All"],
            "unified_audit" => &CONTENT_TYPES[..4],
            _ => &[],
        };
        out.extend_from_slice(cts);
    }
    out.sort_unstable();
    out.dedup();
    out
}

pub fn o365(input: &Input<'_>) -> O365 {
    let list_usable = input.usable("o365.subscriptions");
    let mut listed: HashMap<String, &Value> = HashMap::new();
    let subscriptions = input.bodies("o365.subscriptions");
    for (item, body) in &subscriptions {
        for v in input.list_of("o365.subscriptions", item, body) {
            if !input.require("o365.subscriptions", item, v, &[&["contentType"]]) {
                continue;
            }
            if let Some(ct) = s(v, &["contentType"]) {
                listed.insert(ct.to_ascii_lowercase(), v);
            }
        }
    }
    let required = required_content_types(input);
    let freshness = input.config.thresholds.freshness_hours as f64;
    let content_items = input.items("o365.content");
    let mut types = Vec::new();
    for ct in CONTENT_TYPES {
        let sub = listed.get(&ct.to_ascii_lowercase()).copied();
        let subscription = sub.and_then(|v| s(v, &["status"]));
        let enabled = if !list_usable {
            None
        } else {
            match (sub, &subscription) {
                (None, _) => Some(false),
                (Some(_), Some(st)) => Some(st.eq_ignore_ascii_case("enabled")),
                // Listed without a status (as in Microsoft's own example): unknown.
                (Some(_), None) => None,
            }
        };
        let webhook = sub.and_then(|v| s(v, &["webhook", "address"]));
        let mut c = ContentType {
            content_type: ct.to_string(),
            required: required.contains(ct),
            subscription,
            enabled,
            webhook_https: webhook
                .as_deref()
                .map(|w| w.to_ascii_lowercase().starts_with("https://")),
            webhook,
            content_status: "not_collected".into(),
            ..ContentType::default()
        };
        let mine: Vec<_> = content_items
            .iter()
            .copied()
            .filter(|i| {
                i.item
                    .scope
                    .as_deref()
                    .is_some_and(|s| s.eq_ignore_ascii_case(ct))
            })
            .collect();
        if !mine.is_empty() {
            let st = crate::evidence::state_of(&mine);
            c.content_status = st.status.as_str().into();
            if let Some(failed) = mine.iter().find(|i| i.item.error.is_some()) {
                let e = failed.item.error.as_ref().expect("checked");
                c.error_code = Some(e.code.clone());
                c.error_message = Some(e.message.clone());
                c.explanation = explain_af(&e.code).map(str::to_string);
            }
            if st.status == crate::evidence::EvidenceStatus::Ok {
                let mut count = 0;
                let mut latest: Option<DateTime<Utc>> = None;
                for i in &mine {
                    let body = input.body(i);
                    if let Some(crate::evidence::Body::Json(body)) = body.as_deref() {
                        for blob in input.list_of("o365.content", i, body) {
                            count += 1;
                            if let Some(t) =
                                s(blob, &["contentCreated"]).as_deref().and_then(parse_time)
                            {
                                latest = latest.max(Some(t));
                            }
                        }
                    }
                }
                c.blobs = Some(count);
                c.latest_content =
                    latest.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
                c.hours_since_latest = latest.map(|t| input.hours_since(t));
                c.fresh = Some(c.hours_since_latest.is_some_and(|h| h <= freshness));
            } else if st.status == crate::evidence::EvidenceStatus::NotFound {
                c.blobs = Some(0);
                c.fresh = Some(false);
            }
        }
        types.push(c);
    }
    O365 {
        status: input.status("o365.subscriptions"),
        content_status: input.status("o365.content"),
        content_types: types,
    }
}

fn graph_log(input: &Input<'_>, kind: &str, time_field: &str) -> GraphLog {
    let mut g = GraphLog {
        status: input.status(kind),
        ..GraphLog::default()
    };
    if let Some(failed) = input
        .items(kind)
        .into_iter()
        .find(|i| i.item.error.is_some())
    {
        g.error = Some(failed.failure_text());
    }
    if !input.usable(kind) {
        return g;
    }
    g.readable = Some(true);
    let mut latest: Option<DateTime<Utc>> = None;
    for (item, body) in input.bodies(kind) {
        for v in input.list_of(kind, item, &body) {
            if let Some(t) = s(v, &[time_field]).as_deref().and_then(parse_time) {
                latest = latest.max(Some(t));
            }
        }
    }
    g.latest = latest.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    g.hours_since_latest = latest.map(|t| input.hours_since(t));
    g.fresh = Some(
        g.hours_since_latest
            .is_some_and(|h| h <= input.config.thresholds.freshness_hours as f64),
    );
    g
}

pub fn graph(input: &Input<'_>) -> GraphAudit {
    GraphAudit {
        directory_audits: graph_log(input, "graph.directory_audits", "activityDateTime"),
        sign_ins: graph_log(input, "graph.sign_ins", "createdDateTime"),
    }
}

pub fn network(input: &Input<'_>) -> Network {
    let mut net = Network {
        status: input.status("probe.network"),
        ..Network::default()
    };
    for (item, body) in input.bodies("probe.network") {
        let body = &*body;
        let host = s(body, &["host", "hostname"]).or_else(|| s(body, &["host"]));
        if let Some(h) = &host {
            net.hosts.push(h.clone());
        }
        if !matches!(super::raw::field(body, "targets"), Some(Value::Array(_))) {
            input.malformed("probe.network", item, "at `targets`: expected an array");
            net.status = "error".into();
            continue;
        }
        for t in arr(body, &["targets"]) {
            net.targets.push(ProbeTarget {
                role: s(t, &["role"]).unwrap_or_else(|| "extra".into()),
                host: s(t, &["host"]).unwrap_or_default(),
                port: super::raw::i(t, &["port"]).unwrap_or(0),
                verdict: s(t, &["verdict"]).unwrap_or_else(|| "unknown".into()),
                reachable: b(t, &["reachable"]),
                detail: s(t, &["detail"]).unwrap_or_default(),
                from: host.clone(),
            });
        }
    }
    net
}

pub fn defender(input: &Input<'_>, eh: &EventHub, attested: &[String]) -> Defender {
    let unknown = Defender {
        attested: attested.to_vec(),
        ..Defender::default()
    };
    // Without the namespace's complete hub list nothing can be said about the export's hubs.
    let Some(all_hubs) = eh.namespace.as_ref().and_then(|n| n.hubs.as_ref()) else {
        return unknown;
    };
    let prefix = "insights-logs-advancedhunting-";
    let hubs: Vec<&Hub> = all_hubs
        .iter()
        .filter(|h| h.name.to_ascii_lowercase().starts_with(prefix))
        .collect();
    let seen: Vec<String> = hubs
        .iter()
        .map(|h| h.name[prefix.len()..].to_ascii_lowercase())
        .collect();
    let required = &input.config.defender.required_tables;
    let tables_seen = required
        .iter()
        .filter(|t| seen.contains(&t.to_ascii_lowercase()))
        .cloned()
        .collect();
    let missing_tables = if hubs.is_empty() {
        vec![]
    } else {
        required
            .iter()
            .filter(|t| !seen.contains(&t.to_ascii_lowercase()))
            .cloned()
            .collect()
    };
    // A sum over the hubs is known only when every hub's figure is.
    let incoming = hubs
        .iter()
        .map(|h| h.metrics.as_ref().and_then(|m| m.incoming_messages))
        .try_fold(0.0, |acc, x| x.map(|x| acc + x));
    Defender {
        advanced_hunting_hubs: Some(hubs.iter().map(|h| h.name.clone()).collect()),
        tables_seen,
        missing_tables,
        incoming_messages: if hubs.is_empty() { None } else { incoming },
        attested: attested.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cred(start: &str, end: &str, as_of: DateTime<Utc>) -> Credential {
        credential(
            &serde_json::json!({"startDateTime": start, "endDateTime": end}),
            "secret",
            as_of,
            30,
        )
    }

    #[test]
    fn ingestion_stops_when_the_last_valid_credential_ends() {
        let as_of = parse_time("2026-11-20T12:00:00Z").unwrap();
        let creds = vec![
            cred("2024-01-01T00:00:00Z", "2026-01-01T00:00:00Z", as_of), // expired
            cred("2025-06-01T00:00:00Z", "2026-12-01T00:00:00Z", as_of), // valid, ends last
            cred("2026-01-01T00:00:00Z", "2026-11-30T00:00:00Z", as_of), // valid
            cred("2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z", as_of), // not started yet
        ];
        let last = last_valid_credential(&creds, as_of).expect("one is valid");
        assert_eq!(last.end.as_deref(), Some("2026-12-01T00:00:00Z"));
        assert_eq!(last.days_left, Some(10));
        assert!(last_valid_credential(&creds[..1], as_of).is_none());
        assert!(last_valid_credential(&[], as_of).is_none());
    }
}
