//! Private user+network namespaces without root: creation, a socket factory into them,
//! loopback/address setup, switching conntrack on, sysctls.
//!
//! Two ways in:
//! - a single-threaded process moves itself: [`enter_private`] (a fresh namespace) or
//!   [`join`] (an existing one), then configures it with [`setup_loopback`],
//!   [`enable_conntrack`] and [`set_sysctl`] on sockets it makes itself;
//! - a multi-threaded process (a test) makes a [`Sandbox`], held open by a helper process,
//!   and gets sockets made inside it from [`Sandbox::sockets`].
//!
//! Sockets stay bound to the namespace they were made in, whatever the process does later.
//!
//! ```no_run
//! use netns::Sandbox;
//!
//! let sandbox = Sandbox::create()?;
//! sandbox.setup_loopback(&[("127.0.0.1".parse()?, 8), ("::1".parse()?, 128)])?;
//! sandbox.enable_conntrack()?;
//! sandbox.set_sysctl("net/netfilter/nf_conntrack_acct", "1")?;
//! // A listener serving inside the namespace, and a socket for ctnetlink
//! // (e.g. `ctnetlink::CtSocket::from_fd`) acting on its table.
//! let listener = sandbox.socket(libc::AF_INET, libc::SOCK_STREAM, 0)?;
//! let conntrack = sandbox.netfilter_socket()?;
//! println!("joinable at {}", sandbox.netns_path().display());
//! # drop((listener, conntrack));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

mod enter;
mod error;
mod nftables;
mod nl;
mod rtnl;
mod sandbox;
mod spawn;
mod sysctl;

#[cfg(test)]
mod tests;

pub use enter::{enter_private, join};
pub use error::Error;
pub use nftables::{enable_conntrack, CHAIN, TABLE};
pub use rtnl::setup_loopback;
pub use sandbox::Sandbox;
pub use sysctl::{set_sysctl, sysctl};
