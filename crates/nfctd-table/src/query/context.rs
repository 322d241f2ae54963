//! `Context`: what a query needs besides the rows (clocks, uid mask, user names).

use std::fmt;
use std::sync::Arc;

use crate::{Millis, Row, Snapshot};

/// Resolves a uid to a user name (the service caches the system user database).
pub trait UserNames {
    /// The name of `uid`, when the system knows one.
    fn name(&self, uid: u32) -> Option<Arc<str>>;
}

impl<F> UserNames for F
where
    F: Fn(u32) -> Option<Arc<str>>,
{
    fn name(&self, uid: u32) -> Option<Arc<str>> {
        self(uid)
    }
}

/// A resolver that knows no names: every user renders as its uid.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoUserNames;

impl UserNames for NoUserNames {
    fn name(&self, _uid: u32) -> Option<Arc<str>> {
        None
    }
}

/// The moment and settings a query runs with, passed to matching, sorting and rendering.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    /// Mirror time, for `timeout` (seconds left).
    pub now: Millis,
    /// Wall-clock Unix seconds, for `age`.
    pub now_unix: u64,
    /// `--uid-mask`: the connmark bits holding a uid; `uid`/`user` exist only when set.
    pub uid_mask: Option<u32>,
    /// Where `user` names come from.
    pub users: &'a (dyn UserNames + Sync),
}

impl Context<'static> {
    /// A context without uid mask, at the given times.
    pub fn new(now: Millis, now_unix: u64) -> Context<'static> {
        Context {
            now,
            now_unix,
            uid_mask: None,
            users: &NoUserNames,
        }
    }

    /// A context at the moment `snapshot` was taken.
    pub fn at(snapshot: &Snapshot) -> Context<'static> {
        Context::new(snapshot.at, snapshot.taken_unix())
    }
}

impl<'a> Context<'a> {
    /// This context with a uid mask and a resolver for user names.
    pub fn with_users(self, uid_mask: u32, users: &'a (dyn UserNames + Sync)) -> Context<'a> {
        Context {
            uid_mask: Some(uid_mask),
            users,
            ..self
        }
    }

    /// The uid packed into the row's mark: `(mark & mask) >> mask.trailing_zeros()`.
    pub fn uid(&self, row: &Row) -> Option<u32> {
        let mask = self.uid_mask?;
        // A zero mask has 32 trailing zeros: no bits, uid 0.
        Some(
            (row.mark() & mask)
                .checked_shr(mask.trailing_zeros())
                .unwrap_or(0),
        )
    }
}

impl fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("now", &self.now)
            .field("now_unix", &self.now_unix)
            .field("uid_mask", &self.uid_mask)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::query::testutil::tcp;

    #[test]
    fn uid_from_mark() {
        let mut row = tcp(1, "10.0.0.1", 1000, "10.0.0.2", 80);
        row.edit(|c| c.mark = 0x0012_3400 | 0x7);
        let ctx = Context::new(0, 0);
        assert_eq!(ctx.uid(&row), None);
        let names = |_| None;
        assert_eq!(ctx.with_users(0x00ff_ff00, &names).uid(&row), Some(0x1234));
        assert_eq!(
            ctx.with_users(0xffff_ffff, &names).uid(&row),
            Some(0x0012_3407)
        );
        assert_eq!(ctx.with_users(0, &names).uid(&row), Some(0));
        assert!(format!("{ctx:?}").contains("uid_mask"));
    }
}
