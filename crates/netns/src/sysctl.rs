//! Sysctls of the current network namespace: name checking and reading/writing under /proc/sys.

use std::path::PathBuf;

use crate::Error;

/// Turns `net/netfilter/nf_conntrack_acct` (or `net.netfilter.nf_conntrack_acct`) into its
/// /proc/sys path, refusing anything that could escape /proc/sys.
pub(crate) fn path(name: &str) -> Result<PathBuf, Error> {
    let bad = || Error::InvalidSysctlName(name.to_owned());
    let rel = if name.contains('/') {
        name.to_owned()
    } else {
        name.replace('.', "/")
    };
    if rel.is_empty()
        || rel.starts_with('/')
        || rel
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return Err(bad());
    }
    if !rel
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"_-./@:+".contains(&b))
    {
        return Err(bad());
    }
    Ok(PathBuf::from("/proc/sys").join(rel))
}

/// Writes a sysctl of the current namespace, e.g. `set_sysctl("net/netfilter/nf_conntrack_acct", "1")`.
pub fn set_sysctl(name: &str, value: &str) -> Result<(), Error> {
    let p = path(name)?;
    std::fs::write(&p, value).map_err(|source| Error::Sysctl {
        name: name.to_owned(),
        op: "write",
        source,
    })
}

/// Reads a sysctl of the current namespace, trailing newline removed.
///
/// ```
/// let forwarding = netns::sysctl("net.ipv4.ip_forward")?;
/// assert!(forwarding == "0" || forwarding == "1");
/// // A name that could leave /proc/sys is refused before any file is opened.
/// assert!(matches!(
///     netns::sysctl("net/../../etc/passwd"),
///     Err(netns::Error::InvalidSysctlName(_))
/// ));
/// # Ok::<(), netns::Error>(())
/// ```
pub fn sysctl(name: &str) -> Result<String, Error> {
    let p = path(name)?;
    let s = std::fs::read_to_string(&p).map_err(|source| Error::Sysctl {
        name: name.to_owned(),
        op: "read",
        source,
    })?;
    Ok(s.trim_end_matches('\n').to_owned())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(
            path("net/netfilter/nf_conntrack_acct").ok(),
            Some("/proc/sys/net/netfilter/nf_conntrack_acct".into())
        );
        assert_eq!(
            path("net.ipv4.ip_forward").ok(),
            Some("/proc/sys/net/ipv4/ip_forward".into())
        );
        assert_eq!(
            path("net/ipv4/conf/eth0.100/forwarding").ok(),
            Some("/proc/sys/net/ipv4/conf/eth0.100/forwarding".into())
        );
        for bad in ["", "/etc/passwd", "net/../../etc", "net//x", "net/a b"] {
            assert!(
                matches!(path(bad), Err(Error::InvalidSysctlName(_))),
                "{bad}"
            );
        }
    }
}
