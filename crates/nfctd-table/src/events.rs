//! Draining the kernel's conntrack events into the rows: one bounded batch of
//! datagrams read, decoded and applied. The mirror's thread runs this, and the
//! benchmark measures this same function rather than a copy of it.

use ctnetlink::{EventKind, EventSocket};

use super::row::{unix_now, Clock};
use super::rowset::RowSet;

/// Datagrams read per batch: small enough that the caller soon gets control
/// back (to answer commands and publish) even in an event storm.
pub const BATCH_DATAGRAMS: usize = 64;

/// What one batch did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Drained {
    /// Netlink datagrams read.
    pub datagrams: usize,
    /// NEW events applied.
    pub new: usize,
    /// UPDATE events applied.
    pub updated: usize,
    /// DESTROY events applied.
    pub destroyed: usize,
    /// Messages that did not decode (counted, skipped).
    pub malformed: usize,
    /// Whether the rows changed (an unchanged row or a hidden connection does not).
    pub changed: bool,
}

impl Drained {
    /// Events decoded, of every kind.
    pub fn events(&self) -> usize {
        self.new + self.updated + self.destroyed
    }

    /// Whether the batch stopped at its bound, so more events may be waiting.
    pub fn full(&self) -> bool {
        self.datagrams >= BATCH_DATAGRAMS
    }
}

/// Reads up to [`BATCH_DATAGRAMS`] waiting datagrams from `socket` without
/// blocking, then applies their events to `rows`, all stamped with one clock
/// reading taken after the reads. On a socket error (an overflow, say) the
/// events read before it are still applied, since they are real (a DESTROY
/// among them carries final counters an export wants), and then the error is
/// returned: the caller resynchronises, and the dump covers what was lost.
pub fn drain_events(
    socket: &mut EventSocket,
    rows: &mut RowSet,
    clock: &Clock,
) -> Result<Drained, ctnetlink::Error> {
    let mut drained = Drained::default();
    let mut batch = Vec::new();
    let mut failed = None;
    while drained.datagrams < BATCH_DATAGRAMS {
        let received = socket.recv(|event| match event {
            Ok(e) => batch.push(e),
            Err(_) => drained.malformed += 1,
        });
        match received {
            Ok(0) => break,
            Ok(_) => drained.datagrams += 1,
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
    }
    let (now, unix) = (clock.now(), unix_now());
    for event in batch {
        match event.kind {
            EventKind::New => drained.new += 1,
            EventKind::Update => drained.updated += 1,
            EventKind::Destroy => drained.destroyed += 1,
        }
        drained.changed |= rows.apply(event, now, unix);
    }
    match failed {
        Some(e) => Err(e),
        None => Ok(drained),
    }
}
