//! Rows and snapshots for the query engine's tests.

use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use ctnetlink::names::{IPS_ASSURED, IPS_CONFIRMED, IPS_SEEN_REPLY};
use ctnetlink::{Conn, Counters, Family, Tuple};

use crate::{Row, Snapshot};

/// Mirror time of test snapshots (ms) and their wall time (Unix seconds).
pub const NOW: u64 = 1_000_000;
pub const NOW_UNIX: u64 = 1_700_000_000;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A connection whose reply tuple mirrors the original.
pub fn row(id: u32, l4proto: u8, src: &str, sport: u16, dst: &str, dport: u16) -> Row {
    let (src, dst) = (ip(src), ip(dst));
    let orig = Tuple {
        src,
        dst,
        sport,
        dport,
        ..Tuple::default()
    };
    let reply = Tuple {
        src: dst,
        dst: src,
        sport: dport,
        dport: sport,
        ..Tuple::default()
    };
    let mut conn = Conn::new(id, Family::of(&src), l4proto, orig, reply);
    conn.status = IPS_CONFIRMED;
    conn.timeout = 120;
    Row::fixture(conn, NOW_UNIX - 60).with_deadline(NOW + 120_000)
}

/// An assured, established TCP connection.
pub fn tcp(id: u32, src: &str, sport: u16, dst: &str, dport: u16) -> Row {
    let mut r = row(id, 6, src, sport, dst, dport);
    r.edit(|c| {
        c.proto_state = Some(3);
        c.status |= IPS_ASSURED | IPS_SEEN_REPLY;
    });
    r
}

/// A UDP connection over IPv6.
pub fn v6_udp(id: u32, src: &str, sport: u16, dst: &str, dport: u16) -> Row {
    row(id, 17, src, sport, dst, dport)
}

/// An ICMP echo (no ports).
pub fn icmp(id: u32, src: &str, dst: &str) -> Row {
    row(id, 1, src, 0, dst, 0)
}

/// Sets the counters of a row.
pub fn counted(mut r: Row, orig_bytes: u64, repl_bytes: u64) -> Row {
    r.edit(|c| {
        c.counters = Some(Counters {
            orig_packets: 1,
            orig_bytes,
            repl_packets: 2,
            repl_bytes,
        })
    });
    r
}

pub fn snapshot(rows: Vec<Row>) -> Snapshot {
    Snapshot::from_rows(
        rows,
        NOW,
        SystemTime::UNIX_EPOCH + Duration::from_secs(NOW_UNIX),
    )
}
