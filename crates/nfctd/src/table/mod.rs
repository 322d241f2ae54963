//! The table area: the live mirror of the kernel table, its snapshots and the
//! query engine (filter, sort, page).

pub mod query;
mod row;

pub use row::{Clock, Millis, Row, Snapshot};
