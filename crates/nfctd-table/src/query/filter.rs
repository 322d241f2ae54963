//! `Filter`: a `view` filter struct, validated once into a compiled matcher
//! whose tests (one per key, all ANDed) run over every row without allocating.

use std::net::IpAddr;

use ctnetlink::names::{proto_number, state_name, state_number, status_bit};
use ctnetlink::Family;

use super::pattern::{addrs, ids, ints, names, rates, IntKind, IntSet, Name, U16};
use super::q::Needle;
use super::reader::{AsAddr, AsInt, AsNumber, Reader};
use super::{Cidr, Context, Field, FilterSpec, FilterValue, QueryError};
use crate::clip::quoted;
use crate::Row;

/// Protocols with a state machine, whose state names a filter may use.
const STATEFUL: [u8; 3] = [6, 132, 33];

/// A compiled filter: every test must pass (the default filter matches every row).
#[derive(Debug, Clone, Default)]
pub struct Filter {
    tests: Vec<Test>,
}

/// How a key's filter values are read and tested (docs/filters.md); each
/// key declares its kind in field.rs. The kinds of values (ids, addresses,
/// integers, numbers) test the key's own reading; the kinds of names test
/// what their one key names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FilterKind {
    /// Connection ids: ints (wrapped negatives read as u32) or strings.
    Ids,
    /// Addresses and prefixes.
    Addrs,
    /// Integers within the kind's range.
    Ints(IntKind),
    /// Numbers and ranges of numbers.
    Numbers,
    /// `ipv4`, `ipv6`: the address family.
    Families,
    /// Protocol names or numbers.
    Protocols,
    /// State names of the protocols that have states.
    States,
    /// Status flag names: any of them set.
    StatusFlags,
    /// User names, or the uid of a user without one.
    Users,
}

/// One key's test.
#[derive(Debug, Clone)]
enum Test {
    /// Any of the listed address fields lies in any of the prefixes.
    Addr {
        fields: Vec<Reader<AsAddr>>,
        nets: Vec<Cidr>,
    },
    /// The integer field is in the set (`uid` without a uid mask: never).
    Int {
        field: Reader<AsInt>,
        set: IntSet,
    },
    /// Any of the four ports is in the set.
    Port(IntSet),
    /// The integer field is one of the ids.
    Id {
        field: Reader<AsInt>,
        ids: Vec<u32>,
    },
    Family(Vec<Family>),
    Proto(Vec<u8>),
    State(Vec<&'static str>),
    /// Any of these status bits is set.
    Status(u32),
    User(Vec<UserName>),
    /// The number field is in any of the ranges.
    Number {
        field: Reader<AsNumber>,
        ranges: Vec<(f64, f64)>,
    },
    Q(Needle),
}

/// A user the `user` key asks for: by name, or by the uid that renders when
/// the uid has no name.
#[derive(Debug, Clone)]
struct UserName {
    name: Box<str>,
    uid: Option<u32>,
}

const ADDR_FIELDS: [Field; 4] = [
    Field::OrigSrc,
    Field::OrigDst,
    Field::ReplSrc,
    Field::ReplDst,
];

impl Filter {
    /// Validates a filter (the language of docs/filters.md). Keys whose value is absent
    /// (nil, "" or an empty list) add no test; a key given twice adds two.
    pub fn compile(spec: &FilterSpec) -> Result<Filter, QueryError> {
        let mut tests = Vec::with_capacity(spec.terms.len());
        for (key, value) in &spec.terms {
            if let Some(test) = compile(key, value)? {
                tests.push(test);
            }
        }
        Ok(Filter { tests })
    }

    /// Whether this filter matches every row (no key constrained anything).
    pub fn is_empty(&self) -> bool {
        self.tests.is_empty()
    }

