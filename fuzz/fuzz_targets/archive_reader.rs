//! Fuzzes the archive reader behind `siemproof verify ARCHIVE`: the input is the .tar.gz. It
//! must refuse or extract, never panic, and never write outside the destination directory.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().expect("tempdir");
    let archive = dir.path().join("in.tar.gz");
    std::fs::write(&archive, data).expect("write");
    let dest = dir.path().join("out");
    std::fs::create_dir(&dest).expect("mkdir");
    let _ = siemproof::sign::archive::extract(&archive, &dest);
});
