//! The capabilities the daemon keeps: CAP_NET_ADMIN for ctnetlink, and
//! CAP_SYS_ADMIN (with CAP_SETPCAP to finish the job) only until a `--netns`
//! has been joined. Everything else is dropped from the effective, permitted,
//! inheritable, ambient and bounding sets, as far as the process may.
//!
//! Capabilities belong to a thread, and new threads copy their creator's: so
//! this runs on the main thread before any other thread exists.

use caps::{CapSet, Capability, CapsHashSet};

/// What the daemon needs while it joins a `--netns`.
pub const JOINING: &[Capability] = &[
    Capability::CAP_NET_ADMIN,
    Capability::CAP_SYS_ADMIN,
    Capability::CAP_SETPCAP,
];
/// What the daemon needs while serving.
pub const SERVING: &[Capability] = &[Capability::CAP_NET_ADMIN];
/// `nfctd demo` also binds ports 53, 80 and 443 inside its own namespace.
pub const DEMO: &[Capability] = &[Capability::CAP_NET_ADMIN, Capability::CAP_NET_BIND_SERVICE];

/// Keeps only `keep` (and only what the process had). Never fails: a
/// capability the process cannot drop (no CAP_SETPCAP for the bounding set,
/// as when run unprivileged) is logged and left; `final_step` says whether
/// this is the last call, which logs at info what was kept.
pub fn restrict(keep: &[Capability], final_step: bool) {
    let keep: CapsHashSet = keep.iter().copied().collect();
    // The bounding set first: dropping from it needs CAP_SETPCAP in the
    // effective set, which the steps below take away. CAP_SETPCAP itself last.
    let bounding = caps::read(None, CapSet::Bounding).unwrap_or_default();
    let mut undroppable = Vec::new();
    let mut order: Vec<Capability> = bounding.difference(&keep).copied().collect();
    order.sort_by_key(|c| (*c == Capability::CAP_SETPCAP, c.index()));
    for cap in order {
        if caps::drop(None, CapSet::Bounding, cap).is_err() {
            undroppable.push(cap);
        }
    }
    for set in [CapSet::Ambient, CapSet::Inheritable] {
        if let Err(e) = caps::clear(None, set) {
            tracing::debug!(set = ?set, error = %e, "cannot clear a capability set");
        }
    }
    let permitted = caps::read(None, CapSet::Permitted).unwrap_or_default();
    let kept: CapsHashSet = permitted.intersection(&keep).copied().collect();
    // Effective must stay within permitted, so it shrinks first.
    for set in [CapSet::Effective, CapSet::Permitted] {
        if let Err(e) = caps::set(None, set, &kept) {
            tracing::warn!(set = ?set, error = %e, "cannot drop capabilities");
        }
    }
    let mut names: Vec<String> = kept.iter().map(|c| c.to_string()).collect();
    names.sort();
    let kept = if names.is_empty() {
        "none".to_string()
    } else {
        names.join(",")
    };
    let bounding_left = caps::read(None, CapSet::Bounding)
        .map(|b| b.len())
        .unwrap_or(0);
    if final_step {
        tracing::info!(
            kept = %kept,
            bounding = bounding_left,
            "capabilities dropped except those kept"
        );
        if !undroppable.is_empty() {
            tracing::info!(
                left = undroppable.len(),
                "the bounding set keeps capabilities this process may not drop (no CAP_SETPCAP): it cannot use them either"
            );
        }
    } else {
        tracing::debug!(kept = %kept, bounding = bounding_left, "capabilities narrowed");
    }
}
