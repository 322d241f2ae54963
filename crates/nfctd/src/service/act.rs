//! What changes the kernel: `kill`, `kill_matching` and `change`, each entry
//! addressed by original tuple and id, each attempt written to the audit log.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use ctnetlink::{Change, ConnKey};

use super::{ApiError, Delete, Killed, Service, Session, Setting};
use nfctd_table::query::{Filter, FilterSpec};
use nfctd_table::{Row, Snapshot};

/// What a series of deletes did.
#[derive(Debug, Default)]
struct Deletes {
    /// Deleted now, or found gone: both leave the mirror.
    gone: Vec<ConnKey>,
    killed: usize,
    missing: Vec<u32>,
    /// Refusals other than "gone", and the first one.
    refused: usize,
    first_refusal: Option<Arc<ctnetlink::Error>>,
}

impl Deletes {
    /// An error when the kernel refused any delete, saying what was done anyway.
    fn check(&self) -> Result<(), ApiError> {
        match &self.first_refusal {
            None => Ok(()),
            Some(first) => Err(ApiError::PartlyKilled {
                killed: self.killed,
                refused: self.refused,
                first: Arc::clone(first),
            }),
        }
    }
}

impl Service {
    /// `kill(sid, ids)`: deletes each connection by its original tuple and id.
    pub fn kill(&self, sid: &str, ids: &[u32]) -> Result<Killed, ApiError> {
        let session = self.admin(sid, "kill")?;
        let wanted: HashSet<u32> = ids.iter().copied().collect();
        let found = self.rows_for(&session, &wanted)?;
        let mut done = Deletes::default();
        self.inner.kernel.deletes(&mut |in_kernel| {
            let mut seen = HashSet::new();
            for &id in ids {
                if !seen.insert(id) {
                    continue; // the same id twice is one connection
                }
                match found.get(&id) {
                    Some(row) => self.delete(in_kernel, &session, row, &mut done),
                    None => {
                        tracing::info!(target: "audit", session = %session.tag, user = ?session.user, id, result = "not in the table", "kill");
                        done.missing.push(id);
                    }
                }
            }
        })?;
        self.settle(sid, &done);
        done.check()?;
        Ok(Killed {
            killed: done.killed,
            missing: done.missing,
        })
    }

    /// `kill_matching(sid, filters)`: kills every connection the filters select.
    pub fn kill_matching(&self, sid: &str, spec: &FilterSpec) -> Result<usize, ApiError> {
        let session = self.admin(sid, "kill_matching")?;
        self.check_uid_keys(spec.keys())?;
        let filter = Filter::compile(spec)?;
        // Checked on the parsed filter: keys with empty values constrain nothing either.
        if filter.is_empty() {
            return Err(ApiError::invalid(
                "filters",
                "must constrain something (an empty filter would kill every connection)",
            ));
        }
        let snapshot = self.inner.table.snapshot();
        let ctx = self.context(&snapshot, true);
        let mut done = Deletes::default();
        self.inner.kernel.deletes(&mut |in_kernel| {
            for row in snapshot.iter().filter(|row| filter.matches(row, &ctx)) {
                self.delete(in_kernel, &session, row, &mut done);
            }
        })?;
        self.settle(sid, &done);
        done.check()?;
        Ok(done.killed)
    }

    /// Deletes one connection in the kernel and records the outcome.
    fn delete(&self, in_kernel: &mut Delete<'_>, session: &Session, row: &Row, done: &mut Deletes) {
        let key = row.key();
        let result = in_kernel(&key);
        let outcome = match &result {
            Ok(()) => "killed".to_string(),
            Err(e) => e.to_string(),
        };
        tracing::info!(
            target: "audit", session = %session.tag, user = ?session.user, id = key.id,
            tuple = %describe(row), result = %outcome, "kill"
        );
        match result {
            Ok(()) => {
                done.killed += 1;
                done.gone.push(key);
            }
            Err(ctnetlink::Error::NotFound) => {
                done.missing.push(key.id);
                done.gone.push(key);
            }
            Err(e) => {
                done.refused += 1;
                done.first_refusal.get_or_insert(Arc::new(e));
            }
        }
    }

