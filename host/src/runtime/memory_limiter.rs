//! Caps a guest's linear memory with an error the host can recognize.
//!
//! wasmtime's `StoreLimits` reports a refused `memory.grow` as an untyped trap
//! (or lets the guest abort with `unreachable`); returning our own error type
//! lets the invoker tell "over its memory limit" apart from any other failure.

use wasmtime::ResourceLimiter;

/// The guest tried to grow past its route's memory limit.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("guest memory limit exceeded: wanted {wanted} bytes, limit is {limit} bytes")]
pub struct MemoryLimitExceeded {
    /// Bytes the guest asked for.
    pub wanted: usize,
    /// The route's limit.
    pub limit: usize,
}

/// Limits one store's memories to `limit` bytes each.
pub struct MemoryLimiter {
    limit: usize,
}

impl MemoryLimiter {
    /// A limiter allowing `limit` bytes.
    pub fn new(limit: u64) -> Self {
        MemoryLimiter { limit: usize::try_from(limit).unwrap_or(usize::MAX) }
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.limit {
            return Err(wasmtime::Error::new(MemoryLimitExceeded { wanted: desired, limit: self.limit }));
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        // Tables hold function references; a route that needs more than this
        // is broken, not busy.
        Ok(desired <= 100_000)
    }
}
