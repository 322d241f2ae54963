//! cargo-fuzz target `xmlrpc_call`: the body is [`nfctd_fuzz::xmlrpc_call::run`], shared
//! with the replay test of the normal test suite.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| nfctd_fuzz::xmlrpc_call::run(data));
