//! The XML-RPC front: over the wire codec (the `xmlrpc-codec` crate), the door
//! (`params`: wire values into the service's typed requests, with the
//! leniencies real clients need; `reply`: typed replies into values), and the
//! method table (`methods/`, one file per method, run by [`dispatch`]). No
//! HTTP, no business rules.

pub mod dispatch;
mod fault;
mod method;
mod methods;
mod params;
mod reply;

pub use fault::{Fault, FaultCode};
pub use method::Cost;
pub use params::Params;
pub use xmlrpc_codec::{
    parse_call, render_response, CodecError, Limits, MethodCall, Value, WideInt,
};
