//! The pause between attempts to reach a collector, one rule for every
//! sender (JSON sockets, IPFIX over TCP and UDP): after a failure the next
//! attempt waits 1 s, then 2, 4, 8, 10, 10… A failure is a connect that
//! fails, a datagram that cannot be sent, or a connection that ends before
//! it has stayed up [`Pauses::settled`]: a collector that accepts and then
//! closes at once (a full Filebeat, haproxy without a backend) is as away as
//! one that refuses. The pause keeps growing across such connections and
//! starts again at 1 s only after a connection stayed up that long (or a
//! datagram went); a connection that ends after that (a collector closing
//! idle connections) is reconnected at once.

use std::time::{Duration, Instant};

/// The rule's numbers.
#[derive(Debug, Clone, Copy)]
pub struct Pauses {
    /// The pause after the first failure.
    pub first: Duration,
    /// The pause stops doubling here.
    pub most: Duration,
    /// A connection up this long was a success: the pause starts over.
    pub settled: Duration,
}

/// 1 s doubling to 10 s: a restarted collector is found again within ten
/// seconds, and an absent (or at once closing) one costs one attempt per
/// ten seconds.
pub const PAUSES: Pauses = Pauses {
    first: Duration::from_secs(1),
    most: Duration::from_secs(10),
    settled: Duration::from_secs(10),
};

/// One sender's place in the rule.
#[derive(Debug)]
pub struct Backoff {
    pauses: Pauses,
    /// The pause the next failure owes.
    next: Duration,
    /// Whether the next attempt must wait `next` first.
    owed: bool,
    /// When the current connection was made.
    up_since: Option<Instant>,
}

impl Backoff {
    pub fn new(pauses: Pauses) -> Backoff {
        Backoff {
            pauses,
            next: pauses.first,
            owed: false,
            up_since: None,
        }
    }

    /// The longest pause, for the log.
    pub fn longest(&self) -> Duration {
        self.pauses.most
    }

    /// How long to wait before the next attempt (zero when no failure is
    /// owed); taking it makes the pause after the next failure twice as long.
    pub fn take_pause(&mut self) -> Duration {
        if !std::mem::take(&mut self.owed) {
            return Duration::ZERO;
        }
        let pause = self.next;
        self.next = (self.next * 2).min(self.pauses.most);
        pause
    }

    /// Sleeps the pause owed, if any.
    pub fn sleep(&mut self) {
        let pause = self.take_pause();
        if !pause.is_zero() {
            std::thread::sleep(pause);
        }
    }

    /// An attempt failed: a connect, or a datagram not sent.
    pub fn failed(&mut self) {
        self.owed = true;
        self.up_since = None;
    }

    /// A datagram went: the pause starts over.
    pub fn succeeded(&mut self) {
        self.owed = false;
        self.next = self.pauses.first;
    }

    /// A connection was made at `now`.
    pub fn connected(&mut self, now: Instant) {
        self.up_since = Some(now);
    }

    /// The connection ended at `now`: a failure unless it had settled.
    pub fn ended(&mut self, now: Instant) {
        let settled = self
            .up_since
            .take()
            .is_some_and(|since| now.saturating_duration_since(since) >= self.pauses.settled);
        if settled {
            self.succeeded();
        } else {
            self.failed();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn failures_pause_1_s_doubling_to_10_s() {
        let mut backoff = Backoff::new(PAUSES);
        assert_eq!(backoff.take_pause(), S(0), "the first attempt goes at once");
        let mut pauses = Vec::new();
        for _ in 0..6 {
            backoff.failed();
            pauses.push(backoff.take_pause().as_secs());
        }
        assert_eq!(pauses, [1, 2, 4, 8, 10, 10]);
        assert_eq!(backoff.take_pause(), S(0), "owed once per failure");
    }

    #[test]
    fn connections_that_end_at_once_keep_the_pause_growing() {
        let start = Instant::now();
        let mut backoff = Backoff::new(PAUSES);
        let mut pauses = Vec::new();
        let mut now = start;
        for _ in 0..5 {
            backoff.connected(now);
            backoff.ended(now + Duration::from_millis(5));
            let pause = backoff.take_pause();
            pauses.push(pause.as_secs());
            now += pause;
        }
        assert_eq!(pauses, [1, 2, 4, 8, 10]);
    }

    #[test]
    fn a_connection_that_stayed_up_10_s_starts_the_pause_over() {
        let start = Instant::now();
        let mut backoff = Backoff::new(PAUSES);
        for _ in 0..4 {
            backoff.failed();
            backoff.take_pause();
        }
        backoff.connected(start);
        backoff.ended(start + S(10));
        assert_eq!(backoff.take_pause(), S(0), "reconnected at once");
        backoff.failed();
        assert_eq!(backoff.take_pause(), S(1));

        backoff.connected(start);
        backoff.ended(start + Duration::from_millis(9_999));
        assert_eq!(backoff.take_pause(), S(2), "not settled: still growing");
    }

    #[test]
    fn a_datagram_that_went_starts_the_pause_over() {
        let mut backoff = Backoff::new(PAUSES);
        for _ in 0..3 {
            backoff.failed();
            backoff.take_pause();
        }
        backoff.succeeded();
        assert_eq!(backoff.take_pause(), S(0));
        backoff.failed();
        assert_eq!(backoff.take_pause(), S(1));
    }
}
