//! Tests of `Order` and `run`: key orders, tie-breaking by id, and pages that
//! tile the sorted result exactly.

use proptest::prelude::*;

use super::testutil::{counted, icmp, row, snapshot, tcp, v6_udp, NOW, NOW_UNIX};
use super::FilterValue;
use super::{run, Context, Field, Filter, Order, QueryError};
use crate::{Row, Snapshot};

fn ctx() -> Context<'static> {
    Context::new(NOW, NOW_UNIX)
}

fn ids(snap: &Snapshot, order: &Order, start: usize, length: usize) -> Vec<u32> {
    run(snap, &Filter::default(), order, start, length, &ctx())
        .rows
        .iter()
        .map(|r| r.id())
        .collect()
}

fn order(by: &str, dir: &str) -> Order {
    Order::parse(by, dir).unwrap()
}

#[test]
fn parse_order() {
    assert_eq!(
        Order::parse("", "").unwrap(),
        Order {
            field: Field::Id,
            descending: false
        }
    );
    assert_eq!(
        Order::parse("rate", "desc").unwrap(),
        Order {
            field: Field::Rate,
            descending: true
        }
    );
    assert_eq!(order("orig_ipv4_src", "Asc").field, Field::OrigSrc);
    assert_eq!(order("orig_port_dst", "DESC").field, Field::OrigDport);
    assert_eq!(order("orig_l4proto", "").field, Field::L4proto);
    assert_eq!(Order::default(), order("", ""));
    assert_eq!(
        Order::parse("colour", "").unwrap_err().to_string(),
        "order_by: unknown key \"colour\""
    );
    assert_eq!(
        Order::parse("id", "down").unwrap_err().to_string(),
        "order_dir: expected ASC or DESC, got \"down\""
    );
    assert!(
        matches!(Order::parse("id", &"x".repeat(500)), Err(QueryError::OrderDir(s)) if s.len() < 80)
    );
}

/// Rows with many ties on every key, so that tie-breaking shows.
fn varied() -> Vec<Row> {
    let mut rows = vec![
        tcp(50, "10.0.0.2", 1000, "10.0.0.1", 80),
        tcp(7, "10.0.0.10", 1000, "10.0.0.1", 443),
        v6_udp(30, "2001:db8::1", 53, "::1", 53),
        icmp(9, "9.9.9.9", "10.0.0.1"),
        tcp(4_000_000_000, "10.0.0.2", 999, "10.0.0.1", 80),
        row(12, 132, "10.0.0.3", 5, "10.0.0.1", 5),
        counted(tcp(1, "10.0.0.2", 1000, "10.0.0.1", 22), 10, 10),
    ];
    rows[2].set_rate(5.0);
    rows[3].set_rate(0.5);
    rows[5].edit(|c| c.proto_state = Some(4));
    rows
}

#[test]
fn sorts_by_keys_with_ties_by_id() {
    let snap = snapshot(varied());
    let all = |by: &str, dir: &str| ids(&snap, &order(by, dir), 0, 100);
    assert_eq!(all("", ""), [1, 7, 9, 12, 30, 50, 4_000_000_000]);
    assert_eq!(all("id", "desc"), [4_000_000_000, 50, 30, 12, 9, 7, 1]);
    // Numeric address order: 10.0.0.2 < 10.0.0.3 < 10.0.0.10, IPv4 before IPv6.
    assert_eq!(all("orig_src", "asc"), [9, 1, 50, 4_000_000_000, 12, 7, 30]);
    assert_eq!(
        all("orig_src", "desc"),
        [30, 7, 12, 1, 50, 4_000_000_000, 9]
    );
    assert_eq!(all("orig_sport", ""), [9, 12, 30, 4_000_000_000, 1, 7, 50]);
    assert_eq!(
        all("orig_port_src", "DESC"),
        [1, 7, 50, 4_000_000_000, 30, 12, 9]
    );
    // Protocol names: icmp < sctp < tcp < udp.
    assert_eq!(all("proto", ""), [9, 12, 1, 7, 50, 4_000_000_000, 30]);
    assert_eq!(all("l4proto", "desc"), [12, 30, 1, 7, 50, 4_000_000_000, 9]);
    // States: "" < ESTABLISHED (tcp) = ESTABLISHED (sctp) ...
    assert_eq!(all("state", ""), [9, 30, 1, 7, 12, 50, 4_000_000_000]);
    assert_eq!(all("rate", "desc"), [30, 9, 1, 7, 12, 50, 4_000_000_000]);
    assert_eq!(
        all("orig_bytes", "desc"),
        [1, 7, 9, 12, 30, 50, 4_000_000_000]
    );
    assert_eq!(all("family", "desc"), [30, 1, 7, 9, 12, 50, 4_000_000_000]);
    assert_eq!(all("status", ""), [9, 12, 30, 1, 7, 50, 4_000_000_000]);
    assert_eq!(all("timeout", ""), all("id", ""));
    assert_eq!(all("uid", "desc"), all("id", ""));
}

