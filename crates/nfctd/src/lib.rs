//! nfctd as a library: the table mirror and query engine, the service layer,
//! the API fronts and the demo, wired together by `main.rs` (and reused by the
//! integration tests and benchmarks).

pub mod accounting;
pub mod api;
pub mod auth;
pub mod cidr;
pub mod clip;
pub mod config;
pub mod demo;
pub mod export;
pub mod gate;
pub mod hosts;
pub mod http;
pub mod logging;
pub mod manual;
pub mod metrics;
pub mod net;
pub mod notify;
pub mod privileges;
pub mod reload;
pub mod service;
pub mod table;
pub mod web;
pub mod wrapped_u32;
pub mod xmlrpc;
