//! Login throttling: at most N login attempts that did not succeed per user
//! name and per client address within a window, in bounded memory that a
//! flood can neither grow nor use to forget a lockout.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::prefix::{default_admin_from, is_trusted};
use crate::cidr::Cidr;

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

/// User names tracked at once.
pub const MAX_NAMES: usize = 10_000;
/// Client addresses (IPv6 by /64) tracked at once. More than names: a flood
/// rotates addresses it owns, and each one locked out must stay counted.
pub const MAX_ADDRS: usize = 50_000;

/// Which key is over its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limited {
    User,
    Addr,
    /// A map is full of live lockouts, so this new name or address could not
    /// be counted: refused rather than let in uncounted.
    Full,
}

/// IPv4 addresses as they are; IPv6 by /64, since one host commonly holds a
/// whole /64 and could otherwise rotate addresses at will.
fn addr_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut seg = v6.segments();
                seg[4..].fill(0);
                IpAddr::V6(seg.into())
            }
        },
    }
}

/// Characters of a user name a key keeps: names are caller input (up to a
/// whole request body), and no real user name is longer.
const USER_KEY_CHARS: usize = 64;

/// A user's key: the name the backend is given, cut to [`USER_KEY_CHARS`]
/// and lower-cased, so a flood of huge names costs bounded memory, and
/// backends that ignore case (PAM, most commands) count "Admin" and "admin"
/// together. Both only ever merge names, never split one.
fn user_key(name: &str) -> String {
    name.chars()
        .take(USER_KEY_CHARS)
        .collect::<String>()
        .to_lowercase()
}

#[derive(Debug, Clone, Copy)]
struct Count {
    since: Instant,
    attempts: u32,
}

/// One bounded map of counts.
#[derive(Debug)]
struct Counts<K> {
    map: HashMap<K, Count>,
    cap: usize,
}

impl<K: Hash + Eq + Clone> Counts<K> {
    fn new(cap: usize) -> Counts<K> {
        Counts {
            map: HashMap::new(),
            cap,
        }
    }

    fn live(c: &Count, limit: Limit, now: Instant) -> bool {
        now.duration_since(c.since) < limit.window
    }

    fn locked(c: &Count, limit: Limit, now: Instant) -> bool {
        Counts::<K>::live(c, limit, now) && c.attempts >= limit.attempts
    }

    fn is_locked(&self, key: &K, limit: Limit, now: Instant) -> bool {
        self.map
            .get(key)
            .is_some_and(|c| Counts::<K>::locked(c, limit, now))
    }

    /// Whether `key` can be counted: it is there already, or there is room,
    /// or room was made. Expired counts go first; then unlocked counts, those
    /// with the fewest attempts first and the oldest among equals, a
    /// sixteenth of the map at a time so that a flood of new keys pays for a
    /// scan of the map once per many keys. A live lockout is never
    /// forgotten: if only lockouts are left, there is no room.
    fn room_for(&mut self, key: &K, limit: Limit, now: Instant) -> bool {
        if self.map.len() < self.cap || self.map.contains_key(key) {
            return true;
        }
        self.map.retain(|_, c| Counts::<K>::live(c, limit, now));
        if self.map.len() < self.cap {
            return true;
        }
        let mut unlocked: Vec<((u32, Instant), &K)> = self
            .map
            .iter()
            .filter(|(_, c)| c.attempts < limit.attempts)
            .map(|(k, c)| ((c.attempts, c.since), k))
            .collect();
        if unlocked.is_empty() {
            return false;
        }
        let batch = (self.cap / 16).clamp(1, unlocked.len());
        if batch < unlocked.len() {
            unlocked.select_nth_unstable_by_key(batch - 1, |(order, _)| *order);
        }
        let victims: Vec<K> = unlocked[..batch]
            .iter()
            .map(|(_, k)| (*k).clone())
            .collect();
        for k in victims {
            self.map.remove(&k);
        }
        true
    }

