//! The part of a run's `results.json` that `period` reads: per-check status and metadata,
//! per-log-type coverage, the run's summary and whether it read a SIEM.
//!
//! A year of daily runs is hundreds of megabytes of results, almost all of it evidence
//! excerpts and messages the period never shows. Reading only these fields (serde skips the
//! rest without building it) and loading the runs on every core is what keeps `period` fast;
//! the fields it does read are typed and checked as strictly as [`Results::load`] checks
//! them, errors name the file and JSON path, and every string is sanitised the same way.
//!
//! [`Results::load`]: crate::results::Results::load

use std::path::Path;

use anyhow::{anyhow, bail, Result};
use serde::de::IgnoredAny;
use serde::Deserialize;

use super::{Entry, LoadedRun};
use crate::catalog::{GoLive, Severity};
use crate::results::{sanitise_text, Status, FORMAT};

/// One check's outcome in a run.
#[derive(Debug, Clone, Deserialize)]
pub struct CheckView {
    pub id: String,
    pub title: String,
    pub family: String,
    pub severity: Severity,
    pub go_live: GoLive,
    pub status: Status,
}

/// One log type's coverage row in a run.
#[derive(Debug, Clone, Deserialize)]
pub struct CoverageView {
    pub id: String,
    pub name: String,
    pub required: bool,
    pub configured: Option<bool>,
    pub flowing: Option<bool>,
    pub in_siem: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
struct RunMeta {
    tenant_id: String,
    #[serde(default)]
    tenant_name: Option<String>,
    #[serde(default)]
    collected_at: Option<String>,
    #[serde(default)]
    as_of: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct SummaryView {
    fail: usize,
    not_assessed: usize,
    go_live_ready: bool,
}

#[derive(Debug, Deserialize)]
struct SiemView {
    #[serde(default)]
    targets: Vec<IgnoredAny>,
}

#[derive(Debug, Deserialize)]
struct ConfigView {
    siem: SiemView,
}

#[derive(Debug, Deserialize)]
struct Raw {
    format: String,
    run: RunMeta,
    summary: SummaryView,
    coverage: Vec<CoverageView>,
    checks: Vec<CheckView>,
    config: ConfigView,
}

/// What `period` knows of one run.
#[derive(Debug, Clone)]
pub struct RunView {
    pub tenant_id: String,
    pub tenant_name: Option<String>,
    /// When the evidence was collected and the audit clock (RFC 3339).
    pub collected_at: Option<String>,
    pub as_of: Option<String>,
    pub go_live_ready: bool,
    pub fail: usize,
    pub not_assessed: usize,
    /// The run was set to read a SIEM (`[[siem]]` targets in its config).
    pub siem_read: bool,
    pub checks: Vec<CheckView>,
    pub coverage: Vec<CoverageView>,
}

impl RunView {
    /// Reads the view from `bytes` of `path` (named in errors, with the JSON path).
    pub fn parse(bytes: &[u8], path: &Path) -> Result<RunView> {
        let wrong_format =
            |format: &str| anyhow!("{}: format {format:?} is not {FORMAT:?}", path.display());
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let raw: Raw = match serde_path_to_error::deserialize(&mut de) {
            Ok(r) => r,
            Err(e) => {
                // Another format's shape errors would mislead: say which format it is.
                #[derive(Deserialize)]
                struct Format {
                    format: String,
                }
                if let Ok(f) = serde_json::from_slice::<Format>(bytes) {
                    if f.format != FORMAT {
                        return Err(wrong_format(&f.format));
                    }
                }
                bail!("{}: at `{}`: {}", path.display(), e.path(), e.inner());
            }
        };
        de.end()
            .map_err(|e| anyhow!("{}: not valid JSON: {e}", path.display()))?;
        if raw.format != FORMAT {
            return Err(wrong_format(&raw.format));
        }
        let mut v = RunView {
            tenant_id: raw.run.tenant_id,
            tenant_name: raw.run.tenant_name,
            collected_at: raw.run.collected_at,
            as_of: raw.run.as_of,
            go_live_ready: raw.summary.go_live_ready,
            fail: raw.summary.fail,
            not_assessed: raw.summary.not_assessed,
            siem_read: !raw.config.siem.targets.is_empty(),
            checks: raw.checks,
            coverage: raw.coverage,
        };
        sanitise_text(&mut v.tenant_id);
        for n in [&mut v.tenant_name, &mut v.collected_at, &mut v.as_of]
            .into_iter()
            .flatten()
        {
            sanitise_text(n);
        }
        for c in &mut v.checks {
            for s in [&mut c.id, &mut c.title, &mut c.family] {
                sanitise_text(s);
            }
        }
        for c in &mut v.coverage {
            sanitise_text(&mut c.id);
            sanitise_text(&mut c.name);
        }
        Ok(v)
    }

