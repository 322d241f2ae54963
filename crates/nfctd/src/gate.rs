//! The gate for heavy calls (kernel requests, scans of the whole table):
//! at most a few run at once, off the async executor, with a bounded queue
//! behind them. Every front (XML-RPC, JSON) passes through the same gate.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::{Semaphore, TryAcquireError};

/// The two gates every front shares: one for heavy calls, one for logins,
/// so a flood of password checks (slow on purpose) never takes the slots of
/// a logged-in administrator's views and kills.
#[derive(Debug, Clone)]
pub struct Gates {
    pub heavy: Arc<Gate>,
    pub logins: Arc<Gate>,
}

/// Why gated work did not give its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The queue is full: the caller answers 503 with `Retry-After` at once,
    /// since waiting longer would only hold the client's connection and
    /// memory while the answer can no longer be timely.
    Overloaded,
    /// The work panicked; the message is for the log.
    Failed(String),
}

/// At most `running` calls run; at most `max_waiting` wait.
#[derive(Debug)]
pub struct Gate {
    running: Arc<Semaphore>,
    waiting: AtomicUsize,
    max_waiting: usize,
}

impl Gate {
    pub fn new(running: usize, max_waiting: usize) -> Gate {
        Gate {
            running: Arc::new(Semaphore::new(running)),
            waiting: AtomicUsize::new(0),
            max_waiting,
        }
    }

    /// Runs `work` on a blocking thread once a slot is free. The permit goes
    /// with the work: if the request times out, the work still runs to its
    /// end (what was sent to the kernel is not undone) and keeps its slot
    /// until then.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Refused> {
        let permit = match Arc::clone(&self.running).try_acquire_owned() {
            Ok(permit) => permit,
            Err(TryAcquireError::Closed) => return Err(Refused::Failed("gate closed".into())),
            Err(TryAcquireError::NoPermits) => {
                if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.max_waiting {
                    self.waiting.fetch_sub(1, Ordering::AcqRel);
                    return Err(Refused::Overloaded);
                }
                // Counted out however the wait ends (a timeout drops this future).
                let _waiting = Waiting(&self.waiting);
                Arc::clone(&self.running)
                    .acquire_owned()
                    .await
                    .map_err(|_| Refused::Failed("gate closed".into()))?
            }
        };
        tokio::task::spawn_blocking(move || {
            let answer = work();
            drop(permit);
            answer
        })
        .await
        .map_err(|e| Refused::Failed(e.to_string()))
    }
}

/// One waiter in the queue, counted out when dropped.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_refuses_at_once_and_the_rest_run() {
        let gate = Arc::new(Gate::new(1, 1));
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let first = {
            let gate = Arc::clone(&gate);
            tokio::spawn(async move { gate.run(move || hold.recv().is_ok()).await })
        };
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let second = {
            let gate = Arc::clone(&gate);
            tokio::spawn(async move { gate.run(|| 2).await })
        };
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert_eq!(gate.run(|| 3).await, Err(Refused::Overloaded));
        release.send(()).unwrap();
        assert_eq!(first.await.unwrap(), Ok(true));
        assert_eq!(second.await.unwrap(), Ok(2));
        assert_eq!(gate.run(|| 4).await, Ok(4));
    }
}
