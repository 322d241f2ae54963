//! `kill(sid, ids)` -> {killed, missing}.

use crate::xmlrpc::method::{Cost, Ctx, Method};
use crate::xmlrpc::Value;
use crate::xmlrpc::{reply, Fault, Params};

pub const METHOD: Method = Method {
    name: "kill",
    signatures: &[&["struct", "string", "array"]],
    help: "kill(sid, ids) -> {killed, missing}; deletes connections by id (int, i8 or decimal string).",
    cost: Cost::Heavy,
    handler,
};

fn handler(ctx: &Ctx<'_>, p: &Params<'_>) -> Result<Value, Fault> {
    let ids = p.ids(1)?;
    Ok(reply::killed(&ctx.service.kill(p.sid()?, &ids)?))
}
