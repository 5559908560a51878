//! `collect --stats FILE`: what the collector did, per plane, as JSON for schedules and
//! benchmarks (requests, throttled answers, retries, and the time waited on `Retry-After`, on
//! our own backoff and on the pacer).
//!
//! It describes the collector, not the tenant, so it is written beside the bundle rather than
//! in it, and it holds no URL, query or header: nothing of the tenant and nothing secret. The
//! file is written whole (temporary file, then rename). An existing file is replaced only when
//! it is an earlier stats file; anything else at that path is the user's and is left alone.

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::retry::PlaneStats;
use super::Summary;

/// The `format` of a stats file.
pub const FORMAT: &str = "siemproof-collect-stats/1";

/// The stats file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stats {
    pub format: String,
    /// The bundle the run wrote.
    pub bundle: String,
    pub items: usize,
    /// Requests Microsoft answered (a body, or a definitive status such as 403 or 404).
    pub answered: usize,
    /// Requests with no usable answer (5xx, throttling, timeouts, transport errors).
    pub unavailable: usize,
    /// Wall time of the whole collection, in seconds.
    pub elapsed_s: f64,
    pub planes: Vec<PlaneStats>,
}

impl Stats {
    pub fn of(s: &Summary) -> Stats {
        Stats {
            format: FORMAT.into(),
            bundle: s.bundle.display().to_string(),
            items: s.items,
            answered: s.answered,
            unavailable: s.unavailable,
            elapsed_s: s.elapsed.as_secs_f64(),
            planes: s.planes.clone(),
        }
    }

    /// Writes the file whole.
    pub fn write(&self, path: &Path) -> Result<()> {
        let mut text = serde_json::to_string_pretty(self)?;
        text.push('\n');
        crate::sign::write_atomic(path, text.as_bytes())
            .with_context(|| format!("{}: cannot write the stats file", path.display()))
    }
}

/// Refuses a `--stats` path that holds something other than an earlier stats file, before any
/// request is sent.
pub fn check_replaceable(path: &Path) -> Result<()> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("{}: cannot inspect", path.display())),
    };
    let earlier = meta.is_file()
        && crate::files::read_text_bounded(path)
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .is_some_and(|v| v.get("format").and_then(|f| f.as_str()) == Some(FORMAT));
    if !earlier {
        bail!(
            "{}: exists and is not a siemproof stats file; it is left alone (choose another --stats path)",
            path.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_earlier_stats_file_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("stats.json");
        check_replaceable(&p).unwrap();
        let s = Stats {
            format: FORMAT.into(),
            bundle: "evidence".into(),
            items: 3,
            answered: 3,
            unavailable: 0,
            elapsed_s: 1.5,
            planes: vec![],
        };
        s.write(&p).unwrap();
        check_replaceable(&p).unwrap();
        let back: Stats = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        assert_eq!(back, s);
        let other = dir.path().join("notes.json");
        std::fs::write(&other, "{\"mine\": true}").unwrap();
        let e = check_replaceable(&other).unwrap_err().to_string();
        assert!(e.contains("notes.json") && e.contains("left alone"), "{e}");
        assert_eq!(std::fs::read(&other).unwrap(), b"{\"mine\": true}");
        let e = check_replaceable(dir.path()).unwrap_err().to_string();
        assert!(e.contains("not a siemproof stats file"), "{e}");
    }
}
