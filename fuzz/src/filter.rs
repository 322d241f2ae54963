//! Target `filter`: a `FilterSpec` built from the bytes with `arbitrary`'s
//! `Unstructured` (keys mostly from the real ones, values of every kind,
//! text mostly from pieces of the filter language), compiled with
//! `Filter::compile`; a filter that compiles is run over a fixed table with
//! an order and a page from the bytes (see `table::check_query`). A refusal
//! must name the problem briefly, without control characters.

use std::sync::OnceLock;

use arbitrary::{Result, Unstructured};
use nfctd_table::query::{Field, Filter, FilterSpec, FilterValue, Order};

use crate::table::{check_query, context};

/// Filter keys: every key nfctd-table declares, pyctd's aliases, then the
/// filter keys that are no connection key, and near misses.
fn keys() -> &'static [&'static str] {
    static KEYS: OnceLock<Vec<&'static str>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let declared = Field::ALL.iter().map(|f| f.name());
        let aliases = Field::ALIASES.iter().map(|(alias, _)| *alias);
        let others = ["addr", "port", "q", "ID", "", " port", "src"];
        declared.chain(aliases).chain(others).collect()
    })
}

/// Pieces of filter values.
const WORDS: &[&str] = &[
    "0",
    "1",
    "-1",
    "80",
    "443",
    "65535",
    "65536",
    "4294967295",
    "4294967296",
    "-2147483648",
    "18446744073709551615",
    "18446744073709551616",
    "0x",
    "0x10",
    "0xFF",
    "0xffffffff",
    "7",
    "1-9",
    "9-1",
    "5-",
    "-5",
    "--",
    "1e-3",
    "1.5",
    "nan",
    "inf",
    "-inf",
    "1e400",
    ".",
    "10.0.0.1",
    "192.0.2.0/24",
    "198.51.100.2",
    "203.0.113.9/32",
    "0.0.0.0/0",
    "10.0.0.0/33",
    "::/0",
    "2001:db8::/32",
    "2001:db8::1",
    "::ffff:192.0.2.1",
    "fe80::1%eth0",
    "/",
    "/8",
    "tcp",
    "TCP",
    "udp",
    "icmp",
    "ipv6-icmp",
    "icmpv6",
    "sctp",
    "gre",
    "ipv4",
    "IPv6",
    "ESTABLISHED",
    "established",
    "TIME_WAIT",
    "SYN_SENT",
    "CLOSE",
    "COOKIE_WAIT",
    "ASSURED",
    "SEEN_REPLY",
    "CONFIRMED",
    "DYING",
    "root",
    "alice",
    "bob",
    "1000",
    "*",
    " ",
    "\t",
    "\n",
    "\"",
    "é",
    "\u{0}",
    "\u{7f}",
    "\u{202e}",
    ":",
    ",",
    "!",
];

const UNSUPPORTED: &[&str] = &["struct", "boolean", "base64", "dateTime.iso8601"];

/// Integers worth trying.
const INTS: &[i64] = &[
    0,
    1,
    -1,
    6,
    17,
    80,
    443,
    1000,
    65535,
    65536,
    4_294_967_295,
    4_294_967_296,
    -2_147_483_648,
    3_221_225_985,
    i64::MAX,
    i64::MIN,
];

pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok((spec, order, start, length, with_users)) = input(&mut u) else {
        return;
    };
    match Filter::compile(&spec) {
        Ok(filter) => check_query(&filter, &order, start, length, &context(with_users)),
        Err(e) => {
            let message = e.to_string();
            assert!(message.chars().count() <= 300, "long error: {message:?}");
            assert!(
                !message.chars().any(char::is_control),
                "control character in error: {message:?}"
            );
        }
    }
}

type Input = (FilterSpec, Order, usize, usize, bool);

fn input(u: &mut Unstructured<'_>) -> Result<Input> {
    let terms = u.int_in_range(0..=4)?;
    let mut spec = FilterSpec::none();
    for _ in 0..terms {
        let key = if u.ratio(1, 8)? {
            u.arbitrary::<String>()?
        } else {
            (*u.choose(keys())?).to_string()
        };
        spec.terms.push((key, value(u, 0)?));
    }
    let order = Order {
        field: *u.choose(&Field::ALL)?,
        descending: u.arbitrary()?,
    };
    let start = u.int_in_range(0..=60)?;
    let length = match u.int_in_range(0..=3)? {
        0 => 0,
        1 => usize::MAX,
        _ => u.int_in_range(1..=60)?,
    };
    Ok((spec, order, start, length, u.arbitrary()?))
}

fn value(u: &mut Unstructured<'_>, depth: usize) -> Result<FilterValue> {
    // Lists nest twice at most; a list around the limit only at the top.
    let most = match depth {
        0 => 9,
        1 => 8,
        _ => 6,
    };
    Ok(match u.int_in_range(0..=most)? {
        0 => FilterValue::Absent,
        1 => FilterValue::Int(if u.arbitrary()? {
            *u.choose(INTS)?
        } else {
            u.arbitrary()?
        }),
        2 => FilterValue::Number(u.arbitrary()?),
        3 => FilterValue::Unsupported(u.choose(UNSUPPORTED)?),
        4 => FilterValue::Text(u.arbitrary()?),
        5 | 6 => FilterValue::Text(text(u)?),
        7 | 8 => {
            let n = u.int_in_range(0..=5)?;
            FilterValue::List((0..n).map(|_| value(u, depth + 1)).collect::<Result<_>>()?)
        }
        _ => {
            // Around the limit of values one key may list.
            let n = u.int_in_range(1020..=1030)?;
            let item = value(u, 2)?;
            FilterValue::List(vec![item; n])
        }
    })
}

/// One to three words, joined by nothing or by a separator.
fn text(u: &mut Unstructured<'_>) -> Result<String> {
    let mut s = String::new();
    for i in 0..u.int_in_range(1..=3)? {
        if i > 0 {
            s.push_str(u.choose(&["", "-", "/", " ", ",", "."])?);
        }
        s.push_str(u.choose(WORDS)?);
    }
    Ok(s)
}
