//! cargo-fuzz target `netlink_dump`: the body is [`nfctd_fuzz::netlink_dump::run`], shared
//! with the replay test of the normal test suite.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| nfctd_fuzz::netlink_dump::run(data));
