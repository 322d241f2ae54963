//! The mirror's thread: loads the table (the first dump, published as it
//! goes), then applies events, reconciles with full dumps, checks expired
//! rows against the kernel, recovers from event overflow, handles the
//! handle's commands, and publishes snapshots.

use std::collections::HashSet;
use std::os::fd::AsFd;
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant, SystemTime};

use ctnetlink::{Conn, ConnKey, CtSocket, EventSocket};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use super::events::drain_events;
use super::flows::{EndReason, Observer};
use super::loading::Outcome;
use super::merge::MIN_RATE_INTERVAL;
use super::row::{unix_now, Clock, Millis, Row};
use super::rowset::{Hidden, RowSet};
use super::shared::{lock, Command, Inbox, ResyncReport, Shared};
use super::snapshot::Snapshot;
use super::watch::Watched;

/// Publish at most this often while events stream in.
const PUBLISH_EVERY: Millis = 100;
/// How often rows past their deadline are checked against the kernel.
const EXPIRY_EVERY: Millis = 1000;
/// Expired rows looked up per check; the rest wait for the next one (and the
/// periodic reconciliation covers them all).
const EXPIRY_LOOKUPS: usize = 256;
/// How often the rows views served (`watch`) are looked up for fresh counters.
const WATCH_EVERY: Millis = 1000;
/// Event batches drained before timers get their turn, even in an event storm.
const EVENT_BATCHES: usize = 16;
/// While the first dump runs, what it read so far is published about this
/// often, or less often on a big table: each publish copies every row read,
/// so publishing takes at most a fifth of the time.
const LOAD_PUBLISH_EVERY: Millis = 500;
/// While the first dump runs, progress and commands are looked at once per
/// this many entries,
const LOAD_CHECK_EVERY: usize = 4096;
/// and the clock once per this many (about a datagram's worth).
const LOAD_STAMP_EVERY: usize = 128;

/// How the mirror runs.
#[derive(Clone)]
pub struct MirrorConfig {
    /// Full reconciliation period; `None` disables it.
    pub resync_interval: Option<Duration>,
    /// Connections kept out of the table (`--ignore`).
    pub hidden: Hidden,
    /// Event socket receive buffer, bytes.
    pub event_buffer: usize,
    /// `--reliable-events`: the kernel keeps an ended entry until its
    /// DESTROY event fits in the buffer, rather than lose the event.
    pub reliable_events: bool,
    /// Told of connections as they begin and end (export); `None` costs nothing.
    pub observer: Option<Observer>,
}

impl std::fmt::Debug for MirrorConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MirrorConfig")
            .field("resync_interval", &self.resync_interval)
            .field("event_buffer", &self.event_buffer)
            .field("reliable_events", &self.reliable_events)
            .field("exporting", &self.observer.is_some())
            .finish_non_exhaustive()
    }
}

pub(super) struct Worker {
    resync_interval: Option<Duration>,
    /// `--reliable-events`: ended entries whose DESTROY event the kernel
    /// still holds are read at each reconciliation.
    reliable_events: bool,
    clock: Clock,
    rows: RowSet,
    /// Rows views served lately, looked up every [`WATCH_EVERY`].
    watched: Watched,
    events: EventSocket,
    requests: CtSocket,
    inbox: Inbox,
    shared: Arc<Shared>,
    dirty: bool,
    last_publish: Millis,
    /// Snapshots just replaced: freeing their rows waits until pending
    /// replies are sent, so a caller of `resync` does not wait for it.
    retired: Vec<Snapshot>,
    /// Told of rows as they come and go (export). The rows hold it too and
    /// tell it of each row the first dump adds; the worker tells it of the
    /// first dump's reconciliation once the table is whole.
    observer: Option<Observer>,
    /// Commands the first dump put off (reconciliations): served first
    /// once the mirror is live.
    deferred: Vec<Command>,
}

/// Marks the mirror as not live when its thread ends, however it ends.
struct LiveGuard(Arc<Shared>);

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.0.live.store(false, Ordering::Release);
        tracing::error!("the mirror thread stopped: the table is no longer followed");
    }
}

