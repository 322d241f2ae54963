//! How a `Conn` packs into a `Row` and comes back out, exactly: which fields
//! stay inline and which go to the row's shared `Spill`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::num::NonZeroU64;
use std::sync::Arc;

use ctnetlink::{Conn, Family, Tuple};

use super::row::{Row, HAS_COUNTERS, HAS_STATE, ICMP, START_NS, USE_SPILLED, V6};

/// What a row keeps out of line: rare in an IPv4 table, so an `Arc` shared
/// by every copy of the row (a chunk copied for a snapshot copies a pointer).
/// An IPv6 row's addresses are here; what even IPv6 rows seldom have is one
/// box further, so that an IPv6 row's box stays small.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Spill {
    /// IPv6 rows: orig src, orig dst, reply src, reply dst.
    v6: Option<[Ipv6Addr; 4]>,
    /// Tuples that fit no packing (mixed families, both ports and ICMP
    /// fields set): kept whole, and the inline addresses and `l4` unused.
    pub(super) tuples: Option<Box<[Tuple; 2]>>,
    rare: Option<Box<Rare>>,
}

/// The kernel's fields almost no entry has, or has too big for the row.
#[derive(Debug, Clone, Default, PartialEq)]
struct Rare {
    /// Packet counts past u32 (orig, reply).
    packets: Option<[u64; 2]>,
    labels: Option<Box<[u8; 16]>>,
    secmark: u32,
    /// A use count too big for the row.
    use_count: Option<u32>,
    /// A start timestamp that disagrees with the row's `started_unix`
    /// (rows made outside the mirror).
    start_ns: Option<NonZeroU64>,
}

impl Spill {
    /// Packet counts past u32 (orig, reply).
    pub(super) fn packets(&self) -> Option<[u64; 2]> {
        self.rare.as_ref()?.packets
    }

    /// A start timestamp the row's `started_unix` does not say.
    pub(super) fn start_ns(&self) -> Option<NonZeroU64> {
        self.rare.as_ref()?.start_ns
    }

    /// Whether the addresses are here rather than inline.
    pub(super) fn has_addrs(&self) -> bool {
        self.v6.is_some() || self.tuples.is_some()
    }

    /// Address `i` (orig src, dst, reply src, dst); `has_addrs` must hold.
    pub(super) fn addr(&self, i: usize) -> IpAddr {
        if let Some(tuples) = &self.tuples {
            let t = &tuples[i / 2];
            return [t.src, t.dst][i % 2];
        }
        self.v6
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |v6| IpAddr::V6(v6[i]))
    }

    /// Port `i` of whole tuples (orig sport, dport, reply sport, dport).
    pub(super) fn port(&self, i: usize) -> u16 {
        self.tuples.as_ref().map_or(0, |tuples| {
            let t = &tuples[i / 2];
            [t.sport, t.dport][i % 2]
        })
    }
}

/// How the layer-4 fields of both tuples fit the shared 8-byte slot.
fn pack_l4(orig: &Tuple, reply: &Tuple) -> Option<([u16; 4], bool)> {
    let no_icmp = |t: &Tuple| t.icmp_type == 0 && t.icmp_code == 0 && t.icmp_id == 0;
    let no_ports = |t: &Tuple| t.sport == 0 && t.dport == 0;
    if no_icmp(orig) && no_icmp(reply) {
        return Some(([orig.sport, orig.dport, reply.sport, reply.dport], false));
    }
    if no_ports(orig) && no_ports(reply) {
        let tc = |t: &Tuple| u16::from(t.icmp_type) << 8 | u16::from(t.icmp_code);
        return Some(([tc(orig), orig.icmp_id, tc(reply), reply.icmp_id], true));
    }
    None
}

