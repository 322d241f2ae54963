//! Property tests of the row storage as a whole: any run of events, dumps
//! (whole or failing), snapshots and frozen views gives the rows a plain
//! list of connections would.

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::SystemTime;

use ctnetlink::{Conn, ConnKey, Counters, Event, EventKind};
use proptest::prelude::*;

use crate::{EndReason, Frozen, Row, RowSet, Snapshot};

/// Every test connection lives this long: rows are built at mirror time 0.
const TIMEOUT: u32 = 100;

/// A connection from a small pool, so that ids collide (same id, other
/// tuple) and tuples come back (same tuple, new id); IPv4 and IPv6 mixed,
/// loopback ones hidden.
fn conn() -> impl Strategy<Value = Conn> {
    let srcs = [
        "192.0.2.1",
        "192.0.2.2",
        "127.0.0.1",
        "2001:db8::1",
        "2001:db8::2",
    ];
    (
        0..4u32,
        prop::sample::select(srcs.to_vec()),
        0..3u32,
        any::<bool>(),
    )
        .prop_map(|(id, src, mark, icmp)| {
            let src: IpAddr = src.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
            let dst: IpAddr = match src {
                IpAddr::V4(_) => "198.51.100.1".parse(),
                IpAddr::V6(_) => "2001:db8::99".parse(),
            }
            .unwrap_or(src);
            let proto = match (icmp, src.is_ipv4()) {
                (false, _) => 6,
                (true, true) => 1,
                (true, false) => 58,
            };
            let mut c = Conn::flow(proto, src, dst, 1000, 80);
            c.id = id;
            c.mark = mark;
            c.timeout = TIMEOUT;
            c.proto_state = Some(3);
            c.counters = Some(Counters::default());
            c
        })
}

#[derive(Debug, Clone)]
enum Op {
    Upsert(Conn),
    Destroy(Conn),
    Remove(usize),
    Snapshot,
    Freeze,
    FrozenForget(usize),
    FrozenReplace(usize, u32),
    Reconcile(Vec<Conn>, usize, bool),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => conn().prop_map(Op::Upsert),
        2 => conn().prop_map(Op::Destroy),
        2 => any::<usize>().prop_map(Op::Remove),
        1 => Just(Op::Snapshot),
        1 => Just(Op::Freeze),
        2 => any::<usize>().prop_map(Op::FrozenForget),
        2 => (any::<usize>(), 5..8u32).prop_map(|(i, m)| Op::FrozenReplace(i, m)),
        2 => (prop::collection::vec(conn(), 0..12), any::<usize>(), any::<bool>())
            .prop_map(|(dump, ending, fail)| Op::Reconcile(dump, ending, fail)),
    ]
}

/// Rows as comparable text, in a fixed order.
fn sorted(conns: impl Iterator<Item = Conn>) -> Vec<String> {
    let mut all: Vec<String> = conns.map(|c| format!("{c:?}")).collect();
    all.sort();
    all
}

fn of(snapshot: &Snapshot) -> Vec<String> {
    sorted(snapshot.iter().map(|row| row.conn(0)))
}

fn hidden(c: &Conn) -> bool {
    c.orig.src.is_loopback()
}

/// The model's upsert: replace the same connection, or add it.
fn put(model: &mut Vec<Conn>, conn: Conn) {
    match model.iter_mut().find(|c| c.key() == conn.key()) {
        Some(c) => *c = conn,
        None => model.push(conn),
    }
}

fn key_at(model: &[Conn], i: usize) -> Option<ConnKey> {
    (!model.is_empty()).then(|| model[i % model.len()].key())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn storage_behaves_like_a_list_of_connections(ops in prop::collection::vec(op(), 1..60)) {
        let mut set = RowSet::new(Arc::new(hidden));
        let mut model: Vec<Conn> = Vec::new();
        let mut kept: Vec<(Snapshot, Vec<String>)> = Vec::new();
        let mut frozen: Option<(Frozen, Vec<Conn>)> = None;
        for op in ops {
            match op {
                Op::Upsert(c) => {
                    let event = Event { kind: EventKind::New, conn: c.clone() };
                    set.apply(event, 0, 0);
                    if !hidden(&c) {
                        put(&mut model, c);
                    }
                }
                Op::Destroy(c) => {
                    let event = Event { kind: EventKind::Destroy, conn: c.clone() };
                    set.apply(event, 0, 0);
                    model.retain(|m| m.key() != c.key());
                }
                Op::Remove(i) => {
                    if let Some(key) = key_at(&model, i) {
                        prop_assert!(set.remove(&key, EndReason::Timeout));
                        model.retain(|m| m.key() != key);
                    }
                }
                Op::Snapshot => {
                    let snap = set.snapshot(0, SystemTime::UNIX_EPOCH);
                    kept.push((snap, sorted(model.iter().cloned())));
                }
                Op::Freeze => {
                    frozen = Some((Frozen::new(set.snapshot(0, SystemTime::UNIX_EPOCH)), model.clone()));
                }
                Op::FrozenForget(i) => {
                    if let Some((f, m)) = &mut frozen {
                        if let Some(key) = key_at(m, i) {
                            f.forget(key);
                            m.retain(|c| c.key() != key);
                        }
                    }
                }
                Op::FrozenReplace(i, mark) => {
                    if let Some((f, m)) = &mut frozen {
                        if !m.is_empty() {
                            let n = m.len();
                            let c = &mut m[i % n];
                            c.mark = mark;
                            let deadline = u64::from(TIMEOUT) * 1000;
                            f.replace(Row::fixture(c.clone(), 0).with_deadline(deadline));
                        }
                    }
                }
                Op::Reconcile(dump, ending, fail) => {
                    let ending: HashSet<ConnKey> = key_at(&model, ending).into_iter().collect();
                    let result = set.replace_with_ending(0, 0, |sink| {
                        for c in dump.iter().cloned() {
                            sink(c);
                        }
                        if fail { Err("the dump broke") } else { Ok(ending.clone()) }
                    });
                    prop_assert_eq!(result.is_err(), fail);
                    if !fail {
                        let mut next: Vec<Conn> = Vec::new();
                        for c in dump.iter().filter(|c| !hidden(c)) {
                            put(&mut next, c.clone());
                        }
                        for c in &model {
                            if ending.contains(&c.key()) && !next.iter().any(|n| n.key() == c.key()) {
                                next.push(c.clone());
                            }
                        }
                        model = next;
                    }
                }
            }
            prop_assert_eq!(set.len(), model.len());
            let live = set.snapshot(0, SystemTime::UNIX_EPOCH);
            prop_assert_eq!(live.len(), model.len());
            prop_assert_eq!(of(&live), sorted(model.iter().cloned()));
            for c in &model {
                prop_assert!(set.get(&c.key()).is_some_and(|row| row.conn(0) == *c));
            }
            for (snap, then) in &kept {
                prop_assert_eq!(&of(snap), then, "a snapshot changed after it was taken");
            }
            if let Some((f, m)) = &frozen {
                prop_assert_eq!(of(&f.view()), sorted(m.iter().cloned()));
            }
        }
    }
}