#[test]
fn sorts_users_by_rendered_name() {
    let mut rows = varied();
    for (i, r) in rows.iter_mut().enumerate() {
        r.edit(|c| c.mark = u32::try_from(i % 3).unwrap());
    }
    let snap = snapshot(rows);
    let names = |uid: u32| match uid {
        1 => Some("zed".into()),
        2 => Some("Bob".into()),
        _ => None,
    };
    let c = ctx().with_users(u32::MAX, &names);
    let page = run(&snap, &Filter::default(), &order("user", ""), 0, 10, &c);
    let got: Vec<u32> = page.rows.iter().map(|r| r.id()).collect();
    // "0" (unnamed uid 0: ids 50, 9, 1) < "Bob" (30, 12) < "zed" (7, 4e9).
    assert_eq!(got, [1, 9, 50, 12, 30, 7, 4_000_000_000]);
}

#[test]
fn paging_edges() {
    let snap = snapshot(varied());
    let o = order("", "");
    let page = run(&snap, &Filter::default(), &o, 0, 0, &ctx());
    assert_eq!((page.total, page.rows.len()), (7, 0));
    let page = run(&snap, &Filter::default(), &o, 7, 5, &ctx());
    assert_eq!((page.total, page.rows.len()), (7, 0));
    let page = run(
        &snap,
        &Filter::default(),
        &o,
        usize::MAX,
        usize::MAX,
        &ctx(),
    );
    assert_eq!((page.total, page.rows.len()), (7, 0));
    assert_eq!(ids(&snap, &o, 5, usize::MAX), [50, 4_000_000_000]);
    assert_eq!(ids(&snap, &o, 2, 2), [9, 12]);
    let tcp_only =
        Filter::compile(&[("proto", FilterValue::text("tcp"))].into_iter().collect()).unwrap();
    let page = run(&snap, &tcp_only, &order("orig_sport", "desc"), 1, 2, &ctx());
    assert_eq!(page.total, 4);
    assert_eq!(
        page.rows.iter().map(|r| r.id()).collect::<Vec<_>>(),
        [7, 50]
    );
    assert_eq!(
        run(&Snapshot::empty(), &Filter::default(), &o, 0, 10, &ctx()).total,
        0
    );
}

/// 100 rows with heavy ties (ports mod 5, four addresses, three protocols).
fn hundred() -> Vec<Row> {
    (0..100u32)
        .map(|i| {
            let id = (i * 7919) % 1000 + 1;
            let src = format!("10.0.{}.{}", i % 2, i % 4);
            let port = u16::try_from(i % 5).unwrap();
            let mut r = match i % 3 {
                0 => tcp(id, &src, port, "10.9.9.9", 80),
                1 => row(id, 17, &src, port, "10.9.9.9", 53),
                _ => icmp(id, &src, "10.9.9.9"),
            };
            r.set_rate(f64::from(i % 6));
            r
        })
        .collect()
}

