//! Reading a call's positional parameters at the door, with the leniencies
//! real clients need (docs/xmlrpc-api.md, "Integers, in and out"): decimal strings for
//! integers, `<nil/>` and PHP's `<string/>` for "not given", wrapped negative
//! u32s, and an empty array, empty string or nil where a filter struct goes.
//! Wrong counts and types are -32602 naming the parameter; bad values are
//! fault 4 (`ApiError::Invalid`) naming it.

use crate::service::ApiError;
use crate::xmlrpc::Value;
use nfctd_table::query::{FilterSpec, FilterValue};
use nfctd_table::wrapped_u32;

use super::Fault;

/// A call's parameters, with the method's name for messages.
#[derive(Debug)]
pub struct Params<'a> {
    method: &'static str,
    values: &'a [Value],
}

impl<'a> Params<'a> {
    /// Checks the count against `lo..=hi`.
    pub fn new(
        method: &'static str,
        values: &'a [Value],
        lo: usize,
        hi: usize,
    ) -> Result<Params<'a>, Fault> {
        let got = values.len();
        if got < lo || got > hi {
            let want = if lo == hi {
                lo.to_string()
            } else {
                format!("{lo} to {hi}")
            };
            return Err(Fault::params(format!(
                "{method} takes {want} parameters, got {got}"
            )));
        }
        Ok(Params { method, values })
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    pub fn value(&self, index: usize) -> Option<&'a Value> {
        self.values.get(index)
    }

    fn wrong(&self, index: usize, what: &str, want: &str) -> Fault {
        let got = self
            .values
            .get(index)
            .map(Value::type_name)
            .unwrap_or("nothing");
        Fault::params(format!(
            "{}: parameter {} ({what}) must be {want}, got {got}",
            self.method,
            index + 1
        ))
    }

    /// A string that must be there (a session id, a method name).
    pub fn str(&self, index: usize, what: &str) -> Result<&'a str, Fault> {
        match self.values.get(index) {
            Some(Value::Str(s)) => Ok(s),
            _ => Err(self.wrong(index, what, "a string")),
        }
    }

    /// The session id, always the first parameter.
    pub fn sid(&self) -> Result<&'a str, Fault> {
        self.str(0, "session id")
    }

    /// A string, with `<nil/>` meaning empty.
    pub fn opt_str(&self, index: usize, what: &str) -> Result<&'a str, Fault> {
        match self.values.get(index) {
            Some(Value::Str(s)) => Ok(s),
            Some(Value::Nil) | None => Ok(""),
            _ => Err(self.wrong(index, what, "a string")),
        }
    }

    /// An integer: `<int>`, `<i4>`, `<i8>` or a decimal string; `None` when
    /// not given (`<nil/>`, or an empty string: PHP sends null as `<string/>`).
    pub fn opt_int(&self, index: usize, what: &str) -> Result<Option<i64>, Fault> {
        match self.values.get(index) {
            Some(Value::Int(n)) => Ok(Some(*n)),
            Some(Value::Str(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::Str(s)) => decimal(s)
                .map(Some)
                .ok_or_else(|| ApiError::invalid(what, "not a decimal integer").into()),
            Some(Value::Nil) | None => Ok(None),
            _ => Err(self.wrong(index, what, "an int")),
        }
    }

    /// An integer that must be given.
    pub fn int(&self, index: usize, what: &str) -> Result<i64, Fault> {
        self.opt_int(index, what)?
            .ok_or_else(|| self.wrong(index, what, "an int"))
    }

    /// A connection id: an integer in any accepted form, wrapped negatives
    /// read as u32.
    pub fn id(&self, index: usize) -> Result<u32, Fault> {
        self.values
            .get(index)
            .map_or_else(|| Err(self.wrong(index, "id", "an int")), connection_id)
    }

    /// Connection ids: an array of ids, or one id alone.
    pub fn ids(&self, index: usize) -> Result<Vec<u32>, Fault> {
        match self.values.get(index) {
            Some(Value::Array(items)) => items.iter().map(connection_id).collect(),
            Some(single @ (Value::Int(_) | Value::Str(_))) => Ok(vec![connection_id(single)?]),
            _ => Err(self.wrong(index, "ids", "an array")),
        }
    }

    /// A boolean: `<boolean>`, or 0/1 as an int or a decimal string (pyctd).
    pub fn flag(&self, index: usize, what: &str) -> Result<bool, Fault> {
        if let Some(Value::Bool(b)) = self.values.get(index) {
            return Ok(*b);
        }
        match self.opt_int(index, what) {
            Ok(Some(0)) => Ok(false),
            Ok(Some(1)) => Ok(true),
            Ok(Some(n)) => Err(ApiError::invalid(what, format!("must be 0 or 1, got {n}")).into()),
            Ok(None) | Err(_) => Err(self.wrong(index, what, "an int or boolean")),
        }
    }

    /// A filter struct; `<nil/>`, an empty string or an empty array mean no
    /// filter (PHP cannot send an empty struct).
    pub fn filters(&self, index: usize) -> Result<FilterSpec, Fault> {
        match self.values.get(index) {
            Some(Value::Struct(members)) => Ok(members
                .iter()
                .map(|(k, v)| (k.as_str(), filter_value(v)))
                .collect()),
            Some(Value::Nil) | None => Ok(FilterSpec::none()),
            Some(Value::Str(s)) if s.trim().is_empty() => Ok(FilterSpec::none()),
            Some(Value::Array(items)) if items.is_empty() => Ok(FilterSpec::none()),
            _ => Err(self.wrong(index, "filters", "a struct")),
        }
    }
}

