//! nfctd's IPFIX templates (RFC 7011 §3.4): the flow templates for IPv4 and
//! IPv6, the NAT44 event template, and the options template of the
//! exporter's own statistics; and the sets that announce them.

use super::ie::{self, Ie};

/// Set id of a Template Set (RFC 7011 §3.3.2).
pub const TEMPLATE_SET_ID: u16 = 2;
/// Set id of an Options Template Set.
pub const OPTIONS_TEMPLATE_SET_ID: u16 = 3;

/// A template: its id, the fields of its records in order, and how many of
/// the first fields are scope fields (options templates only).
#[derive(Debug, PartialEq, Eq)]
pub struct Template {
    pub id: u16,
    pub fields: &'static [Ie],
    pub scope_fields: u16,
}

impl Template {
    /// Bytes of one data record of this template.
    pub fn record_length(&self) -> usize {
        self.fields.iter().map(|f| usize::from(f.length)).sum()
    }

    /// This template's record in a (Options) Template Set.
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.id.to_be_bytes());
        let count = u16::try_from(self.fields.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&count.to_be_bytes());
        if self.scope_fields > 0 {
            out.extend_from_slice(&self.scope_fields.to_be_bytes());
        }
        for field in self.fields {
            // No enterprise bit: every element is IANA's.
            out.extend_from_slice(&field.id.to_be_bytes());
            out.extend_from_slice(&field.length.to_be_bytes());
        }
    }
}

/// A flow (end or interim record) of an IPv4 connection. Initiator is the
/// original direction, responder the reply direction.
pub const FLOW_V4: Template = Template {
    id: 256,
    fields: &[
        ie::FLOW_START_MILLISECONDS,
        ie::FLOW_END_MILLISECONDS,
        ie::SOURCE_IPV4_ADDRESS,
        ie::DESTINATION_IPV4_ADDRESS,
        ie::SOURCE_TRANSPORT_PORT,
        ie::DESTINATION_TRANSPORT_PORT,
        ie::PROTOCOL_IDENTIFIER,
        ie::POST_NAT_SOURCE_IPV4_ADDRESS,
        ie::POST_NAT_DESTINATION_IPV4_ADDRESS,
        ie::POST_NAPT_SOURCE_TRANSPORT_PORT,
        ie::POST_NAPT_DESTINATION_TRANSPORT_PORT,
        ie::OCTET_DELTA_COUNT,
        ie::PACKET_DELTA_COUNT,
        ie::RESPONDER_OCTETS,
        ie::RESPONDER_PACKETS,
        ie::FLOW_END_REASON,
        ie::FLOW_ID,
    ],
    scope_fields: 0,
};

/// The same for IPv6: the addresses are the IPv6 elements.
pub const FLOW_V6: Template = Template {
    id: 257,
    fields: &[
        ie::FLOW_START_MILLISECONDS,
        ie::FLOW_END_MILLISECONDS,
        ie::SOURCE_IPV6_ADDRESS,
        ie::DESTINATION_IPV6_ADDRESS,
        ie::SOURCE_TRANSPORT_PORT,
        ie::DESTINATION_TRANSPORT_PORT,
        ie::PROTOCOL_IDENTIFIER,
        ie::POST_NAT_SOURCE_IPV6_ADDRESS,
        ie::POST_NAT_DESTINATION_IPV6_ADDRESS,
        ie::POST_NAPT_SOURCE_TRANSPORT_PORT,
        ie::POST_NAPT_DESTINATION_TRANSPORT_PORT,
        ie::OCTET_DELTA_COUNT,
        ie::PACKET_DELTA_COUNT,
        ie::RESPONDER_OCTETS,
        ie::RESPONDER_PACKETS,
        ie::FLOW_END_REASON,
        ie::FLOW_ID,
    ],
    scope_fields: 0,
};

/// A NAT44 session create or delete event (RFC 8158 §4.3, without the
/// optional VRF and zone elements).
pub const NAT44_EVENT: Template = Template {
    id: 258,
    fields: &[
        ie::OBSERVATION_TIME_MILLISECONDS,
        ie::NAT_EVENT,
        ie::PROTOCOL_IDENTIFIER,
        ie::SOURCE_IPV4_ADDRESS,
        ie::POST_NAT_SOURCE_IPV4_ADDRESS,
        ie::DESTINATION_IPV4_ADDRESS,
        ie::POST_NAT_DESTINATION_IPV4_ADDRESS,
        ie::SOURCE_TRANSPORT_PORT,
        ie::POST_NAPT_SOURCE_TRANSPORT_PORT,
        ie::DESTINATION_TRANSPORT_PORT,
        ie::POST_NAPT_DESTINATION_TRANSPORT_PORT,
    ],
    scope_fields: 0,
};

