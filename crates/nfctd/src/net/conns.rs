//! The open connections and their timers: what each one is doing (reading a
//! request head or body, running a request, idle between requests), when it
//! has to be closed, and which one makes room when the cap is reached.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// The per-connection limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnLimits {
    /// From accept (or from the first byte of a later request) to a complete
    /// request head, TLS handshake included.
    pub header_timeout: Duration,
    /// From the end of a response to the first byte of the next request.
    pub idle_timeout: Duration,
    /// Open connections at most; see [`Registry::admit`].
    pub max_connections: usize,
}

impl Default for ConnLimits {
    fn default() -> Self {
        ConnLimits {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 1024,
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Waiting for a request head to complete, since then.
    Head(Instant),
    /// Waiting for a request body to complete, since its head did. The body
    /// reader times it (`inbound`); here it only ranks for eviction, by when
    /// the body began rather than its last byte, so trickling does not help.
    Body(Instant),
    /// A request is in the service.
    Busy,
    /// Between requests, since then.
    Idle(Instant),
}

/// One connection's state, shared by its task, its I/O and the registry.
#[derive(Debug)]
pub struct Conn {
    id: u64,
    phase: Mutex<Phase>,
    /// Wakes the connection's watchdog: its phase changed or it was evicted.
    wake: Notify,
    evicted: AtomicBool,
    /// Its task has run: it has read what its client sent before it was
    /// accepted. Until then it is never the one pushed out.
    started: AtomicBool,
}

impl Conn {
    fn phase(&self) -> MutexGuard<'_, Phase> {
        // A poisoned lock still holds a whole Phase (a Copy value).
        self.phase.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set(&self, phase: Phase) {
        *self.phase() = phase;
        self.wake.notify_one();
    }

    /// Its task runs: from now on it may be pushed out to make room.
    pub fn started(&self) {
        self.started.store(true, Ordering::Release);
    }

    /// Bytes arrived: an idle connection starts a request head, and the header timeout runs.
    pub fn saw_bytes(&self) {
        let mut phase = self.phase();
        if let Phase::Idle(_) = *phase {
            *phase = Phase::Head(Instant::now());
            drop(phase);
            self.wake.notify_one();
        }
    }

    /// The request head is complete and its body is being read: the
    /// connection still waits on its client, so a full table may push it out.
    pub fn receiving(&self) {
        self.set(Phase::Body(Instant::now()));
    }

    /// The request is complete and the service runs: no timer of ours applies
    /// (the request timeout does).
    pub fn busy(&self) {
        self.set(Phase::Busy);
    }

    /// The response is out: the idle timeout runs.
    pub fn idle(&self) {
        self.set(Phase::Idle(Instant::now()));
    }

    /// Since when the connection has been waiting on its client, if it is.
    fn waiting_since(&self) -> Option<Instant> {
        match *self.phase() {
            Phase::Head(t) | Phase::Body(t) | Phase::Idle(t) => Some(t),
            Phase::Busy => None,
        }
    }

    fn deadline(&self, limits: &ConnLimits) -> Option<Instant> {
        match *self.phase() {
            Phase::Head(t) => Some(t + limits.header_timeout),
            Phase::Idle(t) => Some(t + limits.idle_timeout),
            Phase::Body(_) | Phase::Busy => None,
        }
    }

    /// Resolves when the connection must be closed: a timer ran out or it was
    /// evicted. The caller drops the connection, which closes the socket.
    pub async fn expired(&self, limits: &ConnLimits) -> Expiry {
        loop {
            if self.evicted.load(Ordering::Acquire) {
                return Expiry::Evicted;
            }
            match self.deadline(limits) {
                Some(deadline) if deadline <= Instant::now() => {
                    return match *self.phase() {
                        Phase::Idle(_) => Expiry::Idle,
                        _ => Expiry::Header,
                    }
                }
                Some(deadline) => {
                    tokio::select! {
                        _ = tokio::time::sleep_until(deadline) => {}
                        _ = self.wake.notified() => {}
                    }
                }
                None => self.wake.notified().await,
            }
        }
    }
}

/// Why a connection was closed by us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    Header,
    Idle,
    Evicted,
}

impl Expiry {
    pub fn as_str(self) -> &'static str {
        match self {
            Expiry::Header => "header timeout",
            Expiry::Idle => "idle timeout",
            Expiry::Evicted => "evicted to make room",
        }
    }
}

/// Every open connection, for the cap and for shutdown.
#[derive(Debug, Default)]
pub struct Registry {
    conns: Mutex<HashMap<u64, Arc<Conn>>>,
    next: AtomicU64,
    /// Signalled whenever a connection ends (shutdown waits for the last one).
    ended: Notify,
}

/// Removes its connection from the registry when the connection's task ends.
#[derive(Debug)]
pub struct Admitted {
    registry: Arc<Registry>,
    pub conn: Arc<Conn>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.registry.lock().remove(&self.conn.id);
        self.registry.ended.notify_waiters();
    }
}

