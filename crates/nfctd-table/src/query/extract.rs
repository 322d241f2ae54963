//! Reading one field of a row: the typed datum that sorting compares and
//! rendering turns into an API value, and the integer view that filters test.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::net::IpAddr;
use std::sync::Arc;

use ctnetlink::names::{proto_name, state_name};

use super::{Context, Field};
use crate::Row;

/// One field's value, typed for comparison.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Datum {
    Int(u64),
    Addr(IpAddr),
    Float(f64),
    Text(Cow<'static, str>),
    /// A user name from the resolver.
    Name(Arc<str>),
    /// The status bits (sorted numerically, rendered as flag names).
    Status(u32),
    /// `uid`/`user` without a uid mask.
    Absent,
}

impl Datum {
    fn text(&self) -> Option<&str> {
        match self {
            Datum::Text(t) => Some(t),
            Datum::Name(n) => Some(n),
            _ => None,
        }
    }

    /// Numbers numerically, addresses numerically (IPv4 before IPv6), texts
    /// ASCII-case-insensitively; unlike kinds (never met within one field) by kind.
    pub(super) fn compare(&self, other: &Datum) -> Ordering {
        match (self, other) {
            (Datum::Int(a), Datum::Int(b)) => a.cmp(b),
            (Datum::Addr(a), Datum::Addr(b)) => a.cmp(b),
            (Datum::Float(a), Datum::Float(b)) => a.total_cmp(b),
            (Datum::Status(a), Datum::Status(b)) => a.cmp(b),
            _ => match (self.text(), other.text()) {
                (Some(a), Some(b)) => a
                    .bytes()
                    .map(|c| c.to_ascii_lowercase())
                    .cmp(b.bytes().map(|c| c.to_ascii_lowercase())),
                _ => self.rank().cmp(&other.rank()),
            },
        }
    }

    fn rank(&self) -> u8 {
        match self {
            Datum::Absent => 0,
            Datum::Int(_) => 1,
            Datum::Float(_) => 2,
            Datum::Addr(_) => 3,
            Datum::Status(_) => 4,
            Datum::Text(_) | Datum::Name(_) => 5,
        }
    }
}

/// The value of `field` in `row`.
pub(super) fn datum(field: Field, row: &Row, ctx: &Context) -> Datum {
    let conn = &row.conn;
    match field {
        Field::Family => Datum::Text(Cow::Borrowed(conn.family.name())),
        Field::Proto => Datum::Text(proto_name(conn.l4proto)),
        Field::State => Datum::Text(Cow::Borrowed(state_name(conn.l4proto, conn.proto_state))),
        Field::Status => Datum::Status(conn.status),
        Field::Rate => Datum::Float(row.rate),
        Field::User => match ctx.uid(row) {
            None => Datum::Absent,
            Some(uid) => match ctx.users.name(uid) {
                Some(name) => Datum::Name(name),
                None => Datum::Text(Cow::Owned(uid.to_string())),
            },
        },
        _ => match addr(field, row) {
            Some(a) => Datum::Addr(a),
            None => int(field, row, ctx).map_or(Datum::Absent, Datum::Int),
        },
    }
}

/// The address of an address field.
pub(super) fn addr(field: Field, row: &Row) -> Option<IpAddr> {
    let conn = &row.conn;
    match field {
        Field::OrigSrc => Some(conn.orig.src),
        Field::OrigDst => Some(conn.orig.dst),
        Field::ReplSrc => Some(conn.reply.src),
        Field::ReplDst => Some(conn.reply.dst),
        _ => None,
    }
}

/// The number of an integer field (`None` for other fields, and for `uid`
/// without a uid mask).
pub(super) fn int(field: Field, row: &Row, ctx: &Context) -> Option<u64> {
    let conn = &row.conn;
    let counters = conn.counters.unwrap_or_default();
    let n = match field {
        Field::Id => u64::from(conn.id),
        Field::L4proto => u64::from(conn.l4proto),
        Field::OrigSport => u64::from(conn.orig.sport),
        Field::OrigDport => u64::from(conn.orig.dport),
        Field::ReplSport => u64::from(conn.reply.sport),
        Field::ReplDport => u64::from(conn.reply.dport),
        Field::Mark => u64::from(conn.mark),
        Field::Timeout => u64::from(row.timeout_at(ctx.now)),
        Field::Zone => u64::from(conn.zone),
        Field::OrigBytes => counters.orig_bytes,
        Field::OrigPackets => counters.orig_packets,
        Field::ReplBytes => counters.repl_bytes,
        Field::ReplPackets => counters.repl_packets,
        Field::Age => row.age_at(ctx.now_unix),
        Field::Uid => u64::from(ctx.uid(row)?),
        _ => return None,
    };
    Some(n)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn compare_kinds() {
        let t = |s: &'static str| Datum::Text(Cow::Borrowed(s));
        assert_eq!(t("abc").compare(&Datum::Name("ABD".into())), Ordering::Less);
        assert_eq!(t("TCP").compare(&t("tcp")), Ordering::Equal);
        let v4 = Datum::Addr("255.255.255.255".parse().unwrap());
        let v6 = Datum::Addr("::".parse().unwrap());
        assert_eq!(v4.compare(&v6), Ordering::Less);
        assert_eq!(Datum::Int(9).compare(&Datum::Int(10)), Ordering::Less);
        assert_eq!(
            Datum::Float(1.5).compare(&Datum::Float(0.5)),
            Ordering::Greater
        );
        assert_eq!(Datum::Absent.compare(&Datum::Absent), Ordering::Equal);
        assert_eq!(Datum::Absent.compare(&t("a")), Ordering::Less);
    }
}
