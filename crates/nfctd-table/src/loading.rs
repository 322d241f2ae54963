//! The first dump while it runs: how far it got ([`Loading`], read through
//! `Mirror::loading`), and how it ended ([`FirstDump`], for whoever waits on
//! the start). The mirror's thread does the first dump itself and publishes
//! what it has read as it goes, so readers are served from the start.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use super::error::MirrorError;
use super::shared::ResyncReport;

/// How far the first dump got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Loading {
    /// Entries the dump has read so far (hidden ones included, as the
    /// kernel counts them).
    pub loaded: u64,
    /// The kernel's entry count when the dump began, raised to `loaded` if
    /// more arrived meanwhile. It counts entries whose timeout ran out but
    /// that the kernel has not reaped yet, which a dump skips: the dump may
    /// end below it.
    pub expected: u64,
}

/// The first dump's progress, shared by the thread (writer) and the handle.
#[derive(Debug, Default)]
pub(super) struct Progress {
    loading: AtomicBool,
    loaded: AtomicU64,
    expected: AtomicU64,
}

impl Progress {
    /// The first dump is under way; nothing read yet.
    pub(super) fn begin(&self) {
        self.loaded.store(0, Ordering::Relaxed);
        self.expected.store(0, Ordering::Relaxed);
        self.loading.store(true, Ordering::Release);
    }

    /// The kernel's count when the dump began.
    pub(super) fn expect(&self, entries: u64) {
        self.expected.store(entries, Ordering::Relaxed);
    }

    /// `n` more entries read.
    pub(super) fn read(&self, n: u64) {
        self.loaded.fetch_add(n, Ordering::Relaxed);
    }

    /// The first dump is over, whole or failed.
    pub(super) fn end(&self) {
        self.loading.store(false, Ordering::Release);
    }

    /// How far the first dump got, while it runs.
    pub(super) fn get(&self) -> Option<Loading> {
        if !self.loading.load(Ordering::Acquire) {
            return None;
        }
        let loaded = self.loaded.load(Ordering::Relaxed);
        let expected = self.expected.load(Ordering::Relaxed).max(loaded);
        Some(Loading { loaded, expected })
    }
}

/// What the thread tells the start about the first dump.
pub(super) type Outcome = Result<ResyncReport, ctnetlink::Error>;

/// How the first dump ended, for whoever started the mirror.
#[derive(Debug)]
pub struct FirstDump {
    outcome: mpsc::Receiver<Outcome>,
}

impl FirstDump {
    pub(super) fn new() -> (mpsc::Sender<Outcome>, FirstDump) {
        let (tx, outcome) = mpsc::channel();
        (tx, FirstDump { outcome })
    }

    /// Waits for the whole first dump: the mirror is then live. Its error
    /// is the kernel's (the mirror thread has stopped), as `Mirror::start`
    /// reports it.
    pub fn wait(self) -> Result<ResyncReport, MirrorError> {
        match self.outcome.recv() {
            Ok(outcome) => outcome.map_err(MirrorError::from),
            Err(mpsc::RecvError) => Err(MirrorError::Stopped),
        }
    }

    /// Waits at most `timeout`: `None` while the dump still runs.
    pub fn wait_timeout(&self, timeout: Duration) -> Option<Result<ResyncReport, MirrorError>> {
        match self.outcome.recv_timeout(timeout) {
            Ok(outcome) => Some(outcome.map_err(MirrorError::from)),
            Err(mpsc::RecvTimeoutError::Timeout) => None,
            Err(mpsc::RecvTimeoutError::Disconnected) => Some(Err(MirrorError::Stopped)),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn progress_is_shown_only_while_loading_and_never_past_its_end() {
        let progress = Progress::default();
        assert_eq!(progress.get(), None);
        progress.begin();
        assert_eq!(
            progress.get(),
            Some(Loading {
                loaded: 0,
                expected: 0
            })
        );
        progress.expect(10);
        progress.read(4);
        assert_eq!(
            progress.get(),
            Some(Loading {
                loaded: 4,
                expected: 10
            })
        );
        // Entries created during the dump: the count follows what was read.
        progress.read(8);
        assert_eq!(
            progress.get(),
            Some(Loading {
                loaded: 12,
                expected: 12
            })
        );
        progress.end();
        assert_eq!(progress.get(), None);
    }

    #[test]
    fn a_thread_gone_without_a_word_is_stopped() {
        let (tx, first) = FirstDump::new();
        assert!(first.wait_timeout(Duration::from_millis(1)).is_none());
        drop(tx);
        assert!(matches!(
            first.wait_timeout(Duration::ZERO),
            Some(Err(MirrorError::Stopped))
        ));
        let (tx, first) = FirstDump::new();
        tx.send(Err(ctnetlink::Error::PermissionDenied)).unwrap();
        let error = first.wait().unwrap_err();
        assert!(matches!(
            error.kernel(),
            Some(ctnetlink::Error::PermissionDenied)
        ));
    }
}
