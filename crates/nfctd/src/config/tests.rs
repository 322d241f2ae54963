//! Tests of the configuration: defaults, precedence, every refusal.

use super::*;
use crate::auth::{Limit, Method};

/// Parses as the daemon does: clap's refusals and the configuration's alike.
fn parse(args: &[&str]) -> Result<Config, Box<dyn std::error::Error>> {
    let cli = Cli::try_parse_from(std::iter::once("nfctd").chain(args.iter().copied()))?;
    Ok(Config::from_cli(cli)?)
}

/// The configuration's refusal of a command line clap accepts.
fn refusal(args: &[&str]) -> ConfigError {
    let cli = Cli::try_parse_from(std::iter::once("nfctd").chain(args.iter().copied())).unwrap();
    Config::from_cli(cli).unwrap_err()
}

#[test]
fn defaults_follow_the_spec() {
    let c = parse(&[]).unwrap();
    assert_eq!(c.listen, vec!["127.0.0.1:8020".parse().unwrap()]);
    assert_eq!(c.session_timeout, Duration::from_secs(300));
    assert_eq!(c.resync_interval, Some(Duration::from_secs(30)));
    assert_eq!(c.max_page, 10_000);
    assert_eq!(c.ignore.len(), 2);
    assert_eq!(c.source, Source::Own);
    assert_eq!(c.xmlrpc_wide_int, WideInt::I8);
    assert_eq!(c.pressure_ratio, 8.0);
    let c = parse(&["--xmlrpc-wide-int", "double"]).unwrap();
    assert_eq!(c.xmlrpc_wide_int, WideInt::Double);
}

#[test]
fn errors_name_the_option() {
    for (args, option) in [
        (&["--uid-mask", "zz"][..], "--uid-mask"),
        (&["--uid-mask", "0"], "--uid-mask"),
        (&["--ignore", "10.0.0.0/33"], "--ignore"),
        (&["--listen", "0.0.0.0:8020"], "--listen"),
        (&["--max-page", "0"], "--max-page"),
        (&["--log-format", "xml"], "--log-format"),
        (&["--xmlrpc-wide-int", "i4"], "--xmlrpc-wide-int"),
        (&["--netns", "/nonexistent/ns"], "--netns"),
        (&["--tls-cert", "/c.pem"], "--tls-cert"),
        (&["--tls-key", "/k.pem"], "--tls-key"),
        (&["--listen", "https://127.0.0.1:8443"], "--listen"),
        (&["--allowed-host", "a.example:80"], "--allowed-host"),
        (&["--header-timeout", "0"], "--header-timeout"),
        (&["--idle-timeout", "0"], "--idle-timeout"),
        (&["--max-connections", "0"], "--max-connections"),
        (&["--export-domain-id", "7"], "--export-domain-id"),
        (&["--export", "ipfix+udp://[::1:4739"], "--export"),
        (&["--pressure-ratio=-1"], "--pressure-ratio"),
        (&["--pressure-ratio", "NaN"], "--pressure-ratio"),
        (&["--pressure-ratio", "inf"], "--pressure-ratio"),
        (&["--pressure-ratio", "eight"], "--pressure-ratio"),
    ] {
        let err = parse(args).unwrap_err().to_string();
        assert!(err.contains(option), "{args:?}: {err}");
    }
}

#[test]
fn errors_are_typed_and_read_as_before() {
    let e = refusal(&["--max-page", "0"]);
    assert!(
        matches!(&e, ConfigError::Invalid { option: "--max-page", why } if why == "must be at least 1"),
        "{e:?}"
    );
    assert_eq!(e.to_string(), "invalid --max-page: must be at least 1");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nfctd.toml");
    let file = path.to_str().unwrap();
    let e = refusal(&["--config", file]);
    assert!(
        matches!(&e, ConfigError::File { path: p, source } if *p == path && source.kind() == std::io::ErrorKind::NotFound),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        format!("invalid --config: {file}: No such file or directory (os error 2)")
    );
    std::fs::write(&path, "max-page = \"many\"\n").unwrap();
    let e = refusal(&["--config", file]);
    assert!(
        matches!(&e, ConfigError::Toml { path: p, .. } if *p == path),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        format!("invalid --config: {file}: invalid type: string \"many\", expected usize")
    );

    let e = refusal(&["man"]);
    assert!(matches!(e, ConfigError::NotTheDaemon), "{e:?}");
    assert_eq!(
        e.to_string(),
        "`nfctd passwd`, `man` and `completions` do not start the daemon"
    );
}

#[test]
fn listen_schemes_follow_the_certificate() {
    let tls = ["--tls-cert", "/c.pem", "--tls-key", "/k.pem"];
    let c = parse(&tls).unwrap();
    assert!(
        c.net.endpoints[0].tls,
        "bare default is HTTPS with a certificate"
    );
    let mut args = tls.to_vec();
    args.extend([
        "--listen",
        "http://127.0.0.1:8020",
        "--listen",
        "127.0.0.1:8443",
    ]);
    let c = parse(&args).unwrap();
    let tls_on: Vec<bool> = c.net.endpoints.iter().map(|e| e.tls).collect();
    assert_eq!(tls_on, [false, true]);
    assert_eq!(c.listen.len(), 2);
    let c = parse(&["--listen", "http://[::1]:8020/"]).unwrap();
    assert!(!c.net.endpoints[0].tls);
    assert!(parse(&["--listen", "ftp://127.0.0.1:1"]).is_err());
}

