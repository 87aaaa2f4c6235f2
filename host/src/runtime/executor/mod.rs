//! Running one request in a route's component. Each kind of component has
//! its executor, chosen once when the route is loaded from the kind its
//! type declares (`ComponentKind`): [`ApiExecutor`] for `wasmroutes:api`
//! components, [`WasiHttpExecutor`] for `wasi:http/proxy` ones. An executor
//! translates the request into what its guest takes, makes the store from
//! the route's [`RouteContext`], calls the guest under the route's limits,
//! and translates the answer back into HTTP.
//!
//! The method decides the call before the body is read ([`Executor::answer`]),
//! so a `405` or an `OPTIONS` answer costs no permit and no body.

mod api;
mod until_head;
mod wasi_http;

pub use api::ApiExecutor;
use api::HandlerCall;
pub(crate) use api::response_head;
pub use wasi_http::WasiHttpExecutor;

use super::component::{ComponentKind, RouteComponent};
pub use super::guest_call::{
    Answer, CallError, CallOutcome, CallTiming, HttpResponse, InstanceLease, MAX_RESPONSE_BODY, REQUEST_ID_HEADER,
    RoutedRequest,
};
use super::route_context::RouteContext;

/// Runs the requests of one route.
// One per route, made at load and never moved on a request's path: its size
// costs nothing, and boxing would add a pointer chase to every call.
#[allow(clippy::large_enum_variant)]
pub enum Executor {
    /// A `wasmroutes:api` component: one handler per method.
    Api(ApiExecutor),
    /// A `wasi:http/proxy` component: it answers every method itself.
    WasiHttp(WasiHttpExecutor),
}

/// `isolation = "reuse"` asked of a component that cannot have it.
#[derive(Debug, thiserror::Error)]
#[error(
    "isolation = \"reuse\" is for wasmroutes:api components; a wasi:http/proxy component runs in a fresh instance per request"
)]
pub struct ReuseUnsupported;

impl Executor {
    /// The executor for `component`'s kind, running requests under
    /// `context`: each in a fresh instance, or with `reuse = Some(n)`, in an
    /// instance kept for up to `n` requests one after another.
    pub fn new(
        component: &RouteComponent,
        context: RouteContext,
        reuse: Option<u32>,
    ) -> Result<Executor, ReuseUnsupported> {
        match component.kind() {
            ComponentKind::Api(exports) => Ok(Executor::Api(ApiExecutor::new(exports.clone(), context, reuse))),
            // What a wasi:http component leaves running after its answer (a
            // task finishing its body) belongs to its request.
            ComponentKind::WasiHttp(_) if reuse.is_some() => Err(ReuseUnsupported),
            ComponentKind::WasiHttp(proxy) => Ok(Executor::WasiHttp(WasiHttpExecutor::new(proxy.clone(), context))),
        }
    }

    /// The route's grants and limits.
    pub fn context(&self) -> &RouteContext {
        match self {
            Executor::Api(api) => api.context(),
            Executor::WasiHttp(wasi_http) => wasi_http.context(),
        }
    }

    /// What answers a request with `method`, decided from the component's
    /// type without instantiating it.
    pub fn answer(&self, method: &http::Method) -> Answer<Call<'_>> {
        match self {
            Executor::Api(api) => api.answer(method).map_call(|handler| Call(CallKind::Api(api, handler))),
            Executor::WasiHttp(wasi_http) => Answer::Call(Call(CallKind::WasiHttp(wasi_http))),
        }
    }
}

/// A guest call, ready to run once the request's body is read.
pub struct Call<'e>(CallKind<'e>);

enum CallKind<'e> {
    Api(&'e ApiExecutor, HandlerCall),
    WasiHttp(&'e WasiHttpExecutor),
}

impl Call<'_> {
    /// Whether the guest reads the request body as it arrives
    /// ([`RequestBody::Streamed`](super::request_body::RequestBody)): a
    /// `wasi:http` component does, a `wasmroutes:api` handler takes it whole.
    pub fn streams_request_body(&self) -> bool {
        matches!(self.0, CallKind::WasiHttp(_))
    }

    /// Runs the guest for `request` and translates its answer.
    pub async fn run(self, request: RoutedRequest) -> CallOutcome {
        match self.0 {
            CallKind::Api(api, handler) => api.call(handler, request).await,
            CallKind::WasiHttp(wasi_http) => wasi_http.call(request).await,
        }
    }
}