#[test]
fn pages_of_seven_tile_the_table() {
    let snap = snapshot(hundred());
    for (by, dir) in [
        ("", ""),
        ("id", "desc"),
        ("orig_src", "asc"),
        ("orig_sport", "desc"),
        ("proto", ""),
        ("rate", "DESC"),
        ("state", ""),
    ] {
        let o = order(by, dir);
        let full = ids(&snap, &o, 0, 1000);
        assert_eq!(full.len(), 100);
        let mut tiled = Vec::new();
        let mut start = 0;
        while start < 100 {
            let page = run(&snap, &Filter::default(), &o, start, 7, &ctx());
            assert_eq!(page.total, 100);
            tiled.extend(page.rows.iter().map(|r| r.id()));
            start += 7;
        }
        assert_eq!(tiled, full, "order {by} {dir}");
        let mut unique = full.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), 100);
    }
}

fn arb_row() -> impl Strategy<Value = Row> {
    (0u8..4, 0u8..3, 0u16..4, 0u8..4, 0u32..3).prop_map(|(a, p, port, r, mark)| {
        let src = if a == 3 {
            "2001:db8::1".to_owned()
        } else {
            format!("10.0.0.{a}")
        };
        let dst = if a == 3 { "2001:db8::2" } else { "10.0.0.9" };
        let mut row = match p {
            0 => tcp(0, &src, port, dst, 80),
            1 => row(0, 17, &src, port, dst, 53),
            _ => icmp(0, &src, dst),
        };
        row.set_rate(f64::from(r));
        row.edit(|c| c.mark = mark);
        row
    })
}

proptest! {
    #[test]
    fn pages_concatenate_to_the_sorted_list(
        mut rows in prop::collection::vec(arb_row(), 0..60),
        field in 0..Field::ALL.len(),
        descending in any::<bool>(),
        size in 1usize..12,
        mark_filter in any::<bool>(),
    ) {
        for (i, r) in rows.iter_mut().enumerate() {
            r.edit(|c| c.id = u32::try_from(i * 37 % 61).unwrap() * 1000 + u32::try_from(i).unwrap());
        }
        let snap = snapshot(rows);
        let o = Order { field: Field::ALL[field], descending };
        let names = |uid: u32| (uid == 1).then(|| "one".into());
        let c = ctx().with_users(0xff, &names);
        let filter = if mark_filter {
            Filter::compile(&[("mark", FilterValue::text("0-1"))].into_iter().collect()).unwrap()
        } else {
            Filter::default()
        };
        let full = run(&snap, &filter, &o, 0, usize::MAX, &c);
        // The full list is sorted: key order, then id.
        for w in full.rows.windows(2) {
            let (a, b) = (&w[0], &w[1]);
            let ka = o.field.datum(a, &c);
            let kb = o.field.datum(b, &c);
            let by = if o.descending { kb.compare(&ka) } else { ka.compare(&kb) };
            prop_assert!(by.then(a.id().cmp(&b.id())).is_lt());
        }
        let mut paged = Vec::new();
        let mut start = 0;
        loop {
            let page = run(&snap, &filter, &o, start, size, &c);
            prop_assert_eq!(page.total, full.total);
            if page.rows.is_empty() { break; }
            paged.extend(page.rows);
            start += size;
        }
        let full_ids: Vec<u32> = full.rows.iter().map(|r| r.id()).collect();
        let paged_ids: Vec<u32> = paged.iter().map(|r| r.id()).collect();
        prop_assert_eq!(paged_ids, full_ids);
    }
}

