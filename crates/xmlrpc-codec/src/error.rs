//! Codec errors, split by the XML-RPC fault code each maps to (see `fault`).

/// Why a request body was refused. Messages never quote the body: at most a short,
/// checked element name and a byte offset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// Not well-formed XML (syntax, encoding, undefined entity, DOCTYPE, ...): -32700.
    #[error("request is not well-formed XML: {0}")]
    NotWellFormed(String),
    /// Well-formed XML but not a valid XML-RPC `methodCall` (wrong elements, missing
    /// `methodName`, bad scalar text, integer out of range, limits exceeded): -32600.
    #[error("not an XML-RPC call: {0}")]
    NotACall(String),
}

impl CodecError {
    /// The fault code of this error, from the XML-RPC interoperability
    /// fault codes: -32700 for [`CodecError::NotWellFormed`], -32600 for
    /// [`CodecError::NotACall`].
    pub fn fault_code(&self) -> i32 {
        match self {
            CodecError::NotWellFormed(_) => -32700,
            CodecError::NotACall(_) => -32600,
        }
    }

    pub(crate) fn xml(what: &str, pos: u64) -> Self {
        CodecError::NotWellFormed(format!("{what} at byte {pos}"))
    }

    pub(crate) fn call(what: &str, pos: u64) -> Self {
        CodecError::NotACall(format!("{what} at byte {pos}"))
    }
}

/// An element name from the request, fit to quote in an error: only when short
/// and made of name characters, else a placeholder. Stricter than
/// nfctd's `clip`: a name is structure, and a long one is more likely a secret.
pub(crate) fn quote_name(name: &str) -> String {
    let ok = !name.is_empty()
        && name.len() <= 32
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'));
    if ok {
        format!("<{name}>")
    } else {
        "an element".to_string()
    }
}