    /// Counts one attempt (a new window if the last one passed).
    fn count(&mut self, key: K, limit: Limit, now: Instant) {
        let c = self.map.entry(key).or_insert(Count {
            since: now,
            attempts: 0,
        });
        if !Counts::<K>::live(c, limit, now) {
            *c = Count {
                since: now,
                attempts: 0,
            };
        }
        c.attempts = c.attempts.saturating_add(1);
    }

    /// Takes back one attempt counted in advance.
    fn give_back(&mut self, key: &K) {
        if let Some(c) = self.map.get_mut(key) {
            c.attempts = c.attempts.saturating_sub(1);
        }
    }
}

#[derive(Debug)]
struct Maps {
    names: Counts<String>,
    addrs: Counts<IpAddr>,
}

/// The counters, behind one lock held only for map operations.
#[derive(Debug)]
pub struct Throttle {
    limit: Limit,
    /// `--admin-from`: exempt from name lockouts (and from the refusal when
    /// a map is full), never from their own address's count.
    trusted: Vec<Cidr>,
    maps: Mutex<Maps>,
}

impl Throttle {
    /// A throttle trusting the default `--admin-from` prefixes.
    pub fn new(limit: Limit) -> Throttle {
        Throttle::with_trusted(limit, default_admin_from())
    }

    pub fn with_trusted(limit: Limit, trusted: Vec<Cidr>) -> Throttle {
        Throttle::with_caps(limit, trusted, MAX_NAMES, MAX_ADDRS)
    }

    fn with_caps(limit: Limit, trusted: Vec<Cidr>, names: usize, addrs: usize) -> Throttle {
        Throttle {
            limit,
            trusted,
            maps: Mutex::new(Maps {
                names: Counts::new(names),
                addrs: Counts::new(addrs),
            }),
        }
    }

    fn is_trusted(&self, peer: Option<IpAddr>) -> bool {
        peer.is_some_and(|ip| is_trusted(&self.trusted, ip))
    }

    fn maps(&self) -> std::sync::MutexGuard<'_, Maps> {
        // Counters are plain numbers: a poisoned map is still usable.
        self.maps.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Called before the password is looked at. Refuses while the address,
    /// or (unless the client is trusted) the name, is over its limit;
    /// otherwise counts this attempt as a failure in advance, so concurrent
    /// attempts cannot slip past the limit together, and
    /// [`Throttle::succeeded`] or [`Throttle::not_checked`] takes it back.
    pub fn begin(&self, user: Option<&str>, peer: Option<IpAddr>) -> Result<(), Limited> {
        let now = Instant::now();
        let limit = self.limit;
        let trusted = self.is_trusted(peer);
        let name = user.map(user_key);
        let addr = peer.map(addr_key);
        let mut maps = self.maps();
        let maps = &mut *maps;
        if addr.is_some_and(|a| maps.addrs.is_locked(&a, limit, now)) {
            return Err(Limited::Addr);
        }
        if !trusted
            && name
                .as_ref()
                .is_some_and(|n| maps.names.is_locked(n, limit, now))
        {
            return Err(Limited::User);
        }
        let name_room = name
            .as_ref()
            .is_none_or(|n| maps.names.room_for(n, limit, now));
        let addr_room = addr.is_none_or(|a| maps.addrs.room_for(&a, limit, now));
        let room = name_room && addr_room;
        if !room && !trusted {
            return Err(Limited::Full);
        }
        // A trusted client finding a map full goes on uncounted there: its
        // own address is still counted whenever there is room for it.
        if let Some(n) = name.filter(|_| name_room) {
            maps.names.count(n, limit, now);
        }
        if let Some(a) = addr.filter(|_| addr_room) {
            maps.addrs.count(a, limit, now);
        }
        Ok(())
    }