#[test]
fn net_options_come_from_the_file_too() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nfctd.toml");
    std::fs::write(
        &path,
        "listen = [\"http://127.0.0.1:1\"]\nallowed-host = [\"nfctd.example\"]\nheader-timeout = 3\nmax-connections = 9\nheavy-queue = 0\n",
    )
    .unwrap();
    let c = parse(&["--config", path.to_str().unwrap(), "--idle-timeout", "4"]).unwrap();
    assert_eq!(c.net.allowed_hosts, ["nfctd.example"]);
    assert_eq!(c.net.limits.header_timeout, Duration::from_secs(3));
    assert_eq!(c.net.limits.idle_timeout, Duration::from_secs(4));
    assert_eq!(c.net.limits.max_connections, 9);
    assert_eq!(c.net.heavy_queue, 0);
    assert!(!c.net.endpoints[0].tls);
}

#[test]
fn remote_listen_needs_explicit_consent_without_auth() {
    let c = parse(&["--listen", "0.0.0.0:8020", "--allow-remote-without-auth"]).unwrap();
    assert_eq!(c.listen.len(), 1);
}

#[test]
fn command_line_wins_over_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nfctd.toml");
    std::fs::write(
        &path,
        "max-page = 50\nsession-timeout = 9\nuid-mask = \"0xff00\"\n",
    )
    .unwrap();
    let c = parse(&["--config", path.to_str().unwrap(), "--max-page", "70"]).unwrap();
    assert_eq!(c.max_page, 70);
    assert_eq!(c.session_timeout, Duration::from_secs(9));
    assert_eq!(c.uid_mask, Some(0xff00));
    std::fs::write(&path, "colour = 1\n").unwrap();
    let err = parse(&["--config", path.to_str().unwrap()])
        .unwrap_err()
        .to_string();
    assert!(err.contains("--config") && err.contains("colour"), "{err}");
}

#[test]
fn ipfix_targets_and_the_domain_id_reach_the_export_config() {
    let c = parse(&[
        "--export",
        "ipfix+udp://127.0.0.1:4739",
        "--export",
        "ipfix+tcp://[::1]:4739",
        "--export-domain-id",
        "42",
    ])
    .unwrap();
    let export = c.export.unwrap();
    assert_eq!(export.domain_id, Some(42));
    let names: Vec<String> = export.targets.iter().map(ToString::to_string).collect();
    assert_eq!(
        names,
        ["ipfix+udp://127.0.0.1:4739", "ipfix+tcp://[::1]:4739"]
    );
    let c = parse(&["--export", "json:-"]).unwrap();
    assert_eq!(c.export.unwrap().domain_id, None);
}

#[test]
fn auth_defaults_and_checks() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("passwd");
    let missing = missing.to_str().unwrap();
    let c = parse(&["--passwd-file", missing]).unwrap();
    assert_eq!(c.auth.method, Method::None);
    assert_eq!(c.auth.limit, Limit::default());
    std::fs::write(missing, "").unwrap();
    let c = parse(&[
        "--passwd-file",
        missing,
        "--login-attempts",
        "3",
        "--login-window",
        "9",
    ])
    .unwrap();
    assert_eq!(c.auth.method, Method::Password(missing.into()));
    assert_eq!(c.auth.limit.attempts, 3);
    assert_eq!(c.auth.limit.window, Duration::from_secs(9));
    // Remote listening is fine with a real backend.
    parse(&["--passwd-file", missing, "--listen", "0.0.0.0:8020"]).unwrap();
    for (args, option) in [
        (
            &["--auth", "password", "--passwd-file", "/nonexistent/p"][..],
            "--passwd-file",
        ),
        (&["--auth", "command"], "--auth-command"),
        (
            &["--auth", "command", "--auth-command", "/nonexistent/x"],
            "--auth-command",
        ),
        (&["--auth-command", "/bin/true"], "--auth-command"),
        (&["--auth", "ldap"], "--auth"),
        #[cfg(not(feature = "pam"))]
        (&["--auth", "pam"], "--auth"),
        (&["--login-attempts", "0"], "--login-attempts"),
        (&["--login-window", "0"], "--login-window"),
        (&["--admin-from", "10.0.0.0/33"], "--admin-from"),
        (&["--admin-from", "localhost"], "--admin-from"),
    ] {
        let err = parse(args).unwrap_err().to_string();
        assert!(err.contains(option), "{args:?}: {err}");
    }
    let c = parse(&["--auth", "command", "--auth-command", "/bin/true"]).unwrap();
    assert_eq!(c.auth.method, Method::Command("/bin/true".into()));
    // --admin-from: loopback by default; a list given replaces it.
    let local = |c: &Config, ip: &str| {
        c.auth
            .admin_from
            .iter()
            .any(|p| p.contains(&ip.parse().unwrap()))
    };
    assert!(local(&c, "127.0.0.1") && local(&c, "::1") && !local(&c, "127.0.0.2"));
    let c = parse(&[
        "--admin-from",
        "192.0.2.0/24",
        "--admin-from",
        "2001:db8::7",
    ])
    .unwrap();
    assert_eq!(c.auth.admin_from.len(), 2);
    assert!(local(&c, "192.0.2.9") && local(&c, "2001:db8::7") && !local(&c, "127.0.0.1"));
}

