//! Login throttling: at most N login attempts that did not succeed per user
//! name and per client address within a window, in bounded memory that a
//! flood can neither grow nor use to forget a lockout.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[cfg(test)]
use super::prefix::default_admin_from;
use super::prefix::is_trusted;
use nfctd_table::cidr::Cidr;

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

/// User names tracked at once. When all are live lockouts, a new name goes
/// untracked (see [`Throttle::begin`]); only its address's count limits it.
/// Full, the map takes some 14 to 18 MiB (keys of [`USER_KEY_BYTES`]), the
/// address map some 12 MiB: measured, and stated in docs/authentication.md.
pub const MAX_NAMES: usize = 100_000;
/// Client addresses (IPv6 by /64) tracked at once. When all are live
/// lockouts, a new address is refused: it is the one count that limits
/// guesses at a name the name map has no room for.
pub const MAX_ADDRS: usize = 100_000;

/// Which key is over its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limited {
    User,
    Addr,
    /// The address map is full of live lockouts, so this new address could
    /// not be counted: refused rather than let in uncounted.
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

/// Bytes of a user name a key keeps: a name may be 256 bytes (see
/// `input`), and a key this short keeps the name map's memory small.
const USER_KEY_BYTES: usize = 64;

/// A user's key: the name without blanks around it, lower-cased, cut to
/// [`USER_KEY_BYTES`] (at a character boundary). Backends that ignore case
/// (PAM, most commands) then count "Admin" and "admin" together, and a
/// program that strips blanks counts " admin" with "admin" should such a
/// name ever reach the throttle (`input` refuses it first). All of these
/// only ever merge names, never split one.
fn user_key(name: &str) -> String {
    let mut key = name.trim().to_lowercase();
    if key.len() > USER_KEY_BYTES {
        let mut end = USER_KEY_BYTES;
        while !key.is_char_boundary(end) {
            end -= 1;
        }
        key.truncate(end);
    }
    key
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
    /// Set when the map was found full of live lockouts: no room can appear
    /// before the first of them expires, unless an attempt is given back or
    /// a count removed. Until then a new key is answered without a scan, so
    /// a full map costs each login a lookup, not a pass over every count.
    full_until: Option<Instant>,
}

