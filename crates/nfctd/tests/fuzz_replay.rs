//! Replays the fuzz corpora of `fuzz/corpus/xmlrpc_call/` and
//! `fuzz/corpus/filter/` through the fuzz targets' own bodies (the same
//! files, included), on the stable toolchain: every input that ever found
//! new coverage, and every past crash, runs again with each `cargo test`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step should panic loudly

#[path = "../../../fuzz/src/filter.rs"]
mod filter;
#[path = "../../../fuzz/src/table.rs"]
mod table;
#[path = "../../../fuzz/src/xmlrpc_call.rs"]
mod xmlrpc_call;

use std::fs;
use std::path::PathBuf;

/// The files of one target's corpus, sorted by name.
fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} is empty", dir.display());
    files
        .into_iter()
        .map(|path| {
            let bytes = fs::read(&path).unwrap();
            (path, bytes)
        })
        .collect()
}

fn replay(target: &str, run: fn(&[u8])) {
    for (path, bytes) in corpus(target) {
        if std::panic::catch_unwind(|| run(&bytes)).is_err() {
            panic!("fuzz target {target} fails on {}", path.display());
        }
    }
}

#[test]
fn xmlrpc_call_corpus_replays() {
    replay("xmlrpc_call", xmlrpc_call::run);
}

#[test]
fn filter_corpus_replays() {
    replay("filter", filter::run);
}
