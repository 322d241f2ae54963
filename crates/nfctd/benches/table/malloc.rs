//! The daemon's resident memory after the view shapes under glibc malloc
//! settings: glibc's default, whose mmap threshold rises after a large free
//! so later scan buffers stay in the arenas; the daemon's own fixed 128 KiB
//! threshold, which keeps them in mmap; and that with two arenas.

use std::process::Command;
use std::time::Instant;

use crate::common::http::Client;
use crate::common::raw::{self, int, s};
use crate::common::Daemon;
use crate::report::Report;
use crate::{answer, gateway, ms, percentile, rss_kib, shape_filter};

/// Calls per view shape in each setting.
const CALLS: usize = 5;

/// (name, GLIBC_TUNABLES). Any malloc tunable makes the daemon leave malloc
/// alone (`src/alloc.rs`); `glibc.malloc.check=0` is glibc's own default and
/// changes nothing, so the first runs malloc as glibc ships it.
const SETTINGS: [(&str, Option<&str>); 3] = [
    ("glibc default", Some("glibc.malloc.check=0")),
    ("nfctd (mmap_threshold 128 KiB)", None),
    (
        "mmap_threshold 128 KiB, 2 arenas",
        Some("glibc.malloc.mmap_threshold=131072:glibc.malloc.arena_max=2"),
    ),
];

/// One daemon per setting: RSS after 3 refreshes and after every view shape.
pub fn run(report: &mut Report, n: usize, empty_rss: u64) {
    for (name, tunables) in SETTINGS {
        let mut command = Command::new(env!("CARGO_BIN_EXE_nfctd"));
        command.args(["--listen", "127.0.0.1:0", "--resync-interval", "0"]);
        if let Some(tunables) = tunables {
            command.env("GLIBC_TUNABLES", tunables);
        }
        let daemon = Daemon::spawn_command(command);
        let pid = daemon.pid().as_raw();
        let mut client = Client::new(daemon.addr, true);
        let sid = s(
            answer(&client.call(&raw::call("login", &[])).expect("login"))
                .as_str()
                .expect("a session id"),
        );
        for _ in 0..3 {
            client
                .call(&raw::call("refresh", std::slice::from_ref(&sid)))
                .expect("refresh");
        }
        let refreshed = rss_kib(pid);
        let mut times = Vec::new();
        for shape in gateway::shapes() {
            for i in 0..CALLS {
                let body = raw::call(
                    "view",
                    &[
                        sid.clone(),
                        shape_filter(&shape),
                        s(shape.order_by),
                        s(if shape.desc { "DESC" } else { "ASC" }),
                        int((shape.start + i) as i64),
                        int(100),
                    ],
                );
                let start = Instant::now();
                client.call(&body).expect("view");
                times.push(start.elapsed().as_secs_f64());
            }
        }
        times.sort_by(f64::total_cmp);
        let viewed = rss_kib(pid);
        let per = |rss: u64| (rss.saturating_sub(empty_rss) * 1024) as f64 / n as f64;
        report.check(
            &format!("10. malloc {name}: RSS/entry after views"),
            format!("{:.0} B", per(viewed)),
            format!(
                "{} MiB after views, {} MiB ({:.0} B) after refreshes; views p50 {} p99 {}",
                viewed / 1024,
                refreshed / 1024,
                per(refreshed),
                ms(percentile(&times, 0.5)),
                ms(percentile(&times, 0.99))
            ),
            "≤ 150 B".into(),
            per(viewed) <= 150.0,
        );
    }
}
