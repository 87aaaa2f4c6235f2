//! Runs a request through a standard `wasi:http/proxy` component (one built
//! for `wasmtime serve` or Spin): the request, with the host's routing as
//! headers ([`translate`]), goes to its `incoming-handler` in a fresh
//! instance, the way `wasmtime serve` drives such a component.
//!
//! Both bodies stream. The request body reaches the component as the client
//! sends it, counted against the route's `max_body`. The instance
//! ([`instance`]) moves to a task of its own once it has set its head,
//! because it goes on writing its response body after the head has been
//! returned to hyper; the call waits only for the head, within the route's
//! `timeout`.

mod instance;
mod translate;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use tokio::sync::oneshot;
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::body::HyperIncomingBody;

use self::instance::{Ended, ProxyInstance};
use super::until_head::{HeadWait, until_head};
use crate::runtime::guest_call::{CallError, CallOutcome, CallTiming, RoutedRequest};
use crate::runtime::guest_error::GuestError;
use crate::runtime::guest_state::{GuestState, new_store};
use crate::runtime::request_body::{Overflow, RequestBody, RequestBodyError};
use crate::runtime::response_body::{self, ResponseBody};
use crate::runtime::route_context::RouteContext;
use crate::runtime::streaming::Progress;

/// The executor of a `wasi:http/proxy` route.
pub struct WasiHttpExecutor {
    context: RouteContext,
    proxy: ProxyPre<GuestState>,
}

impl WasiHttpExecutor {
    pub(super) fn new(proxy: ProxyPre<GuestState>, context: RouteContext) -> WasiHttpExecutor {
        WasiHttpExecutor { context, proxy }
    }

    pub(super) fn context(&self) -> &RouteContext {
        &self.context
    }

    pub(super) async fn call(&self, request: RoutedRequest) -> CallOutcome {
        let RoutedRequest { parts, body, path, params, request_id, lease } = request;
        let limits = self.context.limits;
        let mut timing = CallTiming::default();
        // The request body moving counts as progress too: a component that
        // answers as it reads is not idle while the client is sending.
        let progress = Progress::new();
        let (body, overflow) = incoming_body(body, &progress);
        let matched = translate::Matched { route: &self.context.name, params: &params };
        let request = translate::component_request(parts, &path, &matched, &request_id, body);

        let mut store = new_store(self.proxy.engine(), &self.context, request_id);
        let (answer_sender, answer) = oneshot::channel();
        let (incoming, outparam) = {
            let mut http = store.data_mut().http();
            (http.new_incoming_request(Scheme::Http, request), http.new_response_outparam(answer_sender))
        };
        let (incoming, outparam) = match (incoming, outparam) {
            (Ok(incoming), Ok(outparam)) => (incoming, outparam),
            (Err(e), _) | (_, Err(e)) => {
                let error = GuestError::Instantiate(format!("{e:#}"));
                return CallOutcome { response: Err(CallError::Guest(error)), timing };
            }
        };

        let (sender, streamed) = response_body::stream();
        let (head_sender, head) = oneshot::channel();
        let instantiated = Arc::new(Mutex::new(Duration::ZERO));
        let instance = ProxyInstance {
            proxy: self.proxy.clone(),
            store,
            lease,
            sender,
            progress,
            limits,
            instantiated: Arc::clone(&instantiated),
        };
        let started = Instant::now();
        let run = Box::pin(instance.run(incoming, outparam, answer, head_sender));
        let (waited, rest) = until_head(run, head, limits.timeout).await;
        timing.instantiate = *instantiated.lock().unwrap_or_else(PoisonError::into_inner);
        timing.handler = started.elapsed().saturating_sub(timing.instantiate);
        let response = match (waited, over_limit(overflow.as_ref())) {
            // Whatever the component made of a body that failed, the body
            // was too large.
            (HeadWait::Head(..) | HeadWait::NoHead(_), Some(limit)) => {
                Err(CallError::Body(RequestBodyError::TooLarge { limit }))
            }
            // Failed before anything could be sent: still a `500`.
            (HeadWait::Head(_, Some(Ended::Failed(error))) | HeadWait::NoHead(Ended::Failed(error)), None) => {
                Err(CallError::Guest(error))
            }
            (HeadWait::Head(head, _), None) => {
                if let Some(rest) = rest {
                    tokio::spawn(rest);
                }
                Ok(translate::sent_response(head, ResponseBody::Streamed(streamed)))
            }
            (HeadWait::NoHead(_), None) => {
                Err(CallError::Guest(GuestError::Trap("the instance ended without an answer".into())))
            }
            (HeadWait::TimedOut, _) => Err(CallError::Guest(GuestError::Timeout(limits.timeout))),
        };
        CallOutcome { response, timing }
    }
}

/// The body the component reads, and for a streamed one the handle that
/// tells whether it went over `max_body`.
fn incoming_body(body: RequestBody, progress: &Progress) -> (HyperIncomingBody, Option<Overflow>) {
    match body {
        RequestBody::Whole(bytes) => {
            let body = Full::new(bytes).map_err(|never| -> wasmtime_wasi_http::Error { match never {} });
            (body.boxed_unsync(), None)
        }
        RequestBody::Streamed(streamed) => {
            let overflow = streamed.overflow();
            let progress = progress.clone();
            let body = streamed
                .map_frame(move |frame: hyper::body::Frame<Bytes>| {
                    progress.touch();
                    frame
                })
                .map_err(wasi_http_error);
            (body.boxed_unsync(), Some(overflow))
        }
    }
}

/// A failed request body as the component hears of it: the `error-code`
/// its `incoming-body` stream fails with.
fn wasi_http_error(error: RequestBodyError) -> wasmtime_wasi_http::Error {
    match error {
        RequestBodyError::TooLarge { limit } => wasmtime_wasi_http::Error::HttpRequestBodySize(Some(limit)),
        RequestBodyError::Read(e) => match e.downcast::<hyper::Error>() {
            Ok(e) => wasmtime_wasi_http::Error::Hyper(*e),
            Err(_) => wasmtime_wasi_http::Error::HttpProtocolError,
        },
    }
}

/// The limit a streamed body went over, if it did.
fn over_limit(overflow: Option<&Overflow>) -> Option<u64> {
    overflow.filter(|o| o.exceeded()).map(Overflow::limit)
}
