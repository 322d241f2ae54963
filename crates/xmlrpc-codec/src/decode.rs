//! Turning a body's bytes into text: a UTF-8 BOM is skipped, UTF-8 (or ASCII) is
//! the default, and ISO-8859-1 is decoded when the XML declaration names it, as
//! Python's `xmlrpc.client` sends it when given `encoding="iso-8859-1"`.

use std::borrow::Cow;

use quick_xml::events::Event;
use quick_xml::Reader;

use super::CodecError;

pub(crate) fn body_text(body: &[u8]) -> Result<Cow<'_, str>, CodecError> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    match declared_encoding(body).as_deref() {
        None | Some("utf-8" | "utf8" | "us-ascii" | "ascii") => std::str::from_utf8(body)
            .map(Cow::Borrowed)
            .map_err(|e| CodecError::xml("invalid UTF-8", e.valid_up_to() as u64)),
        Some("iso-8859-1" | "iso8859-1" | "latin-1" | "latin1") => {
            Ok(Cow::Owned(body.iter().map(|&b| char::from(b)).collect()))
        }
        Some(_) => Err(CodecError::xml("unsupported encoding (use UTF-8)", 0)),
    }
}

/// The `encoding` of a leading XML declaration, lower-cased.
fn declared_encoding(body: &[u8]) -> Option<String> {
    let mut reader = Reader::from_reader(body);
    match reader.read_event() {
        Ok(Event::Decl(decl)) => Some(decl.encoding()?.ok()?.to_ascii_lowercase()),
        _ => None,
    }
}
