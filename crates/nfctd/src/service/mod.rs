//! The API's operations, once for every front, over typed requests and
//! replies: sessions (login/logout) here; the views (view, refresh,
//! set_autorefresh) in `view`; what changes the kernel (kill, kill_matching,
//! change) in `act`; `stats` in `stats`, with kernel pressure in `pressure`. Argument checks and roles live with
//! each method. The table and the kernel come in through two traits
//! (`table`, `kernel`), so the in-process tests can run it without either.

mod act;
mod error;
mod kernel;
mod pressure;
mod reply;
mod request;
mod session;
mod sockets;
mod stats;
mod table;
mod usage;
mod users;
mod view;

use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::auth::{Auth, Refused, Roles};
use nfctd_table::clip::clip;
use nfctd_table::query::{Context, Field, Pages};
use nfctd_table::Snapshot;

pub use error::ApiError;
pub use kernel::{Delete, Kernel};
pub use pressure::{Pressure, Reading, Tracker, DEFAULT_RATIO, SAMPLE_EVERY};
pub use reply::{
    Killed, Loading, MirrorStats, SessionId, SessionInfo, Stats, TableCounts, ViewPage,
};
pub use request::{Credentials, PageRange, Setting, ViewRequest};
pub use session::{Role, Session, Sessions, MAX_FROZEN};
pub use sockets::Sockets;
pub use table::Table;
pub use usage::{CallLabels, MethodLabels, Usage};
pub use users::SystemUsers;

/// What the service needs to know from the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    pub session_timeout: std::time::Duration,
    pub uid_mask: Option<u32>,
    pub max_page: usize,
    /// Flow export's counters, when `--export` is on (for `/metrics`).
    pub export: Option<Arc<crate::export::ExportStats>>,
    /// `--pressure-ratio`: above this `nf_conntrack_max / buckets`, `stats`
    /// warns; 0: never.
    pub pressure_ratio: f64,
}

/// The service: a cheap handle shared by every front.
#[derive(Debug, Clone)]
pub struct Service {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// The table: the live mirror in the daemon.
    table: Arc<dyn Table>,
    /// Deletes, changes and statistics: ctnetlink sockets in the daemon.
    kernel: Arc<dyn Kernel>,
    auth: Auth,
    sessions: Sessions,
    users: SystemUsers,
    usage: Usage,
    settings: Settings,
    /// Pages of the live snapshot already computed, shared between sessions.
    pages: Pages,
    /// Kernel pressure, judged over successive readings.
    pressure: Tracker,
}

/// The step of the clock live views count timeouts with, ms.
const LIVE_TICK: u64 = 100;

impl Service {
    /// Flow export's counters, when `--export` is on.
    pub fn export_stats(&self) -> Option<&crate::export::ExportStats> {
        self.inner.settings.export.as_deref()
    }

    /// The service over `table`, asking `kernel` for deletes, changes and
    /// statistics, logging users in through `auth`. With a password file, a
    /// thread also checks it for changes once a second, so a removed user's
    /// sessions end even if nobody logs in.
    pub fn new(
        table: Arc<dyn Table>,
        kernel: Arc<dyn Kernel>,
        settings: Settings,
        auth: Auth,
    ) -> Service {
        let sessions = Sessions::new(settings.session_timeout);
        let pressure = Tracker::new(settings.pressure_ratio);
        let service = Service {
            inner: Arc::new(Inner {
                table,
                kernel,
                auth,
                sessions,
                users: SystemUsers::default(),
                usage: Usage::default(),
                settings,
                pages: Pages::default(),
                pressure,
            }),
        };
        service.inner.auth.start();
        if service.inner.auth.has_file() {
            let weak = Arc::downgrade(&service.inner);
            let spawned = std::thread::Builder::new()
                .name("passwd-watch".into())
                .spawn(move || watch_users(weak));
            if let Err(e) = spawned {
                tracing::warn!("cannot watch the password file ({e}); it is still re-read at each login and on SIGHUP");
            }
        }
        service
    }

    /// Re-reads the password file (SIGHUP): sessions of users still in it
    /// keep going with their new role, those of removed users end. A bad
    /// file is logged and the previous users stay.
    pub fn reload_users(&self) {
        if let Some(roles) = self.inner.auth.reload() {
            self.apply_roles(&roles);
        }
    }

    fn apply_roles(&self, roles: &Roles) {
        self.inner.sessions.retain(|user| roles.get(user).copied());
    }

