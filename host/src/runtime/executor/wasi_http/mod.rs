//! Runs a request through a standard `wasi:http/proxy` component (one built
//! for `wasmtime serve` or Spin): the request, with the host's routing as
//! headers ([`translate`]), goes to its `incoming-handler` in a fresh
//! instance, and its response and body are read back, all under the route's
//! time limit, the way `wasmtime serve` drives such a component.

mod translate;

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::bindings::http::types::{ErrorCode, Scheme};

use crate::runtime::guest_call::{CallError, CallOutcome, CallTiming, MAX_RESPONSE_BODY, RoutedRequest};
use crate::runtime::guest_error::{GuestError, classify};
use crate::runtime::guest_state::{GuestState, new_store};
use crate::runtime::route_context::RouteContext;

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
        let RoutedRequest { parts, body, path, params, request_id, lease: _lease } = request;
        let matched = translate::Matched { route: &self.context.name, params: &params };
        let request = translate::component_request(parts, &path, &matched, &request_id, body);
        let mut timing = CallTiming::default();
        let response = self.run(request, request_id, &mut timing).await;
        CallOutcome { response: response.map(translate::sent_response).map_err(CallError::Guest), timing }
    }

    /// Hands `request` to the component's `incoming-handler` in a fresh
    /// instance and waits for the whole response: at most
    /// [`MAX_RESPONSE_BODY`] bytes, everything within the route's timeout.
    ///
    /// The guest runs on this task, beside the read of its response: it sets
    /// the response first and writes the body after, and the body's pipe is
    /// bounded, so the two must make progress together.
    async fn run(
        &self,
        request: http::Request<Bytes>,
        request_id: Arc<str>,
        timing: &mut CallTiming,
    ) -> Result<http::Response<Bytes>, GuestError> {
        let timeout = self.context.limits.timeout;
        let mut store = new_store(self.proxy.engine(), &self.context, request_id);
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let request =
            request.map(|bytes| Full::new(bytes).map_err(|never| -> wasmtime_wasi_http::Error { match never {} }));
        let (incoming, outparam) = {
            let mut http = store.data_mut().http();
            let incoming = http.new_incoming_request(Scheme::Http, request);
            let outparam = http.new_response_outparam(sender);
            (incoming, outparam)
        };
        let incoming = incoming.map_err(|e| GuestError::Instantiate(format!("{e:#}")))?;
        let outparam = outparam.map_err(|e| GuestError::Instantiate(format!("{e:#}")))?;

        store.set_epoch_deadline(1);
        let started = Instant::now();
        let instantiated = &mut timing.instantiate;
        let guest = async {
            let instance =
                self.proxy.instantiate_async(&mut store).await.map_err(|e| classify(e, GuestError::Instantiate))?;
            *instantiated = started.elapsed();
            instance
                .wasi_http_incoming_handler()
                .call_handle(&mut store, incoming, outparam)
                .await
                .map_err(|e| classify(e, GuestError::Trap))
        };
        let response = async {
            match receiver.await {
                Ok(answer) => read_response(answer, MAX_RESPONSE_BODY).await,
                // Dropped unset: the guest returned or trapped without an
                // answer.
                Err(_) => Err(GuestError::Trap("the handler returned without setting a response".into())),
            }
        };
        tokio::pin!(response);
        // The answer is complete once its body is; whatever the guest still
        // does after that is cut off with its store. A guest that fails
        // first fails the request, even mid-body.
        let run = async {
            tokio::select! {
                finished = guest => match finished {
                    Err(e) => Err(e),
                    Ok(()) => (&mut response).await,
                },
                answered = &mut response => answered,
            }
        };
        let result = tokio::time::timeout(timeout, run).await;
        timing.handler = started.elapsed().saturating_sub(timing.instantiate);
        store.data().end_request();
        result.unwrap_or(Err(GuestError::Timeout(timeout)))
    }
}

/// The guest's response with its whole body, or why there is none.
async fn read_response(
    answer: Result<hyper::Response<wasmtime_wasi_http::p2::body::HyperOutgoingBody>, ErrorCode>,
    max_response: usize,
) -> Result<http::Response<Bytes>, GuestError> {
    let response = answer.map_err(|code| GuestError::Trap(format!("the handler answered with an error: {code:?}")))?;
    let (parts, body) = response.into_parts();
    let limited = http_body_util::Limited::new(body, max_response);
    let bytes = match limited.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return Err(GuestError::Trap(format!("the response body is larger than {max_response} bytes")));
        }
        Err(e) => return Err(GuestError::Trap(format!("the response body failed: {e}"))),
    };
    Ok(http::Response::from_parts(parts, bytes))
}
