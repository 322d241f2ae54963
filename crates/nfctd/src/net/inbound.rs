//! Request bodies, read whole at the edge before any route sees them, into
//! one buffer that grows only as bytes arrive, within stated bounds of size,
//! time and memory. hyper hands a body over in the pieces TCP delivered, each
//! a view into a read buffer of several KiB: a body kept as those pieces (as
//! a collecting extractor keeps them) pins one buffer per byte when a client
//! trickles a byte per segment. Here each piece is copied out and dropped at
//! once, so a connection holds at most its body's own length.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use hyper::body::Incoming;
use tokio::time::Instant;

/// Largest request body accepted (XML-RPC calls and JSON requests are
/// small); a bigger one is refused with 413.
pub const MAX_BODY: usize = 1024 * 1024;
/// Body bytes every request may hold without asking: every real call fits
/// (XML-RPC calls and JSON requests are a few hundred bytes), so only large
/// bodies ever meet the shared pool.
pub const OWN_BODY: usize = 16 * 1024;
/// Body bytes beyond [`OWN_BODY`] that all requests together may hold; a
/// request that would need more is answered 503.
pub const SHARED_BODIES: usize = 64 * 1024 * 1024;
/// Largest request head (hyper's read buffer): what a connection may hold
/// before its head is complete. Browsers send a few KiB, more with the
/// cookies of other services on the same host name.
pub const MAX_HEAD: usize = 32 * 1024;
/// A body must be whole this long after its head at the latest.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(60);

/// The body bytes beyond [`OWN_BODY`] still free for all requests together.
#[derive(Debug)]
pub struct SharedBodies {
    free: AtomicUsize,
}

impl SharedBodies {
    pub fn new(bytes: usize) -> Arc<SharedBodies> {
        Arc::new(SharedBodies {
            free: AtomicUsize::new(bytes),
        })
    }

    fn take(self: &Arc<Self>, bytes: usize, held: &mut Held) -> bool {
        let taken = self
            .free
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |free| {
                free.checked_sub(bytes)
            })
            .is_ok();
        if taken {
            held.bytes += bytes;
        }
        taken
    }

    #[cfg(test)]
    fn free(&self) -> usize {
        self.free.load(Ordering::Acquire)
    }
}

/// What one request took from the pool, given back when dropped (after the
/// request's answer has been made, when its body is no longer needed).
#[derive(Debug)]
pub struct Held {
    pool: Arc<SharedBodies>,
    bytes: usize,
}

impl Held {
    fn new(pool: &Arc<SharedBodies>) -> Held {
        Held {
            pool: Arc::clone(pool),
            bytes: 0,
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.pool.free.fetch_add(self.bytes, Ordering::AcqRel);
    }
}

/// How body reading is bounded.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    pub max_body: usize,
    pub own: usize,
    /// Longest pause between two pieces of a body (as nginx's
    /// `client_body_timeout`): `--header-timeout`.
    pub pause: Duration,
    pub total: Duration,
}

/// Why a body was not read; each renders as the answer the client gets, and
/// the connection closes after it (the rest of the body is never read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    TooLarge,
    TooSlow,
    /// The pool for large bodies is spent.
    Busy,
    /// The client broke off or sent a malformed body.
    Broken,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let (status, text) = match self {
            Refusal::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "request body too large (1 MiB at most)\n",
            ),
            Refusal::TooSlow => (
                StatusCode::REQUEST_TIMEOUT,
                "request body too slow: pauses of --header-timeout or a whole body after 60 s\n",
            ),
            Refusal::Busy => (
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded: too many large request bodies in flight; retry later\n",
            ),
            Refusal::Broken => (StatusCode::BAD_REQUEST, "malformed request body\n"),
        };
        let mut response = (status, text).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONNECTION,
            header::HeaderValue::from_static("close"),
        );
        if self == Refusal::Busy {
            crate::edge::retry_later(headers);
        }
        response
    }
}

/// The most bytes the body may bring: its declared length (hyper parsed
/// `Content-Length` and gives it as the body's exact size, and never
/// delivers more), or the limit when chunked. `Err` when the declared length
/// is over the limit already.
fn ceiling(declared: Option<u64>, limits: &BodyLimits) -> Result<usize, Refusal> {
    match declared.map(usize::try_from) {
        None => Ok(limits.max_body),
        Some(Ok(n)) if n <= limits.max_body => Ok(n),
        Some(_) => Err(Refusal::TooLarge),
    }
}

/// Reads `body` whole. The buffer starts at the declared length within the
/// request's own allowance and grows (doubling, never past the declared
/// length) only as bytes come, taking what lies beyond the allowance from
/// `pool`. Returns the body and what it holds of the pool.
pub async fn read(
    mut body: Incoming,
    limits: &BodyLimits,
    pool: &Arc<SharedBodies>,
) -> Result<(Bytes, Held), Refusal> {
    let ceiling = ceiling(http_body::Body::size_hint(&body).exact(), limits)?;
    let mut held = Held::new(pool);
    let mut buffer: Vec<u8> = Vec::with_capacity(ceiling.min(limits.own));
    let deadline = Instant::now() + limits.total;
    loop {
        let pause_ends = (Instant::now() + limits.pause).min(deadline);
        let next = std::future::poll_fn(|cx| {
            http_body::Body::poll_frame(std::pin::Pin::new(&mut body), cx)
        });
        let frame = match tokio::time::timeout_at(pause_ends, next).await {
            Err(_) => return Err(Refusal::TooSlow),
            Ok(None) => break,
            Ok(Some(Err(_))) => return Err(Refusal::Broken),
            Ok(Some(Ok(frame))) => frame,
        };
        // Trailers carry nothing any route reads.
        let Ok(data) = frame.into_data() else {
            continue;
        };
        let needed = buffer.len() + data.len();
        // Only a chunked body can come here: a declared one ends at its length.
        if needed > ceiling {
            return Err(Refusal::TooLarge);
        }
        if needed > buffer.capacity() {
            let grown = needed.max(buffer.capacity() * 2).min(ceiling);
            let beyond_own = |capacity: usize| capacity.saturating_sub(limits.own);
            let more = beyond_own(grown) - beyond_own(buffer.capacity());
            if more > 0 && !pool.take(more, &mut held) {
                return Err(Refusal::Busy);
            }
            buffer.reserve_exact(grown - buffer.len());
        }
        buffer.extend_from_slice(&data);
        // `data` is dropped here: hyper's read buffer is free again.
    }
    Ok((Bytes::from(buffer), held))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> BodyLimits {
        BodyLimits {
            max_body: 1000,
            own: 100,
            pause: Duration::from_secs(1),
            total: Duration::from_secs(5),
        }
    }

    #[test]
    fn a_declared_length_over_the_limit_is_refused_before_reading() {
        assert_eq!(ceiling(Some(1001), &limits()), Err(Refusal::TooLarge));
        assert_eq!(ceiling(Some(1000), &limits()), Ok(1000));
        assert_eq!(ceiling(Some(u64::MAX), &limits()), Err(Refusal::TooLarge));
        assert_eq!(ceiling(None, &limits()), Ok(1000), "chunked: the limit");
    }

    #[test]
    fn the_pool_is_taken_and_given_back() {
        let pool = SharedBodies::new(10);
        let mut held = Held::new(&pool);
        assert!(pool.take(6, &mut held));
        assert!(!pool.take(6, &mut held), "only 4 left");
        assert_eq!(pool.free(), 4);
        drop(held);
        assert_eq!(pool.free(), 10);
    }
}
