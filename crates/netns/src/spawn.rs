//! Helper processes forked into namespaces — the namespace holder and the fd factory — and the
//! code they run between fork and exec (raw syscalls on memory prepared before the fork).
#![allow(unsafe_code)]

use std::ffi::CString;
use std::fs::File;
use std::io::{self, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

use libc::c_int;
use nix::errno::Errno;
use nix::sys::socket::{
    recvmsg, socketpair, AddressFamily, ControlMessageOwned, MsgFlags, SockFlag, SockType,
};

use crate::Error;

/// Starts `cat` (stdin piped) in a fresh user+network namespace, mapping the caller's
/// effective uid/gid to root there (best effort). `cat` exits when its stdin closes, so the
/// namespace dies with the owner of the pipe even if nobody kills it.
pub(crate) fn spawn_holder() -> Result<Child, Error> {
    let maps = [
        (c"/proc/self/setgroups", b"deny".to_vec()),
        (
            c"/proc/self/uid_map",
            format!("0 {} 1", nix::unistd::geteuid()).into_bytes(),
        ),
        (
            c"/proc/self/gid_map",
            format!("0 {} 1", nix::unistd::getegid()).into_bytes(),
        ),
    ];
    let mut cmd = Command::new("cat");
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let pre_exec = move || {
        // SAFETY: a raw syscall with no pointers.
        if unsafe { libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNET) } != 0 {
            return Err(io::Error::last_os_error());
        }
        for (file, text) in &maps {
            // SAFETY: `file` is a NUL-terminated string and `text` a buffer, both made before fork.
            unsafe {
                let fd = libc::open(file.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                if fd >= 0 {
                    libc::write(fd, text.as_ptr().cast(), text.len());
                    libc::close(fd);
                }
            }
        }
        Ok(())
    };
    // SAFETY: the closure only makes raw syscalls (unshare, open, write, close) on memory
    // allocated before the fork: it neither allocates nor takes locks.
    unsafe { cmd.pre_exec(pre_exec) };
    cmd.spawn()
        .map_err(|source| match source.raw_os_error().map(Errno::from_raw) {
            // The errors unshare gives; exec of `cat` fails with ENOENT/EACCES/ENOEXEC instead.
            Some(errno @ (Errno::EPERM | Errno::EINVAL | Errno::ENOSPC | Errno::EUSERS)) => {
                Error::Unshare { errno }
            }
            _ => Error::Spawn {
                what: "namespace holder (cat in a new user+net namespace)",
                source,
            },
        })
}

/// A descriptor to create inside the namespace.
#[derive(Debug)]
pub(crate) enum Spec {
    Socket {
        domain: c_int,
        ty: c_int,
        protocol: c_int,
    },
    Open {
        path: CString,
        flags: c_int,
    },
}

impl Spec {
    fn describe(&self) -> String {
        match self {
            Spec::Socket {
                domain,
                ty,
                protocol,
            } => format!("socket({domain}, {ty}, {protocol})"),
            Spec::Open { path, .. } => format!("opening {}", path.to_string_lossy()),
        }
    }
}

/// Status words the factory child sends: [step, index, errno]; step 0 means success.
const STEP_OK: i32 = 0;
const STEP_USERNS: i32 = 1;
const STEP_NETNS: i32 = 2;
const STEP_FD: i32 = 3;

/// Creates the descriptors of `specs` inside the namespaces `user_ns`/`net_ns` (open files of
/// /proc/PID/ns/*): a short-lived child setns()es into them, makes the descriptors and sends
/// them back in one SCM_RIGHTS message, then execs `true`.
pub(crate) fn fds_in_namespace(
    user_ns: &File,
    net_ns: &File,
    specs: Vec<Spec>,
) -> Result<Vec<OwnedFd>, Error> {
    let pass_err = |what: &str, errno: Errno| Error::FdPassing {
        detail: format!("{what}: {errno}"),
    };
    let (ours, theirs) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| pass_err("socketpair(AF_UNIX, SOCK_SEQPACKET)", e))?;
    let n = specs.len();
    let descriptions: Vec<String> = specs.iter().map(Spec::describe).collect();
    let mut child = Plan {
        user_ns: user_ns.as_raw_fd(),
        net_ns: net_ns.as_raw_fd(),
        chan: theirs.as_raw_fd(),
        specs,
        fds: vec![-1; n],
        // u64 words: cmsghdr needs 8-byte alignment, which a Vec<u8> does not promise.
        cmsg: vec![0u64; cmsg_space(n).div_ceil(8).max(1)],
    };
    let mut cmd = Command::new("true");
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: `Plan::run` only makes raw syscalls (setns, socket, open, sendmsg) on memory
    // allocated before the fork: it neither allocates nor takes locks.
    unsafe {
        cmd.pre_exec(move || {
            child.run();
            Ok(())
        })
    };
    let mut proc = cmd.spawn().map_err(|source| Error::Spawn {
        what: "fd factory (true)",
        source,
    })?;
    drop(theirs);
    let received = receive(&ours, n);
    let _ = proc.wait();
    let (status, fds) = received?;
    match status {
        [STEP_OK, _, _] if fds.len() == n => Ok(fds),
        [STEP_OK, _, _] => Err(Error::FdPassing {
            detail: format!("expected {n} descriptors, got {}", fds.len()),
        }),
        [STEP_USERNS, _, e] => Err(Error::Factory {
            step: "setns(CLONE_NEWUSER)".into(),
            errno: Errno::from_raw(e),
        }),
        [STEP_NETNS, _, e] => Err(Error::Factory {
            step: "setns(CLONE_NEWNET)".into(),
            errno: Errno::from_raw(e),
        }),
        [_, i, e] => {
            let step = usize::try_from(i)
                .ok()
                .and_then(|i| descriptions.get(i))
                .cloned()
                .unwrap_or_default();
            Err(Error::Factory {
                step,
                errno: Errno::from_raw(e),
            })
        }
    }
}

