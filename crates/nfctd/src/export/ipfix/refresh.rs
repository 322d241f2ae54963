//! When the templates and the statistics record go out again (RFC 7011
//! §8.4: over UDP a collector that started late or restarted learns the
//! templates only from a resend). Two questions kept apart: whether the next
//! message carries them (`due`), and how long an idle sender may wait before
//! it sends them on their own (`wait`: only a new session and the period
//! wake it, so a collector that is away makes no message of its own).

use std::time::{Duration, Instant};

/// Over UDP, templates go out at least this often, idle or not.
pub const REFRESH_PERIOD: Duration = Duration::from_secs(10);
/// Over UDP, templates go out at least once every this many messages, so a
/// restarted collector under load learns them within a fraction of a second.
pub const REFRESH_MESSAGES: u32 = 100;

/// The refresh clock of one transport session.
#[derive(Debug)]
pub struct Refresh {
    period: Duration,
    every_messages: u32,
    /// When the templates last went out; `None`: never on this session.
    last: Option<Instant>,
    messages_since: u32,
    /// The collector may not have them (it was away, or the message that
    /// carried them was not sent): the next message carries them.
    owed: bool,
}

impl Refresh {
    pub fn new(period: Duration, every_messages: u32) -> Refresh {
        Refresh {
            period,
            every_messages,
            last: None,
            messages_since: 0,
            owed: false,
        }
    }

    /// Whether the next message should start with the templates.
    pub fn due(&self, now: Instant) -> bool {
        if self.owed {
            return true;
        }
        match self.last {
            None => true,
            Some(last) => {
                now.saturating_duration_since(last) >= self.period
                    || self.messages_since >= self.every_messages
            }
        }
    }

    /// How long an idle sender may wait before sending them on their own:
    /// zero on a new session, else until the period is over. Templates due
    /// for another reason ride on the next message with records.
    pub fn wait(&self, now: Instant) -> Duration {
        match self.last {
            None => Duration::ZERO,
            Some(last) => (last + self.period).saturating_duration_since(now),
        }
    }

    /// The templates went out at `now`.
    pub fn sent_templates(&mut self, now: Instant) {
        self.last = Some(now);
        self.messages_since = 0;
        self.owed = false;
    }

    /// A message went out.
    pub fn sent_message(&mut self) {
        self.messages_since = self.messages_since.saturating_add(1);
    }

    /// A new session: due now, and sent at once even with no record.
    pub fn restart(&mut self) {
        self.last = None;
        self.messages_since = 0;
        self.owed = false;
    }

    /// The collector was away, or the templates' message was not sent:
    /// due with the next message, which waits for a record or the period.
    pub fn resend(&mut self) {
        self.owed = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_due_first_then_by_period_or_message_count() {
        let start = Instant::now();
        let mut refresh = Refresh::new(Duration::from_secs(10), 100);
        assert!(refresh.due(start), "before anything else");
        assert_eq!(refresh.wait(start), Duration::ZERO);
        refresh.sent_templates(start);
        assert!(!refresh.due(start));
        assert_eq!(refresh.wait(start), Duration::from_secs(10));
        let later = start + Duration::from_millis(9_999);
        assert!(!refresh.due(later));
        assert_eq!(refresh.wait(later), Duration::from_millis(1));
        assert!(refresh.due(start + Duration::from_secs(10)));

        for _ in 0..99 {
            refresh.sent_message();
        }
        assert!(!refresh.due(start + Duration::from_secs(1)));
        refresh.sent_message();
        assert!(
            refresh.due(start + Duration::from_secs(1)),
            "after 100 messages"
        );
        assert_eq!(
            refresh.wait(start + Duration::from_secs(1)),
            Duration::from_secs(9),
            "they go with the next message, not alone"
        );

        refresh.sent_templates(start + Duration::from_secs(1));
        assert!(!refresh.due(start + Duration::from_secs(2)));
        refresh.restart();
        assert!(refresh.due(start + Duration::from_secs(2)));
        assert_eq!(refresh.wait(start + Duration::from_secs(2)), Duration::ZERO);
    }

    #[test]
    fn templates_owed_after_a_failure_wait_for_the_next_message() {
        // The sender once made a message of templates at once after every
        // failed send, and so sent in a loop while sends kept failing.
        let start = Instant::now();
        let mut refresh = Refresh::new(Duration::from_secs(10), 100);
        refresh.sent_templates(start);
        refresh.resend();
        assert!(refresh.due(start));
        assert_eq!(refresh.wait(start), Duration::from_secs(10));
        refresh.sent_templates(start + Duration::from_secs(1));
        assert!(!refresh.due(start + Duration::from_secs(1)));
    }
}
