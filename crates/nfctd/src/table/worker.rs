//! The mirror's thread: applies events, reconciles with full dumps, checks
//! expired rows against the kernel, recovers from event overflow, handles the
//! handle's commands, and publishes snapshots.

use std::io::Read;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ctnetlink::{CtSocket, EventSocket};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use super::mirror::{lock, Command, MirrorConfig, ResyncReport, Shared};
use super::row::{Clock, Millis, Snapshot};
use super::rowset::RowSet;

/// Publish at most this often while events stream in.
const PUBLISH_EVERY: Millis = 100;
/// How often rows past their deadline are checked against the kernel.
const EXPIRY_EVERY: Millis = 1000;
/// Expired rows looked up per check; the rest wait for the next one (and the
/// periodic reconciliation covers them all).
const EXPIRY_LOOKUPS: usize = 256;
/// Datagrams read before applying and checking commands again.
const EVENT_BATCH: usize = 64;
/// Batches drained before timers get their turn, even in an event storm.
const EVENT_BATCHES: usize = 16;

pub(super) struct Worker {
    pub(super) config: MirrorConfig,
    pub(super) clock: Clock,
    pub(super) rows: RowSet,
    pub(super) events: EventSocket,
    pub(super) requests: CtSocket,
    pub(super) commands: Receiver<Command>,
    pub(super) wake_rx: UnixStream,
    pub(super) shared: Arc<Shared>,
    pub(super) dirty: bool,
    pub(super) last_publish: Millis,
    /// Snapshots just replaced: freeing their rows waits until pending
    /// replies are sent, so a caller of `resync` does not wait for it.
    pub(super) retired: Vec<Snapshot>,
}

