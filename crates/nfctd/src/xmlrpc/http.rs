//! The XML-RPC front over HTTP: `POST /RPC2` and `POST /`. A body is parsed
//! (a large one off the executor), then the call runs where its cost says:
//! a quick one at once, a login or a heavy one through its gate.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;

use super::method::Cost;
use super::{dispatch, parse_call, render_response, Fault, FaultCode, Limits, MethodCall, WideInt};
use crate::edge::{self, Overloaded};
use crate::gate::{Gate, Gates, Refused};
use crate::service::Service;

/// What a call refused by a full queue gets.
const OVERLOADED: &str = "overloaded: too many heavy calls waiting; retry later\n";

/// Bodies up to this size are parsed on the executor: parsing them costs
/// microseconds, less than a hand-over to a blocking thread.
const INLINE_BODY: usize = 16 * 1024;

/// What every call gets: the service, the gates for heavy calls and logins,
/// how large a body may be, and how integers beyond 32 bits are written.
#[derive(Debug, Clone)]
struct XmlRpc {
    service: Service,
    gates: Gates,
    limits: Limits,
    wide_int: WideInt,
}

/// The XML-RPC routes over `service`, sharing `gates` with the other fronts;
/// bodies are at most `max_body` bytes.
pub fn router(service: Service, gates: Gates, max_body: usize, wide_int: WideInt) -> Router {
    let limits = Limits {
        max_body,
        ..Limits::default()
    };
    Router::new()
        .route("/RPC2", post(call))
        .route("/", post(call))
        .with_state(XmlRpc {
            service,
            gates,
            limits,
            wide_int,
        })
}

async fn call(State(api): State<XmlRpc>, parts: Parts, body: Bytes) -> Response {
    let peer = edge::peer(&parts);
    let limits = api.limits;
    let service = api.service.clone();
    let wide = api.wide_int;
    let parsed = if body.len() <= INLINE_BODY {
        Ok(parse_call(&body, &limits))
    } else {
        // A large body is parsed off the executor, holding a heavy slot for
        // the parse only: the call then goes where its cost says.
        api.gates
            .heavy
            .run(move || parse_call(&body, &limits))
            .await
    };
    let xml = match parsed {
        Err(refused) => gate_refusal(refused),
        Ok(Err(e)) => Ok(Fault::from(e).render()),
        Ok(Ok(call)) => match dispatch::cost(&call.name) {
            Cost::Quick => Ok(answer(&service, &call, peer, wide)),
            Cost::Login => {
                blocking(&api.gates.logins, move || {
                    answer(&service, &call, peer, wide)
                })
                .await
            }
            Cost::Heavy => {
                blocking(&api.gates.heavy, move || {
                    answer(&service, &call, peer, wide)
                })
                .await
            }
        },
    };
    match xml {
        Ok(xml) => ([(header::CONTENT_TYPE, "text/xml")], xml).into_response(),
        Err(overloaded) => overloaded.into_response(),
    }
}

/// Kernel requests and scans of big tables block: through the gate, off the
/// executor.
async fn blocking(
    gate: &Gate,
    work: impl FnOnce() -> String + Send + 'static,
) -> Result<String, Overloaded> {
    gate.run(work).await.or_else(gate_refusal)
}

/// What a caller gets when its gated work did not run or did not finish.
fn gate_refusal(refused: Refused) -> Result<String, Overloaded> {
    match refused {
        Refused::Overloaded => Err(Overloaded(OVERLOADED)),
        Refused::Failed(e) => {
            tracing::error!(error = %e, "request handler failed");
            Ok(Fault::internal().render())
        }
    }
}

fn answer(
    service: &Service,
    call: &MethodCall,
    peer: Option<std::net::IpAddr>,
    wide: WideInt,
) -> String {
    match dispatch::dispatch(service, call, peer) {
        Ok(value) => render_response(&value, wide),
        Err(fault) => {
            if fault.code == FaultCode::Internal {
                tracing::error!(method = %call.name, error = %fault.message, "internal error");
            }
            fault.render()
        }
    }
}
