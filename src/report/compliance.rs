//! `--compliance FRAMEWORK`: the same results seen per control of one framework (NIST SP
//! 800-53, ISO 27001, PCI DSS, HIPAA, CIS, SOC 2), in the terminal and as `compliance.md`.
//!
//! A control's status is the worst status of the checks mapped to it (by
//! [`Status::rank`]): one failing check fails the control, and a control with a check that
//! could not be assessed is never shown as passing. Controls no check maps to are not listed:
//! siemproof gives evidence for them, it does not claim to cover a whole framework.

use std::collections::BTreeMap;

use clap::ValueEnum;
use serde::Serialize;

use crate::results::{Results, Status};

/// The frameworks `--compliance` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum, Serialize)]
pub enum Framework {
    #[value(name = "NIST-800-53")]
    Nist80053,
    #[value(name = "ISO-27001")]
    Iso27001,
    #[value(name = "PCI-DSS")]
    PciDss,
    #[value(name = "HIPAA")]
    Hipaa,
    /// CIS Controls v8 and the CIS benchmark items.
    #[value(name = "CIS")]
    Cis,
    #[value(name = "SOC2")]
    Soc2,
}

impl Framework {
    pub const ALL: &'static [Framework] = &[
        Framework::Nist80053,
        Framework::Iso27001,
        Framework::PciDss,
        Framework::Hipaa,
        Framework::Cis,
        Framework::Soc2,
    ];

    /// The labels [`crate::catalog::Frameworks::pairs`] gives this framework's controls.
    fn labels(self) -> &'static [&'static str] {
        match self {
            Framework::Nist80053 => &["NIST SP 800-53 r5"],
            Framework::Iso27001 => &["ISO/IEC 27001:2022"],
            Framework::PciDss => &["PCI DSS 4.0"],
            Framework::Hipaa => &["HIPAA"],
            Framework::Cis => &["CIS Controls v8", "CIS Benchmark"],
            Framework::Soc2 => &["SOC 2"],
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Framework::Nist80053 => "NIST SP 800-53 Rev. 5",
            Framework::Iso27001 => "ISO/IEC 27001:2022",
            Framework::PciDss => "PCI DSS 4.0",
            Framework::Hipaa => "HIPAA Security Rule",
            Framework::Cis => "CIS Controls v8 and CIS Benchmarks",
            Framework::Soc2 => "SOC 2 (Trust Services Criteria)",
        }
    }
}

/// One control and the checks that give evidence for it.
#[derive(Debug, Clone, Serialize)]
pub struct Control {
    pub id: String,
    pub status: Status,
    /// (check id, its status), in catalogue order.
    pub checks: Vec<(String, Status)>,
}

/// Every control of `fw` that a check maps to, in control-id order.
pub fn controls(results: &Results, fw: Framework) -> Vec<Control> {
    let mut m: BTreeMap<String, Vec<(String, Status)>> = BTreeMap::new();
    for c in &results.checks {
        for (label, id) in c.frameworks.pairs() {
            if fw.labels().contains(&label) {
                let prefix = if fw == Framework::Cis && label == "CIS Benchmark" {
                    "Benchmark "
                } else {
                    ""
                };
                m.entry(format!("{prefix}{id}"))
                    .or_default()
                    .push((c.id.clone(), c.status));
            }
        }
    }
    m.into_iter()
        .map(|(id, checks)| Control {
            status: checks
                .iter()
                .map(|(_, s)| *s)
                .max_by_key(|s| s.rank())
                .unwrap_or(Status::NotAssessed),
            id,
            checks,
        })
        .collect()
}

/// Control counts per status, worst first.
fn tally(controls: &[Control]) -> String {
    let mut parts = Vec::new();
    for s in Status::ALL {
        let n = controls.iter().filter(|c| c.status == s).count();
        if n > 0 {
            parts.push(format!("{n} {}", s.as_str()));
        }
    }
    parts.join(", ")
}

/// The terminal view: one table per framework, `width` columns wide when not on a terminal.
pub fn table(results: &Results, frameworks: &[Framework], width: Option<u16>) -> String {
    let mut out = String::new();
    for fw in frameworks {
        let cs = controls(results, *fw);
        let mut t = comfy_table::Table::new();
        t.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED)
            .set_content_arrangement(comfy_table::ContentArrangement::Dynamic)
            .set_header(["Control", "Status", "Checks"]);
        if let Some(w) = width {
            t.set_width(w);
        }
        for c in &cs {
            let checks: Vec<String> = c
                .checks
                .iter()
                .map(|(id, s)| format!("{id} ({})", s.as_str()))
                .collect();
            t.add_row([c.id.clone(), c.status.as_str().into(), checks.join(", ")]);
        }
        out.push_str(&format!(
            "\n{}: {} controls with evidence ({})\n{t}\n",
            fw.title(),
            cs.len(),
            tally(&cs)
        ));
    }
    out
}

/// `compliance.md`: the same view, for a ticket or an audit file.
pub fn markdown(results: &Results, frameworks: &[Framework]) -> String {
    let esc = super::md_text;
    // Evidence strings are isolated against bidirectional spoofing, as in report.md.
    let iso = |s: &str| format!("\u{2068}{}\u{2069}", esc(s));
    let mut out = format!(
        "# Compliance view of run {}\n\nTenant `{}`, as of {}. A control's status is the worst status of the checks that give evidence for it; controls no check maps to are not listed.\n",
        iso(&results.run.id),
        iso(&results.run.tenant_id),
        iso(&results.run.as_of)
    );
    for fw in frameworks {
        let cs = controls(results, *fw);
        out.push_str(&format!(
            "\n## {}\n\n{} controls with evidence: {}.\n\n| Control | Status | Checks |\n|---|---|---|\n",
            fw.title(),
            cs.len(),
            if cs.is_empty() { "none".into() } else { tally(&cs) }
        ));
        for c in &cs {
            let checks: Vec<String> = c
                .checks
                .iter()
                .map(|(id, s)| format!("{} ({})", esc(id), s.as_str()))
                .collect();
            out.push_str(&format!(
                "| {} | {} | {} |\n",
                esc(&c.id),
                c.status.as_str(),
                checks.join(", ")
            ));
        }
    }
    out
}
