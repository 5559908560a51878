//! Writing the probe results into an evidence bundle: a new one, or merged into a bundle that
//! `collect` wrote on another host, whose files, manifest and collector identity are kept; this
//! host is added to the manifest's `contributors`. The write is atomic (see evidence::writer).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::evidence::manifest::{self, Collector, Item, Manifest, Source, Tool};
use crate::evidence::writer::BundleWriter;
use crate::evidence::Bundle;

pub const PATH: &str = "probes/network.json";
pub const KIND: &str = "probe.network";

/// The config to carry in a new bundle: its parsed form and its file text.
pub struct ConfigFile<'a> {
    pub config: &'a Config,
    pub text: &'a str,
}

/// Writes `network_json` into the bundle at `out`, creating or merging; returns whether it merged.
pub fn write(
    out: &Path,
    network_json: &[u8],
    config: Option<ConfigFile<'_>>,
    hostname: &str,
    at: DateTime<Utc>,
) -> Result<(PathBuf, bool)> {
    let me = Collector {
        app_id: None,
        auth: "probe".into(),
        host: Some(hostname.to_string()),
        at: Some(at),
    };
    // Merging needs a siemproof bundle at --out; anything else there must be nothing at all.
    let merging = crate::files::is_bundle(out);
    if !merging {
        crate::files::check_target(out, crate::files::OutputKind::Bundle, false, "--out")?;
    }
    let mut writer = if merging {
        // Only a bundle that verifies is extended: merging must not launder altered evidence.
        let existing = Bundle::open(out, false).with_context(|| {
            format!(
                "{}: the existing bundle does not verify; refusing to merge probe results into it",
                out.display()
            )
        })?;
        let mut m = existing.manifest.clone();
        if let Some(c) = &config {
            if !m.tenant_id.is_empty()
                && m.tenant_id != "unknown"
                && !m.tenant_id.eq_ignore_ascii_case(&c.config.tenant.id)
            {
                bail!(
                    "{}: the bundle is for tenant {} but the config names tenant {}; refusing to merge",
                    out.display(),
                    m.tenant_id,
                    c.config.tenant.id
                );
            }
        }
        // A re-run from the same host replaces its earlier contribution.
        m.contributors
            .retain(|c| !(c.auth == "probe" && c.host.as_deref() == Some(hostname)));
        m.contributors.push(me);
        BundleWriter::extend(out, out, m)?
    } else {
        let m = Manifest {
            format: manifest::FORMAT.into(),
            tool: Tool {
                name: "siemproof".into(),
                version: env!("CARGO_PKG_VERSION").into(),
            },
            tenant_id: config
                .as_ref()
                .map(|c| c.config.tenant.id.clone())
                .unwrap_or_else(|| "unknown".into()),
            cloud: config
                .as_ref()
                .map(|c| c.config.tenant.cloud.clone())
                .unwrap_or_else(|| "unknown".into()),
            collected_at: at,
            collector: me,
            contributors: vec![],
            items: vec![],
        };
        BundleWriter::new(out, m)?
    };
    if let Some(c) = &config {
        if !writer.manifest.items.iter().any(|i| i.kind == "config") {
            writer.add_file(
                item("config", at, None, None),
                "siemproof.toml",
                c.text.as_bytes(),
            )?;
        }
    }
    writer.add_file(
        item(
            KIND,
            at,
            Some(hostname),
            Some(Source {
                method: "-".into(),
                url: PATH.into(),
            }),
        ),
        PATH,
        network_json,
    )?;
    Ok((writer.finish(None)?, merging))
}

fn item(kind: &str, at: DateTime<Utc>, scope: Option<&str>, source: Option<Source>) -> Item {
    Item {
        scope: scope.map(str::to_string),
        source,
        ..Item::local(kind, at)
    }
}
