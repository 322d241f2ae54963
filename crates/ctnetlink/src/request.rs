//! Encodes ctnetlink requests (dump, get, create, delete, update, stats) as complete
//! netlink messages, using netlink-packet-netfilter's conntrack types.

use netlink_packet_core::{
    DefaultNla, NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_REQUEST,
};
use netlink_packet_netfilter::conntrack::{
    ConntrackAttribute, ConntrackMessage, IPTuple, ProtoInfo, ProtoInfoTCP, ProtoTuple, Protocol,
    Status, Tuple as NlTuple,
};
use netlink_packet_netfilter::{NetfilterHeader, NetfilterMessage};

use crate::conn::{Conn, Family, Tuple};
use crate::consts::*;

/// What identifies one live entry: its original tuple (with protocol, family and
/// zone) plus its id, so a newer entry that reused the tuple is never hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConnKey {
    /// CTA_ID of the entry.
    pub id: u32,
    /// Address family of the tuple.
    pub family: Family,
    /// IPPROTO_* number of the tuple.
    pub l4proto: u8,
    /// The original tuple (CTA_TUPLE_ORIG).
    pub orig: Tuple,
    /// The conntrack zone (CTA_ZONE).
    pub zone: u16,
}

impl Conn {
    /// The key that addresses exactly this entry in the kernel.
    pub fn key(&self) -> ConnKey {
        ConnKey {
            id: self.id,
            family: self.family,
            l4proto: self.l4proto,
            orig: self.orig,
            zone: self.zone,
        }
    }
}

/// A field change for [`CtSocket::update`](crate::CtSocket::update).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Sets the connection mark (CTA_MARK) to this value.
    Mark(u32),
    /// Sets the time left to this many seconds (CTA_TIMEOUT); 0 makes the entry expire at once.
    Timeout(u32),
}

fn message(
    msg_type: u8,
    flags: u16,
    family: u8,
    attrs: Vec<ConntrackAttribute>,
    seq: u32,
) -> Vec<u8> {
    let inner = match msg_type {
        IPCTNL_MSG_CT_NEW => ConntrackMessage::New(attrs),
        IPCTNL_MSG_CT_GET => ConntrackMessage::Get(attrs),
        IPCTNL_MSG_CT_DELETE => ConntrackMessage::Delete(attrs),
        other => ConntrackMessage::Other {
            message_type: other,
            attributes: Vec::new(),
        },
    };
    let nf = NetfilterMessage::new(NetfilterHeader::new(family.into(), NFNETLINK_V0, 0), inner);
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | flags;
    header.sequence_number = seq;
    let mut msg = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(nf));
    msg.finalize();
    let mut buf = vec![0; msg.buffer_len()];
    msg.serialize(&mut buf);
    buf
}

fn scalar(kind: u16, value: &[u8]) -> ConntrackAttribute {
    ConntrackAttribute::Other(DefaultNla::new(kind, value.to_vec()))
}

fn tuple(l4proto: u8, family: Family, t: &Tuple) -> Vec<NlTuple> {
    let mut proto = vec![ProtoTuple::Protocol(Protocol::from(l4proto))];
    match l4proto {
        IPPROTO_ICMP | IPPROTO_ICMPV6 => {
            let (id, ty, code) = if family == Family::Ipv6 {
                (
                    CTA_PROTO_ICMPV6_ID,
                    CTA_PROTO_ICMPV6_TYPE,
                    CTA_PROTO_ICMPV6_CODE,
                )
            } else {
                (CTA_PROTO_ICMP_ID, CTA_PROTO_ICMP_TYPE, CTA_PROTO_ICMP_CODE)
            };
            proto.push(ProtoTuple::Other(DefaultNla::new(
                id,
                t.icmp_id.to_be_bytes().to_vec(),
            )));
            proto.push(ProtoTuple::Other(DefaultNla::new(ty, vec![t.icmp_type])));
            proto.push(ProtoTuple::Other(DefaultNla::new(code, vec![t.icmp_code])));
        }
        // Every other protocol gets both port attributes: the kernel reads
        // them for TCP, UDP, SCTP, DCCP, UDP-Lite and GRE (whose keys it keeps
        // as ports, and without which it refuses the tuple) and ignores them
        // for the rest.
        _ => {
            proto.push(ProtoTuple::SourcePort(t.sport));
            proto.push(ProtoTuple::DestinationPort(t.dport));
        }
    }
    vec![
        NlTuple::Ip(vec![
            IPTuple::SourceAddress(t.src),
            IPTuple::DestinationAddress(t.dst),
        ]),
        NlTuple::Proto(proto),
    ]
}

