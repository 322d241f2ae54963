//! `logout(sid)` -> true.

use crate::xmlrpc::method::{Cost, Ctx, Method};
use crate::xmlrpc::Value;
use crate::xmlrpc::{Fault, Params};

pub const METHOD: Method = Method {
    name: "logout",
    signatures: &[&["boolean", "string"]],
    help: "logout(sid) -> true; ends the session.",
    cost: Cost::Quick,
    handler,
};

fn handler(ctx: &Ctx<'_>, p: &Params<'_>) -> Result<Value, Fault> {
    ctx.service.logout(p.sid()?)?;
    Ok(Value::Bool(true))
}
