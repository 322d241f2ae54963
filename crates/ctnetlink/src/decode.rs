//! Decodes one ctnetlink conntrack message (nfgenmsg + attributes) into a [`Conn`],
//! walking the bytes in place: this is the dump hot path.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::num::NonZeroU64;

use crate::attr::{be_u16, be_u32, be_u64, be_u8, Attrs};
use crate::conn::{Conn, Counters, Family, Tuple};
use crate::consts::*;
use crate::error::DecodeError;

/// Decodes the payload of an IPCTNL_MSG_CT_NEW/DELETE message (everything after
/// the netlink header). Unknown attributes are skipped; malformed ones are errors.
///
/// The payload is a 4-byte nfgenmsg header (address family first) and the
/// attributes; attribute headers are in host byte order, ctnetlink's integer
/// payloads big-endian.
///
/// ```
/// use ctnetlink::consts::*;
/// use ctnetlink::{decode_conn, DecodeError, Family};
///
/// /// One attribute: length and type (host byte order), payload padded to 4 bytes.
/// fn attr(kind: u16, payload: &[u8]) -> Vec<u8> {
///     let mut a = Vec::new();
///     a.extend_from_slice(&(4 + payload.len() as u16).to_ne_bytes());
///     a.extend_from_slice(&kind.to_ne_bytes());
///     a.extend_from_slice(payload);
///     a.resize(a.len().next_multiple_of(4), 0);
///     a
/// }
///
/// let ip = [
///     attr(CTA_IP_V4_SRC, &[192, 0, 2, 1]),
///     attr(CTA_IP_V4_DST, &[198, 51, 100, 2]),
/// ];
/// let proto = [
///     attr(CTA_PROTO_NUM, &[IPPROTO_TCP]),
///     attr(CTA_PROTO_SRC_PORT, &40000u16.to_be_bytes()),
///     attr(CTA_PROTO_DST_PORT, &443u16.to_be_bytes()),
/// ];
/// let tuple = [
///     attr(CTA_TUPLE_IP | NLA_F_NESTED, &ip.concat()),
///     attr(CTA_TUPLE_PROTO | NLA_F_NESTED, &proto.concat()),
/// ];
/// let mut payload = vec![Family::Ipv4.af(), NFNETLINK_V0, 0, 0];
/// payload.extend(attr(CTA_TUPLE_ORIG | NLA_F_NESTED, &tuple.concat()));
/// payload.extend(attr(CTA_ID, &7u32.to_be_bytes()));
/// payload.extend(attr(CTA_MARK, &6u32.to_be_bytes()));
///
/// let conn = decode_conn(&payload)?;
/// assert_eq!((conn.id, conn.mark, conn.l4proto), (7, 6, IPPROTO_TCP));
/// assert_eq!(conn.orig.src.to_string(), "192.0.2.1");
/// assert_eq!((conn.orig.sport, conn.orig.dport), (40000, 443));
/// assert_eq!(conn.counters, None); // no CTA_COUNTERS_*: accounting off
///
/// // Cut short, it is an error, never a panic.
/// assert!(matches!(
///     decode_conn(&payload[..40]),
///     Err(DecodeError::BadAttribute { kind: CTA_TUPLE_ORIG, .. })
/// ));
/// # Ok::<(), DecodeError>(())
/// ```
pub fn decode_conn(payload: &[u8]) -> Result<Conn, DecodeError> {
    let family_byte = *payload
        .first()
        .ok_or(DecodeError::Missing("nfgenmsg header"))?;
    let attrs = payload
        .get(NFGENMSG_LEN..)
        .ok_or(DecodeError::Missing("nfgenmsg header"))?;
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
        if matches!(
            kind,
            CTA_PROTOINFO_TCP | CTA_PROTOINFO_DCCP | CTA_PROTOINFO_SCTP
        ) {
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

/// The start timestamp; a start of 0 (never set) is none.
fn decode_timestamp(buf: &[u8]) -> Result<Option<NonZeroU64>, DecodeError> {
    for item in Attrs::new(buf) {
        let (kind, p) = item?;
        if kind == CTA_TIMESTAMP_START {
            return Ok(NonZeroU64::new(be_u64(kind, p)?));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    use crate::testutil::hex;

    /// Dump answers captured in a private namespace (acct=1, timestamp=1) after:
    /// conntrack -I -s 192.0.2.1 -d 198.51.100.2 -p tcp --sport 40000 --dport 443
    ///   --state ESTABLISHED -t 120 -m 2147483649 -u ASSURED,SEEN_REPLY
    /// (the conntrack tool stored mark 6), netlink header removed.
    const TCP_V4: &str = "02000000340001801400018008000100c000020108000200c63364021c0002800500010006000000060002009c4000000600030001bb0000340002801400018008000100c633640208000200c00002011c00028005000100060000000600020001bb0000060003009c400000080003000000000e080008000000000608000c009c63b91b08000b00000000010800070000000077300004802c000180050001000300000005000200000000000500030000000000060004000a000000060005000a0000001c0009800c00010000000000000000000c00020000000000000000001c000a800c00010000000000000000000c0002000000000000000000100014800c00010018eb9b53935810bb1c001880080001000000000008000200000000000800030000000000";
    /// conntrack -I -s 2001:db8::1 -d 2001:db8::2 -p udp --sport 5353 --dport 53 -t 30
    const UDP_V6: &str = "0a0000004c0001802c0001801400030020010db80000000000000000000000011400040020010db80000000000000000000000021c00028005000100110000000600020014e9000006000300003500004c0002802c0001801400030020010db80000000000000000000000021400040020010db80000000000000000000000011c000280050001001100000006000200003500000600030014e900000800030000000008080008000000000008000c0060e7593008000b0000000001080007000000001d1c0009800c00010000000000000000000c00020000000000000000001c000a800c00010000000000000000000c0002000000000000000000100014800c00010018eb9b5393842bff1c001880080001000000000008000200000000000800030000000000";

    #[test]
    fn decodes_a_captured_tcp_v4_entry() {
        let c = decode_conn(&hex(TCP_V4)).unwrap();
        assert_eq!(c.family, Family::Ipv4);
        assert_eq!(c.l4proto, IPPROTO_TCP);
        assert_eq!(c.orig.src.to_string(), "192.0.2.1");
        assert_eq!(c.orig.dst.to_string(), "198.51.100.2");
        assert_eq!((c.orig.sport, c.orig.dport), (40000, 443));
        assert_eq!((c.reply.sport, c.reply.dport), (443, 40000));
        assert_eq!(c.reply.src.to_string(), "198.51.100.2");
        assert_eq!(c.proto_state, Some(3)); // ESTABLISHED
        assert_eq!(c.status, 0x0e); // SEEN_REPLY | ASSURED | CONFIRMED
        assert_eq!(c.mark, 6);
        assert_eq!(c.timeout, 119);
        assert_eq!(c.use_count, 1);
        assert_eq!(c.id, 0x9c63_b91b);
        assert_eq!(c.counters, Some(Counters::default()));
        assert!(c.start_ns.is_some());
    }

    #[test]
    fn decodes_a_captured_udp_v6_entry() {
        let c = decode_conn(&hex(UDP_V6)).unwrap();
        assert_eq!(c.family, Family::Ipv6);
        assert_eq!(c.l4proto, IPPROTO_UDP);
        assert_eq!(c.orig.src.to_string(), "2001:db8::1");
        assert_eq!(c.reply.src.to_string(), "2001:db8::2");
        assert_eq!((c.orig.sport, c.orig.dport), (5353, 53));
        assert_eq!(c.proto_state, None);
        assert_eq!(c.timeout, 29);
    }

    #[test]
    fn every_truncation_is_an_error_or_a_shorter_entry_never_a_panic() {
        for capture in [TCP_V4, UDP_V6] {
            let bytes = hex(capture);
            for cut in 0..bytes.len() {
                let _ = decode_conn(&bytes[..cut]);
            }
            assert!(decode_conn(&bytes[..3]).is_err());
        }
    }

    #[test]
    fn corrupted_lengths_are_errors() {
        let mut bytes = hex(TCP_V4);
        bytes[4] = 0xff; // CTA_TUPLE_ORIG claims 255 bytes... still inside; make it overrun
        bytes[5] = 0x7f;
        assert!(decode_conn(&bytes).is_err());
        let mut bytes = hex(UDP_V6);
        bytes[0] = 99; // unknown family
        assert_eq!(decode_conn(&bytes), Err(DecodeError::Family(99)));
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = decode_conn(&bytes);
        }

        #[test]
        fn flipped_bytes_in_a_capture_never_panic(pos in 0usize..200, value in any::<u8>()) {
            let mut bytes = hex(TCP_V4);
            let at = pos % bytes.len();
            bytes[at] = value;
            let _ = decode_conn(&bytes);
        }
    }
}