/// Bytes of control data that carry `n` descriptors (CMSG_SPACE).
fn cmsg_space(n: usize) -> usize {
    // SAFETY: CMSG_SPACE is pure arithmetic (libc declares it unsafe only because its
    // neighbours dereference pointers).
    unsafe { libc::CMSG_SPACE((n * size_of::<c_int>()) as u32) as usize }
}

/// What the factory child works on; everything is allocated before the fork.
struct Plan {
    user_ns: RawFd,
    net_ns: RawFd,
    chan: RawFd,
    specs: Vec<Spec>,
    fds: Vec<c_int>,
    cmsg: Vec<u64>,
}

impl Plan {
    /// Runs in the forked child: enter the namespaces, make the fds, send them and a status.
    fn run(&mut self) {
        // SAFETY: setns on descriptors inherited from the parent; no memory is touched.
        if unsafe { libc::setns(self.user_ns, libc::CLONE_NEWUSER) } != 0 {
            return self.send([STEP_USERNS, 0, errno()], 0);
        }
        // SAFETY: as above.
        if unsafe { libc::setns(self.net_ns, libc::CLONE_NEWNET) } != 0 {
            return self.send([STEP_NETNS, 0, errno()], 0);
        }
        for (i, spec) in self.specs.iter().enumerate() {
            let fd = match spec {
                // SAFETY: a raw syscall with no pointers.
                Spec::Socket {
                    domain,
                    ty,
                    protocol,
                } => unsafe { libc::socket(*domain, *ty | libc::SOCK_CLOEXEC, *protocol) },
                // SAFETY: `path` is a NUL-terminated string made before the fork.
                Spec::Open { path, flags } => unsafe {
                    libc::open(path.as_ptr(), *flags | libc::O_CLOEXEC)
                },
            };
            if fd < 0 {
                return self.send([STEP_FD, i as i32, errno()], 0);
            }
            self.fds[i] = fd;
        }
        self.send([STEP_OK, 0, 0], self.fds.len());
    }

