//! When the templates and the statistics record go out again (RFC 7011
//! §8.4: over UDP a collector that started late or restarted learns the
//! templates only from a resend).

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
}

impl Refresh {
    pub fn new(period: Duration, every_messages: u32) -> Refresh {
        Refresh {
            period,
            every_messages,
            last: None,
            messages_since: 0,
        }
    }

    /// Whether the next message should start with the templates.
    pub fn due(&self, now: Instant) -> bool {
        match self.last {
            None => true,
            Some(last) => {
                now.saturating_duration_since(last) >= self.period
                    || self.messages_since >= self.every_messages
            }
        }
    }

    /// How long until the period makes them due (zero if due now).
    pub fn wait(&self, now: Instant) -> Duration {
        match self.last {
            None => Duration::ZERO,
            Some(_) if self.due(now) => Duration::ZERO,
            Some(last) => (last + self.period).saturating_duration_since(now),
        }
    }

    /// The templates went out at `now`.
    pub fn sent_templates(&mut self, now: Instant) {
        self.last = Some(now);
        self.messages_since = 0;
    }

    /// A message went out.
    pub fn sent_message(&mut self) {
        self.messages_since = self.messages_since.saturating_add(1);
    }

    /// A new session, or a collector that was away: due now.
    pub fn restart(&mut self) {
        self.last = None;
        self.messages_since = 0;
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
        assert_eq!(refresh.wait(start + Duration::from_secs(1)), Duration::ZERO);

        refresh.sent_templates(start + Duration::from_secs(1));
        assert!(!refresh.due(start + Duration::from_secs(2)));
        refresh.restart();
        assert!(refresh.due(start + Duration::from_secs(2)));
    }
}
