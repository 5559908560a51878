//! Fix texts that are true for this tenant.
//!
//! A check's `doc.fix` names resources by `{{ key }}` placeholders (`{{ namespace }}`,
//! `{{ resource_group }}`, …). An audit renders them with the configured and observed names, so
//! the command a user copies acts on their own namespace, not the guide's `psiem-namespace`;
//! `explain`, `checks` and the generated docs render the guide's example names. A name the
//! evidence does not know stays a clearly marked placeholder (`<rg>`). Inside a command (a
//! backtick span) every value is shell-quoted when it needs to be (`'$Default'`), so the
//! command still parses as one word per value.

use std::collections::BTreeMap;

/// The placeholders a fix may use, each with the guide's example (`None`: the guide leaves it
/// as a placeholder, shown as `<…>`).
pub const KEYS: &[(&str, Option<&str>, &str)] = &[
    ("namespace", Some("psiem-namespace"), "<namespace>"),
    ("hub", Some("security-logs-hub"), "<hub>"),
    ("consumer_group", Some("qradar-cg"), "<consumer-group>"),
    // The group to create for the SIEM alone: the configured one, unless that is `$Default`.
    (
        "dedicated_consumer_group",
        Some("qradar-cg"),
        "<consumer-group>",
    ),
    ("send_policy", Some("SendPolicy"), "<send-policy>"),
    ("listen_policy", Some("ListenPolicy"), "<listen-policy>"),
    ("resource_group", None, "<rg>"),
    ("subscription", None, "<subscription-id>"),
    ("location", None, "<location>"),
    (
        "storage_account",
        Some("qradarcheckpoints"),
        "<storage-account>",
    ),
    (
        "storage_container",
        Some("qradar-checkpoints"),
        "<container>",
    ),
    ("storage_resource_group", None, "<rg>"),
    ("tenant_id", None, "<tenant>"),
    ("tenant_name", None, "<tenant>"),
    ("client_id", None, "<client-id>"),
    ("send_rule_id", None, "<SASRuleID>"),
];

/// The values to render a fix with.
#[derive(Debug, Clone)]
pub struct Names(BTreeMap<&'static str, Option<String>>);

impl Names {
    /// The integration guide's example names; what it leaves open stays a placeholder.
    pub fn guide() -> Names {
        Names(
            KEYS.iter()
                .map(|(k, example, _)| (*k, example.map(str::to_string)))
                .collect(),
        )
    }

    /// This tenant's names: the config first, then what the evidence observed.
    pub fn of(model: &crate::normalize::model::Model) -> Names {
        let cfg = &model.config;
        let eh = &cfg.eventhub;
        let some = |s: &str| (!s.trim().is_empty()).then(|| s.to_string());
        let mut m: BTreeMap<&'static str, Option<String>> = BTreeMap::new();
        m.insert("namespace", some(&eh.namespace));
        m.insert("hub", some(&eh.hub));
        m.insert("consumer_group", some(&eh.consumer_group));
        m.insert(
            "dedicated_consumer_group",
            Some(if eh.consumer_group.eq_ignore_ascii_case("$Default") {
                "qradar-cg".to_string()
            } else {
                eh.consumer_group.clone()
            })
            .filter(|s| !s.is_empty()),
        );
        m.insert("send_policy", some(&eh.send_policy));
        m.insert("listen_policy", some(&eh.listen_policy));
        m.insert("resource_group", some(&eh.resource_group));
        m.insert("subscription", some(&eh.subscription_id));
        m.insert(
            "location",
            eh.location.clone().or_else(|| {
                model
                    .eventhub
                    .namespace
                    .as_ref()
                    .and_then(|n| n.location.clone())
            }),
        );
        m.insert("storage_account", cfg.storage.account.clone());
        m.insert("storage_container", cfg.storage.container.clone());
        m.insert(
            "storage_resource_group",
            cfg.storage
                .resource_group
                .clone()
                .or_else(|| some(&eh.resource_group)),
        );
        m.insert("tenant_id", some(&cfg.tenant.id));
        m.insert(
            "tenant_name",
            cfg.tenant.name.clone().or_else(|| some(&cfg.tenant.id)),
        );
        // One SIEM app: its id. Several: which one the fix means is the finding's to say.
        m.insert(
            "client_id",
            match cfg.app.client_ids.as_slice() {
                [one] => some(one),
                _ => None,
            },
        );
        m.insert(
            "send_rule_id",
            model.eventhub.send_rule.as_ref().map(|r| r.id.clone()),
        );
        Names(m)
    }
}

/// Quotes a value for a POSIX shell when it holds anything but plain name characters.
pub fn shell_quote(v: &str) -> String {
    let plain = !v.is_empty()
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c));
    if plain {
        v.to_string()
    } else {
        format!("'{}'", v.replace('\'', "'\\''"))
    }
}

