//! One XML-RPC method, declared once: its name, signatures, help, cost and
//! handler. `system.listMethods`, `system.methodSignature`, the parameter
//! count check and the choice of thread all read the same declaration.

use crate::service::Service;
use crate::xmlrpc::Value;

use super::{Fault, MethodCall, Params};

/// Whether a method may block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cost {
    /// Answers from memory in microseconds: fronts may run it on the async
    /// executor.
    Quick,
    /// Scans the table or talks to the kernel: run it off the executor, a
    /// bounded number at a time.
    Heavy,
    /// Checks a password (slow on purpose: argon2id, an external program,
    /// PAM): off the executor too, through a gate of its own.
    Login,
}

/// What a handler gets besides its parameters.
pub struct Ctx<'a> {
    pub service: &'a Service,
    /// The client's address, when known.
    pub peer: Option<std::net::IpAddr>,
    /// Every method, for introspection.
    pub methods: &'a [&'a Method],
    /// Runs one more call (`system.multicall`'s members).
    pub run: &'a dyn Fn(&MethodCall) -> Result<Value, Fault>,
}

pub type Handler = fn(&Ctx<'_>, &Params<'_>) -> Result<Value, Fault>;

/// One method.
#[derive(Debug)]
pub struct Method {
    pub name: &'static str,
    /// Each signature lists the return type first, then the parameters'.
    pub signatures: &'static [&'static [&'static str]],
    pub help: &'static str,
    pub cost: Cost,
    pub handler: Handler,
}

impl Method {
    /// The fewest and most parameters its signatures take.
    pub fn arity(&self) -> (usize, usize) {
        let counts = self.signatures.iter().map(|s| s.len().saturating_sub(1));
        (counts.clone().min().unwrap_or(0), counts.max().unwrap_or(0))
    }
}
