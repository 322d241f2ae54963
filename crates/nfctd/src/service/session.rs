//! Sessions: random ids, sliding idle expiry, role, and the per-session view
//! mode (live, or a [`Frozen`] snapshot for stable paging, with the session's
//! own kills and changes laid over it).
//!
//! The map is keyed by the SHA-256 of each id, not the id: a lookup then
//! compares digests, whose bytes an attacker cannot steer, so the time a
//! guess takes tells nothing about how many leading characters of a real id
//! it got right (session ids must be compared in constant time).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

pub use crate::auth::Role;
use nfctd_table::{Frozen, Snapshot};

use super::error::ApiError;

/// The map key for a session id.
type Key = [u8; 32];

fn key(id: &str) -> Key {
    Sha256::digest(id.as_bytes()).into()
}

/// One logged-in client.
#[derive(Debug, Clone)]
pub struct Session {
    /// The id's first 8 hex digits: enough to tell sessions apart in the audit
    /// log without writing the bearer secret there.
    pub tag: String,
    pub user: String,
    pub role: Role,
    last_used: Instant,
    /// `Some` while autorefresh is off: the snapshot taken then (or at the
    /// last `refresh`), with this session's kills and changes since.
    pub frozen: Option<Arc<Frozen>>,
}

/// A bound on live sessions, so a login loop cannot exhaust memory; the least
/// recently used session makes room.
const MAX_SESSIONS: usize = 10_000;
/// A bound on sessions with autorefresh off: each may pin a table state the
/// mirror has moved past.
pub const MAX_FROZEN: usize = 64;
/// Viewers may not lock out an administrator: one viewer account holds at
/// most this many sessions (its own oldest makes room), a full table pushes
/// out viewers' sessions before admins', and viewers leave some frozen views
/// to admins.
const MAX_SESSIONS_PER_VIEWER: usize = 256;
const MAX_FROZEN_PER_VIEWER: usize = 8;
const FROZEN_KEPT_FOR_ADMINS: usize = 16;
/// How often touching a session also sweeps out expired ones.
const SWEEP_EVERY: Duration = Duration::from_secs(10);

#[derive(Debug)]
struct Map {
    sessions: HashMap<Key, Session>,
    last_sweep: Instant,
}

/// All sessions, behind one lock held only for map operations.
#[derive(Debug)]
pub struct Sessions {
    idle_timeout: Duration,
    map: Mutex<Map>,
}

