//! The rows clients are looking at: keys a `view` served recently, whose
//! counters the mirror thread refreshes by targeted lookups so their rates
//! stay live between full reconciliations.

use std::collections::HashMap;

use ctnetlink::ConnKey;

use super::row::Millis;

/// A row stays watched this long after a view last served it.
pub const WATCH_FOR: Millis = 10_000;
/// At most this many rows are watched; the least recently served make room.
pub const MAX_WATCHED: usize = 4096;
/// Lookups per round, most recently served first; the rest wait a round.
pub const LOOKUPS_PER_ROUND: usize = 200;

/// Watched keys with the mirror time a view last served each.
#[derive(Debug, Default)]
pub struct Watched {
    seen: HashMap<ConnKey, Millis>,
}

impl Watched {
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    /// Records that a view served these rows at `now`.
    pub fn note(&mut self, keys: impl IntoIterator<Item = ConnKey>, now: Millis) {
        for key in keys {
            self.seen.insert(key, now);
        }
        if self.seen.len() > MAX_WATCHED {
            let mut times: Vec<Millis> = self.seen.values().copied().collect();
            let cut = times.len() - MAX_WATCHED;
            let (_, bar, _) = times.select_nth_unstable(cut);
            let bar = *bar;
            self.seen.retain(|_, at| *at >= bar);
            // Rows served at the same moment tie at the bar: trim the excess.
            let excess = self.seen.len().saturating_sub(MAX_WATCHED);
            if excess > 0 {
                let drop: Vec<ConnKey> = self
                    .seen
                    .iter()
                    .filter(|(_, at)| **at == bar)
                    .map(|(k, _)| *k)
                    .take(excess)
                    .collect();
                for key in &drop {
                    self.seen.remove(key);
                }
            }
        }
    }

    pub fn forget(&mut self, key: &ConnKey) {
        self.seen.remove(key);
    }

    /// Drops rows not served for [`WATCH_FOR`], then returns the keys to look
    /// up this round: those `stale` says need it, most recently served
    /// first, at most [`LOOKUPS_PER_ROUND`].
    pub fn due(&mut self, now: Millis, stale: impl Fn(&ConnKey) -> bool) -> Vec<ConnKey> {
        self.seen
            .retain(|_, at| now.saturating_sub(*at) < WATCH_FOR);
        let mut due: Vec<(Millis, ConnKey)> = self
            .seen
            .iter()
            .filter(|(key, _)| stale(key))
            .map(|(key, at)| (*at, *key))
            .collect();
        if due.len() > LOOKUPS_PER_ROUND {
            due.select_nth_unstable_by(LOOKUPS_PER_ROUND, |a, b| b.0.cmp(&a.0));
            due.truncate(LOOKUPS_PER_ROUND);
        }
        due.into_iter().map(|(_, key)| key).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ctnetlink::{Conn, Family, Tuple};

    fn key(id: u32) -> ConnKey {
        Conn::new(id, Family::Ipv4, 6, Tuple::default(), Tuple::default()).key()
    }

    #[test]
    fn rows_served_at_one_moment_stay_within_the_bound() {
        let mut w = Watched::default();
        w.note((0..MAX_WATCHED as u32 * 2).map(key), 1000);
        assert_eq!(w.len(), MAX_WATCHED);
        w.note((0..10).map(|i| key(1_000_000 + i)), 2000);
        assert_eq!(w.len(), MAX_WATCHED, "newer rows push older ones out");
    }

    #[test]
    fn served_rows_are_due_until_they_are_not_served_for_a_while() {
        let mut w = Watched::default();
        w.note([key(1), key(2)], 1000);
        w.note([key(2)], 5000);
        assert_eq!(w.due(6000, |_| true).len(), 2);
        assert_eq!(w.due(6000, |k| k.id == 2), vec![key(2)]);
        // key 1 was last served at 1000: gone after WATCH_FOR.
        assert_eq!(w.due(1000 + WATCH_FOR, |_| true), vec![key(2)]);
        assert!(w.due(5000 + WATCH_FOR, |_| true).is_empty());
        assert!(w.is_empty());
    }

    #[test]
    fn watching_and_lookups_are_bounded_most_recent_first() {
        let mut w = Watched::default();
        for i in 0..(MAX_WATCHED as u32 + 500) {
            w.note([key(i)], Millis::from(i));
        }
        assert!(w.len() <= MAX_WATCHED + 1);
        let due = w.due(MAX_WATCHED as Millis + 500, |_| true);
        assert_eq!(due.len(), LOOKUPS_PER_ROUND);
        let newest = MAX_WATCHED as u32 + 499;
        assert!(due.contains(&key(newest)));
        assert!(due.iter().all(|k| k.id > newest - LOOKUPS_PER_ROUND as u32));
    }
}
