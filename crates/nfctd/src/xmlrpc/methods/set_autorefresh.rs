//! `set_autorefresh(sid, on)` -> true.

use crate::xmlrpc::method::{Cost, Ctx, Method};
use crate::xmlrpc::Value;
use crate::xmlrpc::{Fault, Params};

pub const METHOD: Method = Method {
    name: "set_autorefresh",
    signatures: &[&["boolean", "string", "int"], &["boolean", "string", "boolean"]],
    help: "set_autorefresh(sid, on) -> true; on is 0/1 or a boolean; off freezes the session's view for stable paging.",
    cost: Cost::Quick,
    handler,
};

fn handler(ctx: &Ctx<'_>, p: &Params<'_>) -> Result<Value, Fault> {
    let on = p.flag(1, "refresh")?;
    ctx.service.set_autorefresh(p.sid()?, on)?;
    Ok(Value::Bool(true))
}
