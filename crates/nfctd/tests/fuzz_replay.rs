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

#[path = "../../../fuzz/src/replay.rs"]
mod replay;

use replay::replay;

#[test]
fn xmlrpc_call_corpus_replays() {
    replay("xmlrpc_call", xmlrpc_call::run);
}

#[test]
fn filter_corpus_replays() {
    replay("filter", filter::run);
}
