//! What `packaging/` ships: both units pass `systemd-analyze
//! verify` against the built binary and its generated man page, and stay
//! hardened; the alert rules load and fire as their promtool tests say; every
//! metric the rules and the Grafana dashboard name exists in a real scrape of
//! the daemon; the .deb built by packaging/build-deb holds every file, the
//! conffile and the maintainer scripts.
//!
//! A missing tool (systemd-analyze, promtool, the built .deb) skips its test
//! with a message on a workstation, and fails it in CI (`CI` set).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{synthetic, Bed, Daemon};
use serde_json::{json, Value as Json};

const NFCTD: &str = env!("CARGO_BIN_EXE_nfctd");

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn packaging(file: &str) -> PathBuf {
    repo().join("packaging").join(file)
}

/// Whether `tool` runs; absent, a skip with a message, or a failure in CI.
fn have(tool: &str, install: &str) -> bool {
    let ok = Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    common::available(ok, tool, install)
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The units as installed, with /usr/bin/nfctd pointing at the built binary
/// (verify checks that ExecStart exists), and nfctd(8) where `man` finds it
/// (verify checks Documentation=man:nfctd(8)). The template is verified as
/// the instance nfctd@blue.
fn installed_units(dir: &Path) -> Vec<PathBuf> {
    let man8 = dir.join("man/man8");
    std::fs::create_dir_all(&man8).unwrap();
    let out = Command::new(NFCTD).arg("man").output().unwrap();
    assert!(out.status.success());
    std::fs::write(man8.join("nfctd.8"), &out.stdout).unwrap();
    let mut units = Vec::new();
    for (file, name) in [
        ("nfctd.service", "nfctd.service"),
        ("nfctd@.service", "nfctd@blue.service"),
    ] {
        let unit = std::fs::read_to_string(packaging(file)).unwrap();
        assert!(
            unit.contains("ExecStart=/usr/bin/nfctd "),
            "{file} runs the packaged binary"
        );
        let path = dir.join(name);
        std::fs::write(&path, unit.replace("/usr/bin/nfctd", NFCTD)).unwrap();
        units.push(path);
    }
    units
}

#[test]
fn both_units_pass_systemd_analyze_verify() {
    if !have("systemd-analyze", "apt-get install systemd") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for unit in installed_units(dir.path()) {
        let out = Command::new("systemd-analyze")
            .arg("verify")
            .arg(&unit)
            .env("MANPATH", dir.path().join("man"))
            .output()
            .unwrap();
        // verify exits 0 on unknown keys and unparsable values, which it
        // only reports: any report is a failure here.
        let report = text(&out);
        assert!(
            out.status.success() && report.trim().is_empty(),
            "{}: {report}",
            unit.display()
        );
    }
}

#[test]
fn a_broken_unit_fails_the_same_check() {
    if !have("systemd-analyze", "apt-get install systemd") {
        return;
    }
    // The check above must be able to fail: a misspelt key and a missing binary.
    let dir = tempfile::tempdir().unwrap();
    let unit = std::fs::read_to_string(packaging("nfctd.service")).unwrap();
    let path = dir.path().join("nfctd.service");
    std::fs::write(
        &path,
        unit.replace("ProtectSystem=", "ProtectSytem=")
            .replace("/usr/bin/nfctd", "/nonexistent/nfctd"),
    )
    .unwrap();
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&path)
        .output()
        .unwrap();
    let report = text(&out);
    assert!(report.contains("ProtectSytem"), "{report}");
    assert!(report.contains("/nonexistent/nfctd"), "{report}");
}

