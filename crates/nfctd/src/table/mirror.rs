//! The live mirror's handle: starting it, reading its published snapshots,
//! and asking its thread (`worker`) for a resync or for changes made through
//! the API. One thread owns the rows; readers get published snapshots.

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ctnetlink::{Conn, ConnKey, CtSocket, EventSocket};

use super::row::{Clock, Millis, Snapshot};
use super::rowset::RowSet;
use super::worker::Worker;

/// Which connections the mirror keeps out of sight (`--ignore`).
pub type Hidden = Arc<dyn Fn(&Conn) -> bool + Send + Sync>;

/// How the mirror runs.
#[derive(Clone)]
pub struct MirrorConfig {
    /// Full reconciliation period; `None` disables it.
    pub resync_interval: Option<Duration>,
    pub hidden: Hidden,
    /// Event socket receive buffer, bytes.
    pub event_buffer: usize,
}

impl std::fmt::Debug for MirrorConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MirrorConfig")
            .field("resync_interval", &self.resync_interval)
            .field("event_buffer", &self.event_buffer)
            .finish_non_exhaustive()
    }
}

/// Counters about the mirror's own work, for `stats` and metrics.
#[derive(Debug, Default)]
pub struct MirrorCounters {
    pub events: AtomicU64,
    pub resyncs: AtomicU64,
    pub overflows: AtomicU64,
    pub malformed: AtomicU64,
}

/// What a reconciliation found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResyncReport {
    pub entries: usize,
    pub added: usize,
    pub removed: usize,
}

pub(super) enum Command {
    Resync(Sender<Result<ResyncReport, String>>),
    /// Drop these rows (deleted in the kernel); reply once published.
    Forget(Vec<ConnKey>, Sender<()>),
    /// Record these kernel views (after a change); reply once published.
    Observe(Vec<Conn>, Sender<()>),
}

pub(super) struct Shared {
    pub(super) clock: Clock,
    pub(super) published: Mutex<Snapshot>,
    pub(super) live: AtomicBool,
    pub(super) counters: MirrorCounters,
    commands: Mutex<Sender<Command>>,
    waker: UnixStream,
}

/// A cheap handle to the mirror; clone it freely.
#[derive(Clone)]
pub struct Mirror {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Mirror {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mirror")
            .field("live", &self.is_live())
            .finish_non_exhaustive()
    }
}

/// Why the mirror could not start.
#[derive(Debug, thiserror::Error)]
pub enum MirrorError {
    #[error(transparent)]
    Kernel(#[from] ctnetlink::Error),
    #[error("cannot start the mirror thread: {0}")]
    Thread(#[from] std::io::Error),
}

impl Mirror {
    /// Subscribes to events, dumps the table, and starts the mirror thread, all in
    /// the calling thread's network namespace. Subscribing before the dump means
    /// no change between the two is lost.
    pub fn start(config: MirrorConfig) -> Result<Mirror, MirrorError> {
        let events = EventSocket::subscribe(config.event_buffer)?;
        let requests = CtSocket::open()?;
        let (tx, rx) = mpsc::channel();
        let (waker, wake_rx) = UnixStream::pair()?;
        waker.set_nonblocking(true)?;
        wake_rx.set_nonblocking(true)?;
        let clock = Clock::new();
        let shared = Arc::new(Shared {
            clock,
            published: Mutex::new(Snapshot::empty()),
            live: AtomicBool::new(false),
            counters: MirrorCounters::default(),
            commands: Mutex::new(tx),
            waker,
        });
        let mut worker = Worker {
            rows: RowSet::new(Arc::clone(&config.hidden)),
            config,
            clock,
            events,
            requests,
            commands: rx,
            wake_rx,
            shared: Arc::clone(&shared),
            dirty: false,
            last_publish: 0,
            retired: Vec::new(),
        };
        worker.resync()?;
        worker.publish();
        shared.live.store(true, Ordering::Release);
        std::thread::Builder::new()
            .name("mirror".into())
            .spawn(move || worker.run())?;
        Ok(Mirror { shared })
    }

    /// The latest published view of the table.
    pub fn snapshot(&self) -> Snapshot {
        lock(&self.shared.published).clone()
    }

    /// Now on the mirror's clock, the one row deadlines are measured on.
    pub fn now(&self) -> Millis {
        self.shared.clock.now()
    }

    /// Whether the mirror is following the kernel (false after an unrecovered failure).
    pub fn is_live(&self) -> bool {
        self.shared.live.load(Ordering::Acquire)
    }

    pub fn counters(&self) -> &MirrorCounters {
        &self.shared.counters
    }

    /// Forces a full reconciliation with the kernel and waits for it. Blocking.
    pub fn resync(&self) -> Result<ResyncReport, String> {
        let (tx, rx) = mpsc::channel();
        self.send(Command::Resync(tx))?;
        rx.recv()
            .map_err(|_| "the mirror thread stopped".to_string())?
    }

    /// Drops entries at once (after they were deleted in the kernel) and
    /// waits until a snapshot without them is published. Blocking.
    pub fn forget(&self, keys: Vec<ConnKey>) {
        if keys.is_empty() {
            return;
        }
        let (tx, rx) = mpsc::channel();
        if self.send(Command::Forget(keys, tx)).is_ok() {
            let _ = rx.recv();
        }
    }

    /// Records fresh kernel views of entries at once (after a change) and
    /// waits until they are published. Blocking.
    pub fn observe(&self, conns: Vec<Conn>) {
        let (tx, rx) = mpsc::channel();
        if self.send(Command::Observe(conns, tx)).is_ok() {
            let _ = rx.recv();
        }
    }

    fn send(&self, command: Command) -> Result<(), String> {
        lock(&self.shared.commands)
            .send(command)
            .map_err(|_| "the mirror thread stopped".to_string())?;
        // A full waker buffer already means a wake-up is pending.
        let _ = (&self.shared.waker).write(&[1]);
        Ok(())
    }
}

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave a half-written Snapshot or
    // Sender behind (both are replaced whole), so poisoning is safe to ignore.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