    /// Reads `path`, refusing it unless its SHA-256 is `sha256` (the one the verified entry
    /// names: the bytes read are the bytes that were verified, even if the file changed since).
    pub fn load(path: &Path, sha256: &str) -> Result<RunView> {
        let bytes = crate::files::read_bounded(path)?;
        let h = super::sha256_hex(&bytes);
        if h != sha256 {
            bail!(
                "{}: changed since the ledger was verified (SHA-256 {h}, the entry says {sha256})",
                path.display()
            );
        }
        RunView::parse(&bytes, path)
    }
}

/// Loads the verified `entries` of the ledger at `ledger` on all cores, in order; the first
/// error (in order) wins.
pub fn load_runs(ledger: &Path, entries: &[&Entry]) -> Result<Vec<LoadedRun>> {
    crate::parallel::map_in_order(entries, |e| {
        let path = ledger
            .join(super::ENTRIES)
            .join(super::entry_dir_name(e.seq))
            .join("results.json");
        Ok(LoadedRun {
            entry: (*e).clone(),
            view: RunView::load(&path, &e.results_sha256)?,
        })
    })
    .into_iter()
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minimal(extra_check: &str) -> String {
        format!(
            r#"{{"format":"{FORMAT}","run":{{"id":"r","tenant_id":"t","tenant_name":"T"}},
            "summary":{{"fail":1,"not_assessed":0,"go_live_ready":false,"pass":3}},
            "coverage":[{{"id":"aad","name":"Entra","required":true,"configured":true,"flowing":null,"in_siem":null,"state":"x"}}],
            "checks":[{{"id":"a","title":"A","family":"eventhub","severity":"high","go_live":"blocking","status":"fail","message":"skipped"}}{extra_check}],
            "config":{{"siem":{{"kind":"qradar","targets":[{{"name":"q"}}]}}}},"waivers":{{}}}}"#
        )
    }

    #[test]
    fn reads_only_what_period_needs() {
        let v = RunView::parse(minimal("").as_bytes(), Path::new("r.json")).unwrap();
        assert_eq!(v.checks.len(), 1);
        assert_eq!(v.checks[0].status, Status::Fail);
        assert!(v.siem_read);
        assert_eq!(v.coverage[0].flowing, None);
        assert_eq!(v.tenant_name.as_deref(), Some("T"));
    }

    #[test]
    fn a_bad_field_it_reads_is_named_by_path() {
        let bad = minimal(
            r#",{"id":"b","title":"B","family":"f","severity":"high","go_live":"blocking","status":"great"}"#,
        );
        let e = RunView::parse(bad.as_bytes(), Path::new("r.json")).unwrap_err();
        let m = format!("{e:#}");
        assert!(
            m.contains("r.json") && m.contains("checks[1].status"),
            "{m}"
        );
    }

    #[test]
    fn another_format_and_trailing_bytes_are_refused() {
        let other = minimal("").replace(FORMAT, "siemproof-results/0");
        assert!(RunView::parse(other.as_bytes(), Path::new("r.json")).is_err());
        let trailing = format!("{} x", minimal(""));
        assert!(RunView::parse(trailing.as_bytes(), Path::new("r.json")).is_err());
    }

    #[test]
    fn changed_bytes_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("results.json");
        std::fs::write(&p, minimal("")).unwrap();
        let e = RunView::load(&p, &"0".repeat(64)).unwrap_err();
        assert!(format!("{e:#}").contains("changed since"), "{e:#}");
        let ok = super::super::sha256_hex(minimal("").as_bytes());
        assert!(RunView::load(&p, &ok).is_ok());
    }

    #[test]
    fn secrets_in_the_text_it_reads_are_redacted() {
        let canary = "AccountKey=c2llbXByb29mLWNhbmFyeS1zZWNyZXQtdmFsdWUtMDAwMDAwMDA=";
        let s = minimal("").replace("\"title\":\"A\"", &format!("\"title\":\"{canary}\""));
        let v = RunView::parse(s.as_bytes(), Path::new("r.json")).unwrap();
        assert!(
            !v.checks[0].title.contains("c2llbXByb29m"),
            "{}",
            v.checks[0].title
        );
    }
}
