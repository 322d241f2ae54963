//! The XML-RPC method table: turns a decoded call into a service call and
//! answers the `system.*` introspection (parameters are read by `params`).

use crate::service::{ApiError, Service, ViewRequest};
use crate::value::Value;

use super::params::{clip, connection_id, params_fault, Params};
use super::MethodCall;

/// An XML-RPC fault: code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub code: i32,
    pub message: String,
}

impl From<ApiError> for Fault {
    fn from(e: ApiError) -> Fault {
        Fault {
            code: e.code(),
            message: e.to_string(),
        }
    }
}

/// One method: name, signatures (return type first), help text.
struct Method {
    name: &'static str,
    signatures: &'static [&'static [&'static str]],
    help: &'static str,
}

const METHODS: &[Method] = &[
    Method { name: "login", signatures: &[&["string"], &["string", "string", "string"]], help: "login() or login(user, password) -> session id." },
    Method { name: "logout", signatures: &[&["boolean", "string"]], help: "logout(sid) -> true; ends the session." },
    Method {
        name: "view",
        signatures: &[&["struct", "string", "struct", "string", "string", "int", "int"]],
        help: "view(sid, filters, order_by, order_dir, start, length) -> {total, start, length, table_size, autorefresh, snapshot, connections}.",
    },
    Method { name: "kill", signatures: &[&["struct", "string", "array"]], help: "kill(sid, ids) -> {killed, missing}; deletes connections by id (int, i8 or decimal string)." },
    Method { name: "kill_matching", signatures: &[&["struct", "string", "struct"]], help: "kill_matching(sid, filters) -> {killed}; refuses an empty filter struct." },
    Method {
        name: "change",
        signatures: &[&["boolean", "string", "string", "string", "int"], &["boolean", "string", "string", "int", "int"]],
        help: "change(sid, field_name, id, value) -> true; field_name is mark or timeout (32-bit unsigned).",
    },
    Method { name: "refresh", signatures: &[&["boolean", "string"]], help: "refresh(sid) -> true; new frozen snapshot, or a full reconciliation when autorefresh is on." },
    Method {
        name: "set_autorefresh",
        signatures: &[&["boolean", "string", "int"], &["boolean", "string", "boolean"]],
        help: "set_autorefresh(sid, on) -> true; off freezes the session's view for stable paging.",
    },
    Method { name: "stats", signatures: &[&["struct", "string"]], help: "stats(sid) -> table size and limit, counts by protocol and state, kernel counters." },
    Method { name: "system.listMethods", signatures: &[&["array"]], help: "system.listMethods() -> the method names." },
    Method { name: "system.methodHelp", signatures: &[&["string", "string"]], help: "system.methodHelp(name) -> help text." },
    Method { name: "system.methodSignature", signatures: &[&["array", "string"]], help: "system.methodSignature(name) -> array of signatures." },
    Method { name: "system.multicall", signatures: &[&["array", "array"]], help: "system.multicall([{methodName, params}, ...]) -> [[result] or fault struct, ...]." },
    Method { name: "system.getCapabilities", signatures: &[&["struct"]], help: "system.getCapabilities() -> the specifications this server follows." },
];

/// Most calls one `system.multicall` may carry.
const MAX_MULTICALL: usize = 1000;

/// The method called `name`, or the -32601 fault naming it (clipped).
fn find(name: &str) -> Result<&'static Method, Fault> {
    METHODS
        .iter()
        .find(|m| m.name == name)
        .ok_or_else(|| Fault {
            code: -32601,
            message: format!("unknown method {:?}", clip(name)),
        })
}

/// Methods that answer from memory in microseconds: fronts may run them on
/// the async executor instead of handing them to a blocking thread.
const QUICK: &[&str] = &[
    "login",
    "logout",
    "set_autorefresh",
    "system.listMethods",
    "system.methodHelp",
    "system.methodSignature",
    "system.getCapabilities",
];

