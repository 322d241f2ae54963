//! The flat `Conn` value: one conntrack entry as the rest of nfctd sees it.

use std::net::{IpAddr, Ipv4Addr};

/// Address family of a connection (the netfilter `nfgen_family`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// AF_INET
    Ipv4,
    /// AF_INET6
    Ipv6,
}

impl Family {
    /// The kernel's address family number.
    pub fn af(self) -> u8 {
        match self {
            Family::Ipv4 => libc::AF_INET as u8,
            Family::Ipv6 => libc::AF_INET6 as u8,
        }
    }

    /// The family of a kernel address family number, if it is one we serve.
    pub fn from_af(af: u8) -> Option<Family> {
        match i32::from(af) {
            libc::AF_INET => Some(Family::Ipv4),
            libc::AF_INET6 => Some(Family::Ipv6),
            _ => None,
        }
    }

    /// `ipv4` or `ipv6`, as the API spells it.
    pub fn name(self) -> &'static str {
        match self {
            Family::Ipv4 => "ipv4",
            Family::Ipv6 => "ipv6",
        }
    }

    /// The family of an address.
    pub fn of(addr: &IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::Ipv4,
            IpAddr::V6(_) => Family::Ipv6,
        }
    }
}

/// One direction of a connection: addresses and layer-4 identifiers.
///
/// For ICMP and ICMPv6, `sport`/`dport` are 0 and the `icmp_*` fields are set;
/// for protocols without ports everything but the addresses is 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tuple {
    /// Source address (CTA_IP_V4_SRC or CTA_IP_V6_SRC).
    pub src: IpAddr,
    /// Destination address (CTA_IP_V4_DST or CTA_IP_V6_DST).
    pub dst: IpAddr,
    /// Source port in host byte order (CTA_PROTO_SRC_PORT); for GRE, the key the kernel keeps there.
    pub sport: u16,
    /// Destination port in host byte order (CTA_PROTO_DST_PORT).
    pub dport: u16,
    /// ICMP or ICMPv6 type (CTA_PROTO_ICMP_TYPE, CTA_PROTO_ICMPV6_TYPE), e.g. 8 for an echo request.
    pub icmp_type: u8,
    /// ICMP or ICMPv6 code (CTA_PROTO_ICMP_CODE, CTA_PROTO_ICMPV6_CODE).
    pub icmp_code: u8,
    /// ICMP or ICMPv6 echo identifier in host byte order (CTA_PROTO_ICMP_ID, CTA_PROTO_ICMPV6_ID).
    pub icmp_id: u16,
}

impl Default for Tuple {
    fn default() -> Self {
        Tuple {
            src: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            dst: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            sport: 0,
            dport: 0,
            icmp_type: 0,
            icmp_code: 0,
            icmp_id: 0,
        }
    }
}

/// Per-direction byte and packet counters (present only with `nf_conntrack_acct=1`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Counters {
    /// Packets in the original direction (CTA_COUNTERS_ORIG).
    pub orig_packets: u64,
    /// Bytes in the original direction (CTA_COUNTERS_ORIG).
    pub orig_bytes: u64,
    /// Packets in the reply direction (CTA_COUNTERS_REPLY).
    pub repl_packets: u64,
    /// Bytes in the reply direction (CTA_COUNTERS_REPLY).
    pub repl_bytes: u64,
}

impl Counters {
    /// Bytes in both directions.
    pub fn total_bytes(&self) -> u64 {
        self.orig_bytes.saturating_add(self.repl_bytes)
    }
}

/// One conntrack entry.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Conn {
    /// CTA_ID: the kernel's id for this entry (unique among live entries).
    pub id: u32,
    /// Address family of both tuples (the message's `nfgen_family`).
    pub family: Family,
    /// IPPROTO_* number of the original tuple.
    pub l4proto: u8,
    /// Protocol state number from CTA_PROTOINFO (TCP_CONNTRACK_*, SCTP_CONNTRACK_*,
    /// CT_DCCP_*), `None` for protocols without a state machine.
    pub proto_state: Option<u8>,
    /// CTA_TUPLE_ORIG: the direction of the packet that created the entry.
    pub orig: Tuple,
    /// CTA_TUPLE_REPLY: the direction of the answers; not the mirror of `orig` under NAT.
    pub reply: Tuple,
    /// CTA_STATUS bits (IPS_*), named by [`crate::names::status_names`].
    pub status: u32,
    /// CTA_MARK: the connection mark (0 when unset).
    pub mark: u32,
    /// Seconds left before the entry expires, as the kernel reported it (CTA_TIMEOUT).
    pub timeout: u32,
    /// CTA_ZONE: the conntrack zone (0, the default zone, when absent).
    pub zone: u16,
    /// CTA_USE: the kernel's reference count.
    pub use_count: u32,
    /// CTA_COUNTERS_ORIG and CTA_COUNTERS_REPLY; `None` when accounting is off.
    pub counters: Option<Counters>,
    /// CTA_TIMESTAMP_START: start time in nanoseconds since the epoch (CLOCK_REALTIME), only with
    /// `nf_conntrack_timestamp=1`. Non-zero, so the option costs no space
    /// (a mirror holds a million of these).
    pub start_ns: Option<std::num::NonZeroU64>,
    /// CTA_LABELS (128 label bits), `None` when absent or all zero; boxed
    /// because almost no entry has them.
    pub labels: Option<Box<[u8; 16]>>,
    /// CTA_SECMARK (0 when absent).
    pub secmark: u32,
}

impl Conn {
    /// An un-NATed flow from `src:sport` to `dst:dport`: the reply tuple mirrors
    /// the original. For ICMP and ICMPv6 it is an echo request/reply pair whose
    /// identifier is `sport` (`dport` is unused). The family follows `src`.
    pub fn flow(l4proto: u8, src: IpAddr, dst: IpAddr, sport: u16, dport: u16) -> Conn {
        let family = Family::of(&src);
        let (orig, reply) = match l4proto {
            crate::consts::IPPROTO_ICMP | crate::consts::IPPROTO_ICMPV6 => {
                let (request, answer) = if family == Family::Ipv6 {
                    (128, 129)
                } else {
                    (8, 0)
                };
                let echo = |src, dst, icmp_type| Tuple {
                    src,
                    dst,
                    icmp_type,
                    icmp_id: sport,
                    ..Tuple::default()
                };
                (echo(src, dst, request), echo(dst, src, answer))
            }
            _ => (
                Tuple {
                    src,
                    dst,
                    sport,
                    dport,
                    ..Tuple::default()
                },
                Tuple {
                    src: dst,
                    dst: src,
                    sport: dport,
                    dport: sport,
                    ..Tuple::default()
                },
            ),
        };
        Conn::new(0, family, l4proto, orig, reply)
    }

    /// A connection with the given identity and every other field empty.
    pub fn new(id: u32, family: Family, l4proto: u8, orig: Tuple, reply: Tuple) -> Conn {
        Conn {
            id,
            family,
            l4proto,
            proto_state: None,
            orig,
            reply,
            status: 0,
            mark: 0,
            timeout: 0,
            zone: 0,
            use_count: 0,
            counters: None,
            start_ns: None,
            labels: None,
            secmark: 0,
        }
    }
}
