//! Rendering one row as the API's connection struct (SPEC 4, "One
//! connection"): the one place every front (XML-RPC, JSON, web) gets it from.

use ctnetlink::names::status_names;

use super::extract::{datum, Datum};
use super::{Context, Field};
use crate::table::Row;
use crate::value::Value;

/// The row's keys and values in the API's order; `uid` and `user` only with a uid mask.
pub fn render(row: &Row, ctx: &Context) -> Vec<(&'static str, Value)> {
    Field::ALL
        .iter()
        .filter(|f| ctx.uid_mask.is_some() || !f.needs_uid_mask())
        .map(|&f| (f.name(), value(f, row, ctx)))
        .collect()
}

/// [`render`] as a `Value::Struct`.
pub fn render_struct(row: &Row, ctx: &Context) -> Value {
    Value::Struct(
        render(row, ctx)
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
    )
}

fn value(field: Field, row: &Row, ctx: &Context) -> Value {
    if field == Field::Id {
        // A u32 does not fit XML-RPC's <int>: ids go out as decimal strings.
        return Value::Str(row.conn.id.to_string());
    }
    match datum(field, row, ctx) {
        Datum::Int(n) => Value::Int(i64::try_from(n).unwrap_or(i64::MAX)),
        Datum::Addr(a) => Value::Str(a.to_string()),
        Datum::Float(f) => Value::Double(f),
        Datum::Text(t) => Value::Str(t.into_owned()),
        Datum::Name(n) => Value::Str(n.to_string()),
        Datum::Status(bits) => Value::Array(status_names(bits).map(Value::str).collect()),
        Datum::Absent => Value::Nil,
    }
}
