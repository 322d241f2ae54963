//! Parsing one filter value into what it matches: sets of integers and ranges,
//! address prefixes, names, ids and rate ranges. Every error names the key.
//!
//! An absent value — `nil`, an empty (or blank) string or an empty array —
//! means "no constraint" for that key: pyctd clients built with Python's
//! `allow_none` send `None` for unset fields, and HTML forms send "" for empty
//! inputs. Callers that must refuse an empty filter (`kill_matching`) check
//! [`super::Filter::is_empty`], not the number of keys.

use std::net::{IpAddr, Ipv4Addr};

use super::{Cidr, FilterValue, QueryError};
use crate::clip::quoted;
use crate::wrapped_u32;

/// Whether a value means "no constraint".
fn is_absent(value: &FilterValue) -> bool {
    match value {
        FilterValue::Absent => true,
        FilterValue::Text(s) => s.trim().is_empty(),
        FilterValue::List(items) => items.is_empty(),
        _ => false,
    }
}

/// The items of a value: a list's elements, or the value itself.
fn items(value: &FilterValue) -> &[FilterValue] {
    match value {
        FilterValue::List(items) => items,
        single => std::slice::from_ref(single),
    }
}

/// Parses each item of a value (or nothing, for an absent value).
/// The most values one filter key may list: each is tried against every row,
/// so a longer list would turn one `view` into minutes of work.
pub(super) const MAX_VALUES: usize = 1024;

fn each<'v, T>(
    key: &str,
    value: &'v FilterValue,
    mut item: impl FnMut(&'v FilterValue) -> Result<T, QueryError>,
) -> Result<Option<Vec<T>>, QueryError> {
    if is_absent(value) {
        return Ok(None);
    }
    if let FilterValue::List(values) = value {
        if values.len() > MAX_VALUES {
            return Err(QueryError::filter(
                key,
                format!("at most {MAX_VALUES} values, got {}", values.len()),
            ));
        }
    }
    items(value)
        .iter()
        .map(&mut item)
        .collect::<Result<Vec<T>, _>>()
        .map(Some)
}

fn wrong_type(key: &str, expected: &str, got: &FilterValue) -> QueryError {
    QueryError::filter(key, format!("expected {expected}, got {}", got.type_name()))
}

/// One integer pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum IntPat {
    /// `lo..=hi`; one value is `n..=n`.
    Range { lo: u64, hi: u64 },
    /// `VALUE/MASK`: matches when `n & mask == value`, as iptables' connmark does.
    Masked { value: u64, mask: u64 },
}

impl IntPat {
    fn matches(self, n: u64) -> bool {
        match self {
            IntPat::Range { lo, hi } => lo <= n && n <= hi,
            IntPat::Masked { value, mask } => n & mask == value,
        }
    }
}

/// Integer patterns, any of which matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct IntSet(Vec<IntPat>);

impl IntSet {
    pub(super) fn contains(&self, n: u64) -> bool {
        self.0.iter().any(|p| p.matches(n))
    }
}

/// What an integer key takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct IntKind {
    pub(super) max: u64,
    /// `"VALUE/MASK"` is allowed (marks).
    pub(super) masks: bool,
    /// An unsigned 32-bit quantity: a negative 32-bit value is read as its
    /// two's complement ([`wrapped_u32`]), as 32-bit clients send it.
    pub(super) wraps: bool,
}

/// The integers of each unsigned width.
pub(super) const U8: IntKind = IntKind::upto(u8::MAX as u64);
pub(super) const U16: IntKind = IntKind::upto(u16::MAX as u64);
pub(super) const U32: IntKind = IntKind::upto(u32::MAX as u64);
pub(super) const U64: IntKind = IntKind::upto(u64::MAX);

/// Marks: u32s that 32-bit clients may send wrapped, also as `"VALUE/MASK"`.
pub(super) const MARK: IntKind = IntKind {
    max: u32::MAX as u64,
    masks: true,
    wraps: true,
};

impl IntKind {
    pub(super) const fn upto(max: u64) -> IntKind {
        IntKind {
            max,
            masks: false,
            wraps: false,
        }
    }
}