fn table(n: u32) -> (RowSet, Vec<Conn>) {
    let mut set = RowSet::new(Arc::new(hidden));
    let conns: Vec<Conn> = (0..n)
        .map(|i| {
            let src = IpAddr::from((0x0a00_0000 + i).to_be_bytes());
            let mut c = Conn::flow(6, src, IpAddr::from([192, 0, 2, 1]), 1000, 80);
            (c.id, c.timeout) = (i, TIMEOUT);
            c
        })
        .collect();
    set.replace(conns.clone(), 0, 0);
    (set, conns)
}

/// Chunks two snapshots both hold (the same memory, not equal rows).
fn shared_chunks(a: &Snapshot, b: &Snapshot) -> usize {
    a.chunks()
        .iter()
        .zip(b.chunks())
        .filter(|(x, y)| Arc::ptr_eq(x, y))
        .count()
}

#[test]
fn an_idle_reconciliation_writes_nothing_and_copies_no_chunk() {
    let (mut set, conns) = table(1000);
    let before = set.snapshot(0, SystemTime::UNIX_EPOCH);
    // Two seconds later the kernel counts two seconds less: nothing new.
    let mut later = conns.clone();
    later.iter_mut().for_each(|c| c.timeout -= 2);
    assert_eq!(set.replace(later, 2000, 2), (0, 0));
    let after = set.snapshot(2000, SystemTime::UNIX_EPOCH);
    assert_eq!(shared_chunks(&before, &after), before.chunks().len());
    // One changed row copies its chunk only.
    let mut marked = conns;
    marked[500].mark = 1;
    set.replace(marked, 2000, 2);
    let changed = set.snapshot(2000, SystemTime::UNIX_EPOCH);
    assert_eq!(shared_chunks(&before, &changed), before.chunks().len() - 1);
    assert_eq!(of(&before), of(&after), "the earlier snapshot is untouched");
}

#[test]
fn a_frozen_view_copies_only_the_chunks_its_overlay_touches() {
    let (set, conns) = table(1000);
    let snapshot = set.snapshot(0, SystemTime::UNIX_EPOCH);
    let mut frozen = Frozen::new(snapshot.clone());
    frozen.forget(conns[3].key());
    frozen.forget(conns[5].key());
    let view = frozen.view();
    assert_eq!(view.len(), 998);
    let chunks = snapshot.chunks().len();
    assert_eq!(shared_chunks(&snapshot, &view), chunks - 1);
    assert_eq!(snapshot.len(), 1000);
}

#[test]
fn a_failing_dump_leaves_every_row_and_slot_as_it_was() {
    let (mut set, conns) = table(300);
    let before = set.snapshot(0, SystemTime::UNIX_EPOCH);
    let failed = set.replace_with(5000, 5, |sink| {
        let mut changed = conns[7].clone();
        changed.mark = 9;
        sink(changed);
        sink(Conn::flow(
            17,
            IpAddr::from([192, 0, 2, 9]),
            IpAddr::from([192, 0, 2, 1]),
            1,
            2,
        ));
        Err("the dump broke")
    });
    assert!(failed.is_err());
    let after = set.snapshot(0, SystemTime::UNIX_EPOCH);
    assert_eq!(of(&after), of(&before));
    let slots = |s: &Snapshot| {
        s.slots()
            .map(|(slot, r)| (slot, r.id()))
            .collect::<Vec<_>>()
    };
    assert_eq!(slots(&after), slots(&before));
}

#[test]
fn the_index_costs_a_few_bytes_per_row() {
    let (set, _) = table(100_000);
    let per_row = set.index.bytes_per_entry();
    assert!(per_row <= 12.0, "{per_row} B per row");
}
