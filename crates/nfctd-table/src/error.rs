//! The mirror's one error type: why it could not start, or could not do
//! what its handle asked.

use std::sync::Arc;

/// Why the mirror could not start (`Kernel`, `Thread`), or could not do
/// what its handle asked (`Kernel`, `Stopped`).
#[derive(Debug, thiserror::Error)]
pub enum MirrorError {
    /// The kernel refused. Shared: one reconciliation answers every caller
    /// waiting on it, failure included.
    #[error(transparent)]
    Kernel(Arc<ctnetlink::Error>),
    /// The mirror thread could not be spawned.
    #[error("cannot start the mirror thread: {0}")]
    Thread(#[from] std::io::Error),
    /// The thread is gone (see `worker::LiveGuard`): nothing follows the kernel any more.
    #[error("the mirror thread stopped")]
    Stopped,
}

impl MirrorError {
    /// The kernel's refusal, if that is what this is.
    pub fn kernel(&self) -> Option<&ctnetlink::Error> {
        match self {
            MirrorError::Kernel(e) => Some(e),
            _ => None,
        }
    }
}

impl From<ctnetlink::Error> for MirrorError {
    fn from(e: ctnetlink::Error) -> MirrorError {
        MirrorError::Kernel(Arc::new(e))
    }
}
