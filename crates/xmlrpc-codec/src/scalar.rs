//! The typed scalar elements inside `<value>`: their tag names and how their text
//! becomes a [`Value`].

use base64::engine::general_purpose::STANDARD_PAD_INDIFFERENT;
use base64::Engine;

use crate::Value;

/// A scalar type tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scalar {
    Int,
    I4,
    I8,
    Boolean,
    Str,
    Double,
    DateTime,
    Base64,
}

impl Scalar {
    /// The scalar a tag's local name (namespace prefix dropped) stands for.
    pub(crate) fn from_tag(local: &str) -> Option<Scalar> {
        Some(match local {
            "int" => Scalar::Int,
            "i4" => Scalar::I4,
            "i8" => Scalar::I8,
            "boolean" => Scalar::Boolean,
            "string" => Scalar::Str,
            "double" => Scalar::Double,
            "dateTime.iso8601" => Scalar::DateTime,
            "base64" => Scalar::Base64,
            _ => return None,
        })
    }

    pub(crate) fn tag(self) -> &'static str {
        match self {
            Scalar::Int => "int",
            Scalar::I4 => "i4",
            Scalar::I8 => "i8",
            Scalar::Boolean => "boolean",
            Scalar::Str => "string",
            Scalar::Double => "double",
            Scalar::DateTime => "dateTime.iso8601",
            Scalar::Base64 => "base64",
        }
    }

    /// Decodes the element's text (references already resolved). Surrounding XML
    /// whitespace is ignored for every type but `<string>`. `None` means the text is
    /// not a valid value of this type; the caller names the tag in its error.
    pub(crate) fn decode(self, text: String) -> Option<Value> {
        let t = text.trim_matches(is_xml_space);
        match self {
            // Frontier::Client and Ruby send big numbers as <i4>/<int> with
            // text beyond 32 bits: read them wide, as Python's server does;
            // each parameter then checks its own range.
            Scalar::Int | Scalar::I4 | Scalar::I8 => t.parse::<i64>().ok().map(Value::Int),
            Scalar::Boolean => match t {
                "0" => Some(Value::Bool(false)),
                "1" => Some(Value::Bool(true)),
                _ => None,
            },
            Scalar::Str => Some(Value::Str(text)),
            // Rust's parser also takes "inf" and "NaN"; XML-RPC has no such doubles.
            Scalar::Double => t
                .parse::<f64>()
                .ok()
                .filter(|d| d.is_finite())
                .map(Value::Double),
            Scalar::DateTime => datetime_ok(t).then(|| Value::DateTime(t.to_string())),
            Scalar::Base64 => {
                // Python's encoder breaks lines every 76 characters.
                let packed: Vec<u8> = t.bytes().filter(|b| !is_xml_space_byte(*b)).collect();
                STANDARD_PAD_INDIFFERENT
                    .decode(packed)
                    .ok()
                    .map(Value::Base64)
            }
        }
    }
}

/// A light shape check: the codec keeps the text as sent (`YYYYMMDDTHH:MM:SS` from
/// Python); the service parses it where it needs a time.
fn datetime_ok(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 40
        && t.bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'T' | b':' | b'-' | b'+' | b'.' | b'Z'))
}

pub(crate) fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

fn is_xml_space_byte(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}
