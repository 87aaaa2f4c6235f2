//! Opt-in instance reuse (`isolation = "reuse"` in routes.toml): an instance
//! serves up to `max_requests` requests one after another, never two at once,
//! which skips instantiation and the pool-slot reset on the request path.
//!
//! The trade-off, for the route author to accept: globals, the heap and
//! anything cached in them persist from one request to the next (of possibly
//! different clients). An instance that traps, times out or hits its memory
//! limit is discarded, never reused.

use std::sync::{Arc, Mutex};

use wasmtime::Store;
use wasmtime::component::Instance;

use super::component::RouteComponent;
use super::engine::Sandbox;
use super::guest_state::GuestState;
use super::invoke::{self, CallTiming, GuestError, Invocation};
use super::{GuestRequest, GuestResponse};
use crate::routing::method::Method;

/// Idle instances of one route, ready for their next request.
pub struct ReusePool {
    max_requests: u32,
    idle: Mutex<Vec<WarmInstance>>,
}

struct WarmInstance {
    store: Store<GuestState>,
    instance: Instance,
    served: u32,
}

impl ReusePool {
    /// A pool whose instances each serve at most `max_requests` requests.
    pub fn new(max_requests: u32) -> Self {
        ReusePool { max_requests: max_requests.max(1), idle: Mutex::new(Vec::new()) }
    }

    /// Calls `export` in an idle instance, or a new one if none is idle.
    pub async fn call(
        &self,
        component: &RouteComponent,
        sandbox: &Sandbox,
        export: Method,
        request: &GuestRequest,
        inv: Invocation<'_>,
        timing: &mut CallTiming,
    ) -> Result<GuestResponse, GuestError> {
        let timeout = inv.limits.timeout;
        let warm = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let (mut store, instance, served) = match warm {
            Some(mut w) => {
                w.store.data_mut().begin_request(Arc::clone(&inv.request_id));
                (w.store, Some(w.instance), w.served)
            }
            None => (invoke::new_store(sandbox, inv), None, 0),
        };
        // On error the store is dropped here: a failed instance is never reused.
        let (response, instance) =
            invoke::call_in(component, &mut store, instance, export, request, timeout, timing).await?;
        let served = served + 1;
        if served < self.max_requests
            && let Ok(mut idle) = self.idle.lock()
        {
            idle.push(WarmInstance { store, instance, served });
        }
        Ok(response)
    }
}
