//! A fixed table for the targets that run queries: synthetic connections with
//! varied marks, counters, rates, zones and ages (and many equal sort keys, so
//! ties matter), and [`check_query`], which runs a compiled filter over it and
//! checks the page against the whole ordered result.

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use ctnetlink::fixtures::synthetic;
use ctnetlink::Counters;
use nfctd_table::query::{self, Context, Filter, Order};
use nfctd_table::{Row, Snapshot};

/// Mirror time (ms) and wall time (Unix seconds) of the table.
pub const NOW: u64 = 1_000_000;
pub const NOW_UNIX: u64 = 1_700_000_000;

/// `--uid-mask` of the context with users.
pub const UID_MASK: u32 = 0x00ff_ff00;

/// Rows in the table.
pub const ROWS: usize = 48;

fn user_name(uid: u32) -> Option<Arc<str>> {
    match uid {
        0 => Some("root".into()),
        1000 => Some("alice".into()),
        1001 => Some("Bob".into()),
        _ => None,
    }
}

static USERS: fn(u32) -> Option<Arc<str>> = user_name;

/// The table, built once per process.
pub fn snapshot() -> &'static Snapshot {
    static TABLE: OnceLock<Snapshot> = OnceLock::new();
    TABLE.get_or_init(|| {
        let rows = synthetic(ROWS)
            .into_iter()
            .enumerate()
            .map(|(i, mut conn)| {
                let n = i as u64;
                // Distinct ids, in an order unlike the table's.
                conn.id = (i as u32).wrapping_mul(2_654_435_761) | 1;
                conn.mark = [0, 1000 << 8, 1001 << 8 | 7, 0xffff_ffff, 42 << 8][i % 5];
                conn.zone = [0, 0, 1, 65535][i % 4];
                if i % 3 != 1 {
                    conn.counters = Some(Counters {
                        orig_packets: n,
                        orig_bytes: n * 1500 % 7000,
                        repl_packets: n / 2,
                        repl_bytes: if i % 7 == 0 { u64::MAX } else { n * 40 },
                    });
                }
                if i % 11 == 3 {
                    conn.orig.src = IpAddr::from([0u8; 16]);
                }
                // Some have expired already; many share a deadline.
                let deadline =
                    (NOW + (n % 6) * 30_000).saturating_sub(if i % 9 == 0 { NOW } else { 0 });
                let started_unix = NOW_UNIX - (n % 4) * 3600 + if i % 13 == 0 { 999 } else { 0 };
                Row::fixture(conn, started_unix)
                    .with_deadline(deadline)
                    .with_rate([0.0, 1.5, 1e-30, 1e30, 0.0, 1500.0][i % 6])
            })
            .collect();
        Snapshot::from_rows(
            rows,
            NOW,
            SystemTime::UNIX_EPOCH + Duration::from_secs(NOW_UNIX),
        )
    })
}

/// The query context: without uid mask, or with one and a user resolver.
pub fn context(with_users: bool) -> Context<'static> {
    let ctx = Context::new(NOW, NOW_UNIX);
    if with_users {
        ctx.with_users(UID_MASK, &USERS)
    } else {
        ctx
    }
}

/// Runs `filter` over the table and checks the answer: the total is the
/// number of matching rows; the whole ordered result holds each of them once;
/// the page from `start` of `length` rows (by partial selection) is exactly
/// that slice of the whole result; every row of the page renders.
pub fn check_query(filter: &Filter, order: &Order, start: usize, length: usize, ctx: &Context) {
    let table = snapshot();
    let mut matching: Vec<u32> = table
        .iter()
        .filter(|row| filter.matches(row, ctx))
        .map(Row::id)
        .collect();
    if filter.is_empty() {
        assert_eq!(
            matching.len(),
            table.len(),
            "an empty filter matches every row"
        );
    }
    let all = query::run(table, filter, order, 0, usize::MAX, ctx);
    assert_eq!(all.total, matching.len());
    let mut ids: Vec<u32> = all.rows.iter().map(Row::id).collect();
    let page = query::run(table, filter, order, start, length, ctx);
    assert_eq!(page.total, all.total);
    let want: Vec<u32> = ids.iter().copied().skip(start).take(length).collect();
    let got: Vec<u32> = page.rows.iter().map(Row::id).collect();
    assert_eq!(got, want, "page {start}+{length} of {order:?}");
    ids.sort_unstable();
    matching.sort_unstable();
    assert_eq!(ids, matching);
    for row in &page.rows {
        let _ = query::render(row, ctx);
    }
}
