//! `kill_matching(sid, filters)` -> {killed}.

use crate::xmlrpc::method::{Cost, Ctx, Method};
use crate::xmlrpc::Value;
use crate::xmlrpc::{Fault, Params};

pub const METHOD: Method = Method {
    name: "kill_matching",
    signatures: &[&["struct", "string", "struct"]],
    help: "kill_matching(sid, filters) -> {killed}; refuses a filter that constrains nothing.",
    cost: Cost::Heavy,
    handler,
};

fn handler(ctx: &Ctx<'_>, p: &Params<'_>) -> Result<Value, Fault> {
    let filter = p.filters(1)?;
    let killed = ctx.service.kill_matching(p.sid()?, &filter)?;
    Ok(Value::Struct(vec![(
        "killed".into(),
        Value::Int(i64::try_from(killed).unwrap_or(i64::MAX)),
    )]))
}
