//! The API's operations, once for every front, over typed requests and
//! replies: sessions (login/logout) here; the views (view, refresh,
//! set_autorefresh) in `view`; what changes the kernel (kill, kill_matching,
//! change) in `act`; `stats` in `stats`. Argument checks and roles live with
//! each method.

mod act;
mod error;
mod reply;
mod request;
mod session;
mod sockets;
mod stats;
mod usage;
mod users;
mod view;

use std::sync::Arc;

use crate::clip::clip;
use crate::table::query::{Context, Field};
use crate::table::{Mirror, Snapshot};

pub use error::ApiError;
pub use reply::{
    KernelCounters, Killed, MirrorStats, SessionId, SessionInfo, Stats, TableCounts, ViewPage,
};
pub use request::{Credentials, PageRange, Setting, ViewRequest};
pub use session::{Role, Session, Sessions, MAX_FROZEN};
pub use usage::{CallLabels, MethodLabels, Usage};
pub use users::SystemUsers;

use sockets::Sockets;

/// What the service needs to know from the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    pub session_timeout: std::time::Duration,
    pub uid_mask: Option<u32>,
    pub max_page: usize,
}

/// The service: a cheap handle shared by every front.
#[derive(Debug, Clone)]
pub struct Service {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    mirror: Mirror,
    sessions: Sessions,
    users: SystemUsers,
    sockets: Sockets,
    usage: Usage,
    settings: Settings,
}

impl Service {
    pub fn new(mirror: Mirror, settings: Settings) -> Service {
        let sessions = Sessions::new(settings.session_timeout);
        Service {
            inner: Arc::new(Inner {
                mirror,
                sessions,
                users: SystemUsers::default(),
                sockets: Sockets::default(),
                usage: Usage::default(),
                settings,
            }),
        }
    }

    pub fn mirror(&self) -> &Mirror {
        &self.inner.mirror
    }

    /// The API's usage counters, which the fronts record into.
    pub fn usage(&self) -> &Usage {
        &self.inner.usage
    }

    /// Live sessions.
    pub fn session_count(&self) -> usize {
        self.inner.sessions.count()
    }

    /// `login(...)` from `peer`: with `--auth none` any credentials are
    /// accepted (pyctd's no-backend mode) and every session is admin.
    pub fn login(
        &self,
        credentials: &Credentials,
        _peer: Option<std::net::IpAddr>,
    ) -> Result<SessionId, ApiError> {
        // The name goes into the audit log: clipped like all caller input.
        let user = credentials
            .user
            .as_deref()
            .map(clip)
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| "anonymous".to_string());
        let role = Role::Admin;
        let sid = self.inner.sessions.open(&user, role);
        tracing::info!(target: "audit", session = &sid[..8], user = ?user, role = role.name(), "login");
        Ok(SessionId(sid))
    }

    /// Who the session is (it counts as use: the idle timer restarts).
    pub fn whoami(&self, sid: &str) -> Result<SessionInfo, ApiError> {
        let session = self.session(sid)?;
        Ok(SessionInfo {
            user: session.user.clone(),
            role: session.role.name(),
            autorefresh: session.frozen.is_none(),
        })
    }

    /// Whether `sid` is a live session; does not count as use.
    pub fn is_open(&self, sid: &str) -> bool {
        self.inner.sessions.is_open(sid)
    }

    pub fn logout(&self, sid: &str) -> Result<(), ApiError> {
        self.inner.sessions.close(sid)
    }

    fn session(&self, sid: &str) -> Result<Session, ApiError> {
        self.inner.sessions.touch(sid)
    }

    fn admin(&self, sid: &str, method: &str) -> Result<Session, ApiError> {
        let session = self.session(sid)?;
        if session.role != Role::Admin {
            return Err(ApiError::Denied(format!("{method} needs the admin role")));
        }
        Ok(session)
    }

    /// `uid` and `user` exist only with `--uid-mask`: naming them otherwise is an error.
    fn check_uid_keys<'k>(&self, keys: impl IntoIterator<Item = &'k str>) -> Result<(), ApiError> {
        if self.inner.settings.uid_mask.is_some() {
            return Ok(());
        }
        match keys
            .into_iter()
            .find(|k| Field::parse(k).is_some_and(Field::needs_uid_mask))
        {
            Some(key) => Err(ApiError::invalid(
                key,
                "exists only when the daemon runs with --uid-mask",
            )),
            None => Ok(()),
        }
    }

    fn context(&self, snapshot: &Snapshot, live: bool) -> Context<'_> {
        let mut ctx = Context::at(snapshot);
        if live {
            ctx.now = self.inner.mirror.now();
        }
        match self.inner.settings.uid_mask {
            Some(mask) => ctx.with_users(mask, &self.inner.users),
            None => ctx,
        }
    }
}
