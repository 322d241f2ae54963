//! The bodies of the fuzz targets, one module per target, each with a
//! `run(&[u8])` that panics on a finding. The replay tests of the normal test
//! suite (`crates/*/tests/fuzz_replay.rs`) include these same files with
//! `#[path]` and run them over `fuzz/corpus/`, so the two cannot drift apart;
//! the files therefore name shared helpers as `crate::table::…`.

pub mod filter;
pub mod netlink_dump;
pub mod table;
pub mod xmlrpc_call;
