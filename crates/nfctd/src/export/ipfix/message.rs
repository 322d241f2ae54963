//! Packing records into IPFIX messages (RFC 7011 §3.1): the header, one set
//! per run of records of the same template, at most [`MAX_MESSAGE`] bytes,
//! and the sequence number.

use super::encode::{self, ExporterStats};
use super::template::{self, Template};
use crate::export::FlowRecord;

/// The largest message, header included: fits a 1500-byte Ethernet MTU with
/// IPv6 and UDP headers and room for a tunnel, so datagrams never fragment.
pub const MAX_MESSAGE: usize = 1400;
/// IPFIX message header: version, length, export time, sequence, domain.
pub const HEADER_LENGTH: usize = 16;
const SET_HEADER_LENGTH: usize = 4;
const VERSION: u16 = 10;

/// Whether the sequence number counts options data records too. RFC 7011
/// §3.1 says it counts all data records, and nfacctd checks it that way
/// (an exporter that leaves them out shows gaps there).
const SEQUENCE_COUNTS_OPTIONS_RECORDS: bool = true;

/// One message being filled, and the stream's sequence number.
pub struct Packer {
    observation_domain: u32,
    /// Data records sent in this stream before the message being filled.
    sequence: u32,
    buf: Vec<u8>,
    /// The open data set: its template id and where it starts.
    open_set: Option<(u16, usize)>,
    /// Data records in the message being filled (what the sequence counts).
    data_records: u32,
    /// Flow and NAT event records in the message being filled.
    flow_records: u32,
}

/// Whether a record went in.
#[derive(Debug, PartialEq, Eq)]
pub enum Added {
    Yes,
    /// The message has no room: finish it and add the record to the next.
    Full,
    /// IPFIX cannot carry it with nfctd's templates.
    Unencodable,
}

/// A finished message.
#[derive(Debug)]
pub struct Message {
    pub bytes: Vec<u8>,
    /// Flow and NAT event records in it (not the options record).
    pub flow_records: u32,
    /// Data records in it, options record included (what the sequence counts).
    data_records: u32,
}

impl Packer {
    pub fn new(observation_domain: u32) -> Packer {
        let mut packer = Packer {
            observation_domain,
            sequence: 0,
            buf: Vec::with_capacity(MAX_MESSAGE),
            open_set: None,
            data_records: 0,
            flow_records: 0,
        };
        packer.clear();
        packer
    }

    /// Whether the message being filled has nothing in it yet.
    pub fn is_empty(&self) -> bool {
        self.buf.len() == HEADER_LENGTH
    }

    /// The sequence number the next message will carry.
    #[cfg(test)]
    pub fn sequence(&self) -> u32 {
        self.sequence
    }

    /// A new transport session (a TCP connection) starts its count at 0.
    pub fn restart_sequence(&mut self) {
        self.sequence = 0;
    }

    /// Adds the template sets; they go first, into an empty message (they
    /// always fit one).
    pub fn add_templates(&mut self) {
        self.close_set();
        template::write_template_sets(&mut self.buf);
    }

    /// Adds the options record of the exporter's statistics.
    pub fn add_stats(&mut self, stats: &ExporterStats) -> Added {
        let template = &template::EXPORTER_STATS;
        if !self.make_room(template) {
            return Added::Full;
        }
        encode::write_stats(&mut self.buf, stats);
        if SEQUENCE_COUNTS_OPTIONS_RECORDS {
            self.data_records += 1;
        }
        Added::Yes
    }

    /// Adds `record`; `boot_epoch` makes its flowId.
    pub fn add_record(&mut self, record: &FlowRecord, boot_epoch: u32) -> Added {
        let Some(template) = encode::template_of(record) else {
            return Added::Unencodable;
        };
        if !self.make_room(template) {
            return Added::Full;
        }
        encode::write_record(&mut self.buf, record, boot_epoch);
        self.data_records += 1;
        self.flow_records += 1;
        Added::Yes
    }

