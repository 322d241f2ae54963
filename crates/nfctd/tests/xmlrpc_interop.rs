//! Interoperability with real XML-RPC client libraries (docs/xmlrpc-api.md): a whole session
//! through PHP's ext/xmlrpc (`interop/session.php`), Perl's RPC::XML::Client
//! (`interop/session.pl`) and Frontier::Client (`interop/session_frontier.pl`), and Ruby's
//! xmlrpc gem (`interop/session.rb`), each sending values the way that library naturally does
//! (empty array/hash or null for "no filters", form strings, ints wrapped to 32 bits, `<i8>`,
//! wide `<i4>`, numeric strings), against entries whose ids and marks lie above 2^31; then the
//! kernel's table is checked directly. Without the interpreter or library a test is skipped
//! with a message, unless `CI` is set.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::net::IpAddr;
use std::process::{Command, Stdio};

use common::{synthetic, Bed, Daemon};
use ctnetlink::consts::IPPROTO_UDP;
use ctnetlink::names::IPS_CONFIRMED;
use ctnetlink::Conn;

/// The mark some entries are created with: above 2^31, so a reply must carry it wide.
const BIG_MARK: u32 = 0xC000_0000;
/// The source of the entries `kill_matching` removes.
const MATCH_SRC: &str = "192.0.2.77";
const MATCH_COUNT: usize = 3;

/// Whether `check` (a command that exits 0 when the client library is usable) succeeds.
/// Missing is a skip with a message on a workstation, a failure in CI (`CI` set).
fn client_ready(check: &[&str], what: &str, install: &str) -> bool {
    let ok = Command::new(check[0])
        .args(&check[1..])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    common::available(ok, what, &format!("apt-get install {install}"))
}

/// What the test bed holds and what the script is told about it.
struct Plan {
    bed: Bed,
    kill_id: u32,
    mark_id: u32,
    timeout_id: u32,
    big_mark_id: u32,
    total: usize,
}

impl Plan {
    fn new() -> Plan {
        let bed = Bed::new();
        let mut conns = synthetic(40);
        conns[0].mark = BIG_MARK;
        for k in 0..MATCH_COUNT {
            let src: IpAddr = MATCH_SRC.parse().unwrap();
            let dst: IpAddr = "203.0.113.5".parse().unwrap();
            let mut c = Conn::flow(IPPROTO_UDP, src, dst, 40000 + k as u16, 53);
            c.timeout = 600;
            c.status = IPS_CONFIRMED;
            conns.push(c);
        }
        bed.inject(&conns);
        let kernel = bed.kernel();
        assert_eq!(kernel.len(), conns.len());
        let matched = |c: &Conn| c.orig.src.to_string() == MATCH_SRC;
        let big_mark_id = kernel.iter().find(|c| c.mark == BIG_MARK).unwrap().id;
        // Ids are kernel-assigned hashes: about half lie above 2^31.
        let big: Vec<u32> = kernel
            .iter()
            .filter(|c| c.id >= 1 << 31 && c.id != big_mark_id && !matched(c))
            .map(|c| c.id)
            .collect();
        assert!(big.len() >= 3, "too few ids above 2^31: {big:?}");
        Plan {
            kill_id: big[0],
            mark_id: big[1],
            timeout_id: big[2],
            big_mark_id,
            total: kernel.len(),
            bed,
        }
    }

    fn facts(&self) -> String {
        format!(
            "total {}\nkill_id {}\nmark_id {}\ntimeout_id {}\nbig_mark_id {}\nbig_mark {}\n\
             match_src {MATCH_SRC}\nmatch_count {MATCH_COUNT}\n",
            self.total, self.kill_id, self.mark_id, self.timeout_id, self.big_mark_id, BIG_MARK
        )
    }

