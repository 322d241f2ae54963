//! nfctd as a library: the table mirror and query engine, the service layer,
//! the API fronts and the demo, wired together by `main.rs` (and reused by the
//! integration tests and benchmarks).

pub mod api;
pub mod clip;
pub mod config;
pub mod demo;
pub mod http;
pub mod service;
pub mod table;
pub mod web;
pub mod wrapped_u32;
pub mod xmlrpc;
