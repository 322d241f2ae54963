//! Every key of a connection, declared once: one entry per key in the list
//! below, with its name, type, reading, filter kind and how fronts without
//! serde show it (the format is in declare.rs). `declare_keys!` makes the
//! `Field` enum, the typed `Connection` and `render`, and each key's reader
//! from the list; a macro, since a struct with one field per key cannot come
//! from a list at run time. Filters, sorting, both fronts and the OpenAPI
//! document work from those, so adding a key is adding an entry here. Also
//! pyctd's aliases for some keys.
//!
//! Doc comments on entries are the keys' descriptions in the OpenAPI
//! document, so notes for readers of this list are plain comments.

use std::borrow::Cow;
use std::net::IpAddr;

use ctnetlink::names::{proto_name, state_name};
use ctnetlink::Counters;
use serde::Serialize;
use utoipa::ToSchema;

use super::declare::declare_keys;
use super::extract::{ResolvedUser, StatusBits};
use super::filter::FilterKind::{
    Addrs, Families, Ids, Ints, Numbers, Protocols, States, StatusFlags, Users,
};
use super::pattern::{MARK, U16, U32, U64, U8};
use crate::Row;

declare_keys! {
    /// One connection as the API shows it. `Serialize` and `ToSchema` let the
    /// JSON front and its OpenAPI document use this very type.
    #[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
    pub struct Connection {
        // Key name: type = |row, ctx| read, filter kind, shown as;
        Id id: u32 = |row, _| row.id(), Ids, id;
        /// `ipv4` or `ipv6`.
        Family family: &'static str = |row, _| row.family().name(), Families, text;
        #[schema(value_type = String)]
        Proto proto: Cow<'static, str> = |row, _| proto_name(row.l4proto()), Protocols, text;
        L4proto l4proto: u8 = |row, _| row.l4proto(), Ints(U8), int;
        #[schema(value_type = String)]
        OrigSrc orig_src: IpAddr = |row, _| row.orig_src(), Addrs, addr;
        #[schema(value_type = String)]
        OrigDst orig_dst: IpAddr = |row, _| row.orig_dst(), Addrs, addr;
        #[schema(value_type = String)]
        ReplSrc repl_src: IpAddr = |row, _| row.repl_src(), Addrs, addr;
        #[schema(value_type = String)]
        ReplDst repl_dst: IpAddr = |row, _| row.repl_dst(), Addrs, addr;
        OrigSport orig_sport: u16 = |row, _| row.orig_sport(), Ints(U16), int;
        OrigDport orig_dport: u16 = |row, _| row.orig_dport(), Ints(U16), int;
        ReplSport repl_sport: u16 = |row, _| row.repl_sport(), Ints(U16), int;
        ReplDport repl_dport: u16 = |row, _| row.repl_dport(), Ints(U16), int;
        /// The TCP/SCTP/DCCP state name; empty for other protocols.
        State state: &'static str = |row, _| state_name(row.l4proto(), row.proto_state()),
            States, text;
        // Read as the bits, which sort as a number; rendered as flag names.
        Status status: Vec<&'static str> = |row, _| StatusBits(row.status()), StatusFlags, texts;
        Mark mark: u32 = |row, _| row.mark(), Ints(MARK), int;
        /// Seconds left.
        Timeout timeout: u32 = |row, ctx| row.timeout_at(ctx.now), Ints(U32), int;
        Zone zone: u16 = |row, _| row.zone(), Ints(U16), int;
        OrigBytes orig_bytes: u64 = |row, _| counters(row).orig_bytes, Ints(U64), int;
        OrigPackets orig_packets: u64 = |row, _| counters(row).orig_packets, Ints(U64), int;
        ReplBytes repl_bytes: u64 = |row, _| counters(row).repl_bytes, Ints(U64), int;
        ReplPackets repl_packets: u64 = |row, _| counters(row).repl_packets, Ints(U64), int;
        /// Bytes per second, both directions.
        Rate rate: f64 = |row, _| row.rate(), Numbers, number;
        /// Seconds since first seen.
        Age age: u64 = |row, ctx| row.age_at(ctx.now_unix), Ints(U64), int;
    }

    /// Only with `--uid-mask`: `uid` and `user` then appear as keys.
    #[serde(flatten)]
    pub owner: Option<Owner> = |row, ctx| ctx.uid(row);

    /// The user packed into the connmark (`--uid-mask`).
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
    pub struct Owner {
        // Key name: type = |uid, ctx| read, filter kind, shown as;
        Uid uid: u32 = |uid, _| uid, Ints(U32), int;
        /// The name from the user database, or the uid in decimal when it has none.
        User user: String = |uid, ctx| ResolvedUser::of(uid, ctx), Users, text;
    }
}

/// A row's counters: zeros without accounting.
fn counters(row: &Row) -> Counters {
    row.counters_or_zero()
}

impl Field {
    /// pyctd's names for some keys.
    pub const ALIASES: [(&'static str, Field); 5] = [
        ("orig_ipv4_src", Field::OrigSrc),
        ("orig_ipv4_dst", Field::OrigDst),
        ("orig_port_src", Field::OrigSport),
        ("orig_port_dst", Field::OrigDport),
        ("orig_l4proto", Field::L4proto),
    ];

    /// The key of an API name or pyctd alias (case-sensitive, like the API).
    pub fn parse(name: &str) -> Option<Field> {
        Field::ALIASES
            .iter()
            .find(|(alias, _)| *alias == name)
            .map(|(_, field)| *field)
            .or_else(|| Field::ALL.iter().copied().find(|f| f.name() == name))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_aliases() {
        for f in Field::ALL {
            assert_eq!(Field::parse(f.name()), Some(f));
        }
        assert_eq!(Field::parse("orig_ipv4_src"), Some(Field::OrigSrc));
        assert_eq!(Field::parse("orig_ipv4_dst"), Some(Field::OrigDst));
        assert_eq!(Field::parse("orig_port_src"), Some(Field::OrigSport));
        assert_eq!(Field::parse("orig_port_dst"), Some(Field::OrigDport));
        assert_eq!(Field::parse("orig_l4proto"), Some(Field::L4proto));
        assert_eq!(Field::parse("ID"), None);
        assert_eq!(Field::parse(""), None);
        assert_eq!(Field::parse("addr"), None);
    }
}
