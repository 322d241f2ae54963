//! The API's operations, once for every front: sessions (login/logout), the
//! views (view, refresh, set_autorefresh) here; what changes the kernel
//! (kill, kill_matching, change) in `act`; `stats` in `stats`. Argument
//! checks and roles live with each method.

mod act;
mod error;
mod session;
mod stats;
mod users;

use std::sync::Arc;

use time::OffsetDateTime;

use crate::table::query::{self, Context, Field, Filter, Order};
use crate::table::{Mirror, Snapshot};
use crate::value::Value;

pub use act::Killed;
pub use error::ApiError;
pub use session::{Role, Session, Sessions, MAX_FROZEN};
pub use users::SystemUsers;

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
    settings: Settings,
}

/// The arguments of `view`, as the fronts decode them.
#[derive(Debug, Clone)]
pub struct ViewRequest<'a> {
    pub filters: &'a [(String, Value)],
    pub order_by: &'a str,
    pub order_dir: &'a str,
    pub start: i64,
    pub length: i64,
}

impl Service {
    pub fn new(mirror: Mirror, settings: Settings) -> Service {
        let sessions = Sessions::new(settings.session_timeout);
        Service {
            inner: Arc::new(Inner {
                mirror,
                sessions,
                users: SystemUsers::default(),
                settings,
            }),
        }
    }

    pub fn mirror(&self) -> &Mirror {
        &self.inner.mirror
    }

    /// `login(...)`: with `--auth none` any arguments are accepted (pyctd's
    /// no-backend mode) and every session is admin.
    pub fn login(&self, args: &[Value]) -> Result<String, ApiError> {
        // The name goes into the audit log: printable characters only, clipped.
        let user: String = match args.first() {
            Some(Value::Str(name)) => name.chars().filter(|c| !c.is_control()).take(64).collect(),
            _ => String::new(),
        };
        let user = if user.is_empty() {
            "anonymous".to_string()
        } else {
            user
        };
        let role = Role::Admin;
        let sid = self.inner.sessions.open(&user, role);
        tracing::info!(target: "audit", session = &sid[..8], user = ?user, role = role.name(), "login");
        Ok(sid)
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

    /// `view(sid, filters, order_by, order_dir, start, length)`.
    pub fn view(&self, sid: &str, req: &ViewRequest<'_>) -> Result<Value, ApiError> {
        let session = self.session(sid)?;
        self.check_uid_keys(
            req.filters
                .iter()
                .map(|(k, _)| k.as_str())
                .chain([req.order_by]),
        )?;
        let filter = Filter::parse(req.filters).map_err(|e| ApiError::Invalid(e.to_string()))?;
        let order = Order::parse(req.order_by, req.order_dir)
            .map_err(|e| ApiError::Invalid(e.to_string()))?;
        let max = self.inner.settings.max_page;
        let start = usize::try_from(req.start).map_err(|_| {
            ApiError::invalid("start", format!("must be 0 or more, got {}", req.start))
        })?;
        let length = usize::try_from(req.length)
            .ok()
            .filter(|l| *l <= max)
            .ok_or_else(|| {
                ApiError::invalid("length", format!("must be 0..={max}, got {}", req.length))
            })?;
        let autorefresh = session.frozen.is_none();
        let snapshot = match &session.frozen {
            Some(frozen) => frozen.view(),
            None => self.inner.mirror.snapshot(),
        };
        let ctx = self.context(&snapshot, autorefresh);
        let page = query::run(&snapshot, &filter, &order, start, length, &ctx);
        let connections = page
            .rows
            .iter()
            .map(|row| query::render_struct(row, &ctx))
            .collect();
        Ok(Value::Struct(vec![
            ("total".into(), int(page.total)),
            ("start".into(), int(start)),
            ("length".into(), int(page.rows.len())),
            ("table_size".into(), int(snapshot.len())),
            ("autorefresh".into(), Value::Bool(autorefresh)),
            ("snapshot".into(), Value::DateTime(iso8601(snapshot.taken))),
            ("connections".into(), Value::Array(connections)),
        ]))
    }

    /// `refresh(sid)`: a full reconciliation with the kernel; with autorefresh
    /// off, the session then pages through a new snapshot.
    pub fn refresh(&self, sid: &str) -> Result<(), ApiError> {
        let session = self.session(sid)?;
        self.inner.mirror.resync().map_err(ApiError::Kernel)?;
        if session.frozen.is_some() {
            self.inner
                .sessions
                .freeze(sid, self.inner.mirror.snapshot())?;
        }
        Ok(())
    }

    /// `set_autorefresh(sid, on)`: off freezes the session on the current snapshot.
    pub fn set_autorefresh(&self, sid: &str, on: bool) -> Result<(), ApiError> {
        self.session(sid)?;
        if on {
            self.inner.sessions.thaw(sid)
        } else {
            self.inner
                .sessions
                .freeze(sid, self.inner.mirror.snapshot())
        }
    }
}

fn int<T: TryInto<i64>>(n: T) -> Value {
    Value::Int(n.try_into().unwrap_or(i64::MAX))
}

/// XML-RPC's dateTime.iso8601 form, in UTC: `20261126T13:12:19`.
fn iso8601(t: std::time::SystemTime) -> String {
    let t = OffsetDateTime::from(t);
    format!(
        "{:04}{:02}{:02}T{:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}
