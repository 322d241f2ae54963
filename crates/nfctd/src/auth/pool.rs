//! The password-checking threads: a fixed few, each owning argon2 memory it
//! reuses, with a bounded queue and a deadline in front. Memory for checks
//! is therefore bounded by threads × the largest cost, and freed memory is
//! not scattered over the arenas of a growing pool of blocking threads.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::hash::Memory;

/// Checks that may wait for a thread; one more is refused at once.
pub const MAX_WAITING: usize = 256;
/// How long a check may wait for a thread before it is refused.
pub const DEADLINE: Duration = Duration::from_secs(10);
/// Threads at most, whatever the machine: each holds its argon2 memory.
pub const MAX_WORKERS: usize = 4;

/// The number of checking threads: one per available core, 1 to
/// [`MAX_WORKERS`].
pub fn default_workers() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, MAX_WORKERS)
}

/// Why a check was not run. Either way the password was never looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Busy {
    #[error("{MAX_WAITING} password checks are waiting already")]
    Queue,
    #[error("no checking thread was free within the deadline")]
    Deadline,
    #[error("the password-checking threads are gone")]
    Gone,
}

type Job = Box<dyn FnOnce(&mut Memory) + Send>;

/// A job waits until a thread takes it, or its caller gives up; whichever
/// comes first wins, so an abandoned job never runs.
const QUEUED: u8 = 0;
const STARTED: u8 = 1;
const ABANDONED: u8 = 2;

/// The threads, started at first use (or by [`Pool::start`]).
#[derive(Debug)]
pub struct Pool {
    workers: usize,
    max_waiting: usize,
    deadline: Duration,
    /// What each thread runs once when it starts, so its memory is taken
    /// while the daemon starts rather than during the first logins.
    warm_up: Option<fn(&mut Memory)>,
    queue: OnceLock<Option<SyncSender<Job>>>,
}

impl Pool {
    pub fn new(workers: usize, max_waiting: usize, deadline: Duration) -> Pool {
        Pool {
            workers: workers.max(1),
            max_waiting,
            deadline,
            warm_up: None,
            queue: OnceLock::new(),
        }
    }

    pub fn with_warm_up(mut self, warm_up: fn(&mut Memory)) -> Pool {
        self.warm_up = Some(warm_up);
        self
    }

    pub fn workers(&self) -> usize {
        self.workers
    }

    /// Starts the threads now. Threads copy their creator's capabilities, so
    /// the daemon calls this after dropping its own, not when it opens the
    /// backend.
    pub fn start(&self) {
        let _ = self.queue();
    }

    fn queue(&self) -> Option<&SyncSender<Job>> {
        self.queue
            .get_or_init(|| {
                // One slot per waiting job; running jobs are off the queue.
                let (tx, rx) = mpsc::sync_channel::<Job>(self.max_waiting);
                let rx = Arc::new(Mutex::new(rx));
                let mut started = 0;
                for i in 0..self.workers {
                    let rx = Arc::clone(&rx);
                    let warm_up = self.warm_up;
                    let spawned = std::thread::Builder::new()
                        .name(format!("passwd-check-{i}"))
                        .spawn(move || work(&rx, warm_up));
                    match spawned {
                        Ok(_) => started += 1,
                        Err(e) => tracing::error!("cannot start a password-checking thread: {e}"),
                    }
                }
                (started > 0).then_some(tx)
            })
            .as_ref()
    }

    /// Runs `check` on a checking thread and returns its answer and how long
    /// the check itself took (not the wait). Blocks the calling thread.
    pub fn run<T: Send + 'static>(
        &self,
        check: impl FnOnce(&mut Memory) -> T + Send + 'static,
    ) -> Result<(T, Duration), Busy> {
        let queue = self.queue().ok_or(Busy::Gone)?;
        let state = Arc::new(AtomicU8::new(QUEUED));
        let (reply, answer) = mpsc::sync_channel(1);
        let job: Job = {
            let state = Arc::clone(&state);
            Box::new(move |memory: &mut Memory| {
                if state
                    .compare_exchange(QUEUED, STARTED, Ordering::AcqRel, Ordering::Acquire)
                    .is_err()
                {
                    return;
                }
                let started = Instant::now();
                let out = check(memory);
                let _ = reply.send((out, started.elapsed()));
            })
        };
        match queue.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(Busy::Queue),
            Err(TrySendError::Disconnected(_)) => return Err(Busy::Gone),
        }
        match answer.recv_timeout(self.deadline) {
            Ok(done) => Ok(done),
            Err(RecvTimeoutError::Disconnected) => Err(Busy::Gone),
            Err(RecvTimeoutError::Timeout) => {
                if state
                    .compare_exchange(QUEUED, ABANDONED, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    return Err(Busy::Deadline);
                }
                // Taken just now: it runs to its end, which a check's cost bounds.
                answer.recv().map_err(|_| Busy::Gone)
            }
        }
    }
}

