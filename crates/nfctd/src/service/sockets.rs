//! A small pool of ctnetlink request sockets, so `kill`, `change` and `stats`
//! do not open (and permission-check) a new socket on every call: the
//! daemon's [`Kernel`].

use std::sync::{Mutex, MutexGuard};

use ctnetlink::{Change, Conn, ConnKey, CtSocket, Stats};

use super::{Delete, Kernel};

/// More idle sockets than this are closed: heavy calls run at most
/// `router::HEAVY_CALLS` at a time, so more would never be used at once.
const MAX_IDLE: usize = 8;

/// Idle sockets, opened in the served namespace on first use.
#[derive(Debug, Default)]
pub struct Sockets {
    idle: Mutex<Vec<CtSocket>>,
}

impl Sockets {
    fn lock(&self) -> MutexGuard<'_, Vec<CtSocket>> {
        // The vector is only pushed and popped; a poisoned one is still valid.
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `work` on an idle socket (or a new one), then keeps the socket
    /// unless the work failed in a way that may leave it out of step with the
    /// kernel (an I/O or decoding error); refusals by the kernel leave it fine.
    fn with<T>(
        &self,
        work: impl FnOnce(&mut CtSocket) -> Result<T, ctnetlink::Error>,
    ) -> Result<T, ctnetlink::Error> {
        let pooled = self.lock().pop();
        let mut socket = match pooled {
            Some(socket) => socket,
            None => CtSocket::open()?,
        };
        let result = work(&mut socket);
        let reusable = match &result {
            Ok(_) => true,
            Err(e) => !matches!(
                e,
                ctnetlink::Error::Io(_) | ctnetlink::Error::Decode(_) | ctnetlink::Error::Overflow
            ),
        };
        if reusable {
            let mut idle = self.lock();
            if idle.len() < MAX_IDLE {
                idle.push(socket);
            }
        }
        result
    }
}

impl Kernel for Sockets {
    fn deletes(&self, work: &mut dyn FnMut(&mut Delete<'_>)) -> Result<(), ctnetlink::Error> {
        self.with(|socket| {
            work(&mut |key| socket.delete(key));
            Ok(())
        })
    }

    fn update(&self, key: &ConnKey, change: Change) -> Result<Option<Conn>, ctnetlink::Error> {
        self.with(|socket| socket.update(key, change))
    }

    fn stats(&self) -> Result<Stats, ctnetlink::Error> {
        self.with(CtSocket::stats)
    }

    fn buckets(&self) -> Option<u32> {
        // /proc/sys/net follows the reading thread's namespace: every
        // thread of the daemon lives in the served one.
        match netns::sysctl(BUCKETS) {
            Ok(text) => text.trim().parse().ok(),
            Err(e) => {
                tracing::debug!(error = %e, "cannot read {BUCKETS}");
                None
            }
        }
    }
}

/// The hash table's bucket count, under `/proc/sys`.
const BUCKETS: &str = "net/netfilter/nf_conntrack_buckets";