    /// Runs `program script URL` with the facts on stdin; fails the test on any failed step.
    fn run(&self, daemon: &Daemon, program: &str, script: &str) {
        let script = format!("{}/tests/interop/{script}", env!("CARGO_MANIFEST_DIR"));
        let mut child = Command::new(program)
            .arg(&script)
            .arg(daemon.url())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(self.facts().as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        println!("{stdout}");
        assert!(
            out.status.success() && !stdout.contains("FAIL"),
            "{script} failed:\n{stdout}{}\ndaemon log:\n{}",
            String::from_utf8_lossy(&out.stderr),
            daemon.log()
        );
    }

    /// The kernel's table after the session: each change really happened, nothing else did.
    fn check_kernel(&self) {
        let kernel = self.bed.kernel();
        let row = |id: u32| kernel.iter().find(|c| c.id == id);
        assert!(
            row(self.kill_id).is_none(),
            "killed id {} is still there",
            self.kill_id
        );
        assert_eq!(row(self.mark_id).unwrap().mark, 3_000_000_000);
        let timeout = row(self.timeout_id).unwrap().timeout;
        assert!((3500..=3600).contains(&timeout), "kernel timeout {timeout}");
        assert_eq!(row(self.big_mark_id).unwrap().mark, BIG_MARK);
        assert!(
            kernel.iter().all(|c| c.orig.src.to_string() != MATCH_SRC),
            "kill_matching left entries from {MATCH_SRC}"
        );
        assert_eq!(kernel.len(), self.total - 1 - MATCH_COUNT);
    }
}

/// How one client library runs its session.
struct Client<'a> {
    /// A command that exits 0 when the interpreter and library are usable.
    check: &'a [&'a str],
    /// The library's name, for the skip message.
    what: &'a str,
    /// The Debian packages that provide it.
    install: &'a str,
    /// The daemon's options this library needs.
    daemon_args: &'a [&'a str],
    /// The interpreter and the script under `tests/interop/`.
    program: &'a str,
    script: &'a str,
}

/// A whole session through `client` against a fresh bed, then the kernel check; a skip when
/// the library is missing (outside CI).
fn session(client: &Client) {
    if !client_ready(client.check, client.what, client.install) {
        return;
    }
    let plan = Plan::new();
    let daemon = Daemon::start(&plan.bed, client.daemon_args);
    plan.run(&daemon, client.program, client.script);
    plan.check_kernel();
}

#[test]
fn php_ext_xmlrpc_session() {
    session(&Client {
        check: &[
            "php",
            "-r",
            "exit(function_exists('xmlrpc_encode_request') ? 0 : 1);",
        ],
        what: "PHP with ext/xmlrpc",
        install: "php-cli php-xmlrpc",
        // ext/xmlrpc decodes <i8> as NULL: wide values must come as doubles for it.
        daemon_args: &["--xmlrpc-wide-int", "double"],
        program: "php",
        script: "session.php",
    });
}

#[test]
fn perl_rpc_xml_session() {
    session(&Client {
        check: &["perl", "-MRPC::XML::Client", "-e", "1"],
        what: "Perl RPC::XML",
        install: "librpc-xml-perl",
        // RPC::XML reads <i8>: the defaults.
        daemon_args: &[],
        program: "perl",
        script: "session.pl",
    });
}

#[test]
fn perl_frontier_client_session() {
    session(&Client {
        check: &["perl", "-MFrontier::Client", "-e", "1"],
        what: "Perl Frontier::Client",
        install: "libfrontier-rpc-perl",
        // Frontier rejects a whole response holding <i8>: wide values come as strings.
        daemon_args: &["--xmlrpc-wide-int", "string"],
        program: "perl",
        script: "session_frontier.pl",
    });
}

#[test]
fn ruby_xmlrpc_session() {
    session(&Client {
        check: &["ruby", "-e", "require 'xmlrpc/client'"],
        what: "Ruby's xmlrpc gem",
        install: "ruby ruby-xmlrpc",
        // The gem reads <i8>: the defaults.
        daemon_args: &[],
        program: "ruby",
        script: "session.rb",
    });
}
