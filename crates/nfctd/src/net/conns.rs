//! The open connections and their timers: what each one is doing (reading a
//! request head, running a request, idle between requests), when it has to be
//! closed, and which one makes room when the cap is reached.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// The per-connection limits (SPEC 7).
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

    /// Bytes arrived: an idle connection starts a request head, and the header timeout runs.
    pub fn saw_bytes(&self) {
        let mut phase = self.phase();
        if let Phase::Idle(_) = *phase {
            *phase = Phase::Head(Instant::now());
            drop(phase);
            self.wake.notify_one();
        }
    }

    /// The request head is complete and the service runs: no timer of ours applies
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
            Phase::Head(t) | Phase::Idle(t) => Some(t),
            Phase::Busy => None,
        }
    }

    fn deadline(&self, limits: &ConnLimits) -> Option<Instant> {
        match *self.phase() {
            Phase::Head(t) => Some(t + limits.header_timeout),
            Phase::Idle(t) => Some(t + limits.idle_timeout),
            Phase::Busy => None,
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
    /// longest on its client (a half-sent head or an idle keep-alive) is
    /// evicted to make room, so a flood of silent sockets can only push out
    /// other silent sockets, never a client that is talking. When every
    /// connection is running a request, the new one is refused (`None`: the
    /// caller closes it at once rather than leaving it in the backlog).
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
        .filter(|c| !c.evicted.load(Ordering::Acquire))
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

    #[tokio::test(start_paused = true)]
    async fn timers_follow_the_phase() {
        let limits = ConnLimits {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            max_connections: 4,
        };
        let registry = Arc::new(Registry::default());
        let a = registry.admit(4).unwrap();
        let start = Instant::now();
        assert_eq!(a.conn.expired(&limits).await, Expiry::Header);
        assert_eq!(start.elapsed(), Duration::from_secs(10));

        let b = registry.admit(4).unwrap();
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
        let busy = registry.admit(2).unwrap();
        busy.conn.busy();
        tokio::time::advance(Duration::from_secs(1)).await;
        let silent = registry.admit(2).unwrap();
        let third = registry.admit(2).unwrap();
        assert_eq!(silent.conn.expired(&limits).await, Expiry::Evicted);
        assert!(!busy.conn.evicted.load(Ordering::Acquire));
        drop(silent);
        third.conn.busy();
        assert!(registry.admit(2).is_none(), "all busy: refused");
        drop(third);
        assert!(registry.admit(2).is_some());
    }
}