/// The row of `conn`, started at `started_unix`, with no derived times yet.
pub(super) fn pack(conn: &Conn, started_unix: u64) -> Row {
    let mut row = Row::VACANT;
    let mut spill = Spill::default();
    let mut rare = Rare::default();
    row.id = conn.id;
    row.l4proto = conn.l4proto;
    row.status = conn.status;
    row.mark = conn.mark;
    row.zone = conn.zone;
    if conn.family == Family::Ipv6 {
        row.flags |= V6;
    }
    if let Some(state) = conn.proto_state {
        row.flags |= HAS_STATE;
        row.state = state;
    }
    let addrs = [conn.orig.src, conn.orig.dst, conn.reply.src, conn.reply.dst];
    let v4 = addrs.map(|a| match a {
        IpAddr::V4(a) => Some(a.to_bits()),
        IpAddr::V6(_) => None,
    });
    let v6 = addrs.map(|a| match a {
        IpAddr::V6(a) => Some(a),
        IpAddr::V4(_) => None,
    });
    let l4 = pack_l4(&conn.orig, &conn.reply);
    match (conn.family, l4) {
        (Family::Ipv4, Some((l4, icmp))) if v4.iter().all(Option::is_some) => {
            row.addrs = v4.map(|a| a.unwrap_or(0));
            row.l4 = l4;
            row.flags |= if icmp { ICMP } else { 0 };
        }
        (Family::Ipv6, Some((l4, icmp))) if v6.iter().all(Option::is_some) => {
            spill.v6 = Some(v6.map(|a| a.unwrap_or(Ipv6Addr::UNSPECIFIED)));
            row.l4 = l4;
            row.flags |= if icmp { ICMP } else { 0 };
        }
        _ => spill.tuples = Some(Box::new([conn.orig, conn.reply])),
    }
    if let Some(c) = conn.counters {
        row.flags |= HAS_COUNTERS;
        row.orig_bytes = c.orig_bytes;
        row.repl_bytes = c.repl_bytes;
        match (u32::try_from(c.orig_packets), u32::try_from(c.repl_packets)) {
            (Ok(o), Ok(r)) => (row.orig_packets, row.repl_packets) = (o, r),
            _ => rare.packets = Some([c.orig_packets, c.repl_packets]),
        }
    }
    match conn.start_ns {
        Some(ns) if ns.get() / 1_000_000_000 == started_unix => {
            row.flags |= START_NS;
            row.start = ns.get();
        }
        other => {
            row.start = started_unix;
            rare.start_ns = other;
        }
    }
    match u8::try_from(conn.use_count) {
        Ok(n) if n != USE_SPILLED => row.use_count = n,
        _ => {
            row.use_count = USE_SPILLED;
            rare.use_count = Some(conn.use_count);
        }
    }
    rare.labels = conn.labels.clone();
    rare.secmark = conn.secmark;
    if rare != Rare::default() {
        spill.rare = Some(Box::new(rare));
    }
    if spill != Spill::default() {
        row.spill = Some(Arc::new(spill));
    }
    row
}

/// Tuple `dir` (0 original, 1 reply) of `row`.
pub(super) fn tuple(row: &Row, dir: usize) -> Tuple {
    let spill = row.spill.as_deref();
    if let Some(tuples) = spill.and_then(|s| s.tuples.as_deref()) {
        return tuples[dir];
    }
    let addr = |i: usize| match spill.and_then(|s| s.v6) {
        Some(v6) => IpAddr::V6(v6[i]),
        None => IpAddr::V4(Ipv4Addr::from_bits(row.addrs[i])),
    };
    let (a, b) = (row.l4[dir * 2], row.l4[dir * 2 + 1]);
    let mut t = Tuple {
        src: addr(dir * 2),
        dst: addr(dir * 2 + 1),
        ..Tuple::default()
    };
    if row.flags & ICMP != 0 {
        let [icmp_type, icmp_code] = a.to_be_bytes();
        (t.icmp_type, t.icmp_code, t.icmp_id) = (icmp_type, icmp_code, b);
    } else {
        (t.sport, t.dport) = (a, b);
    }
    t
}

/// The `Conn` `row` was packed from, with `timeout` seconds left.
pub(super) fn unpack(row: &Row, timeout: u32) -> Conn {
    let rare = row.spill.as_deref().and_then(|s| s.rare.as_deref());
    let mut conn = Conn::new(row.id, row.family(), row.l4proto, row.orig(), row.reply());
    conn.proto_state = row.proto_state();
    conn.status = row.status;
    conn.mark = row.mark;
    conn.timeout = timeout;
    conn.zone = row.zone;
    conn.use_count = match rare.and_then(|r| r.use_count) {
        Some(n) => n,
        None => u32::from(row.use_count),
    };
    conn.counters = row.counters();
    conn.start_ns = row.start_ns();
    conn.labels = rare.and_then(|r| r.labels.clone());
    conn.secmark = rare.map_or(0, |r| r.secmark);
    conn
}

#[cfg(test)]
mod tests {
    use super::*;
    use ctnetlink::Counters;
    use proptest::prelude::*;

    fn addr(v6: bool) -> impl Strategy<Value = IpAddr> {
        prop_oneof![
            4 => any::<u32>().prop_map(move |a| if v6 {
                IpAddr::V6(Ipv6Addr::from(u128::from(a) << 64 | 1))
            } else {
                IpAddr::V4(Ipv4Addr::from_bits(a))
            }),
            1 => any::<bool>().prop_map(|b| if b {
                IpAddr::V4(Ipv4Addr::UNSPECIFIED)
            } else {
                IpAddr::V6(Ipv6Addr::LOCALHOST)
            }),
        ]
    }

