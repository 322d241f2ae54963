//! Kernel pressure: whether the conntrack hash table has too few buckets for
//! the table it holds. Two signs, each a warning in `stats` and in the log:
//! `nf_conntrack_max / nf_conntrack_buckets` above `--pressure-ratio`, and
//! the kernel's `chaintoolong` counter (inserts refused because a hash chain
//! grew past the kernel's limit) rising within the last [`WINDOW`].
//!
//! The counter is watched through readings: every `stats` call and scrape,
//! and the daemon's own reading every [`SAMPLE_EVERY`]. The first reading is
//! the baseline: refusals counted before it (since the namespace was made)
//! are logged at start, not shown as recent.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;
use utoipa::ToSchema;

/// How long a rise of `chaintoolong` stays a warning.
pub const WINDOW: Duration = Duration::from_secs(600);
/// How often the daemon reads the counters when nobody asks.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(60);
/// `--pressure-ratio`'s default: above 8 entries per bucket at the table's
/// limit, chains of 8 and more (the kernel's lowest limit) become common.
pub const DEFAULT_RATIO: f64 = 8.0;
/// Where root in the initial namespace sets the hash size at run time.
pub const HASHSIZE_PARAMETER: &str = "/sys/module/nf_conntrack/parameters/hashsize";

/// Pressure as `stats` shows it; `warnings` says the same in words.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct Pressure {
    /// `--pressure-ratio`: the largest `nf_conntrack_max / buckets` not
    /// warned about; 0 turns that warning off.
    pub ratio_limit: f64,
    /// `nf_conntrack_max / buckets` is above `ratio_limit` (false when the
    /// bucket count cannot be read).
    pub ratio_high: bool,
    /// Inserts the kernel refused on too-long hash chains (the rise of
    /// `kernel.chaintoolong`) within the last `window_secs`; above 0 is a
    /// warning.
    pub chaintoolong_recent: u64,
    /// The window of `chaintoolong_recent`, seconds.
    pub window_secs: u64,
    /// The hash size the warnings advise; 0 when there is no warning.
    pub suggested_hashsize: u64,
}

/// One reading of what pressure is judged by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reading {
    /// `nf_conntrack_max`.
    pub max: u64,
    /// `nf_conntrack_buckets`; 0 when unreadable.
    pub buckets: u64,
    /// The kernel's `chaintoolong` counter, summed over CPUs.
    pub chaintoolong: u64,
}

impl Reading {
    /// `max / buckets`, or `None` without a bucket count.
    pub fn ratio(&self) -> Option<f64> {
        (self.buckets > 0).then(|| self.max as f64 / self.buckets as f64)
    }
}

/// Follows the readings: remembers the last `chaintoolong` and its recent
/// rises, and logs each new sign of pressure once.
#[derive(Debug)]
pub struct Tracker {
    limit: f64,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    last: Option<u64>,
    /// Rises within the window: (when seen, by how much), oldest first.
    rises: VecDeque<(Instant, u64)>,
    /// Whether the high ratio has been logged (again once it went away).
    ratio_logged: bool,
}

/// Rises kept at most; older ones are merged into the next (a `stats` call
/// in a loop must not grow the list without bound).
const MAX_RISES: usize = 64;

impl Tracker {
    /// A tracker warning above `limit` entries per bucket (0: never).
    pub fn new(limit: f64) -> Tracker {
        Tracker {
            limit,
            state: Mutex::new(State::default()),
        }
    }