fn key_attrs(key: &ConnKey) -> Vec<ConntrackAttribute> {
    vec![
        ConntrackAttribute::CtaTupleOrig(tuple(key.l4proto, key.family, &key.orig)),
        scalar(CTA_ID, &key.id.to_be_bytes()),
        scalar(CTA_ZONE, &key.zone.to_be_bytes()),
    ]
}

/// Dump every entry of every family.
pub fn dump(seq: u32) -> Vec<u8> {
    message(
        IPCTNL_MSG_CT_GET,
        NLM_F_DUMP,
        libc::AF_UNSPEC as u8,
        Vec::new(),
        seq,
    )
}

/// Dump the entries that ended and wait to have their DESTROY event
/// delivered again (`ctnetlink_dump_dying`).
pub fn dump_dying(seq: u32) -> Vec<u8> {
    message(
        IPCTNL_MSG_CT_GET_DYING,
        NLM_F_DUMP,
        libc::AF_UNSPEC as u8,
        Vec::new(),
        seq,
    )
}

/// Get one entry by tuple and id (ENOENT if the id differs).
pub fn get(key: &ConnKey, seq: u32) -> Vec<u8> {
    message(
        IPCTNL_MSG_CT_GET,
        NLM_F_ACK,
        key.family.af(),
        key_attrs(key),
        seq,
    )
}

/// Delete one entry by tuple and id. Never sent without the tuple: a DELETE
/// without CTA_TUPLE_ORIG flushes the whole table.
pub fn delete(key: &ConnKey, seq: u32) -> Vec<u8> {
    message(
        IPCTNL_MSG_CT_DELETE,
        NLM_F_ACK,
        key.family.af(),
        key_attrs(key),
        seq,
    )
}

/// Change one field of an existing entry (NEW + NLM_F_REPLACE, no NLM_F_CREATE).
pub fn update(key: &ConnKey, change: Change, seq: u32) -> Vec<u8> {
    let mut attrs = key_attrs(key);
    match change {
        Change::Mark(mark) => attrs.push(ConntrackAttribute::CtaMark(mark)),
        Change::Timeout(secs) => attrs.push(ConntrackAttribute::CtaTimeout(secs)),
    }
    message(
        IPCTNL_MSG_CT_NEW,
        NLM_F_REPLACE | NLM_F_ACK,
        key.family.af(),
        attrs,
        seq,
    )
}

/// Create an entry from a filled-in [`Conn`] (its id is ignored: the kernel assigns one).
pub fn create(conn: &Conn, seq: u32) -> Vec<u8> {
    let mut attrs = vec![
        ConntrackAttribute::CtaTupleOrig(tuple(conn.l4proto, conn.family, &conn.orig)),
        ConntrackAttribute::CtaTupleReply(tuple(conn.l4proto, conn.family, &conn.reply)),
        // The kernel confirms what it creates and refuses (EBUSY) a status
        // that would clear IPS_CONFIRMED.
        ConntrackAttribute::CtaStatus(Status::from_bits_retain(
            conn.status | crate::names::IPS_CONFIRMED,
        )),
        ConntrackAttribute::CtaTimeout(conn.timeout),
        ConntrackAttribute::CtaMark(conn.mark),
        scalar(CTA_ZONE, &conn.zone.to_be_bytes()),
    ];
    if let (Some(state), IPPROTO_TCP) = (conn.proto_state, conn.l4proto) {
        attrs.push(ConntrackAttribute::CtaProtoInfo(vec![ProtoInfo::TCP(
            vec![ProtoInfoTCP::State(state)],
        )]));
    }
    message(
        IPCTNL_MSG_CT_NEW,
        NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK,
        conn.family.af(),
        attrs,
        seq,
    )
}

