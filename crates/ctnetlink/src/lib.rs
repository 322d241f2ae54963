//! Linux conntrack over netlink: dump the table, follow its events, delete and
//! update single entries by tuple and id, and read the kernel's statistics.
//!
//! Blocking sockets, no async; one flat [`Conn`] value type; the dump path
//! decodes attributes in place.

mod attr;
mod conn;
pub mod consts;
mod decode;
mod error;
mod events;
mod fd;
#[cfg(feature = "fixtures")]
pub mod fixtures;
mod frame;
pub mod names;
mod request;
mod socket;
// Public for the fuzz targets (fuzz/), which feed it captured and mutated answers.
pub mod stats;
#[cfg(test)]
mod testutil;

pub use conn::{Conn, Counters, Family, Tuple};
pub use decode::decode_conn;
pub use error::{errno_words, DecodeError, Error};
pub use events::{decode_events, Event, EventKind, EventSocket};
pub use frame::{Frame, Frames};
pub use request::{Change, ConnKey};
pub use socket::{CtSocket, DumpSummary};
pub use stats::Stats;
