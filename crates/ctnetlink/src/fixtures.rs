//! Deterministic synthetic entries for tests and benchmarks (feature `fixtures`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::consts::*;
use crate::names::{IPS_ASSURED, IPS_CONFIRMED, IPS_SEEN_REPLY};
use crate::Conn;

/// `n` distinct entries over TCP, UDP, ICMP, ICMPv6 and SCTP, both families.
pub fn synthetic(n: usize) -> Vec<Conn> {
    (0..n)
        .map(|i| {
            let v6 = i % 3 == 2;
            let (src, dst): (IpAddr, IpAddr) = if v6 {
                (
                    Ipv6Addr::new(0x2001, 0xdb8, 0, 1, 0, 0, (i >> 16) as u16, i as u16).into(),
                    Ipv6Addr::new(0x2001, 0xdb8, 0, 2, 0, 0, 0, 1).into(),
                )
            } else {
                (
                    Ipv4Addr::from(0xc633_6400u32 + (i as u32 % 250)).into(),
                    Ipv4Addr::new(203, 0, 113, 9).into(),
                )
            };
            let l4proto = match i % 5 {
                0 | 1 => IPPROTO_TCP,
                2 => IPPROTO_UDP,
                3 => IPPROTO_SCTP,
                _ if v6 => IPPROTO_ICMPV6,
                _ => IPPROTO_ICMP,
            };
            let sport = 1024 + (i % 60000) as u16;
            let dport = 443 + (i / 60000) as u16;
            let icmp = matches!(l4proto, IPPROTO_ICMP | IPPROTO_ICMPV6);
            let mut c = Conn::flow(
                l4proto,
                src,
                dst,
                if icmp { i as u16 } else { sport },
                dport,
            );
            c.timeout = 300 + (i % 100) as u32;
            c.mark = (i as u32).wrapping_mul(2_654_435_761);
            c.status = IPS_CONFIRMED
                | if i % 2 == 0 {
                    IPS_SEEN_REPLY | IPS_ASSURED
                } else {
                    0
                };
            if l4proto == IPPROTO_TCP {
                c.proto_state = Some(3);
            }
            c
        })
        .collect()
}
