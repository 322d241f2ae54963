//! The method table at work: finds the declared method, checks the
//! parameter count against its signatures, and runs its handler.

use std::net::IpAddr;

use crate::edge::{Call, Front};
use crate::service::Service;
use crate::xmlrpc::Value;

use super::method::{Cost, Ctx, Method};
use super::methods::ALL;
use super::{Fault, MethodCall, Params};

fn find(name: &str) -> Result<&'static Method, Fault> {
    ALL.iter()
        .copied()
        .find(|m| m.name == name)
        .ok_or_else(|| Fault::unknown_method(name))
}

/// What running `method` costs, and so where it runs. An unknown name is
/// quick: it only earns a fault.
pub fn cost(method: &str) -> Cost {
    find(method).map_or(Cost::Quick, |m| m.cost)
}

/// Runs one call from `peer` (the client's address, for login throttling).
/// May block (kernel requests, table scans): unless
/// [`cost`] says it is quick, call it off the async executor.
pub fn dispatch(
    service: &Service,
    call: &MethodCall,
    peer: Option<IpAddr>,
) -> Result<Value, Fault> {
    let run = |member: &MethodCall| dispatch(service, member, peer);
    let ctx = Ctx {
        service,
        peer,
        methods: ALL,
        run: &run,
    };
    let counted = Call::start(Front::XmlRpc);
    let found = find(&call.name);
    // Only declared names become labels: a client cannot invent new series.
    let name = found.as_ref().map_or("unknown", |m| m.name);
    let result = found.and_then(|method| {
        let (lo, hi) = method.arity();
        let params = Params::new(method.name, &call.params, lo, hi)?;
        (method.handler)(&ctx, &params)
    });
    let outcome = result.as_ref().map_or_else(|f| f.code.name(), |_| "ok");
    counted.record(service.usage(), name, outcome);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_method_is_declared_once_with_help_and_a_signature() {
        let mut names: Vec<&str> = ALL.iter().map(|m| m.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL.len(), "a method is declared twice");
        for m in ALL {
            assert!(!m.help.is_empty() && !m.signatures.is_empty(), "{}", m.name);
            let (lo, hi) = m.arity();
            assert!(lo <= hi);
        }
    }

    #[test]
    fn quick_methods_are_the_ones_that_never_block() {
        let quick: Vec<&str> = ALL
            .iter()
            .filter(|m| m.cost == Cost::Quick)
            .map(|m| m.name)
            .collect();
        assert!(quick.contains(&"logout") && quick.contains(&"system.listMethods"));
        for heavy in [
            // Checks a password (argon2id, an external program, PAM).
            "login",
            "view",
            "kill",
            "kill_matching",
            "change",
            "refresh",
            "stats",
            "system.multicall",
        ] {
            assert_ne!(cost(heavy), Cost::Quick, "{heavy}");
        }
        assert_eq!(cost("no.such.method"), Cost::Quick);
        assert_eq!(cost("login"), Cost::Login);
        assert_eq!(cost("view"), Cost::Heavy);
    }
}
