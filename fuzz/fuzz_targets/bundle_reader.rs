//! Fuzzes the evidence bundle reader: the input is split into a manifest and one raw body,
//! written as a bundle, and opened with and without `--allow-unverified`. It must return an
//! error or a bundle, never panic, and never read outside the directory.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().expect("tempdir");
    // First 0xFF byte splits manifest from body; without one, all of it is the manifest.
    let (manifest, body) = match data.iter().position(|b| *b == 0xFF) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    std::fs::write(dir.path().join("manifest.json"), manifest).expect("write");
    std::fs::create_dir_all(dir.path().join("raw/arm")).expect("mkdir");
    std::fs::write(
        dir.path().join("raw/arm/arm.eventhub.namespaces.json"),
        body,
    )
    .expect("write");
    for allow in [false, true] {
        let _ = siemproof::evidence::Bundle::open(dir.path(), allow);
    }
});
