//! How long a password check should seem to take: a moving average of the
//! check time per cost class, and a floor every check is padded up to (the
//! largest of those averages), so neither an unknown name nor a cheaper or
//! dearer hash (sha-crypt, yescrypt, argon2 with other parameters) stands
//! out by its response time.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use super::hash::Cost;

/// Cost classes tracked: a password file has a handful. A class beyond this
/// is padded like any other but does not raise the floor.
const MAX_CLASSES: usize = 64;

/// Per cost class, the moving average of recent check durations.
#[derive(Debug, Default)]
pub struct Floor {
    averages: Mutex<HashMap<Cost, Duration>>,
}

impl Floor {
    /// Records a check of `cost` that took `took`; returns how long its
    /// caller should wait before answering, so that the answer comes no
    /// sooner than the floor.
    pub fn record(&self, cost: Cost, took: Duration) -> Duration {
        // Plain numbers: a poisoned map is still usable.
        let mut averages = self.averages.lock().unwrap_or_else(|p| p.into_inner());
        let tracked = averages.len();
        match averages.get_mut(&cost) {
            // A quarter weight to the new sample, which counts for at most
            // twice the average: one check stalled by a busy machine should
            // not slow every login for long.
            Some(average) => {
                let sample = took.min(*average * 2);
                *average = (*average * 3 + sample) / 4;
            }
            None if tracked < MAX_CLASSES => {
                averages.insert(cost, took);
            }
            None => {}
        }
        let floor = averages.values().max().copied().unwrap_or_default();
        floor.saturating_sub(took)
    }

    /// The current floor.
    #[cfg(test)]
    pub fn floor(&self) -> Duration {
        let averages = self.averages.lock().unwrap_or_else(|p| p.into_inner());
        averages.values().max().copied().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARGON2: Cost = Cost::Argon2 {
        m: 19456,
        t: 2,
        p: 1,
    };
    const SHA: Cost = Cost::Scheme("sha-crypt");
    const YES: Cost = Cost::Scheme("yescrypt");

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn every_check_is_padded_up_to_the_dearest_class() {
        let f = Floor::default();
        assert_eq!(f.record(ARGON2, ms(30)), ms(0));
        assert_eq!(f.record(SHA, ms(32)), ms(0), "dummy argon2 + sha-crypt");
        assert_eq!(f.record(ARGON2, ms(30)), ms(2));
        assert_eq!(f.record(YES, ms(60)), ms(0));
        assert_eq!(f.record(ARGON2, ms(30)), ms(30));
        assert_eq!(f.record(SHA, ms(1)), ms(59));
        assert_eq!(f.floor(), ms(60));
    }

    #[test]
    fn the_average_moves_and_an_outlier_counts_for_little() {
        let f = Floor::default();
        f.record(ARGON2, ms(40));
        f.record(ARGON2, ms(4000));
        assert_eq!(f.floor(), ms(50), "(3 * 40 + 80) / 4");
        for _ in 0..30 {
            f.record(ARGON2, ms(20));
        }
        assert!(f.floor() < ms(21), "{:?}", f.floor());
    }
}