#[test]
fn both_units_stay_hardened() {
    if !have("systemd-analyze", "apt-get install systemd") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for unit in installed_units(dir.path()) {
        // systemd's own exposure score, 0 (locked down) to 10, shown as
        // 2.1 and 2.7 here with CAP_NET_ADMIN, netlink and the network left
        // open; --threshold counts in tenths.
        let out = Command::new("systemd-analyze")
            .args(["security", "--offline=yes", "--threshold=30"])
            .arg(&unit)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}: {}", unit.display(), text(&out));
    }
    let unit = std::fs::read_to_string(packaging("nfctd.service")).unwrap();
    let template = std::fs::read_to_string(packaging("nfctd@.service")).unwrap();
    for line in [
        "Type=notify",
        "User=nfctd",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK",
        "SystemCallFilter=@system-service",
        "LimitNOFILE=65536",
        "ExecReload=/bin/kill -HUP $MAINPID",
    ] {
        for (name, text) in [("nfctd.service", &unit), ("nfctd@.service", &template)] {
            assert!(text.lines().any(|l| l == line), "{name} lacks {line}");
        }
    }
    assert!(unit.contains("\nAmbientCapabilities=CAP_NET_ADMIN\n"));
    assert!(unit.contains("\nCapabilityBoundingSet=CAP_NET_ADMIN\n"));
    assert!(unit.contains("ExecStart=/usr/bin/nfctd --config /etc/nfctd/nfctd.toml\n"));
    assert!(template.contains("\nAmbientCapabilities=CAP_NET_ADMIN CAP_SYS_ADMIN CAP_SETPCAP\n"));
    assert!(template.contains(" --netns %i\n"));
}

