//! `--enable-accounting`: switches on `nf_conntrack_acct` (byte and packet
//! counters) and `nf_conntrack_timestamp` (start times) in the served
//! namespace, once, at start.
//!
//! A failure is a logged warning, not a failed start: the table is still
//! served correctly without them (counters read 0, rates are absent), and a
//! monitoring outage because `/proc/sys` is read-only would cost more than
//! the missing counters. Flow export is the exception: its records are the
//! counters, so it refuses to start without them ([`missing`]). `stats` and `nfctd_table_accounting_enabled` show
//! whether they are on. Nothing is switched back off at exit: other tools
//! may rely on the counters by then.

/// Byte and packet counters, under `/proc/sys` of the calling thread's network namespace.
pub const ACCT: &str = "net/netfilter/nf_conntrack_acct";
/// Start times, likewise.
pub const TIMESTAMP: &str = "net/netfilter/nf_conntrack_timestamp";
/// Both, as `--enable-accounting` switches them on.
pub const SYSCTLS: [&str; 2] = [ACCT, TIMESTAMP];

/// Whether one of [`SYSCTLS`] is on in the current namespace.
pub fn is_on(name: &str) -> Result<bool, netns::Error> {
    netns::sysctl(name).map(|value| value.trim() == "1")
}

/// What became of one sysctl.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It was already 1, so nothing was written (a read-only /proc/sys is fine then).
    AlreadyOn,
    SwitchedOn,
    /// No such sysctl: nf_conntrack is not loaded yet. Opening ctnetlink loads it.
    Missing,
    Failed(String),
}

/// Switches both on in the current network namespace, logging each outcome.
/// Call it after joining the served namespace: /proc/sys/net shows the
/// namespace of the thread that reads it. Returns false when a sysctl was
/// missing and `last_try` is false: call again once the mirror has opened
/// ctnetlink, which loads nf_conntrack.
pub fn enable(last_try: bool) -> bool {
    let outcomes: Vec<_> = SYSCTLS
        .iter()
        .map(|name| (*name, enable_one(name)))
        .collect();
    if !last_try && outcomes.iter().any(|(_, o)| *o == Outcome::Missing) {
        return false;
    }
    for (name, outcome) in outcomes {
        let sysctl = name.replace('/', ".");
        match outcome {
            Outcome::AlreadyOn => tracing::info!(sysctl, "accounting: already on"),
            Outcome::SwitchedOn => tracing::info!(sysctl, "accounting: switched on"),
            Outcome::Missing => tracing::warn!(
                sysctl,
                "accounting: no such sysctl (is nf_conntrack loaded?); serving without it"
            ),
            Outcome::Failed(why) => tracing::warn!(
                sysctl,
                error = %why,
                "accounting: cannot switch it on; serving without it (byte counts and rates stay empty). \
                 It needs CAP_NET_ADMIN over the namespace and a writable /proc/sys \
                 (under systemd: no ProtectKernelTunables=), or set it beforehand with sysctl"
            ),
        }
    }
    true
}

/// The sysctls (dotted names) that are not 1 in the current namespace, or
/// `None` when one does not exist yet (nf_conntrack not loaded: ask again
/// once ctnetlink has loaded it).
pub fn missing() -> Option<Vec<String>> {
    let mut off = Vec::new();
    for name in SYSCTLS {
        match is_on(name) {
            Ok(true) => {}
            Ok(false) => off.push(name.replace('/', ".")),
            Err(netns::Error::Sysctl { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                return None
            }
            Err(_) => off.push(name.replace('/', ".")),
        }
    }
    Some(off)
}

fn enable_one(name: &str) -> Outcome {
    let missing = |e: &netns::Error| matches!(e, netns::Error::Sysctl { source, .. } if source.kind() == std::io::ErrorKind::NotFound);
    match is_on(name) {
        Ok(true) => return Outcome::AlreadyOn,
        Ok(false) => {}
        Err(e) if missing(&e) => return Outcome::Missing,
        // Unreadable but perhaps writable: the write says what is wrong.
        Err(e) => tracing::debug!(error = %e, "accounting: cannot read {name}"),
    }
    match netns::set_sysctl(name, "1") {
        Ok(()) => Outcome::SwitchedOn,
        Err(e) if missing(&e) => Outcome::Missing,
        Err(e) => Outcome::Failed(e.to_string()),
    }
}
