//! ctnetlink against the real kernel, each test in its own private user+net
//! namespace: what is injected is what a dump returns; deletes and updates hit
//! exactly the entry named by tuple and id; events and overflow are reported.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step should panic loudly

use std::collections::HashMap;

use ctnetlink::consts::*;
use ctnetlink::fixtures::synthetic;
use ctnetlink::names::{IPS_ASSURED, IPS_CONFIRMED, IPS_SEEN_REPLY};
use ctnetlink::{Change, Conn, CtSocket, Error, EventKind, EventSocket, Family, Tuple};
use netns::Sandbox;

fn sandbox(acct: bool) -> (Sandbox, CtSocket) {
    let sb = Sandbox::create().expect("private namespace");
    if acct {
        sb.set_sysctl("net/netfilter/nf_conntrack_acct", "1")
            .unwrap();
        sb.set_sysctl("net/netfilter/nf_conntrack_timestamp", "1")
            .unwrap();
    }
    let ct = CtSocket::from_fd(sb.netfilter_socket().unwrap()).unwrap();
    (sb, ct)
}

type Identity = (Family, u8, Tuple);

fn identity(c: &Conn) -> Identity {
    (c.family, c.l4proto, c.orig)
}

fn by_identity(conns: Vec<Conn>) -> HashMap<Identity, Conn> {
    conns.into_iter().map(|c| (identity(&c), c)).collect()
}

fn assert_dump_matches(injected: &[Conn], dumped: &HashMap<Identity, Conn>, acct: bool) {
    assert_eq!(dumped.len(), injected.len());
    for want in injected {
        let got = dumped
            .get(&identity(want))
            .unwrap_or_else(|| panic!("missing {:?}", want.orig));
        assert_eq!(got.reply, want.reply, "{:?}", want.orig);
        assert_eq!(got.mark, want.mark);
        assert!(
            got.timeout <= want.timeout && got.timeout + 5 >= want.timeout,
            "timeout {} vs {}",
            got.timeout,
            want.timeout
        );
        assert_eq!(
            got.status & (IPS_SEEN_REPLY | IPS_ASSURED),
            want.status & (IPS_SEEN_REPLY | IPS_ASSURED)
        );
        assert_ne!(got.status & IPS_CONFIRMED, 0);
        assert_eq!(got.zone, 0);
        assert_ne!(got.id, 0);
        if want.l4proto == IPPROTO_TCP {
            assert_eq!(got.proto_state, Some(3));
        }
        if want.l4proto == IPPROTO_SCTP {
            assert!(got.proto_state.is_some(), "SCTP has a state");
        }
        assert_eq!(
            got.counters.is_some(),
            acct,
            "counters exist only with accounting"
        );
        assert_eq!(
            got.start_ns.is_some(),
            acct,
            "start time exists only with timestamps"
        );
    }
}

#[test]
fn dump_equals_what_was_injected_without_accounting() {
    let (_sb, mut ct) = sandbox(false);
    let injected = synthetic(500);
    let (failed, first) = ct.create_many(&injected).unwrap();
    assert_eq!(failed, 0, "{first:?}");
    assert_dump_matches(&injected, &by_identity(ct.dump_all().unwrap()), false);
    assert_eq!(ct.stats().unwrap().entries, 500);
}

#[test]
fn dump_equals_what_was_injected_with_accounting_and_timestamps() {
    let (_sb, mut ct) = sandbox(true);
    let injected = synthetic(300);
    assert_eq!(ct.create_many(&injected).unwrap().0, 0);
    let dumped = by_identity(ct.dump_all().unwrap());
    assert_dump_matches(&injected, &dumped, true);
    for c in dumped.values() {
        assert_eq!(
            c.counters.map(|k| k.total_bytes()),
            Some(0),
            "no traffic went through"
        );
    }
}

#[test]
fn delete_removes_exactly_one_and_a_wrong_id_removes_none() {
    let (_sb, mut ct) = sandbox(false);
    assert_eq!(ct.create_many(&synthetic(50)).unwrap().0, 0);
    let before = ct.dump_all().unwrap();
    let victim = &before[17];

    let mut wrong = victim.key();
    wrong.id = wrong.id.wrapping_add(1);
    assert!(matches!(ct.delete(&wrong), Err(Error::NotFound)));
    assert_eq!(
        ct.dump_all().unwrap().len(),
        50,
        "a wrong id must not delete anything"
    );

    ct.delete(&victim.key()).unwrap();
    let after = ct.dump_all().unwrap();
    assert_eq!(after.len(), 49);
    assert!(after.iter().all(|c| c.id != victim.id));
    // Gone is reported distinctly, not as a generic failure.
    assert!(matches!(ct.delete(&victim.key()), Err(Error::NotFound)));
    assert!(matches!(ct.get(&victim.key()), Err(Error::NotFound)));
}

