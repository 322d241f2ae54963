//! IPFIX collectors for the IPFIX tests and the export bench: Debian's
//! nfacctd (pmacct) run inside a bed's namespace, printing one JSON line per
//! record it decoded; and a small reader of IPFIX messages for the sockets a
//! test or the bench reads itself.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value as Json;

use super::{wait_until, Bed};

/// How to get the tools.
pub const INSTALL: &str = "apt-get install pmacct tshark";

/// Whether `tool` is on PATH.
pub fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// nfacctd's custom primitives for the elements it has no name for
/// (a primitive's `len` must be the template's field length).
pub const PRIMITIVES: &str = "\
name=rev_bytes\tfield_type=232\tlen=8\tsemantics=u_int
name=rev_pkts\tfield_type=299\tlen=8\tsemantics=u_int
name=end_reason\tfield_type=136\tlen=1\tsemantics=u_int
name=flow_id\tfield_type=148\tlen=8\tsemantics=u_int
name=pn_src_v6\tfield_type=281\tlen=16\tsemantics=ip
name=pn_dst_v6\tfield_type=282\tlen=16\tsemantics=ip
name=start_ms\tfield_type=152\tlen=8\tsemantics=u_int
name=end_ms\tfield_type=153\tlen=8\tsemantics=u_int
name=obs_ms\tfield_type=323\tlen=8\tsemantics=u_int
";

/// nfacctd on 127.0.0.1:`port` in a bed's namespace, writing every record
/// it decodes as a JSON line (flow_id and the times make each its own
/// aggregate), with sequence checks on. The socket buffer is as large as
/// the kernel allows (bursts of datagrams); the plugin's buffer keeps its
/// default (one record), since a larger one holds the last records back
/// until more come.
pub struct Nfacctd {
    child: Child,
    pub dir: tempfile::TempDir,
    pub port: u16,
}

impl Nfacctd {
    pub fn start(bed: &Bed, port: u16) -> Nfacctd {
        let dir = tempfile::tempdir().unwrap();
        let at = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
        std::fs::write(at("primitives.lst"), PRIMITIVES).unwrap();
        let config = format!(
            "daemonize: false\n\
             debug: {debug}\n\
             nfacctd_disable_checks: false\n\
             logfile: {log}\n\
             pidfile: {pid}\n\
             nfacctd_ip: 127.0.0.1\n\
             nfacctd_port: {port}\n\
             nfacctd_pipe_size: 33554432\n\
             aggregate_primitives: {primitives}\n\
             timestamps_since_epoch: true\n\
             plugins: print[p]\n\
             aggregate[p]: src_host, dst_host, src_port, dst_port, proto, post_nat_src_host, \
             post_nat_dst_host, post_nat_src_port, post_nat_dst_port, nat_event, timestamp_start, \
             rev_bytes, rev_pkts, end_reason, flow_id, pn_src_v6, pn_dst_v6, start_ms, end_ms, obs_ms\n\
             print_output[p]: json\n\
             print_output_file[p]: {out}\n\
             print_output_file_append[p]: true\n\
             print_refresh_time[p]: 1\n",
            // NFACCTD_DEBUG=1 logs every datagram (and why one was dropped).
            debug = std::env::var_os("NFACCTD_DEBUG").is_some(),
            log = at("nfacctd.log"),
            pid = at("nfacctd.pid"),
            primitives = at("primitives.lst"),
            out = at("flows.json"),
        );
        std::fs::write(at("nfacctd.conf"), config).unwrap();
        let child = bed
            .command("nfacctd")
            .args(["-f", &at("nfacctd.conf")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nfacctd");
        let collector = Nfacctd { child, dir, port };
        assert!(
            wait_until(Duration::from_secs(10), || collector
                .log()
                .contains("waiting for NetFlow")),
            "nfacctd did not start: {}",
            collector.log()
        );
        collector
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.path("nfacctd.log")).unwrap_or_default()
    }

    /// The records written so far (complete lines only).
    pub fn records(&self) -> Vec<Json> {
        super::export::lines(&self.path("flows.json"))
    }

    /// The sequence gaps nfacctd logged.
    pub fn gaps(&self) -> Vec<String> {
        self.log()
            .lines()
            .filter(|l| l.contains("expecting flow"))
            .map(str::to_string)
            .collect()
    }

    /// nfacctd's own counters per exporter ("stats [...] agent=IP:DOMAIN
    /// packets=N ... seq_good=N seq_jmp_fwd=N seq_jmp_bck=N"): SIGUSR1 asks
    /// for them, and nfacctd acts on it at its next datagram, which this
    /// sends (an empty message from observation domain 0).
    pub fn stats(&self, bed: &Bed) -> Vec<String> {
        let before = self.log().matches("seq_good=").count();
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGUSR1).unwrap();
        let socket = std::net::UdpSocket::from(bed.socket(libc::SOCK_DGRAM));
        let empty = [0, 10, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        let to = std::net::SocketAddr::from(([127, 0, 0, 1], self.port));
        wait_until(Duration::from_secs(5), || {
            let _ = socket.send_to(&empty, to);
            self.log().matches("seq_good=").count() > before
        });
        std::thread::sleep(Duration::from_millis(100));
        self.log()
            .lines()
            .filter(|l| l.contains("seq_good="))
            .skip(before)
            .map(str::to_string)
            .collect()
    }

    /// Stops with SIGINT (nfacctd writes its cache out) and waits until the
    /// core and its plugin are gone, so a new one can take the port alone
    /// (nfacctd binds with SO_REUSEPORT).
    pub fn stop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT);
        let exited = wait_until(Duration::from_secs(10), || {
            self.child.try_wait().ok().flatten().is_some()
        });
        if !exited {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        self.kill_plugin();
    }

