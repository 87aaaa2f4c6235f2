//! Runs a request through a `wasmroutes:api` component: the HTTP request
//! becomes the WIT `request` record ([`translate`]), the handler exported
//! for its method runs in a fresh instance — or, on a route that opts in, in
//! one kept from earlier requests ([`reuse`]) — and its `response` record
//! becomes the HTTP answer.

mod reuse;
mod streaming;
mod translate;

pub(crate) use translate::response_head;

use std::sync::Arc;
use std::time::Instant;

use http::{HeaderValue, header};
use wasmtime::Store;
use wasmtime::component::{ComponentExportIndex, Instance};

use self::reuse::{ReusePool, WarmInstance};
use crate::routing::method::{Method, MethodAnswer};
use crate::runtime::component::{ApiExports, HandlerExport};
use crate::runtime::guest_call::{Answer, CallError, CallOutcome, CallTiming, HttpResponse, RoutedRequest};
use crate::runtime::guest_error::{GuestError, classify};
use crate::runtime::guest_state::{GuestState, new_store};
use crate::runtime::request_body::RequestBody;
use crate::runtime::response_body::ResponseBody;
use crate::runtime::route_context::RouteContext;
use crate::runtime::{GuestRequest, GuestResponse};

/// The executor of a `wasmroutes:api` route.
pub struct ApiExecutor {
    context: RouteContext,
    exports: ApiExports,
    /// Idle instances, for a route with `isolation = "reuse"` (shared with
    /// streaming calls' tasks).
    reuse: Option<Arc<ReusePool>>,
}

/// The handler one request calls, picked from its method.
pub(in crate::runtime) struct HandlerCall {
    export: HandlerExport,
    /// The method the guest is told (`HEAD` when `get` serves a `HEAD`).
    method: Method,
    /// `HEAD` served by `get`: the answer goes out without its body.
    strip_body: bool,
}

impl ApiExecutor {
    pub(super) fn new(exports: ApiExports, context: RouteContext, reuse: Option<u32>) -> ApiExecutor {
        ApiExecutor { context, exports, reuse: reuse.map(|max| Arc::new(ReusePool::new(max))) }
    }

    pub(super) fn context(&self) -> &RouteContext {
        &self.context
    }

    /// Which export answers `method` (`MethodSet::answer`, shared with
    /// `routes --match`).
    pub(super) fn answer(&self, method: &http::Method) -> Answer<HandlerCall> {
        let requested = Method::from_http(method);
        let exported = self.exports.methods();
        match exported.answer(requested) {
            MethodAnswer::Call { export, strip_body } => match self.exports.handler(export) {
                // `Call` is only ever the answer to a method a route can
                // export, so `requested` is set.
                Some(handler) => {
                    Answer::Call(HandlerCall { export: handler, method: requested.unwrap_or(export), strip_body })
                }
                // The set is read from the same exports as the handlers.
                None => Answer::NotAllowed(exported.allowed()),
            },
            MethodAnswer::Options(allowed) => Answer::Options(allowed),
            MethodAnswer::NotAllowed(allowed) => Answer::NotAllowed(allowed),
        }
    }

    pub(super) async fn call(&self, handler: HandlerCall, request: RoutedRequest) -> CallOutcome {
        let RoutedRequest { parts, body, path, params, request_id, lease } = request;
        let body = match body {
            RequestBody::Whole(bytes) => bytes,
            // The server reads a handler's body whole (`Call::streams_request_body`);
            // anyone else's streamed body is read here, before the guest runs.
            RequestBody::Streamed(streamed) => match streamed.read_whole().await {
                Ok(bytes) => bytes,
                Err(e) => return CallOutcome { response: Err(e.into()), timing: CallTiming::default() },
            },
        };
        let guest_request = translate::guest_request(
            handler.method,
            path,
            params,
            parts.uri.query(),
            &parts.headers,
            &request_id,
            body,
        );
        if handler.export.streams {
            return self.call_streaming(handler, guest_request, request_id, lease).await;
        }
        let mut timing = CallTiming::default();
        let index = handler.export.index;
        let answer = match &self.reuse {
            None => self.call_fresh(index, &guest_request, request_id, &mut timing).await,
            Some(pool) => self.call_reused(pool.as_ref(), index, &guest_request, request_id, &mut timing).await,
        };
        drop(lease);
        let response = answer.map_err(CallError::Guest).and_then(|answer| {
            let mut response = translate::http_response(answer).map_err(CallError::InvalidResponse)?;
            if handler.strip_body {
                strip_body_for_head(&mut response);
            }
            Ok(response)
        });
        CallOutcome { response, timing }
    }

