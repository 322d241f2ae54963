//! Human names of kernel numbers: layer-4 protocols, protocol states and status flags.

use crate::consts::*;

/// The protocol's name as conntrack prints it (`tcp`, `udp`, ...), or its number.
pub fn proto_name(l4proto: u8) -> std::borrow::Cow<'static, str> {
    let name = match l4proto {
        IPPROTO_ICMP => "icmp",
        2 => "igmp",
        IPPROTO_TCP => "tcp",
        IPPROTO_UDP => "udp",
        IPPROTO_DCCP => "dccp",
        IPPROTO_GRE => "gre",
        50 => "esp",
        51 => "ah",
        IPPROTO_ICMPV6 => "icmpv6",
        IPPROTO_SCTP => "sctp",
        IPPROTO_UDPLITE => "udplite",
        other => return std::borrow::Cow::Owned(other.to_string()),
    };
    std::borrow::Cow::Borrowed(name)
}

/// The protocol number of a name accepted by [`proto_name`] (case-insensitive).
pub fn proto_number(name: &str) -> Option<u8> {
    (0..=255u8).find(|n| proto_name(*n).eq_ignore_ascii_case(name))
}

const TCP_STATES: [&str; 10] = [
    "NONE",
    "SYN_SENT",
    "SYN_RECV",
    "ESTABLISHED",
    "FIN_WAIT",
    "CLOSE_WAIT",
    "LAST_ACK",
    "TIME_WAIT",
    "CLOSE",
    "SYN_SENT2",
];
const SCTP_STATES: [&str; 10] = [
    "NONE",
    "CLOSED",
    "COOKIE_WAIT",
    "COOKIE_ECHOED",
    "ESTABLISHED",
    "SHUTDOWN_SENT",
    "SHUTDOWN_RECD",
    "SHUTDOWN_ACK_SENT",
    "HEARTBEAT_SENT",
    "HEARTBEAT_ACKED",
];
const DCCP_STATES: [&str; 10] = [
    "NONE", "REQUEST", "RESPOND", "PARTOPEN", "OPEN", "CLOSEREQ", "CLOSING", "TIMEWAIT", "IGNORE",
    "INVALID",
];

/// The state's name for protocols with a state machine; empty otherwise.
pub fn state_name(l4proto: u8, state: Option<u8>) -> &'static str {
    let Some(state) = state else { return "" };
    let table = match l4proto {
        IPPROTO_TCP => &TCP_STATES,
        IPPROTO_SCTP => &SCTP_STATES,
        IPPROTO_DCCP => &DCCP_STATES,
        _ => return "",
    };
    table.get(usize::from(state)).copied().unwrap_or("UNKNOWN")
}

/// The state number of a name for a protocol (case-insensitive).
pub fn state_number(l4proto: u8, name: &str) -> Option<u8> {
    let table = match l4proto {
        IPPROTO_TCP => &TCP_STATES,
        IPPROTO_SCTP => &SCTP_STATES,
        IPPROTO_DCCP => &DCCP_STATES,
        _ => return None,
    };
    table
        .iter()
        .position(|s| s.eq_ignore_ascii_case(name))
        .and_then(|i| u8::try_from(i).ok())
}

/// IPS_* status bits by bit number (include/uapi/linux/netfilter/nf_conntrack_common.h).
pub const STATUS_FLAGS: [&str; 16] = [
    "EXPECTED",
    "SEEN_REPLY",
    "ASSURED",
    "CONFIRMED",
    "SRC_NAT",
    "DST_NAT",
    "SEQ_ADJUST",
    "SRC_NAT_DONE",
    "DST_NAT_DONE",
    "DYING",
    "FIXED_TIMEOUT",
    "TEMPLATE",
    "NAT_CLASH",
    "HELPER",
    "OFFLOAD",
    "HW_OFFLOAD",
];

/// IPS_SEEN_REPLY: packets were seen in both directions.
pub const IPS_SEEN_REPLY: u32 = 1 << 1;
/// IPS_ASSURED: the entry is not early-dropped when the table is full.
pub const IPS_ASSURED: u32 = 1 << 2;
/// IPS_CONFIRMED: the entry is in the table (its first packet passed the last conntrack hook).
pub const IPS_CONFIRMED: u32 = 1 << 3;

/// The names of the flags set in a status word, lowest bit first.
pub fn status_names(status: u32) -> impl Iterator<Item = &'static str> {
    STATUS_FLAGS
        .iter()
        .enumerate()
        .filter(move |(bit, _)| status & (1 << bit) != 0)
        .map(|(_, n)| *n)
}

/// The bit of a status flag name (case-insensitive).
pub fn status_bit(name: &str) -> Option<u32> {
    STATUS_FLAGS
        .iter()
        .position(|f| f.eq_ignore_ascii_case(name))
        .map(|bit| 1 << bit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        assert_eq!(proto_name(6), "tcp");
        assert_eq!(proto_number("TCP"), Some(6));
        assert_eq!(proto_number("icmpv6"), Some(58));
        assert_eq!(proto_name(253), "253");
        assert_eq!(state_name(6, Some(3)), "ESTABLISHED");
        assert_eq!(state_name(17, Some(3)), "");
        assert_eq!(state_number(6, "time_wait"), Some(7));
        let names: Vec<_> = status_names(IPS_SEEN_REPLY | IPS_ASSURED | IPS_CONFIRMED).collect();
        assert_eq!(names, ["SEEN_REPLY", "ASSURED", "CONFIRMED"]);
        assert_eq!(status_bit("assured"), Some(IPS_ASSURED));
    }
}