/// Integers up to `max`: an int, a decimal or `0x` hex string, `"LO-HI"`,
/// `"LO-"` (no upper bound), with `masks` also `"VALUE/MASK"`; or an array of those.
pub(super) fn ints(
    key: &str,
    value: &FilterValue,
    kind: IntKind,
) -> Result<Option<IntSet>, QueryError> {
    let expected = if kind.masks {
        "int, array of ints or \"LO-HI\"/\"VALUE/MASK\" string"
    } else {
        "int, array of ints or \"LO-HI\" string"
    };
    let parsed = each(key, value, |item| match item {
        FilterValue::Int(i) => {
            let n = int_in_range(key, *i, kind)?;
            Ok(IntPat::Range { lo: n, hi: n })
        }
        FilterValue::Text(s) => int_text(key, s, kind),
        other => Err(wrong_type(key, expected, other)),
    })?;
    Ok(parsed.map(IntSet))
}

fn int_in_range(key: &str, i: i64, kind: IntKind) -> Result<u64, QueryError> {
    let n = if kind.wraps {
        wrapped_u32::read(i).map(u64::from)
    } else {
        u64::try_from(i).ok()
    };
    let max = kind.max;
    n.filter(|n| *n <= max)
        .ok_or_else(|| QueryError::filter(key, format!("{i} is out of range (0..={max})")))
}

fn int_text(key: &str, text: &str, kind: IntKind) -> Result<IntPat, QueryError> {
    let IntKind { max, masks, wraps } = kind;
    let t = text.trim();
    if wraps {
        // A wrapped negative sent as a decimal string, as PHP forms do.
        if let Some(n) = t.strip_prefix('-').filter(|d| is_digits(d)) {
            let i = n.parse::<i64>().map(|n| -n).unwrap_or(i64::MIN);
            let n = int_in_range(key, i, kind)?;
            return Ok(IntPat::Range { lo: n, hi: n });
        }
    }
    if masks {
        if let Some((value, mask)) = t.split_once('/') {
            let value = number(key, value, max)?;
            let mask = number(key, mask, max)?;
            return Ok(IntPat::Masked { value, mask });
        }
    }
    match t.split_once('-') {
        None => {
            let n = number(key, t, max)?;
            Ok(IntPat::Range { lo: n, hi: n })
        }
        // "-5": a negative number, not a range with no start.
        Some((lo, _)) if lo.trim().is_empty() => Err(QueryError::filter(
            key,
            format!("{} is out of range (0..={max})", quoted(t)),
        )),
        Some((lo, hi)) => {
            let lo = number(key, lo, max)?;
            let hi = if hi.trim().is_empty() {
                max
            } else {
                number(key, hi, max)?
            };
            if lo > hi {
                return Err(QueryError::filter(
                    key,
                    format!("range {} is empty", quoted(text)),
                ));
            }
            Ok(IntPat::Range { lo, hi })
        }
    }
}

/// A decimal or `0x` hexadecimal number up to `max`.
fn number(key: &str, text: &str, max: u64) -> Result<u64, QueryError> {
    let t = text.trim();
    let (digits, radix) = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => (hex, 16),
        None => (t, 10),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(QueryError::filter(
            key,
            format!("{} is not a number", quoted(text)),
        ));
    }
    u64::from_str_radix(digits, radix)
        .ok()
        .filter(|n| *n <= max)
        .ok_or_else(|| {
            QueryError::filter(key, format!("{} is out of range (0..={max})", quoted(t)))
        })
}

/// Address prefixes: a string address or CIDR prefix, an int that is an IPv4
/// address (pyctd: 3232235521 is 192.168.0.1), or an array of those.
pub(super) fn addrs(key: &str, value: &FilterValue) -> Result<Option<Vec<Cidr>>, QueryError> {
    let from_int = |i: i64| {
        wrapped_u32::read(i)
            .map(|n| Cidr::host(IpAddr::V4(Ipv4Addr::from(n))))
            .ok_or_else(|| {
                QueryError::filter(key, format!("{i} is not an IPv4 address as an integer"))
            })
    };
    each(key, value, |item| match item {
        // An address always has a '.' or ':'; digits alone are an integer.
        FilterValue::Text(s) => match signed_decimal(s) {
            Some(i) => from_int(i),
            None => s
                .trim()
                .parse()
                .map_err(|e| QueryError::filter(key, format!("{} {e}", quoted(s)))),
        },
        FilterValue::Int(i) => from_int(*i),
        other => Err(wrong_type(
            key,
            "address or CIDR string, IPv4 address as int, or array",
            other,
        )),
    })
}

