//! The query engine: which rows a `view` filter selects, in which order, which
//! page of them, and how one row renders for every API front. Fronts hand
//! filters over as a wire-neutral [`FilterSpec`].
//!
//! Filters are validated once per call into a compiled [`Filter`], which then
//! runs over the whole snapshot without allocating per row; sort keys are read
//! once per matching row, and only the requested page is fully sorted.

mod cache;
mod context;
mod declare;
mod dotted;
mod error;
mod extract;
mod field;
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod field_tests;
mod filter;
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod filter_tests;
mod key;
mod pattern;
mod q;
mod reader;
mod render;
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod render_tests;
pub(crate) mod sort;
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod sort_tests;
mod spec;
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod testutil;

// Re-exported: what other modules name.
use crate::cidr::Cidr;
pub use cache::Pages;
pub use context::{Context, UserNames};
pub use error::QueryError;
pub use field::{render, Connection, Owner};
pub use filter::Filter;
pub use render::Shown;
pub use sort::{run, Order, Page};
pub use spec::{FilterSpec, FilterValue};

pub use field::Field;
