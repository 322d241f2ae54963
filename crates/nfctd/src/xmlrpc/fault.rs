//! XML-RPC faults: the documented codes (docs/xmlrpc-api.md), named once, and how the
//! service's errors and the codec's map onto them.

use crate::service::ApiError;

use super::{CodecError, Value};

/// A fault code, as docs/xmlrpc-api.md lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultCode {
    AuthFailed,
    BadSession,
    Denied,
    InvalidArgument,
    NoSuchConnection,
    KernelRefused,
    TooManyLogins,
    Overloaded,
    NotWellFormed,
    NotACall,
    UnknownMethod,
    BadParams,
    Internal,
}

impl FaultCode {
    /// A short name, for metrics labels and logs.
    pub fn name(self) -> &'static str {
        match self {
            FaultCode::AuthFailed => "auth_failed",
            FaultCode::BadSession => "bad_session",
            FaultCode::Denied => "denied",
            FaultCode::InvalidArgument => "invalid_argument",
            FaultCode::NoSuchConnection => "no_such_connection",
            FaultCode::KernelRefused => "kernel_refused",
            FaultCode::TooManyLogins => "too_many_logins",
            FaultCode::Overloaded => "overloaded",
            FaultCode::NotWellFormed => "not_well_formed",
            FaultCode::NotACall => "not_a_call",
            FaultCode::UnknownMethod => "unknown_method",
            FaultCode::BadParams => "bad_params",
            FaultCode::Internal => "internal",
        }
    }

    /// The number on the wire.
    pub fn number(self) -> i32 {
        match self {
            FaultCode::AuthFailed => 1,
            FaultCode::BadSession => 2,
            FaultCode::Denied => 3,
            FaultCode::InvalidArgument => 4,
            FaultCode::NoSuchConnection => 5,
            FaultCode::KernelRefused => 6,
            FaultCode::TooManyLogins => 7,
            // "system error" in the XML-RPC interoperability fault codes:
            // the call was fine, the server could not take it now.
            FaultCode::Overloaded => -32400,
            FaultCode::NotWellFormed => -32700,
            FaultCode::NotACall => -32600,
            FaultCode::UnknownMethod => -32601,
            FaultCode::BadParams => -32602,
            FaultCode::Internal => -32603,
        }
    }
}

/// An XML-RPC fault: code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub code: FaultCode,
    pub message: String,
}

impl Fault {
    pub fn new(code: FaultCode, message: impl Into<String>) -> Fault {
        Fault {
            code,
            message: message.into(),
        }
    }

    /// -32602: wrong number or types of parameters.
    pub fn params(message: impl Into<String>) -> Fault {
        Fault::new(FaultCode::BadParams, message)
    }

    /// -32601, naming the method (clipped: it is caller input).
    pub fn unknown_method(name: &str) -> Fault {
        Fault::new(
            FaultCode::UnknownMethod,
            format!("unknown method {}", nfctd_table::clip::quoted(name)),
        )
    }

    /// -32603, for what the caller cannot fix; the details go to the log only.
    pub fn internal() -> Fault {
        Fault::new(FaultCode::Internal, "internal error")
    }

    /// The fault response body.
    pub fn render(&self) -> String {
        xmlrpc_codec::render_fault(self.code.number(), &self.message)
    }

    /// The `{faultCode, faultString}` struct, as `system.multicall` puts it
    /// in a failed call's slot.
    pub fn to_struct(&self) -> Value {
        xmlrpc_codec::fault_struct(self.code.number(), &self.message)
    }
}

impl From<ApiError> for Fault {
    fn from(e: ApiError) -> Fault {
        let code = match &e {
            ApiError::AuthFailed => FaultCode::AuthFailed,
            ApiError::BadSession => FaultCode::BadSession,
            ApiError::Denied(_) => FaultCode::Denied,
            ApiError::Invalid(_) => FaultCode::InvalidArgument,
            ApiError::NoSuchConnection(_) => FaultCode::NoSuchConnection,
            ApiError::Kernel(cause) => match **cause {
                // ENOENT: the connection is gone, which is what 5 says.
                ctnetlink::Error::NotFound => FaultCode::NoSuchConnection,
                // EPERM included: the string says the daemon lacks CAP_NET_ADMIN.
                _ => FaultCode::KernelRefused,
            },
            ApiError::PartlyKilled { .. } => FaultCode::KernelRefused,
            ApiError::TooManyLogins => FaultCode::TooManyLogins,
            ApiError::Overloaded => FaultCode::Overloaded,
            ApiError::MirrorStopped | ApiError::Internal(_) => FaultCode::Internal,
        };
        Fault::new(code, e.to_string())
    }
}

impl From<CodecError> for Fault {
    fn from(e: CodecError) -> Fault {
        let code = match &e {
            CodecError::NotWellFormed(_) => FaultCode::NotWellFormed,
            CodecError::NotACall(_) => FaultCode::NotACall,
        };
        Fault::new(code, e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_errors_get_the_spec_codes() {
        let cases = [
            (ApiError::AuthFailed, 1),
            (ApiError::BadSession, 2),
            (ApiError::Denied("x".into()), 3),
            (ApiError::invalid("start", "x"), 4),
            (ApiError::NoSuchConnection("x".into()), 5),
            (
                ctnetlink::Error::from_errno("update", libc::EBUSY).into(),
                6,
            ),
            (ApiError::TooManyLogins, 7),
            (ApiError::Overloaded, -32400),
            (ApiError::Internal("x".into()), -32603),
        ];
        for (e, n) in cases {
            assert_eq!(Fault::from(e).code.number(), n);
        }
    }

    #[test]
    fn kernel_refusals_keep_their_cause() {
        let fault = |e: ctnetlink::Error| Fault::from(ApiError::from(e));
        let gone = fault(ctnetlink::Error::NotFound);
        assert_eq!(gone.code, FaultCode::NoSuchConnection);
        assert_eq!(
            gone.message,
            "no such connection: it is gone from the kernel table"
        );
        let denied = fault(ctnetlink::Error::PermissionDenied);
        assert_eq!(denied.code, FaultCode::KernelRefused);
        assert_eq!(
            denied.message,
            "the kernel refused the operation: permission denied by the kernel: \
             ctnetlink needs CAP_NET_ADMIN over the network namespace"
        );
        let partly = Fault::from(ApiError::PartlyKilled {
            killed: 2,
            refused: 1,
            first: std::sync::Arc::new(ctnetlink::Error::PermissionDenied),
        });
        assert_eq!(partly.code.number(), 6);
        assert!(
            partly
                .message
                .starts_with("the kernel refused the operation: killed 2, refused 1: permission denied by the kernel"),
            "{}",
            partly.message
        );
    }

    #[test]
    fn a_stopped_mirror_is_an_internal_error() {
        let fault = Fault::from(ApiError::from(nfctd_table::MirrorError::Stopped));
        assert_eq!(fault.code.number(), -32603);
        assert_eq!(fault.message, "internal error: the mirror thread stopped");
    }
}
