//! How a guest call fails, whatever the kind of component: every wasmtime
//! error is classified here so the server can answer it cleanly.

use std::time::Duration;

use super::memory_limiter::MemoryLimitExceeded;

/// How a guest call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GuestError {
    /// Ran past the route's time limit and was stopped.
    #[error("guest exceeded its time limit of {0:?}")]
    Timeout(Duration),
    /// Tried to grow memory past the route's limit.
    #[error(transparent)]
    MemoryLimit(MemoryLimitExceeded),
    /// Trapped (including a Rust panic, which aborts with `unreachable`).
    #[error("guest trapped: {0}")]
    Trap(String),
    /// The host could not start an instance (e.g. all pool slots busy).
    #[error("cannot instantiate guest: {0}")]
    Instantiate(String),
}

/// A wasmtime error as the [`GuestError`] it is: a memory-limit hit, or
/// `otherwise`.
pub(crate) fn classify(err: wasmtime::Error, otherwise: fn(String) -> GuestError) -> GuestError {
    if let Some(limit) = err.downcast_ref::<MemoryLimitExceeded>() {
        return GuestError::MemoryLimit(*limit);
    }
    otherwise(format!("{err:?}"))
}
