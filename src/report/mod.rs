//! Reports rendered from `results.json`: the terminal table, self-contained HTML, Markdown,
//! the JSON itself, and the exchange formats (JUnit, SARIF, OSCAL, JSON lines, CSV). Templates are tera files under `reports/`, embedded in the binary and
//! overridable with `--templates DIR`; they format the precomputed [`view::View`] and hold no
//! logic of their own.

pub mod compliance;
pub mod csv;
pub mod events;
pub mod hdf;
pub mod jsonl;
pub mod junit;
pub mod oscal;
pub mod sarif;
pub mod table;
pub mod view;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use include_dir::{include_dir, Dir};
use tera::Tera;

use crate::results::Results;

static TEMPLATES: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/reports");

/// Output formats `--format` accepts.
pub const FORMATS: &[&str] = &[
    "table",
    "json",
    "html",
    "md",
    "junit",
    "sarif",
    "oscal",
    "jsonl",
    "csv",
    "hdf",
    "compliance",
    "leef",
    "cef",
];

/// The files each file format writes (relative to the output directory).
pub fn files_of(format: &str) -> &'static [&'static str] {
    match format {
        "json" => &["results.json"],
        "html" => &["report.html"],
        "md" => &["report.md"],
        "junit" => &["report.junit.xml"],
        "sarif" => &["report.sarif"],
        "oscal" => &[oscal::PLAN, oscal::RESULTS, oscal::POAM],
        "jsonl" => &["findings.jsonl"],
        "csv" => &["findings.csv"],
        "hdf" => &["report.hdf.json"],
        "compliance" => &["compliance.md"],
        "leef" => &["findings.leef"],
        "cef" => &["findings.cef"],
        _ => &[],
    }
}

/// Parses a comma-separated `--format` list.
pub fn parse_formats(s: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for f in s.split(',').map(str::trim).filter(|f| !f.is_empty()) {
        if !FORMATS.contains(&f) {
            bail!(
                "--format: unknown format {f:?}; known: {}",
                FORMATS.join(", ")
            );
        }
        if !out.iter().any(|x| x == f) {
            out.push(f.to_string());
        }
    }
    Ok(out)
}

/// Escapes text for Markdown tables and paragraphs (GitHub-flavoured): pipes, HTML, emphasis,
/// code spans and line breaks cannot break out of a cell or inject markup.
fn md_escape(value: &tera::Value, _: &HashMap<String, tera::Value>) -> tera::Result<tera::Value> {
    let s = match value {
        tera::Value::String(s) => s.clone(),
        tera::Value::Null => String::new(),
        other => other.to_string(),
    };
    Ok(tera::Value::String(md_text(&s)))
}

/// [`md_escape`] for Rust-built Markdown (`compliance.md`).
pub fn md_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '|' => out.push_str("\\|"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '*' | '_' | '`' | '[' | ']' | '\\' | '#' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

/// Splits a fix text into prose and backtick-delimited command spans.
fn spans(s: &str) -> Vec<(bool, &str)> {
    let mut out = Vec::new();
    let mut code = false;
    for part in s.split('`') {
        if !part.is_empty() {
            out.push((code, part));
        }
        code = !code;
    }
    out
}

/// `fix_html`: a fix text as HTML, escaped, its commands as `<code>` (used with `| safe`).
fn fix_html(value: &tera::Value, _: &HashMap<String, tera::Value>) -> tera::Result<tera::Value> {
    let s = value.as_str().unwrap_or_default();
    let mut out = String::with_capacity(s.len() + 32);
    for (code, part) in spans(s) {
        if code {
            out.push_str("<code class=\"cmd\">");
            out.push_str(&junit::xml_escape(part));
            out.push_str("</code>");
        } else {
            out.push_str(&junit::xml_escape(part));
        }
    }
    Ok(tera::Value::String(out))
}

/// `css_string`: text for a CSS string literal (`content: "…"` in the print margins), used
/// with `| safe`. Everything but letters, digits, space and `-_.:` becomes a CSS escape
/// (`\22 ` for `"`), so no value can end the string, the rule or the `<style>` element.
fn css_string(value: &tera::Value, _: &HashMap<String, tera::Value>) -> tera::Result<tera::Value> {
    let s = match value {
        tera::Value::String(s) => s.clone(),
        tera::Value::Null => String::new(),
        other => other.to_string(),
    };
    let mut out = String::with_capacity(s.len());
    for c in s.chars().take(200) {
        if c.is_ascii_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.' | ':') {
            out.push(c);
        } else if c.is_control() {
            out.push(' ');
        } else if matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        {
            // Bidirectional controls are dropped: a margin box has no isolation to offer.
        } else {
            out.push_str(&format!("\\{:x} ", c as u32));
        }
    }
    Ok(tera::Value::String(out))
}

/// `fix_md`: a fix text as Markdown, prose escaped, commands as code spans taken verbatim.
fn fix_md(value: &tera::Value, args: &HashMap<String, tera::Value>) -> tera::Result<tera::Value> {
    let s = value.as_str().unwrap_or_default();
    let mut out = String::with_capacity(s.len() + 8);
    for (code, part) in spans(s) {
        if code {
            out.push('`');
            out.push_str(&part.replace(['\n', '\r'], " "));
            out.push('`');
        } else {
            let e = md_escape(&tera::Value::String(part.to_string()), args)?;
            out.push_str(e.as_str().unwrap_or_default());
        }
    }
    Ok(tera::Value::String(out))
}

