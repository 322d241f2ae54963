//! The bounded spool between the mirror's thread and one target's sender
//! thread, and that target's counters. Offering never blocks: a full spool
//! drops the record and counts it, so a slow or absent receiver never holds
//! up the mirror.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TryRecvError};
use std::sync::Arc;
use std::time::Duration;

use super::record::FlowRecord;

/// What one target did so far, for `/metrics`.
#[derive(Debug, Default)]
pub struct TargetCounters {
    /// Records handed to the target (written, or sent in a datagram).
    pub sent: AtomicU64,
    /// Records lost: the spool was full, or the target refused them.
    pub dropped: AtomicU64,
    /// Records waiting in the spool now.
    pub spooled: AtomicU64,
}

impl TargetCounters {
    pub fn add_sent(&self, n: u64) {
        self.sent.fetch_add(n, Ordering::Relaxed);
    }

    pub fn add_dropped(&self, n: u64) {
        self.dropped.fetch_add(n, Ordering::Relaxed);
    }
}

/// The mirror's end of a spool.
pub(super) struct SpoolSender {
    tx: SyncSender<Arc<FlowRecord>>,
    counters: Arc<TargetCounters>,
}

/// The sender thread's end of a spool.
pub struct Spool {
    rx: Receiver<Arc<FlowRecord>>,
    counters: Arc<TargetCounters>,
}

/// A spool of `capacity` records counted in `counters`.
pub(super) fn spool(capacity: usize, counters: Arc<TargetCounters>) -> (SpoolSender, Spool) {
    let (tx, rx) = mpsc::sync_channel(capacity);
    let sender = SpoolSender {
        tx,
        counters: Arc::clone(&counters),
    };
    (sender, Spool { rx, counters })
}

impl SpoolSender {
    /// Queues `record`, or counts it dropped when the spool is full;
    /// returns whether it was queued.
    pub(super) fn offer(&self, record: Arc<FlowRecord>) -> bool {
        // Counted before the send, so the sender thread never takes more
        // than was counted in.
        self.counters.spooled.fetch_add(1, Ordering::Relaxed);
        if self.tx.try_send(record).is_err() {
            self.counters.spooled.fetch_sub(1, Ordering::Relaxed);
            self.counters.add_dropped(1);
            return false;
        }
        true
    }
}

/// Why no record came.
#[derive(Debug, PartialEq, Eq)]
pub enum Empty {
    /// None waiting (or none within the wait).
    Now,
    /// The mirror is gone: nothing will ever come.
    Closed,
}

impl Spool {
    pub fn counters(&self) -> &TargetCounters {
        &self.counters
    }

    /// The next record, waiting for it as long as it takes.
    pub fn recv(&self) -> Result<Arc<FlowRecord>, Empty> {
        self.took(self.rx.recv().map_err(|_| Empty::Closed))
    }

    /// The next record if one is waiting.
    pub fn try_recv(&self) -> Result<Arc<FlowRecord>, Empty> {
        self.took(self.rx.try_recv().map_err(|e| match e {
            TryRecvError::Empty => Empty::Now,
            TryRecvError::Disconnected => Empty::Closed,
        }))
    }

    /// The next record, waiting at most `wait`.
    pub fn recv_timeout(&self, wait: Duration) -> Result<Arc<FlowRecord>, Empty> {
        self.took(self.rx.recv_timeout(wait).map_err(|e| match e {
            RecvTimeoutError::Timeout => Empty::Now,
            RecvTimeoutError::Disconnected => Empty::Closed,
        }))
    }

    fn took(&self, got: Result<Arc<FlowRecord>, Empty>) -> Result<Arc<FlowRecord>, Empty> {
        if got.is_ok() {
            self.counters.spooled.fetch_sub(1, Ordering::Relaxed);
        }
        got
    }
}
