//! Rebuilds the crate when an embedded check file or report template changes: `include_dir!`
//! does not tell Cargo which files it read, so without this an edited check would keep running
//! its old embedded version until something in `src/` changed.

fn main() {
    println!("cargo:rerun-if-changed=checks");
    println!("cargo:rerun-if-changed=reports");
    println!("cargo:rerun-if-changed=build.rs");
}