impl Worker {
    /// Subscribes to events and opens the request sockets, all in the calling
    /// thread's network namespace: the table is then dumped by the thread
    /// (`run`), and subscribing before the dump means no change between the
    /// two is lost. Returns the worker and the socket of its first dump.
    pub(super) fn new(
        config: MirrorConfig,
        shared: Arc<Shared>,
        inbox: Inbox,
    ) -> Result<(Worker, CtSocket), ctnetlink::Error> {
        let events = EventSocket::subscribe(config.event_buffer)?;
        if config.reliable_events {
            events.set_reliable()?;
        }
        let requests = CtSocket::open()?;
        // The first dump's own socket: while it hands rows over, the worker
        // (not borrowed by it, unlike through `requests`) publishes and
        // serves commands between them.
        let loader = CtSocket::open()?;
        let mut rows = RowSet::new(config.hidden);
        rows.set_observer(config.observer.clone());
        shared.progress.begin();
        let worker = Worker {
            resync_interval: config.resync_interval,
            reliable_events: config.reliable_events,
            clock: shared.clock,
            rows,
            watched: Watched::default(),
            events,
            requests,
            inbox,
            shared,
            dirty: false,
            last_publish: 0,
            retired: Vec::new(),
            observer: config.observer,
            deferred: Vec::new(),
        };
        Ok((worker, loader))
    }

    /// The thread: loads the table with `loader` and tells `first` how that
    /// went; once it is whole, follows the kernel until the process ends.
    pub(super) fn run(mut self, loader: CtSocket, first: mpsc::Sender<Outcome>) {
        let loaded = self.load(loader);
        self.shared.progress.end();
        let failed = loaded.is_err();
        // Nobody waiting is no reason to stop: the mirror serves anyway.
        let _ = first.send(loaded);
        if !failed {
            self.follow();
        }
    }

    /// The first dump. Its rows enter the table as they are read, and what
    /// was read so far is published every [`LOAD_PUBLISH_EVERY`] or so: real
    /// rows of the kernel, not yet all of them. Meanwhile row changes made
    /// through the handle are served (a change or kill waits for no dump);
    /// reconciliations wait until the table is whole. Events queue on the
    /// socket subscribed before the dump, and are applied after it, as after
    /// any reconciliation. With no rows before it, streaming the dump into
    /// the rows ends as a reconciliation would: export hears of each row as
    /// it arrives, and of the reconciliation once the table is whole.
    fn load(&mut self, mut loader: CtSocket) -> Result<ResyncReport, ctnetlink::Error> {
        let started = Instant::now();
        let (entries, _) = loader.global_counts()?;
        self.shared.progress.expect(u64::from(entries));
        // Rows the handle changed or dropped during the dump: fresher than
        // what the dump read before the change, so the dump leaves them be.
        let mut changed = HashSet::new();
        let (mut now, mut unix) = (self.clock.now(), unix_now());
        let mut next_publish = now.saturating_add(LOAD_PUBLISH_EVERY);
        let mut unchecked = 0;
        let summary = loader.dump(|conn| {
            // Rows count their timeouts from when the kernel handed them
            // over: a dump may walk the kernel's hash table, which every
            // namespace shares, for seconds before the first row comes.
            if unchecked % LOAD_STAMP_EVERY == 0 {
                (now, unix) = (self.clock.now(), unix_now());
            }
            if changed.is_empty() || !changed.contains(&conn.key()) {
                self.rows.upsert(conn, now, unix);
            }
            unchecked += 1;
            if unchecked < LOAD_CHECK_EVERY {
                return;
            }
            self.shared.progress.read(unchecked as u64);
            unchecked = 0;
            self.dirty = true;
            self.serve_while_loading(&mut changed);
            let checked = self.clock.now();
            if checked >= next_publish {
                self.publish();
                self.retired.clear();
                let took = self.clock.now().saturating_sub(checked);
                next_publish = self
                    .clock
                    .now()
                    .saturating_add(LOAD_PUBLISH_EVERY.max(took.saturating_mul(4)));
            }
        })?;
        self.shared.progress.read(unchecked as u64);
        self.shared
            .counters
            .dumped(summary.malformed, started.elapsed());
        // As after any full dump: every row's counters are current.
        if let Some(observer) = &self.observer {
            observer.reconciled(&mut self.rows.rows());
        }
        self.shared.live.store(true, Ordering::Release);
        self.dirty = true;
        self.publish();
        let entries = self.rows.len();
        Ok(ResyncReport {
            entries,
            added: entries,
            removed: 0,
        })
    }

