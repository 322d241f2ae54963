//! Rendering `methodResponse` bodies: one value, or a fault.
//!
//! Output rules: integers go out as `<int>` when they fit 32 bits, else as
//! [`WideInt`] says (`<i8>` by default, `<double>` or a decimal `<string>` for
//! clients that cannot read `<i8>`);
//! doubles in Rust's shortest round-trip decimal form (never an exponent, which
//! XML-RPC forbids; Python's `float()` reads it back exactly), and NaN or infinity,
//! which XML-RPC cannot carry, as `0`; text escapes `&`, `<`, `>` and writes CR as
//! `&#13;` so it survives end-of-line normalisation; characters XML 1.0 forbids
//! (most C0 controls, U+FFFE, U+FFFF) become U+FFFD, so the output is always
//! well-formed. Values come from the service, so their nesting is shallow and
//! rendering may recurse.

use std::fmt::Write;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::parse::is_xml_char;
use crate::Value;

const HEAD: &str = r#"<?xml version="1.0"?>"#;

/// How integers beyond signed 32 bits go out (`--xmlrpc-wide-int`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum WideInt {
    /// `<i8>`: Python, Perl RPC::XML, Node, C xmlrpc-c read it.
    #[default]
    I8,
    /// `<double>`, exact below 2^53: for PHP ext/xmlrpc, which turns `<i8>` into NULL.
    Double,
    /// A decimal `<string>`: for Frontier::Client and XMLRPC::Lite, which
    /// reject a response with `<i8>` in it.
    String,
}

impl WideInt {
    /// The names [`WideInt::parse`] accepts, in the order of the variants.
    pub const NAMES: [&'static str; 3] = ["i8", "double", "string"];

    /// The variant of a name in [`WideInt::NAMES`] (exact, lower case); `None` for any other.
    pub fn parse(name: &str) -> Option<WideInt> {
        match name {
            "i8" => Some(WideInt::I8),
            "double" => Some(WideInt::Double),
            "string" => Some(WideInt::String),
            _ => None,
        }
    }
}

/// A successful response carrying `value`.
pub fn render_response(value: &Value, wide: WideInt) -> String {
    let mut out = format!("{HEAD}<methodResponse><params><param>");
    write_value(&mut out, value, wide);
    out.push_str("</param></params></methodResponse>");
    out
}

/// A fault response, the `{faultCode, faultString}` struct Python's
/// `xmlrpc.client` turns into `Fault(code, message)`.
///
/// ```
/// use xmlrpc_codec::{parse_call, render_fault, Limits};
///
/// let err = parse_call(b"<methodCall><methodName>view", &Limits::default()).unwrap_err();
/// assert_eq!(err.fault_code(), -32700);
/// let body = render_fault(err.fault_code(), &err.to_string());
/// assert!(body.starts_with("<?xml version=\"1.0\"?><methodResponse><fault>"));
/// assert!(body.contains("<name>faultCode</name><value><int>-32700</int></value>"));
/// ```
pub fn render_fault(code: i32, message: &str) -> String {
    let mut out = format!("{HEAD}<methodResponse><fault>");
    write_value(&mut out, &fault_struct(code, message), WideInt::I8);
    out.push_str("</fault></methodResponse>");
    out
}

/// A fault as a struct: the body of a fault response, and what
/// `system.multicall` puts in a failed call's slot.
pub fn fault_struct(code: i32, message: &str) -> Value {
    Value::Struct(vec![
        ("faultCode".into(), Value::int(code)),
        ("faultString".into(), Value::str(message)),
    ])
}

/// A call body, as a client would send it (for tests).
#[cfg(test)]
pub(crate) fn render_call(name: &str, params: &[Value]) -> String {
    let mut out = format!("{HEAD}<methodCall><methodName>");
    escape_into(&mut out, name);
    out.push_str("</methodName><params>");
    for param in params {
        out.push_str("<param>");
        write_value(&mut out, param, WideInt::I8);
        out.push_str("</param>");
    }
    out.push_str("</params></methodCall>");
    out
}

fn write_value(out: &mut String, value: &Value, wide: WideInt) {
    out.push_str("<value>");
    // `write!` into a String cannot fail; its fmt::Result is always Ok.
    match value {
        Value::Int(i) => match (i32::try_from(*i), wide) {
            (Ok(small), _) => _ = write!(out, "<int>{small}</int>"),
            (Err(_), WideInt::I8) => _ = write!(out, "<i8>{i}</i8>"),
            // Exact below 2^53, which covers marks, ids and any real counter.
            (Err(_), WideInt::Double) => _ = write!(out, "<double>{}</double>", *i as f64),
            (Err(_), WideInt::String) => _ = write!(out, "<string>{i}</string>"),
        },
        Value::Bool(b) => out.push_str(if *b {
            "<boolean>1</boolean>"
        } else {
            "<boolean>0</boolean>"
        }),
        Value::Str(s) => {
            out.push_str("<string>");
            escape_into(out, s);
            out.push_str("</string>");
        }
        Value::Double(d) => {
            let d = if d.is_finite() { *d } else { 0.0 };
            _ = write!(out, "<double>{d}</double>");
        }
        Value::DateTime(s) => {
            out.push_str("<dateTime.iso8601>");
            escape_into(out, s);
            out.push_str("</dateTime.iso8601>");
        }
        Value::Base64(bytes) => {
            out.push_str("<base64>");
            STANDARD.encode_string(bytes, out);
            out.push_str("</base64>");
        }
        Value::Struct(members) => {
            out.push_str("<struct>");
            for (name, member) in members {
                out.push_str("<member><name>");
                escape_into(out, name);
                out.push_str("</name>");
                write_value(out, member, wide);
                out.push_str("</member>");
            }
            out.push_str("</struct>");
        }
        Value::Array(items) => {
            out.push_str("<array><data>");
            for item in items {
                write_value(out, item, wide);
            }
            out.push_str("</data></array>");
        }
        Value::Nil => out.push_str("<nil/>"),
    }
    out.push_str("</value>");
}

fn escape_into(out: &mut String, text: &str) {
    // Most text (names, addresses, numbers) needs no escaping: copy it whole.
    if text
        .bytes()
        .all(|b| b >= 0x20 && !matches!(b, b'&' | b'<' | b'>' | 0x7f..))
    {
        out.push_str(text);
        return;
    }
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            c if is_xml_char(c) => out.push(c),
            _ => out.push('\u{FFFD}'),
        }
    }
}