    /// One call in a fresh instance, which is dropped afterwards: no state
    /// survives between requests.
    ///
    /// The store is dropped here, on the request's path, although that
    /// resets the pool slot: the reset is cheaper while the slot is still warm
    /// in the cache than on a task of its own after the response
    /// (bench/README.md, "The store is dropped on the request's path").
    async fn call_fresh(
        &self,
        index: ComponentExportIndex,
        request: &GuestRequest,
        request_id: Arc<str>,
        timing: &mut CallTiming,
    ) -> Result<GuestResponse, GuestError> {
        let mut store = new_store(self.exports.pre.engine(), &self.context, request_id);
        self.call_in(&mut store, None, index, request, timing).await.map(|(response, _)| response)
    }

    /// One call in an idle instance of `pool`, or a new one if none is idle.
    async fn call_reused(
        &self,
        pool: &ReusePool,
        index: ComponentExportIndex,
        request: &GuestRequest,
        request_id: Arc<str>,
        timing: &mut CallTiming,
    ) -> Result<GuestResponse, GuestError> {
        let (mut store, instance, served) = match pool.take() {
            Some(mut warm) => {
                warm.store.data_mut().begin_request(request_id);
                (warm.store, Some(warm.instance), warm.served)
            }
            None => (new_store(self.exports.pre.engine(), &self.context, request_id), None, 0),
        };
        // On error the store is dropped here: a failed instance is never reused.
        let (response, instance) = self.call_in(&mut store, instance, index, request, timing).await?;
        store.data_mut().finish_reused_request().await;
        pool.put_back(WarmInstance { store, instance, served: served + 1 });
        Ok(response)
    }

    /// Runs the handler at `index` in `store`, instantiating first unless
    /// `instance` (from an earlier call in the same store) is given, all
    /// within the route's timeout. On timeout the call is dropped
    /// mid-flight; the caller must then drop the store too.
    async fn call_in(
        &self,
        store: &mut Store<GuestState>,
        instance: Option<Instance>,
        index: ComponentExportIndex,
        request: &GuestRequest,
        timing: &mut CallTiming,
    ) -> Result<(GuestResponse, Instance), GuestError> {
        let timeout = self.context.limits.timeout;
        store.set_epoch_deadline(1);
        let started = Instant::now();
        let instantiated = &mut timing.instantiate;
        let run = async {
            let instance = match instance {
                Some(instance) => instance,
                None => {
                    let instance = self
                        .exports
                        .pre
                        .instantiate_async(&mut *store)
                        .await
                        .map_err(|e| classify(e, GuestError::Instantiate))?;
                    *instantiated = started.elapsed();
                    instance
                }
            };
            let func = instance
                .get_typed_func::<(&GuestRequest,), (GuestResponse,)>(&mut *store, index)
                .map_err(|e| GuestError::Trap(format!("{e:#}")))?;
            let (response,) =
                func.call_async(&mut *store, (request,)).await.map_err(|e| classify(e, GuestError::Trap))?;
            Ok((response, instance))
        };
        let result = tokio::time::timeout(timeout, run).await;
        timing.handler = started.elapsed().saturating_sub(timing.instantiate);
        store.data().end_request();
        result.unwrap_or(Err(GuestError::Timeout(timeout)))
    }
}

/// `HEAD` served by `get`: same status and headers, no body, and the length
/// the body would have had.
fn strip_body_for_head(resp: &mut HttpResponse) {
    use hyper::body::Body as _;
    let len = resp.body().size_hint().exact().unwrap_or(0);
    *resp.body_mut() = ResponseBody::empty();
    resp.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from(len));
}
