//! The live mirror's handle: starting it, reading its published snapshots,
//! and asking its thread (`worker`) for a resync or for changes made through
//! the API. One thread owns the rows; readers get published snapshots.

use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::sync::Arc;

use ctnetlink::{Conn, ConnKey};

use super::row::{Millis, Snapshot};
use super::rowset::Hidden;
use super::shared::{lock, Command, MirrorCounters, ResyncReport, Shared};
use super::worker::{MirrorConfig, Worker};

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
    /// the calling thread's network namespace (see `Worker::new`).
    pub fn start(config: MirrorConfig) -> Result<Mirror, MirrorError> {
        let (shared, inbox) = Shared::new()?;
        let shared = Arc::new(shared);
        let worker = Worker::new(config, Arc::clone(&shared), inbox)?;
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
        self.shared.send(Command::Resync(tx))?;
        rx.recv()
            .map_err(|_| "the mirror thread stopped".to_string())?
    }

    /// Hides what `hidden` says from now on (a new `--ignore` list) and
    /// reconciles with the kernel so the served rows follow it. Blocking.
    pub fn set_hidden(&self, hidden: Hidden) -> Result<ResyncReport, String> {
        let (tx, rx) = mpsc::channel();
        self.shared.send(Command::Hide(hidden, tx))?;
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
        if self.shared.send(Command::Forget(keys, tx)).is_ok() {
            let _ = rx.recv();
        }
    }

    /// Notes that a view served these rows: for a while the mirror thread
    /// looks them up about once a second, so their counters and rates are
    /// live rather than as old as the last reconciliation. Does not wait.
    pub fn watch(&self, keys: Vec<ConnKey>) {
        // A few queued watches are plenty: the next view renews its rows.
        const MAX_PENDING: usize = 4;
        if keys.is_empty() || self.shared.pending_watches.load(Ordering::Relaxed) >= MAX_PENDING {
            return;
        }
        let mut keys = keys;
        keys.truncate(super::watch::MAX_WATCHED);
        self.shared.pending_watches.fetch_add(1, Ordering::Relaxed);
        if self.shared.send(Command::Watch(keys)).is_err() {
            self.shared.pending_watches.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Records fresh kernel views of entries at once (after a change) and
    /// waits until they are published. Blocking.
    pub fn observe(&self, conns: Vec<Conn>) {
        let (tx, rx) = mpsc::channel();
        if self.shared.send(Command::Observe(conns, tx)).is_ok() {
            let _ = rx.recv();
        }
    }
}
