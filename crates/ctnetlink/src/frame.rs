//! Splits a received netlink datagram into messages, without copying and
//! without trusting the lengths it claims.

use crate::error::DecodeError;

/// One netlink message inside a datagram.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// `nlmsg_type`: NLMSG_ERROR, NLMSG_DONE..., or for nfnetlink the subsystem
    /// in the high byte and the message in the low byte (see [`Frame::ct_msg`]).
    pub msg_type: u16,
    /// `nlmsg_flags` (NLM_F_*).
    pub flags: u16,
    /// `nlmsg_seq`: the sequence number of the request this message answers.
    pub seq: u32,
    /// Everything after the 16-byte netlink header.
    pub payload: &'a [u8],
}

impl Frame<'_> {
    /// The ctnetlink message number (low byte of the type) for subsystem messages.
    pub fn ct_msg(&self) -> u8 {
        (self.msg_type & 0xff) as u8
    }

    /// The errno carried by an NLMSG_ERROR (0 for an ACK).
    pub fn error_code(&self) -> Result<i32, DecodeError> {
        let bad = DecodeError::BadPayload {
            kind: 0,
            len: self.payload.len(),
        };
        let b: [u8; 4] = self
            .payload
            .get(..4)
            .and_then(|b| b.try_into().ok())
            .ok_or(bad.clone())?;
        // The kernel sends -errno; i32::MIN has no negation (found by fuzzing).
        i32::from_ne_bytes(b).checked_neg().ok_or(bad)
    }
}

/// Iterates over the messages of one datagram.
#[derive(Debug, Clone)]
pub struct Frames<'a> {
    buf: &'a [u8],
}

impl<'a> Frames<'a> {
    /// Walks the messages of `buf`, one received datagram. Header fields are
    /// read in host byte order, as netlink writes them.
    pub fn new(buf: &'a [u8]) -> Frames<'a> {
        Frames { buf }
    }
}

impl<'a> Iterator for Frames<'a> {
    type Item = Result<Frame<'a>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.buf.len() < 16 {
            return None;
        }
        let b = self.buf;
        let len = u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as usize;
        if len < 16 || len > b.len() {
            self.buf = &[];
            return Some(Err(DecodeError::BadMessage {
                len,
                available: b.len(),
            }));
        }
        let frame = Frame {
            msg_type: u16::from_ne_bytes([b[4], b[5]]),
            flags: u16::from_ne_bytes([b[6], b[7]]),
            seq: u32::from_ne_bytes([b[8], b[9], b[10], b[11]]),
            payload: &b[16..len],
        };
        let aligned = (len + 3) & !3;
        self.buf = b.get(aligned..).unwrap_or(&[]);
        Some(Ok(frame))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lying_length_ends_the_walk_with_an_error() {
        let mut buf = vec![0u8; 20];
        buf[0] = 200; // claims 200 bytes
        let frames: Vec<_> = Frames::new(&buf).collect();
        assert_eq!(frames.len(), 1);
        assert!(frames[0].is_err());
    }

    #[test]
    fn error_code_of_i32_min_is_an_error_not_an_overflow() {
        // The fuzz target netlink_dump's first finding: an NLMSG_ERROR whose
        // errno field is i32::MIN panicked negating it.
        let mut buf = vec![0u8; 20];
        buf[..4].copy_from_slice(&20u32.to_ne_bytes());
        buf[4..6].copy_from_slice(&crate::consts::NLMSG_ERROR.to_ne_bytes());
        buf[16..].copy_from_slice(&i32::MIN.to_ne_bytes());
        let frame = Frames::new(&buf).next().unwrap().unwrap();
        assert!(frame.error_code().is_err());
        buf[16..].copy_from_slice(&(-libc::ENOENT).to_ne_bytes());
        let frame = Frames::new(&buf).next().unwrap().unwrap();
        assert_eq!(frame.error_code(), Ok(libc::ENOENT));
    }
}
