//! The kernel's global conntrack limits (hash size, `nf_conntrack_max`): raised
//! for a large table as root, restored by a guard process when the bench ends,
//! however it ends; and the namespace the bench then enters.
#![allow(unsafe_code)] // fork, pipe and read for the guard process

use std::fs;

const HASHSIZE: &str = "/sys/module/nf_conntrack/parameters/hashsize";
const MAX: &str = "net/netfilter/nf_conntrack_max";

/// The write end of the pipe the guard process waits on, and its pid.
pub struct Guard {
    write: i32,
    pid: i32,
}

impl Guard {
    /// Restores the limits now and waits for the guard to say so.
    pub fn restore(self) {
        // SAFETY: closing our own pipe end and reaping our own child.
        unsafe {
            libc::close(self.write);
            libc::waitpid(self.pid, std::ptr::null_mut(), 0);
        }
    }
}

fn read_number(path: &str) -> Option<usize> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// For `entries` entries: as root, raises the hash size to entries/4 and
/// `nf_conntrack_max` to entries·1.25 + 10,000 where they are lower, prints
/// the old and new values, and forks a guard that puts the old ones back
/// when the bench exits (normally, by a panic or by a signal: it waits for
/// a pipe only the bench holds to close). Must run while single-threaded
/// and before the bench leaves the initial namespaces.
pub fn raise(entries: usize) -> Option<Guard> {
    let proc_max = format!("/proc/sys/{MAX}");
    let (hash_now, max_now) = (read_number(HASHSIZE), read_number(&proc_max));
    let (hash_want, max_want) = (entries / 4, entries + entries / 4 + 10_000);
    let hash_low = hash_now.is_some_and(|h| h < hash_want);
    let max_low = max_now.is_some_and(|m| m < max_want);
    if !root() {
        if hash_low {
            println!(
                "hashsize left at {} (not root): {} entries make chains of ~{} per bucket; inserts into a long chain fail with ENOSPC (`chaintoolong`) and every lookup walks it. As root the bench raises it to {hash_want}",
                hash_now.unwrap_or(0),
                entries,
                entries / hash_now.unwrap_or(1).max(1)
            );
        }
        if max_low {
            println!(
                "nf_conntrack_max is {} and cannot be raised here (not root): run as root, or `sysctl -w net.netfilter.nf_conntrack_max={max_want}` first",
                max_now.unwrap_or(0)
            );
        }
        return None;
    }
    if !hash_low && !max_low {
        return None;
    }
    let mut restore = Vec::new();
    if hash_low {
        let old = hash_now.unwrap_or(0);
        match fs::write(HASHSIZE, hash_want.to_string()) {
            Ok(()) => {
                println!(
                    "hashsize raised from {old} to {hash_want} (entries/4; restored at the end)"
                );
                restore.push((HASHSIZE.to_string(), old));
            }
            Err(e) => println!("hashsize left at {old}: cannot write {HASHSIZE}: {e}"),
        }
    }
    if max_low {
        let old = max_now.unwrap_or(0);
        match fs::write(&proc_max, max_want.to_string()) {
            Ok(()) => {
                println!("nf_conntrack_max raised from {old} to {max_want} (restored at the end)");
                restore.push((proc_max, old));
            }
            Err(e) => println!("nf_conntrack_max left at {old}: {e}"),
        }
    }
    if restore.is_empty() {
        return None;
    }
    guard(restore)
}

/// Forks the process that writes `restore` back once the pipe closes.
fn guard(restore: Vec<(String, usize)>) -> Option<Guard> {
    let mut fds = [0i32; 2];
    // SAFETY: a two-int array for pipe2; O_CLOEXEC keeps the write end out
    // of every program the bench runs, so only the bench holds it open.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        println!("warning: no guard process (pipe failed): restore the values above by hand");
        return None;
    }
    // SAFETY: the bench is single-threaded here; the child only reads,
    // writes files and exits.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: the child's own descriptors and signal dispositions; Ctrl-C
        // reaches the whole process group, and the guard must outlive it.
        unsafe {
            libc::close(fds[1]);
            libc::signal(libc::SIGINT, libc::SIG_IGN);
            libc::signal(libc::SIGTERM, libc::SIG_IGN);
            let mut byte = 0u8;
            while libc::read(fds[0], (&raw mut byte).cast(), 1) > 0 {}
        }
        for (path, old) in restore {
            match fs::write(&path, old.to_string()) {
                Ok(()) => println!("restored {path} to {old}"),
                Err(e) => println!("could not restore {path} to {old}: {e}"),
            }
        }
        // SAFETY: leaves without running the bench's exit handlers twice.
        unsafe { libc::_exit(0) };
    }
    // SAFETY: the read end is the child's.
    unsafe { libc::close(fds[0]) };
    if pid < 0 {
        println!("warning: no guard process (fork failed): restore the values above by hand");
        return None;
    }
    Some(Guard { write: fds[1], pid })
}

/// Enters a private network namespace. As root, a network namespace alone:
/// the bench keeps CAP_NET_ADMIN over the initial user namespace, so the
/// daemon's SO_RCVBUFFORCE gives the event socket its configured size, as in
/// a real install. Otherwise a user+net namespace, where the event buffer
/// stops at 2 × net.core.rmem_max. Must run while single-threaded.
pub fn enter_namespace() -> String {
    let rmem = read_number("/proc/sys/net/core/rmem_max").unwrap_or(0);
    if root() {
        // SAFETY: unshare with a flag; single-threaded here.
        if unsafe { libc::unshare(libc::CLONE_NEWNET) } == 0 {
            return "net namespace (root: event buffers as configured)".into();
        }
    }
    netns::enter_private().expect("private user+net namespace (unshare)");
    format!(
        "user+net namespace (event buffers at most 2 × rmem_max = {} KiB)",
        2 * rmem / 1024
    )
}