/// The placeholder keys a template uses, or the first unknown one as an error.
pub fn keys_of(template: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(i) = rest.find("{{") {
        let after = &rest[i + 2..];
        let Some(j) = after.find("}}") else {
            return Err("a `{{` without its `}}`".into());
        };
        let key = after[..j].trim();
        if !KEYS.iter().any(|(k, ..)| *k == key) {
            return Err(format!(
                "unknown placeholder {{{{ {key} }}}}; known: {}",
                KEYS.iter().map(|(k, ..)| *k).collect::<Vec<_>>().join(", ")
            ));
        }
        out.push(key.to_string());
        rest = &after[j + 2..];
    }
    Ok(out)
}

/// Renders a fix template. Inside backtick spans (commands) known values are shell-quoted;
/// unknown ones become their marked placeholder (`<rg>`), which inside a command is quoted too
/// (`'<rg>'`), so that a shell reads it as a word, not as a redirection.
pub fn render(template: &str, names: &Names) -> String {
    quote_placeholders(&substitute(template, names))
}

/// `<word>` placeholders inside backtick spans, single-quoted unless they already are.
fn quote_placeholders(s: &str) -> String {
    use std::sync::OnceLock;
    static PLACEHOLDER: OnceLock<regex::Regex> = OnceLock::new();
    let re = PLACEHOLDER.get_or_init(|| {
        regex::Regex::new(r"(^|[^'A-Za-z0-9])<([A-Za-z][A-Za-z0-9_.-]*)>").expect("valid regex")
    });
    s.split('`')
        .enumerate()
        .map(|(i, part)| {
            if i % 2 == 1 {
                re.replace_all(part, "$1'<$2>'").into_owned()
            } else {
                part.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("`")
}

fn substitute(template: &str, names: &Names) -> String {
    let mut out = String::with_capacity(template.len());
    let mut in_code = false;
    let mut rest = template;
    loop {
        let next_tick = rest.find('`');
        let next_open = rest.find("{{");
        match (next_tick, next_open) {
            (Some(t), o) if o.is_none_or(|o| t < o) => {
                out.push_str(&rest[..=t]);
                in_code = !in_code;
                rest = &rest[t + 1..];
            }
            (_, Some(o)) => {
                out.push_str(&rest[..o]);
                let after = &rest[o + 2..];
                let Some(j) = after.find("}}") else {
                    out.push_str(&rest[o..]);
                    break;
                };
                let key = after[..j].trim();
                let placeholder = KEYS
                    .iter()
                    .find(|(k, ..)| *k == key)
                    .map(|(.., p)| *p)
                    .unwrap_or("<?>");
                // A backtick would end the command span: no real Azure name has one.
                let value = names
                    .0
                    .get(key)
                    .cloned()
                    .flatten()
                    .filter(|v| !v.contains('`'));
                match value {
                    Some(v) if in_code => out.push_str(&shell_quote(&v)),
                    Some(v) => out.push_str(&v),
                    None => out.push_str(placeholder),
                }
                rest = &after[j + 2..];
            }
            _ => {
                out.push_str(rest);
                break;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_quoted_in_commands_only() {
        let mut n = Names::guide();
        n.0.insert("consumer_group", Some("$Default".into()));
        n.0.insert("resource_group", None);
        let t = "Portal › {{ consumer_group }}. `az x --name {{ consumer_group }} -g {{ resource_group }} --ns {{namespace}}`";
        assert_eq!(
            render(t, &n),
            "Portal › $Default. `az x --name '$Default' -g '<rg>' --ns psiem-namespace`"
        );
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn unknown_placeholders_are_named() {
        assert_eq!(keys_of("a {{ hub }} b").unwrap(), ["hub"]);
        assert!(keys_of("{{ nope }}").unwrap_err().contains("nope"));
        assert!(keys_of("{{ hub").is_err());
    }
}