/// The page that the parallel top-k selection returns is the slice
/// of a plain full sort (by `Datum`, ties by id), on random tables full of
/// ties, for every key, both directions, any page and any number of threads.
fn arb_wide_row() -> impl Strategy<Value = Row> {
    (
        (0u8..6, 0u8..4, 0u16..3, 0u8..5),
        (0u32..4, 0u64..3, 0u64..200_000, 0u32..3),
    )
        .prop_map(|((a, p, port, r), (mark, bytes, deadline, user))| {
            let src = match a {
                4 => "2001:db8::1".to_owned(),
                5 => "::".to_owned(),
                _ => format!("10.0.{a}.255"),
            };
            let dst = if a >= 4 {
                "2001:db8::2"
            } else {
                "255.255.255.255"
            };
            let mut row = match p {
                0 => tcp(0, &src, port, dst, 80),
                1 => row(0, 17, &src, port, dst, 53),
                2 => row(0, 200, &src, port, dst, 53),
                _ => icmp(0, &src, dst),
            };
            row = counted(row, bytes * 1000, 7);
            row.set_rate(match r {
                0 => 0.0,
                1 => -0.0,
                2 => 1.5,
                3 => 1e12,
                _ => f64::INFINITY,
            });
            row.set_deadline(NOW.saturating_sub(50_000) + deadline);
            row.set_started_unix(NOW_UNIX - u64::from(mark) * 10);
            row.edit(|c| c.mark = mark | (user << 8));
            row
        })
}

proptest! {
    #[test]
    fn top_k_pages_equal_a_full_sort(
        mut rows in prop::collection::vec(arb_wide_row(), 0..300),
        ids in prop::collection::vec(0u32..40, 300),
        field in 0..Field::ALL.len(),
        descending in any::<bool>(),
        start in 0usize..320,
        length in 0usize..120,
        threads in 1usize..5,
        filtered in any::<bool>(),
    ) {
        // Few distinct ids: ties on key *and* id happen (shared ids exist).
        for (r, id) in rows.iter_mut().zip(&ids) {
            r.edit(|c| c.id = *id);
        }
        let snap = snapshot(rows);
        let o = Order { field: Field::ALL[field], descending };
        let names = |uid: u32| match uid {
            1 => Some("a-user-name-longer-than-fifteen".into()),
            2 => Some("A-USER-NAME-LONGER-THAN-FIFTEEN-too".into()),
            _ => None,
        };
        let c = ctx().with_users(0xff00, &names);
        let filter = if filtered {
            Filter::compile(&[("proto", FilterValue::List(vec![FilterValue::text("tcp"), FilterValue::text("udp"), FilterValue::Int(200)]))].into_iter().collect()).unwrap()
        } else {
            Filter::default()
        };
        let mut want: Vec<&Row> =
            snap.iter().filter(|r| filter.matches(r, &c)).collect();
        let total = want.len();
        want.sort_by(|a, b| {
            let ka = o.field.datum(a, &c);
            let kb = o.field.datum(b, &c);
            let by = if o.descending { kb.compare(&ka) } else { ka.compare(&kb) };
            by.then(a.id().cmp(&b.id()))
        });
        let page = super::sort::run_on(&snap, &filter, &o, start, length, &c, threads);
        prop_assert_eq!(page.total, total);
        let got: Vec<(u32, f64, u64)> = page.rows.iter().map(|r| (r.id(), r.rate(), r.deadline())).collect();
        let end = start.saturating_add(length).min(total);
        let expected: Vec<(u32, f64, u64)> = if length == 0 || start >= end {
            Vec::new()
        } else {
            want[start..end].iter().map(|r| (r.id(), r.rate(), r.deadline())).collect()
        };
        // Rows equal in key and id may come in either order: compare keys and ids.
        let key = |v: &[(u32, f64, u64)]| v.iter().map(|t| t.0).collect::<Vec<_>>();
        prop_assert_eq!(key(&got), key(&expected));
        for (g, w) in page.rows.iter().zip(&want[start.min(want.len())..]) {
            let (kg, kw) = (o.field.datum(g, &c), o.field.datum(w, &c));
            prop_assert_eq!(kg.compare(&kw), std::cmp::Ordering::Equal);
        }
    }
}
