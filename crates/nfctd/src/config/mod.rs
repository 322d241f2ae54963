//! The command line and the TOML config file: parsing, merging (command line
//! wins), defaults and validation. Every error names the option. The
//! authentication and network options are validated in `auth` and `net`.

mod auth;
mod export;
mod net;
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use serde::Deserialize;

use crate::auth::passwd_cli::PasswdArgs;
use crate::auth::AuthConfig;
use crate::xmlrpc::WideInt;
use nfctd_table::cidr::Cidr;

use auth::auth_config;
use export::{export_config, resync_for_export};
use net::net_config;
pub use net::{ListenAddr, NetConfig};

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8020";
pub const DEFAULT_IGNORE: [&str; 2] = ["127.0.0.0/8", "::1/128"];

#[derive(Debug, Parser)]
#[command(
    name = "nfctd",
    version,
    about = "Serves the Linux Netfilter connection-tracking table over XML-RPC (pyctd-compatible)"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub options: Options,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve a private, self-made network namespace with live synthetic traffic; needs no root.
    Demo {
        // Boxed: the options dwarf the other variants.
        #[command(flatten)]
        options: Box<Options>,
    },
    /// Manage the password file: add (or change) a user, delete one, list them.
    Passwd(PasswdArgs),
    /// Print the nfctd(8) manual page (roff) on stdout.
    Man,
    /// Print the completion script for SHELL (bash, zsh or fish) on stdout.
    Completions {
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
}