#[test]
fn demo_defaults_to_fast_resync_and_refuses_netns() {
    let c = parse(&["demo"]).unwrap();
    assert_eq!(c.source, Source::Demo);
    assert_eq!(c.resync_interval, Some(Duration::from_secs(5)));
    assert!(parse(&["demo", "--netns", "/proc/self/ns/net"]).is_err());
}

/// The shipped example: `examples/nfctd.toml` (the package's
/// /etc/nfctd/nfctd.toml).
const EXAMPLE: &str = include_str!("../../../../examples/nfctd.toml");

/// The example's keys: those set, and the commented-out `# key = value`
/// lines (options whose default is "unset"), each as its TOML line.
fn example_keys() -> (Vec<String>, Vec<(String, String)>) {
    let key = |line: &str| -> Option<String> {
        let (key, _) = line.split_once(" = ")?;
        let valid = !key.is_empty()
            && key.starts_with(|c: char| c.is_ascii_lowercase())
            && key.chars().all(|c| c.is_ascii_lowercase() || c == '-');
        valid.then(|| key.to_string())
    };
    let mut set = Vec::new();
    let mut commented = Vec::new();
    for line in EXAMPLE.lines() {
        if let Some(rest) = line.strip_prefix("# ") {
            if let Some(k) = key(rest) {
                commented.push((k, rest.to_string()));
            }
        } else if let Some(k) = key(line) {
            set.push(k);
        }
    }
    (set, commented)
}

#[test]
fn the_example_config_covers_every_option_once() {
    let (set, commented) = example_keys();
    let mut documented: Vec<String> = set
        .iter()
        .cloned()
        .chain(commented.iter().map(|(k, _)| k.clone()))
        .collect();
    documented.sort();
    let before = documented.len();
    documented.dedup();
    assert_eq!(before, documented.len(), "a key appears twice");
    // The option list from clap, the same that --help and nfctd(8) show;
    // --config names the file itself.
    let mut options: Vec<String> = Options::augment_args(clap::Command::new("nfctd"))
        .get_arguments()
        .filter_map(|arg| arg.get_long().map(str::to_string))
        .filter(|long| long != "config")
        .collect();
    options.sort();
    let missing: Vec<_> = options.iter().filter(|o| !documented.contains(o)).collect();
    let unknown: Vec<_> = documented.iter().filter(|d| !options.contains(d)).collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "examples/nfctd.toml must document every option: missing {missing:?}, unknown {unknown:?}"
    );
}

#[test]
fn the_example_config_parses_and_its_values_are_the_defaults() {
    // deny_unknown_fields: a misspelt key fails here.
    toml::from_str::<Options>(EXAMPLE).unwrap();
    let (_, commented) = example_keys();
    for (key, line) in &commented {
        toml::from_str::<Options>(line)
            .unwrap_or_else(|e| panic!("commented-out {key}: {line:?}: {e}"));
    }
    // The shipped file changes nothing: the daemon configured by it is
    // the daemon configured by nothing.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nfctd.toml");
    std::fs::write(&path, EXAMPLE).unwrap();
    let from_file = parse(&["--config", path.to_str().unwrap()]).unwrap();
    let bare = parse(&[]).unwrap();
    assert_eq!(format!("{from_file:?}"), format!("{bare:?}"));
    let demo_from_file = parse(&["demo", "--config", path.to_str().unwrap()]).unwrap();
    assert_eq!(
        format!("{demo_from_file:?}"),
        format!("{:?}", parse(&["demo"]).unwrap())
    );
}

#[test]
fn the_pressure_ratio_comes_from_the_command_line_or_the_file() {
    assert_eq!(
        parse(&["--pressure-ratio", "0.5"]).unwrap().pressure_ratio,
        0.5
    );
    assert_eq!(
        parse(&["--pressure-ratio", "0"]).unwrap().pressure_ratio,
        0.0
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nfctd.toml");
    // An integer will do.
    std::fs::write(&path, "pressure-ratio = 16\n").unwrap();
    let file = path.to_str().unwrap();
    assert_eq!(parse(&["--config", file]).unwrap().pressure_ratio, 16.0);
    // The command line wins.
    let c = parse(&["--config", file, "--pressure-ratio", "4"]).unwrap();
    assert_eq!(c.pressure_ratio, 4.0);
    std::fs::write(&path, "pressure-ratio = -2.0\n").unwrap();
    let err = parse(&["--config", file]).unwrap_err().to_string();
    assert!(err.contains("--pressure-ratio"), "{err}");
}
