//! `Filter`: a `view` filter struct, validated once into a compiled matcher
//! whose tests (one per key, all ANDed) run over every row without allocating.

use std::net::IpAddr;

use ctnetlink::names::{proto_number, state_name, state_number, status_bit};
use ctnetlink::Family;

use super::extract::{addr, int};
use super::pattern::{addrs, ids, ints, names, rates, IntKind, IntSet, Name};
use super::q::Needle;
use super::{Cidr, Context, Field, FilterSpec, FilterValue, QueryError};
use crate::clip::quoted;
use crate::Row;

/// Protocols with a state machine, whose state names a filter may use.
const STATEFUL: [u8; 3] = [6, 132, 33];

const U16: u64 = u16::MAX as u64;
const U32: u64 = u32::MAX as u64;

/// A compiled filter: every test must pass (the default filter matches every row).
#[derive(Debug, Clone, Default)]
pub struct Filter {
    tests: Vec<Test>,
}

/// One key's test.
#[derive(Debug, Clone)]
enum Test {
    /// Any of the listed address fields lies in any of the prefixes.
    Addr {
        fields: &'static [Field],
        nets: Vec<Cidr>,
    },
    /// The integer field is in the set (`uid` without a uid mask: never).
    Int {
        field: Field,
        set: IntSet,
    },
    /// Any of the four ports is in the set.
    Port(IntSet),
    Id(Vec<u32>),
    Family(Vec<Family>),
    Proto(Vec<u8>),
    State(Vec<&'static str>),
    /// Any of these status bits is set.
    Status(u32),
    User(Vec<UserName>),
    Rate(Vec<(f64, f64)>),
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

    pub fn matches(&self, row: &Row, ctx: &Context) -> bool {
        self.tests.iter().all(|t| t.matches(row, ctx))
    }
}

fn compile(key: &str, value: &FilterValue) -> Result<Option<Test>, QueryError> {
    match key {
        "addr" => Ok(addrs(key, value)?.map(|nets| Test::Addr {
            fields: &ADDR_FIELDS,
            nets,
        })),
        "port" => Ok(ints(key, value, IntKind::upto(U16))?.map(Test::Port)),
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
    let int_test = |kind: IntKind| -> Result<Option<Test>, QueryError> {
        Ok(ints(key, value, kind)?.map(|set| Test::Int { field, set }))
    };
    match field {
        Field::Id => Ok(ids(key, value)?.map(Test::Id)),
        Field::OrigSrc | Field::OrigDst | Field::ReplSrc | Field::ReplDst => {
            let fields = ADDR_FIELDS
                .iter()
                .position(|f| *f == field)
                .map_or(&ADDR_FIELDS[..0], |i| &ADDR_FIELDS[i..=i]);
            Ok(addrs(key, value)?.map(|nets| Test::Addr { fields, nets }))
        }
        Field::L4proto => int_test(IntKind::upto(u64::from(u8::MAX))),
        Field::OrigSport | Field::OrigDport | Field::ReplSport | Field::ReplDport | Field::Zone => {
            int_test(IntKind::upto(U16))
        }
        Field::Mark => int_test(IntKind {
            max: U32,
            masks: true,
            wraps: true,
        }),
        Field::Timeout | Field::Uid => int_test(IntKind::upto(U32)),
        Field::OrigBytes
        | Field::OrigPackets
        | Field::ReplBytes
        | Field::ReplPackets
        | Field::Age => int_test(IntKind::upto(u64::MAX)),
        Field::Rate => Ok(rates(key, value)?.map(Test::Rate)),
        Field::Family => each_name(
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
        Field::Proto => each_name(
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
        Field::State => each_name(
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
        Field::Status => each_name(
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
        Field::User => Ok(names(key, value, false)?.map(|list| {
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
        let conn = &row.conn;
        match self {
            Test::Addr { fields, nets } => fields.iter().any(|&f| {
                addr(f, row).is_some_and(|a: IpAddr| nets.iter().any(|n| n.contains(&a)))
            }),
            Test::Int { field, set } => int(*field, row, ctx).is_some_and(|n| set.contains(n)),
            Test::Port(set) => [
                conn.orig.sport,
                conn.orig.dport,
                conn.reply.sport,
                conn.reply.dport,
            ]
            .iter()
            .any(|p| set.contains(u64::from(*p))),
            Test::Id(ids) => ids.contains(&conn.id),
            Test::Family(families) => families.contains(&conn.family),
            Test::Proto(protos) => protos.contains(&conn.l4proto),
            Test::State(states) => {
                let state = state_name(conn.l4proto, conn.proto_state);
                !state.is_empty() && states.contains(&state)
            }
            Test::Status(bits) => conn.status & bits != 0,
            Test::User(users) => ctx.uid(row).is_some_and(|uid| match ctx.users.name(uid) {
                Some(name) => users.iter().any(|u| u.name.eq_ignore_ascii_case(&name)),
                None => users.iter().any(|u| u.uid == Some(uid)),
            }),
            Test::Rate(ranges) => ranges
                .iter()
                .any(|&(lo, hi)| lo <= row.rate && row.rate <= hi),
            Test::Q(needle) => needle.matches(row, ctx),
        }
    }
}