/// A checking thread: takes jobs until the pool is dropped.
fn work(queue: &Mutex<Receiver<Job>>, warm_up: Option<fn(&mut Memory)>) {
    let mut memory = Memory::default();
    if let Some(warm_up) = warm_up {
        warm_up(&mut memory);
    }
    loop {
        // The lock is held only while waiting for the next job.
        let job = match queue.lock().unwrap_or_else(|p| p.into_inner()).recv() {
            Ok(job) => job,
            Err(_) => return,
        };
        // A panicking check must not take the thread (and its memory) with
        // it: its caller sees the reply channel close.
        if std::panic::catch_unwind(AssertUnwindSafe(|| job(&mut memory))).is_err() {
            tracing::error!("a password check panicked");
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// A pool of one thread, held busy until the returned sender sends.
    fn held(max_waiting: usize, deadline: Duration) -> (Arc<Pool>, mpsc::Sender<()>) {
        let pool = Arc::new(Pool::new(1, max_waiting, deadline));
        let (release, hold) = mpsc::channel::<()>();
        let p = Arc::clone(&pool);
        std::thread::spawn(move || p.run(move |_| hold.recv().is_ok()));
        std::thread::sleep(Duration::from_millis(50));
        (pool, release)
    }

    #[test]
    fn a_full_queue_refuses_at_once_and_the_waiting_check_runs() {
        let (pool, release) = held(1, Duration::from_secs(10));
        let waiting = {
            let pool = Arc::clone(&pool);
            std::thread::spawn(move || pool.run(|_| 2))
        };
        std::thread::sleep(Duration::from_millis(50));
        let t = Instant::now();
        assert_eq!(pool.run(|_| 3).map(|r| r.0), Err(Busy::Queue));
        assert!(t.elapsed() < Duration::from_millis(100));
        release.send(()).unwrap();
        assert_eq!(waiting.join().unwrap().map(|r| r.0), Ok(2));
        assert_eq!(pool.run(|_| 4).map(|r| r.0), Ok(4));
    }

    #[test]
    fn a_check_past_its_deadline_is_refused_and_never_runs() {
        let (pool, release) = held(8, Duration::from_millis(200));
        let ran = Arc::new(AtomicUsize::new(0));
        let r = Arc::clone(&ran);
        let t = Instant::now();
        let answer = pool.run(move |_| r.fetch_add(1, Ordering::SeqCst));
        assert_eq!(answer.map(|r| r.0), Err(Busy::Deadline));
        assert!(t.elapsed() >= Duration::from_millis(200));
        release.send(()).unwrap();
        // The thread is free again: a new check runs, the abandoned one did not.
        assert!(pool.run(|_| ()).is_ok());
        assert_eq!(ran.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn memory_stays_with_its_thread_and_a_panic_does_not_kill_it() {
        let pool = Pool::new(1, 4, Duration::from_secs(10)).with_warm_up(|m| {
            let _ = super::super::hash::dummy_check("", m);
        });
        let (bytes, took) = pool.run(|m| m.bytes()).unwrap();
        assert_eq!(bytes, 19 * 1024 * 1024, "warmed up: {took:?}");
        assert_eq!(pool.run(|_| -> () { panic!("check") }), Err(Busy::Gone));
        assert_eq!(pool.run(|m| m.bytes()).map(|r| r.0), Ok(19 * 1024 * 1024));
        assert!((1..=MAX_WORKERS).contains(&default_workers()));
    }
}
