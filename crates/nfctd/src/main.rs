//! nfctd: serves the Linux Netfilter connection-tracking table over the network.

mod table;
mod value;
mod xmlrpc;

fn main() {}