/// One name from a string key's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Name<'v> {
    Text(&'v str),
    Int(i64),
}

/// Names: a string or an array of strings; with `ints`, ints are taken too.
pub(super) fn names<'v>(
    key: &str,
    value: &'v FilterValue,
    ints: bool,
) -> Result<Option<Vec<Name<'v>>>, QueryError> {
    let expected = if ints {
        "string, int or array of them"
    } else {
        "string or array of strings"
    };
    each(key, value, |item| match item {
        FilterValue::Text(s) => Ok(Name::Text(s.trim())),
        FilterValue::Int(i) if ints => Ok(Name::Int(*i)),
        other => Err(wrong_type(key, expected, other)),
    })
}

/// Connection ids: an int, a decimal string, or an array of those; wrapped
/// negatives are read as u32 ([`wrapped_u32`]).
pub(super) fn ids(key: &str, value: &FilterValue) -> Result<Option<Vec<u32>>, QueryError> {
    let bad = |what: String| QueryError::filter(key, format!("{what} is not a connection id"));
    each(key, value, |item| match item {
        FilterValue::Int(i) => wrapped_u32::read(*i).ok_or_else(|| bad(i.to_string())),
        FilterValue::Text(s) => signed_decimal(s)
            .and_then(wrapped_u32::read)
            .ok_or_else(|| bad(quoted(s))),
        other => Err(wrong_type(key, "string, int or array of them", other)),
    })
}

/// Rate ranges (bytes per second): a double or int (exactly that), `"LO-HI"`,
/// `"LO-"`, a number as a string, or an array of those.
pub(super) fn rates(key: &str, value: &FilterValue) -> Result<Option<Vec<(f64, f64)>>, QueryError> {
    let expected = "double, int, \"LO-HI\" string or array of them";
    each(key, value, |item| match item {
        FilterValue::Number(d) if d.is_finite() => Ok((*d, *d)),
        // Rates are far below 2^53: the conversion is exact where it matters.
        FilterValue::Int(i) => Ok((*i as f64, *i as f64)),
        FilterValue::Text(s) => rate_text(key, s),
        other => Err(wrong_type(key, expected, other)),
    })
}

fn rate_text(key: &str, text: &str) -> Result<(f64, f64), QueryError> {
    let bad = || QueryError::filter(key, format!("{} is not a rate or \"LO-HI\"", quoted(text)));
    let num = |t: &str| {
        t.trim()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite() && *f >= 0.0)
            .ok_or_else(bad)
    };
    let t = text.trim();
    // The range dash is a '-' not part of an exponent ("1e-3").
    let dash = t
        .char_indices()
        .find(|&(i, c)| c == '-' && i > 0 && !t[..i].ends_with(['e', 'E']))
        .map(|(i, _)| i);
    let (lo, hi) = match dash {
        None => {
            let n = num(t)?;
            (n, n)
        }
        Some(i) => {
            let hi = &t[i + 1..];
            (
                num(&t[..i])?,
                if hi.trim().is_empty() {
                    f64::INFINITY
                } else {
                    num(hi)?
                },
            )
        }
    };
    if lo > hi {
        return Err(QueryError::filter(
            key,
            format!("range {} is empty", quoted(text)),
        ));
    }
    Ok((lo, hi))
}

fn is_digits(t: &str) -> bool {
    !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit())
}

