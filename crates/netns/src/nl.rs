//! Hand-built netlink requests: a message/attribute writer and the send-then-check-every-ACK loop.

use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicU32, Ordering};

use nix::errno::Errno;
use nix::sys::socket::{recv, send, MsgFlags};

use crate::Error;

pub(crate) const NLM_F_REQUEST: u16 = libc::NLM_F_REQUEST as u16;
pub(crate) const NLM_F_ACK: u16 = libc::NLM_F_ACK as u16;
#[cfg(test)]
pub(crate) const NLM_F_DUMP: u16 = libc::NLM_F_DUMP as u16;
pub(crate) const NLM_F_REPLACE: u16 = libc::NLM_F_REPLACE as u16;
pub(crate) const NLM_F_CREATE: u16 = libc::NLM_F_CREATE as u16;
pub(crate) const NLM_F_APPEND: u16 = libc::NLM_F_APPEND as u16;
const NLA_F_NESTED: u16 = libc::NLA_F_NESTED as u16;
const NLMSG_ERROR: u16 = libc::NLMSG_ERROR as u16;
#[cfg(test)]
pub(crate) const NLMSG_DONE: u16 = libc::NLMSG_DONE as u16;
const NLMSG_HDRLEN: usize = 16;

/// Sequence numbers unique within the process, so answers to different requests never mix.
static SEQ: AtomicU32 = AtomicU32::new(1);

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// One or more netlink messages laid out back to back in one buffer, sent with one `send()`.
#[derive(Debug, Default)]
pub(crate) struct Request {
    buf: Vec<u8>,
    /// Start of the message being written.
    msg_start: usize,
    /// Starts of the open nested attributes.
    nests: Vec<usize>,
    /// (sequence number, description) of every message that asked for an ACK.
    acked: Vec<(u32, String)>,
}

impl Request {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Starts a message; when `flags` holds NLM_F_ACK, `what` names it in errors.
    /// `fixed` is the family header (ifinfomsg, nfgenmsg, ...) that follows the nlmsghdr.
    pub(crate) fn begin(
        &mut self,
        ty: u16,
        flags: u16,
        fixed: &[u8],
        what: impl Into<String>,
    ) -> u32 {
        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
        self.msg_start = self.buf.len();
        self.buf.extend_from_slice(&0u32.to_ne_bytes()); // length, patched by end()
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self.buf.extend_from_slice(&flags.to_ne_bytes());
        self.buf.extend_from_slice(&seq.to_ne_bytes());
        self.buf.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel fills it in
        self.put_padded(fixed);
        if flags & NLM_F_ACK != 0 {
            self.acked.push((seq, what.into()));
        }
        seq
    }

    /// Finishes the message started by `begin`.
    pub(crate) fn end(&mut self) {
        let len = (self.buf.len() - self.msg_start) as u32;
        self.buf[self.msg_start..self.msg_start + 4].copy_from_slice(&len.to_ne_bytes());
    }

    fn put_padded(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        self.buf.resize(align4(self.buf.len()), 0);
    }

