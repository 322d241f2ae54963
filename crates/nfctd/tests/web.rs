//! The web UI end to end: the page in headless Chromium against the real
//! daemon on a private namespace, with the kernel's table as the truth.
//! Skipped with a message when chromium is missing, unless `CI` is set.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "web/browser.rs"]
mod browser;
mod common;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{IpAddr, TcpStream};
use std::time::Duration;

use browser::Browser;
use common::{synthetic, wait_until, Bed, Daemon};
use ctnetlink::consts::IPPROTO_TCP;
use ctnetlink::Conn;

fn flow(src: &str, dst: &str, sport: u16, dport: u16) -> Conn {
    let (src, dst): (IpAddr, IpAddr) = (src.parse().unwrap(), dst.parse().unwrap());
    let mut c = Conn::flow(IPPROTO_TCP, src, dst, sport, dport);
    c.timeout = 600;
    c.proto_state = Some(3);
    c
}

/// Ten flows from 10.9.0.0/16 (three to port 8080, one to 22) besides `n` synthetic ones.
fn bed_with(n: usize) -> Bed {
    let bed = Bed::new();
    let mut conns = synthetic(n);
    conns.push(flow("10.9.0.1", "192.0.2.80", 40001, 8080));
    conns.push(flow("10.9.0.2", "192.0.2.80", 40002, 8080));
    conns.push(flow("10.9.0.3", "192.0.2.80", 40003, 8080));
    conns.push(flow("10.9.1.9", "192.0.2.22", 40004, 22));
    bed.inject(&conns);
    bed
}

fn kernel_ids(bed: &Bed) -> BTreeSet<u32> {
    bed.kernel().iter().map(|c| c.id).collect()
}

fn set<T: Ord + Clone>(v: &[T]) -> BTreeSet<T> {
    v.iter().cloned().collect()
}

async fn start(bed: &Bed, args: &[&str], lang: &str) -> Option<(Daemon, Browser)> {
    let mut all = vec!["--resync-interval", "1"];
    all.extend_from_slice(args);
    let daemon = Daemon::start(bed, &all);
    let browser = Browser::open(daemon.addr, lang).await?;
    Some((daemon, browser))
}

