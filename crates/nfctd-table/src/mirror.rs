//! The live mirror's handle: starting it, reading its published snapshots,
//! and asking its thread (`worker`) for a resync or for changes made through
//! the API. One thread owns the rows; readers get published snapshots.

use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::sync::Arc;

use ctnetlink::{Conn, ConnKey};

use super::error::MirrorError;
use super::loading::{FirstDump, Loading};
use super::row::Millis;
use super::rowset::Hidden;
use super::shared::{lock, Command, MirrorCounters, ResyncReport, Resynced, Shared};
use super::snapshot::Snapshot;
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
            .field("loading", &self.loading())
            .finish_non_exhaustive()
    }
}

impl Mirror {
    /// Subscribes to events, dumps the table, and starts the mirror thread, all in
    /// the calling thread's network namespace (see `Worker::new`); returns once
    /// the whole table is loaded and the mirror is live, or with the first
    /// dump's error.
    pub fn start(config: MirrorConfig) -> Result<Mirror, MirrorError> {
        let (mirror, first) = Mirror::start_loading(config)?;
        first.wait()?;
        Ok(mirror)
    }

    /// Subscribes to events and starts the mirror thread, which does the first
    /// dump, in the calling thread's network namespace (see `Worker::new`).
    /// Returns at once: while the dump runs, snapshots hold the rows read so
    /// far and [`Mirror::loading`] says how far it got; [`FirstDump`] tells
    /// how it ended. If it fails, the thread stops: the mirror never turns
    /// live.
    pub fn start_loading(config: MirrorConfig) -> Result<(Mirror, FirstDump), MirrorError> {
        let (shared, inbox) = Shared::new()?;
        let shared = Arc::new(shared);
        let (worker, loader) = Worker::new(config, Arc::clone(&shared), inbox)?;
        let (outcome, first) = FirstDump::new();
        std::thread::Builder::new()
            .name("mirror".into())
            .spawn(move || worker.run(loader, outcome))?;
        Ok((Mirror { shared }, first))
    }

    /// How far the first dump got, while it runs; `None` once the mirror is
    /// live (or if the first dump failed).
    pub fn loading(&self) -> Option<Loading> {
        self.shared.progress.get()
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

    /// The mirror's own counters (events, reconciliations, overflows).
    pub fn counters(&self) -> &MirrorCounters {
        &self.shared.counters
    }

    /// Forces a full reconciliation with the kernel and waits for it. Blocking.
    pub fn resync(&self) -> Result<ResyncReport, MirrorError> {
        let (tx, rx) = mpsc::channel();
        self.shared.send(Command::Resync(tx))?;
        answer(&rx)
    }

    /// Hides what `hidden` says from now on (a new `--ignore` list) and
    /// reconciles with the kernel so the served rows follow it. Blocking.
    pub fn set_hidden(&self, hidden: Hidden) -> Result<ResyncReport, MirrorError> {
        let (tx, rx) = mpsc::channel();
        self.shared.send(Command::Hide(hidden, tx))?;
        answer(&rx)
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

/// The thread's answer to a reconciliation; no answer means it stopped.
fn answer(reply: &mpsc::Receiver<Resynced>) -> Result<ResyncReport, MirrorError> {
    match reply.recv() {
        Ok(resynced) => resynced.map_err(MirrorError::Kernel),
        Err(mpsc::RecvError) => Err(MirrorError::Stopped),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A handle, and the thread's end of its queue for the test to play the thread.
    fn handle() -> (Mirror, crate::shared::Inbox) {
        let (shared, inbox) = Shared::new().unwrap();
        let shared = Arc::new(shared);
        (Mirror { shared }, inbox)
    }

    #[test]
    fn a_thread_that_is_gone_is_stopped() {
        // Gone before the command: the queue refuses it.
        let (mirror, inbox) = handle();
        drop(inbox);
        assert!(matches!(mirror.resync(), Err(MirrorError::Stopped)));
        let hidden: Hidden = Arc::new(|_: &Conn| false);
        assert!(matches!(
            mirror.set_hidden(hidden),
            Err(MirrorError::Stopped)
        ));
        assert_eq!(
            MirrorError::Stopped.to_string(),
            "the mirror thread stopped"
        );
    }

    #[test]
    fn the_kernels_refusal_reaches_every_caller_typed() {
        let (mirror, inbox) = handle();
        let thread = std::thread::spawn(move || {
            // Two queued requests share one failed reconciliation.
            let mut replies = Vec::new();
            while replies.len() < 2 {
                match inbox.next() {
                    Some(Command::Resync(reply)) => replies.push(reply),
                    _ => std::thread::yield_now(),
                }
            }
            let failed: Resynced = Err(Arc::new(ctnetlink::Error::PermissionDenied));
            for reply in replies {
                reply.send(failed.clone()).unwrap();
            }
            // Then the thread ends with a request unanswered.
            while inbox.next().is_none() {
                std::thread::yield_now();
            }
        });
        let other = mirror.clone();
        let first = std::thread::spawn(move || other.resync());
        let second = mirror.resync();
        for result in [first.join().unwrap(), second] {
            assert!(
                matches!(
                    result.as_ref().map_err(MirrorError::kernel),
                    Err(Some(ctnetlink::Error::PermissionDenied))
                ),
                "{result:?}"
            );
        }
        assert!(matches!(mirror.resync(), Err(MirrorError::Stopped)));
        thread.join().unwrap();
    }
}