    /// Sends `status` and the first `nfds` descriptors of `self.fds` in one message.
    ///
    /// Hand-rolled rather than nix's `sendmsg`: that one allocates its control buffer on every
    /// call, and this runs between fork and exec where allocating may deadlock. nix's
    /// allocation-free path (`sendmmsg` on preallocated `MultiHeaders`) holds raw pointers, so
    /// it is neither `Send` nor `Sync` and cannot be moved into the `pre_exec` closure.
    fn send(&mut self, status: [i32; 3], nfds: usize) {
        let mut iov = libc::iovec {
            iov_base: status.as_ptr() as *mut libc::c_void,
            iov_len: size_of_val(&status),
        };
        // SAFETY: an all-zero msghdr is valid (no name, no control); the pointers set below
        // point into `iov`, `self.cmsg` and `self.fds`, which outlive the sendmsg call, and
        // `self.cmsg` holds CMSG_SPACE(len(fds) * 4) bytes, aligned to 8.
        unsafe {
            let mut msg: libc::msghdr = std::mem::zeroed();
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            if nfds > 0 {
                let data_len = (nfds * size_of::<c_int>()) as u32;
                msg.msg_control = self.cmsg.as_mut_ptr().cast();
                msg.msg_controllen = libc::CMSG_SPACE(data_len) as _;
                let cmsg = libc::CMSG_FIRSTHDR(&msg);
                (*cmsg).cmsg_level = libc::SOL_SOCKET;
                (*cmsg).cmsg_type = libc::SCM_RIGHTS;
                (*cmsg).cmsg_len = libc::CMSG_LEN(data_len) as _;
                std::ptr::copy_nonoverlapping(
                    self.fds.as_ptr().cast::<u8>(),
                    libc::CMSG_DATA(cmsg),
                    data_len as usize,
                );
            }
            libc::sendmsg(self.chan, &msg, libc::MSG_NOSIGNAL);
        }
    }
}

fn errno() -> i32 {
    Errno::last_raw()
}

/// Receives the factory's status and descriptors (up to `n`), taking ownership of them at once.
fn receive(sock: &OwnedFd, n: usize) -> Result<([i32; 3], Vec<OwnedFd>), Error> {
    let pass_err = |detail: String| Error::FdPassing { detail };
    let mut status = [0u8; 3 * size_of::<i32>()];
    // A byte buffer as nix's own `cmsg_space!` makes it (the allocator aligns it for cmsghdr).
    let mut cmsg = vec![0u8; cmsg_space(n)];
    let (got, flags, raw_fds) = loop {
        let mut iov = [IoSliceMut::new(&mut status)];
        // MSG_CMSG_CLOEXEC: the descriptors must not leak into programs this process starts
        // before it wraps them (the flag is set atomically by the kernel on receipt).
        match recvmsg::<()>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(pass_err(format!("recvmsg: {e}"))),
            Ok(msg) => {
                // The buffer holds CMSG_SPACE(n descriptors) and the child sends at most n, so
                // the control data is never truncated and `cmsgs()` (which refuses truncated
                // control data) sees every descriptor the kernel installed.
                let cmsgs = msg
                    .cmsgs()
                    .map_err(|e| pass_err(format!("control data: {e}")))?;
                let raw: Vec<RawFd> = cmsgs
                    .flat_map(|c| match c {
                        ControlMessageOwned::ScmRights(fds) => fds,
                        _ => Vec::new(),
                    })
                    .collect();
                break (msg.bytes, msg.flags, raw);
            }
        }
    };
    let fds: Vec<OwnedFd> = raw_fds
        .into_iter()
        // SAFETY: every descriptor in an SCM_RIGHTS message is new in this process and owned
        // by nobody else, so wrapping each in an OwnedFd at once is sound (and closes them on
        // every error path below).
        .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) })
        .collect();
    if got == 0 {
        return Err(pass_err("the helper exited without answering".into()));
    }
    if got != status.len() || flags.intersects(MsgFlags::MSG_CTRUNC | MsgFlags::MSG_TRUNC) {
        return Err(pass_err(format!(
            "truncated answer ({got} bytes, flags {flags:?})"
        )));
    }
    let mut words = [0i32; 3];
    for (word, bytes) in words.iter_mut().zip(status.chunks_exact(size_of::<i32>())) {
        let mut w = [0u8; size_of::<i32>()];
        w.copy_from_slice(bytes);
        *word = i32::from_ne_bytes(w);
    }
    Ok((words, fds))
}
