//! The gate every outbound `wasi:http` request passes: the route's
//! allow-list decides, with connect and response timeouts the guest cannot
//! raise. A refused request never leaves the machine; the guest gets
//! `HTTP-request-denied` and decides what to answer.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::BodyExt;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

use crate::outbound::OutboundPolicy;

/// Longest a connection to an allowed host may take to open.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Longest wait for the first byte of a response, and between body frames.
/// The route's own timeout bounds the whole request as well.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(30);

/// Per-store `wasi:http` hooks.
pub struct OutboundHooks {
    policy: Arc<OutboundPolicy>,
    route: Arc<str>,
    request_id: Arc<str>,
}

impl OutboundHooks {
    /// Hooks enforcing `policy` for one request of `route`.
    pub fn new(policy: Arc<OutboundPolicy>, route: Arc<str>, request_id: Arc<str>) -> Self {
        OutboundHooks { policy, route, request_id }
    }

    /// Tags later requests with `request_id`.
    pub fn set_request_id(&mut self, request_id: Arc<str>) {
        self.request_id = request_id;
    }
}

type SendFuture = Box<
    dyn Future<Output = Result<(http::Response<WasiBody>, Box<dyn Future<Output = Result<(), Error>> + Send>), Error>>
        + Send,
>;

impl WasiHttpHooks for OutboundHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> SendFuture {
        drop(fut);
        let uri = request.uri().clone();
        if !self.policy.allows_uri(&uri) {
            tracing::warn!(
                route = %self.route,
                request_id = %self.request_id,
                "outbound request to {} denied: not in allowed_outbound_hosts",
                redacted(&uri)
            );
            return Box::new(async { Err(Error::HttpRequestDenied) });
        }
        tracing::debug!(route = %self.route, request_id = %self.request_id, "outbound request to {}", redacted(&uri));
        let options = capped(options.unwrap_or_default());
        Box::new(async move {
            let (response, io) = wasmtime_wasi_http::default_send_request(request, Some(options)).await?;
            let io: Box<dyn Future<Output = Result<(), Error>> + Send> = Box::new(io);
            Ok((response.map(BodyExt::boxed_unsync), io))
        })
    }
}

/// The guest may ask for shorter timeouts, never longer (or none).
fn capped(requested: RequestOptions) -> RequestOptions {
    let cap = |asked: Option<Duration>, limit: Duration| Some(asked.map_or(limit, |d| d.min(limit)));
    RequestOptions {
        connect_timeout: cap(requested.connect_timeout, CONNECT_TIMEOUT),
        first_byte_timeout: cap(requested.first_byte_timeout, RESPONSE_TIMEOUT),
        between_bytes_timeout: cap(requested.between_bytes_timeout, RESPONSE_TIMEOUT),
    }
}

/// Scheme, host and port only: paths and queries may carry secrets.
fn redacted(uri: &http::Uri) -> String {
    format!("{}://{}", uri.scheme_str().unwrap_or("?"), uri.authority().map_or("?", |a| a.as_str()))
}
