//! SIGHUP re-reads the configuration: a new `--ignore` list in the config
//! file hides and shows connections at once; a configuration that does not
//! validate is refused, with the old one still in force.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{synthetic, wait_until, Bed, Daemon};
use nix::sys::signal::{kill, Signal};

fn total(daemon: &Daemon) -> u64 {
    let mut py = daemon.client();
    let sid = py.login();
    py.call("view", serde_json::json!([sid, {}, "", "", 0, 0]))
        .ok()["total"]
        .as_u64()
        .unwrap()
}

#[test]
fn sighup_applies_a_new_ignore_list_and_refuses_a_bad_config() {
    let bed = Bed::new();
    bed.inject(&synthetic(12));
    let v6 = bed.kernel().iter().filter(|c| c.orig.src.is_ipv6()).count() as u64;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("nfctd.toml");
    std::fs::write(&file, "max-page = 500\n").unwrap();
    let daemon = Daemon::start(
        &bed,
        &["--config", file.to_str().unwrap(), "--resync-interval", "0"],
    );
    assert_eq!(total(&daemon), 12);
    let hup = || kill(daemon.pid(), Signal::SIGHUP).unwrap();
    let count = |needle: &str| daemon.log().matches(needle).count();

    // Hide the IPv4 connections: only the IPv6 ones stay.
    std::fs::write(&file, "max-page = 500\nignore = [\"198.51.100.0/24\"]\n").unwrap();
    hup();
    assert!(
        wait_until(Duration::from_secs(5), || count("the ignore list changed")
            == 1),
        "{}",
        daemon.log()
    );
    assert_eq!(total(&daemon), v6);

    // A bad prefix: the whole new configuration is refused, the old list stays.
    std::fs::write(&file, "ignore = [\"198.51.100.0/33\"]\n").unwrap();
    hup();
    assert!(
        wait_until(Duration::from_secs(5), || count("reload refused") == 1),
        "{}",
        daemon.log()
    );
    assert!(
        daemon.log().contains("--ignore"),
        "the refusal names the option"
    );
    assert_eq!(total(&daemon), v6);

    // Back to no list: every connection again; an option that needs a
    // restart is named as such.
    std::fs::write(&file, "max-page = 600\n").unwrap();
    hup();
    assert!(wait_until(Duration::from_secs(5), || count(
        "the ignore list changed"
    ) == 2));
    assert_eq!(total(&daemon), 12);
    assert!(daemon.log().contains("take effect at the next start"));
}