    /// Whether `row` passes every test of the filter at the context's moment.
    pub fn matches(&self, row: &Row, ctx: &Context) -> bool {
        self.tests.iter().all(|t| t.matches(row, ctx))
    }
}

fn compile(key: &str, value: &FilterValue) -> Result<Option<Test>, QueryError> {
    match key {
        "addr" => Ok(addrs(key, value)?.map(|nets| Test::Addr {
            fields: ADDR_FIELDS.into_iter().map(Reader::new).collect(),
            nets,
        })),
        "port" => Ok(ints(key, value, U16)?.map(Test::Port)),
        "q" => match value {
            FilterValue::Absent => Ok(None),
            FilterValue::Text(s) if s.trim().is_empty() => Ok(None),
            FilterValue::Text(s) => Ok(Some(Test::Q(Needle::new(s.trim())))),
            other => Err(QueryError::filter(
                key,
                format!("expected string, got {}", other.type_name()),
            )),
        },
        _ => {
            let field = Field::parse(key).ok_or_else(|| QueryError::filter(key, "unknown key"))?;
            compile_field(key, field, value)
        }
    }
}

fn compile_field(key: &str, field: Field, value: &FilterValue) -> Result<Option<Test>, QueryError> {
    match field.filter_kind() {
        FilterKind::Ids => Ok(ids(key, value)?.map(|ids| Test::Id {
            field: Reader::new(field),
            ids,
        })),
        FilterKind::Addrs => Ok(addrs(key, value)?.map(|nets| Test::Addr {
            fields: vec![Reader::new(field)],
            nets,
        })),
        FilterKind::Ints(kind) => Ok(ints(key, value, kind)?.map(|set| Test::Int {
            field: Reader::new(field),
            set,
        })),
        FilterKind::Numbers => Ok(rates(key, value)?.map(|ranges| Test::Number {
            field: Reader::new(field),
            ranges,
        })),
        FilterKind::Families => each_name(
            key,
            value,
            false,
            |name| match name {
                Name::Text(t) if t.eq_ignore_ascii_case("ipv4") => Some(Family::Ipv4),
                Name::Text(t) if t.eq_ignore_ascii_case("ipv6") => Some(Family::Ipv6),
                _ => None,
            },
            "family",
        )
        .map(|v| v.map(Test::Family)),
        FilterKind::Protocols => each_name(
            key,
            value,
            true,
            |name| match name {
                Name::Text(t) => proto_number(t),
                Name::Int(i) => u8::try_from(i).ok(),
            },
            "protocol",
        )
        .map(|v| v.map(Test::Proto)),
        FilterKind::States => each_name(
            key,
            value,
            false,
            |name| match name {
                Name::Text(t) => STATEFUL
                    .iter()
                    .find_map(|&p| state_number(p, t).map(|n| state_name(p, Some(n)))),
                Name::Int(_) => None,
            },
            "state",
        )
        .map(|v| v.map(Test::State)),
        FilterKind::StatusFlags => each_name(
            key,
            value,
            false,
            |name| match name {
                Name::Text(t) => status_bit(t),
                Name::Int(_) => None,
            },
            "status flag",
        )
        .map(|v| v.map(|bits| Test::Status(bits.iter().fold(0, |a, b| a | b)))),
        FilterKind::Users => Ok(names(key, value, false)?.map(|list| {
            let users = list.into_iter().filter_map(|n| match n {
                Name::Text(t) => Some(UserName {
                    name: t.into(),
                    uid: t.parse().ok(),
                }),
                Name::Int(_) => None,
            });
            Test::User(users.collect())
        })),
    }
}

/// Names looked up one by one; an unknown one is an error ("unknown protocol 'tcpx'").
fn each_name<T>(
    key: &str,
    value: &FilterValue,
    ints: bool,
    lookup: impl Fn(Name<'_>) -> Option<T>,
    what: &str,
) -> Result<Option<Vec<T>>, QueryError> {
    let Some(list) = names(key, value, ints)? else {
        return Ok(None);
    };
    list.into_iter()
        .map(|name| {
            lookup(name).ok_or_else(|| {
                let shown = match name {
                    Name::Text(t) => quoted(t),
                    Name::Int(i) => i.to_string(),
                };
                QueryError::filter(key, format!("unknown {what} {shown}"))
            })
        })
        .collect::<Result<Vec<T>, _>>()
        .map(Some)
}

impl Test {
    fn matches(&self, row: &Row, ctx: &Context) -> bool {
        match self {
            Test::Addr { fields, nets } => fields.iter().any(|f| {
                f.read(row, ctx)
                    .is_some_and(|a: IpAddr| nets.iter().any(|n| n.contains(&a)))
            }),
            Test::Int { field, set } => field.read(row, ctx).is_some_and(|n| set.contains(n)),
            Test::Port(set) => [
                row.orig_sport(),
                row.orig_dport(),
                row.repl_sport(),
                row.repl_dport(),
            ]
            .iter()
            .any(|p| set.contains(u64::from(*p))),
            Test::Id { field, ids } => field
                .read(row, ctx)
                .is_some_and(|n| ids.iter().any(|&id| u64::from(id) == n)),
            Test::Family(families) => families.contains(&row.family()),
            Test::Proto(protos) => protos.contains(&row.l4proto()),
            Test::State(states) => {
                let state = state_name(row.l4proto(), row.proto_state());
                !state.is_empty() && states.contains(&state)
            }
            Test::Status(bits) => row.status() & bits != 0,
            Test::User(users) => ctx.uid(row).is_some_and(|uid| match ctx.users.name(uid) {
                Some(name) => users.iter().any(|u| u.name.eq_ignore_ascii_case(&name)),
                None => users.iter().any(|u| u.uid == Some(uid)),
            }),
            Test::Number { field, ranges } => field
                .read(row, ctx)
                .is_some_and(|x| ranges.iter().any(|&(lo, hi)| lo <= x && x <= hi)),
            Test::Q(needle) => needle.matches(row, ctx),
        }
    }
}