/// Whether `method` never blocks (no kernel request, no table scan).
pub fn is_quick(method: &str) -> bool {
    QUICK.contains(&method)
}

/// Runs one call. May block (kernel requests, table scans): unless
/// [`is_quick`] says otherwise, call it off the async executor.
pub fn dispatch(service: &Service, call: &MethodCall) -> Result<Value, Fault> {
    let method = find(&call.name)?;
    let p = Params {
        method: method.name,
        values: &call.params,
    };
    match method.name {
        "login" => {
            p.between(0, 2)?;
            Ok(Value::Str(service.login(&call.params)?))
        }
        "logout" => {
            p.count(1)?;
            service.logout(p.str(0, "session id")?)?;
            Ok(Value::Bool(true))
        }
        "view" => {
            p.count(6)?;
            let filters = p.filters(1)?;
            let req = ViewRequest {
                filters,
                order_by: p.opt_str(2, "order_by")?,
                order_dir: p.opt_str(3, "order_dir")?,
                start: p.opt_int(4, "start")?,
                length: p.opt_int(5, "length")?,
            };
            Ok(service.view(p.str(0, "session id")?, &req)?)
        }
        "kill" => {
            p.count(2)?;
            let ids = match &call.params[1] {
                Value::Array(items) => items
                    .iter()
                    .map(connection_id)
                    .collect::<Result<Vec<_>, _>>()?,
                single @ (Value::Int(_) | Value::Str(_)) => vec![connection_id(single)?],
                other => {
                    return Err(params_fault(format!(
                        "kill: parameter 2 (ids) must be an array, got {}",
                        other.type_name()
                    )))
                }
            };
            let killed = service.kill(p.str(0, "session id")?, &ids)?;
            Ok(Value::Struct(vec![
                ("killed".into(), Value::Int(killed.killed as i64)),
                (
                    "missing".into(),
                    Value::Array(
                        killed
                            .missing
                            .iter()
                            .map(|id| Value::Str(id.to_string()))
                            .collect(),
                    ),
                ),
            ]))
        }
        "kill_matching" => {
            p.count(2)?;
            let killed = service.kill_matching(p.str(0, "session id")?, p.filters(1)?)?;
            Ok(Value::Struct(vec![(
                "killed".into(),
                Value::Int(killed as i64),
            )]))
        }
        "change" => {
            p.count(4)?;
            let field = p.str(1, "field_name")?;
            let id = connection_id(&call.params[2])?;
            let value = match &call.params[3] {
                Value::Int(v) => *v,
                Value::Str(s) => s.trim().parse::<i64>().map_err(|_| {
                    Fault::from(ApiError::invalid("field_value", "not a decimal integer"))
                })?,
                other => {
                    return Err(params_fault(format!(
                        "change: parameter 4 (field_value) must be an int, got {}",
                        other.type_name()
                    )))
                }
            };
            service.change(p.str(0, "session id")?, field, id, value)?;
            Ok(Value::Bool(true))
        }
        "refresh" => {
            p.count(1)?;
            service.refresh(p.str(0, "session id")?)?;
            Ok(Value::Bool(true))
        }
        "set_autorefresh" => {
            p.count(2)?;
            let on = match &call.params[1] {
                Value::Bool(b) => *b,
                Value::Int(0) => false,
                Value::Int(1) => true,
                Value::Int(n) => {
                    return Err(
                        ApiError::invalid("refresh", format!("must be 0 or 1, got {n}")).into(),
                    )
                }
                other => {
                    return Err(params_fault(format!(
                        "set_autorefresh: parameter 2 must be an int or boolean, got {}",
                        other.type_name()
                    )))
                }
            };
            service.set_autorefresh(p.str(0, "session id")?, on)?;
            Ok(Value::Bool(true))
        }
        "stats" => {
            p.count(1)?;
            Ok(service.stats(p.str(0, "session id")?)?)
        }
        "system.listMethods" => {
            p.count(0)?;
            Ok(Value::Array(
                METHODS.iter().map(|m| Value::str(m.name)).collect(),
            ))
        }
        "system.methodHelp" => {
            p.count(1)?;
            let name = p.str(0, "method name")?;
            let m = find(name)?;
            Ok(Value::str(m.help))
        }
        "system.methodSignature" => {
            p.count(1)?;
            let name = p.str(0, "method name")?;
            let m = find(name)?;
            Ok(Value::Array(
                m.signatures
                    .iter()
                    .map(|s| Value::Array(s.iter().map(|t| Value::str(*t)).collect()))
                    .collect(),
            ))
        }
        "system.multicall" => {
            p.count(1)?;
            multicall(service, &call.params[0])
        }
        "system.getCapabilities" => {
            p.count(0)?;
            Ok(capabilities())
        }
        // Every name in METHODS has its arm above.
        other => Err(Fault {
            code: -32603,
            message: format!("method {other:?} is listed but not implemented"),
        }),
    }
}

