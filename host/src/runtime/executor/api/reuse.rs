//! Opt-in instance reuse (`isolation = "reuse"` in routes.toml): an instance
//! serves up to `max_requests` requests one after another, never two at once,
//! which skips instantiation and the pool-slot reset on the request path.
//!
//! The trade-off, for the route author to accept: globals, the heap and
//! anything cached in them persist from one request to the next (of possibly
//! different clients). An instance that traps, times out or hits its memory
//! limit is discarded, never reused: the executor gives back only instances
//! whose call succeeded.

use std::sync::Mutex;

use wasmtime::Store;
use wasmtime::component::Instance;

use crate::runtime::guest_state::GuestState;

/// Idle instances of one route, ready for their next request.
pub(super) struct ReusePool {
    max_requests: u32,
    idle: Mutex<Vec<WarmInstance>>,
}

/// An instance between two requests.
pub(super) struct WarmInstance {
    pub(super) store: Store<GuestState>,
    pub(super) instance: Instance,
    /// Requests it has served.
    pub(super) served: u32,
}

impl ReusePool {
    /// A pool whose instances each serve at most `max_requests` requests.
    pub(super) fn new(max_requests: u32) -> Self {
        ReusePool { max_requests: max_requests.max(1), idle: Mutex::new(Vec::new()) }
    }

    /// An idle instance, if there is one; it is the caller's until it gives
    /// it back.
    pub(super) fn take(&self) -> Option<WarmInstance> {
        self.idle.lock().ok().and_then(|mut idle| idle.pop())
    }

    /// Keeps `warm` for a next request, unless it has served its share.
    pub(super) fn put_back(&self, warm: WarmInstance) {
        if warm.served < self.max_requests
            && let Ok(mut idle) = self.idle.lock()
        {
            idle.push(warm);
        }
    }
}