#[test]
fn the_page_is_served_with_a_strict_csp_beside_xmlrpc() {
    let bed = Bed::new();
    let daemon = Daemon::start(&bed, &[]);
    let get = |path: &str| {
        let mut s = TcpStream::connect(daemon.addr).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    };
    let page = get("/");
    let lower = page.to_ascii_lowercase();
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(lower.contains("content-security-policy: default-src 'self'; script-src 'self';"));
    assert!(lower.contains("content-type: text/html"));
    assert!(page.contains("<table id=\"connections\""));
    let js = get("/assets/app.js");
    assert!(js.starts_with("HTTP/1.1 200") && js.to_ascii_lowercase().contains("text/javascript"));
    assert!(get("/assets/i18n/fr.json").contains("\"login.title\""));
    assert!(get("/assets/../Cargo.toml").starts_with("HTTP/1.1 404"));
    // POST / still speaks XML-RPC.
    let (status, body) = daemon.post(
        "/",
        b"<?xml version=\"1.0\"?><methodCall><methodName>system.listMethods</methodName></methodCall>",
    );
    assert_eq!(status, 200);
    assert!(body.contains("<string>kill_matching</string>"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_in_and_see_the_rows_the_kernel_has() {
    let bed = bed_with(39);
    // One connection through a destination NAT: its reply comes from elsewhere.
    let mut nat = flow("10.9.2.2", "198.51.100.200", 40100, 80);
    nat.reply.src = "192.0.2.10".parse().unwrap();
    nat.reply.sport = 8080;
    bed.inject(&[nat]);
    let Some((_daemon, b)) = start(&bed, &[], "en-US").await else {
        return;
    };
    // The form, then the table.
    assert_eq!(
        b.js("document.querySelector('#login-view h2').textContent")
            .await,
        "Log in"
    );
    b.login("", "").await;
    let want = kernel_ids(&bed);
    assert_eq!(want.len(), 44);
    b.until(
        "document.querySelectorAll('#rows tr').length === 44",
        "44 rows",
    )
    .await;
    assert_eq!(set(&b.row_ids().await), want);
    let heads = b.js("[...document.querySelectorAll('#head th')].map(th => th.textContent.replace(/[▲▼↕]/g, '').trim())").await;
    assert_eq!(
        heads,
        serde_json::json!([
            "Protocol",
            "Original",
            "Reply",
            "State",
            "Mark",
            "Timeout",
            "Orig. bytes",
            "Reply bytes",
            "Rate",
            "Age",
            "Actions"
        ])
    );
    let range = b.js("document.getElementById('range').textContent").await;
    assert_eq!(range, "Rows 1–44 of 44 matching (44 in the table)");
    // A row as the kernel has it: endpoints, state, mark.
    let c = bed
        .kernel()
        .into_iter()
        .find(|c| c.orig.dport == 22)
        .unwrap();
    let row = b.js(&format!("[...document.querySelector('#rows tr[data-id=\"{}\"]').cells].map(td => td.textContent)", c.id)).await;
    assert_eq!(row[0], "tcp ipv4");
    assert_eq!(row[1], "10.9.1.9:40004 → 192.0.2.22:22");
    assert_eq!(row[2], "192.0.2.22:22 → 10.9.1.9:40004");
    assert!(row[3].as_str().unwrap().starts_with("ESTABLISHED"), "{row}");
    let nat = bed
        .kernel()
        .into_iter()
        .find(|c| c.orig.dport == 80)
        .unwrap();
    let row = b.js(&format!("[...document.querySelector('#rows tr[data-id=\"{}\"]').cells].map(td => td.textContent)", nat.id)).await;
    assert_eq!(row[2], "192.0.2.10:8080 → 10.9.2.2:40100 NAT");
    // The overview draws from the live events and the kernel's stats.
    b.until(
        "document.querySelectorAll('#chart-proto polyline').length >= 3",
        "the protocol chart",
    )
    .await;
    b.until(
        "document.querySelector('#legend-proto').textContent.includes('tcp: ')",
        "the legend",
    )
    .await;
    b.until(
        "document.querySelectorAll('#stats dt').length > 5",
        "the kernel stats",
    )
    .await;
    // Every control has an accessible name.
    let unnamed = b.js("[...document.querySelectorAll('button, input, select')].filter(e => e.offsetParent !== null && !(e.labels?.length || e.getAttribute('aria-label') || e.textContent.trim())).map(e => e.outerHTML)").await;
    assert_eq!(unnamed, serde_json::json!([]), "controls without a name");
    b.screenshot("nfctd-en.png").await;
    // A phone's width: rows become cards, nothing scrolls sideways.
    b.client.set_window_size(390, 844).await.unwrap();
    b.until(
        "getComputedStyle(document.querySelector('#rows tr')).display === 'block'",
        "cards at phone width",
    )
    .await;
    let overflow = b
        .js("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        .await;
    assert!(
        overflow.as_i64().unwrap() <= 0,
        "the page scrolls sideways by {overflow}px"
    );
    b.screenshot("nfctd-phone.png").await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sort_by_a_header() {
    let bed = bed_with(30);
    let Some((_daemon, b)) = start(&bed, &[], "en-US").await else {
        return;
    };
    b.login("", "").await;
    let marks = |v: Vec<String>| {
        v.iter()
            .map(|m| m.parse::<u64>().unwrap())
            .collect::<Vec<_>>()
    };
    let loads = b.loads().await;
    b.click("#head button[data-sort=mark]").await;
    b.until(
        "document.querySelector('th[data-col=mark]')?.getAttribute('aria-sort') === 'ascending'",
        "ascending",
    )
    .await;
    assert!(b.loads().await > loads);
    let up = marks(b.column("mark").await);
    assert_eq!(up.len(), 34);
    assert!(up.windows(2).all(|w| w[0] <= w[1]), "{up:?}");
    // Keyboard: the focused header button sorts again on Enter, the other way.
    b.until(
        "document.activeElement?.dataset.sort === 'mark'",
        "focus on the header",
    )
    .await;
    let active = b.client.active_element().await.unwrap();
    active
        .send_keys(&fantoccini::key::Key::Enter)
        .await
        .unwrap();
    b.until(
        "document.querySelector('th[data-col=mark]')?.getAttribute('aria-sort') === 'descending'",
        "descending",
    )
    .await;
    let down = marks(b.column("mark").await);
    assert!(down.windows(2).all(|w| w[0] >= w[1]), "{down:?}");
    assert_eq!(
        b.js("document.querySelector('th[data-col=proto]').getAttribute('aria-sort')")
            .await,
        "none"
    );
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filter_by_cidr_by_port_and_free_text() {
    let bed = bed_with(30);
    let Some((_daemon, b)) = start(&bed, &[], "en-US").await else {
        return;
    };
    b.login("", "").await;
    let kernel = bed.kernel();
    let ids = |pred: &dyn Fn(&Conn) -> bool| {
        kernel
            .iter()
            .filter(|c| pred(c))
            .map(|c| c.id)
            .collect::<BTreeSet<_>>()
    };
    let in_10 = |c: &Conn| matches!(c.orig.src, IpAddr::V4(a) if a.octets()[0] == 10);
    b.filter("orig_src=10.0.0.0/8").await;
    assert_eq!(set(&b.row_ids().await), ids(&in_10));
    assert_eq!(b.row_ids().await.len(), 4);
    b.filter("port=8080").await;
    assert_eq!(set(&b.row_ids().await), ids(&|c| c.orig.dport == 8080));
    b.filter("orig_src=10.9.0.0/24 port=8080,22 proto=tcp")
        .await;
    assert_eq!(b.row_ids().await.len(), 3);
    b.filter("10.9.1.9").await;
    assert_eq!(set(&b.row_ids().await), ids(&|c| c.orig.dport == 22));
    // A bad filter is refused with the key named; the table stays.
    b.type_into("#filter", "orig_src=nonsense").await;
    b.click("#filter-form button[type=submit]").await;
    b.until("!document.getElementById('error').hidden", "the refusal")
        .await;
    let error = b.js("document.getElementById('error').textContent").await;
    assert!(error.as_str().unwrap().contains("orig_src"), "{error}");
    assert_eq!(b.row_ids().await.len(), 1);
    b.click("#filter-clear").await;
    b.until(
        "document.querySelectorAll('#rows tr').length === 34",
        "all rows back",
    )
    .await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_through_the_table() {
    let bed = bed_with(56);
    let Some((_daemon, b)) = start(&bed, &[], "en-US").await else {
        return;
    };
    b.login("", "").await;
    let select = b
        .client
        .find(fantoccini::Locator::Css("#page-size"))
        .await
        .unwrap();
    select.select_by_value("25").await.unwrap();
    b.until(
        "document.querySelectorAll('#rows tr').length === 25",
        "25 rows",
    )
    .await;
    assert_eq!(
        b.js("document.getElementById('range').textContent").await,
        "Rows 1–25 of 60 matching (60 in the table)"
    );
    assert_eq!(b.js("document.getElementById('prev').disabled").await, true);
    let mut seen = b.row_ids().await;
    b.click("#next").await;
    b.until(
        "document.getElementById('range').textContent.startsWith('Rows 26–50 ')",
        "page 2",
    )
    .await;
    seen.extend(b.row_ids().await);
    // By keyboard: Enter on the focused "Last" button.
    let last = b
        .client
        .find(fantoccini::Locator::Css("#last"))
        .await
        .unwrap();
    last.send_keys(&fantoccini::key::Key::Enter).await.unwrap();
    b.until(
        "document.getElementById('range').textContent.startsWith('Rows 51–60 ')",
        "the last page",
    )
    .await;
    seen.extend(b.row_ids().await);
    assert_eq!(b.js("document.getElementById('next').disabled").await, true);
    assert_eq!(seen.len(), 60, "pages overlap");
    assert_eq!(set(&seen), kernel_ids(&bed));
    b.click("#first").await;
    b.until(
        "document.getElementById('range').textContent.startsWith('Rows 1–25 ')",
        "page 1",
    )
    .await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_a_row_and_it_is_gone_from_the_kernel() {
    let bed = bed_with(10);
    let Some((_daemon, b)) = start(&bed, &[], "en-US").await else {
        return;
    };
    b.login("", "").await;
    let victim = bed
        .kernel()
        .into_iter()
        .find(|c| c.orig.dport == 22)
        .unwrap();
    b.click(&format!("#rows tr[data-id=\"{}\"] button.kill", victim.id))
        .await;
    b.until(
        "document.getElementById('confirm-dialog').open",
        "the confirmation",
    )
    .await;
    let text = b
        .js("document.getElementById('confirm-text').textContent")
        .await;
    assert_eq!(text, "tcp 10.9.1.9:40004 → 192.0.2.22:22");
    // Cancel first: nothing happens.
    b.click("#confirm-dialog button[value=cancel]").await;
    b.until(
        "!document.getElementById('confirm-dialog').open",
        "the dialog to close",
    )
    .await;
    assert!(kernel_ids(&bed).contains(&victim.id));
    b.click(&format!("#rows tr[data-id=\"{}\"] button.kill", victim.id))
        .await;
    b.until(
        "document.getElementById('confirm-dialog').open",
        "the confirmation",
    )
    .await;
    b.click("#confirm-ok").await;
    assert!(
        wait_until(Duration::from_secs(10), || !kernel_ids(&bed)
            .contains(&victim.id)),
        "still in the kernel"
    );
    b.until(
        &format!(
            "!document.querySelector('#rows tr[data-id=\"{}\"]')",
            victim.id
        ),
        "the row to go",
    )
    .await;
    assert_eq!(
        b.js("document.getElementById('status').textContent").await,
        "Killed 1 connection."
    );
    assert_eq!(kernel_ids(&bed).len(), 13);
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_a_mark_and_the_kernel_has_it() {
    let bed = bed_with(10);
    let Some((_daemon, b)) = start(&bed, &[], "en-US").await else {
        return;
    };
    b.login("", "").await;
    let target = bed
        .kernel()
        .into_iter()
        .find(|c| c.orig.dport == 22)
        .unwrap();
    b.click(&format!("#rows tr[data-id=\"{}\"] button.edit", target.id))
        .await;
    b.until("document.getElementById('edit-dialog').open", "the editor")
        .await;
    // A bad mark is refused in the dialog.
    b.type_into("#edit-mark", "lots").await;
    b.click("#edit-ok").await;
    b.until(
        "!document.getElementById('edit-error').hidden",
        "the mark error",
    )
    .await;
    b.type_into("#edit-mark", "0x2a").await;
    b.click("#edit-ok").await;
    let mark = |bed: &Bed| {
        bed.kernel()
            .into_iter()
            .find(|c| c.id == target.id)
            .map(|c| c.mark)
    };
    assert!(
        wait_until(Duration::from_secs(10), || mark(&bed) == Some(42)),
        "mark is {:?}",
        mark(&bed)
    );
    b.until(&format!("document.querySelector('#rows tr[data-id=\"{}\"] td[data-col=mark]')?.textContent === '42'", target.id), "the new mark").await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_all_matching_after_seeing_the_count() {
    let bed = bed_with(20);
    let Some((_daemon, b)) = start(&bed, &[], "en-US").await else {
        return;
    };
    b.login("", "").await;
    b.click("#kill-matching").await;
    b.until(
        "document.getElementById('status').textContent.startsWith('Type a filter first')",
        "the refusal without a filter",
    )
    .await;
    b.filter("port=8080").await;
    b.click("#kill-matching").await;
    b.until(
        "document.getElementById('confirm-dialog').open",
        "the confirmation",
    )
    .await;
    assert_eq!(
        b.js("document.getElementById('confirm-text').textContent")
            .await,
        "3 connections match “port=8080”. Kill them all?"
    );
    assert_eq!(
        b.js("document.getElementById('confirm-ok').textContent")
            .await,
        "Kill 3"
    );
    b.click("#confirm-ok").await;
    assert!(wait_until(Duration::from_secs(10), || bed
        .kernel()
        .iter()
        .all(|c| c.orig.dport != 8080)));
    assert_eq!(bed.kernel().len(), 21);
    b.until(
        "document.getElementById('status').textContent === 'Killed 3 connections.'",
        "the result",
    )
    .await;
    b.until(
        "document.querySelectorAll('#rows tr').length === 0",
        "an empty page",
    )
    .await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switch_to_french_and_it_is_remembered() {
    let bed = bed_with(20);
    let Some((_daemon, b)) = start(&bed, &[], "en-US").await else {
        return;
    };
    b.login("", "").await;
    let lang = b
        .client
        .find(fantoccini::Locator::Css("#lang"))
        .await
        .unwrap();
    lang.select_by_value("fr").await.unwrap();
    b.until(
        "document.querySelector('th[data-col=proto]')?.textContent.startsWith('Protocole')",
        "French headers",
    )
    .await;
    assert_eq!(b.js("document.documentElement.lang").await, "fr");
    assert_eq!(
        b.js("document.getElementById('refresh').textContent").await,
        "Actualiser"
    );
    assert_eq!(
        b.js("document.querySelector('#rows button.kill').textContent")
            .await,
        "Couper"
    );
    let label = b
        .js("document.querySelector('#rows button.kill').getAttribute('aria-label')")
        .await;
    assert!(
        label.as_str().unwrap().starts_with("Couper la connexion "),
        "{label}"
    );
    assert_eq!(
        b.js("document.querySelector('nav.pager').getAttribute('aria-label')")
            .await,
        "Pages"
    );
    assert_eq!(
        b.js("document.getElementById('range').textContent").await,
        "Lignes 1 à 24 sur 24 (24 dans la table)"
    );
    b.until(
        "document.querySelectorAll('#stats dt').length > 5",
        "the kernel stats",
    )
    .await;
    b.until(
        "document.querySelectorAll('#chart-state polyline').length > 0",
        "the state chart",
    )
    .await;
    assert_eq!(
        b.js("document.querySelector('#stats dt').textContent")
            .await,
        "Connexions affichées"
    );
    b.screenshot("nfctd-fr.png").await;
    // Remembered across a reload.
    b.client.refresh().await.unwrap();
    b.until("document.body.dataset.ready === '1'", "the reloaded page")
        .await;
    b.until(
        "document.querySelector('th[data-col=proto]')?.textContent.startsWith('Protocole')",
        "French after reload",
    )
    .await;
    b.close().await;
}

/// The namespace's `nf_conntrack_max` and `nf_conntrack_buckets` (the
/// host's: neither can be changed from a child namespace).
fn max_and_buckets(bed: &Bed) -> (f64, f64) {
    let read = |name: &str| -> f64 {
        let text = bed.sandbox.sysctl(&format!("net/netfilter/{name}"));
        text.unwrap().trim().parse().unwrap()
    };
    (read("nf_conntrack_max"), read("nf_conntrack_buckets"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pressure_warning_shows_in_english_and_in_french() {
    let bed = bed_with(3);
    // A limit at half the ratio the namespace really has.
    let (max, buckets) = max_and_buckets(&bed);
    let limit = (max / buckets / 2.0).to_string();
    let suggested = (max / (max / buckets / 4.0)).ceil() as u64;
    let Some((_daemon, b)) = start(&bed, &["--pressure-ratio", &limit], "en-US").await else {
        return;
    };
    b.login("", "").await;
    b.until(
        "!document.getElementById('pressure').hidden",
        "the pressure warning",
    )
    .await;
    let text = b
        .js("document.getElementById('pressure').textContent")
        .await;
    let text = text.as_str().unwrap().to_string();
    let command = format!("echo {suggested} > /sys/module/nf_conntrack/parameters/hashsize");
    for want in [
        "The kernel's connection-tracking hash table is too small",
        "times nf_conntrack_buckets",
        "Raise the hash size to",
        &command,
        &format!("options nf_conntrack hashsize={suggested}"),
    ] {
        assert!(text.contains(want), "{want:?} not in {text:?}");
    }
    b.until(
        "[...document.querySelectorAll('#stats dt')].some(dt => dt.textContent === 'Hash buckets')",
        "the bucket count",
    )
    .await;

    let lang = b
        .client
        .find(fantoccini::Locator::Css("#lang"))
        .await
        .unwrap();
    lang.select_by_value("fr").await.unwrap();
    b.until(
        "document.getElementById('pressure').textContent.includes('La table de hachage du suivi de connexions du noyau est trop petite')",
        "the warning in French",
    )
    .await;
    let text = b
        .js("document.getElementById('pressure').textContent")
        .await;
    let text = text.as_str().unwrap().to_string();
    for want in [
        "fois nf_conntrack_buckets",
        "Augmentez la taille de hachage",
        &command,
    ] {
        assert!(text.contains(want), "{want:?} not in {text:?}");
    }
    assert!(!text.contains("Raise the hash size"), "{text}");
    b.screenshot("nfctd-pressure-fr.png").await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_french_browser_gets_french() {
    let bed = Bed::new();
    let Some((_daemon, b)) = start(&bed, &[], "fr-FR").await else {
        return;
    };
    assert_eq!(
        b.js("document.querySelector('#login-view h2').textContent")
            .await,
        "Connexion"
    );
    assert_eq!(
        b.js("document.querySelector('#login-form button').textContent")
            .await,
        "Se connecter"
    );
    assert_eq!(b.js("document.getElementById('lang').value").await, "fr");
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_kernel_entry_appears_without_reloading() {
    let bed = bed_with(5);
    let Some((_daemon, b)) = start(&bed, &[], "en-US").await else {
        return;
    };
    b.login("", "").await;
    b.until(
        "document.querySelectorAll('#rows tr').length === 9",
        "9 rows",
    )
    .await;
    b.js("(window.sameDocument = true)").await;
    bed.inject(&[flow("10.77.7.7", "192.0.2.80", 45678, 8443)]);
    b.until(
        "document.getElementById('rows').textContent.includes('10.77.7.7:45678')",
        "the new entry",
    )
    .await;
    assert_eq!(
        b.js("window.sameDocument === true").await,
        true,
        "the page reloaded"
    );
    assert_eq!(b.row_ids().await.len(), 10);
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_session_goes_back_to_the_form() {
    let bed = bed_with(3);
    let Some((_daemon, b)) = start(&bed, &["--session-timeout", "2"], "en-US").await else {
        return;
    };
    b.login("", "").await;
    // With autorefresh off the page stops polling the table; the session lapses.
    b.click("#autorefresh").await;
    b.until(
        "document.getElementById('snapshot').textContent.startsWith('Frozen')",
        "a frozen view",
    )
    .await;
    b.until(
        "!document.getElementById('login-view').hidden",
        "the login form",
    )
    .await;
    assert_eq!(
        b.js("document.getElementById('login-message').textContent")
            .await,
        "Your session has expired. Log in again."
    );
    assert_eq!(
        b.js("document.getElementById('table-view').hidden").await,
        true
    );
    assert_eq!(
        b.js("document.querySelectorAll('#rows tr').length").await,
        0
    );
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_sees_no_kill_controls() {
    let bed = bed_with(5);
    let dir = tempfile::tempdir().unwrap();
    let passwd = dir.path().join("passwd");
    let mut add = std::process::Command::new(env!("CARGO_BIN_EXE_nfctd"))
        .args([
            "passwd",
            "add",
            "watcher",
            "--role",
            "viewer",
            "--passwd-file",
            passwd.to_str().unwrap(),
        ])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    add.stdin
        .take()
        .unwrap()
        .write_all(b"s3cret-enough\n")
        .unwrap();
    assert!(add.wait().unwrap().success());
    let args = [
        "--auth",
        "password",
        "--passwd-file",
        passwd.to_str().unwrap(),
    ];
    let Some((_daemon, b)) = start(&bed, &args, "en-US").await else {
        return;
    };
    b.type_into("#login-user", "watcher").await;
    b.type_into("#login-password", "wrong").await;
    b.click("#login-form button[type=submit]").await;
    b.until(
        "document.getElementById('login-message').textContent === 'Wrong user or password.'",
        "the refusal",
    )
    .await;
    b.login("watcher", "s3cret-enough").await;
    b.until(
        "document.querySelectorAll('#rows tr').length === 9",
        "9 rows",
    )
    .await;
    assert_eq!(
        b.js("document.querySelectorAll('#rows button').length")
            .await,
        0
    );
    assert_eq!(
        b.js("document.getElementById('kill-matching').hidden")
            .await,
        true
    );
    assert_eq!(
        b.js("[...document.querySelectorAll('#head th')].some(th => th.textContent === 'Actions')")
            .await,
        false
    );
    assert!(b
        .js("document.getElementById('who').textContent")
        .await
        .as_str()
        .unwrap()
        .contains("viewer"));
    b.close().await;
}

/// A table still loading at start: the page shows a labelled progress bar
/// (French here) where the table will be, then the table once it is whole.
/// The browser starts on a small daemon first and then goes to the big one
/// as it starts, so the page asks within its first second of loading (which
/// takes about 3 s in this unoptimised build, see `tests/loading.rs`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_still_loading_shows_a_progress_bar_then_the_table() {
    let bed = Bed::new();
    let entries = bed.fill(200_000);
    let small = Bed::new();
    let warm_up = Daemon::start(&small, &["--auth", "none"]);
    let Some(b) = Browser::open(warm_up.addr, "fr-FR").await else {
        return;
    };
    let daemon = Daemon::start_loading(&bed, &["--auth", "none"]);
    b.client
        .goto(&format!("http://{}/", daemon.addr))
        .await
        .unwrap();
    b.until("document.body.dataset.ready === '1'", "the page to start")
        .await;
    b.until(
        "!document.getElementById('login-view').hidden",
        "the login form",
    )
    .await;
    b.click("#login-form button[type=submit]").await;
    b.until(
        "document.body.dataset.loading === '1' || Number(document.body.dataset.loads || 0) > 0",
        "the first answer",
    )
    .await;
    assert_eq!(
        b.js("document.body.dataset.loading || ''").await,
        "1",
        "the first answer was already the whole table:\n{}",
        daemon.log()
    );
    let bar = b
        .js("(() => { const bar = document.getElementById('loading-bar'); return { tag: bar.tagName, name: bar.labels[0].textContent, value: bar.value, max: bar.max, text: document.getElementById('loading-text').textContent, table: document.getElementById('table-box').hidden }; })()")
        .await;
    assert_eq!(bar["tag"], "PROGRESS", "{bar}");
    assert_eq!(
        bar["name"], "Chargement de la table des connexions…",
        "{bar}"
    );
    assert_eq!(bar["table"], true, "{bar}");
    assert_eq!(bar["max"], entries, "{bar}");
    let (value, max) = (bar["value"].as_f64().unwrap(), bar["max"].as_f64().unwrap());
    assert!(0.0 < value && value <= max, "{bar}");
    let text = bar["text"]
        .as_str()
        .unwrap()
        .replace(['\u{a0}', '\u{202f}'], " ");
    // French groups digits by three, with a space.
    let digits = entries.to_string();
    let grouped: Vec<&str> = digits
        .as_bytes()
        .rchunks(3)
        .rev()
        .map(|group| std::str::from_utf8(group).unwrap())
        .collect();
    assert!(
        text.contains(&format!("sur {}", grouped.join(" "))),
        "{text}"
    );
    b.screenshot("nfctd-loading-fr.png").await;

    b.until("Number(document.body.dataset.loads || 0) > 0", "the table")
        .await;
    assert_eq!(
        b.js("document.getElementById('loading').hidden").await,
        true
    );
    assert_eq!(
        b.js("document.getElementById('table-box').hidden").await,
        false
    );
    assert_eq!(
        b.js("document.querySelectorAll('#rows tr').length").await,
        100
    );
    b.close().await;
}
