//! nfctd-table: the live mirror of the kernel's connection-tracking table,
//! its snapshots, frozen views with their overlays, and the query engine
//! (filter, sort, page). It knows ctnetlink and nothing of HTTP, sessions or
//! the API fronts; see docs/architecture.md.
//!
//! The mirror's modules import one way: `mirror` (the handle) starts a
//! `worker` (its thread), which loads the table (its progress in `loading`),
//! then drains `events` into a `rowset`; the handle and the thread meet only
//! in `shared`. A `rowset` keeps its rows (`row`, packed by `pack`) in a
//! `slab` of copy-on-write chunks, found through an `index`; `reconcile`
//! merges a full dump into them; a `snapshot` is the chunk list, and `frozen`
//! lays one reader's changes over one. Rows a view served are `watch`ed:
//! the thread looks them up every second so their rates stay live.
//!
//! A view over a table made from rows (the mirror publishes the same
//! [`Snapshot`]s): the TCP connections to port 443, biggest mark first.
//!
//! ```
//! use std::time::SystemTime;
//!
//! use ctnetlink::Conn;
//! use nfctd_table::query::{run, Context, Filter, FilterSpec, FilterValue, Order};
//! use nfctd_table::{Row, Snapshot};
//!
//! let conn = |dport: u16, mark: u32| {
//!     let mut c = Conn::flow(6, "192.0.2.1".parse().unwrap(), "198.51.100.7".parse().unwrap(), 40000, dport);
//!     c.mark = mark;
//!     Row::fixture(c, 1_700_000_000)
//! };
//! let rows = vec![conn(443, 1), conn(22, 9), conn(443, 7)];
//! let snapshot = Snapshot::from_rows(rows, 0, SystemTime::now());
//! let spec: FilterSpec = [
//!     ("proto", FilterValue::text("tcp")),
//!     ("orig_dport", FilterValue::Int(443)),
//! ]
//! .into_iter()
//! .collect();
//! let filter = Filter::compile(&spec).unwrap();
//! let order = Order::parse("mark", "desc").unwrap();
//! let page = run(&snapshot, &filter, &order, 0, 10, &Context::at(&snapshot));
//! assert_eq!(page.total, 2);
//! let marks: Vec<u32> = page.rows.iter().map(|row| row.mark()).collect();
//! assert_eq!(marks, [7, 1]);
//!
//! // A filter that does not parse is refused with the key it names.
//! let bad: FilterSpec = [("orig_src", FilterValue::text("10.0.0.0/40"))].into_iter().collect();
//! assert!(Filter::compile(&bad).unwrap_err().to_string().contains("orig_src"));
//! ```

#![warn(missing_docs)]

pub mod cidr;
pub mod clip;
mod ended_lately;
mod error;
mod events;
mod flows;
mod frozen;
mod index;
mod loading;
mod merge;
mod mirror;
mod pack;
pub mod query;
mod reconcile;
mod row;
mod rowset;
mod shared;
mod slab;
mod snapshot;
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod storage_props;
mod watch;
mod worker;
pub mod wrapped_u32;

pub use error::MirrorError;
pub use events::{drain_events, Drained, BATCH_DATAGRAMS};
pub use flows::{EndReason, FlowObserver, Observer};
pub use frozen::Frozen;
pub use loading::{FirstDump, Loading};
pub use mirror::Mirror;
pub use row::{unix_millis, Clock, Millis, Row, TICK};
pub use rowset::{Hidden, RowSet};
pub use shared::{MirrorCounters, ResyncReport};
pub use snapshot::{Snapshot, CHUNK};
pub use worker::MirrorConfig;
