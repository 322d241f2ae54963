//! The XML-RPC methods, one file each: how each reads its parameters into a
//! typed request, calls the service, and writes the typed reply.

mod change;
mod kill;
mod kill_matching;
mod login;
mod logout;
mod refresh;
mod set_autorefresh;
mod stats;
mod system;
mod view;

use super::method::Method;

/// Every method, in the order `system.listMethods` lists them.
pub const ALL: &[&Method] = &[
    &login::METHOD,
    &logout::METHOD,
    &view::METHOD,
    &kill::METHOD,
    &kill_matching::METHOD,
    &change::METHOD,
    &refresh::METHOD,
    &set_autorefresh::METHOD,
    &stats::METHOD,
    &system::LIST_METHODS,
    &system::METHOD_HELP,
    &system::METHOD_SIGNATURE,
    &system::MULTICALL,
    &system::GET_CAPABILITIES,
];
