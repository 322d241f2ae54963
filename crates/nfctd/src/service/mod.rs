//! The API's operations, once for every front: login/logout, view, kill,
//! kill_matching, change, refresh, set_autorefresh and stats, with their
//! argument checks, roles and audit log.

mod error;
mod session;
mod users;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use ctnetlink::{Change, CtSocket};
use time::OffsetDateTime;

use crate::table::query::{self, Context, Field, Filter, Order};
use crate::table::{Mirror, Row, Snapshot};
use crate::value::Value;

pub use error::ApiError;
pub use session::{Role, Session, Sessions};
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

/// The answer to `kill`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Killed {
    pub killed: usize,
    pub missing: Vec<u32>,
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

    pub fn sessions(&self) -> &Sessions {
        &self.inner.sessions
    }

    /// `login(...)`: with `--auth none` any arguments are accepted (pyctd's
    /// no-backend mode) and every session is admin.
    pub fn login(&self, args: &[Value]) -> Result<String, ApiError> {
        let user = match args.first() {
            Some(Value::Str(name)) if !name.is_empty() => name.clone(),
            _ => "anonymous".to_string(),
        };
        let sid = self.inner.sessions.open(&user, Role::Admin);
        tracing::info!(target: "audit", session = &sid[..8], user = %user, role = "admin", "login");
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
        let snapshot = session
            .frozen
            .unwrap_or_else(|| self.inner.mirror.snapshot());
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

    /// `kill(sid, ids)`: deletes each connection by its original tuple and id.
    pub fn kill(&self, sid: &str, ids: &[u32]) -> Result<Killed, ApiError> {
        let session = self.admin(sid, "kill")?;
        let found = self.rows_for(&session, &ids.iter().copied().collect())?;
        let mut socket = CtSocket::open()?;
        let mut result = Killed {
            killed: 0,
            missing: Vec::new(),
        };
        let mut seen = HashSet::new();
        let mut gone = HashSet::new();
        for &id in ids {
            if !seen.insert(id) {
                continue; // the same id twice is one connection
            }
            let Some(row) = found.get(&id) else {
                result.missing.push(id);
                continue;
            };
            match self.delete(&mut socket, &session, row) {
                Ok(()) => result.killed += 1,
                Err(ApiError::NoSuchConnection(_)) => result.missing.push(id),
                Err(e) => return Err(e),
            }
            gone.insert(row.conn.key());
        }
        // A frozen view should not go on showing what its own session killed.
        if let Some(frozen) = &session.frozen {
            self.inner
                .sessions
                .set_frozen(sid, Some(frozen.without(&gone)))?;
        }
        Ok(result)
    }

    /// The row of each id: from the live table first (a frozen session may name
    /// a connection newer than its snapshot), else from the session's snapshot.
    /// Either way the kernel request carries tuple and id, so a row that is
    /// gone is reported as such. Ids are 32-bit hashes: an id that two live
    /// connections share cannot say which one is meant, and is refused.
    fn rows_for(
        &self,
        session: &Session,
        ids: &HashSet<u32>,
    ) -> Result<HashMap<u32, Arc<Row>>, ApiError> {
        let pick = |snapshot: &Snapshot| -> HashMap<u32, Vec<Arc<Row>>> {
            let mut found: HashMap<u32, Vec<Arc<Row>>> = HashMap::new();
            for row in snapshot
                .rows
                .iter()
                .filter(|row| ids.contains(&row.conn.id))
            {
                found.entry(row.conn.id).or_default().push(Arc::clone(row));
            }
            found
        };
        let mut found = pick(&self.inner.mirror.snapshot());
        if let Some(frozen) = &session.frozen {
            if found.len() < ids.len() {
                for (id, rows) in pick(frozen) {
                    found.entry(id).or_insert(rows);
                }
            }
        }
        found
            .into_iter()
            .map(|(id, mut rows)| match rows.len() {
                1 => Ok((id, rows.remove(0))),
                n => Err(ApiError::invalid(
                    "id",
                    format!("{id} is shared by {n} connections (kernel ids are 32-bit hashes); address one with kill_matching and a tuple filter"),
                )),
            })
            .collect()
    }

    /// `kill_matching(sid, filters)`: kills every connection the filters select.
    pub fn kill_matching(&self, sid: &str, filters: &[(String, Value)]) -> Result<usize, ApiError> {
        let session = self.admin(sid, "kill_matching")?;
        self.check_uid_keys(filters.iter().map(|(k, _)| k.as_str()))?;
        let filter = Filter::parse(filters).map_err(|e| ApiError::Invalid(e.to_string()))?;
        // Checked on the parsed filter: keys with empty values constrain nothing either.
        if filter.is_empty() {
            return Err(ApiError::invalid(
                "filters",
                "must constrain something (an empty filter would kill every connection)",
            ));
        }
        let snapshot = self.inner.mirror.snapshot();
        let ctx = self.context(&snapshot, true);
        let mut socket = CtSocket::open()?;
        let mut killed = 0;
        for row in snapshot.rows.iter().filter(|row| filter.matches(row, &ctx)) {
            match self.delete(&mut socket, &session, row) {
                Ok(()) => killed += 1,
                Err(ApiError::NoSuchConnection(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(killed)
    }

    fn delete(&self, socket: &mut CtSocket, session: &Session, row: &Row) -> Result<(), ApiError> {
        let conn = &row.conn;
        let result = socket.delete(&conn.key());
        let outcome = match &result {
            Ok(()) => "killed".to_string(),
            Err(e) => e.to_string(),
        };
        tracing::info!(
            target: "audit", session = %session.tag, user = %session.user, id = conn.id,
            tuple = %describe(row), result = %outcome, "kill"
        );
        match result {
            Ok(()) | Err(ctnetlink::Error::NotFound) => self.inner.mirror.forget(conn.key()),
            Err(_) => {}
        }
        result.map_err(ApiError::from)
    }

    /// `change(sid, field_name, id, value)`: sets `mark` or `timeout`.
    pub fn change(&self, sid: &str, field: &str, id: u32, value: i64) -> Result<(), ApiError> {
        let session = self.admin(sid, "change")?;
        let value32 = u32::try_from(value).map_err(|_| {
            ApiError::invalid(
                "field_value",
                format!("{value} is not a 32-bit unsigned value"),
            )
        })?;
        let change = match field {
            "mark" => Change::Mark(value32),
            "timeout" => Change::Timeout(value32),
            other => {
                return Err(ApiError::invalid(
                    "field_name",
                    format!(
                        "{:?} cannot be changed (only mark and timeout)",
                        clip(other)
                    ),
                ))
            }
        };
        let row = self
            .rows_for(&session, &HashSet::from([id]))?
            .remove(&id)
            .ok_or_else(|| ApiError::NoSuchConnection(format!("id {id}")))?;
        let result = CtSocket::open().and_then(|mut socket| socket.update(&row.conn.key(), change));
        let outcome = match &result {
            Ok(_) => "changed".to_string(),
            Err(e) => e.to_string(),
        };
        tracing::info!(
            target: "audit", session = %session.tag, user = %session.user, id, tuple = %describe(&row),
            field, value, result = %outcome, "change"
        );
        match result {
            Ok(conn) => {
                self.inner.mirror.observe(conn);
                // A frozen view shows the change its own session made.
                if let Some(frozen) = &session.frozen {
                    let live = self.inner.mirror.snapshot();
                    if let Some(row) = live
                        .rows
                        .iter()
                        .find(|live| live.conn.key() == row.conn.key())
                    {
                        self.inner
                            .sessions
                            .set_frozen(sid, Some(frozen.replacing(Arc::clone(row))))?;
                    }
                }
                Ok(())
            }
            Err(ctnetlink::Error::NotFound) => {
                self.inner.mirror.forget(row.conn.key());
                Err(ApiError::NoSuchConnection(format!("id {id}")))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// `refresh(sid)`: a new frozen snapshot when autorefresh is off, else a full reconciliation.
    pub fn refresh(&self, sid: &str) -> Result<(), ApiError> {
        let session = self.session(sid)?;
        if session.frozen.is_some() {
            self.inner.mirror.resync().map_err(ApiError::Kernel)?;
            self.inner
                .sessions
                .set_frozen(sid, Some(self.inner.mirror.snapshot()))
        } else {
            self.inner
                .mirror
                .resync()
                .map(|_| ())
                .map_err(ApiError::Kernel)
        }
    }

    /// `set_autorefresh(sid, on)`: off freezes the session on the current snapshot.
    pub fn set_autorefresh(&self, sid: &str, on: bool) -> Result<(), ApiError> {
        self.session(sid)?;
        let frozen = if on {
            None
        } else {
            Some(self.inner.mirror.snapshot())
        };
        self.inner.sessions.set_frozen(sid, frozen)
    }

    /// `stats(sid)`: table size and limit, counts by protocol and state, kernel
    /// counters, accounting/timestamp switches, and the mirror's own counters.
    pub fn stats(&self, sid: &str) -> Result<Value, ApiError> {
        self.session(sid)?;
        let kernel = CtSocket::open().and_then(|mut s| s.stats())?;
        let snapshot = self.inner.mirror.snapshot();
        let mut by_proto: BTreeMap<String, i64> = BTreeMap::new();
        let mut by_state: BTreeMap<String, i64> = BTreeMap::new();
        for row in snapshot.rows.iter() {
            let c = &row.conn;
            *by_proto
                .entry(ctnetlink::names::proto_name(c.l4proto).into_owned())
                .or_default() += 1;
            let state = ctnetlink::names::state_name(c.l4proto, c.proto_state);
            if !state.is_empty() {
                *by_state.entry(state.to_string()).or_default() += 1;
            }
        }
        let counts = |m: BTreeMap<String, i64>| {
            Value::Struct(m.into_iter().map(|(k, v)| (k, Value::Int(v))).collect())
        };
        let mirror = self.inner.mirror.counters();
        let load =
            |c: &std::sync::atomic::AtomicU64| int(c.load(std::sync::atomic::Ordering::Relaxed));
        Ok(Value::Struct(vec![
            ("table_size".into(), int(snapshot.len())),
            ("kernel_entries".into(), int(kernel.entries)),
            ("table_limit".into(), int(kernel.max_entries)),
            ("by_proto".into(), counts(by_proto)),
            ("by_state".into(), counts(by_state)),
            (
                "kernel".into(),
                Value::Struct(vec![
                    ("found".into(), int(kernel.found)),
                    ("invalid".into(), int(kernel.invalid)),
                    ("insert_failed".into(), int(kernel.insert_failed)),
                    ("drop".into(), int(kernel.drop)),
                    ("early_drop".into(), int(kernel.early_drop)),
                    ("error".into(), int(kernel.error)),
                    ("search_restart".into(), int(kernel.search_restart)),
                ]),
            ),
            (
                "accounting".into(),
                Value::Bool(sysctl_on("nf_conntrack_acct")),
            ),
            (
                "timestamps".into(),
                Value::Bool(sysctl_on("nf_conntrack_timestamp")),
            ),
            (
                "mirror".into(),
                Value::Struct(vec![
                    ("live".into(), Value::Bool(self.inner.mirror.is_live())),
                    ("events".into(), load(&mirror.events)),
                    ("resyncs".into(), load(&mirror.resyncs)),
                    ("overflows".into(), load(&mirror.overflows)),
                    ("malformed".into(), load(&mirror.malformed)),
                    ("sessions".into(), int(self.inner.sessions.count())),
                ]),
            ),
        ]))
    }
}

fn int<T: TryInto<i64>>(n: T) -> Value {
    Value::Int(n.try_into().unwrap_or(i64::MAX))
}

/// `orig_src:sport -> orig_dst:dport proto` for the audit log.
fn describe(row: &Row) -> String {
    let c = &row.conn;
    format!(
        "{} {}:{} -> {}:{} zone {}",
        ctnetlink::names::proto_name(c.l4proto),
        c.orig.src,
        c.orig.sport,
        c.orig.dst,
        c.orig.dport,
        c.zone
    )
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

/// Whether a netfilter sysctl of the served namespace is on. Every thread of
/// the daemon lives in that namespace, and /proc/sys/net follows the reader's.
fn sysctl_on(name: &str) -> bool {
    std::fs::read_to_string(format!("/proc/sys/net/netfilter/{name}"))
        .map(|v| v.trim() == "1")
        .unwrap_or(false)
}

/// At most 64 characters of caller input in a message.
fn clip(text: &str) -> String {
    text.chars().take(64).collect()
}
