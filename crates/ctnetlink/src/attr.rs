//! Zero-copy walking of netlink attributes (TLVs), tolerant of truncation.

use crate::consts::NLA_TYPE_MASK;
use crate::error::DecodeError;

/// Iterates over the attributes in `buf`, yielding `(type, payload)`.
///
/// A truncated or malformed attribute ends the walk with an error item instead of
/// panicking; everything before it is still yielded.
#[derive(Debug, Clone)]
pub struct Attrs<'a> {
    buf: &'a [u8],
    failed: bool,
}

impl<'a> Attrs<'a> {
    pub fn new(buf: &'a [u8]) -> Attrs<'a> {
        Attrs { buf, failed: false }
    }
}

impl<'a> Iterator for Attrs<'a> {
    type Item = Result<(u16, &'a [u8]), DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.buf.len() < 4 {
            // Fewer than 4 bytes left is alignment padding at most.
            return None;
        }
        let len = usize::from(u16::from_ne_bytes([self.buf[0], self.buf[1]]));
        let kind = u16::from_ne_bytes([self.buf[2], self.buf[3]]) & NLA_TYPE_MASK;
        if len < 4 || len > self.buf.len() {
            self.failed = true;
            return Some(Err(DecodeError::BadAttribute {
                kind,
                len,
                available: self.buf.len(),
            }));
        }
        let payload = &self.buf[4..len];
        let aligned = (len + 3) & !3;
        self.buf = self.buf.get(aligned..).unwrap_or(&[]);
        Some(Ok((kind, payload)))
    }
}

pub fn be_u8(kind: u16, p: &[u8]) -> Result<u8, DecodeError> {
    p.first()
        .copied()
        .ok_or(DecodeError::BadPayload { kind, len: p.len() })
}

pub fn be_u16(kind: u16, p: &[u8]) -> Result<u16, DecodeError> {
    p.get(..2)
        .map(|b| u16::from_be_bytes([b[0], b[1]]))
        .ok_or(DecodeError::BadPayload { kind, len: p.len() })
}

pub fn be_u32(kind: u16, p: &[u8]) -> Result<u32, DecodeError> {
    p.get(..4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or(DecodeError::BadPayload { kind, len: p.len() })
}

pub fn be_u64(kind: u16, p: &[u8]) -> Result<u64, DecodeError> {
    let b: [u8; 8] = p
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .ok_or(DecodeError::BadPayload { kind, len: p.len() })?;
    Ok(u64::from_be_bytes(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_aligned_attributes_and_stops_on_truncation() {
        // attr 1: len 5 (one byte + 3 pad), attr 2: len 8, then a truncated header claiming 12.
        let buf = [
            5, 0, 1, 0, 7, 0, 0, 0, 8, 0, 2, 0, 1, 2, 3, 4, 12, 0, 3, 0, 9,
        ];
        let items: Vec<_> = Attrs::new(&buf).collect();
        assert_eq!(items.len(), 3);
        assert_eq!(items[0].as_ref().ok(), Some(&(1, &[7u8][..])));
        assert_eq!(items[1].as_ref().ok(), Some(&(2, &[1u8, 2, 3, 4][..])));
        assert!(items[2].is_err());
    }

    #[test]
    fn zero_length_attribute_is_an_error_not_a_loop() {
        let buf = [0, 0, 1, 0, 0, 0, 0, 0];
        let items: Vec<_> = Attrs::new(&buf).collect();
        assert_eq!(items.len(), 1);
        assert!(items[0].is_err());
    }

    #[test]
    fn short_integer_payloads_are_errors() {
        assert!(be_u32(7, &[1, 2]).is_err());
        assert!(be_u64(7, &[1, 2, 3, 4, 5, 6, 7]).is_err());
        assert_eq!(be_u16(7, &[1, 2]).ok(), Some(0x0102));
    }
}
