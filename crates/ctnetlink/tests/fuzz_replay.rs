//! Replays the fuzz corpus of `fuzz/corpus/netlink_dump/` (captured kernel
//! answers and everything the fuzzer kept) through the fuzz target's own
//! body (the same file, included), on the stable toolchain.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step should panic loudly

#[path = "../../../fuzz/src/netlink_dump.rs"]
mod netlink_dump;

#[path = "../../../fuzz/src/replay.rs"]
mod replay;

#[test]
fn netlink_dump_corpus_replays() {
    replay::replay("netlink_dump", netlink_dump::run);
}
