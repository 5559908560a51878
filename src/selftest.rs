//! The check fixture runner behind `siemproof test` and the project's own tests.
//!
//! A fixture is a partial normalised model in `fixtures/checks/<ID>/<status>-<case>.json`; the
//! prefix is the status the check must give. Sections a fixture leaves out take their defaults,
//! and evidence kinds it does not name count as `ok` (name a kind to make it `forbidden`, etc.).
//! Fixtures deserialise into the model's types with unknown fields refused, so they cannot drift
//! from what the normaliser produces.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use serde::Serialize;

use crate::audit;
use crate::catalog::{Catalog, LoadedCheck};
use crate::engine::Scope;
use crate::evidence::{kinds, EvidenceStatus, KindState};
use crate::normalize::model::Model;
use crate::results::{Finding, Status};

/// The built-in checks' fixtures (`fixtures/checks`), embedded so `siemproof test` needs no
/// checkout.
pub static EMBEDDED_FIXTURES: include_dir::Dir<'_> =
    include_dir::include_dir!("$CARGO_MANIFEST_DIR/fixtures/checks");

pub const PREFIXES: &[(&str, Status)] = &[
    ("pass-", Status::Pass),
    ("fail-", Status::Fail),
    ("warn-", Status::Warn),
    ("not_assessed-", Status::NotAssessed),
    ("not_applicable-", Status::NotApplicable),
    ("manual-", Status::Manual),
];

/// The outcome of one fixture.
#[derive(Debug, Serialize)]
pub struct CaseResult {
    pub check: String,
    pub fixture: String,
    pub expected: Status,
    pub actual: Status,
    pub reason: Option<String>,
    pub findings: Vec<Finding>,
}

impl CaseResult {
    pub fn ok(&self) -> bool {
        self.expected == self.actual
    }
}

/// Reads a fixture file into a model (missing evidence kinds are `ok`).
pub fn load_fixture(path: &Path) -> Result<Model> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    let de = &mut serde_json::Deserializer::from_str(&text);
    let mut model: Model = serde_path_to_error::deserialize(de)
        .map_err(|e| anyhow!("{}: at `{}`: {}", path.display(), e.path(), e.inner()))?;
    for k in kinds::KINDS {
        model
            .evidence
            .entry(k.name.to_string())
            .or_insert(KindState {
                status: EvidenceStatus::Ok,
                reason: None,
                files: vec![],
            });
    }
    if model.as_of.is_empty() {
        model.as_of = "2026-11-20T12:00:00Z".into();
    }
    Ok(model)
}

/// The expected status a fixture's file name declares.
pub fn expected_status(file_name: &str) -> Option<Status> {
    PREFIXES
        .iter()
        .find(|(p, _)| file_name.starts_with(p))
        .map(|(_, s)| *s)
}

/// Runs one check against one fixture.
pub fn run_case(lc: &LoadedCheck, path: &Path) -> Result<CaseResult> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_string();
    let expected = expected_status(&name).ok_or_else(|| {
        anyhow!(
            "{}: fixture names start with one of {}",
            path.display(),
            PREFIXES
                .iter()
                .map(|(p, _)| *p)
                .collect::<Vec<_>>()
                .join(", ")
        )
    })?;
    let model = load_fixture(path)?;
    let scope = Scope::new(&model);
    let r = audit::assess_one(lc, &scope, &model, &[], &BTreeMap::new());
    Ok(CaseResult {
        check: lc.check.id.clone(),
        fixture: name,
        expected,
        actual: r.status,
        reason: r.reason,
        findings: r.findings,
    })
}

/// Fixture files of one check, sorted.
pub fn fixtures_of(dir: &Path, id: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir.join(id))
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Runs every fixture of every check; also reports fixture folders naming no check.
pub fn run_all(catalog: &Catalog, dir: &Path, only: Option<&str>) -> Result<Vec<CaseResult>> {
    if !dir.is_dir() {
        return Err(anyhow!("{}: no fixture directory", dir.display()));
    }
    for e in std::fs::read_dir(dir).with_context(|| format!("{}: cannot read", dir.display()))? {
        let p = e?.path();
        if p.is_dir() {
            let id = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if catalog.find(id).is_none() {
                return Err(anyhow!(
                    "{}: fixture folder for unknown check {id:?}",
                    p.display()
                ));
            }
        }
    }
    let mut out = Vec::new();
    for lc in &catalog.checks {
        if only.is_some_and(|o| !o.eq_ignore_ascii_case(&lc.check.id)) {
            continue;
        }
        for f in fixtures_of(dir, &lc.check.id) {
            out.push(run_case(lc, &f)?);
        }
    }
    Ok(out)
}
