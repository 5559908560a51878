//! Reports escape every evidence value and stay self-contained: hostile display names (script
//! tags, quotes, bidi overrides, emoji, very long names) never reach HTML or Markdown unescaped,
//! and the HTML has no external assets or scripts.

mod common;

use common::*;

const HOSTILE: &str = "<script>alert(1)</script> \"quoted\" 'single' \u{202E}gnp.exe \u{1F680} | *bold* `code` [x](javascript:alert(2))";

fn render(name: &str) -> (tempfile::TempDir, String, String) {
    let t = tempfile::tempdir().unwrap();
    let b = small_bundle(t.path(), name);
    let out = t.path().join("out");
    let o = audit_into(&b, AS_OF, &out, "json,html,md", &[]);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    (t, html, md)
}

#[test]
fn hostile_strings_are_escaped_in_html() {
    let (_t, html, _) = render(HOSTILE);
    assert!(!html.contains("<script"), "a script tag reached the HTML");
    assert!(
        !html.contains("\"quoted\""),
        "raw double quotes in HTML text"
    );
    assert!(html.contains("&lt;script&gt;alert(1)&lt;&#x2F;script&gt;"));
    // Bidi overrides are isolated so they cannot reorder the surrounding report.
    assert!(html.contains("<bdi>") && html.contains("\u{202E}"));
    assert!(html.contains('\u{1F680}'));
}

#[test]
fn hostile_strings_are_escaped_in_markdown() {
    let (_t, _, md) = render(HOSTILE);
    assert!(!md.contains("<script"), "a script tag reached the Markdown");
    assert!(md.contains("&lt;script&gt;"));
    assert!(
        !md.contains("[x](javascript"),
        "a link reached the Markdown"
    );
    // A pipe in a value cannot break a table row.
    for line in md.lines().filter(|l| l.contains("alert(1)")) {
        assert!(!line.contains(" | *bold*"), "unescaped pipe: {line}");
    }
}

#[test]
fn very_long_names_are_kept_whole() {
    let long = "Contoso ".repeat(80);
    let (_t, html, _) = render(&long);
    assert!(html.contains(long.trim_end()));
}

#[test]
fn html_is_self_contained() {
    let (_t, html, _) = render("Contoso");
    let lower = html.to_ascii_lowercase();
    for banned in [
        "<script", "<link", "@import", "url(", " src=", "<iframe", "<object",
    ] {
        assert!(!lower.contains(banned), "report.html contains {banned}");
    }
    assert!(lower.contains("content-security-policy"));
    assert!(
        lower.contains("@page") && lower.contains("size: a4"),
        "prints on A4"
    );
}
