//! Recomputes `sha256` and `bytes` of every item with a `path` in a bundle's manifest.
//!
//! For fixture authors only: fixture tenants are hand-written bundles in Microsoft's real
//! response shapes, and this seals them after an edit. Never run it on collected evidence: the
//! point of the manifest is that nobody re-seals evidence after the fact.
//!
//! Usage: cargo run --example seal-bundle -- fixtures/tenants/contoso-demo [more bundles…]

use std::path::Path;

use anyhow::{Context, Result};
use serde_json::Value;

fn seal(dir: &Path) -> Result<()> {
    let mpath = dir.join("manifest.json");
    let text = std::fs::read_to_string(&mpath).with_context(|| format!("{}", mpath.display()))?;
    let mut m: Value =
        serde_json::from_str(&text).with_context(|| format!("{}", mpath.display()))?;
    let items = m
        .get_mut("items")
        .and_then(|i| i.as_array_mut())
        .context("manifest has no items array")?;
    for item in items.iter_mut() {
        let Some(p) = item
            .get("path")
            .and_then(|p| p.as_str())
            .map(str::to_string)
        else {
            continue;
        };
        let bytes =
            std::fs::read(dir.join(&p)).with_context(|| format!("{}/{p}", dir.display()))?;
        item["sha256"] = Value::String(siemproof::evidence::sha256_hex(&bytes));
        item["bytes"] = Value::from(bytes.len() as u64);
    }
    std::fs::write(&mpath, serde_json::to_string_pretty(&m)? + "\n")?;
    // Prove the result verifies.
    siemproof::evidence::Bundle::open(dir, false).map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("sealed {}", dir.display());
    Ok(())
}

fn main() -> Result<()> {
    let dirs: Vec<String> = std::env::args().skip(1).collect();
    anyhow::ensure!(!dirs.is_empty(), "usage: seal-bundle DIR [DIR…]");
    for d in dirs {
        seal(Path::new(&d))?;
    }
    Ok(())
}
