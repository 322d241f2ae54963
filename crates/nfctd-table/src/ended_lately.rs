//! The connections whose end the mirror told lately, remembered for a
//! while: a DESTROY without a row that arrives later for one of them (ended
//! by a dump, a lookup, or a kill before its event was read) is told
//! already, while a DESTROY for a connection the mirror never held (its NEW
//! event lost in an overflow) is an end to tell.

use std::collections::HashSet;

use ctnetlink::ConnKey;

/// Keys remembered per generation before an early turn: bounds the memory
/// when reconciliation is off (two generations of ~56 B keys: ~30 MiB).
const GENERATION_LIMIT: usize = 262_144;

/// Two generations of keys; each reconciliation starts a new one, so a key
/// is remembered through at least one whole reconciliation interval.
#[derive(Debug, Default)]
pub(super) struct EndedLately {
    current: HashSet<ConnKey>,
    previous: HashSet<ConnKey>,
}

impl EndedLately {
    pub(super) fn note(&mut self, key: ConnKey) {
        if self.current.len() >= GENERATION_LIMIT {
            self.turn();
        }
        self.current.insert(key);
    }

    /// Whether `key`'s end was told lately; forgets it, since its DESTROY
    /// comes once.
    pub(super) fn take(&mut self, key: &ConnKey) -> bool {
        self.current.remove(key) || self.previous.remove(key)
    }

    /// Starts a new generation; the oldest is forgotten.
    pub(super) fn turn(&mut self) {
        self.previous = std::mem::take(&mut self.current);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ctnetlink::Conn;

    fn key(id: u32) -> ConnKey {
        let mut conn = Conn::flow(
            6,
            "192.0.2.1".parse().unwrap_or_else(|_| unreachable!()),
            "192.0.2.2".parse().unwrap_or_else(|_| unreachable!()),
            1000,
            80,
        );
        conn.id = id;
        conn.key()
    }

    #[test]
    fn a_key_is_kept_for_two_generations_and_taken_once() {
        let mut ended = EndedLately::default();
        ended.note(key(1));
        ended.note(key(2));
        ended.turn();
        assert!(ended.take(&key(1)));
        assert!(!ended.take(&key(1)), "taken once");
        ended.turn();
        assert!(!ended.take(&key(2)), "forgotten after two turns");
    }
}
