//! XML-RPC's data model: the dynamic value a call's parameters decode into and
//! a response renders from. It stops at the door: the service sees typed
//! requests and replies only.

/// One API value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(i64),
    Bool(bool),
    Str(String),
    Double(f64),
    /// An ISO 8601 UTC timestamp, `YYYYMMDDTHH:MM:SS` as XML-RPC writes it.
    DateTime(String),
    Base64(Vec<u8>),
    Struct(Vec<(String, Value)>),
    Array(Vec<Value>),
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

    pub fn str(s: impl Into<String>) -> Value {
        Value::Str(s.into())
    }

    pub fn int(i: impl Into<i64>) -> Value {
        Value::Int(i.into())
    }
}
