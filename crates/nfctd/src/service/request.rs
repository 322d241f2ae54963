//! The typed requests every front hands the service, with the range rules
//! that belong to the API rather than to any one wire format.

use nfctd_table::query::{FilterSpec, Order};
use nfctd_table::wrapped_u32;

use super::ApiError;

/// Login arguments: none (pyctd without an auth module), or a user and a
/// password.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    pub user: Option<String>,
    pub password: Option<String>,
}

impl std::fmt::Debug for Credentials {
    // The password never reaches a log line, even through a debug print.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "…"))
            .finish()
    }
}

/// Which rows of the matching ones a `view` returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRange {
    pub start: usize,
    /// 0 returns only the totals.
    pub length: usize,
}

impl PageRange {
    /// From the integers a client sent; `start` must be 0 or more, `length`
    /// is checked against `--max-page` by the service.
    pub fn new(start: i64, length: i64) -> Result<PageRange, ApiError> {
        let start = usize::try_from(start)
            .map_err(|_| ApiError::invalid("start", format!("must be 0 or more, got {start}")))?;
        let length = usize::try_from(length)
            .map_err(|_| ApiError::invalid("length", format!("must be 0 or more, got {length}")))?;
        Ok(PageRange { start, length })
    }
}

/// `view(sid, filters, order_by, order_dir, start, length)`.
#[derive(Debug, Clone)]
pub struct ViewRequest {
    pub filter: FilterSpec,
    pub order: Order,
    pub page: PageRange,
}

/// What `change` sets on a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    /// The connmark.
    Mark(u32),
    /// Seconds until the entry expires.
    Timeout(u32),
}

impl Setting {
    /// `change`'s `field_name` and `field_value`. A mark is an unsigned
    /// 32-bit quantity and may come wrapped ([`wrapped_u32`]); a timeout
    /// may not: -1 seconds is a mistake, not 136 years.
    pub fn new(field_name: &str, value: i64) -> Result<Setting, ApiError> {
        let out_of_range = || {
            ApiError::invalid(
                "field_value",
                format!("{value} is not a 32-bit unsigned value"),
            )
        };
        match field_name {
            "mark" => wrapped_u32::read(value)
                .map(Setting::Mark)
                .ok_or_else(out_of_range),
            "timeout" => u32::try_from(value)
                .map(Setting::Timeout)
                .map_err(|_| out_of_range()),
            other => Err(ApiError::invalid(
                "field_name",
                format!(
                    "{} cannot be changed (only mark and timeout)",
                    nfctd_table::clip::quoted(other)
                ),
            )),
        }
    }

    pub fn field_name(self) -> &'static str {
        match self {
            Setting::Mark(_) => "mark",
            Setting::Timeout(_) => "timeout",
        }
    }

    pub fn value(self) -> u32 {
        match self {
            Setting::Mark(v) | Setting::Timeout(v) => v,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn marks_wrap_and_timeouts_do_not() {
        assert_eq!(
            Setting::new("mark", -1_294_967_296).unwrap(),
            Setting::Mark(3_000_000_000)
        );
        assert_eq!(
            Setting::new("mark", 3_000_000_000).unwrap(),
            Setting::Mark(3_000_000_000)
        );
        assert!(Setting::new("mark", 1 << 32).is_err());
        assert_eq!(Setting::new("timeout", 30).unwrap(), Setting::Timeout(30));
        let e = Setting::new("timeout", -1).unwrap_err().to_string();
        assert!(e.contains("field_value"), "{e}");
        let e = Setting::new("zone\n", 1).unwrap_err().to_string();
        assert!(e.contains("field_name") && e.contains("\"zone?\""), "{e}");
    }

    #[test]
    fn pages_start_at_zero() {
        assert_eq!(
            PageRange::new(5, 0).unwrap(),
            PageRange {
                start: 5,
                length: 0
            }
        );
        assert!(PageRange::new(-1, 10)
            .unwrap_err()
            .to_string()
            .contains("start"));
        assert!(PageRange::new(0, -1)
            .unwrap_err()
            .to_string()
            .contains("length"));
    }

    #[test]
    fn passwords_stay_out_of_debug_output() {
        let c = Credentials {
            user: Some("alice".into()),
            password: Some("hunter2".into()),
        };
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
