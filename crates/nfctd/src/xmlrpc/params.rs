//! Reading a call's positional parameters: counts and types checked with
//! -32602 faults that say which parameter, connection ids in every accepted
//! form.

use crate::service::ApiError;
use crate::value::Value;

use super::dispatch::Fault;

/// A -32602 fault: wrong number or types of parameters.
pub(super) fn params_fault(message: String) -> Fault {
    Fault {
        code: -32602,
        message,
    }
}

/// A connection id: `<int>`, `<i8>` or a decimal string, within u32.
pub(super) fn connection_id(value: &Value) -> Result<u32, Fault> {
    let parsed = match value {
        Value::Int(n) => u32::try_from(*n).ok(),
        Value::Str(s) => s.trim().parse::<u32>().ok(),
        other => {
            return Err(params_fault(format!(
                "connection id must be an int or a decimal string, got {}",
                other.type_name()
            )))
        }
    };
    parsed.ok_or_else(|| {
        ApiError::invalid("id", "not a connection id (a decimal number 0..4294967295)").into()
    })
}

/// Positional parameter access with -32602 faults that say which parameter.
pub(super) struct Params<'a> {
    pub(super) method: &'static str,
    pub(super) values: &'a [Value],
}

impl<'a> Params<'a> {
    pub(super) fn count(&self, n: usize) -> Result<(), Fault> {
        self.between(n, n)
    }

    pub(super) fn between(&self, lo: usize, hi: usize) -> Result<(), Fault> {
        let got = self.values.len();
        if got < lo || got > hi {
            let want = if lo == hi {
                lo.to_string()
            } else {
                format!("{lo} to {hi}")
            };
            return Err(params_fault(format!(
                "{} takes {want} parameters, got {got}",
                self.method
            )));
        }
        Ok(())
    }

    pub(super) fn wrong(&self, index: usize, what: &str, want: &str) -> Fault {
        let got = self
            .values
            .get(index)
            .map(Value::type_name)
            .unwrap_or("nothing");
        params_fault(format!(
            "{}: parameter {} ({what}) must be {want}, got {got}",
            self.method,
            index + 1
        ))
    }

    pub(super) fn str(&self, index: usize, what: &str) -> Result<&'a str, Fault> {
        match self.values.get(index) {
            Some(Value::Str(s)) => Ok(s),
            _ => Err(self.wrong(index, what, "a string")),
        }
    }

    /// A string, with `<nil/>` meaning empty.
    pub(super) fn opt_str(&self, index: usize, what: &str) -> Result<&'a str, Fault> {
        match self.values.get(index) {
            Some(Value::Str(s)) => Ok(s),
            Some(Value::Nil) => Ok(""),
            _ => Err(self.wrong(index, what, "a string")),
        }
    }

    /// An int, with `<nil/>` meaning 0.
    pub(super) fn opt_int(&self, index: usize, what: &str) -> Result<i64, Fault> {
        match self.values.get(index) {
            Some(Value::Int(n)) => Ok(*n),
            Some(Value::Nil) => Ok(0),
            _ => Err(self.wrong(index, what, "an int")),
        }
    }

    /// The filters struct; `<nil/>` means no filter.
    pub(super) fn filters(&self, index: usize) -> Result<&'a [(String, Value)], Fault> {
        match self.values.get(index) {
            Some(Value::Struct(members)) => Ok(members),
            Some(Value::Nil) => Ok(&[]),
            _ => Err(self.wrong(index, "filters", "a struct")),
        }
    }
}

pub(super) fn clip(text: &str) -> String {
    text.chars().take(64).collect()
}