impl Registry {
    fn lock(&self) -> MutexGuard<'_, HashMap<u64, Arc<Conn>>> {
        // A poisoned lock still holds a consistent map (each change is one insert or remove).
        self.conns.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Registers a new connection. At the cap, the connection that has waited
    /// longest on its client (a half-sent head or body, or an idle
    /// keep-alive) is evicted to make room, so a flood of silent or trickling
    /// sockets can only push out its own kind, never a request that is
    /// running. A connection whose task has not run yet is never the one:
    /// in a storm of connections, newcomers accepted one after another
    /// would otherwise push each other out before any could read the request
    /// its client had already sent. When no connection may go, the new one
    /// is refused (`None`: the caller closes it at once rather than leaving
    /// it in the backlog, and its client may retry).
    pub fn admit(self: &Arc<Self>, max: usize) -> Option<Admitted> {
        let mut conns = self.lock();
        if conns.len() >= max && !evict_longest_waiting(&conns) {
            return None;
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let conn = Arc::new(Conn {
            id,
            phase: Mutex::new(Phase::Head(Instant::now())),
            wake: Notify::new(),
            evicted: AtomicBool::new(false),
            started: AtomicBool::new(false),
        });
        conns.insert(id, Arc::clone(&conn));
        Some(Admitted {
            registry: Arc::clone(self),
            conn,
        })
    }

    /// Evicts the connection waiting longest on its client, if there is one
    /// (used when accept fails for lack of file descriptors).
    pub fn evict_one(&self) -> bool {
        evict_longest_waiting(&self.lock())
    }

    /// Waits until no connection is open, or `limit` passed; returns how many remain.
    pub async fn drained(&self, limit: Duration) -> usize {
        let deadline = Instant::now() + limit;
        loop {
            let ended = self.ended.notified();
            let open = self.len();
            if open == 0 || Instant::now() >= deadline {
                return open;
            }
            tokio::select! {
                _ = ended => {}
                _ = tokio::time::sleep_until(deadline) => {}
            }
        }
    }
}

fn evict_longest_waiting(conns: &HashMap<u64, Arc<Conn>>) -> bool {
    let victim = conns
        .values()
        .filter(|c| !c.evicted.load(Ordering::Acquire) && c.started.load(Ordering::Acquire))
        .filter_map(|c| c.waiting_since().map(|since| (since, c)))
        .min_by_key(|(since, _)| *since);
    match victim {
        Some((_, conn)) => {
            conn.evicted.store(true, Ordering::Release);
            conn.wake.notify_one();
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A connection whose task has run.
    fn running(registry: &Arc<Registry>, max: usize) -> Admitted {
        let admitted = registry.admit(max).unwrap();
        admitted.conn.started();
        admitted
    }

    #[tokio::test(start_paused = true)]
    async fn timers_follow_the_phase() {
        let limits = ConnLimits {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            max_connections: 4,
        };
        let registry = Arc::new(Registry::default());
        let a = running(&registry, 4);
        let start = Instant::now();
        assert_eq!(a.conn.expired(&limits).await, Expiry::Header);
        assert_eq!(start.elapsed(), Duration::from_secs(10));

        let b = running(&registry, 4);
        b.conn.busy();
        b.conn.idle();
        let start = Instant::now();
        assert_eq!(b.conn.expired(&limits).await, Expiry::Idle);
        assert_eq!(start.elapsed(), Duration::from_secs(30));
    }

    #[tokio::test(start_paused = true)]
    async fn the_cap_evicts_the_longest_waiting_and_spares_busy_ones() {
        let limits = ConnLimits::default();
        let registry = Arc::new(Registry::default());
        let busy = running(&registry, 2);
        busy.conn.busy();
        tokio::time::advance(Duration::from_secs(1)).await;
        let silent = running(&registry, 2);
        let third = running(&registry, 2);
        assert_eq!(silent.conn.expired(&limits).await, Expiry::Evicted);
        assert!(!busy.conn.evicted.load(Ordering::Acquire));
        drop(silent);
        third.conn.busy();
        assert!(registry.admit(2).is_none(), "all busy: refused");
        drop(third);
        assert!(registry.admit(2).is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_body_is_pushed_out_by_when_it_began_not_by_its_last_byte() {
        let limits = ConnLimits::default();
        let registry = Arc::new(Registry::default());
        let trickling = running(&registry, 2);
        trickling.conn.receiving();
        tokio::time::advance(Duration::from_secs(5)).await;
        // Bytes of its body keep coming; it still began first.
        trickling.conn.saw_bytes();
        let idle = running(&registry, 2);
        idle.conn.busy();
        idle.conn.idle();
        let _new = running(&registry, 2);
        assert_eq!(trickling.conn.expired(&limits).await, Expiry::Evicted);
        assert!(!idle.conn.evicted.load(Ordering::Acquire));
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_whose_task_has_not_run_is_never_pushed_out() {
        let registry = Arc::new(Registry::default());
        let fresh = registry.admit(1).unwrap();
        assert!(
            registry.admit(1).is_none(),
            "the newcomer is refused rather than the one not yet read"
        );
        fresh.conn.started();
        let _next = registry.admit(1).unwrap();
        assert!(fresh.conn.evicted.load(Ordering::Acquire));
    }
}