    /// Appends one attribute with a raw payload.
    pub(crate) fn attr(&mut self, ty: u16, payload: &[u8]) -> &mut Self {
        let len = (4 + payload.len()) as u16;
        self.buf.extend_from_slice(&len.to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self.put_padded(payload);
        self
    }

    /// Appends a NUL-terminated string attribute.
    pub(crate) fn attr_str(&mut self, ty: u16, s: &str) -> &mut Self {
        let mut payload = Vec::with_capacity(s.len() + 1);
        payload.extend_from_slice(s.as_bytes());
        payload.push(0);
        self.attr(ty, &payload)
    }

    /// Appends a big-endian u32 attribute (the nf_tables convention).
    pub(crate) fn attr_be32(&mut self, ty: u16, v: u32) -> &mut Self {
        self.attr(ty, &v.to_be_bytes())
    }

    /// Opens a nested attribute; close it with `nest_end`.
    pub(crate) fn nest(&mut self, ty: u16) -> &mut Self {
        self.nests.push(self.buf.len());
        self.buf.extend_from_slice(&0u16.to_ne_bytes());
        self.buf
            .extend_from_slice(&(ty | NLA_F_NESTED).to_ne_bytes());
        self
    }

    pub(crate) fn nest_end(&mut self) -> &mut Self {
        if let Some(start) = self.nests.pop() {
            let len = (self.buf.len() - start) as u16;
            self.buf[start..start + 2].copy_from_slice(&len.to_ne_bytes());
        }
        self
    }

    #[cfg(test)]
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Sends the request and checks the answer to every message that asked for an ACK.
    ///
    /// The kernel handles a netlink request synchronously inside `send()` (rtnetlink and
    /// nfnetlink batches alike), so every answer is queued by the time `send()` returns:
    /// reading with MSG_DONTWAIT cannot hang, and a missing answer is a protocol error.
    pub(crate) fn transact(&self, sock: &OwnedFd) -> Result<(), Error> {
        let first_what = || self.acked.first().map(|a| a.1.clone()).unwrap_or_default();
        let fd = sock.as_raw_fd();
        let sent = send(fd, &self.buf, MsgFlags::empty()).map_err(|errno| Error::NetlinkIo {
            op: "send",
            what: first_what(),
            errno,
        })?;
        if sent != self.buf.len() {
            return Err(Error::NetlinkProtocol {
                what: first_what(),
                detail: format!("short send ({sent} bytes)"),
            });
        }
        let mut pending: Vec<(u32, &str)> =
            self.acked.iter().map(|(s, w)| (*s, w.as_str())).collect();
        let mut first_err: Option<Error> = None;
        let mut buf = vec![0u8; 64 * 1024];
        while !pending.is_empty() {
            let n = match recv(fd, &mut buf, MsgFlags::MSG_DONTWAIT) {
                Ok(n) => n,
                Err(Errno::EINTR) => continue,
                Err(Errno::EAGAIN) => break,
                Err(errno) => {
                    return Err(Error::NetlinkIo {
                        op: "recv",
                        what: first_what(),
                        errno,
                    })
                }
            };
            for (ty, seq, payload) in Messages::new(&buf[..n]) {
                if ty != NLMSG_ERROR {
                    continue;
                }
                let Some(pos) = pending.iter().position(|p| p.0 == seq) else {
                    continue;
                };
                let (_, what) = pending.swap_remove(pos);
                let code = payload
                    .get(..4)
                    .map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
                match code {
                    Some(0) => {}
                    Some(e) if first_err.is_none() => {
                        first_err = Some(Error::Netlink {
                            what: what.to_owned(),
                            errno: Errno::from_raw(-e),
                        });
                    }
                    Some(_) => {}
                    None => {
                        return Err(Error::NetlinkProtocol {
                            what: what.to_owned(),
                            detail: "short NLMSG_ERROR".into(),
                        })
                    }
                }
            }
        }
        if let Some(e) = first_err {
            return Err(e);
        }
        if let Some((_, what)) = pending.first() {
            return Err(Error::NetlinkProtocol {
                what: (*what).to_owned(),
                detail: "the kernel sent no ACK".into(),
            });
        }
        Ok(())
    }
}

/// Walks the netlink messages of one datagram, yielding (type, sequence number, payload).
#[derive(Debug)]
pub(crate) struct Messages<'a> {
    rest: &'a [u8],
}

impl<'a> Messages<'a> {
    pub(crate) fn new(datagram: &'a [u8]) -> Self {
        Self { rest: datagram }
    }
}

impl<'a> Iterator for Messages<'a> {
    type Item = (u16, u32, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let h = self.rest.get(..NLMSG_HDRLEN)?;
        let len = u32::from_ne_bytes([h[0], h[1], h[2], h[3]]) as usize;
        let ty = u16::from_ne_bytes([h[4], h[5]]);
        let seq = u32::from_ne_bytes([h[8], h[9], h[10], h[11]]);
        if len < NLMSG_HDRLEN || len > self.rest.len() {
            self.rest = &[];
            return None;
        }
        let payload = &self.rest[NLMSG_HDRLEN..len];
        self.rest = self.rest.get(align4(len)..).unwrap_or(&[]);
        Some((ty, seq, payload))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn layout_pads_and_patches_lengths() {
        let mut r = Request::new();
        r.begin(20, NLM_F_REQUEST | NLM_F_ACK, &[1, 2, 3], "x");
        r.nest(4).attr_str(1, "ab").nest_end();
        r.end();
        let b = r.bytes();
        assert_eq!(b.len(), 16 + 4 + 4 + 8);
        assert_eq!(
            u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as usize,
            b.len()
        );
        assert_eq!(&b[16..20], &[1, 2, 3, 0]);
        assert_eq!(u16::from_ne_bytes([b[20], b[21]]), 12); // nest covers its header + "ab\0" + pad
        assert_eq!(u16::from_ne_bytes([b[22], b[23]]), 4 | NLA_F_NESTED);
        assert_eq!(u16::from_ne_bytes([b[24], b[25]]), 7); // "ab\0" unpadded length
        let msgs: Vec<_> = Messages::new(b).collect();
        assert_eq!(msgs.len(), 1);
        assert_eq!(msgs[0].0, 20);
    }
}
