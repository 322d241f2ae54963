//! Moving the calling (single-threaded) process into namespaces: a fresh private one, or an existing one.
#![allow(unsafe_code)]

use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::sched::{setns, unshare, CloneFlags};
use nix::unistd::{getegid, geteuid};

use crate::Error;

/// Number of threads of the calling process.
pub(crate) fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|d| d.count())
        .unwrap_or(1)
}

fn require_single_thread(op: &'static str) -> Result<(), Error> {
    match thread_count() {
        1 => Ok(()),
        threads => Err(Error::MultiThreaded { op, threads }),
    }
}

/// Moves the calling process into a fresh user+network namespace, mapping its effective
/// uid/gid to root inside, which gives it every capability over the new namespace.
///
/// The process must be single-threaded (the kernel refuses `unshare(CLONE_NEWUSER)`
/// otherwise): call this before starting any runtime. Sockets made before the call stay in
/// the namespaces they were made in, so listeners bound first keep serving the host.
pub fn enter_private() -> Result<(), Error> {
    require_single_thread("enter_private")?;
    let (uid, gid) = (geteuid(), getegid());
    unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNET)
        .map_err(|errno| Error::Unshare { errno })?;
    let write = |file: &'static str, text: String| {
        std::fs::write(file, text).map_err(|source| Error::IdMap { file, source })
    };
    write("/proc/self/setgroups", "deny".to_owned())?;
    write("/proc/self/uid_map", format!("0 {uid} 1"))?;
    write("/proc/self/gid_map", format!("0 {gid} 1"))?;
    Ok(())
}

/// Joins the network namespace at `path` (`/run/netns/NAME` or `/proc/PID/ns/net`).
///
/// If `setns(CLONE_NEWNET)` is refused with EPERM (an unprivileged caller), first joins the
/// user namespace that owns it (NS_GET_USERNS), which the caller may do when it created that
/// namespace, then retries. Must be called while single-threaded: joining a user namespace
/// needs it, and a network-namespace switch would only move the calling thread.
pub fn join(path: &Path) -> Result<(), Error> {
    require_single_thread("join")?;
    let open_err = |source| Error::Open {
        path: path.to_owned(),
        source,
    };
    let net = File::open(path).map_err(open_err)?;
    match setns(&net, CloneFlags::CLONE_NEWNET) {
        Ok(()) => return Ok(()),
        Err(Errno::EPERM) => {}
        Err(errno) => {
            return Err(Error::Setns {
                kind: "CLONE_NEWNET",
                path: path.to_owned(),
                errno,
            })
        }
    }
    let user = owning_userns(&net).map_err(|errno| Error::GetUserns {
        path: path.to_owned(),
        errno,
    })?;
    setns(&user, CloneFlags::CLONE_NEWUSER).map_err(|errno| Error::Setns {
        kind: "CLONE_NEWUSER (the user namespace owning it)",
        path: path.to_owned(),
        errno,
    })?;
    setns(&net, CloneFlags::CLONE_NEWNET).map_err(|errno| Error::Setns {
        kind: "CLONE_NEWNET",
        path: path.to_owned(),
        errno,
    })
}

/// The user namespace owning the namespace open as `ns` (ioctl NS_GET_USERNS).
pub(crate) fn owning_userns(ns: &File) -> Result<OwnedFd, Errno> {
    // SAFETY: NS_GET_USERNS takes no argument and returns a new file descriptor or -1;
    // `ns` is an open descriptor for the duration of the call.
    let fd = unsafe { libc::ioctl(ns.as_raw_fd(), libc::NS_GET_USERNS) };
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the ioctl succeeded, so `fd` is a fresh descriptor owned by nobody else.
    // The kernel opens it with O_CLOEXEC.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}
