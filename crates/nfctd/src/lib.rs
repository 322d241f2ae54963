//! nfctd as a library: the service layer (sessions, roles, views, actions),
//! the fronts (XML-RPC, the JSON API and web UI, `/metrics`), flow export,
//! configuration and the demo, over the table mirror of `nfctd-table`. The
//! binary only parses the command line and calls [`run`]; see
//! docs/architecture.md for the layers.

mod accounting;
mod alloc;
mod api;
mod auth;
mod config;
mod daemon;
mod demo;
mod edge;
mod export;
mod gate;
mod hosts;
mod logging;
mod manual;
mod metrics;
mod net;
mod notify;
mod privileges;
mod reload;
mod router;
mod service;
#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;
mod web;
mod xmlrpc;

pub use config::Cli;
pub use daemon::run;
pub use service::MAX_FROZEN;

/// What the fuzz targets (`fuzz/`, built with nightly outside the workspace)
/// and `tests/fuzz_replay.rs` drive: the XML-RPC parameter door without a
/// live service. Not an API for anything else.
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::service::{ApiError, PageRange};
    pub use crate::xmlrpc::{Fault, Params};
}
