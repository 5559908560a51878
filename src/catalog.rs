//! The check catalogue: TOML check files (`checks/<family>/<ID>.toml`) with metadata and CEL
//! logic, embedded in the binary and extendable with `--checks DIR`.
//!
//! Loading validates everything a reviewer would: the id is the file stem, the family is the
//! folder, ids and aliases are unique, evidence kinds exist, docs and framework mappings are
//! present, and every expression compiles. Errors name the file (and for expressions the key and
//! position).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use include_dir::{include_dir, Dir};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::engine::{self, Compiled};
use crate::evidence::kinds;

static EMBEDDED: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/checks");

/// The catalogue version: bumped whenever a check's logic or meaning changes.
pub const CATALOGUE_VERSION: &str = "2026.11.0";

pub const FAMILIES: &[&str] = &[
    "tenant", "entra", "eventhub", "storage", "consumer", "defender", "app", "o365", "graph",
    "network", "coverage", "siem",
];

#[derive(Debug, Error)]
pub enum CatalogError {
    #[error("{file}: {message}")]
    Invalid { file: String, message: String },
    #[error("{dir}: {source}")]
    Io {
        dir: String,
        #[source]
        source: std::io::Error,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// The severity a name spells (`--fail-on`'s values); `None` for `never` or anything else.
    pub fn parse(s: &str) -> Option<Severity> {
        [
            Severity::Info,
            Severity::Low,
            Severity::Medium,
            Severity::High,
            Severity::Critical,
        ]
        .into_iter()
        .find(|v| v.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GoLive {
    /// Must pass before the integration goes live.
    Blocking,
    /// Worth fixing; does not block go-live.
    Advisory,
}

impl GoLive {
    /// `blocking` or `advisory`, as in check files and results.
    pub fn as_str(self) -> &'static str {
        match self {
            GoLive::Blocking => "blocking",
            GoLive::Advisory => "advisory",
        }
    }

    /// How people read it in docs and `explain`.
    pub fn phrase(self) -> &'static str {
        match self {
            GoLive::Blocking => "blocks go-live",
            GoLive::Advisory => "advisory",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lifecycle {
    Preview,
    Stable,
    Deprecated,
}

/// What a false assertion yields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum OnFail {
    #[default]
    Fail,
    Warn,
}

/// What an empty `each` yields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum OnEmpty {
    #[default]
    Fail,
    Pass,
    NotApplicable,
    NotAssessed,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Doc {
    /// Why the requirement matters for getting logs into the SIEM.
    pub why: String,
    /// How to fix it: portal path and the `az` command where the guide has one.
    pub fix: String,
    /// What to do when the check cannot be assessed (e.g. the permission the collector lacks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_assessed: Option<String>,
}

/// Control ids per framework (with the framework version in the key).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct Frameworks {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nist_800_53_r5: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub iso_27001_2022: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pci_dss_4_0: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hipaa: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cis_v8: Vec<String>,
    /// CIS benchmark items with their benchmark and version, e.g. "Azure v4.0.0 7.1.1.1".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cis_benchmark: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub soc2: Vec<String>,
}

impl Frameworks {
    pub fn is_empty(&self) -> bool {
        self.pairs().is_empty()
    }

    /// (framework label, control id) pairs, for reports.
    pub fn pairs(&self) -> Vec<(&'static str, &str)> {
        let mut out = Vec::new();
        for (label, ids) in [
            ("NIST SP 800-53 r5", &self.nist_800_53_r5),
            ("ISO/IEC 27001:2022", &self.iso_27001_2022),
            ("PCI DSS 4.0", &self.pci_dss_4_0),
            ("HIPAA", &self.hipaa),
            ("CIS Controls v8", &self.cis_v8),
            ("CIS Benchmark", &self.cis_benchmark),
            ("SOC 2", &self.soc2),
        ] {
            for id in ids {
                out.push((label, id.as_str()));
            }
        }
        out
    }
}

/// One check file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Check {
    pub id: String,
    pub title: String,
    pub family: String,
    pub severity: Severity,
    pub go_live: GoLive,
    pub since: String,
    #[serde(default = "stable")]
    pub lifecycle: Lifecycle,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// Evidence kinds the check reads; any not `ok`/`not_found` makes it `not_assessed`.
    pub evidence: Vec<String>,
    /// Applicability (licence, feature, configured method); `false` → `not_applicable`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applies: Option<String>,
    /// Why the check is not applicable when `applies` is false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_applicable: Option<String>,
    /// Per-resource checks: the list of resources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub each: Option<String>,
    /// Display name of one resource (`item` in scope); without `each`, the name of the one
    /// resource the check is about (the hub, the storage account), instead of `tenant`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Resource id for waivers and SARIF locations (defaults to `name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// The requirement; `true` passes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assert: Option<String>,
    /// Evaluated when `assert` is true: `true` turns the pass into a warning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warn: Option<String>,
    /// The observed value shown in reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed: Option<String>,
    /// A sentence for failing or warning findings (CEL string expression).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Why the verdict is unknown when `assert` gives null (CEL string expression): the specific
    /// fact that is missing, instead of the generic "a fact it needs is unknown".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unknown: Option<String>,
    #[serde(default)]
    pub on_fail: OnFail,
    #[serde(default)]
    pub on_empty: OnEmpty,
    /// Why an empty `each` is not applicable (with `on_empty = "not_applicable"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub empty: Option<String>,
    /// Needs an attestation (no API can read it); `assert`, if given, corroborates it.
    #[serde(default)]
    pub manual: bool,
    /// Step of the guide's go-live checklist this check verifies (ids in checks/guide-steps.toml).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub guide_steps: Vec<String>,
    pub frameworks: Frameworks,
    pub doc: Doc,
    pub references: Vec<String>,
}

fn stable() -> Lifecycle {
    Lifecycle::Stable
}

/// A check with its source and compiled logic.
impl Check {
    /// Every CEL expression the check carries.
    pub fn expressions(&self) -> impl Iterator<Item = &str> {
        [
            &self.applies,
            &self.not_applicable,
            &self.each,
            &self.name,
            &self.resource,
            &self.assert,
            &self.warn,
            &self.observed,
            &self.message,
            &self.unknown,
            &self.empty,
        ]
        .into_iter()
        .filter_map(|e| e.as_deref())
    }
}

pub struct LoadedCheck {
    pub check: Check,
    /// Where it came from: `checks/<family>/<ID>.toml` (embedded) or a path on disk.
    pub source: String,
    pub compiled: Compiled,
}

/// A step of the guide as a go-live checklist item.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuideStep {
    pub id: String,
    pub section: String,
    pub title: String,
    /// What the guide says to do (portal path or command).
    pub action: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GuideSteps {
    step: Vec<GuideStep>,
}

pub struct Catalog {
    pub checks: Vec<LoadedCheck>,
    pub steps: Vec<GuideStep>,
}

/// Which checks a run assesses: `--select` and `--ignore`, each a list of check ids, id
/// prefixes ending in `-` (`EH-`), families (`consumer`) or severities (`critical`), as ruff
/// and cargo-deny take them. An empty `select` selects everything; `ignore` wins.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub select: Vec<String>,
    pub ignore: Vec<String>,
}

impl Selection {
    pub fn is_all(&self) -> bool {
        self.select.is_empty() && self.ignore.is_empty()
    }

