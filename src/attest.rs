//! Attestations: signed-off statements for what no API can read (Defender XDR streaming, the
//! Defender for Cloud Apps SIEM export, Defender for Identity sensors, unified audit log state).
//!
//! They travel in the bundle (`attestations/*.toml`) or come from `--attestations DIR`. A valid
//! attestation turns a `manual` check into `pass (attested)`; an expired or future-dated one
//! does not, and the report says so.

use std::path::Path;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::evidence::{Body, Bundle};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Attestation {
    /// The check the statement satisfies.
    pub check: String,
    pub statement: String,
    pub attested_by: String,
    #[serde(with = "crate::config::toml_date")]
    pub date: NaiveDate,
    #[serde(with = "crate::config::toml_date")]
    pub expires: NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Reference>,
    /// Where it was read from (filled in on load).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// In force at the audit clock (filled in on load).
    #[serde(default)]
    pub valid: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Reference {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
    /// A screenshot or export kept with the evidence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

impl Attestation {
    pub fn parse(text: &str, source: &str, today: NaiveDate) -> Result<Attestation> {
        let mut a: Attestation = toml::from_str(text)
            .map_err(|e| anyhow::anyhow!("{source}: {}", e.to_string().trim_end()))?;
        if a.expires < a.date {
            anyhow::bail!(
                "{source}: key `expires`: {} is before `date` {}",
                a.expires,
                a.date
            );
        }
        a.source = Some(source.to_string());
        a.valid = a.date <= today && today <= a.expires;
        Ok(a)
    }

    pub fn to_toml(&self) -> String {
        let mut a = self.clone();
        a.source = None;
        let mut out = toml::to_string_pretty(&a).unwrap_or_default();
        out = out
            .replace("valid = false\n", "")
            .replace("valid = true\n", "");
        out
    }
}

/// All attestations: those in the bundle, then those in `dir`.
pub fn load(bundle: &Bundle, dir: Option<&Path>, today: NaiveDate) -> Result<Vec<Attestation>> {
    let mut out = Vec::new();
    for item in bundle.of_kind("attestation") {
        let body = bundle.body(item)?;
        if let (Some(Body::Text(t)), Some(p)) = (body.as_deref(), &item.item.path) {
            out.push(Attestation::parse(t, p, today)?);
        }
    }
    if let Some(dir) = dir {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .with_context(|| format!("{}: cannot read attestations", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        for p in files {
            let t = crate::files::read_text_bounded(&p)?;
            out.push(Attestation::parse(&t, &p.display().to_string(), today)?);
        }
    }
    Ok(out)
}
