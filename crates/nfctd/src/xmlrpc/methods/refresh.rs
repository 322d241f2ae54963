//! `refresh(sid)` -> true.

use crate::xmlrpc::method::{Cost, Ctx, Method};
use crate::xmlrpc::Value;
use crate::xmlrpc::{Fault, Params};

pub const METHOD: Method = Method {
    name: "refresh",
    signatures: &[&["boolean", "string"]],
    help: "refresh(sid) -> true; new frozen snapshot, or a full reconciliation when autorefresh is on.",
    cost: Cost::Heavy,
    handler,
};

fn handler(ctx: &Ctx<'_>, p: &Params<'_>) -> Result<Value, Fault> {
    ctx.service.refresh(p.sid()?)?;
    Ok(Value::Bool(true))
}
