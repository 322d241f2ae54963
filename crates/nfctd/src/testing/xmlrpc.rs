//! XML-RPC as a client speaks it: calls written from values, replies read
//! back into a value or a fault.

use std::fmt::Write as _;

use axum::http::StatusCode;

use super::{request, text, Daemon};
use crate::xmlrpc::{parse_call, Limits, Value};

/// A fault reply: its number and its words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub code: i64,
    pub message: String,
}

impl Daemon {
    /// `POST /RPC2` with `body`; the reply if it is 200 and XML, else the status.
    pub async fn post_xml(&self, body: String) -> Result<String, StatusCode> {
        let call = request("POST", "/RPC2")
            .header("content-type", "text/xml")
            .body(body.into())
            .unwrap();
        let response = self.send(call).await;
        if response.status() != StatusCode::OK {
            return Err(response.status());
        }
        Ok(text(response).await)
    }

    /// Calls `method` with `params`; panics unless the reply is 200.
    pub async fn call(&self, method: &str, params: &[Value]) -> Result<Value, Fault> {
        match self.post_xml(call(method, params)).await {
            Ok(xml) => read_reply(&xml),
            Err(status) => panic!("{method}: HTTP {status}"),
        }
    }

    /// Calls `method` with `params`, which must fail: the fault.
    pub async fn fault(&self, method: &str, params: &[Value]) -> Fault {
        match self.call(method, params).await {
            Ok(value) => panic!("{method} did not fail: {value:?}"),
            Err(fault) => fault,
        }
    }

    /// Logs in with `--auth none`, or as `user` with `password`; the session id.
    pub async fn login(&self, credentials: Option<(&str, &str)>) -> String {
        let params = match credentials {
            Some((user, password)) => vec![Value::str(user), Value::str(password)],
            None => Vec::new(),
        };
        match self.call("login", &params).await {
            Ok(Value::Str(sid)) => sid,
            other => panic!("login: {other:?}"),
        }
    }
}

/// A `methodCall` body.
pub fn call(method: &str, params: &[Value]) -> String {
    let mut out = format!(
        "<?xml version=\"1.0\"?><methodCall><methodName>{}</methodName><params>",
        escape(method)
    );
    for param in params {
        out.push_str("<param>");
        write_value(&mut out, param);
        out.push_str("</param>");
    }
    out.push_str("</params></methodCall>");
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn write_value(out: &mut String, value: &Value) {
    out.push_str("<value>");
    match value {
        Value::Int(n) if i32::try_from(*n).is_ok() => {
            let _ = write!(out, "<int>{n}</int>");
        }
        Value::Int(n) => {
            let _ = write!(out, "<i8>{n}</i8>");
        }
        Value::Bool(b) => {
            let _ = write!(out, "<boolean>{}</boolean>", u8::from(*b));
        }
        Value::Str(s) => {
            let _ = write!(out, "<string>{}</string>", escape(s));
        }
        Value::Double(d) => {
            let _ = write!(out, "<double>{d}</double>");
        }
        Value::Array(items) => {
            out.push_str("<array><data>");
            items.iter().for_each(|item| write_value(out, item));
            out.push_str("</data></array>");
        }
        Value::Struct(members) => {
            out.push_str("<struct>");
            for (name, member) in members {
                let _ = write!(out, "<member><name>{}</name>", escape(name));
                write_value(out, member);
                out.push_str("</member>");
            }
            out.push_str("</struct>");
        }
        Value::Nil => out.push_str("<nil/>"),
        Value::DateTime(_) | Value::Base64(_) => unimplemented!("no call here sends one"),
    }
    out.push_str("</value>");
}

/// A `methodResponse` read with the daemon's own parser: a reply is a call
/// without a name, whose one parameter is the value or the fault struct.
pub fn read_reply(xml: &str) -> Result<Value, Fault> {
    let fault = xml.contains("<fault>");
    let as_call = xml
        .replace(
            "<methodResponse>",
            "<methodCall><methodName>reply</methodName>",
        )
        .replace("</methodResponse>", "</methodCall>")
        .replace("<fault>", "<params><param>")
        .replace("</fault>", "</param></params>");
    let mut parsed = parse_call(as_call.as_bytes(), &Limits::default()).unwrap();
    assert_eq!(parsed.params.len(), 1, "{xml}");
    let value = parsed.params.remove(0);
    if !fault {
        return Ok(value);
    }
    match (value.member("faultCode"), value.member("faultString")) {
        (Some(Value::Int(code)), Some(Value::Str(message))) => Err(Fault {
            code: *code,
            message: message.clone(),
        }),
        _ => panic!("not a fault struct: {xml}"),
    }
}

/// A struct value from `(name, value)` pairs.
pub fn members<'a>(pairs: impl IntoIterator<Item = (&'a str, Value)>) -> Value {
    Value::Struct(pairs.into_iter().map(|(k, v)| (k.into(), v)).collect())
}

/// `kill`'s parameters.
pub fn kill(sid: &str, ids: &[&str]) -> [Value; 2] {
    let ids = ids.iter().map(|&id| Value::str(id)).collect();
    [Value::str(sid), Value::Array(ids)]
}

/// `change`'s parameters.
pub fn change(sid: &str, field: &str, id: &str, value: i64) -> [Value; 4] {
    [
        Value::str(sid),
        Value::str(field),
        Value::str(id),
        Value::int(value),
    ]
}

/// `view`'s parameters for the first 1,000 rows `filters` selects, by id.
pub fn view(sid: &str, filters: Value) -> [Value; 6] {
    [
        Value::str(sid),
        filters,
        Value::str("id"),
        Value::str("asc"),
        Value::int(0),
        Value::int(1000),
    ]
}

/// The ids of a `view` reply's connections, in order.
pub fn ids(page: &Value) -> Vec<u32> {
    let Some(Value::Array(rows)) = page.member("connections") else {
        panic!("no connections in {page:?}");
    };
    rows.iter()
        .map(|row| match row.member("id") {
            Some(Value::Str(id)) => id.parse().unwrap(),
            other => panic!("id {other:?}"),
        })
        .collect()
}