#[test]
fn a_reused_tuple_is_not_touched() {
    let (_sb, mut ct) = sandbox(false);
    let spec = synthetic(50);
    ct.create(&spec[0]).unwrap();
    let old = ct.dump_all().unwrap().remove(0);
    ct.delete(&old.key()).unwrap();
    // The kernel's id hashes the entry's address with its tuple, so a new entry
    // on the same tuple in the same freed slot gets the same id (and the kernel
    // cannot tell them apart). Take slots with other entries until it lands
    // elsewhere.
    let mut fillers = spec[1..].iter();
    let new = loop {
        ct.create(fillers.next().unwrap()).unwrap();
        ct.create(&spec[0]).unwrap();
        let new = ct
            .dump_all()
            .unwrap()
            .into_iter()
            .find(|c| c.orig == old.orig)
            .unwrap();
        if new.id != old.id {
            break new;
        }
        ct.delete(&new.key()).unwrap();
    };
    assert!(matches!(ct.delete(&old.key()), Err(Error::NotFound)));
    assert!(matches!(
        ct.update(&old.key(), Change::Mark(1)),
        Err(Error::NotFound)
    ));
    let still: Vec<_> = ct
        .dump_all()
        .unwrap()
        .into_iter()
        .filter(|c| c.orig == old.orig)
        .collect();
    assert_eq!(still.len(), 1);
    assert_eq!(still[0].mark, new.mark, "the newer entry keeps its mark");
}

#[test]
fn mark_and_timeout_updates_show_in_a_fresh_dump() {
    let (_sb, mut ct) = sandbox(false);
    assert_eq!(ct.create_many(&synthetic(10)).unwrap().0, 0);
    let target = ct.dump_all().unwrap().remove(4);
    let changed = ct.update(&target.key(), Change::Mark(0xfedc_ba98)).unwrap();
    assert_eq!(changed.unwrap().mark, 0xfedc_ba98);
    ct.update(&target.key(), Change::Timeout(4321)).unwrap();
    let fresh = ct.dump_all().unwrap();
    let got = fresh.iter().find(|c| c.id == target.id).unwrap();
    assert_eq!(got.mark, 0xfedc_ba98);
    assert!(
        got.timeout <= 4321 && got.timeout >= 4315,
        "{}",
        got.timeout
    );
    let others_unchanged = fresh
        .iter()
        .filter(|c| c.id != target.id)
        .all(|c| c.mark != 0xfedc_ba98);
    assert!(others_unchanged);
}

