//! Adopting a netlink socket made elsewhere (e.g. inside another network
//! namespace by a helper process): the one place this crate needs `unsafe`.
#![allow(unsafe_code)]

use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd};

use netlink_sys::Socket;

/// Wraps an owned NETLINK_NETFILTER socket descriptor.
pub fn adopt(fd: OwnedFd) -> Socket {
    // SAFETY: `into_raw_fd` gives up ownership of a valid, open descriptor, so
    // the new `Socket` is its only owner and will close it exactly once.
    unsafe { Socket::from_raw_fd(fd.into_raw_fd()) }
}