    /// Takes one reading made at `now`; returns the pressure and its warnings.
    pub fn observe(&self, now: Instant, reading: Reading) -> (Pressure, Vec<String>) {
        // The state is a few numbers updated in one step; a poisoned one is still valid.
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let suggested = suggest(reading, self.limit);
        match state.last {
            None if reading.chaintoolong > 0 => tracing::warn!(
                chaintoolong = reading.chaintoolong,
                buckets = reading.buckets,
                "the kernel has refused {} inserts on too-long hash chains since this namespace was made; \
                 if it goes on, {}",
                reading.chaintoolong,
                advice(suggested)
            ),
            Some(last) if reading.chaintoolong > last => {
                let rise = reading.chaintoolong - last;
                state.rises.push_back((now, rise));
                if state.rises.len() > MAX_RISES {
                    if let Some((_, oldest)) = state.rises.pop_front() {
                        if let Some(next) = state.rises.front_mut() {
                            next.1 += oldest;
                        }
                    }
                }
                tracing::warn!(
                    chaintoolong = reading.chaintoolong,
                    buckets = reading.buckets,
                    "the kernel refused {rise} inserts on too-long hash chains (chaintoolong): \
                     new connections fail; {}",
                    advice(suggested)
                );
            }
            _ => {}
        }
        // A counter that went down (per-CPU counters of a CPU taken offline
        // are no longer summed) is a new baseline, not a rise.
        state.last = Some(reading.chaintoolong);
        while let Some(&(at, _)) = state.rises.front() {
            if now.saturating_duration_since(at) < WINDOW {
                break;
            }
            state.rises.pop_front();
        }
        let recent: u64 = state.rises.iter().map(|(_, n)| n).sum();
        let ratio = reading.ratio();
        let ratio_high = self.limit > 0.0 && ratio.is_some_and(|r| r > self.limit);
        if ratio_high && !state.ratio_logged {
            tracing::warn!(
                max = reading.max,
                buckets = reading.buckets,
                "{}",
                ratio_message(reading, self.limit, suggested)
            );
        }
        state.ratio_logged = ratio_high;
        drop(state);

        let mut warnings = Vec::new();
        if ratio_high {
            warnings.push(ratio_message(reading, self.limit, suggested));
        }
        if recent > 0 {
            warnings.push(format!(
                "the kernel refused {recent} inserts on too-long hash chains (chaintoolong) in the \
                 last {} minutes: new connections fail; {}",
                WINDOW.as_secs() / 60,
                advice(suggested)
            ));
        }
        let pressure = Pressure {
            ratio_limit: self.limit,
            ratio_high,
            chaintoolong_recent: recent,
            window_secs: WINDOW.as_secs(),
            suggested_hashsize: if warnings.is_empty() { 0 } else { suggested },
        };
        (pressure, warnings)
    }
}

/// The hash size to advise: the table's limit at half the warning ratio
/// (`nf_conntrack_max / 4` by default), and at least twice the buckets there
/// are (chains too long at a low ratio mean the table is fuller than that).
pub fn suggest(reading: Reading, limit: f64) -> u64 {
    let per_bucket = if limit > 0.0 {
        limit / 2.0
    } else {
        DEFAULT_RATIO / 2.0
    };
    let from_max = (reading.max as f64 / per_bucket).ceil() as u64;
    from_max.max(reading.buckets.saturating_mul(2)).max(1)
}

fn advice(hashsize: u64) -> String {
    format!(
        "raise the hash size to {hashsize}: `echo {hashsize} > {HASHSIZE_PARAMETER}` as root \
         in the initial namespace, and `options nf_conntrack hashsize={hashsize}` in \
         /etc/modprobe.d/ (or nf_conntrack.hashsize={hashsize} on the kernel command line) \
         to keep it"
    )
}