    /// The commands that may be served in the middle of the first dump:
    /// kills and changes (whose keys go into `changed`) and watches; the
    /// rest wait for the table to be whole.
    fn serve_while_loading(&mut self, changed: &mut HashSet<ConnKey>) {
        let mut published_waiters = Vec::new();
        let (now, unix) = (self.clock.now(), unix_now());
        while let Some(command) = self.inbox.next() {
            match command {
                // Deleted through nfctd: the DESTROY event waits with the
                // others until the dump is whole, and then finds its row
                // gone.
                Command::Forget(keys, reply) => {
                    for key in keys {
                        self.rows.remove(&key, EndReason::Event);
                        changed.insert(key);
                    }
                    published_waiters.push(reply);
                }
                Command::Observe(conns, reply) => {
                    for conn in conns {
                        changed.insert(conn.key());
                        self.rows.upsert(conn, now, unix);
                    }
                    published_waiters.push(reply);
                }
                Command::Watch(keys) => {
                    self.shared.pending_watches.fetch_sub(1, Ordering::Relaxed);
                    self.watched.note(keys, now);
                }
                command @ (Command::Resync(_) | Command::Hide(..)) => {
                    self.deferred.push(command);
                }
            }
        }
        if !published_waiters.is_empty() {
            self.publish();
            self.retired.clear();
            for reply in published_waiters {
                let _ = reply.send(());
            }
        }
    }