    /// Drops what is gone from the mirror (one publish for all) and from the
    /// session's frozen view.
    fn settle(&self, sid: &str, done: &Deletes) {
        if done.gone.is_empty() {
            return;
        }
        self.inner.table.forget(done.gone.clone());
        self.inner.sessions.edit_frozen(sid, |frozen| {
            for key in &done.gone {
                frozen.forget(*key);
            }
        });
    }

    /// The row of each id: from the session's frozen view first (the rows its
    /// user saw), then from the live table (a frozen session may name a
    /// connection newer than its snapshot). The kernel request carries tuple
    /// and id, so a row that is gone is reported as such. Ids are 32-bit
    /// hashes: an id that two connections share cannot say which one is
    /// meant, and is refused.
    fn rows_for(
        &self,
        session: &Session,
        ids: &HashSet<u32>,
    ) -> Result<HashMap<u32, Row>, ApiError> {
        let pick = |snapshot: &Snapshot| -> HashMap<u32, Vec<Row>> {
            let mut found: HashMap<u32, Vec<Row>> = HashMap::new();
            for row in snapshot.iter().filter(|row| ids.contains(&row.id())) {
                found.entry(row.id()).or_default().push(row.clone());
            }
            found
        };
        let mut found = match &session.frozen {
            Some(frozen) => pick(&frozen.view()),
            None => HashMap::new(),
        };
        if found.len() < ids.len() {
            for (id, rows) in pick(&self.inner.table.snapshot()) {
                found.entry(id).or_insert(rows);
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

    /// `change(sid, field_name, id, value)`: sets `mark` or `timeout`.
    pub fn change(&self, sid: &str, id: u32, setting: Setting) -> Result<(), ApiError> {
        let session = self.admin(sid, "change")?;
        let change = match setting {
            Setting::Mark(v) => Change::Mark(v),
            Setting::Timeout(v) => Change::Timeout(v),
        };
        let (field, value) = (setting.field_name(), setting.value());
        let row = self
            .rows_for(&session, &HashSet::from([id]))?
            .remove(&id)
            .ok_or_else(|| ApiError::NoSuchConnection(format!("id {id}")))?;
        let key = row.key();
        let result = self.inner.kernel.update(&key, change);
        let outcome = match &result {
            Ok(Some(_)) => "changed".to_string(),
            Ok(None) => "changed; the entry expired at once".to_string(),
            Err(e) => e.to_string(),
        };
        tracing::info!(
            target: "audit", session = %session.tag, user = ?session.user, id,
            tuple = %describe(&row), field, value, result = %outcome, "change"
        );
        match result {
            Ok(Some(conn)) => {
                self.inner.table.observe(vec![conn]);
                // The session's frozen view shows the change it made.
                if session.frozen.is_some() {
                    let live = self.inner.table.snapshot();
                    let fresh = live.iter().find(|r| r.is(&key)).cloned();
                    if let Some(fresh) = fresh {
                        self.inner
                            .sessions
                            .edit_frozen(sid, |frozen| frozen.replace(fresh));
                    }
                }
                Ok(())
            }
            Ok(None) => {
                self.settle(
                    sid,
                    &Deletes {
                        gone: vec![key],
                        ..Deletes::default()
                    },
                );
                Ok(())
            }
            Err(ctnetlink::Error::NotFound) => {
                self.settle(
                    sid,
                    &Deletes {
                        gone: vec![key],
                        ..Deletes::default()
                    },
                );
                Err(ApiError::NoSuchConnection(format!("id {id}")))
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// `proto orig_src:sport -> orig_dst:dport zone N` for the audit log.
fn describe(row: &Row) -> String {
    format!(
        "{} {}:{} -> {}:{} zone {}",
        ctnetlink::names::proto_name(row.l4proto()),
        row.orig_src(),
        row.orig_sport(),
        row.orig_dst(),
        row.orig_dport(),
        row.zone()
    )
}
