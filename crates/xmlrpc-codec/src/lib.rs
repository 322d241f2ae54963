//! xmlrpc-codec: the XML-RPC wire format, and nothing of what the calls mean.
//! [`parse_call`] turns a `methodCall` body into a [`MethodCall`] of
//! [`Value`]s within [`Limits`]; [`render_response`] and [`render_fault`]
//! write `methodResponse` bodies.
//!
//! Parsing is our own, on quick-xml's low-level reader, not dxr's serde deserializer:
//! dxr recurses through serde per nested value with no depth or count limit (a deeply
//! nested body overflows the stack), has no hook to refuse a DOCTYPE, and its errors
//! carry quick-xml's messages, which quote element names and text from the request.
//! See [`parse_call`] for the hardening rules and [`render_response`] for the output rules.
//!
//! ```
//! use xmlrpc_codec::{parse_call, render_response, Limits, Value, WideInt};
//!
//! let body = b"<?xml version=\"1.0\"?><methodCall><methodName>view</methodName>\
//!     <params><param><value><string>s1</string></value></param></params></methodCall>";
//! let call = parse_call(body, &Limits::default()).unwrap();
//! assert_eq!(call.name, "view");
//! assert_eq!(call.params, vec![Value::str("s1")]);
//!
//! let reply = render_response(&Value::int(5_000_000_000_i64), WideInt::I8);
//! assert!(reply.contains("<i8>5000000000</i8>"));
//! ```

#![warn(missing_docs)]

mod decode;
mod error;
mod parse;
mod render;
mod scalar;
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
mod value;

pub use error::CodecError;
pub use parse::parse_call;
pub use render::{fault_struct, render_fault, render_response, WideInt};
pub use value::Value;

/// One decoded call: the method name and its positional parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct MethodCall {
    /// Checked: 1 to [`MAX_METHOD_NAME`] characters of `A-Za-z0-9_.:/` (the XML-RPC
    /// spec's set), so a dispatcher may quote it in a fault string.
    pub name: String,
    /// The `<param>` values in order; empty when `<params>` is absent.
    pub params: Vec<Value>,
}

/// The longest method name accepted.
pub const MAX_METHOD_NAME: usize = 128;

/// Bounds a request must stay within; each is checked while parsing, before the
/// work it would cost is done.
///
/// ```
/// use xmlrpc_codec::{parse_call, CodecError, Limits};
///
/// // A call whose one parameter nests `depth` `<value>` elements.
/// let call = |depth: usize| {
///     let open = "<value><array><data>".repeat(depth - 1);
///     let close = "</data></array></value>".repeat(depth - 1);
///     format!("<methodCall><methodName>m</methodName><params><param>\
///              {open}<value><int>1</int></value>{close}</param></params></methodCall>")
/// };
/// let limits = Limits { max_depth: 3, ..Limits::default() };
/// assert!(parse_call(call(3).as_bytes(), &limits).is_ok());
///
/// let err = parse_call(call(10_000).as_bytes(), &limits).unwrap_err();
/// assert!(matches!(&err, CodecError::NotACall(m) if m.contains("nested deeper than 3")));
/// assert_eq!(err.fault_code(), -32600);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest body in bytes (HTTP limits it first; this is the codec's own guard).
    pub max_body: usize,
    /// Deepest nesting of `<value>` elements; a top-level parameter is depth 1.
    pub max_depth: usize,
    /// Most `<value>` plus `<member>` elements in one call.
    pub max_values: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body: 16 << 20,
            max_depth: 64,
            max_values: 1_000_000,
        }
    }
}