/// Dump the per-CPU statistics (one message per CPU).
pub fn stats_cpu(seq: u32) -> Vec<u8> {
    message(
        IPCTNL_MSG_CT_GET_STATS_CPU,
        NLM_F_DUMP,
        libc::AF_UNSPEC as u8,
        Vec::new(),
        seq,
    )
}

/// Get the global statistics: entry count and table limit.
pub fn stats_global(seq: u32) -> Vec<u8> {
    message(
        IPCTNL_MSG_CT_GET_STATS,
        0,
        libc::AF_UNSPEC as u8,
        Vec::new(),
        seq,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::decode_conn;
    use std::net::{IpAddr, Ipv6Addr};

    fn sample(family: Family, l4proto: u8) -> Conn {
        let (a, b): (IpAddr, IpAddr) = match family {
            Family::Ipv4 => (
                "192.0.2.1".parse().unwrap(),
                "198.51.100.7".parse().unwrap(),
            ),
            Family::Ipv6 => (
                IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
                IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2)),
            ),
        };
        let orig = Tuple {
            src: a,
            dst: b,
            sport: 40000,
            dport: 443,
            ..Tuple::default()
        };
        let reply = Tuple {
            src: b,
            dst: a,
            sport: 443,
            dport: 40000,
            ..Tuple::default()
        };
        let mut c = Conn::new(7, family, l4proto, orig, reply);
        c.timeout = 120;
        c.mark = 0xdead_beef;
        c.status = 0x8;
        c.zone = 3;
        c.proto_state = Some(3);
        c
    }

    /// A create request carries the same attributes a dump answer would, so the
    /// decoder must read back what the encoder wrote (minus kernel-only fields).
    #[test]
    fn create_request_decodes_back() {
        for family in [Family::Ipv4, Family::Ipv6] {
            let c = sample(family, IPPROTO_TCP);
            let bytes = create(&c, 1);
            let mut back = decode_conn_with_id(&bytes[NLMSG_HDRLEN..], 7);
            back.id = 7;
            assert_eq!(back.orig, c.orig);
            assert_eq!(back.reply, c.reply);
            assert_eq!(
                (back.mark, back.timeout, back.zone, back.status),
                (c.mark, 120, 3, 8)
            );
            assert_eq!(back.proto_state, Some(3));
            assert_eq!(back.l4proto, IPPROTO_TCP);
            assert_eq!(back.family, family);
        }
    }

    #[test]
    fn delete_always_carries_tuple_and_id() {
        let c = sample(Family::Ipv4, IPPROTO_UDP);
        let bytes = delete(&c.key(), 9);
        let back = decode_conn(&bytes[NLMSG_HDRLEN..]).unwrap();
        assert_eq!(back.id, 7);
        assert_eq!(back.orig, c.orig);
        assert_eq!(back.zone, 3);
        // message type: subsystem 1, IPCTNL_MSG_CT_DELETE
        assert_eq!(u16::from_ne_bytes([bytes[4], bytes[5]]), 0x0102);
    }

    #[test]
    fn icmp_tuples_carry_type_code_id() {
        let mut c = sample(Family::Ipv4, IPPROTO_ICMP);
        c.orig = Tuple {
            sport: 0,
            dport: 0,
            icmp_type: 8,
            icmp_code: 0,
            icmp_id: 77,
            ..c.orig
        };
        let back = decode_conn(&delete(&c.key(), 1)[NLMSG_HDRLEN..]).unwrap();
        assert_eq!(
            (back.orig.icmp_type, back.orig.icmp_id, back.orig.sport),
            (8, 77, 0)
        );
    }

    fn decode_conn_with_id(payload: &[u8], id: u32) -> Conn {
        // Create requests have no CTA_ID; append one so the decoder accepts it.
        let mut p = payload.to_vec();
        p.extend_from_slice(&[8, 0, CTA_ID as u8, 0]);
        p.extend_from_slice(&id.to_be_bytes());
        decode_conn(&p).unwrap()
    }
}