/// Marks the mirror as not live when its thread ends, however it ends.
struct LiveGuard(Arc<Shared>);

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.0.live.store(false, Ordering::Release);
        tracing::error!("the mirror thread stopped: the table is no longer followed");
    }
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Worker {
    pub(super) fn run(mut self) {
        let _guard = LiveGuard(Arc::clone(&self.shared));
        let every = self.config.resync_interval.map(millis);
        let mut next_resync = every.map(|e| self.clock.now().saturating_add(e));
        let mut next_expiry = self.clock.now().saturating_add(EXPIRY_EVERY);
        loop {
            let now = self.clock.now();
            let mut wait = next_expiry.saturating_sub(now);
            if let Some(at) = next_resync {
                wait = wait.min(at.saturating_sub(now));
            }
            if self.dirty {
                wait = wait.min(
                    self.last_publish
                        .saturating_add(PUBLISH_EVERY)
                        .saturating_sub(now),
                );
            }
            self.wait(wait);

            if let Err(e) = self.drain_events() {
                self.recover(&e);
            }
            self.handle_commands();
            let now = self.clock.now();
            if now >= next_expiry {
                self.check_expired();
                next_expiry = self.clock.now().saturating_add(EXPIRY_EVERY);
            }
            if let (Some(at), Some(every)) = (next_resync, every) {
                if now >= at {
                    if let Err(e) = self.resync() {
                        tracing::warn!(error = %e, "periodic reconciliation failed");
                    }
                    next_resync = Some(self.clock.now().saturating_add(every));
                }
            }
            self.publish_if_due();
            self.retired.clear();
        }
    }

    fn wait(&mut self, ms: Millis) {
        let timeout = PollTimeout::try_from(ms.min(60_000) as i32).unwrap_or(PollTimeout::MAX);
        let mut fds = [
            PollFd::new(self.events.as_fd(), PollFlags::POLLIN),
            PollFd::new(self.wake_rx.as_fd(), PollFlags::POLLIN),
        ];
        let _ = poll(&mut fds, timeout);
        let mut sink = [0u8; 64];
        while matches!((&self.wake_rx).read(&mut sink), Ok(n) if n > 0) {}
    }

    /// Applies waiting events, a bounded number of batches at a time.
    fn drain_events(&mut self) -> Result<(), ctnetlink::Error> {
        for _ in 0..EVENT_BATCHES {
            let mut batch = Vec::new();
            let mut malformed = 0;
            let mut datagrams = 0;
            while datagrams < EVENT_BATCH {
                let n = self.events.recv(|event| match event {
                    Ok(e) => batch.push(e),
                    Err(_) => malformed += 1,
                })?;
                if n == 0 {
                    break;
                }
                datagrams += 1;
            }
            let counters = &self.shared.counters;
            counters.malformed.fetch_add(malformed, Ordering::Relaxed);
            counters
                .events
                .fetch_add(batch.len() as u64, Ordering::Relaxed);
            let (now, unix) = (self.clock.now(), now_unix());
            for event in batch {
                self.dirty |= self.rows.apply(event, now, unix);
            }
            if datagrams < EVENT_BATCH {
                return Ok(());
            }
            // An event storm: keep commands and publication flowing.
            self.handle_commands();
            self.publish_if_due();
            self.retired.clear();
        }
        Ok(())
    }

    fn recover(&mut self, error: &ctnetlink::Error) {
        if matches!(error, ctnetlink::Error::Overflow) {
            self.shared
                .counters
                .overflows
                .fetch_add(1, Ordering::Relaxed);
            tracing::warn!("conntrack events were lost (receive buffer overflow): resynchronising");
        } else {
            tracing::error!(error = %error, "conntrack event socket failed: resynchronising");
        }
        self.discard_queued_events();
        if let Err(e) = self.resync() {
            tracing::error!(error = %e, "resynchronisation failed; the table may be stale");
            self.shared.live.store(false, Ordering::Release);
        }
    }

    /// Empties the event queue. The kernel reports ENOBUFS once per overflow
    /// and reports the next loss only after the queue has drained, so the
    /// queue must be empty before the recovery dump starts: then any event lost
    /// during the dump is reported again instead of vanishing. What is
    /// discarded here happened before the dump, which covers it.
    fn discard_queued_events(&mut self) {
        loop {
            match self.events.recv(|_| {}) {
                Ok(0) => return,
                Ok(_) | Err(ctnetlink::Error::Overflow) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "draining the event socket failed");
                    return;
                }
            }
        }
    }

    /// Handles every queued command: row changes first, then one publish, then
    /// the replies; all queued resync requests share one dump.
    fn handle_commands(&mut self) {
        let mut resyncs = Vec::new();
        let mut published_waiters = Vec::new();
        let (now, unix) = (self.clock.now(), now_unix());
        while let Ok(command) = self.commands.try_recv() {
            match command {
                Command::Resync(reply) => resyncs.push(reply),
                Command::Forget(keys, reply) => {
                    for key in &keys {
                        self.dirty |= self.rows.remove(key);
                    }
                    published_waiters.push(reply);
                }
                Command::Observe(conns, reply) => {
                    for conn in conns {
                        self.dirty |= self.rows.upsert(conn, now, unix);
                    }
                    published_waiters.push(reply);
                }
            }
        }
        if !resyncs.is_empty() {
            let result = self.resync().map_err(|e| e.to_string());
            for reply in resyncs {
                let _ = reply.send(result.clone());
            }
        }
        if !published_waiters.is_empty() {
            if self.dirty {
                self.publish();
            }
            for reply in published_waiters {
                let _ = reply.send(());
            }
        }
    }

    /// Replaces the rows with a fresh dump, keeping what earlier observations
    /// knew (rates, first sight). Events queued meanwhile are applied after it.
    pub(super) fn resync(&mut self) -> Result<ResyncReport, ctnetlink::Error> {
        // The dump streams straight into the new rows: no intermediate copy.
        let requests = &mut self.requests;
        let mut malformed = 0;
        let (added, removed) = self
            .rows
            .replace_with(self.clock.now(), now_unix(), |sink| {
                malformed = requests.dump(sink)?.malformed;
                Ok::<(), ctnetlink::Error>(())
            })?;
        let counters = &self.shared.counters;
        counters
            .malformed
            .fetch_add(malformed as u64, Ordering::Relaxed);
        counters.resyncs.fetch_add(1, Ordering::Relaxed);
        self.shared.live.store(true, Ordering::Release);
        self.dirty = true;
        self.publish();
        Ok(ResyncReport {
            entries: self.rows.len(),
            added,
            removed,
        })
    }

    /// Rows whose timeout ran out may be gone (their DESTROY can be missing) or
    /// refreshed by traffic (the kernel sends no event for that): ask the
    /// kernel about the longest overdue ones.
    fn check_expired(&mut self) {
        let now = self.clock.now();
        let mut expired = self.rows.expired(now);
        if expired.len() > EXPIRY_LOOKUPS {
            expired.select_nth_unstable_by_key(EXPIRY_LOOKUPS, |row| row.deadline);
            expired.truncate(EXPIRY_LOOKUPS);
        }
        let unix = now_unix();
        for row in expired {
            match self.requests.get(&row.conn.key()) {
                Ok(conn) => self.dirty |= self.rows.upsert(conn, self.clock.now(), unix),
                Err(ctnetlink::Error::NotFound) => self.dirty |= self.rows.remove(&row.conn.key()),
                Err(e @ (ctnetlink::Error::Io(_) | ctnetlink::Error::PermissionDenied)) => {
                    tracing::warn!(error = %e, "expiry lookups failed");
                    return;
                }
                // The kernel refused this one lookup: the next reconciliation settles it.
                Err(e) => tracing::debug!(error = %e, id = row.conn.id, "expiry lookup refused"),
            }
        }
    }

    fn publish_if_due(&mut self) {
        if self.dirty && self.clock.now() >= self.last_publish.saturating_add(PUBLISH_EVERY) {
            self.publish();
        }
    }

    pub(super) fn publish(&mut self) {
        let snapshot = Snapshot {
            rows: Arc::new(self.rows.to_vec()),
            at: self.clock.now(),
            taken: SystemTime::now(),
        };
        let previous = std::mem::replace(&mut *lock(&self.shared.published), snapshot);
        self.retired.push(previous);
        self.dirty = false;
        self.last_publish = self.clock.now();
    }
}

fn millis(d: Duration) -> Millis {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
