//! nfctd: serves the Linux Netfilter connection-tracking table over the
//! network. The binary parses the command line; the library does the rest.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    nfctd::run(nfctd::Cli::parse())
}
