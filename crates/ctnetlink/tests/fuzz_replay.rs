//! Replays the fuzz corpus of `fuzz/corpus/netlink_dump/` (captured kernel
//! answers and everything the fuzzer kept) through the fuzz target's own
//! body (the same file, included), on the stable toolchain.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step should panic loudly

#[path = "../../../fuzz/src/netlink_dump.rs"]
mod netlink_dump;

use std::fs;
use std::path::PathBuf;

#[test]
fn netlink_dump_corpus_replays() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/netlink_dump");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} is empty", dir.display());
    for path in files {
        let bytes = fs::read(&path).unwrap();
        if std::panic::catch_unwind(|| netlink_dump::run(&bytes)).is_err() {
            panic!("fuzz target netlink_dump fails on {}", path.display());
        }
    }
}
