//! The XML-RPC front: over the wire codec (the `xmlrpc-codec` crate), the door
//! (`params`: wire values into the service's typed requests, with the
//! leniencies real clients need; `reply`: typed replies into values), the
//! method table (`methods/`, one file per method, run by [`dispatch`]), and
//! its routes (`http`). No business rules.

mod dispatch;
mod fault;
mod http;
mod method;
mod methods;
mod params;
mod reply;

pub use fault::{Fault, FaultCode};
pub use http::router;
pub use params::Params;
pub use xmlrpc_codec::{
    parse_call, render_response, CodecError, Limits, MethodCall, Value, WideInt,
};