impl Sessions {
    pub fn new(idle_timeout: Duration) -> Sessions {
        let map = Map {
            sessions: HashMap::new(),
            last_sweep: Instant::now(),
        };
        Sessions {
            idle_timeout,
            map: Mutex::new(map),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Map> {
        // Sessions are replaced whole under the lock; a poisoned map is still consistent.
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Removes expired sessions and returns them, to be dropped after the lock
    /// is released (dropping a frozen snapshot can free many rows).
    fn sweep(&self, map: &mut Map, now: Instant) -> Vec<Session> {
        map.last_sweep = now;
        let expired: Vec<Key> = map
            .sessions
            .iter()
            .filter(|(_, s)| now.duration_since(s.last_used) >= self.idle_timeout)
            .map(|(k, _)| *k)
            .collect();
        expired
            .iter()
            .filter_map(|k| map.sessions.remove(k))
            .collect()
    }

    /// Opens a session and returns its id: 128 random bits as 32 hex digits.
    pub fn open(&self, user: &str, role: Role) -> String {
        let id = format!("{:032x}", rand::random::<u128>());
        let now = Instant::now();
        let mut map = self.lock();
        let mut dropped = self.sweep(&mut map, now);
        let least_recent = |map: &Map, pick: &dyn Fn(&Session) -> bool| {
            map.sessions
                .iter()
                .filter(|(_, s)| pick(s))
                .min_by_key(|(_, s)| s.last_used)
                .map(|(k, _)| *k)
        };
        if role == Role::Viewer {
            let own = map.sessions.values().filter(|s| s.user == user).count();
            if own >= MAX_SESSIONS_PER_VIEWER {
                let oldest = least_recent(&map, &|s| s.user == user);
                dropped.extend(oldest.and_then(|k| map.sessions.remove(&k)));
            }
        }
        if map.sessions.len() >= MAX_SESSIONS {
            let oldest = least_recent(&map, &|s| s.role == Role::Viewer)
                .or_else(|| least_recent(&map, &|_| true));
            dropped.extend(oldest.and_then(|k| map.sessions.remove(&k)));
        }
        let session = Session {
            tag: id[..8].to_string(),
            user: user.to_string(),
            role,
            last_used: now,
            frozen: None,
        };
        map.sessions.insert(key(&id), session);
        drop(map);
        drop(dropped);
        id
    }

    /// The session for `id`, touched (its idle timer restarts). Expired ones are removed.
    pub fn touch(&self, id: &str) -> Result<Session, ApiError> {
        let now = Instant::now();
        let mut map = self.lock();
        let dropped = if now.duration_since(map.last_sweep) >= SWEEP_EVERY {
            self.sweep(&mut map, now)
        } else {
            Vec::new()
        };
        let id = key(id);
        let result = match map.sessions.get_mut(&id) {
            Some(s) if now.duration_since(s.last_used) < self.idle_timeout => {
                s.last_used = now;
                Ok(s.clone())
            }
            Some(_) => {
                let expired = map.sessions.remove(&id);
                drop(map);
                drop(expired);
                return Err(ApiError::BadSession);
            }
            None => Err(ApiError::BadSession),
        };
        drop(map);
        drop(dropped);
        result
    }

    /// Freezes the session on `snapshot` (autorefresh off, or a refresh while off).
    pub fn freeze(&self, id: &str, snapshot: Snapshot) -> Result<(), ApiError> {
        let id = key(id);
        let mut map = self.lock();
        let frozen_elsewhere = map
            .sessions
            .iter()
            .filter(|(k, s)| s.frozen.is_some() && **k != id)
            .count();
        let (user, role) = match map.sessions.get(&id) {
            Some(s) => (s.user.clone(), s.role),
            None => return Err(ApiError::BadSession),
        };
        let viewer_limits = || {
            let own = map
                .sessions
                .iter()
                .filter(|(k, s)| s.frozen.is_some() && **k != id && s.user == user)
                .count();
            own >= MAX_FROZEN_PER_VIEWER || frozen_elsewhere >= MAX_FROZEN - FROZEN_KEPT_FOR_ADMINS
        };
        let newly = map.sessions.get(&id).is_some_and(|s| s.frozen.is_none());
        if newly && (frozen_elsewhere >= MAX_FROZEN || (role == Role::Viewer && viewer_limits())) {
            return Err(ApiError::invalid(
                "autorefresh",
                format!("at most {MAX_FROZEN} sessions may have autorefresh off at once (a viewer account {MAX_FROZEN_PER_VIEWER}); turn it back on in one, or log out unused sessions"),
            ));
        }
        let session = map.sessions.get_mut(&id).ok_or(ApiError::BadSession)?;
        let old = session.frozen.replace(Arc::new(Frozen::new(snapshot)));
        drop(map);
        drop(old);
        Ok(())
    }

    /// Back to the live table.
    pub fn thaw(&self, id: &str) -> Result<(), ApiError> {
        let mut map = self.lock();
        let session = map.sessions.get_mut(&key(id)).ok_or(ApiError::BadSession)?;
        let old = session.frozen.take();
        drop(map);
        drop(old);
        Ok(())
    }

    /// Edits the session's frozen view, if it still has one, under the lock
    /// (so a concurrent thaw or refresh is not undone).
    pub fn edit_frozen(&self, id: &str, edit: impl FnOnce(&mut Frozen)) {
        let mut map = self.lock();
        if let Some(frozen) = map
            .sessions
            .get_mut(&key(id))
            .and_then(|s| s.frozen.as_mut())
        {
            edit(Arc::make_mut(frozen));
        }
    }

    pub fn close(&self, id: &str) -> Result<(), ApiError> {
        let removed = self.lock().sessions.remove(&key(id));
        removed.map(drop).ok_or(ApiError::BadSession)
    }

    /// Whether the session exists and has not expired, without counting as
    /// use (a live page's stream must not keep an idle session alive).
    pub fn is_open(&self, id: &str) -> bool {
        let now = Instant::now();
        self.lock()
            .sessions
            .get(&key(id))
            .is_some_and(|s| now.duration_since(s.last_used) < self.idle_timeout)
    }

    /// After the users changed: `role_of(user)` is the user's new role, or
    /// `None` to end their sessions. Returns how many sessions ended.
    pub fn retain(&self, mut role_of: impl FnMut(&str) -> Option<Role>) -> usize {
        let mut map = self.lock();
        let mut ended = Vec::new();
        map.sessions.retain(|_, s| match role_of(&s.user) {
            Some(role) => {
                s.role = role;
                true
            }
            None => {
                ended.push(s.tag.clone());
                false
            }
        });
        drop(map);
        for tag in &ended {
            tracing::info!(target: "audit", session = %tag, "session ended: its user left the password file");
        }
        ended.len()
    }

    pub fn count(&self) -> usize {
        self.lock().sessions.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_long_random_and_distinct() {
        let s = Sessions::new(Duration::from_secs(60));
        let a = s.open("u", Role::Admin);
        let b = s.open("u", Role::Admin);
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
        assert!(s.touch(&a).is_ok());
        assert!(matches!(s.touch("nope"), Err(ApiError::BadSession)));
    }

    #[test]
    fn idle_sessions_expire_and_use_slides_the_timer() {
        let s = Sessions::new(Duration::from_millis(300));
        let id = s.open("u", Role::Viewer);
        for _ in 0..3 {
            std::thread::sleep(Duration::from_millis(150));
            assert!(
                s.touch(&id).is_ok(),
                "use within the timeout keeps it alive"
            );
        }
        std::thread::sleep(Duration::from_millis(350));
        assert!(matches!(s.touch(&id), Err(ApiError::BadSession)));
    }

    #[test]
    fn logout_ends_the_session() {
        let s = Sessions::new(Duration::from_secs(60));
        let id = s.open("u", Role::Admin);
        s.close(&id).unwrap();
        assert!(s.touch(&id).is_err());
        assert!(s.close(&id).is_err());
    }

    #[test]
    fn retain_updates_roles_and_ends_removed_users() {
        let s = Sessions::new(Duration::from_secs(60));
        let a = s.open("a", Role::Admin);
        let b = s.open("b", Role::Admin);
        let ended = s.retain(|u| (u == "a").then_some(Role::Viewer));
        assert_eq!(ended, 1);
        assert_eq!(s.touch(&a).unwrap().role, Role::Viewer);
        assert!(matches!(s.touch(&b), Err(ApiError::BadSession)));
    }

    #[test]
    fn frozen_sessions_are_bounded() {
        let s = Sessions::new(Duration::from_secs(60));
        let ids: Vec<_> = (0..=MAX_FROZEN).map(|_| s.open("u", Role::Admin)).collect();
        for id in &ids[..MAX_FROZEN] {
            s.freeze(id, Snapshot::empty()).unwrap();
        }
        let refused = s.freeze(&ids[MAX_FROZEN], Snapshot::empty()).unwrap_err();
        assert!(refused.to_string().contains("autorefresh"), "{refused}");
        // Re-freezing a frozen session (a refresh) is always allowed.
        s.freeze(&ids[0], Snapshot::empty()).unwrap();
        s.thaw(&ids[0]).unwrap();
        s.freeze(&ids[MAX_FROZEN], Snapshot::empty()).unwrap();
    }

    #[test]
    fn viewers_cannot_push_admins_out() {
        let s = Sessions::new(Duration::from_secs(60));
        let admin = s.open("root", Role::Admin);
        for _ in 0..(MAX_SESSIONS + 10) {
            s.open("spy", Role::Viewer);
        }
        assert!(s.touch(&admin).is_ok(), "the admin's session survives");
        assert!(s.count() <= MAX_SESSIONS_PER_VIEWER + 1);
        // Frozen views: a viewer takes at most its share, admins keep theirs.
        let viewers: Vec<_> = (0..MAX_FROZEN)
            .map(|_| s.open("spy", Role::Viewer))
            .collect();
        let frozen = viewers
            .iter()
            .filter(|v| s.freeze(v, Snapshot::empty()).is_ok())
            .count();
        assert_eq!(frozen, MAX_FROZEN_PER_VIEWER);
        s.freeze(&admin, Snapshot::empty()).unwrap();
    }
}