fn multicall(service: &Service, calls: &Value) -> Result<Value, Fault> {
    let Value::Array(calls) = calls else {
        return Err(params_fault(format!(
            "system.multicall: parameter 1 must be an array, got {}",
            calls.type_name()
        )));
    };
    if calls.len() > MAX_MULTICALL {
        return Err(params_fault(format!(
            "system.multicall: at most {MAX_MULTICALL} calls, got {}",
            calls.len()
        )));
    }
    let results = calls
        .iter()
        .map(|member| {
            let outcome = member_call(member).and_then(|call| {
                if call.name == "system.multicall" {
                    return Err(Fault {
                        code: -32600,
                        message: "system.multicall cannot be nested".into(),
                    });
                }
                dispatch(service, &call)
            });
            match outcome {
                Ok(value) => Value::Array(vec![value]),
                Err(fault) => fault_struct(&fault),
            }
        })
        .collect();
    Ok(Value::Array(results))
}

fn member_call(member: &Value) -> Result<MethodCall, Fault> {
    let name = match member.member("methodName") {
        Some(Value::Str(name)) => name.clone(),
        _ => {
            return Err(params_fault(
                "system.multicall: each call needs a string methodName".into(),
            ))
        }
    };
    let params = match member.member("params") {
        Some(Value::Array(params)) => params.clone(),
        None => Vec::new(),
        Some(_) => {
            return Err(params_fault(
                "system.multicall: params must be an array".into(),
            ))
        }
    };
    Ok(MethodCall { name, params })
}

/// A fault as the struct `system.multicall` puts in a failed call's slot.
pub fn fault_struct(fault: &Fault) -> Value {
    Value::Struct(vec![
        ("faultCode".into(), Value::Int(i64::from(fault.code))),
        ("faultString".into(), Value::Str(fault.message.clone())),
    ])
}

fn capabilities() -> Value {
    let spec = |url: &str, version: i64| {
        Value::Struct(vec![
            ("specUrl".into(), Value::str(url)),
            ("specVersion".into(), Value::Int(version)),
        ])
    };
    Value::Struct(vec![
        ("xmlrpc".into(), spec("http://www.xmlrpc.com/spec", 1)),
        (
            "system.multicall".into(),
            spec("http://www.xmlrpc.com/discuss/msgReader$1208", 1),
        ),
        (
            "introspection".into(),
            spec(
                "http://xmlrpc-c.sourceforge.net/xmlrpc-c/introspection.html",
                1,
            ),
        ),
        (
            "nil".into(),
            spec("http://ontosys.com/xml-rpc/extensions.php", 20010516),
        ),
        (
            "faults_interop".into(),
            spec(
                "http://xmlrpc-epi.sourceforge.net/specs/rfc.fault_codes.php",
                20010516,
            ),
        ),
    ])
}