    /// Opens a set of `template` unless one is open; false when its record
    /// would not fit.
    fn make_room(&mut self, template: &Template) -> bool {
        let same_set = matches!(self.open_set, Some((id, _)) if id == template.id);
        let needed = template.record_length() + if same_set { 0 } else { SET_HEADER_LENGTH };
        if self.buf.len() + needed > MAX_MESSAGE {
            return false;
        }
        if !same_set {
            self.close_set();
            self.open_set = Some((template.id, self.buf.len()));
            self.buf.extend_from_slice(&template.id.to_be_bytes());
            self.buf.extend_from_slice(&[0, 0]);
        }
        true
    }

    /// Writes the open set's length.
    fn close_set(&mut self) {
        if let Some((_, start)) = self.open_set.take() {
            let length = u16::try_from(self.buf.len() - start).unwrap_or(u16::MAX);
            self.buf[start + 2..start + 4].copy_from_slice(&length.to_be_bytes());
        }
    }

    fn clear(&mut self) {
        self.buf.clear();
        self.buf.resize(HEADER_LENGTH, 0);
        self.open_set = None;
        self.data_records = 0;
        self.flow_records = 0;
    }

    /// The message filled so far, stamped with `export_time` (Unix
    /// seconds); the sequence moves on by its data records, whether or not
    /// it reaches the collector (a lost datagram shows as a gap there)
    /// unless [`Packer::not_sent`] takes them back.
    pub fn finish(&mut self, export_time: u32) -> Message {
        self.close_set();
        // At most MAX_MESSAGE bytes (make_room and the template sets' size
        // see to it), so the length fits 16 bits.
        let length = u16::try_from(self.buf.len()).unwrap_or(u16::MAX);
        let mut header = [0u8; HEADER_LENGTH];
        header[0..2].copy_from_slice(&VERSION.to_be_bytes());
        header[2..4].copy_from_slice(&length.to_be_bytes());
        header[4..8].copy_from_slice(&export_time.to_be_bytes());
        header[8..12].copy_from_slice(&self.sequence.to_be_bytes());
        header[12..16].copy_from_slice(&self.observation_domain.to_be_bytes());
        self.buf[..HEADER_LENGTH].copy_from_slice(&header);
        self.sequence = self.sequence.wrapping_add(self.data_records);
        let message = Message {
            bytes: std::mem::replace(&mut self.buf, Vec::with_capacity(MAX_MESSAGE)),
            flow_records: self.flow_records,
            data_records: self.data_records,
        };
        self.clear();
        message
    }