    fn tuple(v6: bool, icmp: bool) -> impl Strategy<Value = Tuple> {
        (
            addr(v6),
            addr(v6),
            any::<[u16; 3]>(),
            any::<[u8; 2]>(),
            0..8u8,
        )
            .prop_map(move |(src, dst, [sport, dport, id], [ty, code], odd)| {
                let mut t = Tuple {
                    src,
                    dst,
                    ..Tuple::default()
                };
                if icmp || odd == 0 {
                    (t.icmp_type, t.icmp_code, t.icmp_id) = (ty, code, id);
                }
                if !icmp || odd == 1 {
                    (t.sport, t.dport) = (sport, dport);
                }
                t
            })
    }

    prop_compose! {
        fn conn()(v6 in any::<bool>(), icmp in any::<bool>())
            (v6 in Just(v6), icmp in Just(icmp), orig in tuple(v6, icmp), reply in tuple(v6, icmp),
             id in any::<u32>(), state in proptest::option::of(any::<u8>()),
             words in any::<[u32; 5]>(), zone in any::<u16>(), use_count in prop_oneof![0..4u32, 250..260u32, any::<u32>()],
             counters in proptest::option::of(any::<[u64; 4]>()),
             big in any::<bool>(), start in proptest::option::of(1..u64::MAX),
             labels in proptest::option::of(any::<[u8; 16]>()))
            -> Conn
        {
            let family = if v6 { Family::Ipv6 } else { Family::Ipv4 };
            let l4proto = if icmp { if v6 { 58 } else { 1 } } else { 6 };
            let mut c = Conn::new(id, family, l4proto, orig, reply);
            c.proto_state = state;
            (c.status, c.mark, c.timeout, c.secmark) = (words[0], words[1], words[2] % 100_000, words[3] % 3);
            c.zone = zone;
            c.use_count = use_count;
            c.counters = counters.map(|[a, b, p, q]| Counters {
                orig_packets: if big { p } else { p >> 40 },
                orig_bytes: a,
                repl_packets: if big { q } else { q >> 40 },
                repl_bytes: b,
            });
            c.start_ns = start.and_then(NonZeroU64::new);
            c.labels = labels.map(Box::new);
            c
        }
    }

    proptest! {
        #[test]
        fn every_conn_comes_back_exactly(c in conn(), now in 0..1_000_000u64, started in any::<u64>()) {
            let started = c.start_ns.map_or(started, |ns| if started % 2 == 0 { ns.get() / 1_000_000_000 } else { started });
            let row = Row::observed(&c, now + u64::from(c.timeout) * 1000, started, 0.0, (0, now));
            prop_assert_eq!(row.conn(now), c.clone());
            prop_assert_eq!(row.started_unix(), started);
            prop_assert_eq!(row.key(), c.key());
            prop_assert!(row.is(&c.key()));
            prop_assert_eq!(
                (row.orig_src(), row.orig_dst(), row.repl_src(), row.repl_dst()),
                (c.orig.src, c.orig.dst, c.reply.src, c.reply.dst)
            );
            prop_assert_eq!(
                (row.orig_sport(), row.orig_dport(), row.repl_sport(), row.repl_dport()),
                (c.orig.sport, c.orig.dport, c.reply.sport, c.reply.dport)
            );
        }
    }

    #[test]
    fn a_plain_row_spills_nothing_and_an_ipv6_row_only_its_addresses() {
        let v4 = Conn::flow(
            6,
            "192.0.2.1".parse().unwrap(),
            "192.0.2.2".parse().unwrap(),
            1,
            2,
        );
        assert!(Row::fixture(v4, 0).spill.is_none());
        let icmp = Conn::flow(
            1,
            "192.0.2.1".parse().unwrap(),
            "192.0.2.2".parse().unwrap(),
            7,
            0,
        );
        assert!(Row::fixture(icmp, 0).spill.is_none());
        let v6 = Conn::flow(
            17,
            "2001:db8::1".parse().unwrap(),
            "2001:db8::2".parse().unwrap(),
            1,
            2,
        );
        let row = Row::fixture(v6, 0);
        let spill = row.spill.as_deref().unwrap();
        assert!(spill.v6.is_some() && spill.tuples.is_none() && spill.rare.is_none());
        // What an IPv6 row costs beyond an IPv4 one.
        assert!(std::mem::size_of::<Spill>() <= 88);
    }
}
