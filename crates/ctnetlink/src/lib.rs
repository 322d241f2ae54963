//! Linux conntrack over netlink: dump the table, follow its events, delete and
//! update single entries by tuple and id, and read the kernel's statistics.
//!
//! Blocking sockets, no async; one flat [`Conn`] value type; the dump path
//! decodes attributes in place.
//!
//! Values need no kernel:
//!
//! ```
//! use ctnetlink::consts::IPPROTO_TCP;
//! use ctnetlink::{names, Conn, Family};
//!
//! let conn = Conn::flow(IPPROTO_TCP, "192.0.2.1".parse()?, "198.51.100.2".parse()?, 40000, 443);
//! assert_eq!(conn.family, Family::Ipv4);
//! assert_eq!((conn.reply.sport, conn.reply.dport), (443, 40000));
//! assert_eq!(names::proto_name(conn.l4proto), "tcp");
//! // What `get`, `delete` and `update` address an entry by: its tuple and id.
//! let key = conn.key();
//! assert_eq!((key.orig, key.id), (conn.orig, conn.id));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Requests need CAP_NET_ADMIN over the network namespace (the owner of a
//! private one has it, see the `netns` crate):
//!
//! ```no_run
//! use ctnetlink::{Change, CtSocket, Error};
//!
//! let mut ct = CtSocket::open()?;
//! let summary = ct.dump(|conn| println!("{} {} -> {}", conn.id, conn.orig.src, conn.orig.dst))?;
//! println!("{} entries, {} malformed", summary.entries, summary.malformed);
//! for conn in ct.dump_all()?.iter().filter(|c| c.orig.dport == 443) {
//!     match ct.update(&conn.key(), Change::Mark(1)) {
//!         Ok(_) | Err(Error::NotFound) => {} // changed, or ended meanwhile
//!         Err(e) => return Err(e),
//!     }
//! }
//! println!("{:?}", ct.stats()?);
//! # Ok::<(), Error>(())
//! ```

#![warn(missing_docs)]

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