/// Loads the embedded templates, then any overrides from `dir` (same file names).
pub fn templates(dir: Option<&Path>) -> Result<Tera> {
    let mut tera = Tera::default();
    let mut files: Vec<(String, String)> = TEMPLATES
        .files()
        .filter_map(|f| {
            Some((
                f.path().to_str()?.to_string(),
                f.contents_utf8()?.to_string(),
            ))
        })
        .collect();
    if let Some(dir) = dir {
        for e in std::fs::read_dir(dir)
            .with_context(|| format!("{}: cannot read templates", dir.display()))?
        {
            let p = e?.path();
            if p.is_file() {
                let name = p
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or_default()
                    .to_string();
                let text = crate::files::read_text_bounded(&p)?;
                files.retain(|(n, _)| *n != name);
                files.push((name, text));
            }
        }
    }
    for (name, text) in &files {
        tera.add_raw_template(name, text)
            .map_err(|e| anyhow::anyhow!("template {name}: {}", error_chain(&e)))?;
    }
    tera.register_filter("md", md_escape);
    tera.register_filter("fix_html", fix_html);
    tera.register_filter("fix_md", fix_md);
    tera.register_filter("css_string", css_string);
    Ok(tera)
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// Renders one template with the report view.
pub fn render(
    tera: &Tera,
    name: &str,
    results: &Results,
    catalog_steps: &[crate::catalog::GuideStep],
) -> Result<String> {
    let view = view::View::build(results, catalog_steps);
    let ctx = tera::Context::from_serialize(&view)?;
    tera.render(name, &ctx)
        .map_err(|e| anyhow::anyhow!("template {name}: {}", error_chain(&e)))
}

/// Writes the file formats into `out`, a staging directory that the caller swaps into place
/// whole (see [`crate::files::Staging`]). Everything is rendered before anything is written,
/// and every file is fsynced.
pub fn write_all(
    results: &Results,
    out: &Path,
    formats: &[String],
    template_dir: Option<&Path>,
    steps: &[crate::catalog::GuideStep],
    extra: &[(String, Vec<u8>)],
) -> Result<Vec<PathBuf>> {
    let tera = templates(template_dir)?;
    // Render every template before touching the disk: a broken template must not half-write.
    // results.json and OSCAL, the large ones, are serialised straight into `out` when their
    // turn comes (a staging directory, swapped in whole by the caller).
    enum Output {
        Rendered(String, Vec<u8>),
        Results,
        Oscal,
    }
    use Output::Rendered;
    let mut files: Vec<Output> = Vec::new();
    for f in formats {
        match f.as_str() {
            "json" => files.push(Output::Results),
            "oscal" => files.push(Output::Oscal),
            "html" => files.push(Rendered(
                "report.html".into(),
                render(&tera, "report.html", results, steps)?.into_bytes(),
            )),
            "md" => files.push(Rendered(
                "report.md".into(),
                render(&tera, "report.md", results, steps)?.into_bytes(),
            )),
            "junit" => files.push(Rendered(
                "report.junit.xml".into(),
                junit::render(results).into_bytes(),
            )),
            "sarif" => files.push(Rendered(
                "report.sarif".into(),
                sarif::render(results)?.into_bytes(),
            )),
            "jsonl" => files.push(Rendered(
                "findings.jsonl".into(),
                jsonl::render(results)?.into_bytes(),
            )),
            "csv" => files.push(Rendered(
                "findings.csv".into(),
                csv::render(results).into_bytes(),
            )),
            "hdf" => files.push(Rendered(
                "report.hdf.json".into(),
                hdf::render(results)?.into_bytes(),
            )),
            "leef" => files.push(Rendered(
                "findings.leef".into(),
                events::render_leef(results).into_bytes(),
            )),
            "cef" => files.push(Rendered(
                "findings.cef".into(),
                events::render_cef(results).into_bytes(),
            )),
            // Every framework, unless `--compliance` chose some (then it comes in `extra`).
            "compliance" if !extra.iter().any(|(n, _)| n == "compliance.md") => {
                files.push(Rendered(
                    "compliance.md".into(),
                    compliance::markdown(results, compliance::Framework::ALL).into_bytes(),
                ))
            }
            _ => {}
        }
    }
    std::fs::create_dir_all(out).with_context(|| format!("{}: cannot create", out.display()))?;
    let write_bytes = |name: &str, bytes: &[u8]| -> Result<PathBuf> {
        if !crate::evidence::is_safe_relative_path(name) {
            bail!("refusing unsafe output path {name:?}");
        }
        let target = out.join(name);
        crate::files::write_synced(&target, bytes)?;
        Ok(target)
    };
    let mut written = Vec::new();
    for file in &files {
        match file {
            Rendered(name, bytes) => written.push(write_bytes(name, bytes)?),
            Output::Results => {
                let target = out.join("results.json");
                crate::files::write_streamed(&target, |w| {
                    crate::results::write_pretty(w, results)
                })?;
                written.push(target);
            }
            Output::Oscal => written.extend(oscal::write(results, out)?),
        }
    }
    // Then what the caller brought (the evidence copy, a chosen compliance page), uncopied.
    for (name, bytes) in extra {
        written.push(write_bytes(name, bytes)?);
    }
    // When re-rendering into a copy of an earlier report (`siemproof report`), a format that
    // writes fewer files than last time (no POA&M when nothing is open) must not leave the
    // previous run's file behind, where it would pass for this run's.
    for f in formats {
        for name in files_of(f) {
            if !written.iter().any(|p| p.ends_with(name)) {
                let stale = out.join(name);
                if stale.is_file() {
                    std::fs::remove_file(&stale)
                        .with_context(|| format!("{}: cannot remove", stale.display()))?;
                }
            }
        }
    }
    Ok(written)
}
