//! Rendering one row as the API's connection (docs/xmlrpc-api.md, "Methods"): a
//! typed [`Connection`], the one place every front (XML-RPC, JSON, web)
//! gets a row's values from; each front writes it in its own wire format.

use std::borrow::Cow;
use std::net::IpAddr;

use ctnetlink::names::{proto_name, state_name, status_names};
use serde::Serialize;
use utoipa::ToSchema;

use super::extract::{datum, Datum};
use super::{Context, Field};
use crate::Row;

/// One connection as the API shows it. `Serialize` and `ToSchema` let the
/// JSON front and its OpenAPI document use this very type.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Connection {
    pub id: u32,
    /// `ipv4` or `ipv6`.
    pub family: &'static str,
    #[schema(value_type = String)]
    pub proto: Cow<'static, str>,
    pub l4proto: u8,
    #[schema(value_type = String)]
    pub orig_src: IpAddr,
    #[schema(value_type = String)]
    pub orig_dst: IpAddr,
    #[schema(value_type = String)]
    pub repl_src: IpAddr,
    #[schema(value_type = String)]
    pub repl_dst: IpAddr,
    pub orig_sport: u16,
    pub orig_dport: u16,
    pub repl_sport: u16,
    pub repl_dport: u16,
    /// The TCP/SCTP/DCCP state name; empty for other protocols.
    pub state: &'static str,
    pub status: Vec<&'static str>,
    pub mark: u32,
    /// Seconds left.
    pub timeout: u32,
    pub zone: u16,
    pub orig_bytes: u64,
    pub orig_packets: u64,
    pub repl_bytes: u64,
    pub repl_packets: u64,
    /// Bytes per second, both directions.
    pub rate: f64,
    /// Seconds since first seen.
    pub age: u64,
    /// Only with `--uid-mask`: `uid` and `user` then appear as keys.
    #[serde(flatten)]
    pub owner: Option<Owner>,
}

/// The user packed into the connmark (`--uid-mask`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Owner {
    pub uid: u32,
    /// The name from the user database, or the uid in decimal when it has none.
    pub user: String,
}

/// The row as the API shows it at the context's moment.
pub fn render(row: &Row, ctx: &Context) -> Connection {
    let conn = &row.conn;
    let counters = conn.counters.unwrap_or_default();
    let owner = ctx.uid(row).map(|uid| Owner {
        uid,
        user: match datum(Field::User, row, ctx) {
            Datum::Name(name) => name.to_string(),
            _ => uid.to_string(),
        },
    });
    Connection {
        id: conn.id,
        family: conn.family.name(),
        proto: proto_name(conn.l4proto),
        l4proto: conn.l4proto,
        orig_src: conn.orig.src,
        orig_dst: conn.orig.dst,
        repl_src: conn.reply.src,
        repl_dst: conn.reply.dst,
        orig_sport: conn.orig.sport,
        orig_dport: conn.orig.dport,
        repl_sport: conn.reply.sport,
        repl_dport: conn.reply.dport,
        state: state_name(conn.l4proto, conn.proto_state),
        status: status_names(conn.status).collect(),
        mark: conn.mark,
        timeout: row.timeout_at(ctx.now),
        zone: conn.zone,
        orig_bytes: counters.orig_bytes,
        orig_packets: counters.orig_packets,
        repl_bytes: counters.repl_bytes,
        repl_packets: counters.repl_packets,
        rate: row.rate,
        age: row.age_at(ctx.now_unix),
        owner,
    }
}
