//! `nfctd man` and `nfctd completions SHELL`: the nfctd(8) page and the shell
//! completion scripts, generated from the clap definitions so they cannot
//! drift from `--help`. Packaging runs these on the built binary.

use std::io::{self, Write};

use clap::CommandFactory as _;
use clap_complete::Shell;
use clap_mangen::roff::{bold, roman, Roff};

use crate::config::Cli;

/// The page's sections that clap knows nothing about, each a heading and
/// its paragraphs; a paragraph is (term, text), set as a tagged paragraph
/// when the term is not empty.
const EXTRA: &[(&str, &[(&str, &str)])] = &[
    (
        "CONFIGURATION FILE",
        &[(
            "",
            "Every option may also be set in the TOML file named by --config, keyed by its long \
             name without the leading dashes (listen = [\"127.0.0.1:8020\"], session-timeout = 300); \
             the command line wins over the file. The package installs /etc/nfctd/nfctd.toml, \
             which lists every key with its default.",
        )],
    ),
    (
        "ACCOUNTING",
        &[(
            "",
            "Byte and packet counts, and the rates computed from them, exist only while the \
             kernel's nf_conntrack_acct is on; start times need nf_conntrack_timestamp. \
             --enable-accounting switches both on in the served namespace at start. They cost a \
             few bytes per entry and a little work per packet, and apply to connections made \
             after they are switched on. Failing to switch them on is logged as a warning, and \
             the daemon serves without them.",
        )],
    ),
    (
        "SIGNALS",
        &[
            ("SIGTERM, SIGINT", "Shut down cleanly; exit status 0."),
            (
                "SIGHUP",
                "Re-read what can change at run time (the password file and the TLS certificate \
                 among them) and log what changed. A bad new file is refused and logged; the old \
                 one stays in force.",
            ),
        ],
    ),
    (
        "EXIT STATUS",
        &[
            ("0", "Clean shutdown."),
            (
                "1",
                "Runtime failure, for example no permission to open ctnetlink (the message names \
                 the missing capability).",
            ),
            (
                "2",
                "Bad configuration or arguments; the message names the option or file.",
            ),
        ],
    ),
    (
        "ENVIRONMENT",
        &[
            (
                "NFCTD_LOG",
                "Log filter in tracing's syntax, for example debug or nfctd=debug (default info).",
            ),
            ("NO_COLOR", "No colours in logs written to a terminal."),
            (
                "NOTIFY_SOCKET",
                "Set by systemd for Type=notify: while the first dump loads a big table, \
                 STATUS=loading N of M connections once a second; READY=1 once the mirror is \
                 live (the whole table loaded) and the listeners are bound; STOPPING=1 when \
                 shutdown begins.",
            ),
        ],
    ),
    (
        "FILES",
        &[
            ("/etc/nfctd/nfctd.toml", "The packaged configuration file."),
            (
                "/etc/nfctd/passwd",
                "Users for --auth password (name:hash:role), mode 0600; edit it with nfctd passwd.",
            ),
            (
                "/lib/systemd/system/nfctd.service",
                "Serves the host's table as the system user nfctd with only CAP_NET_ADMIN.",
            ),
            (
                "/lib/systemd/system/nfctd@.service",
                "Serves the named network namespace /run/netns/INSTANCE.",
            ),
            (
                "/usr/share/nfctd/",
                "Prometheus alert rules and a Grafana dashboard for /metrics.",
            ),
        ],
    ),
    (
        "SEE ALSO",
        &[("", "conntrack(8), systemd.exec(5), systemd.service(5)")],
    ),
];

/// Writes nfctd(8) as roff.
pub fn man(out: &mut dyn Write) -> io::Result<()> {
    let page = clap_mangen::Man::new(Cli::command())
        .section("8")
        .manual("System Administration");
    page.render_title(out)?;
    page.render_name_section(out)?;
    page.render_synopsis_section(out)?;
    page.render_description_section(out)?;
    page.render_options_section(out)?;
    let mut roff = Roff::new();
    commands(&mut roff);
    for (heading, paragraphs) in EXTRA {
        roff.control("SH", [*heading]);
        for (term, text) in *paragraphs {
            if term.is_empty() {
                roff.control("PP", []).text([roman(*text)]);
            } else {
                roff.control("TP", [])
                    .text([bold(*term)])
                    .text([roman(*text)]);
            }
        }
    }
    roff.to_writer(out)?;
    page.render_version_section(out)
}

/// The COMMANDS section: one entry per command line, passwd's actions
/// spelled out, rather than clap_mangen's references to nfctd-demo(8) and
/// the like, which do not exist.
fn commands(roff: &mut Roff) {
    fn usage(command: &clap::Command) -> String {
        command
            .get_positionals()
            .map(|arg| {
                let name = arg
                    .get_value_names()
                    .and_then(|names| names.first())
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| arg.get_id().as_str().to_uppercase());
                format!(" {name}")
            })
            .collect()
    }
    let about = |command: &clap::Command| {
        command
            .get_about()
            .map(|a| a.to_string())
            .unwrap_or_default()
    };
    roff.control("SH", ["COMMANDS"]);
    roff.control("TP", [])
        .text([bold("nfctd"), roman(" [OPTIONS]")])
        .text([roman(
            "Serve the table of the host, or of --netns, as the options say.",
        )]);
    let top = Cli::command();
    for command in top.get_subcommands().filter(|c| c.get_name() != "help") {
        let name = command.get_name();
        let actions: Vec<_> = command
            .get_subcommands()
            .filter(|c| c.get_name() != "help")
            .collect();
        if actions.is_empty() {
            let options = if command.get_arguments().any(|a| !a.is_positional()) {
                " [OPTIONS]"
            } else {
                ""
            };
            roff.control("TP", [])
                .text([
                    bold(format!("nfctd {name}")),
                    roman(format!("{}{options}", usage(command))),
                ])
                .text([roman(about(command))]);
        }
        for action in actions {
            roff.control("TP", [])
                .text([
                    bold(format!("nfctd {name} {}", action.get_name())),
                    roman(format!("{} [OPTIONS]", usage(action))),
                ])
                .text([roman(about(action))]);
        }
    }
}

/// Writes the completion script for `shell`.
pub fn completions(shell: Shell, out: &mut dyn Write) {
    clap_complete::generate(shell, &mut Cli::command(), "nfctd", out);
}
