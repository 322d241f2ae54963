//! The `system.*` introspection methods and `system.multicall`.

use crate::xmlrpc::method::{Cost, Ctx, Method};
use crate::xmlrpc::Value;
use crate::xmlrpc::{Fault, FaultCode, MethodCall, Params};

/// Most calls one `system.multicall` may carry.
const MAX_MULTICALL: usize = 1000;
/// Most heavy calls (table scans, kernel requests) one multicall may run: it
/// holds a single slot of the heavy-call gate, and a thousand refreshes in
/// it would hold that slot for minutes. Logins may not ride in a multicall
/// at all: they have a gate of their own, which a multicall would bypass.
const MAX_HEAVY_MEMBERS: usize = 8;

pub const LIST_METHODS: Method = Method {
    name: "system.listMethods",
    signatures: &[&["array"]],
    help: "system.listMethods() -> the method names.",
    cost: Cost::Quick,
    handler: |ctx, _| {
        Ok(Value::Array(
            ctx.methods.iter().map(|m| Value::str(m.name)).collect(),
        ))
    },
};

pub const METHOD_HELP: Method = Method {
    name: "system.methodHelp",
    signatures: &[&["string", "string"]],
    help: "system.methodHelp(name) -> help text.",
    cost: Cost::Quick,
    handler: |ctx, p| Ok(Value::str(find(ctx, p)?.help)),
};

pub const METHOD_SIGNATURE: Method = Method {
    name: "system.methodSignature",
    signatures: &[&["array", "string"]],
    help: "system.methodSignature(name) -> array of signatures, each [return type, parameter types...].",
    cost: Cost::Quick,
    handler: |ctx, p| {
        let method = find(ctx, p)?;
        Ok(Value::Array(
            method
                .signatures
                .iter()
                .map(|s| Value::Array(s.iter().map(|t| Value::str(*t)).collect()))
                .collect(),
        ))
    },
};

pub const MULTICALL: Method = Method {
    name: "system.multicall",
    signatures: &[&["array", "array"]],
    help: "system.multicall([{methodName, params}, ...]) -> [[result] or fault struct, ...].",
    cost: Cost::Heavy,
    handler: multicall,
};

pub const GET_CAPABILITIES: Method = Method {
    name: "system.getCapabilities",
    signatures: &[&["struct"]],
    help: "system.getCapabilities() -> the specifications this server follows.",
    cost: Cost::Quick,
    handler: |_, _| Ok(capabilities()),
};

/// The method named by parameter 1.
fn find<'m>(ctx: &Ctx<'m>, p: &Params<'_>) -> Result<&'m Method, Fault> {
    let name = p.str(0, "method name")?;
    ctx.methods
        .iter()
        .copied()
        .find(|m| m.name == name)
        .ok_or_else(|| Fault::unknown_method(name))
}

fn multicall(ctx: &Ctx<'_>, p: &Params<'_>) -> Result<Value, Fault> {
    let calls = match p.value(0) {
        Some(Value::Array(calls)) => calls,
        other => {
            return Err(Fault::params(format!(
                "system.multicall: parameter 1 must be an array, got {}",
                other.map_or("nothing", Value::type_name)
            )))
        }
    };
    if calls.len() > MAX_MULTICALL {
        return Err(Fault::params(format!(
            "system.multicall: at most {MAX_MULTICALL} calls, got {}",
            calls.len()
        )));
    }
    let mut heavy = 0;
    let results = calls
        .iter()
        .map(|member| {
            let outcome = member_call(member).and_then(|call| {
                if call.name == MULTICALL.name {
                    return Err(Fault::new(
                        FaultCode::NotACall,
                        "system.multicall cannot be nested",
                    ));
                }
                let cost = ctx
                    .methods
                    .iter()
                    .find(|m| m.name == call.name)
                    .map(|m| m.cost);
                if cost == Some(Cost::Login) {
                    return Err(Fault::new(
                        FaultCode::InvalidArgument,
                        format!("system.multicall cannot carry {}: call it on its own", call.name),
                    ));
                }
                if cost == Some(Cost::Heavy) {
                    heavy += 1;
                    if heavy > MAX_HEAVY_MEMBERS {
                        return Err(Fault::new(
                            FaultCode::InvalidArgument,
                            format!("system.multicall: at most {MAX_HEAVY_MEMBERS} calls that scan the table or talk to the kernel; send the rest in another request"),
                        ));
                    }
                }
                (ctx.run)(&call)
            });
            match outcome {
                Ok(value) => Value::Array(vec![value]),
                Err(fault) => fault.to_struct(),
            }
        })
        .collect();
    Ok(Value::Array(results))
}

fn member_call(member: &Value) -> Result<MethodCall, Fault> {
    let name = match member.member("methodName") {
        Some(Value::Str(name)) => name.clone(),
        _ => {
            return Err(Fault::params(
                "system.multicall: each call needs a string methodName",
            ))
        }
    };
    let params = match member.member("params") {
        Some(Value::Array(params)) => params.clone(),
        None => Vec::new(),
        Some(_) => return Err(Fault::params("system.multicall: params must be an array")),
    };
    Ok(MethodCall { name, params })
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
