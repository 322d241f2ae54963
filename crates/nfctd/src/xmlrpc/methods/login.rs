//! `login()` / `login(user)` / `login(user, password)` -> session id.

use crate::service::Credentials;
use crate::xmlrpc::method::{Cost, Ctx, Method};
use crate::xmlrpc::Value;
use crate::xmlrpc::{Fault, Params};

pub const METHOD: Method = Method {
    name: "login",
    signatures: &[
        &["string"],
        &["string", "string"],
        &["string", "string", "string"],
    ],
    help: "login() or login(user, password) -> session id.",
    cost: Cost::Login,
    handler,
};

fn handler(ctx: &Ctx<'_>, p: &Params<'_>) -> Result<Value, Fault> {
    let credentials = Credentials {
        user: argument(p, 0, "user")?,
        password: argument(p, 1, "password")?,
    };
    let sid = ctx.service.login(&credentials, ctx.peer)?;
    Ok(Value::Str(sid.0))
}

/// A login argument: a string, a number written out (a numeric user name or
/// PIN), or nothing.
fn argument(p: &Params<'_>, index: usize, what: &str) -> Result<Option<String>, Fault> {
    match p.value(index) {
        None | Some(Value::Nil) => Ok(None),
        Some(Value::Str(s)) => Ok(Some(s.clone())),
        Some(Value::Int(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(Fault::params(format!(
            "login: parameter {} ({what}) must be a string, got {}",
            index + 1,
            other.type_name()
        ))),
    }
}