    fn kill_plugin(&self) {
        let plugin = std::fs::read_to_string(self.path("nfacctd.pid-print-p")).unwrap_or_default();
        if let Ok(pid) = plugin.trim().parse::<i32>() {
            let pid = nix::unistd::Pid::from_raw(pid);
            let gone = wait_until(Duration::from_secs(5), || {
                nix::sys::signal::kill(pid, None).is_err()
            });
            if !gone {
                let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            }
        }
    }
}

impl Drop for Nfacctd {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        self.kill_plugin();
    }
}

/// A custom primitive's value (nfacctd prints those as strings).
pub fn num(record: &Json, key: &str) -> u64 {
    match &record[key] {
        Json::String(s) => s.parse().unwrap_or_else(|_| panic!("{key}: {s:?}")),
        Json::Number(n) => n.as_u64().unwrap(),
        other => panic!("{key}: {other} in {record}"),
    }
}

/// One IPFIX message, read by the test itself.
#[derive(Debug)]
pub struct Message {
    pub length: usize,
    pub export_time: u32,
    pub sequence: u32,
    pub domain: u32,
    /// (set id, set body) in order.
    pub sets: Vec<(u16, Vec<u8>)>,
}

impl Message {
    /// Reads the message at the start of `bytes`; `None` if incomplete.
    pub fn parse(bytes: &[u8]) -> Option<Message> {
        if bytes.len() < 16 {
            return None;
        }
        let u16_at = |i: usize| u16::from_be_bytes([bytes[i], bytes[i + 1]]);
        let u32_at = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap());
        assert_eq!(u16_at(0), 10, "IPFIX version");
        let length = usize::from(u16_at(2));
        if bytes.len() < length {
            return None;
        }
        let mut sets = Vec::new();
        let mut at = 16;
        while at < length {
            let id = u16_at(at);
            let set_length = usize::from(u16_at(at + 2));
            assert!(set_length >= 4 && at + set_length <= length, "set length");
            sets.push((id, bytes[at + 4..at + set_length].to_vec()));
            at += set_length;
        }
        assert_eq!(at, length, "the sets fill the message");
        Some(Message {
            length,
            export_time: u32_at(4),
            sequence: u32_at(8),
            domain: u32_at(12),
            sets,
        })
    }

    /// The flowIds' low 32 bits (conntrack ids) of the flow records in it,
    /// read where the templates seen so far put flowId (IE 148).
    pub fn conntrack_ids(&self, layouts: &Layouts) -> Vec<u32> {
        let mut ids = Vec::new();
        for (id, body) in self.data_sets() {
            let layout = layouts.of(id);
            let Some(at) = layout.flow_id_at else {
                continue;
            };
            for record in body.chunks_exact(layout.length) {
                ids.push(u32::from_be_bytes(
                    record[at + 4..at + 8].try_into().unwrap(),
                ));
            }
        }
        ids
    }

    /// Data records in it (what the sequence number counts), by the
    /// lengths the templates seen so far give.
    pub fn data_records(&self, layouts: &Layouts) -> usize {
        self.data_sets()
            .map(|(id, body)| body.len() / layouts.of(id).length)
            .sum()
    }

    fn data_sets(&self) -> impl Iterator<Item = (u16, &[u8])> {
        self.sets
            .iter()
            .filter(|(id, _)| *id >= 256)
            .map(|(id, body)| (*id, body.as_slice()))
    }
}

/// One template's data records: their length, and where flowId starts.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    pub length: usize,
    pub flow_id_at: Option<usize>,
}

/// What the template and options template sets seen so far define, as a
/// collector keeps it for one stream.
#[derive(Debug, Default, Clone)]
pub struct Layouts(HashMap<u16, Layout>);

impl Layouts {
    /// Reads the templates in `message` (sets 2 and 3).
    pub fn learn(&mut self, message: &Message) {
        for (set, body) in &message.sets {
            let header = match set {
                2 => 4, // template id, field count
                3 => 6, // and scope field count
                _ => continue,
            };
            let u16_at = |i: usize| u16::from_be_bytes([body[i], body[i + 1]]);
            let mut at = 0;
            while at + header <= body.len() {
                let (template, fields) = (u16_at(at), u16_at(at + 2));
                at += header;
                let mut layout = Layout {
                    length: 0,
                    flow_id_at: None,
                };
                for _ in 0..fields {
                    let (element, length) = (u16_at(at), usize::from(u16_at(at + 2)));
                    at += if element & 0x8000 != 0 { 8 } else { 4 };
                    if element == 148 {
                        layout.flow_id_at = Some(layout.length);
                    }
                    layout.length += length;
                }
                self.0.insert(template, layout);
            }
        }
    }

    /// The layout of `template`; a data set before its template is a
    /// fault of the exporter.
    pub fn of(&self, template: u16) -> Layout {
        *self
            .0
            .get(&template)
            .unwrap_or_else(|| panic!("data set {template} came before its template"))
    }
}
