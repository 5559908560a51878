//! Tolerant readers for Microsoft's real response shapes.
//!
//! Keys vary in case (`Type`/`type`, `innerError`/`innererror`), ids lack their leading slash or
//! carry a stray `?api-version=…`, booleans sometimes arrive as strings, lists come as
//! `{"value": [...]}` or as a bare array. These helpers absorb that so the section normalisers
//! read like the documentation, and they report shape errors with a JSON path.

use serde_json::Value;

/// Looks a key up case-insensitively (exact match first).
pub fn field<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    let obj = v.as_object()?;
    if let Some(x) = obj.get(key) {
        return Some(x);
    }
    obj.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, x)| x)
}

/// Follows a path of keys case-insensitively.
pub fn path<'a>(v: &'a Value, keys: &[&str]) -> Option<&'a Value> {
    keys.iter().try_fold(v, |cur, k| field(cur, k))
}

/// A string at a path; numbers are rendered, `null` and empty strings are absent.
pub fn s(v: &Value, keys: &[&str]) -> Option<String> {
    as_s(path(v, keys)?)
}

/// A value as a string: numbers are rendered, `null` and empty strings are absent.
pub fn as_s(v: &Value) -> Option<String> {
    match v {
        Value::String(x) if !x.is_empty() => Some(x.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A boolean at a path; accepts `"true"`/`"false"` strings as ARM sometimes returns them.
pub fn b(v: &Value, keys: &[&str]) -> Option<bool> {
    match path(v, keys)? {
        Value::Bool(x) => Some(*x),
        Value::String(x) if x.eq_ignore_ascii_case("true") => Some(true),
        Value::String(x) if x.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// A number at a path; accepts numeric strings.
pub fn n(v: &Value, keys: &[&str]) -> Option<f64> {
    as_n(path(v, keys)?)
}

/// A value as a number; a string holding one is read too.
pub fn as_n(v: &Value) -> Option<f64> {
    match v {
        Value::Number(x) => x.as_f64(),
        Value::String(x) => x.trim().parse().ok(),
        _ => None,
    }
}

/// An integer at a path.
pub fn i(v: &Value, keys: &[&str]) -> Option<i64> {
    n(v, keys).filter(|x| x.fract() == 0.0).map(|x| x as i64)
}

/// An array at a path where an absent array really means none (Microsoft omits empty
/// optional lists such as `ipRules`). Use [`opt_arr`] wherever absence means "not returned".
pub fn arr<'a>(v: &'a Value, keys: &[&str]) -> &'a [Value] {
    match path(v, keys) {
        Some(Value::Array(a)) => a,
        _ => &[],
    }
}

/// An array at a path, `None` when it is absent, `null` or not an array: absent is unknown.
pub fn opt_arr<'a>(v: &'a Value, keys: &[&str]) -> Option<&'a [Value]> {
    match path(v, keys) {
        Some(Value::Array(a)) => Some(a),
        _ => None,
    }
}

/// The elements of a list response: `{"value": [...]}` (ARM, Graph) or a bare array (O365).
/// A single object (a GET of one resource) is a list of one.
pub fn list(body: &Value) -> Result<Vec<&Value>, String> {
    list_at(body, "value")
}

/// Like [`list`], with the list under `key` (Splunk `entry`, Fleet `items`, …).
pub fn list_at<'a>(body: &'a Value, key: &str) -> Result<Vec<&'a Value>, String> {
    match body {
        Value::Array(a) => Ok(a.iter().collect()),
        Value::Object(_) => match field(body, key) {
            Some(Value::Array(a)) => Ok(a.iter().collect()),
            // `"value": null` says nothing about what exists: it is not an empty list.
            Some(Value::Null) => Err(format!("at `{key}`: null instead of a list")),
            Some(other) => Err(format!(
                "at `{key}`: expected an array, found {}",
                type_name(other)
            )),
            None if key == "-" || field(body, "id").is_some() || field(body, "name").is_some() => {
                Ok(vec![body])
            }
            None => Err(format!(
                "expected a list (`{key}` array) or a resource object"
            )),
        },
        other => Err(format!(
            "expected an object or array, found {}",
            type_name(other)
        )),
    }
}

pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// An ARM resource id, normalised: leading slash, no query string, no trailing slash.
pub fn norm_id(id: &str) -> String {
    let (slash, id) = norm_id_parts(id);
    format!("{slash}{id}")
}

/// [`norm_id`] without a copy: the slash to put before `id` (`""` when it has one) and the
/// part of `id` that follows it.
pub fn norm_id_parts(id: &str) -> (&'static str, &str) {
    let id = id.split('?').next().unwrap_or_default().trim();
    let id = id.trim_end_matches('/');
    (if id.starts_with('/') { "" } else { "/" }, id)
}

/// Ids compare case-insensitively (ARM ids are case-insensitive).
pub fn same_id(a: &str, b: &str) -> bool {
    norm_id(a).eq_ignore_ascii_case(&norm_id(b))
}

/// The segments of an ARM id as lowercase type → name pairs, e.g.
/// `subscriptions → …`, `resourcegroups → …`, `namespaces → …`, `authorizationrules → …`.
pub fn id_parts(id: &str) -> Vec<(String, String)> {
    let id = norm_id(id);
    let segs: Vec<&str> = id.split('/').filter(|s| !s.is_empty()).collect();
    let mut out = Vec::new();
    let mut k = 0;
    while k + 1 < segs.len() {
        if segs[k].eq_ignore_ascii_case("providers") {
            k += 2; // skip the provider namespace
            continue;
        }
        out.push((segs[k].to_ascii_lowercase(), segs[k + 1].to_string()));
        k += 2;
    }
    out
}

/// The name of the segment of type `ty` in an ARM id.
pub fn id_part(id: &str, ty: &str) -> Option<String> {
    id_parts(id)
        .into_iter()
        .find(|(t, _)| t.eq_ignore_ascii_case(ty))
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_are_normalised() {
        let id = "subscriptions/S/resourceGroups/RG/providers/Microsoft.EventHub/namespaces/NS/authorizationRules/R?api-version=2017-04-01/";
        assert_eq!(id_part(id, "namespaces").as_deref(), Some("NS"));
        assert_eq!(id_part(id, "authorizationrules").as_deref(), Some("R"));
        assert_eq!(id_part(id, "resourcegroups").as_deref(), Some("RG"));
        assert!(same_id(id, "/SUBSCRIPTIONS/s/resourcegroups/rg/providers/microsoft.eventhub/namespaces/ns/authorizationrules/r"));
    }

    #[test]
    fn keys_are_case_insensitive_and_absent_is_none() {
        let v = json!({"Properties": {"minimumTlsVersion": "1.2", "flag": "true"}});
        assert_eq!(
            s(&v, &["properties", "MinimumTLSVersion"]).as_deref(),
            Some("1.2")
        );
        assert_eq!(b(&v, &["properties", "flag"]), Some(true));
        assert_eq!(b(&v, &["properties", "absent"]), None);
    }

    #[test]
    fn lists_come_in_two_shapes() {
        assert_eq!(list(&json!([1, 2])).unwrap().len(), 2);
        assert_eq!(list(&json!({"value": [1]})).unwrap().len(), 1);
        assert!(list(&json!({"value": 3})).is_err());
    }
}