/// The daemon's options; each may also be set in the `--config` TOML file.
#[derive(Debug, Default, Args, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Options {
    /// TOML file with any of these options (kebab-case keys); the command line wins.
    #[arg(long, value_name = "FILE")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Where HTTP(S) is served (repeatable): ADDR:PORT is HTTPS when --tls-cert is given, else HTTP; http://ADDR:PORT or https://ADDR:PORT says which [default: 127.0.0.1:8020].
    #[arg(long, value_name = "[http[s]://]ADDR:PORT")]
    #[serde(default)]
    pub listen: Vec<ListenAddr>,
    /// Allow --auth none on a non-loopback listen address.
    #[arg(long)]
    #[serde(default)]
    pub allow_remote_without_auth: bool,
    /// Idle session expiry in seconds, sliding [default: 300].
    #[arg(long, value_name = "SECS")]
    pub session_timeout: Option<u64>,
    /// Show uid = (mark & MASK) >> (trailing zeros of MASK) and its user name (decimal or 0x hex).
    #[arg(long, value_name = "MASK")]
    pub uid_mask: Option<String>,
    /// Hide connections whose original source or destination lies here (repeatable) [default: 127.0.0.0/8, ::1/128].
    #[arg(long, value_name = "CIDR")]
    #[serde(default)]
    pub ignore: Vec<String>,
    /// Drop the default --ignore prefixes.
    #[arg(long)]
    #[serde(default)]
    pub no_default_ignore: bool,
    /// Watch another network namespace: NAME (/run/netns/NAME) or a path like /proc/PID/ns/net.
    #[arg(long, value_name = "NAME|PATH")]
    pub netns: Option<String>,
    /// Full reconciliation dump period in seconds; 0 disables [default: 30; demo: 5].
    #[arg(long, value_name = "SECS")]
    pub resync_interval: Option<u64>,
    /// Largest `length` that `view` accepts [default: 10000].
    #[arg(long, value_name = "N")]
    pub max_page: Option<usize>,
    /// Serve /metrics also here, plain HTTP, without login (for Prometheus); /metrics on --listen then follows --auth.
    #[arg(long, value_name = "ADDR:PORT")]
    pub metrics_listen: Option<SocketAddr>,
    /// Receive buffer for conntrack events, bytes; an overflow costs a full resync [default: 33554432].
    #[arg(long, value_name = "BYTES")]
    pub event_buffer: Option<usize>,
    /// Ask the kernel never to lose a DESTROY event (NETLINK_BROADCAST_ERROR, NETLINK_NO_ENOBUFS): it keeps ended entries until their event fits, so when the table fills it drops new connections' packets instead; see the README.
    #[arg(long)]
    #[serde(default)]
    pub reliable_events: bool,
    /// How XML-RPC sends integers beyond signed 32 bits: i8, double (for PHP ext/xmlrpc) or string (for Frontier::Client, XMLRPC::Lite) [default: i8].
    #[arg(long, value_name = "i8|double|string")]
    pub xmlrpc_wide_int: Option<String>,
    /// Warn (log, stats, web page) when nf_conntrack_max / nf_conntrack_buckets is above RATIO: the hash table is too small for a full table; 0: never [default: 8].
    #[arg(long, value_name = "RATIO")]
    pub pressure_ratio: Option<f64>,
    /// Switch on nf_conntrack_acct and nf_conntrack_timestamp in the served namespace at start: byte/packet counters and start times (a few bytes per entry).
    #[arg(long)]
    #[serde(default)]
    pub enable_accounting: bool,
    /// Export flow records (repeatable): json:- (stdout), json:PATH (appended), json:unix:PATH (a Unix stream socket the collector listens on), json:tcp://HOST:PORT (HOST an IP, [IPv6] or a name), ipfix+udp://HOST:PORT or ipfix+tcp://HOST:PORT (an IPFIX collector); a collector that is away delays records, which wait in a 65,536-record spool.
    #[arg(long, value_name = "TARGET")]
    #[serde(default)]
    pub export: Vec<String>,
    /// Seconds between interim records of a long flow, carrying the counts since its previous record; 0: end records only [default: 60].
    #[arg(long, value_name = "SECS")]
    pub export_active_timeout: Option<u64>,
    /// Also export NAT44 binding create and delete events (RFC 8158), for carrier-grade NAT logging.
    #[arg(long)]
    #[serde(default)]
    pub export_nat_events: bool,
    /// IPFIX observation domain id of the exported messages [default: the served network namespace's inode number, low 32 bits].
    #[arg(long, value_name = "N")]
    pub export_domain_id: Option<u32>,
    /// Log format on stderr: text or json [default: text].
    #[arg(long, value_name = "text|json")]
    pub log_format: Option<String>,
    /// Log level: error, warn, info, debug or trace, or a tracing filter; reloaded on SIGHUP; NFCTD_LOG wins [default: info].
    #[arg(long, value_name = "LEVEL")]
    pub log_level: Option<String>,

    // Authentication (validated in `auth_config` below).
    /// Authentication backend [default: password if --passwd-file exists, else none]; with none every session is admin, as in pyctd.
    #[arg(long, value_name = "none|password|command|pam")]
    pub auth: Option<String>,
    /// The password file for --auth password: name:hash:role lines [default: /etc/nfctd/passwd].
    #[arg(long, value_name = "FILE")]
    pub passwd_file: Option<PathBuf>,
    /// The program for --auth command: gets user and password on stdin, one per line; exit 0 accepts; may print admin or viewer.
    #[arg(long, value_name = "PROG")]
    pub auth_command: Option<PathBuf>,
    /// Failed logins allowed per user name and per client address within --login-window [default: 5].
    #[arg(long, value_name = "N")]
    pub login_attempts: Option<u32>,
    /// The throttling window in seconds [default: 60].
    #[arg(long, value_name = "SECS")]
    pub login_window: Option<u64>,
    /// Clients here (repeatable; ADDR or ADDR/LEN) may log in while their user name is locked out by failures from elsewhere; their own address is still throttled; a list given replaces the default [default: 127.0.0.1/32, ::1/128].
    #[arg(long, value_name = "CIDR")]
    #[serde(default)]
    pub admin_from: Vec<String>,
    // ---- Network: TLS, connection limits, allowed hosts (see NetConfig below) ----
    /// PEM certificate chain for HTTPS; reloaded on SIGHUP (needs --tls-key).
    #[arg(long, value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert; reloaded on SIGHUP.
    #[arg(long, value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// A host name that requests may carry in Host and Origin, besides loopback names and listen addresses (repeatable).
    #[arg(long, value_name = "NAME")]
    #[serde(default)]
    pub allowed_host: Vec<String>,
    /// Seconds a client has to send a complete request head (TLS handshake included) [default: 10].
    #[arg(long, value_name = "SECS")]
    pub header_timeout: Option<u64>,
    /// Seconds an idle keep-alive connection stays open [default: 60].
    #[arg(long, value_name = "SECS")]
    pub idle_timeout: Option<u64>,
    /// Open connections at most; beyond, the longest-silent one is closed [default: 1024].
    #[arg(long, value_name = "N")]
    pub max_connections: Option<usize>,
    /// Heavy calls that may wait for one of the 8 slots; beyond, HTTP 503 with Retry-After [default: 256].
    #[arg(long, value_name = "N")]
    pub heavy_queue: Option<usize>,
}

/// A bad option: the message names it, or the file. Exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A value the option does not take, or one that does not go with the others.
    #[error("invalid {option}: {why}")]
    Invalid { option: &'static str, why: String },
    /// The `--config` file could not be read.
    #[error("invalid --config: {}: {source}", path.display())]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The `--config` file is not TOML, or names an option that does not exist.
    #[error("invalid --config: {}: {}", path.display(), source.message())]
    Toml {
        path: PathBuf,
        source: toml::de::Error,
    },
    /// A subcommand that is not the daemon.
    #[error("`nfctd passwd`, `man` and `completions` do not start the daemon")]
    NotTheDaemon,
}

