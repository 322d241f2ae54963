//! Replaying a target's corpus on the stable toolchain: the crates' test
//! suites include this file, so both walk the corpora the same way.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)] // test support

use std::fs;
use std::path::PathBuf;

/// Runs `run` on every file of `fuzz/corpus/TARGET/`, in name order; a panic
/// names the file. Called from a crate under `crates/`.
pub fn replay(target: &str, run: fn(&[u8])) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} is empty", dir.display());
    for path in files {
        let bytes = fs::read(&path).unwrap();
        if std::panic::catch_unwind(|| run(&bytes)).is_err() {
            panic!("fuzz target {target} fails on {}", path.display());
        }
    }
}
