//! Sessions: random ids, sliding idle expiry, role, and the per-session view
//! mode (live, or a frozen snapshot for stable paging).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::table::Snapshot;

use super::error::ApiError;

/// What a session may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Viewer,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Viewer => "viewer",
        }
    }
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
    /// `Some` while autorefresh is off: the snapshot this session pages through.
    pub frozen: Option<Snapshot>,
}

/// A bound on live sessions, so a login loop cannot exhaust memory; the least
/// recently used session makes room.
const MAX_SESSIONS: usize = 10_000;

/// All sessions, behind one lock held only for map operations.
#[derive(Debug)]
pub struct Sessions {
    idle_timeout: Duration,
    map: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    pub fn new(idle_timeout: Duration) -> Sessions {
        Sessions {
            idle_timeout,
            map: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        // Sessions are replaced whole under the lock; a poisoned map is still consistent.
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Opens a session and returns its id: 128 random bits as 32 hex digits.
    pub fn open(&self, user: &str, role: Role) -> String {
        let id = format!("{:032x}", rand::random::<u128>());
        let now = Instant::now();
        let mut map = self.lock();
        map.retain(|_, s| now.duration_since(s.last_used) < self.idle_timeout);
        if map.len() >= MAX_SESSIONS {
            if let Some(oldest) = map
                .iter()
                .min_by_key(|(_, s)| s.last_used)
                .map(|(k, _)| k.clone())
            {
                map.remove(&oldest);
            }
        }
        map.insert(
            id.clone(),
            Session {
                tag: id[..8].to_string(),
                user: user.to_string(),
                role,
                last_used: now,
                frozen: None,
            },
        );
        id
    }

    /// The session for `id`, touched (its idle timer restarts). Expired ones are removed.
    pub fn touch(&self, id: &str) -> Result<Session, ApiError> {
        let now = Instant::now();
        let mut map = self.lock();
        let Some(session) = map.get_mut(id) else {
            return Err(ApiError::BadSession);
        };
        if now.duration_since(session.last_used) >= self.idle_timeout {
            map.remove(id);
            return Err(ApiError::BadSession);
        }
        session.last_used = now;
        Ok(session.clone())
    }

    /// Sets (Some) or clears (None) the session's frozen snapshot.
    pub fn set_frozen(&self, id: &str, frozen: Option<Snapshot>) -> Result<(), ApiError> {
        let mut map = self.lock();
        let session = map.get_mut(id).ok_or(ApiError::BadSession)?;
        session.frozen = frozen;
        Ok(())
    }

    pub fn close(&self, id: &str) -> Result<(), ApiError> {
        self.lock()
            .remove(id)
            .map(|_| ())
            .ok_or(ApiError::BadSession)
    }

    pub fn count(&self) -> usize {
        self.lock().len()
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
        assert_eq!(s.touch("nope").unwrap_err(), ApiError::BadSession);
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
        assert_eq!(s.touch(&id).unwrap_err(), ApiError::BadSession);
    }

    #[test]
    fn logout_ends_the_session() {
        let s = Sessions::new(Duration::from_secs(60));
        let id = s.open("u", Role::Admin);
        s.close(&id).unwrap();
        assert!(s.touch(&id).is_err());
        assert!(s.close(&id).is_err());
    }
}