/// A decimal integer as text: digits with an optional sign, surrounding
/// blanks ignored.
fn decimal(text: &str) -> Option<i64> {
    text.trim().parse().ok()
}

fn connection_id(value: &Value) -> Result<u32, Fault> {
    let n = match value {
        Value::Int(n) => Some(*n),
        Value::Str(s) => decimal(s),
        other => {
            return Err(Fault::params(format!(
                "connection id must be an int or a decimal string, got {}",
                other.type_name()
            )))
        }
    };
    n.and_then(wrapped_u32::read).ok_or_else(|| {
        ApiError::invalid("id", "not a connection id (a decimal number 0..4294967295)").into()
    })
}

/// An XML-RPC value as a filter value: the wire's types mapped to the
/// filter's neutral ones.
fn filter_value(value: &Value) -> FilterValue {
    match value {
        Value::Nil => FilterValue::Absent,
        Value::Int(n) => FilterValue::Int(*n),
        Value::Double(d) => FilterValue::Number(*d),
        Value::Str(s) => FilterValue::Text(s.clone()),
        Value::Array(items) => FilterValue::List(items.iter().map(filter_value).collect()),
        other => FilterValue::Unsupported(other.type_name()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::xmlrpc::FaultCode;

    fn params(values: &[Value]) -> Params<'_> {
        Params::new("m", values, 0, 9).unwrap()
    }

    #[test]
    fn integers_in_every_form_and_nothing_as_none() {
        let v = [
            Value::Int(5),
            Value::str(" 12 "),
            Value::str(""),
            Value::Nil,
            Value::str("x"),
            Value::Bool(true),
        ];
        let p = params(&v);
        assert_eq!(p.opt_int(0, "start").unwrap(), Some(5));
        assert_eq!(p.opt_int(1, "start").unwrap(), Some(12));
        assert_eq!(p.opt_int(2, "start").unwrap(), None);
        assert_eq!(p.opt_int(3, "start").unwrap(), None);
        assert_eq!(p.opt_int(9, "start").unwrap(), None);
        let bad = p.opt_int(4, "start").unwrap_err();
        assert_eq!(bad.code, FaultCode::InvalidArgument);
        assert!(bad.message.contains("start"), "{bad:?}");
        assert_eq!(
            p.opt_int(5, "start").unwrap_err().code,
            FaultCode::BadParams
        );
    }

    #[test]
    fn ids_wrap_like_32_bit_clients_and_big_ones_are_range_checked() {
        let v = [
            Value::Int(-1_561_989_833),
            Value::str("2732977463"),
            Value::Int(4_294_967_296),
            Value::Array(vec![Value::Int(1), Value::str("-1")]),
        ];
        let p = params(&v);
        assert_eq!(p.id(0).unwrap(), 2_732_977_463);
        assert_eq!(p.id(1).unwrap(), 2_732_977_463);
        let e = p.id(2).unwrap_err();
        assert_eq!(e.code, FaultCode::InvalidArgument);
        assert!(e.message.contains("id"), "{e:?}");
        assert_eq!(p.ids(3).unwrap(), vec![1, u32::MAX]);
        assert_eq!(p.ids(0).unwrap(), vec![2_732_977_463]);
    }

    #[test]
    fn flags_take_booleans_ints_and_strings() {
        let v = [
            Value::Bool(false),
            Value::Int(1),
            Value::str("0"),
            Value::Int(2),
            Value::Double(1.0),
        ];
        let p = params(&v);
        assert!(!p.flag(0, "on").unwrap());
        assert!(p.flag(1, "on").unwrap());
        assert!(!p.flag(2, "on").unwrap());
        assert_eq!(
            p.flag(3, "on").unwrap_err().code,
            FaultCode::InvalidArgument
        );
        assert_eq!(p.flag(4, "on").unwrap_err().code, FaultCode::BadParams);
    }

    #[test]
    fn no_filters_in_every_form_php_and_others_send() {
        let v = [
            Value::Nil,
            Value::str(""),
            Value::Array(vec![]),
            Value::Struct(vec![]),
            Value::Array(vec![Value::Int(1)]),
            Value::Int(0),
        ];
        let p = params(&v);
        for (i, value) in v.iter().enumerate().take(4) {
            assert_eq!(p.filters(i).unwrap(), FilterSpec::none(), "{value:?}");
        }
        assert_eq!(p.filters(4).unwrap_err().code, FaultCode::BadParams);
        assert_eq!(p.filters(5).unwrap_err().code, FaultCode::BadParams);
    }

    #[test]
    fn filter_values_keep_their_kind_and_repeated_keys() {
        let v = [Value::Struct(vec![
            ("port".into(), Value::Int(80)),
            (
                "port".into(),
                Value::Array(vec![Value::str("1-9"), Value::Nil]),
            ),
            ("rate".into(), Value::Double(1.5)),
            ("proto".into(), Value::Bool(true)),
        ])];
        let spec = params(&v).filters(0).unwrap();
        assert_eq!(
            spec.terms,
            vec![
                ("port".to_string(), FilterValue::Int(80)),
                (
                    "port".to_string(),
                    FilterValue::List(vec![FilterValue::text("1-9"), FilterValue::Absent])
                ),
                ("rate".to_string(), FilterValue::Number(1.5)),
                ("proto".to_string(), FilterValue::Unsupported("boolean")),
            ]
        );
    }

    #[test]
    fn counts_are_checked() {
        let e = Params::new("view", &[], 6, 6).unwrap_err();
        assert_eq!(e.code, FaultCode::BadParams);
        assert_eq!(e.message, "view takes 6 parameters, got 0");
    }
}
