//! Login throttling: at most N login attempts that did not succeed per user
//! name and per client address within a window, in bounded memory.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The configured limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Failed attempts allowed per key within `window`.
    pub attempts: u32,
    pub window: Duration,
}

impl Default for Limit {
    fn default() -> Limit {
        Limit {
            attempts: 5,
            window: Duration::from_secs(60),
        }
    }
}

/// Keys tracked at once; past this the entry whose window started first is
/// forgotten, so a flood of made-up names cannot grow memory.
pub const MAX_KEYS: usize = 10_000;

/// What is counted.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    User(String),
    /// IPv4 addresses as they are; IPv6 by /64, since one host commonly
    /// holds a whole /64 and could otherwise rotate addresses at will.
    Addr(IpAddr),
}

fn addr_key(ip: IpAddr) -> Key {
    match ip {
        IpAddr::V4(v4) => Key::Addr(IpAddr::V4(v4)),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => Key::Addr(IpAddr::V4(v4)),
            None => {
                let mut seg = v6.segments();
                seg[4..].fill(0);
                Key::Addr(IpAddr::V6(seg.into()))
            }
        },
    }
}

#[derive(Debug, Clone, Copy)]
struct Count {
    since: Instant,
    attempts: u32,
}

/// The counters, behind one lock held only for map operations.
#[derive(Debug)]
pub struct Throttle {
    limit: Limit,
    counts: Mutex<HashMap<Key, Count>>,
}

/// Which key is over its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limited {
    User,
    Addr,
}

/// Characters of a user name a key keeps: names are caller input (up to a
/// whole request body), and no real user name is longer.
const USER_KEY_CHARS: usize = 64;

/// A user's key: the name cut to [`USER_KEY_CHARS`] and lower-cased, so a
/// flood of huge names costs bounded memory, and backends that ignore case
/// (PAM, most commands) count "Admin" and "admin" together.
fn user_key(name: &str) -> Key {
    Key::User(
        name.chars()
            .take(USER_KEY_CHARS)
            .collect::<String>()
            .to_lowercase(),
    )
}

impl Throttle {
    pub fn new(limit: Limit) -> Throttle {
        Throttle {
            limit,
            counts: Mutex::new(HashMap::new()),
        }
    }

    fn keys(user: Option<&str>, peer: Option<IpAddr>) -> Vec<Key> {
        let mut keys = Vec::with_capacity(2);
        keys.extend(user.map(user_key));
        keys.extend(peer.map(addr_key));
        keys
    }

    /// Called before the password is looked at. Refuses while either key is
    /// over its limit; otherwise counts this attempt as a failure in advance,
    /// so concurrent attempts cannot slip past the limit together, and
    /// [`Throttle::succeeded`] takes it back.
    pub fn begin(&self, user: Option<&str>, peer: Option<IpAddr>) -> Result<(), Limited> {
        let now = Instant::now();
        let keys = Throttle::keys(user, peer);
        // Counters are plain numbers: a poisoned map is still usable.
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        for key in &keys {
            if let Some(c) = counts.get(key) {
                if now.duration_since(c.since) < self.limit.window
                    && c.attempts >= self.limit.attempts
                {
                    return Err(match key {
                        Key::User(_) => Limited::User,
                        Key::Addr(_) => Limited::Addr,
                    });
                }
            }
        }
        for key in keys {
            if !counts.contains_key(&key) && counts.len() >= MAX_KEYS {
                self.make_room(&mut counts, now);
            }
            let c = counts.entry(key).or_insert(Count {
                since: now,
                attempts: 0,
            });
            if now.duration_since(c.since) >= self.limit.window {
                *c = Count {
                    since: now,
                    attempts: 0,
                };
            }
            c.attempts = c.attempts.saturating_add(1);
        }
        Ok(())
    }

    /// A successful login clears the user's and the address's counts, as
    /// the issue asks. (So someone with an account of their own can clear
    /// their address between guesses; each name they guess at still has its
    /// own limit.)
    pub fn succeeded(&self, user: Option<&str>, peer: Option<IpAddr>) {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        for key in Throttle::keys(user, peer) {
            counts.remove(&key);
        }
    }

