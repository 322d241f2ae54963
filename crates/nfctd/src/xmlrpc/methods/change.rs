//! `change(sid, field_name, id, value)` -> true.

use crate::service::Setting;
use crate::xmlrpc::method::{Cost, Ctx, Method};
use crate::xmlrpc::Value;
use crate::xmlrpc::{Fault, Params};

pub const METHOD: Method = Method {
    name: "change",
    signatures: &[
        &["boolean", "string", "string", "string", "int"],
        &["boolean", "string", "string", "int", "int"],
    ],
    help: "change(sid, field_name, id, value) -> true; field_name is mark or timeout (32-bit unsigned).",
    cost: Cost::Heavy,
    handler,
};

fn handler(ctx: &Ctx<'_>, p: &Params<'_>) -> Result<Value, Fault> {
    let setting = Setting::new(p.str(1, "field_name")?, p.int(3, "field_value")?)?;
    ctx.service.change(p.sid()?, p.id(2)?, setting)?;
    Ok(Value::Bool(true))
}
