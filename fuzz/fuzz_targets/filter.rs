//! cargo-fuzz target `filter`: the body is [`nfctd_fuzz::filter::run`], shared
//! with the replay test of the normal test suite.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| nfctd_fuzz::filter::run(data));