    /// `message`, the last one finished, never left (its send failed): its
    /// records go again in a later message, so they are not counted twice.
    pub fn not_sent(&mut self, message: &Message) {
        self.sequence = self.sequence.wrapping_sub(message.data_records);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::export::RecordKind;

    fn record(kind: RecordKind) -> FlowRecord {
        super::super::encode::tests::masqueraded_v4(kind)
    }

    /// The sets of a message: (set id, length).
    fn sets(bytes: &[u8]) -> Vec<(u16, usize)> {
        let mut at = HEADER_LENGTH;
        let mut found = Vec::new();
        while at < bytes.len() {
            let id = u16::from_be_bytes([bytes[at], bytes[at + 1]]);
            let length = usize::from(u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]));
            assert!(length >= 4, "a set is at least its header");
            found.push((id, length));
            at += length;
        }
        assert_eq!(at, bytes.len(), "the sets fill the message exactly");
        found
    }

    #[test]
    fn the_header_says_version_length_time_sequence_and_domain() {
        let mut packer = Packer::new(0x0102_0304);
        assert!(packer.is_empty());
        assert_eq!(packer.add_record(&record(RecordKind::End), 0), Added::Yes);
        let message = packer.finish(1_700_000_000);
        let b = &message.bytes;
        assert_eq!(b.len(), 16 + 4 + 82);
        assert_eq!(
            &b[..16],
            &[0, 10, 0, 102, 0x65, 0x53, 0xf1, 0x00, 0, 0, 0, 0, 1, 2, 3, 4]
        );
        assert_eq!(sets(b), vec![(256, 86)]);
        assert_eq!(message.flow_records, 1);
        assert!(packer.is_empty());
    }

    #[test]
    fn many_records_make_messages_of_at_most_1400_bytes() {
        let mut packer = Packer::new(1);
        let kinds = [RecordKind::End, RecordKind::NatCreate, RecordKind::End];
        let mut messages = Vec::new();
        let mut added = 0;
        let mut v6 = record(RecordKind::Interim);
        v6.orig.src = "2001:db8::2".parse().unwrap();
        v6.orig.dst = "2001:db8::1".parse().unwrap();
        v6.reply.src = v6.orig.dst;
        v6.reply.dst = v6.orig.src;
        for i in 0..1000 {
            let r = if i % 7 == 0 {
                v6.clone()
            } else {
                record(kinds[i % 3])
            };
            if packer.is_empty() && i % 100 == 0 {
                packer.add_templates();
                assert_eq!(packer.add_stats(&ExporterStats::default()), Added::Yes);
            }
            match packer.add_record(&r, 0) {
                Added::Yes => added += 1,
                Added::Full => {
                    messages.push(packer.finish(0));
                    assert_eq!(packer.add_record(&r, 0), Added::Yes);
                    added += 1;
                }
                Added::Unencodable => panic!("every record here is encodable"),
            }
        }
        messages.push(packer.finish(0));
        let mut records = 0;
        for message in &messages {
            assert!(message.bytes.len() <= MAX_MESSAGE);
            let length = u16::from_be_bytes([message.bytes[2], message.bytes[3]]);
            assert_eq!(usize::from(length), message.bytes.len());
            sets(&message.bytes);
            records += message.flow_records;
        }
        assert_eq!(records, added);
        // Full messages are nearly full: no room for one more v4 record.
        assert!(messages[1].bytes.len() > MAX_MESSAGE - 86 - 130);
    }

    #[test]
    fn ipv4_flow_records_pack_16_to_a_message() {
        let mut packer = Packer::new(1);
        let mut n = 0;
        while packer.add_record(&record(RecordKind::End), 0) == Added::Yes {
            n += 1;
        }
        assert_eq!(n, 16);
        let bytes = packer.finish(0).bytes;
        assert_eq!(bytes.len(), 16 + 4 + 16 * 82);
        // On the wire, per record: its 82 bytes and a share of the headers.
        assert!(bytes.len() / 16 <= 100);
    }

    #[test]
    fn the_sequence_counts_the_data_records_sent_before_the_message() {
        let mut packer = Packer::new(1);
        let seq = |m: &Message| u32::from_be_bytes(m.bytes[8..12].try_into().unwrap());
        packer.add_templates();
        packer.add_stats(&ExporterStats::default());
        let first = packer.finish(0);
        assert_eq!(seq(&first), 0);
        for _ in 0..3 {
            packer.add_record(&record(RecordKind::End), 0);
        }
        let second = packer.finish(0);
        assert_eq!(seq(&second), 1, "the options record counts");
        packer.add_record(&record(RecordKind::NatDelete), 0);
        let third = packer.finish(0);
        assert_eq!(seq(&third), 4);
        assert_eq!(packer.sequence(), 5);
        packer.not_sent(&third);
        assert_eq!(
            packer.sequence(),
            4,
            "a message that never left counts nothing"
        );
        packer.add_record(&record(RecordKind::NatDelete), 0);
        assert_eq!(seq(&packer.finish(0)), 4, "its records go again");
        packer.add_templates();
        let empty = packer.finish(0);
        assert_eq!(seq(&empty), 5);
        assert_eq!(
            packer.sequence(),
            5,
            "a message of templates only counts nothing"
        );
        packer.restart_sequence();
        assert_eq!(packer.sequence(), 0);
        packer.sequence = u32::MAX;
        packer.add_record(&record(RecordKind::End), 0);
        packer.add_record(&record(RecordKind::End), 0);
        packer.finish(0);
        assert_eq!(packer.sequence(), 1, "the sequence wraps modulo 2^32");
    }

    #[test]
    fn records_of_one_template_share_one_set() {
        let mut packer = Packer::new(1);
        packer.add_templates();
        for kind in [
            RecordKind::NatCreate,
            RecordKind::End,
            RecordKind::End,
            RecordKind::NatDelete,
        ] {
            packer.add_record(&record(kind), 0);
        }
        let bytes = packer.finish(0).bytes;
        let found = sets(&bytes);
        assert_eq!(
            found,
            vec![
                (2, 196),
                (3, 26),
                (258, 4 + 34),
                (256, 4 + 2 * 82),
                (258, 4 + 34)
            ]
        );
    }
}