pub(super) fn bad(option: &'static str, why: impl std::fmt::Display) -> ConfigError {
    ConfigError::Invalid {
        option,
        why: why.to_string(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Where the table comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The daemon's own network namespace.
    Own,
    /// Another namespace, joined at start.
    Netns(PathBuf),
    /// A private namespace made by `nfctd demo`.
    Demo,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub source: Source,
    pub listen: Vec<SocketAddr>,
    pub session_timeout: Duration,
    pub uid_mask: Option<u32>,
    pub ignore: Vec<Cidr>,
    pub resync_interval: Option<Duration>,
    pub max_page: usize,
    /// A listener for /metrics alone, without login.
    pub metrics_listen: Option<SocketAddr>,
    pub event_buffer: usize,
    /// `--reliable-events`: no DESTROY event lost, at the cost docs/export.md names.
    pub reliable_events: bool,
    pub xmlrpc_wide_int: WideInt,
    pub log_format: LogFormat,
    /// Checked to be a valid level or tracing filter.
    pub log_level: String,
    /// `--enable-accounting`: switch the kernel's counters and timestamps on at start.
    pub accounting: bool,
    /// `--pressure-ratio`: warn above this `nf_conntrack_max / buckets`; 0: never.
    pub pressure_ratio: f64,
    /// `--export` and its options, if anything is exported.
    pub export: Option<crate::export::ExportConfig>,
    pub auth: AuthConfig,
    pub net: NetConfig,
}

impl Config {
    /// Validates the parsed command line, merged over the config file if one is given.
    pub fn from_cli(cli: Cli) -> Result<Config, ConfigError> {
        let (demo, cli_options) = match cli.command {
            Some(Command::Demo { options }) => (true, merge_cli(cli.options, *options)),
            None => (false, cli.options),
            Some(Command::Passwd(_) | Command::Man | Command::Completions { .. }) => {
                return Err(ConfigError::NotTheDaemon)
            }
        };
        let file = match &cli_options.config {
            Some(path) => read_file(path)?,
            None => Options::default(),
        };
        let o = merge(cli_options, file);

        let net = net_config(&o)?;
        let listen: Vec<SocketAddr> = net.endpoints.iter().map(|e| e.addr).collect();
        let auth = auth_config(&o, &listen)?;
        let session_timeout = match o.session_timeout {
            Some(0) => return Err(bad("--session-timeout", "must be at least 1 second")),
            Some(s) => Duration::from_secs(s),
            None => Duration::from_secs(300),
        };
        let uid_mask = o.uid_mask.as_deref().map(parse_mask).transpose()?;
        let mut ignore = Vec::new();
        if !o.no_default_ignore {
            for cidr in DEFAULT_IGNORE {
                ignore.push(cidr.parse::<Cidr>().map_err(|e| bad("--ignore", e))?);
            }
        }
        for text in &o.ignore {
            ignore.push(
                text.parse::<Cidr>()
                    .map_err(|e| bad("--ignore", format!("{text:?}: {e}")))?,
            );
        }
        let export = export_config(&o)?;
        let source = match (demo, o.netns) {
            (true, Some(_)) => {
                return Err(bad(
                    "--netns",
                    "cannot be combined with `demo`, which makes its own namespace",
                ))
            }
            (true, None) => Source::Demo,
            (false, Some(name)) => Source::Netns(netns_path(&name)?),
            (false, None) => Source::Own,
        };
        let default_resync = if source == Source::Demo { 5 } else { 30 };
        let resync_interval = match o.resync_interval.unwrap_or(default_resync) {
            0 => None,
            s => Some(Duration::from_secs(s)),
        };
        let resync_interval = resync_for_export(resync_interval, export.as_ref());
        let max_page = match o.max_page {
            Some(0) => return Err(bad("--max-page", "must be at least 1")),
            Some(n) => n,
            None => 10_000,
        };
        let event_buffer = match o.event_buffer {
            Some(n) if n < 4096 => {
                return Err(bad("--event-buffer", "must be at least 4096 bytes"))
            }
            Some(n) => n,
            None => 32 * 1024 * 1024,
        };
        let xmlrpc_wide_int = match o.xmlrpc_wide_int.as_deref() {
            None => WideInt::default(),
            Some(name) => WideInt::parse(name).ok_or_else(|| {
                bad(
                    "--xmlrpc-wide-int",
                    format!("{name:?}: expected one of {}", WideInt::NAMES.join(", ")),
                )
            })?,
        };
        let log_format = match o.log_format.as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(bad(
                    "--log-format",
                    format!("{other:?}: expected text or json"),
                ))
            }
        };
        let pressure_ratio = match o.pressure_ratio {
            Some(r) if !r.is_finite() || r < 0.0 => {
                return Err(bad(
                    "--pressure-ratio",
                    format!("{r}: must be a number, 0 or above"),
                ))
            }
            Some(r) => r,
            None => crate::service::DEFAULT_RATIO,
        };
        let log_level = o.log_level.unwrap_or_else(|| "info".to_string());
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&log_level) {
            return Err(bad("--log-level", format!("{log_level:?}: {e}")));
        }
        Ok(Config {
            source,
            listen,
            session_timeout,
            uid_mask,
            ignore,
            resync_interval,
            max_page,
            metrics_listen: o.metrics_listen,
            event_buffer,
            reliable_events: o.reliable_events,
            xmlrpc_wide_int,
            log_format,
            log_level,
            accounting: o.enable_accounting,
            pressure_ratio,
            export,
            auth,
            net,
        })
    }
}

