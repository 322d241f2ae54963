//! `Sandbox`: a private user+network namespace for a multi-threaded caller, held open by a
//! helper process, with a factory for sockets and /proc/sys files made inside it.

use std::ffi::CString;
use std::fs::File;
use std::io::{Read, Write};
use std::net::IpAddr;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::process::Child;

use crate::spawn::{fds_in_namespace, spawn_holder, Spec};
use crate::{sysctl, Error};

/// A private user+network namespace owned by the calling process.
///
/// A multi-threaded process cannot `unshare(CLONE_NEWUSER)`, so a forked holder process
/// (`cat` with a piped stdin) makes the namespace and keeps it alive. The caller, as the
/// owner of the new user namespace, holds every capability over it. Dropping the `Sandbox`
/// kills and reaps the holder; if the caller dies instead, the holder sees EOF and exits.
#[derive(Debug)]
pub struct Sandbox {
    holder: Child,
}

impl Sandbox {
    /// Makes a fresh namespace.
    pub fn create() -> Result<Sandbox, Error> {
        Ok(Sandbox {
            holder: spawn_holder()?,
        })
    }

    /// `/proc/<holder pid>/ns/net`: what `nfctd --netns` is given.
    pub fn netns_path(&self) -> PathBuf {
        self.ns_path("net")
    }

    /// `/proc/<holder pid>/ns/user`: the user namespace owning the network namespace.
    pub fn userns_path(&self) -> PathBuf {
        self.ns_path("user")
    }

    /// The process id of the holder.
    pub fn holder_pid(&self) -> u32 {
        self.holder.id()
    }

    fn ns_path(&self, kind: &str) -> PathBuf {
        PathBuf::from(format!("/proc/{}/ns/{kind}", self.holder.id()))
    }

    fn fds(&self, specs: Vec<Spec>) -> Result<Vec<OwnedFd>, Error> {
        let open = |path: PathBuf| File::open(&path).map_err(|source| Error::Open { path, source });
        let user = open(self.userns_path())?;
        let net = open(self.netns_path())?;
        fds_in_namespace(&user, &net, specs)
    }

    /// Sockets created inside the namespace, one per (domain, type, protocol); SOCK_CLOEXEC is added.
    pub fn sockets(&self, specs: &[(i32, i32, i32)]) -> Result<Vec<OwnedFd>, Error> {
        self.fds(
            specs
                .iter()
                .map(|&(domain, ty, protocol)| Spec::Socket {
                    domain,
                    ty,
                    protocol,
                })
                .collect(),
        )
    }

    /// One socket created inside the namespace.
    pub fn socket(&self, domain: i32, ty: i32, protocol: i32) -> Result<OwnedFd, Error> {
        self.sockets(&[(domain, ty, protocol)])?
            .pop()
            .ok_or_else(|| Error::FdPassing {
                detail: "no descriptor received".into(),
            })
    }

    /// A NETLINK_ROUTE socket inside the namespace.
    pub fn route_socket(&self) -> Result<OwnedFd, Error> {
        self.socket(libc::AF_NETLINK, libc::SOCK_RAW, libc::NETLINK_ROUTE)
    }

    /// A NETLINK_NETFILTER socket inside the namespace (for nf_tables and ctnetlink).
    pub fn netfilter_socket(&self) -> Result<OwnedFd, Error> {
        self.socket(libc::AF_NETLINK, libc::SOCK_RAW, libc::NETLINK_NETFILTER)
    }

    /// Opens a sysctl file of the namespace: the child opens it inside, the caller then reads
    /// or writes it (as owner of the user namespace it has CAP_NET_ADMIN over it).
    fn sysctl_file(&self, name: &str, flags: i32) -> Result<File, Error> {
        let path = sysctl::path(name)?;
        let path = CString::new(path.into_os_string().into_encoded_bytes())
            .map_err(|_| Error::InvalidSysctlName(name.to_owned()))?;
        let fd = self
            .fds(vec![Spec::Open { path, flags }])?
            .pop()
            .ok_or_else(|| Error::FdPassing {
                detail: "no descriptor received".into(),
            })?;
        Ok(File::from(fd))
    }

    /// Writes a sysctl of the namespace, e.g. `("net/netfilter/nf_conntrack_acct", "1")`.
    pub fn set_sysctl(&self, name: &str, value: &str) -> Result<(), Error> {
        let mut f = self.sysctl_file(name, libc::O_WRONLY)?;
        f.write_all(value.as_bytes())
            .map_err(|source| Error::Sysctl {
                name: name.to_owned(),
                op: "write",
                source,
            })
    }

    /// Reads a sysctl of the namespace, trailing newline removed.
    pub fn sysctl(&self, name: &str) -> Result<String, Error> {
        let mut f = self.sysctl_file(name, libc::O_RDONLY)?;
        let mut s = String::new();
        f.read_to_string(&mut s).map_err(|source| Error::Sysctl {
            name: name.to_owned(),
            op: "read",
            source,
        })?;
        Ok(s.trim_end_matches('\n').to_owned())
    }

    /// Brings up `lo` inside the namespace and adds `addrs` to it, returning
    /// once they take connections.
    pub fn setup_loopback(&self, addrs: &[(IpAddr, u8)]) -> Result<(), Error> {
        crate::rtnl::configure_loopback(&self.route_socket()?, addrs)?;
        crate::rtnl::wait_routable(addrs, |domain| self.socket(domain, libc::SOCK_STREAM, 0))
    }

    /// Makes the namespace track connections (see [`crate::enable_conntrack`]).
    pub fn enable_conntrack(&self) -> Result<(), Error> {
        crate::enable_conntrack(&self.netfilter_socket()?)
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}
