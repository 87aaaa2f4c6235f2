//! Runs one request: a fresh store and instance, one handler call, limits
//! enforced, every failure classified so the server can answer it cleanly.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::Instance;
use wasmtime::{Store, UpdateDeadline};

use super::component::RouteComponent;
use super::engine::Sandbox;
use super::guest_output::LogBudget;
use super::guest_state::GuestState;
use super::memory_limiter::MemoryLimitExceeded;
use super::{GuestRequest, GuestResponse};
use crate::kv::RouteStores;
use crate::limits::Limits;
use crate::outbound::OutboundPolicy;
use crate::routing::method::Method;

/// Who is calling, for limits and log tags.
pub struct Invocation<'a> {
    /// The route pattern, as written.
    pub route: Arc<str>,
    /// The request id.
    pub request_id: Arc<str>,
    /// The route's environment.
    pub env: &'a Arc<[(String, String)]>,
    /// The route's limits.
    pub limits: &'a Limits,
    /// Where the guest may send HTTP requests.
    pub outbound: &'a Arc<OutboundPolicy>,
    /// The key-value stores the guest may open.
    pub kv_stores: &'a Arc<RouteStores>,
    /// The route's allowance of log lines.
    pub log_budget: &'a Arc<LogBudget>,
}

/// Where one guest call spent its time, for the access log and
/// `Server-Timing`. Filled as far as the call got, so a timeout or trap still
/// reports the time it took.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallTiming {
    /// Creating the instance (zero for a reused instance).
    pub instantiate: Duration,
    /// Running the handler, up to its answer, trap or timeout.
    pub handler: Duration,
}

impl CallTiming {
    /// Instantiate plus handler: the time spent in the guest.
    pub fn total(&self) -> Duration {
        self.instantiate + self.handler
    }
}

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
    /// The component does not export the handler (a host bug if reached).
    #[error("component exports no {0} handler")]
    NoHandler(Method),
    /// Not a `wasi:http/proxy` component (a host bug if reached).
    #[error("component exports no wasi:http/incoming-handler")]
    NoProxyHandler,
}

/// A store for one instance of a route's component, under the route's limits.
pub(crate) fn new_store(sandbox: &Sandbox, inv: Invocation<'_>) -> Store<GuestState> {
    let state = GuestState::new(
        Arc::clone(inv.env),
        inv.limits.memory,
        Arc::clone(inv.outbound),
        Arc::clone(inv.kv_stores),
        Arc::clone(inv.log_budget),
        inv.route,
        inv.request_id,
    );
    let mut store = Store::new(&sandbox.engine, state);
    store.limiter(|s| &mut s.limiter);
    // On every epoch tick a running guest yields to tokio: other requests
    // on this worker keep flowing, and the timeout below gets to fire.
    // A plain `Yield` is not enough: tokio polls I/O only every 61 task
    // polls, so the yield must go through the scheduler.
    store.epoch_deadline_callback(|_| Ok(UpdateDeadline::YieldCustom(1, Box::pin(tokio::task::yield_now()))));
    store
}

/// Runs one handler call of `component` in `store`, instantiating first
/// unless `instance` (from an earlier call in the same store) is given. On
/// timeout the call is dropped mid-flight; the caller must then drop the
/// store too. `timing` gets the time spent in each phase.
pub(crate) async fn call_in(
    component: &RouteComponent,
    store: &mut Store<GuestState>,
    instance: Option<Instance>,
    export: Method,
    request: &GuestRequest,
    timeout: Duration,
    timing: &mut CallTiming,
) -> Result<(GuestResponse, Instance), GuestError> {
    let index = *component.handler(export).ok_or(GuestError::NoHandler(export))?;
    store.set_epoch_deadline(1);
    let started = Instant::now();
    let instantiated = &mut timing.instantiate;
    let run = async {
        let instance = match instance {
            Some(instance) => instance,
            None => {
                let instance = component
                    .pre
                    .instantiate_async(&mut *store)
                    .await
                    .map_err(|e| classify(e, GuestError::Instantiate))?;
                *instantiated = started.elapsed();
                instance
            }
        };
        let func = instance
            .get_typed_func::<(&GuestRequest,), (GuestResponse,)>(&mut *store, &index)
            .map_err(|e| GuestError::Trap(format!("{e:#}")))?;
        let (response,) = func.call_async(&mut *store, (request,)).await.map_err(|e| classify(e, GuestError::Trap))?;
        Ok((response, instance))
    };
    let result = tokio::time::timeout(timeout, run).await;
    timing.handler = started.elapsed().saturating_sub(timing.instantiate);
    store.data().end_request();
    match result {
        Ok(result) => result,
        Err(_) => Err(GuestError::Timeout(timeout)),
    }
}

/// A wasmtime error as the [`GuestError`] it is: a memory-limit hit, or
/// `otherwise`.
pub(crate) fn classify(err: wasmtime::Error, otherwise: fn(String) -> GuestError) -> GuestError {
    if let Some(limit) = err.downcast_ref::<MemoryLimitExceeded>() {
        return GuestError::MemoryLimit(*limit);
    }
    otherwise(format!("{err:?}"))
}