    /// Follows the kernel once the table is whole.
    fn follow(mut self) {
        let _guard = LiveGuard(Arc::clone(&self.shared));
        let every = self.resync_interval.map(millis);
        let mut next_resync = every.map(|e| self.clock.now().saturating_add(e));
        let mut next_expiry = self.clock.now().saturating_add(EXPIRY_EVERY);
        let mut next_watch = self.clock.now().saturating_add(WATCH_EVERY);
        loop {
            let now = self.clock.now();
            let mut wait = next_expiry.saturating_sub(now);
            if !self.watched.is_empty() {
                wait = wait.min(next_watch.saturating_sub(now));
            }
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

            if let Err(e) = self.drain_pending() {
                self.recover(&e);
            }
            self.handle_commands();
            let now = self.clock.now();
            if now >= next_expiry {
                self.check_expired();
                next_expiry = self.clock.now().saturating_add(EXPIRY_EVERY);
            }
            if now >= next_watch {
                self.refresh_watched();
                next_watch = self.clock.now().saturating_add(WATCH_EVERY);
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
            PollFd::new(self.inbox.waker(), PollFlags::POLLIN),
        ];
        let _ = poll(&mut fds, timeout);
        self.inbox.clear_wakeups();
    }

    /// Applies waiting events, a bounded number of batches at a time.
    fn drain_pending(&mut self) -> Result<(), ctnetlink::Error> {
        self.drain(true)
    }

    /// Applies the events already waiting before a row is ended for
    /// another reason. A connection nfctd deleted, or found gone by a
    /// lookup (which makes the kernel kill an expired entry), has its
    /// DESTROY event queued by then: applied first, it ends the row with
    /// the kernel's final counters, and the later removal finds nothing.
    fn apply_queued_ends(&mut self) {
        if let Err(e) = self.drain(false) {
            self.recover(&e);
        }
    }

    /// Applies waiting events; in an event storm, between batches, serves
    /// commands too when `serve_commands` (not when called from a command).
    fn drain(&mut self, serve_commands: bool) -> Result<(), ctnetlink::Error> {
        for _ in 0..EVENT_BATCHES {
            let drained = drain_events(&mut self.events, &mut self.rows, &self.clock)?;
            let counters = &self.shared.counters;
            counters
                .malformed
                .fetch_add(drained.malformed as u64, Ordering::Relaxed);
            for (counter, n) in [
                (&counters.events_new, drained.new),
                (&counters.events_update, drained.updated),
                (&counters.events_destroy, drained.destroyed),
            ] {
                counter.fetch_add(n as u64, Ordering::Relaxed);
            }
            self.dirty |= drained.changed;
            if !drained.full() {
                return Ok(());
            }
            if serve_commands {
                // An event storm: keep commands and publication flowing.
                self.handle_commands();
                self.publish_if_due();
                self.retired.clear();
            }
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
        let (now, unix) = (self.clock.now(), unix_now());
        let mut deferred = std::mem::take(&mut self.deferred).into_iter();
        while let Some(command) = deferred.next().or_else(|| self.inbox.next()) {
            match command {
                Command::Resync(reply) => resyncs.push(reply),
                Command::Hide(hidden, reply) => {
                    self.rows.set_hidden(hidden);
                    resyncs.push(reply);
                }
                Command::Forget(keys, reply) => {
                    // Deleted through nfctd: the kernel confirmed the end.
                    // Its DESTROY event is queued and carries the final
                    // counters; a row it did not end (the event was lost)
                    // ends here.
                    self.apply_queued_ends();
                    for key in &keys {
                        self.dirty |= self.rows.remove(key, EndReason::Event);
                    }
                    published_waiters.push(reply);
                }
                Command::Observe(conns, reply) => {
                    for conn in conns {
                        self.dirty |= self.rows.upsert(conn, now, unix);
                    }
                    published_waiters.push(reply);
                }
                Command::Watch(keys) => {
                    self.shared.pending_watches.fetch_sub(1, Ordering::Relaxed);
                    self.watched.note(keys, now);
                }
            }
        }
        if !resyncs.is_empty() {
            let result = self.resync().map_err(Arc::new);
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
    /// knew (rates, first sight), and publishes them. Events queued meanwhile
    /// are applied after it.
    fn resync(&mut self) -> Result<ResyncReport, ctnetlink::Error> {
        // The dump streams straight into the new rows: no intermediate copy.
        let started = std::time::Instant::now();
        let requests = &mut self.requests;
        let reliable = self.reliable_events;
        let mut malformed = 0;
        let (added, removed) =
            self.rows
                .replace_with_ending(self.clock.now(), unix_now(), |sink| {
                    // With --reliable-events an ended entry whose DESTROY did
                    // not fit leaves the table but waits on the kernel's dying
                    // list until its event is delivered: the dump misses it,
                    // yet its event (with the final counters) is coming. Read
                    // before and after the dump, so one that ends during it
                    // is seen too.
                    let mut ending = HashSet::new();
                    if reliable {
                        ending.extend(requests.dump_dying()?.iter().map(Conn::key));
                    }
                    malformed = requests.dump(sink)?.malformed;
                    if reliable {
                        ending.extend(requests.dump_dying()?.iter().map(Conn::key));
                    }
                    Ok::<_, ctnetlink::Error>(ending)
                })?;
        self.shared.counters.dumped(malformed, started.elapsed());
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
            expired.select_nth_unstable_by_key(EXPIRY_LOOKUPS, Row::deadline);
            expired.truncate(EXPIRY_LOOKUPS);
        }
        let unix = unix_now();
        for row in expired {
            match self.requests.get(&row.key()) {
                Ok(conn) => self.dirty |= self.rows.upsert(conn, self.clock.now(), unix),
                Err(ctnetlink::Error::NotFound) => {
                    self.apply_queued_ends();
                    self.dirty |= self.rows.remove(&row.key(), EndReason::Timeout);
                }
                Err(e @ (ctnetlink::Error::Io(_) | ctnetlink::Error::PermissionDenied)) => {
                    tracing::warn!(error = %e, "expiry lookups failed");
                    return;
                }
                // The kernel refused this one lookup: the next reconciliation settles it.
                Err(e) => tracing::debug!(error = %e, id = row.id(), "expiry lookup refused"),
            }
        }
    }

    /// Looks up the rows views served lately whose last counter sample is
    /// old enough for a new rate (bounded per round), so the rows people look
    /// at carry a rate over the last second or two.
    fn refresh_watched(&mut self) {
        let now = self.clock.now();
        let rows = &self.rows;
        let due = self.watched.due(now, |key| {
            rows.get(key)
                .is_some_and(|row| now.saturating_sub(row.sampled().1) >= MIN_RATE_INTERVAL)
        });
        let unix = unix_now();
        for key in due {
            match self.requests.get(&key) {
                Ok(conn) => self.dirty |= self.rows.upsert(conn, self.clock.now(), unix),
                Err(ctnetlink::Error::NotFound) => {
                    self.watched.forget(&key);
                    self.apply_queued_ends();
                    self.dirty |= self.rows.remove(&key, EndReason::Timeout);
                }
                Err(e @ (ctnetlink::Error::Io(_) | ctnetlink::Error::PermissionDenied)) => {
                    tracing::warn!(error = %e, "counter lookups failed");
                    return;
                }
                Err(e) => tracing::debug!(error = %e, id = key.id, "counter lookup refused"),
            }
        }
    }

    fn publish_if_due(&mut self) {
        if self.dirty && self.clock.now() >= self.last_publish.saturating_add(PUBLISH_EVERY) {
            self.publish();
        }
    }

    fn publish(&mut self) {
        let snapshot = self.rows.snapshot(self.clock.now(), SystemTime::now());
        let previous = std::mem::replace(&mut *lock(&self.shared.published), snapshot);
        self.retired.push(previous);
        self.dirty = false;
        self.last_publish = self.clock.now();
    }
}

fn millis(d: Duration) -> Millis {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
