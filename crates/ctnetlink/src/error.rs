//! Errors of the conntrack netlink layer: kernel refusals with their errno in words,
//! socket failures, event overflow, and malformed messages.

use std::io;

/// A message or attribute the decoder could not make sense of.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// An attribute's length is shorter than its own 4-byte header or runs past
    /// the end of the enclosing buffer.
    #[error("attribute {kind} claims {len} bytes but {available} remain")]
    BadAttribute {
        /// Attribute type, NLA_F_NESTED and NLA_F_NET_BYTEORDER masked off.
        kind: u16,
        /// Length the attribute claims, its 4-byte header included.
        len: usize,
        /// Bytes left in the enclosing buffer from the attribute's start.
        available: usize,
    },
    /// An attribute payload is too short for its type (e.g. 2 bytes for a
    /// 32-bit CTA_MARK), or an NLMSG_ERROR carries no valid errno.
    #[error("attribute {kind} has a {len}-byte payload, too short for its type")]
    BadPayload {
        /// Attribute type; 0 for the payload of an NLMSG_ERROR.
        kind: u16,
        /// Payload length in bytes.
        len: usize,
    },
    /// A netlink message's `nlmsg_len` is below the 16-byte header or runs past
    /// the end of the datagram.
    #[error("netlink message claims {len} bytes but {available} remain")]
    BadMessage {
        /// Length the message claims, its 16-byte header included.
        len: usize,
        /// Bytes left in the datagram from the message's start.
        available: usize,
    },
    /// A conntrack message lacks a part every entry has: its nfgenmsg header,
    /// CTA_TUPLE_ORIG or CTA_ID (named in the field).
    #[error("conntrack message without {0}")]
    Missing(&'static str),
    /// The message's `nfgen_family` (the field) is neither AF_INET nor AF_INET6.
    #[error("unsupported address family {0}")]
    Family(u8),
}

/// Everything that can go wrong talking to ctnetlink.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The entry does not exist (ENOENT), e.g. it expired, or its id no longer matches.
    #[error("no such connection")]
    NotFound,
    /// The kernel refused without CAP_NET_ADMIN over the network namespace.
    // Plain on purpose: what to do about it depends on the program using this crate.
    #[error(
        "permission denied by the kernel: ctnetlink needs CAP_NET_ADMIN over the network namespace"
    )]
    PermissionDenied,
    /// The kernel answered with another errno.
    #[error("the kernel refused {op}: {} (errno {errno})", errno_words(*errno))]
    Kernel {
        /// The request refused: `dump`, `dump dying`, `get`, `delete`, `update`, `create` or `stats`.
        op: &'static str,
        /// The errno, positive (e.g. 16 for EBUSY).
        errno: i32,
    },
    /// The event socket's receive buffer overflowed (ENOBUFS): events were lost.
    #[error("conntrack event buffer overflowed: events were lost")]
    Overflow,
    /// Any other failure of the socket itself (creating, binding, sending, receiving).
    #[error("netlink socket: {0}")]
    Io(#[from] io::Error),
    /// The kernel's answer could not be decoded.
    #[error("malformed netlink message: {0}")]
    Decode(#[from] DecodeError),
}

impl Error {
    /// The error for a negative errno returned in an NLMSG_ERROR.
    pub fn from_errno(op: &'static str, errno: i32) -> Error {
        match errno {
            libc::ENOENT => Error::NotFound,
            libc::EPERM | libc::EACCES => Error::PermissionDenied,
            _ => Error::Kernel { op, errno },
        }
    }

    /// The error of a failed socket call, keeping EPERM distinct.
    pub fn from_io(e: io::Error) -> Error {
        match e.raw_os_error() {
            Some(libc::EPERM) | Some(libc::EACCES) => Error::PermissionDenied,
            Some(libc::ENOBUFS) => Error::Overflow,
            _ => Error::Io(e),
        }
    }
}

/// The errno's description, as strerror gives it ("No such file or directory").
pub fn errno_words(errno: i32) -> String {
    let text = io::Error::from_raw_os_error(errno).to_string();
    // io::Error renders "Message (os error N)"; keep the message.
    match text.rfind(" (os error") {
        Some(cut) => text[..cut].to_string(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_errors_are_in_words() {
        let e = Error::from_errno("update", libc::EBUSY);
        assert_eq!(
            e.to_string(),
            "the kernel refused update: Device or resource busy (errno 16)"
        );
        assert!(matches!(
            Error::from_errno("delete", libc::ENOENT),
            Error::NotFound
        ));
        let denied = Error::from_errno("dump", libc::EPERM).to_string();
        assert!(denied.contains("CAP_NET_ADMIN"), "{denied}");
        // A library does not know the binary that uses it (nfctd adds its own advice).
        assert!(!denied.contains("nfctd"), "{denied}");
    }
}