/// A decimal integer written as digits with an optional leading `-` (no
/// `+`, no hex), within i64.
fn signed_decimal(text: &str) -> Option<i64> {
    let t = text.trim();
    let digits = t.strip_prefix('-').unwrap_or(t);
    if !is_digits(digits) {
        return None;
    }
    t.parse().ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn s(t: &str) -> FilterValue {
        FilterValue::text(t)
    }

    fn err<T: std::fmt::Debug>(r: Result<T, QueryError>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn absent_values_are_no_constraint() {
        for v in [
            FilterValue::Absent,
            s(""),
            s("  "),
            FilterValue::List(vec![]),
        ] {
            assert_eq!(ints("mark", &v, MARK).unwrap(), None);
            assert_eq!(addrs("addr", &v).unwrap(), None);
            assert_eq!(ids("id", &v).unwrap(), None);
            assert_eq!(rates("rate", &v).unwrap(), None);
            assert_eq!(names("proto", &v, true).unwrap(), None);
        }
    }

    #[test]
    fn int_forms() {
        let set = |v: FilterValue| ints("k", &v, MARK).unwrap().unwrap();
        assert!(set(FilterValue::Int(5)).contains(5));
        assert!(!set(FilterValue::Int(5)).contains(6));
        let r = set(s("10-20"));
        assert!(r.contains(10) && r.contains(20) && !r.contains(21) && !r.contains(9));
        assert!(set(s(" 7 ")).contains(7));
        assert!(set(s("0x10")).contains(16));
        let open = set(s("100-"));
        assert!(open.contains(u64::from(u32::MAX)) && !open.contains(99));
        // A mark of 3000000000 from a 32-bit client, as an int and as a string.
        assert!(set(FilterValue::Int(-1_294_967_296)).contains(3_000_000_000));
        assert!(set(s("-1294967296")).contains(3_000_000_000));
        let m = set(s("0x10/0xff"));
        assert!(m.contains(0x110) && !m.contains(0x11));
        assert!(set(s("16/255")).contains(0x310));
        let any = set(FilterValue::List(vec![FilterValue::Int(1), s("5-6")]));
        assert!(any.contains(1) && any.contains(6) && !any.contains(3));
    }

    #[test]
    fn int_errors() {
        let port = |v: FilterValue| err(ints("orig_sport", &v, IntKind::upto(65535)));
        assert_eq!(
            port(FilterValue::Int(70000)),
            "filter \"orig_sport\": 70000 is out of range (0..=65535)"
        );
        assert_eq!(
            port(FilterValue::Int(-1)),
            "filter \"orig_sport\": -1 is out of range (0..=65535)"
        );
        assert_eq!(
            port(s("70000")),
            "filter \"orig_sport\": \"70000\" is out of range (0..=65535)"
        );
        assert_eq!(
            port(s("abc")),
            "filter \"orig_sport\": \"abc\" is not a number"
        );
        assert_eq!(
            port(s("-5")),
            "filter \"orig_sport\": \"-5\" is out of range (0..=65535)"
        );
        assert_eq!(
            port(s("9-3")),
            "filter \"orig_sport\": range \"9-3\" is empty"
        );
        assert_eq!(
            port(s("1/2")),
            "filter \"orig_sport\": \"1/2\" is not a number"
        );
        assert_eq!(
            port(s("99999999999999999999999")),
            "filter \"orig_sport\": \"99999999999999999999999\" is out of range (0..=65535)"
        );
        assert_eq!(
            port(FilterValue::Unsupported("boolean")),
            "filter \"orig_sport\": expected int, array of ints or \"LO-HI\" string, got boolean"
        );
        assert_eq!(
            err(ints("mark", &FilterValue::Unsupported("struct"), MARK)),
            "filter \"mark\": expected int, array of ints or \"LO-HI\"/\"VALUE/MASK\" string, got struct"
        );
        assert!(port(FilterValue::List(vec![FilterValue::List(vec![
            FilterValue::Int(1)
        ])]))
        .ends_with("got array"));
        assert!(err(ints("mark", &s("0x1/0x1ffffffff"), MARK)).contains("out of range"));
    }

    #[test]
    fn addr_forms_and_errors() {
        let a = addrs("addr", &FilterValue::Int(3_232_235_521))
            .unwrap()
            .unwrap();
        assert_eq!(a, vec![Cidr::host("192.168.0.1".parse().unwrap())]);
        let a = addrs("addr", &FilterValue::List(vec![s("10.0.0.0/8"), s("::1")]))
            .unwrap()
            .unwrap();
        assert_eq!(a.len(), 2);
        assert_eq!(
            err(addrs("orig_src", &s("10.0.0/8"))),
            "filter \"orig_src\": \"10.0.0/8\" is not an address or CIDR prefix"
        );
        assert_eq!(
            err(addrs("orig_src", &s("10.0.0.0/40"))),
            "filter \"orig_src\": \"10.0.0.0/40\" has a prefix length out of range (0..=32)"
        );
        // ip2long() on a 32-bit PHP: 192.168.0.1 arrives as -1062731775.
        let wrapped = addrs("orig_src", &FilterValue::Int(-1_062_731_775));
        assert_eq!(
            wrapped.unwrap().unwrap(),
            vec![Cidr::host("192.168.0.1".parse().unwrap())]
        );
        let digits = addrs("orig_src", &FilterValue::text("3232235521"));
        assert_eq!(
            digits.unwrap().unwrap(),
            vec![Cidr::host("192.168.0.1".parse().unwrap())]
        );
        assert!(err(addrs("orig_src", &FilterValue::Int(-(1 << 31) - 1)))
            .contains("not an IPv4 address"));
        assert!(err(addrs("orig_src", &FilterValue::Int(1 << 32))).contains("not an IPv4 address"));
        assert!(err(addrs("orig_src", &FilterValue::Number(1.0))).ends_with("got double"));
    }

    #[test]
    fn id_forms_and_errors() {
        let v = FilterValue::List(vec![s("4294967295"), FilterValue::Int(7)]);
        assert_eq!(ids("id", &v).unwrap().unwrap(), vec![u32::MAX, 7]);
        assert!(err(ids("id", &s("4294967296"))).contains("is not a connection id"));
        assert!(err(ids("id", &s("+5"))).contains("is not a connection id"));
        assert_eq!(
            ids("id", &FilterValue::Int(-3)).unwrap().unwrap(),
            vec![u32::MAX - 2]
        );
        let php = FilterValue::text("-1561989833");
        assert_eq!(ids("id", &php).unwrap().unwrap(), vec![2_732_977_463]);
        assert!(
            err(ids("id", &FilterValue::Int(-(1 << 31) - 1))).contains("is not a connection id")
        );
        assert!(err(ids("id", &FilterValue::Unsupported("boolean"))).ends_with("got boolean"));
    }

    #[test]
    fn rate_forms_and_errors() {
        let r = |v: FilterValue| rates("rate", &v).unwrap().unwrap();
        assert_eq!(r(FilterValue::Number(2.5)), vec![(2.5, 2.5)]);
        assert_eq!(r(FilterValue::Int(3)), vec![(3.0, 3.0)]);
        assert_eq!(r(s("1.5-1e3")), vec![(1.5, 1000.0)]);
        assert_eq!(r(s("1e-3-2")), vec![(0.001, 2.0)]);
        assert_eq!(r(s("100-")), vec![(100.0, f64::INFINITY)]);
        assert_eq!(r(s("7")), vec![(7.0, 7.0)]);
        for bad in ["x", "nan", "inf-", "-5", "5-x"] {
            assert!(
                err(rates("rate", &s(bad))).contains("is not a rate"),
                "{bad}"
            );
        }
        assert!(err(rates("rate", &s("5-1"))).contains("is empty"));
        assert!(err(rates("rate", &FilterValue::Number(f64::NAN))).ends_with("got double"));
        assert!(err(rates("rate", &FilterValue::Unsupported("struct"))).ends_with("got struct"));
    }

    #[test]
    fn name_forms_and_errors() {
        let v = FilterValue::List(vec![s(" tcp "), FilterValue::Int(17)]);
        assert_eq!(
            names("proto", &v, true).unwrap().unwrap(),
            vec![Name::Text("tcp"), Name::Int(17)]
        );
        assert_eq!(
            err(names("state", &FilterValue::Int(3), false)),
            "filter \"state\": expected string or array of strings, got int"
        );
    }
}