    fn matches(c: &Check, sel: &str) -> bool {
        let s = sel.trim();
        c.id.eq_ignore_ascii_case(s)
            || c.family.eq_ignore_ascii_case(s)
            || c.severity.as_str().eq_ignore_ascii_case(s)
            || (s.ends_with('-')
                && c.id
                    .to_ascii_uppercase()
                    .starts_with(&s.to_ascii_uppercase()))
    }

    /// A sentence for the report: what was left out, so an auditor sees a partial run.
    pub fn note(&self, assessed: usize, total: usize) -> Option<String> {
        if self.is_all() {
            return None;
        }
        let mut parts = Vec::new();
        if !self.select.is_empty() {
            parts.push(format!("--select {}", self.select.join(",")));
        }
        if !self.ignore.is_empty() {
            parts.push(format!("--ignore {}", self.ignore.join(",")));
        }
        Some(format!(
            "partial run: {assessed} of {total} checks assessed ({}); the others were not run and prove nothing",
            parts.join(" ")
        ))
    }
}

/// The guide's step ids in setup order (the embedded `checks/guide-steps.toml`), without
/// loading and compiling the checks.
pub fn guide_step_order() -> Vec<String> {
    EMBEDDED
        .get_file("guide-steps.toml")
        .and_then(|f| f.contents_utf8())
        .and_then(|t| toml::from_str::<GuideSteps>(t).ok())
        .map(|g| g.step.into_iter().map(|s| s.id).collect())
        .unwrap_or_default()
}

impl Catalog {
    /// The checks a selection keeps. A selector that matches no check is an error naming it,
    /// with the closest id, family or severity.
    pub fn select(mut self, sel: &Selection) -> Result<Catalog, String> {
        for s in sel.select.iter().chain(&sel.ignore) {
            if !self.checks.iter().any(|c| Selection::matches(&c.check, s)) {
                let mut known: Vec<&str> =
                    self.checks.iter().map(|c| c.check.id.as_str()).collect();
                known.extend(FAMILIES.iter().copied());
                known.extend(["critical", "high", "medium", "low", "info"]);
                return Err(format!(
                    "no check, family or severity {s:?}{}",
                    did_you_mean(s, known.into_iter())
                ));
            }
        }
        self.checks.retain(|c| {
            (sel.select.is_empty() || sel.select.iter().any(|s| Selection::matches(&c.check, s)))
                && !sel.ignore.iter().any(|s| Selection::matches(&c.check, s))
        });
        if self.checks.is_empty() {
            return Err("the selection leaves no check to assess".into());
        }
        Ok(self)
    }

