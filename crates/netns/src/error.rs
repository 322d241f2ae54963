//! The crate's error type: every variant names the step that failed and the errno in words.

use std::io;
use std::path::PathBuf;

use nix::errno::Errno;

/// What went wrong while making, joining or configuring a namespace.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A step that needs a single-threaded process was called from a multi-threaded one.
    #[error(
        "{op} needs a single-threaded process, but this one has {threads} threads \
         (call it before starting any runtime or thread)"
    )]
    MultiThreaded {
        /// The function refused: `enter_private` or `join`.
        op: &'static str,
        /// Threads the process had (entries of `/proc/self/task`).
        threads: usize,
    },

    /// `unshare(CLONE_NEWUSER|CLONE_NEWNET)` failed.
    #[error("unshare(CLONE_NEWUSER|CLONE_NEWNET) failed: {errno}{}", unshare_hint(*.errno))]
    Unshare {
        /// The errno of `unshare()`; for [`Sandbox::create`](crate::Sandbox::create),
        /// of the holder's `unshare()`.
        errno: Errno,
    },

    /// Writing `/proc/self/{setgroups,uid_map,gid_map}` failed.
    #[error("writing {file} failed: {source}")]
    IdMap {
        /// The file written, e.g. `/proc/self/uid_map`.
        file: &'static str,
        /// The write's error.
        source: io::Error,
    },

    /// Opening a namespace file or a `/proc/sys` file failed.
    #[error("opening {} failed: {source}", .path.display())]
    Open {
        /// The file opened.
        path: PathBuf,
        /// The open's error.
        source: io::Error,
    },

    /// `setns()` into the namespace at `path` failed.
    #[error("setns({kind}) into {} failed: {errno}", .path.display())]
    Setns {
        /// The namespace type joined: `CLONE_NEWNET`, or `CLONE_NEWUSER` for the
        /// user namespace owning the network namespace.
        kind: &'static str,
        /// The network-namespace file given.
        path: PathBuf,
        /// The errno of `setns()`.
        errno: Errno,
    },

    /// `ioctl(NS_GET_USERNS)` on a network-namespace file failed.
    #[error("ioctl(NS_GET_USERNS) on {} failed: {errno}", .path.display())]
    GetUserns {
        /// The network-namespace file given.
        path: PathBuf,
        /// The errno of the ioctl.
        errno: Errno,
    },

    /// The kernel refused a netlink request (its NLMSG_ERROR carried a negative errno).
    ///
    /// [`setup_loopback`](crate::setup_loopback) also reports this when it cannot make
    /// a socket to test the new addresses, or an address takes no connection within 5 seconds.
    #[error("{what} failed: {errno}")]
    Netlink {
        /// The request in words, e.g. `adding 10.0.0.1/8 to lo (RTM_NEWADDR)`.
        what: String,
        /// The errno the kernel answered with (or of the failed socket call or test connection).
        errno: Errno,
    },

    /// Sending or receiving on a netlink socket failed.
    #[error("netlink {op} for {what} failed: {errno}")]
    NetlinkIo {
        /// `send` or `recv`.
        op: &'static str,
        /// The first request of the batch, in words.
        what: String,
        /// The errno of the call.
        errno: Errno,
    },

    /// The kernel's netlink answer was not what the protocol promises.
    #[error("netlink answer for {what} is malformed: {detail}")]
    NetlinkProtocol {
        /// The request in words.
        what: String,
        /// What was wrong: a short send, a short NLMSG_ERROR, a missing ACK.
        detail: String,
    },

    /// A prefix length too long for its address family.
    #[error("invalid prefix length /{prefix} for {addr}")]
    InvalidPrefix {
        /// The address given.
        addr: std::net::IpAddr,
        /// The prefix length given: above 32 for IPv4 or 128 for IPv6.
        prefix: u8,
    },

    /// A sysctl name that is not a plain relative path under `/proc/sys`.
    #[error("invalid sysctl name {0:?}")]
    InvalidSysctlName(String),

    /// Reading or writing a sysctl failed.
    #[error("sysctl {name} {op} failed: {source}")]
    Sysctl {
        /// The sysctl name, as given.
        name: String,
        /// `read` or `write`.
        op: &'static str,
        /// The I/O error.
        source: io::Error,
    },

    /// Spawning a helper process (the namespace holder or the fd factory) failed.
    #[error("spawning the {what} failed: {source}")]
    Spawn {
        /// Which helper, and the program it runs (`cat` or `true`, found in `PATH`).
        what: &'static str,
        /// The spawn's error.
        source: io::Error,
    },

    /// A step inside the fd-factory child (which runs inside the namespace) failed.
    #[error("{step} inside the namespace failed: {errno}")]
    Factory {
        /// The step: `setns(CLONE_NEWUSER)`, `setns(CLONE_NEWNET)`,
        /// `socket(DOMAIN, TYPE, PROTOCOL)` or `opening PATH`.
        step: String,
        /// The errno of that step.
        errno: Errno,
    },

    /// Talking to the fd-factory child over its Unix socket failed.
    #[error("receiving descriptors from the namespace helper failed: {detail}")]
    FdPassing {
        /// What went wrong: the socket pair, `recvmsg`, a truncated answer, a
        /// helper that exited without answering, a missing descriptor.
        detail: String,
    },
}

fn unshare_hint(errno: Errno) -> &'static str {
    match errno {
        Errno::EINVAL => " (the process must be single-threaded)",
        Errno::EPERM | Errno::EACCES => {
            " (are unprivileged user namespaces disabled? see kernel.unprivileged_userns_clone / \
             user.max_user_namespaces / kernel.apparmor_restrict_unprivileged_userns)"
        }
        Errno::ENOSPC | Errno::EUSERS => {
            " (user.max_user_namespaces or user.max_net_namespaces reached)"
        }
        _ => "",
    }
}

impl Error {
    /// The errno behind this error, when there is one.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            Error::Unshare { errno }
            | Error::Setns { errno, .. }
            | Error::GetUserns { errno, .. }
            | Error::Netlink { errno, .. }
            | Error::NetlinkIo { errno, .. }
            | Error::Factory { errno, .. } => Some(*errno),
            Error::IdMap { source, .. }
            | Error::Open { source, .. }
            | Error::Sysctl { source, .. } => source.raw_os_error().map(Errno::from_raw),
            _ => None,
        }
    }
}