#[test]
fn alert_rules_load_and_fire_as_their_tests_say() {
    if !have("promtool", "apt-get install prometheus") {
        return;
    }
    let out = Command::new("promtool")
        .args(["check", "rules"])
        .arg(packaging("prometheus-alerts.yml"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let out = Command::new("promtool")
        .args(["test", "rules"])
        .arg(packaging("prometheus-alerts.test.yml"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
}

/// The metric names (`nfctd_...`) in a PromQL expression.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = expr;
    while let Some(at) = rest.find("nfctd_") {
        let name: String = rest[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        rest = &rest[at + name.len()..];
        names.insert(name);
    }
    names
}

/// Every string under a key named `key`, anywhere in `value`.
fn strings_under(value: &Json, key: &str, out: &mut Vec<String>) {
    match value {
        Json::Object(map) => {
            for (k, v) in map {
                match v {
                    Json::String(s) if k == key => out.push(s.clone()),
                    _ => strings_under(v, key, out),
                }
            }
        }
        Json::Array(items) => items.iter().for_each(|v| strings_under(v, key, out)),
        _ => {}
    }
}

/// The sample names of a real scrape of the daemon, after calls that make
/// every labelled family appear (API requests and durations).
fn scraped_names() -> BTreeSet<String> {
    let bed = Bed::new();
    bed.inject(&synthetic(20));
    let daemon = Daemon::start(&bed, &[]);
    let mut client = daemon.client();
    let sid = client.login();
    client.call("view", json!([sid, {}, "", "", 0, 10])).ok();
    let (status, _, body) = common::http_exchange(
        daemon.http_addr(),
        b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 200, "{body}");
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.split(['{', ' ']).next().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn every_metric_in_the_alerts_and_the_dashboard_exists_in_a_real_scrape() {
    let scraped = scraped_names();
    assert!(scraped.contains("nfctd_mirror_live"), "{scraped:?}");

    // The rules: one `expr:` line each.
    let rules = std::fs::read_to_string(packaging("prometheus-alerts.yml")).unwrap();
    let exprs: Vec<&str> = rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("expr:"))
        .collect();
    assert_eq!(exprs.len(), 7, "one expr per alert");
    let mut used = BTreeSet::new();
    for expr in &exprs {
        let names = metric_names(expr);
        assert!(!names.is_empty(), "{expr}");
        used.extend(names);
    }
    for name in &used {
        assert!(
            scraped.contains(name),
            "alert rules use {name}, which /metrics does not have"
        );
    }

    // The dashboard: valid JSON, unique panel ids, and every query's metrics scraped.
    let text = std::fs::read_to_string(packaging("grafana-dashboard.json")).unwrap();
    let dashboard: Json = serde_json::from_str(&text).unwrap();
    let panels = dashboard["panels"].as_array().unwrap();
    let ids: BTreeSet<i64> = panels.iter().map(|p| p["id"].as_i64().unwrap()).collect();
    assert_eq!(ids.len(), panels.len(), "panel ids are unique");
    let mut queries = Vec::new();
    strings_under(&dashboard, "expr", &mut queries);
    strings_under(&dashboard["templating"], "query", &mut queries);
    assert!(queries.len() >= 15, "{queries:?}");
    let mut names = BTreeSet::new();
    for query in &queries {
        names.extend(metric_names(query));
    }
    for name in &names {
        assert!(
            scraped.contains(name),
            "the dashboard queries {name}, which /metrics does not have"
        );
    }
    // The panels the dashboard must have (docs/metrics.md, "Alerts and dashboard").
    for needle in [
        "nfctd_conntrack_entries_limit",
        "nfctd_table_connections_by_protocol",
        "nfctd_table_connections_by_state",
        "nfctd_conntrack_stat_drop_total",
        "nfctd_conntrack_stat_early_drop_total",
        "nfctd_api_requests_total",
        "nfctd_api_request_duration_seconds_bucket",
    ] {
        assert!(names.contains(needle), "the dashboard lacks {needle}");
    }
}

/// The .deb from packaging/build-deb: `NFCTD_DEB` (absolute, or relative to the
/// workspace), or the newest in target/debian.
fn built_deb() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("NFCTD_DEB") {
        // Relative to the workspace, where it was built; tests run in the crate.
        return Some(repo().join(path));
    }
    let found = std::fs::read_dir(repo().join("target/debian"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "deb"))
        .max_by_key(|p| p.metadata().and_then(|m| m.modified()).ok());
    common::available(
        found.is_some(),
        "a built .deb",
        ".ci/run runs packaging/build-deb first",
    );
    found
}

fn dpkg_deb(args: &[&str], deb: &Path) -> String {
    let out = Command::new("dpkg-deb")
        .args(&args[..1])
        .arg(deb)
        .args(&args[1..])
        .output()
        .expect("dpkg-deb");
    assert!(out.status.success(), "dpkg-deb {args:?}: {}", text(&out));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_deb_holds_every_file_the_conffile_and_the_maintainer_scripts() {
    let Some(deb) = built_deb() else { return };
    let listing = dpkg_deb(&["-c"], &deb);
    // "-rwxr-xr-x 0/0 123 2026-01-01 00:00 ./usr/bin/nfctd" -> (mode, path)
    let files: Vec<(String, String)> = listing
        .lines()
        .filter(|l| !l.starts_with('d'))
        .map(|l| {
            let mode = l.split_whitespace().next().unwrap().to_string();
            let path = l
                .rsplit(' ')
                .next()
                .unwrap()
                .trim_start_matches('.')
                .to_string();
            (mode, path)
        })
        .collect();
    let shipped = |path: &str| {
        files
            .iter()
            .find(|(_, p)| p == path)
            .map(|(m, _)| m.as_str())
    };
    assert_eq!(shipped("/usr/bin/nfctd"), Some("-rwxr-xr-x"), "{listing}");
    for path in [
        "/usr/lib/systemd/system/nfctd.service",
        "/usr/lib/systemd/system/nfctd@.service",
        "/usr/share/man/man8/nfctd.8.gz",
        "/usr/share/bash-completion/completions/nfctd",
        "/usr/share/zsh/vendor-completions/_nfctd",
        "/usr/share/fish/vendor_completions.d/nfctd.fish",
        "/etc/nfctd/nfctd.toml",
        "/usr/share/nfctd/prometheus-alerts.yml",
        "/usr/share/nfctd/grafana-dashboard.json",
    ] {
        assert_eq!(shipped(path), Some("-rw-r--r--"), "{path} in\n{listing}");
    }
    // The password file is made by postinst, never shipped (a conffile
    // would hand every host the same users).
    assert!(shipped("/etc/nfctd/passwd").is_none());

    // The packed files are the repository's, and the man page is the binary's.
    let root = tempfile::tempdir().unwrap();
    dpkg_deb(&["-x", root.path().to_str().unwrap()], &deb);
    let root = root.path();
    for (packed, source) in [
        (
            "usr/lib/systemd/system/nfctd.service",
            packaging("nfctd.service"),
        ),
        (
            "usr/lib/systemd/system/nfctd@.service",
            packaging("nfctd@.service"),
        ),
        ("etc/nfctd/nfctd.toml", repo().join("examples/nfctd.toml")),
        (
            "usr/share/nfctd/prometheus-alerts.yml",
            packaging("prometheus-alerts.yml"),
        ),
        (
            "usr/share/nfctd/grafana-dashboard.json",
            packaging("grafana-dashboard.json"),
        ),
    ] {
        assert_eq!(
            std::fs::read(root.join(packed)).unwrap(),
            std::fs::read(&source).unwrap(),
            "{packed} differs from {}: rebuild the .deb",
            source.display()
        );
    }
    // The documentation: README.md and every page of docs/ (with the
    // screenshot they show), as the repository has them.
    let mut docs = vec![(
        "usr/share/doc/nfctd/README.md".to_string(),
        repo().join("README.md"),
    )];
    for entry in std::fs::read_dir(repo().join("docs")).unwrap() {
        let source = entry.unwrap().path();
        if source.extension().is_some_and(|e| e == "md" || e == "png") {
            let name = source.file_name().unwrap().to_string_lossy().into_owned();
            docs.push((format!("usr/share/doc/nfctd/docs/{name}"), source));
        }
    }
    assert!(docs.len() > 2, "no pages found in docs/");
    for (packed, source) in docs {
        assert_eq!(
            shipped(&format!("/{packed}")),
            Some("-rw-r--r--"),
            "{packed} in\n{listing}"
        );
        assert_eq!(
            std::fs::read(root.join(&packed)).unwrap(),
            std::fs::read(&source).unwrap(),
            "{packed} differs from {}: rebuild the .deb",
            source.display()
        );
    }
    let man = Command::new("gzip")
        .arg("-dc")
        .arg(root.join("usr/share/man/man8/nfctd.8.gz"))
        .output()
        .unwrap();
    let ours = Command::new(NFCTD).arg("man").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&man.stdout),
        String::from_utf8_lossy(&ours.stdout),
        "the packed nfctd(8) is not this build's: rebuild the .deb"
    );
    let packed = root.join("usr/bin/nfctd");
    let out = Command::new(&packed).arg("--version").output().unwrap();
    assert!(text(&out).starts_with("nfctd "), "{}", text(&out));

    // Control: the conffile, the dependency postinst needs, the scripts.
    assert_eq!(
        dpkg_deb(&["-I", "conffiles"], &deb).trim(),
        "/etc/nfctd/nfctd.toml"
    );
    let control = dpkg_deb(&["-f", "Depends"], &deb);
    assert!(control.contains("adduser"), "{control}");
    let postinst = dpkg_deb(&["-I", "postinst"], &deb);
    for needle in [
        "adduser --system --group --no-create-home",
        "chown nfctd:nfctd /etc/nfctd/passwd",
        "chmod 0600 /etc/nfctd/passwd",
        "[ ! -e /etc/nfctd/passwd ]",
        "deb-systemd-helper enable nfctd.service",
    ] {
        assert!(
            postinst.contains(needle),
            "postinst lacks {needle}:\n{postinst}"
        );
    }
    assert!(
        !postinst.contains("#DEBHELPER#"),
        "the systemd snippets were not merged in"
    );
    let postrm = dpkg_deb(&["-I", "postrm"], &deb);
    assert!(
        postrm.contains("\"purge\"") && postrm.contains("rm -f /etc/nfctd/passwd"),
        "{postrm}"
    );
    // The scripts are valid sh.
    for (name, script) in [("postinst", &postinst), ("postrm", &postrm)] {
        let out = Command::new("sh")
            .args(["-n", "-c", script])
            .output()
            .unwrap();
        assert!(out.status.success(), "{name}: {}", text(&out));
    }
}
