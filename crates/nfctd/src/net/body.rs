//! A response body that marks its connection idle only when it is done, so a
//! streamed answer (Server-Sent Events, a slow download of a big page) counts
//! as a client that is talking: never closed by the idle timer, never the one
//! pushed out to make room.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use http_body::{Frame, SizeHint};

use super::conns::Conn;

/// `inner`, and the connection to mark idle once it has been sent (or given up).
pub(super) struct Tracked {
    inner: Body,
    conn: Arc<Conn>,
}

impl Tracked {
    pub(super) fn new(inner: Body, conn: Arc<Conn>) -> Tracked {
        Tracked { inner, conn }
    }
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Tracked {
    // hyper drops the body once it is written out, or when the client leaves.
    fn drop(&mut self) {
        self.conn.idle();
    }
}
