//! A fleet of local HTTPS mocks of the Microsoft endpoints, one per generated tenant, that
//! play one Microsoft: one multi-tenant app (the same client id and secret in every tenant),
//! one set of read limits shared by all of them (so Graph's per-app limits across tenants
//! hold over the whole fleet) and one TLS identity (one CA file).
//!
//! `cargo run --release --example fleet-mock -- --tenants DIR --out OUT [--limits documented]`
//! serves every tenant bundle under DIR (`examples/gen-tenant.rs --index K` makes distinct
//! ones), writes OUT/tenants/<name>.toml (each pointing at its mock), OUT/fleet.toml (one
//! `[[credentials]]` entry for the app, every tenant using it) and OUT/fleet.env (the app's
//! secret as MSSP_APP_SECRET and the CA as SSL_CERT_FILE), then serves until Ctrl-C and prints
//! what the limits did: `set -a; . OUT/fleet.env; siemproof fleet collect OUT/fleet.toml`.
//! Used by benches/fleet-collect.sh. The server code is shared with the tests (tests/common/mock).

#[path = "../tests/common/mock/mod.rs"]
mod mock;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::{bail, Context, Result};
use clap::Parser;

#[derive(Parser)]
#[command(about = "A fleet of local Microsoft mocks sharing one app, one set of limits and one CA")]
struct Args {
    /// Directory of tenant bundles to serve, one per subdirectory
    #[arg(long)]
    tenants: PathBuf,
    /// Where to write the tenants' configs, the fleet file and its environment
    #[arg(long)]
    out: PathBuf,
    /// Milliseconds before each answer
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Microsoft's read limits, shared by every mock: `off`, `documented` or `scaled:K`
    #[arg(long, default_value = "documented")]
    limits: String,
}

fn main() -> Result<()> {
    let a = Args::parse();
    let limits = match a.limits.as_str() {
        "off" => None,
        "documented" => Some(mock::limits::Limits::documented()),
        s => match s.strip_prefix("scaled:").map(str::parse::<f64>) {
            Some(Ok(k)) if k > 0.0 && k.is_finite() => Some(mock::limits::Limits::scaled(k)),
            _ => bail!("--limits {s:?}: expected off, documented or scaled:K with K > 0"),
        },
    };
    let shared = limits.map(|l| Arc::new(Mutex::new(mock::limits::Throttle::new(l))));
    let tls = Arc::new(mock::tls::generate()?);
    let app = (
        uuid::Uuid::new_v4().to_string(),
        format!("fleet-app-secret-{}", uuid::Uuid::new_v4().simple()),
    );
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&a.tenants)
        .with_context(|| format!("{}: cannot list", a.tenants.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("manifest.json").is_file())
        .collect();
    dirs.sort();
    if dirs.is_empty() {
        bail!("{}: no tenant bundle in it", a.tenants.display());
    }
    std::fs::create_dir_all(a.out.join("tenants"))?;
    let mut fleet = format!(
        "[fleet]\nname = \"fleet-mock\"\n\n[[credentials]]\nname = \"mssp-app\"\nauth = \"secret\"\nclient_id = \"{}\"\nsecret_env = \"MSSP_APP_SECRET\"\n",
        app.0
    );
    let mut mocks = Vec::new();
    for d in &dirs {
        let slug = d
            .file_name()
            .and_then(|n| n.to_str())
            .context("tenant directory name")?
            .to_ascii_lowercase();
        let m = mock::Mock::start(
            d,
            mock::MockOptions {
                latency_ms: a.latency_ms,
                app: Some(app.clone()),
                shared_limits: shared.clone(),
                shared_tls: Some(tls.clone()),
                ..Default::default()
            },
        )
        .with_context(|| format!("{}: mock", d.display()))?;
        let cfg = a.out.join("tenants").join(format!("{slug}.toml"));
        m.write_config(&cfg)?;
        fleet.push_str(&format!(
            "\n[[tenants]]\nslug = \"{slug}\"\nconfig = \"tenants/{slug}.toml\"\ncredentials = \"mssp-app\"\n"
        ));
        mocks.push(m);
    }
    std::fs::write(a.out.join("fleet.toml"), fleet)?;
    let ca = a.out.join("fleet-ca.pem");
    std::fs::write(&ca, &tls.ca_pem)?;
    std::fs::write(
        a.out.join("fleet.env"),
        format!(
            "MSSP_APP_SECRET={}\nSSL_CERT_FILE={}\n",
            app.1,
            std::fs::canonicalize(&ca)?.display()
        ),
    )?;
    println!("{} mocks listening (Ctrl-C stops)", mocks.len());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(tokio::signal::ctrl_c())?;
    let served: usize = mocks.iter().map(|m| m.requests().len()).sum();
    println!("served {served} requests");
    if let Some(c) = mocks.first().and_then(|m| m.throttle_counts()) {
        let graph_reports: u64 = c
            .served
            .iter()
            .filter(|(k, _)| k.starts_with("graph-reports-app/"))
            .map(|(_, n)| n)
            .sum();
        println!(
            "limits refused {} request(s), {} of them inside a pending Retry-After; Graph reports served across tenants {graph_reports}; rate-limit bound {:.1} s",
            c.refused_total(),
            c.early,
            c.bound_s
        );
    }
    Ok(())
}
