//! The live mirror of the kernel table: initial dump, event application,
//! periodic reconciliation, expiry checks, overflow recovery, and publication
//! of snapshots. One thread owns the rows; readers get published snapshots.

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use ctnetlink::{Conn, ConnKey, CtSocket, EventSocket};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use super::row::{Clock, Millis, Snapshot};
use super::rowset::RowSet;

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
    pub expiry_checks: AtomicU64,
}

/// What a reconciliation found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResyncReport {
    pub entries: usize,
    pub added: usize,
    pub removed: usize,
}

enum Command {
    Resync(Sender<Result<ResyncReport, String>>),
    /// Drop these rows (deleted in the kernel); reply once published.
    Forget(Vec<ConnKey>, Sender<()>),
    /// Record these kernel views (after a change); reply once published.
    Observe(Vec<Conn>, Sender<()>),
}

struct Shared {
    clock: Clock,
    published: Mutex<Snapshot>,
    live: AtomicBool,
    counters: MirrorCounters,
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

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave a half-written Snapshot or
    // Sender behind (both are replaced whole), so poisoning is safe to ignore.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

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

struct Worker {
    config: MirrorConfig,
    clock: Clock,
    rows: RowSet,
    events: EventSocket,
    requests: CtSocket,
    commands: Receiver<Command>,
    wake_rx: UnixStream,
    shared: Arc<Shared>,
    dirty: bool,
    last_publish: Millis,
    /// Snapshots just replaced: freeing their rows waits until pending
    /// replies are sent, so a caller of `resync` does not wait for it.
    retired: Vec<Snapshot>,
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
    fn run(mut self) {
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
    fn resync(&mut self) -> Result<ResyncReport, ctnetlink::Error> {
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
        self.shared
            .counters
            .expiry_checks
            .fetch_add(1, Ordering::Relaxed);
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

    fn publish(&mut self) {
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
