//! A kernel in place of ctnetlink: it holds entries, carries out the
//! deletes and changes asked of it and records them, and can be told to
//! refuse the next request with a given error, or to hold requests until
//! released (to fill the heavy-call gate).

use std::sync::{Condvar, Mutex, MutexGuard};

use ctnetlink::{Change, Conn, ConnKey, Stats};

use crate::service::{Delete, Kernel};

/// A write the kernel carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    Delete(ConnKey),
    Update(ConnKey, Change),
}

/// The table size limit the fake reports.
pub const MAX_ENTRIES: u32 = 262_144;
/// The bucket count the fake reports, until told otherwise.
pub const BUCKETS: u32 = 262_144;

#[derive(Debug, Default)]
pub struct FakeKernel {
    state: Mutex<State>,
    released: Condvar,
}

#[derive(Debug, Default)]
struct State {
    conns: Vec<Conn>,
    writes: Vec<Write>,
    refusal: Option<ctnetlink::Error>,
    holding: bool,
    held: usize,
    /// `None`: [`BUCKETS`].
    buckets: Option<Option<u32>>,
    chaintoolong: u64,
}

impl FakeKernel {
    pub fn new(conns: Vec<Conn>) -> FakeKernel {
        FakeKernel {
            state: Mutex::new(State {
                conns,
                ..State::default()
            }),
            released: Condvar::new(),
        }
    }

    /// From now on the hash table has `buckets` buckets (`None`: unreadable).
    pub fn set_buckets(&self, buckets: Option<u32>) {
        self.lock().buckets = Some(buckets);
    }

    /// The kernel refuses `n` more inserts on too-long hash chains.
    pub fn refuse_inserts(&self, n: u64) {
        self.lock().chaintoolong += n;
    }

    /// The next request fails with `error`.
    pub fn refuse_next(&self, error: ctnetlink::Error) {
        self.lock().refusal = Some(error);
    }

    /// The writes carried out so far, in order.
    pub fn writes(&self) -> Vec<Write> {
        self.lock().writes.clone()
    }

    /// The entries the kernel holds now.
    pub fn conns(&self) -> Vec<Conn> {
        self.lock().conns.clone()
    }

    /// Requests wait from now on, until [`FakeKernel::release`].
    pub fn hold(&self) {
        self.lock().holding = true;
    }

    /// Requests waiting now.
    pub fn held(&self) -> usize {
        self.lock().held
    }

    pub fn release(&self) {
        self.lock().holding = false;
        self.released.notify_all();
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// One request arriving: it waits while held, then meets the refusal
    /// set for it, if any.
    fn request(&self) -> Result<MutexGuard<'_, State>, ctnetlink::Error> {
        let mut state = self.lock();
        state.held += 1;
        while state.holding {
            state = self.released.wait(state).unwrap_or_else(|p| p.into_inner());
        }
        state.held -= 1;
        match state.refusal.take() {
            Some(error) => Err(error),
            None => Ok(state),
        }
    }

    fn delete(&self, key: &ConnKey) -> Result<(), ctnetlink::Error> {
        let mut state = self.request()?;
        let at = state.conns.iter().position(|c| c.key() == *key);
        state.conns.remove(at.ok_or(ctnetlink::Error::NotFound)?);
        state.writes.push(Write::Delete(*key));
        Ok(())
    }
}

impl Kernel for FakeKernel {
    fn deletes(&self, work: &mut dyn FnMut(&mut Delete<'_>)) -> Result<(), ctnetlink::Error> {
        work(&mut |key| self.delete(key));
        Ok(())
    }

    fn update(&self, key: &ConnKey, change: Change) -> Result<Option<Conn>, ctnetlink::Error> {
        let mut state = self.request()?;
        let at = state.conns.iter().position(|c| c.key() == *key);
        let at = at.ok_or(ctnetlink::Error::NotFound)?;
        state.writes.push(Write::Update(*key, change));
        let conn = &mut state.conns[at];
        match change {
            Change::Mark(mark) => conn.mark = mark,
            Change::Timeout(timeout) => conn.timeout = timeout,
        }
        if conn.timeout == 0 {
            // A timeout of 0 ends the entry at once, as in the kernel.
            state.conns.remove(at);
            return Ok(None);
        }
        Ok(Some(conn.clone()))
    }

    fn stats(&self) -> Result<Stats, ctnetlink::Error> {
        let state = self.request()?;
        Ok(Stats {
            entries: u32::try_from(state.conns.len()).unwrap_or(u32::MAX),
            max_entries: MAX_ENTRIES,
            chaintoolong: state.chaintoolong,
            ..Stats::default()
        })
    }

    fn buckets(&self) -> Option<u32> {
        self.lock().buckets.unwrap_or(Some(BUCKETS))
    }
}