#[test]
fn events_report_new_and_destroy() {
    let (sb, mut ct) = sandbox(false);
    let mut events = EventSocket::subscribe_fd(sb.netfilter_socket().unwrap(), 1 << 20).unwrap();
    let spec = synthetic(1);
    ct.create(&spec[0]).unwrap();
    let made = ct.dump_all().unwrap().remove(0);
    ct.delete(&made.key()).unwrap();
    let mut seen = Vec::new();
    for _ in 0..100 {
        events.recv(|e| seen.push(e.unwrap())).unwrap();
        if seen.len() >= 2 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(
        seen.iter().map(|e| e.kind).collect::<Vec<_>>(),
        [EventKind::New, EventKind::Destroy]
    );
    assert!(seen
        .iter()
        .all(|e| e.conn.id == made.id && e.conn.orig == made.orig));
}

#[test]
fn event_overflow_is_its_own_error() {
    let (sb, mut ct) = sandbox(false);
    // The smallest buffer the kernel allows cannot hold thousands of events.
    let mut events = EventSocket::subscribe_fd(sb.netfilter_socket().unwrap(), 4096).unwrap();
    assert_eq!(ct.create_many(&synthetic(3000)).unwrap().0, 0);
    let mut result = Ok(0);
    for _ in 0..10_000 {
        result = events.recv(|_| {});
        if result.is_err() {
            break;
        }
    }
    assert!(matches!(result, Err(Error::Overflow)), "{result:?}");
}

#[test]
fn a_reliable_event_socket_has_both_options_set() {
    let (sb, _ct) = sandbox(false);
    let events = EventSocket::subscribe_fd(sb.netfilter_socket().unwrap(), 1 << 20).unwrap();
    assert!(!events.is_reliable().unwrap());
    events.set_reliable().unwrap();
    assert!(events.is_reliable().unwrap());
}

/// With the options set, a full buffer loses no DESTROY event: the kernel
/// keeps the ended entries out of the table (a dump of the dying list shows
/// them) and re-sends their events as the reader makes room.
#[test]
fn a_reliable_event_socket_gets_every_destroy_despite_a_small_buffer() {
    let (sb, mut ct) = sandbox(false);
    let mut events = EventSocket::subscribe_fd(sb.netfilter_socket().unwrap(), 4096).unwrap();
    events.set_reliable().unwrap();
    const N: usize = 1000;
    assert_eq!(ct.create_many(&synthetic(N)).unwrap().0, 0);
    while events.recv(|_| {}).unwrap() > 0 {}
    let keys: Vec<_> = ct.dump_all().unwrap().iter().map(Conn::key).collect();
    assert_eq!(keys.len(), N);
    assert_eq!(ct.delete_many(&keys).unwrap().0, 0);
    // Out of the table at once; those whose event did not fit wait for it.
    assert!(ct.dump_all().unwrap().is_empty());
    let waiting = ct.dump_dying().unwrap();
    assert!(
        !waiting.is_empty() && waiting.len() < N,
        "{} of {N} wait for their DESTROY",
        waiting.len()
    );
    assert!(waiting.iter().all(|c| keys.contains(&c.key())));
    let mut destroyed = 0;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while destroyed < N && std::time::Instant::now() < deadline {
        let read = events
            .recv(|e| {
                if e.unwrap().kind == EventKind::Destroy {
                    destroyed += 1;
                }
            })
            .unwrap();
        if read == 0 {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
    assert_eq!(destroyed, N);
    // Delivered, they are freed.
    let mut left = usize::MAX;
    for _ in 0..200 {
        left = ct.dump_dying().unwrap().len();
        if left == 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(left, 0);
}

#[test]
fn kernel_refusals_are_typed_with_the_errno_in_words() {
    let (_sb, mut ct) = sandbox(false);
    let spec = synthetic(1);
    ct.create(&spec[0]).unwrap();
    match ct.create(&spec[0]) {
        Err(e @ Error::Kernel { errno, .. }) => {
            assert_eq!(errno, libc::EEXIST);
            assert!(e.to_string().contains("File exists"), "{e}");
        }
        other => panic!("expected EEXIST, got {other:?}"),
    }
}

/// Regression: GRE keys travel as ports; a tuple without them is refused.
#[test]
fn gre_entries_can_be_deleted_and_updated_by_key() {
    let (_sb, mut ct) = sandbox(false);
    let src = "192.0.2.1".parse().unwrap();
    let dst = "198.51.100.2".parse().unwrap();
    let mut gre = Conn::flow(IPPROTO_GRE, src, dst, 17, 34);
    gre.timeout = 100;
    ct.create(&gre).unwrap();
    let made = ct.dump_all().unwrap().remove(0);
    assert_eq!(
        (made.l4proto, made.orig.sport, made.orig.dport),
        (IPPROTO_GRE, 17, 34)
    );
    let changed = ct.update(&made.key(), Change::Mark(9)).unwrap().unwrap();
    assert_eq!(changed.mark, 9);
    ct.delete(&made.key()).unwrap();
    assert!(ct.dump_all().unwrap().is_empty());
}

/// Regression: a timeout of 0 expires the entry at once; that is a success.
#[test]
fn a_zero_timeout_expires_the_entry_and_is_not_an_error() {
    let (_sb, mut ct) = sandbox(false);
    assert_eq!(ct.create_many(&synthetic(3)).unwrap().0, 0);
    let target = ct.dump_all().unwrap().remove(1);
    assert_eq!(ct.update(&target.key(), Change::Timeout(0)).unwrap(), None);
    let left = ct.dump_all().unwrap();
    assert_eq!(left.len(), 2);
    assert!(left.iter().all(|c| c.id != target.id));
}
