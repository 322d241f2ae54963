//! Tests of the XML-RPC codec, with helpers shared by the topic files.

mod hardening;
mod parse;
mod render;
mod roundtrip;

use super::{parse_call, CodecError, Limits, MethodCall};
use crate::Value;

fn call(body: &str) -> Result<MethodCall, CodecError> {
    parse_call(body.as_bytes(), &Limits::default())
}

/// A call to `m` whose `<params>` content is `inner`.
fn with_params(inner: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?><methodCall><methodName>m</methodName>\
         <params>{inner}</params></methodCall>"
    )
}

/// Parses a call with the single parameter `<value>` text `value_xml`.
fn one(value_xml: &str) -> Result<Value, CodecError> {
    let mut call = call(&with_params(&format!("<param>{value_xml}</param>")))?;
    assert_eq!(call.params.len(), 1);
    Ok(call.params.remove(0))
}

/// The fault code of a failed parse, checking the message does not quote `secret`.
fn fault(result: Result<impl std::fmt::Debug, CodecError>, secret: &str) -> i32 {
    let err = result.expect_err("parse should fail");
    let message = err.to_string();
    assert!(
        !message.contains(secret),
        "message {message:?} quotes {secret:?}"
    );
    assert!(message.len() < 200, "message too long: {message:?}");
    err.fault_code()
}

/// A response body turned into a call body with the same `<params>`, so our parser
/// can read it back.
fn response_as_call(response: &str) -> String {
    response
        .replacen(
            "<methodResponse><params>",
            "<methodCall><methodName>r</methodName><params>",
            1,
        )
        .replacen("</methodResponse>", "</methodCall>", 1)
}
