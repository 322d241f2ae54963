//! What the mirror's handle and its thread share: the published snapshot, the
//! counters, liveness, the first dump's progress, and the command queue with
//! the waker that interrupts the thread's poll. The handle holds the sending
//! side ([`Shared`]), the thread the receiving side ([`Inbox`]).

use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, MutexGuard};

use ctnetlink::{Conn, ConnKey};

use super::error::MirrorError;
use super::loading::Progress;
use super::row::{unix_millis, Clock};
use super::rowset::Hidden;
use super::snapshot::Snapshot;

/// Counters about the mirror's own work, for `stats` and metrics.
#[derive(Debug, Default)]
pub struct MirrorCounters {
    /// NEW events applied.
    pub events_new: AtomicU64,
    /// UPDATE events applied.
    pub events_update: AtomicU64,
    /// DESTROY events applied.
    pub events_destroy: AtomicU64,
    /// Full reconciliations done.
    pub resyncs: AtomicU64,
    /// Microseconds all reconciliations took together.
    pub resync_micros: AtomicU64,
    /// Unix milliseconds when the last full reconciliation ended (0: none yet).
    pub last_resync_unix_ms: AtomicU64,
    /// Times the event socket overflowed (ENOBUFS: events were lost, so a
    /// reconciliation followed).
    pub overflows: AtomicU64,
    /// Kernel messages that did not decode (counted and skipped).
    pub malformed: AtomicU64,
}

impl MirrorCounters {
    /// Counts one whole dump (the first load or a reconciliation): its
    /// undecodable messages, how long it took, and when it ended.
    pub(super) fn dumped(&self, malformed: usize, took: std::time::Duration) {
        self.malformed
            .fetch_add(malformed as u64, Ordering::Relaxed);
        self.resyncs.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.resync_micros.fetch_add(micros, Ordering::Relaxed);
        self.last_resync_unix_ms
            .store(unix_millis(), Ordering::Relaxed);
    }

    /// Events applied, of every kind.
    pub fn events(&self) -> u64 {
        [&self.events_new, &self.events_update, &self.events_destroy]
            .iter()
            .map(|c| c.load(std::sync::atomic::Ordering::Relaxed))
            .sum()
    }
}

/// What a reconciliation found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResyncReport {
    /// Rows in the table after it.
    pub entries: usize,
    /// Rows the dump had that the mirror did not.
    pub added: usize,
    /// Rows the mirror had that the dump did not (ended unseen).
    pub removed: usize,
}

/// What a reconciliation did, as the thread answers it: one dump serves
/// every request queued meanwhile, so its error is shared.
pub(super) type Resynced = Result<ResyncReport, Arc<ctnetlink::Error>>;

/// What the handle asks of the mirror's thread.
pub(super) enum Command {
    Resync(Sender<Resynced>),
    /// Hide these connections from now on (a new `--ignore` list), then
    /// resync so the rows follow the new rule.
    Hide(Hidden, Sender<Resynced>),
    /// Drop these rows (deleted in the kernel); reply once published.
    Forget(Vec<ConnKey>, Sender<()>),
    /// Record these kernel views (after a change); reply once published.
    Observe(Vec<Conn>, Sender<()>),
    /// A view served these rows: keep their counters (and rates) fresh.
    Watch(Vec<ConnKey>),
}

/// The state both sides see, and the way into the thread's queue.
pub(super) struct Shared {
    pub(super) clock: Clock,
    pub(super) published: Mutex<Snapshot>,
    pub(super) live: AtomicBool,
    /// How far the first dump got, while it runs.
    pub(super) progress: Progress,
    pub(super) counters: MirrorCounters,
    /// Watch commands sent and not yet taken: views send one each, and while
    /// the thread is busy (a resync) they must not pile up without bound.
    pub(super) pending_watches: AtomicUsize,
    commands: Mutex<Sender<Command>>,
    waker: UnixStream,
}

/// The thread's end of the command queue.
pub(super) struct Inbox {
    commands: Receiver<Command>,
    wake_rx: UnixStream,
}

impl Shared {
    /// A fresh, not yet live state with an empty snapshot, and the queue's
    /// receiving end for the thread.
    pub(super) fn new() -> std::io::Result<(Shared, Inbox)> {
        let (tx, rx) = mpsc::channel();
        let (waker, wake_rx) = UnixStream::pair()?;
        // Neither side may block: a full waker already means a wake-up is pending.
        waker.set_nonblocking(true)?;
        wake_rx.set_nonblocking(true)?;
        let shared = Shared {
            clock: Clock::new(),
            published: Mutex::new(Snapshot::empty()),
            live: AtomicBool::new(false),
            progress: Progress::default(),
            counters: MirrorCounters::default(),
            pending_watches: AtomicUsize::new(0),
            commands: Mutex::new(tx),
            waker,
        };
        Ok((
            shared,
            Inbox {
                commands: rx,
                wake_rx,
            },
        ))
    }

    /// Queues a command and wakes the thread; fails once the thread is gone.
    pub(super) fn send(&self, command: Command) -> Result<(), MirrorError> {
        lock(&self.commands)
            .send(command)
            .map_err(|_| MirrorError::Stopped)?;
        // A full waker buffer already means a wake-up is pending.
        let _ = (&self.waker).write(&[1]);
        Ok(())
    }
}

impl Inbox {
    /// The descriptor that turns readable when a command is queued.
    pub(super) fn waker(&self) -> BorrowedFd<'_> {
        self.wake_rx.as_fd()
    }

    /// Empties the waker after a poll; the commands themselves stay queued.
    pub(super) fn clear_wakeups(&self) {
        let mut sink = [0u8; 64];
        while matches!((&self.wake_rx).read(&mut sink), Ok(n) if n > 0) {}
    }

    /// The next queued command, if any.
    pub(super) fn next(&self) -> Option<Command> {
        self.commands.try_recv().ok()
    }
}

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave a half-written Snapshot or
    // Sender behind (both are replaced whole), so poisoning is safe to ignore.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
