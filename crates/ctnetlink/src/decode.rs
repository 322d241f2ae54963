//! Decodes one ctnetlink conntrack message (nfgenmsg + attributes) into a [`Conn`],
//! walking the bytes in place: this is the dump hot path.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::attr::{be_u16, be_u32, be_u64, be_u8, Attrs};
use crate::conn::{Conn, Counters, Family, Tuple};
use crate::consts::*;
use crate::error::DecodeError;

/// Decodes the payload of an IPCTNL_MSG_CT_NEW/DELETE message (everything after
/// the netlink header). Unknown attributes are skipped; malformed ones are errors.
pub fn decode_conn(payload: &[u8]) -> Result<Conn, DecodeError> {
    let family_byte = *payload.first().ok_or(DecodeError::Missing("nfgenmsg header"))?;
    let attrs = payload.get(NFGENMSG_LEN..).ok_or(DecodeError::Missing("nfgenmsg header"))?;
    let family = Family::from_af(family_byte).ok_or(DecodeError::Family(family_byte))?;

    let mut conn = Conn::new(0, family, 0, Tuple::default(), Tuple::default());
    let mut have_orig = false;
    let mut have_id = false;
    let mut counters = Counters::default();
    let mut have_counters = false;
    for item in Attrs::new(attrs) {
        let (kind, p) = item?;
        match kind {
            CTA_TUPLE_ORIG => {
                let (tuple, proto) = decode_tuple(p)?;
                conn.orig = tuple;
                conn.l4proto = proto;
                have_orig = true;
            }
            CTA_TUPLE_REPLY => conn.reply = decode_tuple(p)?.0,
            CTA_STATUS => conn.status = be_u32(kind, p)?,
            CTA_PROTOINFO => conn.proto_state = decode_protoinfo(p)?,
            CTA_TIMEOUT => conn.timeout = be_u32(kind, p)?,
            CTA_MARK => conn.mark = be_u32(kind, p)?,
            CTA_COUNTERS_ORIG => {
                let (packets, bytes) = decode_counters(p)?;
                counters.orig_packets = packets;
                counters.orig_bytes = bytes;
                have_counters = true;
            }
            CTA_COUNTERS_REPLY => {
                let (packets, bytes) = decode_counters(p)?;
                counters.repl_packets = packets;
                counters.repl_bytes = bytes;
                have_counters = true;
            }
            CTA_USE => conn.use_count = be_u32(kind, p)?,
            CTA_ID => {
                conn.id = be_u32(kind, p)?;
                have_id = true;
            }
            CTA_SECMARK => conn.secmark = be_u32(kind, p)?,
            CTA_ZONE => conn.zone = be_u16(kind, p)?,
            CTA_TIMESTAMP => conn.start_ns = decode_timestamp(p)?,
            CTA_LABELS => {
                let mut labels = [0u8; 16];
                let n = p.len().min(16);
                labels[..n].copy_from_slice(&p[..n]);
                if labels.iter().any(|b| *b != 0) {
                    conn.labels = Some(Box::new(labels));
                }
            }
            _ => {}
        }
    }
    if !have_orig {
        return Err(DecodeError::Missing("CTA_TUPLE_ORIG"));
    }
    if !have_id {
        return Err(DecodeError::Missing("CTA_ID"));
    }
    if have_counters {
        conn.counters = Some(counters);
    }
    Ok(conn)
}

/// Decodes a CTA_TUPLE_* nest into the tuple and its layer-4 protocol number.
fn decode_tuple(buf: &[u8]) -> Result<(Tuple, u8), DecodeError> {
    let mut tuple = Tuple::default();
    let mut proto = 0;
    for item in Attrs::new(buf) {
        let (kind, p) = item?;
        match kind {
            CTA_TUPLE_IP => {
                for item in Attrs::new(p) {
                    let (kind, p) = item?;
                    match kind {
                        CTA_IP_V4_SRC => tuple.src = v4(kind, p)?,
                        CTA_IP_V4_DST => tuple.dst = v4(kind, p)?,
                        CTA_IP_V6_SRC => tuple.src = v6(kind, p)?,
                        CTA_IP_V6_DST => tuple.dst = v6(kind, p)?,
                        _ => {}
                    }
                }
            }
            CTA_TUPLE_PROTO => {
                for item in Attrs::new(p) {
                    let (kind, p) = item?;
                    match kind {
                        CTA_PROTO_NUM => proto = be_u8(kind, p)?,
                        CTA_PROTO_SRC_PORT => tuple.sport = be_u16(kind, p)?,
                        CTA_PROTO_DST_PORT => tuple.dport = be_u16(kind, p)?,
                        CTA_PROTO_ICMP_ID | CTA_PROTO_ICMPV6_ID => tuple.icmp_id = be_u16(kind, p)?,
                        CTA_PROTO_ICMP_TYPE | CTA_PROTO_ICMPV6_TYPE => {
                            tuple.icmp_type = be_u8(kind, p)?
                        }
                        CTA_PROTO_ICMP_CODE | CTA_PROTO_ICMPV6_CODE => {
                            tuple.icmp_code = be_u8(kind, p)?
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    Ok((tuple, proto))
}

fn v4(kind: u16, p: &[u8]) -> Result<IpAddr, DecodeError> {
    let b: [u8; 4] = p
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .ok_or(DecodeError::BadPayload { kind, len: p.len() })?;
    Ok(IpAddr::V4(Ipv4Addr::from(b)))
}

fn v6(kind: u16, p: &[u8]) -> Result<IpAddr, DecodeError> {
    let b: [u8; 16] = p
        .get(..16)
        .and_then(|b| b.try_into().ok())
        .ok_or(DecodeError::BadPayload { kind, len: p.len() })?;
    Ok(IpAddr::V6(Ipv6Addr::from(b)))
}

/// The protocol state inside CTA_PROTOINFO (TCP, SCTP or DCCP), if any.
fn decode_protoinfo(buf: &[u8]) -> Result<Option<u8>, DecodeError> {
    for item in Attrs::new(buf) {
        let (kind, p) = item?;
        if matches!(kind, CTA_PROTOINFO_TCP | CTA_PROTOINFO_DCCP | CTA_PROTOINFO_SCTP) {
            for item in Attrs::new(p) {
                let (inner, p) = item?;
                // TCP, DCCP and SCTP all number their state attribute 1.
                if inner == CTA_PROTOINFO_TCP_STATE {
                    return Ok(Some(be_u8(inner, p)?));
                }
            }
        }
    }
    Ok(None)
}

fn decode_counters(buf: &[u8]) -> Result<(u64, u64), DecodeError> {
    let (mut packets, mut bytes) = (0, 0);
    for item in Attrs::new(buf) {
        let (kind, p) = item?;
        match kind {
            CTA_COUNTERS_PACKETS => packets = be_u64(kind, p)?,
            CTA_COUNTERS_BYTES => bytes = be_u64(kind, p)?,
            CTA_COUNTERS32_PACKETS => packets = u64::from(be_u32(kind, p)?),
            CTA_COUNTERS32_BYTES => bytes = u64::from(be_u32(kind, p)?),
            _ => {}
        }
    }
    Ok((packets, bytes))
}

fn decode_timestamp(buf: &[u8]) -> Result<Option<u64>, DecodeError> {
    for item in Attrs::new(buf) {
        let (kind, p) = item?;
        if kind == CTA_TIMESTAMP_START {
            return Ok(Some(be_u64(kind, p)?));
        }
    }
    Ok(None)
}