    /// The embedded catalogue plus checks from `extra` directories (same layout).
    pub fn load(extra: &[PathBuf]) -> Result<Catalog, CatalogError> {
        let mut files: Vec<(String, String)> = Vec::new();
        collect_embedded(&EMBEDDED, &mut files);
        for dir in extra {
            collect_disk(dir, dir, &mut files)?;
        }
        let steps_src = EMBEDDED
            .get_file("guide-steps.toml")
            .and_then(|f| f.contents_utf8())
            .unwrap_or("step = []");
        let steps: GuideSteps = toml::from_str(steps_src).map_err(|e| CatalogError::Invalid {
            file: "checks/guide-steps.toml".into(),
            message: e.to_string(),
        })?;
        let mut checks = Vec::new();
        for (source, text) in files {
            checks.push(load_one(&source, &text)?);
        }
        lint(&checks, &steps.step)?;
        checks.sort_by(|a, b| {
            family_rank(&a.check.family)
                .cmp(&family_rank(&b.check.family))
                .then(a.check.id.cmp(&b.check.id))
        });
        Ok(Catalog {
            checks,
            steps: steps.step,
        })
    }

    /// Finds a check by id or alias (case-insensitive).
    pub fn find(&self, id: &str) -> Option<&LoadedCheck> {
        self.checks.iter().find(|c| {
            c.check.id.eq_ignore_ascii_case(id)
                || c.check.aliases.iter().any(|a| a.eq_ignore_ascii_case(id))
        })
    }
}

pub fn family_rank(f: &str) -> usize {
    FAMILIES
        .iter()
        .position(|x| *x == f)
        .unwrap_or(FAMILIES.len())
}

fn collect_embedded(dir: &Dir<'_>, out: &mut Vec<(String, String)>) {
    for f in dir.files() {
        let p = f.path();
        if p.extension().is_some_and(|e| e == "toml")
            && p.parent().is_some_and(|d| !d.as_os_str().is_empty())
        {
            out.push((
                format!("checks/{}", p.display()),
                f.contents_utf8().unwrap_or_default().to_string(),
            ));
        }
    }
    for d in dir.dirs() {
        collect_embedded(d, out);
    }
}

fn collect_disk(
    root: &Path,
    dir: &Path,
    out: &mut Vec<(String, String)>,
) -> Result<(), CatalogError> {
    let io = |e| CatalogError::Io {
        dir: dir.display().to_string(),
        source: e,
    };
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(io)?
        .collect::<Result<_, _>>()
        .map_err(io)?;
    entries.sort_by_key(|e| e.path());
    for e in entries {
        let p = e.path();
        if p.is_dir() {
            collect_disk(root, &p, out)?;
        } else if p.extension().is_some_and(|x| x == "toml") && p.parent() != Some(root) {
            let text = std::fs::read_to_string(&p).map_err(|e| CatalogError::Io {
                dir: p.display().to_string(),
                source: e,
            })?;
            out.push((p.display().to_string(), text));
        }
    }
    Ok(())
}

fn load_one(source: &str, text: &str) -> Result<LoadedCheck, CatalogError> {
    let bad = |message: String| CatalogError::Invalid {
        file: source.to_string(),
        message,
    };
    let check: Check =
        toml::from_str(text).map_err(|e| bad(e.to_string().trim_end().to_string()))?;
    let path = Path::new(source);
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    if stem != check.id {
        return Err(bad(format!(
            "id {:?} must equal the file stem {stem:?}",
            check.id
        )));
    }
    let folder = path
        .parent()
        .and_then(|p| p.file_name())
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    if folder != check.family {
        return Err(bad(format!(
            "family {:?} must equal the folder {folder:?}",
            check.family
        )));
    }
    if !FAMILIES.contains(&check.family.as_str()) {
        return Err(bad(format!(
            "unknown family {:?}; one of {}",
            check.family,
            FAMILIES.join(", ")
        )));
    }
    if !check
        .id
        .chars()
        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(bad(format!("id {:?} must be A-Z, 0-9 and '-'", check.id)));
    }
    for k in &check.evidence {
        if kinds::kind(k).is_none() {
            return Err(bad(format!("unknown evidence kind {k:?}")));
        }
    }
    if check.evidence.is_empty() && !check.manual {
        return Err(bad("`evidence` must name the kinds the check reads".into()));
    }
    if check.doc.why.trim().is_empty() || check.doc.fix.trim().is_empty() {
        return Err(bad("`doc.why` and `doc.fix` must not be empty".into()));
    }
    if let Err(e) = crate::fix::keys_of(&check.doc.fix) {
        return Err(bad(format!("`doc.fix`: {e}")));
    }
    if check.frameworks.is_empty() {
        return Err(bad("`frameworks` must map at least one control".into()));
    }
    if check.references.is_empty() {
        return Err(bad("`references` must not be empty".into()));
    }
    if check.assert.is_none() && !check.manual {
        return Err(bad("`assert` is required unless the check is manual".into()));
    }
    if check.applies.is_some() && check.not_applicable.is_none() {
        return Err(bad("`applies` needs a `not_applicable` reason".into()));
    }
    let compiled = engine::compile(&check).map_err(bad)?;
    Ok(LoadedCheck {
        check,
        source: source.to_string(),
        compiled,
    })
}