    /// A successful login clears its address's count, and its name's count
    /// unless the name is locked out: a trusted client's success must not
    /// hand whoever locked the name out a fresh set of guesses. (Someone
    /// with an account of their own can clear their address between
    /// guesses; each name they guess at still has its own limit.)
    pub fn succeeded(&self, user: Option<&str>, peer: Option<IpAddr>) {
        let now = Instant::now();
        let mut maps = self.maps();
        if let Some(a) = peer.map(addr_key) {
            maps.addrs.map.remove(&a);
        }
        if let Some(n) = user.map(user_key) {
            maps.names.give_back(&n);
            if !maps.names.is_locked(&n, self.limit, now) {
                maps.names.map.remove(&n);
            }
        }
    }

    /// The attempt counted by [`Throttle::begin`] was never checked (the
    /// daemon was too busy): take it back.
    pub fn not_checked(&self, user: Option<&str>, peer: Option<IpAddr>) {
        let mut maps = self.maps();
        if let Some(a) = peer.map(addr_key) {
            maps.addrs.give_back(&a);
        }
        if let Some(n) = user.map(user_key) {
            maps.names.give_back(&n);
        }
    }

    #[cfg(test)]
    fn tracked(&self) -> (usize, usize) {
        let maps = self.maps();
        (maps.names.map.len(), maps.addrs.map.len())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    fn limit(attempts: u32) -> Limit {
        Limit {
            attempts,
            window: Duration::from_secs(60),
        }
    }

    /// The `n`th address of 10.0.0.0/8.
    fn nth(n: usize) -> Option<IpAddr> {
        Some(IpAddr::V4((0x0a00_0000 + n as u32).into()))
    }

    #[test]
    fn per_user_and_per_address_limits() {
        let t = Throttle::new(limit(3));
        for _ in 0..3 {
            t.begin(Some("alice"), ip("10.0.0.1")).unwrap();
        }
        assert_eq!(t.begin(Some("alice"), ip("10.0.0.2")), Err(Limited::User));
        assert_eq!(t.begin(Some("bob"), ip("10.0.0.1")), Err(Limited::Addr));
        t.begin(Some("bob"), ip("10.0.0.2")).unwrap();
        t.succeeded(Some("bob"), ip("10.0.0.2"));
        // alice is locked: a success elsewhere cannot have happened, and the
        // address's count is what a success clears.
        t.succeeded(Some("carol"), ip("10.0.0.1"));
        assert_eq!(t.begin(Some("alice"), ip("10.0.0.1")), Err(Limited::User));
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
        let t = Throttle::new(limit(2));
        t.begin(None, ip("2001:db8::1")).unwrap();
        t.begin(None, ip("2001:db8::ffff:2")).unwrap();
        assert!(t.begin(None, ip("2001:db8::3")).is_err());
        t.begin(None, ip("2001:db8:0:1::1")).unwrap();
        t.begin(None, ip("192.0.2.7")).unwrap();
        t.begin(None, ip("::ffff:192.0.2.7")).unwrap();
        assert!(t.begin(None, ip("192.0.2.7")).is_err());
    }

    #[test]
    fn memory_is_bounded_per_map() {
        let t = Throttle::new(Limit::default());
        // Room is made a sixteenth of the map at a time.
        let full = |n: usize, cap: usize| n <= cap && n >= cap - cap / 16;
        for i in 0..(MAX_NAMES + 100) {
            let _ = t.begin(Some(&format!("u{i}")), nth(i));
        }
        let (names, addrs) = t.tracked();
        assert!(
            full(names, MAX_NAMES) && addrs == MAX_NAMES + 100,
            "{names} {addrs}"
        );
        for i in 0..(MAX_ADDRS + 100) {
            let _ = t.begin(None, nth(i + MAX_NAMES + 100));
        }
        assert!(full(t.tracked().1, MAX_ADDRS), "{:?}", t.tracked());
    }

    #[test]
    fn huge_names_cost_bounded_memory_and_case_does_not_split_a_user() {
        let t = Throttle::new(limit(2));
        let huge = "a".repeat(1 << 20);
        assert_eq!(user_key(&huge), user_key(&huge[..USER_KEY_CHARS]));
        assert!(t.begin(Some("Admin"), None).is_ok());
        assert!(t.begin(Some("admin"), None).is_ok());
        assert_eq!(t.begin(Some("ADMIN"), None), Err(Limited::User));
    }

    #[test]
    fn lockouts_are_never_evicted_by_a_flood_of_addresses_and_names() {
        // The attack that once worked: lock `admin`, then fill the maps from
        // thousands of addresses, each locking itself out with password-less
        // logins under fresh names.
        let t = Throttle::with_caps(limit(5), default_admin_from(), 100, 300);
        for _ in 0..5 {
            let _ = t.begin(Some("admin"), ip("192.0.2.1"));
        }
        for a in 0..1000 {
            for n in 0..5 {
                let _ = t.begin(Some(&format!("u{a}-{n}")), nth(a));
            }
        }
        assert_eq!(t.begin(Some("admin"), ip("192.0.2.99")), Err(Limited::User));
        assert_eq!(t.begin(Some("x"), ip("192.0.2.1")), Err(Limited::Addr));
        let (names, addrs) = t.tracked();
        assert!(names <= 100 && addrs <= 300, "{names} {addrs}");
    }

    #[test]
    fn eviction_takes_the_fewest_attempts_oldest_first() {
        let t = Throttle::with_caps(limit(5), vec![], 3, 100);
        for (name, n) in [("two", 2), ("one-old", 1), ("one-new", 1)] {
            for _ in 0..n {
                t.begin(Some(name), None).unwrap();
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        t.begin(Some("new"), None).unwrap();
        let maps = t.maps();
        let mut kept: Vec<&str> = maps.names.map.keys().map(String::as_str).collect();
        kept.sort_unstable();
        assert_eq!(kept, ["new", "one-new", "two"]);
    }

    #[test]
    fn a_map_full_of_lockouts_refuses_new_keys_but_not_trusted_clients() {
        let t = Throttle::with_caps(limit(2), default_admin_from(), 3, 100);
        for name in ["a", "b", "c"] {
            for _ in 0..2 {
                let _ = t.begin(Some(name), None);
            }
        }
        assert_eq!(t.begin(Some("d"), ip("198.51.100.1")), Err(Limited::Full));
        assert_eq!(t.begin(Some("a"), ip("198.51.100.1")), Err(Limited::User));
        // From the trusted path: neither the name's lockout nor the full
        // map stops it, and its address is counted all the same.
        t.begin(Some("a"), ip("127.0.0.1")).unwrap();
        t.begin(Some("d"), ip("::1")).unwrap();
        t.begin(Some("d"), ip("127.0.0.1")).unwrap();
        assert_eq!(t.begin(Some("e"), ip("127.0.0.1")), Err(Limited::Addr));
        // A trusted success does not clear the lockout it walked past.
        t.succeeded(Some("a"), ip("::1"));
        assert_eq!(t.begin(Some("a"), ip("198.51.100.2")), Err(Limited::User));
    }

    #[test]
    fn an_explicit_trusted_list_replaces_the_default() {
        let trusted = vec!["192.0.2.0/24".parse().unwrap()];
        let t = Throttle::with_trusted(limit(1), trusted);
        let _ = t.begin(Some("admin"), ip("203.0.113.9"));
        assert_eq!(t.begin(Some("admin"), ip("127.0.0.1")), Err(Limited::User));
        t.begin(Some("admin"), ip("192.0.2.77")).unwrap();
    }

    #[test]
    fn an_unchecked_attempt_is_given_back() {
        let t = Throttle::new(limit(1));
        t.begin(Some("a"), ip("192.0.2.1")).unwrap();
        t.not_checked(Some("a"), ip("192.0.2.1"));
        t.begin(Some("a"), ip("192.0.2.1")).unwrap();
        assert!(t.begin(Some("a"), ip("192.0.2.1")).is_err());
    }
}