    /// Drops expired counts; if the map is still full, the count with the
    /// fewest attempts (the oldest among equals) goes. A key that is locked
    /// out has the most attempts, so a flood of fresh keys cannot free it.
    fn make_room(&self, counts: &mut HashMap<Key, Count>, now: Instant) {
        counts.retain(|_, c| now.duration_since(c.since) < self.limit.window);
        if counts.len() >= MAX_KEYS {
            let oldest = counts
                .iter()
                .min_by_key(|(_, c)| (c.attempts, c.since))
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                counts.remove(&k);
            }
        }
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.counts.lock().map(|c| c.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn per_user_and_per_address_limits() {
        let t = Throttle::new(Limit {
            attempts: 3,
            window: Duration::from_secs(60),
        });
        for _ in 0..3 {
            t.begin(Some("alice"), ip("10.0.0.1")).unwrap();
        }
        assert_eq!(t.begin(Some("alice"), ip("10.0.0.2")), Err(Limited::User));
        assert_eq!(t.begin(Some("bob"), ip("10.0.0.1")), Err(Limited::Addr));
        t.begin(Some("bob"), ip("10.0.0.2")).unwrap();
        t.succeeded(Some("alice"), ip("10.0.0.1"));
        t.begin(Some("alice"), ip("10.0.0.1")).unwrap();
    }

    #[test]
    fn the_window_expires() {
        let t = Throttle::new(Limit {
            attempts: 1,
            window: Duration::from_millis(200),
        });
        t.begin(Some("a"), None).unwrap();
        assert!(t.begin(Some("a"), None).is_err());
        std::thread::sleep(Duration::from_millis(250));
        t.begin(Some("a"), None).unwrap();
    }

    #[test]
    fn ipv6_counts_by_slash_64_and_mapped_v4_as_v4() {
        let t = Throttle::new(Limit {
            attempts: 2,
            window: Duration::from_secs(60),
        });
        t.begin(None, ip("2001:db8::1")).unwrap();
        t.begin(None, ip("2001:db8::ffff:2")).unwrap();
        assert!(t.begin(None, ip("2001:db8::3")).is_err());
        t.begin(None, ip("2001:db8:0:1::1")).unwrap();
        t.begin(None, ip("192.0.2.7")).unwrap();
        t.begin(None, ip("::ffff:192.0.2.7")).unwrap();
        assert!(t.begin(None, ip("192.0.2.7")).is_err());
    }

    #[test]
    fn memory_is_bounded() {
        let t = Throttle::new(Limit::default());
        for i in 0..(MAX_KEYS + 100) {
            let _ = t.begin(Some(&format!("u{i}")), None);
        }
        assert!(t.tracked() <= MAX_KEYS);
    }

    #[test]
    fn huge_names_cost_bounded_memory_and_case_does_not_split_a_user() {
        let t = Throttle::new(Limit {
            attempts: 2,
            window: Duration::from_secs(60),
        });
        let huge = "a".repeat(1 << 20);
        assert_eq!(user_key(&huge), user_key(&huge[..USER_KEY_CHARS]));
        assert!(t.begin(Some("Admin"), None).is_ok());
        assert!(t.begin(Some("admin"), None).is_ok());
        assert_eq!(t.begin(Some("ADMIN"), None), Err(Limited::User));
    }

    #[test]
    fn a_flood_of_new_keys_does_not_free_a_locked_user() {
        let t = Throttle::new(Limit {
            attempts: 2,
            window: Duration::from_secs(60),
        });
        let _ = t.begin(Some("root"), None);
        let _ = t.begin(Some("root"), None);
        for i in 0..(MAX_KEYS + 10) {
            let _ = t.begin(Some(&format!("u{i}")), None);
        }
        assert_eq!(t.begin(Some("root"), None), Err(Limited::User));
    }
}
