//! glibc malloc's settings for the daemon: a fixed mmap threshold, so the large buffers of a view go back to the kernel when freed.
#![allow(unsafe_code)] // one mallopt call, at start

/// The size from which glibc serves an allocation by mmap (its own default
/// starting value).
const MMAP_THRESHOLD: i32 = 128 * 1024;

/// Fixes glibc's mmap threshold at 128 KiB, unless the operator tunes
/// malloc through `GLIBC_TUNABLES` (then that wins).
///
/// Why: a view over a large table builds scan and sort buffers of
/// megabytes. glibc serves them by mmap and unmaps them when freed, but the
/// first such free raises its threshold to that size (the dynamic mmap
/// threshold), after which the buffers come from the arenas and stay
/// resident once freed: the daemon's memory grew by half after the bench's
/// view shapes. Setting the threshold explicitly turns that raise off.
pub fn tune_malloc() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let tuned = std::env::var("GLIBC_TUNABLES").is_ok_and(|t| t.contains("glibc.malloc."));
        if !tuned {
            // SAFETY: mallopt only sets an allocator parameter; glibc
            // takes its own lock, and nothing else is called here.
            unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) };
        }
    }
}