/// The exporter's statistics for its observation domain (RFC 7011 §4.3,
/// without the exporter address and process id, which the domain scopes).
pub const EXPORTER_STATS: Template = Template {
    id: 259,
    fields: &[
        ie::OBSERVATION_DOMAIN_ID,
        ie::EXPORTED_MESSAGE_TOTAL_COUNT,
        ie::EXPORTED_FLOW_RECORD_TOTAL_COUNT,
        ie::NOT_SENT_FLOW_TOTAL_COUNT,
    ],
    scope_fields: 1,
};

/// The data templates, in the Template Set nfctd sends.
pub const DATA_TEMPLATES: [&Template; 3] = [&FLOW_V4, &FLOW_V6, &NAT44_EVENT];

/// Appends the Template Set (all data templates) and the Options Template
/// Set (the statistics template).
pub fn write_template_sets(out: &mut Vec<u8>) {
    write_set(out, TEMPLATE_SET_ID, |out| {
        for template in DATA_TEMPLATES {
            template.write(out);
        }
    });
    write_set(out, OPTIONS_TEMPLATE_SET_ID, |out| {
        EXPORTER_STATS.write(out)
    });
}

/// Appends a set with id `set_id` whose body `body` writes, with its length
/// filled in after.
pub fn write_set(out: &mut Vec<u8>, set_id: u16, body: impl FnOnce(&mut Vec<u8>)) {
    let start = out.len();
    out.extend_from_slice(&set_id.to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    body(out);
    let length = u16::try_from(out.len() - start).unwrap_or(u16::MAX);
    out[start + 2..start + 4].copy_from_slice(&length.to_be_bytes());
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn record_lengths_fit_the_budget() {
        // An IPv4 flow record must stay at or under 100 bytes on the wire.
        assert_eq!(FLOW_V4.record_length(), 82);
        assert_eq!(FLOW_V6.record_length(), 130);
        assert_eq!(NAT44_EVENT.record_length(), 34);
        assert_eq!(EXPORTER_STATS.record_length(), 28);
    }

    #[test]
    fn no_flow_template_carries_nat_event() {
        for template in [&FLOW_V4, &FLOW_V6] {
            assert!(template.fields.iter().all(|f| f.id != ie::NAT_EVENT.id));
        }
    }

    #[test]
    fn the_template_sets_are_as_rfc_7011_lays_them_out() {
        let mut out = Vec::new();
        write_template_sets(&mut out);
        #[rustfmt::skip]
        let v4: &[u8] = &[
            0x01, 0x00, 0x00, 17, // template 256, 17 fields
            0, 152, 0, 8,  0, 153, 0, 8,  0, 8, 0, 4,  0, 12, 0, 4,
            0, 7, 0, 2,  0, 11, 0, 2,  0, 4, 0, 1,  0, 225, 0, 4,
            0, 226, 0, 4,  0, 227, 0, 2,  0, 228, 0, 2,  0, 1, 0, 8,
            0, 2, 0, 8,  0, 232, 0, 8,  0x01, 0x2b, 0, 8,  0, 136, 0, 1,
            0, 148, 0, 8,
        ];
        #[rustfmt::skip]
        let v6: &[u8] = &[
            0x01, 0x01, 0x00, 17, // template 257, 17 fields
            0, 152, 0, 8,  0, 153, 0, 8,  0, 27, 0, 16,  0, 28, 0, 16,
            0, 7, 0, 2,  0, 11, 0, 2,  0, 4, 0, 1,  0x01, 0x19, 0, 16,
            0x01, 0x1a, 0, 16,  0, 227, 0, 2,  0, 228, 0, 2,  0, 1, 0, 8,
            0, 2, 0, 8,  0, 232, 0, 8,  0x01, 0x2b, 0, 8,  0, 136, 0, 1,
            0, 148, 0, 8,
        ];
        #[rustfmt::skip]
        let nat: &[u8] = &[
            0x01, 0x02, 0x00, 11, // template 258, 11 fields
            0x01, 0x43, 0, 8,  0, 230, 0, 1,  0, 4, 0, 1,  0, 8, 0, 4,
            0, 225, 0, 4,  0, 12, 0, 4,  0, 226, 0, 4,  0, 7, 0, 2,
            0, 227, 0, 2,  0, 11, 0, 2,  0, 228, 0, 2,
        ];
        #[rustfmt::skip]
        let options: &[u8] = &[
            0, 3, 0, 26, // options template set, 26 bytes
            0x01, 0x03, 0, 4, 0, 1, // template 259, 4 fields, 1 scope field
            0, 149, 0, 4,  0, 41, 0, 8,  0, 42, 0, 8,  0, 166, 0, 8,
        ];
        let set_length = 4 + v4.len() + v6.len() + nat.len();
        let mut expected = vec![0, 2];
        expected.extend_from_slice(&u16::try_from(set_length).unwrap().to_be_bytes());
        for part in [v4, v6, nat, options] {
            expected.extend_from_slice(part);
        }
        assert_eq!(out, expected);
        assert_eq!(out.len(), 196 + 26);
    }
}