fn lint(checks: &[LoadedCheck], steps: &[GuideStep]) -> Result<(), CatalogError> {
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for c in checks {
        for id in std::iter::once(&c.check.id).chain(c.check.aliases.iter()) {
            if let Some(other) = seen.insert(id.to_ascii_uppercase(), c.source.clone()) {
                return Err(CatalogError::Invalid {
                    file: c.source.clone(),
                    message: format!("id or alias {id:?} is already used by {other}"),
                });
            }
        }
    }
    let step_ids: BTreeSet<&str> = steps.iter().map(|s| s.id.as_str()).collect();
    for c in checks {
        for s in &c.check.guide_steps {
            if !step_ids.contains(s.as_str()) {
                return Err(CatalogError::Invalid {
                    file: c.source.clone(),
                    message: format!("unknown guide step {s:?} (see checks/guide-steps.toml)"),
                });
            }
        }
    }
    Ok(())
}
/// `" (did you mean X?)"` for the closest known name (case-insensitive Jaro-Winkler ≥ 0.8), or
/// nothing when no name is close.
pub fn did_you_mean<'a>(given: &str, known: impl Iterator<Item = &'a str>) -> String {
    let g = given.to_ascii_uppercase();
    known
        .map(|k| (strsim::jaro_winkler(&g, &k.to_ascii_uppercase()), k))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| format!(" (did you mean {k}?)"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fleet audits many tenants with one compiled catalogue on several threads; this fails to
    /// compile if a CEL program (or anything else in the catalogue) cannot be shared.
    #[test]
    fn the_compiled_catalogue_can_be_shared_across_threads() {
        fn shareable<T: Send + Sync>(_: &T) {}
        let catalog = Catalog::load(&[]).expect("embedded catalogue");
        shareable(&catalog);
        let shared = std::sync::Arc::new(catalog);
        let n = std::thread::scope(|s| {
            let c = std::sync::Arc::clone(&shared);
            s.spawn(move || c.checks.len()).join().expect("thread")
        });
        assert_eq!(n, shared.checks.len());
    }
}
