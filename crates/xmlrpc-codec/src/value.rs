//! XML-RPC's data model: the dynamic value a call's parameters decode into and
//! a response renders from. It stops at the door: the service sees typed
//! requests and replies only.

/// One API value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `<int>`, `<i4>` or `<i8>`. Read as 64 bits whatever the tag; written as
    /// `<int>` when it fits 32 bits, else as [`WideInt`](crate::WideInt) says.
    Int(i64),
    /// `<boolean>`, `0` or `1`.
    Bool(bool),
    /// `<string>`, or the text of a `<value>` without a type element; kept
    /// as sent, surrounding whitespace included.
    Str(String),
    /// `<double>`. A request's `inf` or `NaN` is refused; a non-finite value renders as `0`.
    Double(f64),
    /// An ISO 8601 UTC timestamp, `YYYYMMDDTHH:MM:SS` as XML-RPC writes it.
    DateTime(String),
    /// `<base64>`, decoded (line breaks ignored, padding optional).
    Base64(Vec<u8>),
    /// `<struct>`: members in the order sent, duplicate names kept.
    Struct(Vec<(String, Value)>),
    /// `<array>`.
    Array(Vec<Value>),
    /// `<nil/>`, the common extension to the XML-RPC specification (Python's `allow_none`).
    Nil,
}

impl Value {
    /// The type's name as API users know it, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Int(_) => "int",
            Value::Bool(_) => "boolean",
            Value::Str(_) => "string",
            Value::Double(_) => "double",
            Value::DateTime(_) => "dateTime.iso8601",
            Value::Base64(_) => "base64",
            Value::Struct(_) => "struct",
            Value::Array(_) => "array",
            Value::Nil => "nil",
        }
    }

    /// A struct member by name.
    pub fn member(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Struct(members) => members.iter().find(|(k, _)| k == name).map(|(_, v)| v),
            _ => None,
        }
    }

    /// A [`Value::Str`].
    pub fn str(s: impl Into<String>) -> Value {
        Value::Str(s.into())
    }

    /// A [`Value::Int`] from any integer type that converts to `i64` losslessly.
    pub fn int(i: impl Into<i64>) -> Value {
        Value::Int(i.into())
    }
}
