//! `--format leef,cef`: events the SOC's SIEM parses natively, with tenant strings that try to
//! break out of their field, their event or their line.
//!
//! CEF is read back by pycef (PyPI, an independent parser). No LEEF parser installs from the
//! registries this project can use, so LEEF is read back by a parser written here in Python from
//! IBM's LEEF 2.0 grammar (header of pipe-separated fields with `\|` escapes, the delimiter
//! field, attributes split on it, keys split at the first `=`), independent of the Rust writer.

mod support;

use std::process::Command;

use support::*;

/// Everything a value could use to end its field, its event or its line, or to start another.
const HOSTILE: &str =
    "a|b=c\\d\ne\rf\tg CEF:0|evil|x|1|2|3|10| act=blocked LEEF:2.0|evil|x|1|2|x09| sev=10";

const PARSE: &str = r#"
import json, sys, pycef

def unescape_cef(v):
    out, i = [], 0
    while i < len(v):
        if v[i] == '\\' and i + 1 < len(v):
            n = v[i + 1]
            out.append({'n': '\n', 'r': '\r'}.get(n, n))
            i += 2
        else:
            out.append(v[i])
            i += 1
    return ''.join(out)

def parse_leef(line):
    # LEEF:2.0|Vendor|Product|Version|EventID|Delimiter|attributes (IBM LEEF 2.0 event components)
    fields, cur, i = [], [], 0
    while len(fields) < 6:
        c = line[i]
        if c == '\\' and line[i + 1] in '|\\':
            cur.append(line[i + 1]); i += 2; continue
        if c == '|':
            fields.append(''.join(cur)); cur = []; i += 1; continue
        cur.append(c); i += 1
    assert fields[0] == 'LEEF:2.0', fields
    d = fields[5]
    delim = chr(int(d[1:] if d.startswith('x') else d[2:], 16)) if d.startswith(('x', '0x')) else d
    attrs = {}
    for pair in line[i:].split(delim):
        k, _, v = pair.partition('=')
        assert k not in attrs, ('duplicate key', k)
        attrs[k] = v
    return fields, attrs

kind, path = sys.argv[1], sys.argv[2]
out = []
for line in open(path, encoding='utf-8').read().split('\n'):
    if not line:
        continue
    if kind == 'cef':
        d = pycef.parse(line)
        assert d is not None, line
        out.append({k: unescape_cef(v) for k, v in d.items()})
    else:
        f, a = parse_leef(line)
        out.append({'EventID': f[4], **a})
print(json.dumps(out))
"#;

fn parsed(kind: &str, path: &std::path::Path) -> Vec<serde_json::Value> {
    let o = run(Command::new("python3").args(["-c", PARSE, kind]).arg(path));
    assert!(o.status.success(), "{kind}: {}", text(&o));
    serde_json::from_slice::<Vec<serde_json::Value>>(&o.stdout).unwrap()
}

#[test]
fn leef_and_cef_events_parse_and_hostile_values_stay_in_their_field() {
    if !require(
        "python3 pycef",
        Command::new("python3").args(["-c", "import pycef"]),
    ) {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let (_bundle, out) = audit(t.path(), "Disabled", None);
    // Plant the hostile string where the tenant's text goes: messages and resource names.
    let path = out.join("results.json");
    let mut r: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let mut planted = 0;
    for c in r["checks"].as_array_mut().unwrap() {
        for f in c["findings"].as_array_mut().unwrap() {
            f["message"] = HOSTILE.into();
            f["resource"] = format!("/subscriptions/x/{HOSTILE}").into();
            planted += 1;
        }
    }
    assert!(planted > 5);
    let hostile_results = t.path().join("hostile.json");
    std::fs::write(&hostile_results, serde_json::to_vec(&r).unwrap()).unwrap();
    let events = t.path().join("events");
    let o = run(bin()
        .arg("report")
        .arg(&hostile_results)
        .args(["--format", "leef,cef,jsonl", "--out"])
        .arg(&events));
    assert!(o.status.success(), "{}", text(&o));
    let jsonl_lines = std::fs::read_to_string(events.join("findings.jsonl"))
        .unwrap()
        .lines()
        .filter(|l| l.contains("\"siemproof.finding\""))
        .count();
    let coverage_rows = r["coverage"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["required"] == true)
        .count();
    let flat = HOSTILE.replace(['\t'], " ");
    for kind in ["cef", "leef"] {
        let file = events.join(format!("findings.{kind}"));
        let raw = std::fs::read_to_string(&file).unwrap();
        // One event per finding row and coverage row, one line each: nothing injected one.
        assert_eq!(
            raw.lines().count(),
            jsonl_lines + coverage_rows,
            "{kind}: events {}",
            raw.lines().count()
        );
        for l in raw.lines() {
            assert!(
                l.starts_with(if kind == "cef" {
                    "CEF:0|siemproof|"
                } else {
                    "LEEF:2.0|siemproof|"
                }),
                "{kind}: {l:.80}"
            );
        }
        let evs = parsed(kind, &file);
        let with_msg: Vec<&serde_json::Value> = evs
            .iter()
            .filter(|e| e["msg"].as_str().is_some_and(|m| m.contains("CEF:0|evil")))
            .collect();
        assert_eq!(with_msg.len(), planted, "{kind}");
        for e in with_msg {
            let msg = e["msg"].as_str().unwrap();
            match kind {
                // CEF keeps every character but the tab (no control characters in CEF).
                "cef" => assert_eq!(msg, flat, "cef"),
                // LEEF cannot escape: line breaks and the delimiter become spaces.
                _ => assert_eq!(msg, HOSTILE.replace(['\t', '\n', '\r'], " "), "leef"),
            }
            let status = e["status"].as_str().unwrap();
            assert!(
                [
                    "pass",
                    "fail",
                    "warn",
                    "not_assessed",
                    "manual",
                    "waived",
                    "not_applicable"
                ]
                .contains(&status),
                "{kind}: status {status:?}: a planted `act=`/`sev=` took over a field"
            );
            assert!(e["checkId"].as_str().is_some_and(|c| !c.contains("evil")));
        }
        if kind == "leef" {
            assert!(evs.iter().all(|e| e["sev"]
                .as_str()
                .and_then(|s| s.parse::<u8>().ok())
                .is_some_and(|s| (1..=10).contains(&s))));
        }
    }
}