/// The rule `--ignore` makes: a connection whose original source or
/// destination lies in one of the prefixes stays out of the mirror.
pub fn ignore_rule(ignore: Vec<Cidr>) -> nfctd_table::Hidden {
    std::sync::Arc::new(move |conn: &ctnetlink::Conn| {
        ignore
            .iter()
            .any(|cidr| cidr.contains(&conn.orig.src) || cidr.contains(&conn.orig.dst))
    })
}

/// Options given after `demo` win over those given before it.
fn merge_cli(before: Options, after: Options) -> Options {
    merge(after, before)
}

/// Field by field: `high` wins where it says something.
fn merge(high: Options, low: Options) -> Options {
    Options {
        config: high.config.or(low.config),
        listen: if high.listen.is_empty() {
            low.listen
        } else {
            high.listen
        },
        auth: high.auth.or(low.auth),
        allow_remote_without_auth: high.allow_remote_without_auth || low.allow_remote_without_auth,
        session_timeout: high.session_timeout.or(low.session_timeout),
        uid_mask: high.uid_mask.or(low.uid_mask),
        ignore: if high.ignore.is_empty() {
            low.ignore
        } else {
            high.ignore
        },
        no_default_ignore: high.no_default_ignore || low.no_default_ignore,
        netns: high.netns.or(low.netns),
        resync_interval: high.resync_interval.or(low.resync_interval),
        max_page: high.max_page.or(low.max_page),
        metrics_listen: high.metrics_listen.or(low.metrics_listen),
        event_buffer: high.event_buffer.or(low.event_buffer),
        reliable_events: high.reliable_events || low.reliable_events,
        xmlrpc_wide_int: high.xmlrpc_wide_int.or(low.xmlrpc_wide_int),
        log_format: high.log_format.or(low.log_format),
        log_level: high.log_level.or(low.log_level),
        enable_accounting: high.enable_accounting || low.enable_accounting,
        pressure_ratio: high.pressure_ratio.or(low.pressure_ratio),
        export: if high.export.is_empty() {
            low.export
        } else {
            high.export
        },
        export_active_timeout: high.export_active_timeout.or(low.export_active_timeout),
        export_nat_events: high.export_nat_events || low.export_nat_events,
        export_domain_id: high.export_domain_id.or(low.export_domain_id),
        passwd_file: high.passwd_file.or(low.passwd_file),
        auth_command: high.auth_command.or(low.auth_command),
        login_attempts: high.login_attempts.or(low.login_attempts),
        login_window: high.login_window.or(low.login_window),
        admin_from: if high.admin_from.is_empty() {
            low.admin_from
        } else {
            high.admin_from
        },
        // Network block.
        tls_cert: high.tls_cert.or(low.tls_cert),
        tls_key: high.tls_key.or(low.tls_key),
        allowed_host: if high.allowed_host.is_empty() {
            low.allowed_host
        } else {
            high.allowed_host
        },
        header_timeout: high.header_timeout.or(low.header_timeout),
        idle_timeout: high.idle_timeout.or(low.idle_timeout),
        max_connections: high.max_connections.or(low.max_connections),
        heavy_queue: high.heavy_queue.or(low.heavy_queue),
    }
}

fn read_file(path: &Path) -> Result<Options, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::File {
        path: path.to_path_buf(),
        source,
    })?;
    toml::from_str(&text).map_err(|source| ConfigError::Toml {
        path: path.to_path_buf(),
        source,
    })
}

fn parse_mask(text: &str) -> Result<u32, ConfigError> {
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16),
        None => text.parse(),
    };
    match parsed {
        Ok(0) => Err(bad("--uid-mask", "must not be 0")),
        Ok(mask) => Ok(mask),
        Err(_) => Err(bad(
            "--uid-mask",
            format!("{text:?} is not a 32-bit number (decimal or 0x hex)"),
        )),
    }
}

fn netns_path(name: &str) -> Result<PathBuf, ConfigError> {
    let path = if name.contains('/') {
        PathBuf::from(name)
    } else {
        Path::new("/run/netns").join(name)
    };
    if !path.exists() {
        return Err(bad("--netns", format!("{} does not exist", path.display())));
    }
    Ok(path)
}
