//! Tests that every declared key (field.rs) works everywhere a key is used:
//! it filters, it sorts, and it is in the rendered `Connection`.

use std::cmp::Ordering;
use std::sync::Arc;

use super::testutil::{counted, snapshot, tcp, v6_udp, NOW, NOW_UNIX};
use super::{render, run, Context, Field, Filter, FilterSpec, FilterValue, Order, Shown};
use crate::Row;

/// Two rows that differ in every key, uid and user included (with the mask
/// of `ctx`): an IPv4 TCP connection of alice, and an IPv6 UDP one of a uid
/// without a name.
fn rows() -> (Row, Row) {
    let mut a = counted(tcp(1, "192.0.2.1", 40000, "198.51.100.1", 80), 100, 200);
    a.edit(|c| c.mark = (1000 << 16) | 5);
    a.edit(|c| c.zone = 3);
    a.set_rate(1.5);
    a.set_deadline(NOW + 30_000);
    let mut b = v6_udp(2, "2001:db8::1", 53, "2001:db8::2", 5353);
    b.edit(|c| c.mark = 1001 << 16);
    b.set_started_unix(NOW_UNIX - 10);
    (a, b)
}

fn alice(uid: u32) -> Option<Arc<str>> {
    (uid == 1000).then(|| Arc::from("alice"))
}

fn ctx() -> Context<'static> {
    Context::new(NOW, NOW_UNIX).with_users(0xffff_0000, &alice)
}

/// A filter value that names `shown`: the value itself, or the first of a set.
fn naming(shown: Shown<'_>) -> FilterValue {
    match shown {
        Shown::Id(id) => FilterValue::Int(i64::from(id)),
        Shown::Int(n) => FilterValue::Int(i64::try_from(n).unwrap()),
        Shown::Number(x) => FilterValue::Number(x),
        Shown::Text(t) => FilterValue::text(t),
        Shown::Addr(a) => FilterValue::text(a.to_string()),
        Shown::Texts(names) => FilterValue::text(names[0]),
    }
}

#[test]
fn every_key_is_rendered_in_order() {
    let (a, _) = rows();
    let keys: Vec<Field> = render(&a, &ctx()).shown().map(|(f, _)| f).collect();
    assert_eq!(keys, Field::ALL);
    let without_mask = Context::new(NOW, NOW_UNIX);
    let keys: Vec<Field> = render(&a, &without_mask).shown().map(|(f, _)| f).collect();
    let unmasked: Vec<Field> = Field::ALL
        .into_iter()
        .filter(|f| !f.needs_uid_mask())
        .collect();
    assert_eq!(keys, unmasked);
}

#[test]
fn every_key_filters_by_its_rendered_value() {
    let (a, b) = rows();
    let ctx = ctx();
    let shown = render(&a, &ctx);
    for (field, value) in shown.shown() {
        let spec: FilterSpec = [(field.name(), naming(value))].into_iter().collect();
        let filter = Filter::compile(&spec).unwrap_or_else(|e| panic!("{spec:?}: {e}"));
        assert!(!filter.is_empty(), "{spec:?}");
        assert!(filter.matches(&a, &ctx), "{spec:?} misses its own row");
        assert!(!filter.matches(&b, &ctx), "{spec:?} matches the other row");
    }
}

#[test]
fn every_key_sorts_both_ways() {
    let (a, b) = rows();
    let ctx = ctx();
    let table = snapshot(vec![a, b]);
    let (a, b) = (table.get(0).unwrap(), table.get(1).unwrap());
    for field in Field::ALL {
        let ascending = match field.datum(a, &ctx).compare(&field.datum(b, &ctx)) {
            Ordering::Less => [a.id(), b.id()],
            Ordering::Greater => [b.id(), a.id()],
            Ordering::Equal => panic!("{}: the rows tie", field.name()),
        };
        for descending in [false, true] {
            let order = Order { field, descending };
            let page = run(&table, &Filter::default(), &order, 0, 10, &ctx);
            let got: Vec<u32> = page.rows.iter().map(|r| r.id()).collect();
            let mut want = ascending.to_vec();
            if descending {
                want.reverse();
            }
            assert_eq!(got, want, "{order:?}");
        }
    }
}
