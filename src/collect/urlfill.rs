//! Filling the kinds table's URL templates with configured and observed values.
//!
//! A value never changes the shape of a URL: in the path it is percent-encoded as one segment
//! (or, for resource ids and blob names, segment by segment); a value that is or holds a `.` /
//! `..` segment is refused, since URL parsers resolve those even percent-encoded (`%2E%2E`);
//! in the query it is encoded so it cannot end its parameter or start a fragment. The template's own characters (Elastic's `logs-azure.*,…`, OData's
//! spaces and quotes) are left to the URL parser, as the services expect them.

use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS, NON_ALPHANUMERIC};

/// Everything but RFC 3986's unreserved characters, for a value in a path segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// What a query value may not carry literally: what ends a parameter (`&`, `;`), what some
/// services decode as a space (`+`), a fragment, an escape, and what the parser would encode.
const QUERY_VALUE: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'&')
    .add(b'+')
    .add(b';')
    .add(b'<')
    .add(b'>')
    .add(b'=')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'\\')
    .add(b'^')
    .add(b'|');

/// Placeholders whose values are paths of several segments: ARM resource ids and blob names.
const MULTI_SEGMENT: &[&str] = &["ns_id", "hub_id", "acct_id", "blob"];

/// One path segment; a dot segment is refused.
fn segment(name: &str, s: &str) -> Result<String, String> {
    if s == "." || s == ".." {
        return Err(format!(
            "{name} holds a {s:?} path segment; refusing to build a URL from it"
        ));
    }
    Ok(utf8_percent_encode(s, SEGMENT).to_string())
}

/// A value placed in the path.
fn path_value(name: &str, value: &str) -> Result<String, String> {
    if MULTI_SEGMENT.contains(&name) {
        let lead = if value.starts_with('/') { "/" } else { "" };
        let segs = value
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| segment(name, s))
            .collect::<Result<Vec<String>, String>>()?;
        Ok(format!("{lead}{}", segs.join("/")))
    } else {
        segment(name, value)
    }
}

/// Fills `template` (`/path/{a}/x?k={b}`) with `vars`. Unknown placeholders are a
/// programming error (debug assertion); an unmatched `{` is kept as written. The error names
/// the placeholder whose value cannot be placed.
pub fn fill(template: &str, vars: &[(&str, &str)]) -> Result<String, String> {
    let (path, query) = match template.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (template, None),
    };
    let mut out = substitute(path, vars, path_value)?;
    if let Some(q) = query {
        out.push('?');
        out.push_str(&substitute(q, vars, |_, v| {
            Ok(utf8_percent_encode(v, QUERY_VALUE).to_string())
        })?);
    }
    debug_assert!(!out.contains('{'), "unfilled placeholder in {out}");
    Ok(out)
}

fn substitute(
    text: &str,
    vars: &[(&str, &str)],
    encode: impl Fn(&str, &str) -> Result<String, String>,
) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            out.push_str(&rest[open..]);
            return Ok(out);
        };
        let name = &after[..close];
        match vars.iter().find(|(k, _)| *k == name) {
            Some((_, v)) => out.push_str(&encode(name, v)?),
            None => out.push_str(&rest[open..open + close + 2]),
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_stays_one_segment() {
        let u = fill(
            "/subscriptions/{sub}/resourceGroups/{rg}/x",
            &[("sub", "s"), ("rg", "a b/c?d#e")],
        )
        .unwrap();
        assert_eq!(u, "/subscriptions/s/resourceGroups/a%20b%2Fc%3Fd%23e/x");
    }

    #[test]
    fn resource_ids_keep_their_slashes_but_dot_segments_are_refused() {
        let u = fill(
            "{ns_id}/eventhubs",
            &[("ns_id", "/subscriptions/s/resourceGroups/r/providers/x y")],
        )
        .unwrap();
        assert_eq!(
            u,
            "/subscriptions/s/resourceGroups/r/providers/x%20y/eventhubs"
        );
        // `..` would climb out of the resource group, even percent-encoded.
        let e = fill(
            "{ns_id}/eventhubs",
            &[("ns_id", "/subscriptions/s/resourceGroups/../../providers/x")],
        )
        .unwrap_err();
        assert!(e.contains("ns_id"), "{e}");
        assert!(fill("/r/{rg}", &[("rg", "..")]).is_err());
        assert_eq!(
            fill("/{c}/{blob}", &[("c", "cp"), ("blob", "$Default/0")]).unwrap(),
            "/cp/%24Default/0"
        );
    }

    #[test]
    fn a_query_value_cannot_add_a_parameter() {
        let u = fill(
            "/servicePrincipals?$filter=appId eq '{app_id}'&$select=id",
            &[("app_id", "x&$select=passwordCredentials#")],
        )
        .unwrap();
        let parsed = url::Url::parse(&format!("https://graph.microsoft.com{u}")).unwrap();
        let pairs: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
        assert_eq!(pairs.len(), 2, "{u}");
        assert_eq!(pairs[0].1, "appId eq 'x&$select=passwordCredentials#'");
        assert_eq!(parsed.fragment(), None);
    }

    #[test]
    fn ordinary_values_read_as_before() {
        let u = fill(
            "{ns_id}/metrics?timespan={start}/{end}&$filter=EntityName eq '*'",
            &[
                (
                    "ns_id",
                    "/subscriptions/s/resourceGroups/r/providers/Microsoft.EventHub/namespaces/n",
                ),
                ("start", "2026-12-01T00:00:00Z"),
                ("end", "2026-12-02T00:00:00Z"),
            ],
        )
        .unwrap();
        assert_eq!(u, "/subscriptions/s/resourceGroups/r/providers/Microsoft.EventHub/namespaces/n/metrics?timespan=2026-12-01T00:00:00Z/2026-12-02T00:00:00Z&$filter=EntityName eq '*'");
    }
}