impl<K: Hash + Eq + Clone> Counts<K> {
    fn new(cap: usize) -> Counts<K> {
        Counts {
            map: HashMap::new(),
            cap,
            full_until: None,
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
        if self.full_until.is_some_and(|until| now < until) {
            return false;
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
            self.full_until = self.map.values().map(|c| c.since + limit.window).min();
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
            self.full_until = None;
        }
    }

    /// Drops a key's count.
    fn forget(&mut self, key: &K) {
        if self.map.remove(key).is_some() {
            self.full_until = None;
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
    #[cfg(test)]
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
        let addr_room = addr.is_none_or(|a| maps.addrs.room_for(&a, limit, now));
        if !addr_room && !trusted {
            return Err(Limited::Full);
        }
        // The name map fails open. Filling it with live lockouts costs an
        // attacker every attempt of the addresses it uses, a name each
        // `attempts` of them; refusing every new name then would lock out
        // every user who had not failed lately. An untracked name is still
        // limited by its address's count, which the address map (failing
        // closed) always has.
        let name_room = name
            .as_ref()
            .is_none_or(|n| maps.names.room_for(n, limit, now));
        // A trusted client finding the address map full goes on uncounted
        // there.
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
            maps.addrs.forget(&a);
        }
        if let Some(n) = user.map(user_key) {
            maps.names.give_back(&n);
            if !maps.names.is_locked(&n, self.limit, now) {
                maps.names.forget(&n);
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
            full(names, MAX_NAMES) && full(addrs, MAX_ADDRS),
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
        assert_eq!(user_key(&huge), user_key(&huge[..USER_KEY_BYTES]));
        assert_eq!(user_key(&"é".repeat(100)).len(), USER_KEY_BYTES);
        assert_eq!(
            user_key(&format!("x{}", "é".repeat(100))).len(),
            USER_KEY_BYTES - 1
        );
        assert_eq!(user_key(" \tAdmin\u{a0}"), "admin");
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
    fn a_name_map_full_of_lockouts_lets_new_names_in_limited_by_their_address() {
        let t = Throttle::with_caps(limit(2), default_admin_from(), 3, 100);
        for name in ["a", "b", "c"] {
            for _ in 0..2 {
                let _ = t.begin(Some(name), None);
            }
        }
        // Not tracked by name, but counted by address.
        t.begin(Some("d"), ip("198.51.100.1")).unwrap();
        t.begin(Some("e"), ip("198.51.100.1")).unwrap();
        assert_eq!(t.begin(Some("f"), ip("198.51.100.1")), Err(Limited::Addr));
        assert_eq!(t.tracked(), (3, 1));
        // The lockouts stay, for everyone but the trusted path.
        assert_eq!(t.begin(Some("a"), ip("198.51.100.2")), Err(Limited::User));
        t.begin(Some("a"), ip("127.0.0.1")).unwrap();
        // A trusted success does not clear the lockout it walked past.
        t.succeeded(Some("a"), ip("127.0.0.1"));
        assert_eq!(t.begin(Some("a"), ip("198.51.100.3")), Err(Limited::User));
    }

    #[test]
    fn a_full_name_map_makes_room_once_a_lockout_expires_or_a_count_goes() {
        let t = Throttle::with_caps(
            Limit {
                attempts: 1,
                window: Duration::from_millis(300),
            },
            vec![],
            2,
            100,
        );
        t.begin(Some("a"), nth(1)).unwrap();
        std::thread::sleep(Duration::from_millis(150));
        t.begin(Some("b"), nth(2)).unwrap();
        t.begin(Some("c"), nth(3)).unwrap();
        assert_eq!(t.tracked().0, 2, "c went untracked");
        // A given-back attempt unlocks "b": room for the next new name.
        t.not_checked(Some("b"), nth(2));
        t.begin(Some("d"), nth(4)).unwrap();
        assert!(t.maps().names.map.contains_key("d"));
        // Once "a" has expired, its place is free too.
        std::thread::sleep(Duration::from_millis(200));
        t.begin(Some("e"), nth(5)).unwrap();
        assert!(t.maps().names.map.contains_key("e"));
        assert!(!t.maps().names.map.contains_key("a"));
    }

    #[test]
    fn filling_the_name_map_with_lockouts_locks_no_one_else_out() {
        // The attack: thousands of addresses, each spending its five
        // attempts on password-less logins under one fresh name, until the
        // name map holds nothing but live lockouts.
        const NAMES: usize = 200;
        let t = Throttle::with_caps(limit(5), default_admin_from(), NAMES, 10_000);
        for _ in 0..5 {
            let _ = t.begin(Some("admin"), ip("192.0.2.1"));
        }
        for a in 0..NAMES + 100 {
            for _ in 0..5 {
                let _ = t.begin(Some(&format!("fill{a}")), nth(a));
            }
        }
        let (names, _) = t.tracked();
        assert_eq!(names, NAMES, "full");
        {
            let maps = t.maps();
            let locked = maps.names.map.values().filter(|c| c.attempts >= 5).count();
            assert_eq!(locked, NAMES, "of live lockouts");
        }
        // A real user, from an untrusted address that has not failed, is
        // checked; a success clears the address's count.
        t.begin(Some("viewer"), ip("198.51.100.7")).unwrap();
        t.succeeded(Some("viewer"), ip("198.51.100.7"));
        t.begin(Some("viewer"), ip("198.51.100.8")).unwrap();
        // The locked admin stays locked, and the fill's addresses are spent.
        assert_eq!(
            t.begin(Some("admin"), ip("198.51.100.9")),
            Err(Limited::User)
        );
        assert_eq!(t.begin(Some("someone"), nth(NAMES)), Err(Limited::Addr));
        // Guessing at an untracked name is limited by the address.
        for _ in 0..5 {
            t.begin(Some("viewer2"), ip("198.51.100.10")).unwrap();
        }
        assert_eq!(
            t.begin(Some("viewer2"), ip("198.51.100.10")),
            Err(Limited::Addr)
        );
    }

    #[test]
    fn an_address_map_full_of_lockouts_refuses_new_addresses_but_not_trusted_clients() {
        let t = Throttle::with_caps(limit(2), default_admin_from(), 100, 3);
        for a in 0..3 {
            for _ in 0..2 {
                let _ = t.begin(None, nth(a));
            }
        }
        assert_eq!(t.begin(Some("d"), ip("198.51.100.1")), Err(Limited::Full));
        assert_eq!(t.begin(None, ip("198.51.100.1")), Err(Limited::Full));
        // From the trusted path: counted by name, not refused.
        t.begin(Some("d"), ip("127.0.0.1")).unwrap();
        t.begin(Some("d"), ip("::1")).unwrap();
        assert_eq!(t.begin(Some("e"), ip("198.51.100.2")), Err(Limited::Full));
        assert_eq!(t.tracked(), (1, 3));
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
