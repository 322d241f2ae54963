//! One mirrored connection (`Row`) and a consistent, shareable view of the table (`Snapshot`).

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use ctnetlink::Conn;

/// Milliseconds on the mirror's monotonic clock (since the process started).
pub type Millis = u64;

/// The mirror's monotonic clock: cheap to read, never goes backwards.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    epoch: Instant,
}

impl Clock {
    /// A clock reading 0 now.
    pub fn new() -> Clock {
        Clock {
            epoch: Instant::now(),
        }
    }

    /// Milliseconds since the clock was made.
    pub fn now(&self) -> Millis {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}

/// Wall-clock Unix seconds now: the time base of `Row::started_unix`.
pub(super) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Wall-clock Unix milliseconds now: the time base of reconciliation stamps
/// and export records.
pub fn unix_millis() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A connection as the mirror knows it: the kernel's view plus what the mirror
/// derived over time (expiry deadline, first sight, byte rate).
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The entry as the kernel last reported it.
    pub conn: Conn,
    /// When the kernel's timeout runs out, on the mirror clock.
    pub deadline: Millis,
    /// Unix seconds when the entry started: the kernel's start timestamp when
    /// timestamps are on, else when the mirror first saw it.
    pub started_unix: u64,
    /// Bytes per second, both directions, over the last observed interval.
    pub rate: f64,
    /// Total bytes and mirror time of the last counter observation, for the next rate.
    pub sampled_bytes: u64,
    /// See `sampled_bytes`.
    pub sampled_at: Millis,
}

impl Row {
    /// A row of `conn` that started at `started_unix`, with no deadline and
    /// no rate yet: a row made outside the mirror (tests, benchmarks).
    pub fn fixture(conn: Conn, started_unix: u64) -> Row {
        Row {
            conn,
            deadline: 0,
            started_unix,
            rate: 0.0,
            sampled_bytes: 0,
            sampled_at: 0,
        }
    }

    /// Seconds left before expiry at mirror time `now`.
    pub fn timeout_at(&self, now: Millis) -> u32 {
        u32::try_from(self.deadline.saturating_sub(now) / 1000).unwrap_or(u32::MAX)
    }

    /// Seconds since the entry started, at wall time `now_unix`.
    pub fn age_at(&self, now_unix: u64) -> u64 {
        now_unix.saturating_sub(self.started_unix)
    }
}

/// An immutable view of the whole table at one moment. Cheap to clone (an `Arc`)
/// and to keep: frozen sessions hold one while the mirror moves on.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Every row, in no particular order.
    pub rows: Arc<Vec<Arc<Row>>>,
    /// Mirror time the view was taken at (timeouts are computed against it).
    pub at: Millis,
    /// Wall-clock time the view was taken at.
    pub taken: SystemTime,
}

impl Snapshot {
    /// A table with no rows, taken now.
    pub fn empty() -> Snapshot {
        Snapshot {
            rows: Arc::new(Vec::new()),
            at: 0,
            taken: SystemTime::now(),
        }
    }

    /// How many rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Unix seconds of `taken`.
    pub fn taken_unix(&self) -> u64 {
        self.taken
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }
}
