//! `stats(sid)` -> table, kernel and mirror counters.

use crate::xmlrpc::method::{Cost, Ctx, Method};
use crate::xmlrpc::Value;
use crate::xmlrpc::{reply, Fault, Params};

pub const METHOD: Method = Method {
    name: "stats",
    signatures: &[&["struct", "string"]],
    help: "stats(sid) -> table size and limit, counts by protocol and state, kernel counters, accounting/timestamp switches, the mirror's counters.",
    cost: Cost::Heavy,
    handler,
};

fn handler(ctx: &Ctx<'_>, p: &Params<'_>) -> Result<Value, Fault> {
    Ok(reply::stats(&ctx.service.stats(p.sid()?)?))
}
