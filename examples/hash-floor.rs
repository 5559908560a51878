//! The read-and-hash floor for `benches/audit.sh`: reads and SHA-256 hashes every file of a
//! bundle once, with siemproof's own file hasher on the audit's worker threads, and prints the
//! best wall time of N passes in seconds. An audit must do at least this much (every file is
//! verified before it is judged), so its wall time over this floor says what the rest costs.
//!
//! Usage: cargo run --release --example hash-floor -- BUNDLE [PASSES]

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().context("usage: hash-floor BUNDLE [PASSES]")?;
    let passes: usize = args.next().map_or(Ok(5), |p| p.parse())?;
    let dir = Path::new(&dir);
    let files: Vec<_> = siemproof::files::walk_tree(dir)?
        .into_iter()
        .map(|e| dir.join(e.rel))
        .collect();
    let mut best = f64::INFINITY;
    for _ in 0..passes.max(1) {
        let start = Instant::now();
        let hashed =
            siemproof::parallel::map_in_order(&files, |f| siemproof::sign::sums::hash_file(f));
        for h in hashed {
            h?;
        }
        best = best.min(start.elapsed().as_secs_f64());
    }
    println!("{best:.3}");
    Ok(())
}
