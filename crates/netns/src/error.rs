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
    MultiThreaded { op: &'static str, threads: usize },

    /// `unshare(CLONE_NEWUSER|CLONE_NEWNET)` failed.
    #[error("unshare(CLONE_NEWUSER|CLONE_NEWNET) failed: {errno}{}", unshare_hint(*.errno))]
    Unshare { errno: Errno },

    /// Writing `/proc/self/{setgroups,uid_map,gid_map}` failed.
    #[error("writing {file} failed: {source}")]
    IdMap {
        file: &'static str,
        source: io::Error,
    },

    /// Opening a namespace file or a `/proc/sys` file failed.
    #[error("opening {} failed: {source}", .path.display())]
    Open { path: PathBuf, source: io::Error },

    /// `setns()` into the namespace at `path` failed.
    #[error("setns({kind}) into {} failed: {errno}", .path.display())]
    Setns {
        kind: &'static str,
        path: PathBuf,
        errno: Errno,
    },

    /// `ioctl(NS_GET_USERNS)` on a network-namespace file failed.
    #[error("ioctl(NS_GET_USERNS) on {} failed: {errno}", .path.display())]
    GetUserns { path: PathBuf, errno: Errno },

    /// The kernel refused a netlink request (its NLMSG_ERROR carried a negative errno).
    #[error("{what} failed: {errno}")]
    Netlink { what: String, errno: Errno },

    /// Sending or receiving on a netlink socket failed.
    #[error("netlink {op} for {what} failed: {errno}")]
    NetlinkIo {
        op: &'static str,
        what: String,
        errno: Errno,
    },

    /// The kernel's netlink answer was not what the protocol promises.
    #[error("netlink answer for {what} is malformed: {detail}")]
    NetlinkProtocol { what: String, detail: String },

    /// A prefix length too long for its address family.
    #[error("invalid prefix length /{prefix} for {addr}")]
    InvalidPrefix { addr: std::net::IpAddr, prefix: u8 },

    /// A sysctl name that is not a plain relative path under `/proc/sys`.
    #[error("invalid sysctl name {0:?}")]
    InvalidSysctlName(String),

    /// Reading or writing a sysctl failed.
    #[error("sysctl {name} {op} failed: {source}")]
    Sysctl {
        name: String,
        op: &'static str,
        source: io::Error,
    },

    /// Spawning a helper process (the namespace holder or the fd factory) failed.
    #[error("spawning the {what} failed: {source}")]
    Spawn {
        what: &'static str,
        source: io::Error,
    },

    /// A step inside the fd-factory child (which runs inside the namespace) failed.
    #[error("{step} inside the namespace failed: {errno}")]
    Factory { step: String, errno: Errno },

    /// Talking to the fd-factory child over its Unix socket failed.
    #[error("receiving descriptors from the namespace helper failed: {detail}")]
    FdPassing { detail: String },
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