fn ratio_message(reading: Reading, limit: f64, suggested: u64) -> String {
    let ratio = reading.ratio().unwrap_or(0.0);
    format!(
        "nf_conntrack_max ({}) is {ratio:.1} times nf_conntrack_buckets ({}), above {limit}: \
         a full table makes long hash chains, and the kernel refuses inserts into a chain that \
         is too long (chaintoolong); {}",
        reading.max,
        reading.buckets,
        advice(suggested)
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn reading(max: u64, buckets: u64, chaintoolong: u64) -> Reading {
        Reading {
            max,
            buckets,
            chaintoolong,
        }
    }

    #[test]
    fn a_ratio_above_the_limit_warns_and_advises_a_quarter_of_the_limit() {
        let tracker = Tracker::new(DEFAULT_RATIO);
        let now = Instant::now();
        let (p, w) = tracker.observe(now, reading(2_097_152, 65_536, 0));
        assert!(p.ratio_high);
        assert_eq!(p.suggested_hashsize, 524_288);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].starts_with(
                "nf_conntrack_max (2097152) is 32.0 times nf_conntrack_buckets (65536), above 8:"
            ),
            "{}",
            w[0]
        );
        assert!(
            w[0].contains("echo 524288 > /sys/module/nf_conntrack/parameters/hashsize"),
            "{}",
            w[0]
        );
        assert!(
            w[0].contains("options nf_conntrack hashsize=524288"),
            "{}",
            w[0]
        );
    }

    #[test]
    fn at_or_below_the_limit_nothing_is_warned() {
        let tracker = Tracker::new(DEFAULT_RATIO);
        let now = Instant::now();
        for buckets in [262_144, 32_768] {
            let (p, w) = tracker.observe(now, reading(262_144, buckets, 0));
            assert!(!p.ratio_high, "{buckets}");
            assert!(w.is_empty(), "{w:?}");
            assert_eq!(p.suggested_hashsize, 0);
        }
    }

    #[test]
    fn an_unknown_bucket_count_or_a_zero_limit_never_warns() {
        let now = Instant::now();
        let (p, w) = Tracker::new(DEFAULT_RATIO).observe(now, reading(1 << 30, 0, 0));
        assert!(!p.ratio_high && w.is_empty());
        let (p, w) = Tracker::new(0.0).observe(now, reading(1 << 30, 1, 0));
        assert!(!p.ratio_high && w.is_empty());
        assert_eq!(p.ratio_limit, 0.0);
    }

    #[test]
    fn a_low_limit_warns_at_an_ordinary_ratio() {
        // What the real-kernel test does: the host's max and buckets as they
        // are, a limit below their ratio.
        let (p, w) = Tracker::new(0.5).observe(Instant::now(), reading(262_144, 262_144, 0));
        assert!(p.ratio_high);
        assert_eq!(p.ratio_limit, 0.5);
        // Half the limit per bucket: four times the table's limit.
        assert_eq!(p.suggested_hashsize, 1_048_576);
        assert!(w[0].contains("above 0.5"), "{}", w[0]);
    }

    #[test]
    fn chaintoolong_counted_before_the_first_reading_is_no_recent_rise() {
        let tracker = Tracker::new(DEFAULT_RATIO);
        let (p, w) = tracker.observe(Instant::now(), reading(262_144, 262_144, 4));
        assert_eq!(p.chaintoolong_recent, 0);
        assert!(w.is_empty(), "{w:?}");
    }

    #[test]
    fn a_rise_of_chaintoolong_warns_for_the_window_then_stops() {
        let tracker = Tracker::new(DEFAULT_RATIO);
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        tracker.observe(at(0), reading(262_144, 262_144, 4));
        // Flat: nothing.
        let (p, w) = tracker.observe(at(60), reading(262_144, 262_144, 4));
        assert_eq!((p.chaintoolong_recent, w.len()), (0, 0));
        // Up by 3, then by 2 more.
        let (p, w) = tracker.observe(at(120), reading(262_144, 262_144, 7));
        assert_eq!(p.chaintoolong_recent, 3);
        assert_eq!(w.len(), 1);
        assert!(
            w[0].starts_with("the kernel refused 3 inserts on too-long hash chains (chaintoolong) in the last 10 minutes"),
            "{}",
            w[0]
        );
        // Twice the buckets: the ratio is fine, the table is fuller than that.
        assert_eq!(p.suggested_hashsize, 524_288);
        assert!(w[0].contains("echo 524288 > /sys/module/nf_conntrack/parameters/hashsize"));
        let (p, _) = tracker.observe(at(300), reading(262_144, 262_144, 9));
        assert_eq!(p.chaintoolong_recent, 5);
        // The first rise leaves the window, then the second.
        let (p, _) = tracker.observe(at(120 + 600), reading(262_144, 262_144, 9));
        assert_eq!(p.chaintoolong_recent, 2);
        let (p, w) = tracker.observe(at(300 + 600), reading(262_144, 262_144, 9));
        assert_eq!(p.chaintoolong_recent, 0);
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(p.suggested_hashsize, 0);
        assert_eq!(p.window_secs, 600);
    }

    #[test]
    fn a_counter_that_goes_down_is_a_new_baseline() {
        let tracker = Tracker::new(DEFAULT_RATIO);
        let t0 = Instant::now();
        tracker.observe(t0, reading(262_144, 262_144, 10));
        let (p, _) = tracker.observe(t0 + SAMPLE_EVERY, reading(262_144, 262_144, 6));
        assert_eq!(p.chaintoolong_recent, 0);
        let (p, _) = tracker.observe(t0 + 2 * SAMPLE_EVERY, reading(262_144, 262_144, 7));
        assert_eq!(p.chaintoolong_recent, 1);
    }

    #[test]
    fn many_rises_are_kept_in_bounded_memory_without_losing_count() {
        let tracker = Tracker::new(DEFAULT_RATIO);
        let t0 = Instant::now();
        tracker.observe(t0, reading(1, 1, 0));
        for n in 1..=1000 {
            tracker.observe(t0 + Duration::from_millis(n), reading(1, 1, n));
        }
        let state = tracker.state.lock().unwrap();
        assert!(state.rises.len() <= MAX_RISES);
        assert_eq!(state.rises.iter().map(|(_, n)| n).sum::<u64>(), 1000);
    }

    #[test]
    fn both_signs_give_two_warnings() {
        let tracker = Tracker::new(DEFAULT_RATIO);
        let t0 = Instant::now();
        tracker.observe(t0, reading(4_000_000, 262_144, 0));
        let (p, w) = tracker.observe(t0 + SAMPLE_EVERY, reading(4_000_000, 262_144, 4));
        assert!(p.ratio_high);
        assert_eq!(p.chaintoolong_recent, 4);
        assert_eq!(w.len(), 2, "{w:?}");
        assert_eq!(p.suggested_hashsize, 1_000_000);
    }
}