    /// The table the service serves: the live mirror in the daemon.
    pub fn table(&self) -> &dyn Table {
        &*self.inner.table
    }

    /// The API's usage counters, which the HTTP edge records into.
    pub fn usage(&self) -> &Usage {
        &self.inner.usage
    }

    /// The largest page a view may ask for (`--max-page`).
    pub fn max_page(&self) -> usize {
        self.inner.settings.max_page
    }

    /// Live sessions.
    pub fn session_count(&self) -> usize {
        self.inner.sessions.count()
    }

    /// `login(...)` from `peer`, through the configured backend. With
    /// `--auth none` any credentials are accepted (pyctd's no-backend mode)
    /// and every session is admin. Every outcome goes to the audit log.
    pub fn login(
        &self,
        credentials: &Credentials,
        peer: Option<std::net::IpAddr>,
    ) -> Result<SessionId, ApiError> {
        let (name, role) = self.authenticate(credentials, peer)?;
        let sid = self.inner.sessions.open(&name, role);
        let peer_text = peer.map_or_else(|| "-".to_string(), |p| p.to_string());
        tracing::info!(target: "audit", session = &sid[..8], user = ?name, role = role.name(), peer = %peer_text, "login");
        Ok(SessionId(sid))
    }

    /// Whether `--auth` asks for credentials at all.
    pub fn requires_login(&self) -> bool {
        !self.inner.auth.is_none()
    }

    /// Checks credentials without opening a session (for fronts that take
    /// them on every request, like a metrics scrape with HTTP Basic auth):
    /// the same backend, throttling and audit log as `login`. Returns the
    /// user's name and role.
    pub fn authenticate(
        &self,
        credentials: &Credentials,
        peer: Option<std::net::IpAddr>,
    ) -> Result<(String, Role), ApiError> {
        let auth = &self.inner.auth;
        if let Some(roles) = auth.reload_if_changed() {
            self.apply_roles(&roles);
        }
        let user = credentials.user.as_deref();
        let peer_text = peer.map_or_else(|| "-".to_string(), |p| p.to_string());
        match auth.login(user, credentials.password.as_deref(), peer) {
            Ok(granted) => {
                // Names from the password file are checked already, and are
                // what a reload matches sessions by; any other name is caller
                // input, kept only for the audit log: clipped.
                let name = if auth.has_file() {
                    granted.user
                } else {
                    clip(&granted.user)
                };
                Ok((name, granted.role))
            }
            Err(Refused::Invalid(field, why)) => {
                // The value is not logged: a line break in it could forge log lines.
                self.inner.usage.failed_logins.inc();
                tracing::warn!(target: "audit", peer = %peer_text, field, "login refused: {field} {why}");
                Err(ApiError::invalid(field, why))
            }
            // Not a failed password: nothing was checked, and the throttle
            // took its attempt back.
            Err(Refused::Busy) => Err(ApiError::Overloaded),
            Err(Refused::Failed) => {
                self.inner.usage.failed_logins.inc();
                let user = user.map(clip).unwrap_or_default();
                tracing::warn!(target: "audit", user = ?user, peer = %peer_text, "login failed");
                Err(ApiError::AuthFailed)
            }
            Err(Refused::Throttled(which)) => {
                self.inner.usage.failed_logins.inc();
                let user = user.map(clip).unwrap_or_default();
                tracing::warn!(target: "audit", user = ?user, peer = %peer_text, limited = ?which, "login refused: too many failures");
                Err(ApiError::TooManyLogins)
            }
        }
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
            // Seconds left count from the call's moment, rounded down to a
            // tenth of a second (never before the snapshot): then callers
            // within the same tenth share one computed page (`Pages`).
            let now = self.inner.table.now();
            ctx.now = (now - now % LIVE_TICK).max(snapshot.at);
        }
        match self.inner.settings.uid_mask {
            Some(mask) => ctx.with_users(mask, &self.inner.users),
            None => ctx,
        }
    }
}

/// Looks at the password file once a second until the service is gone.
fn watch_users(service: Weak<Inner>) {
    loop {
        std::thread::sleep(Duration::from_secs(1));
        let Some(inner) = service.upgrade() else {
            return;
        };
        if let Some(roles) = inner.auth.reload_if_changed() {
            Service { inner }.apply_roles(&roles);
        }
    }
}
