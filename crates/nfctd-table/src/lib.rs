//! nfctd-table: the live mirror of the kernel's connection-tracking table,
//! its snapshots, frozen views with their overlays, and the query engine
//! (filter, sort, page). It knows ctnetlink and nothing of HTTP, sessions or
//! the API fronts; see docs/architecture.md.
//!
//! The mirror's modules import one way: `mirror` (the handle) starts a
//! `worker` (its thread), which drains `events` into a `rowset`; the handle
//! and the thread meet only in `shared`. Rows a view served are `watch`ed:
//! the thread looks them up every second so their rates stay live.

pub mod cidr;
pub mod clip;
mod ended_lately;
mod error;
mod events;
mod flows;
mod frozen;
mod merge;
mod mirror;
pub mod query;
mod row;
mod rowset;
mod shared;
mod watch;
mod worker;
pub mod wrapped_u32;

pub use error::MirrorError;
pub use events::{drain_events, Drained, BATCH_DATAGRAMS};
pub use flows::{EndReason, FlowObserver, Observer};
pub use frozen::Frozen;
pub use mirror::Mirror;
pub use row::{unix_millis, Clock, Millis, Row, Snapshot};
pub use rowset::{Hidden, RowSet};
pub use shared::{MirrorCounters, ResyncReport};
pub use worker::MirrorConfig;
