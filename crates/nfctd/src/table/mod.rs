//! The table area: the live mirror of the kernel table, its snapshots and the
//! query engine (filter, sort, page).

mod merge;
mod mirror;
pub mod query;
mod row;
mod rowset;
mod worker;

pub use mirror::{Hidden, Mirror, MirrorConfig, MirrorCounters, MirrorError, ResyncReport};
pub use row::{Clock, Millis, Row, Snapshot};
pub use rowset::RowSet;
