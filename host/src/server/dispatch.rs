//! One request's way through the host: normalize the path, look the route
//! up, answer a CORS preflight, let the route's executor pick the call for
//! the method, take a permit and read the body within the limit (once, for
//! every kind of route: whole, or counted as a `wasi:http` guest streams
//! it), and run the call. Every failure becomes a
//! [`HostError`] here, at one edge.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::{HeaderValue, Request, StatusCode, header};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

use super::host_error::HostError;
use super::{ServerState, request_id, server_timing};
use crate::cors::{CorsPolicy, PreflightAnswer};
use crate::observability::{RouteMetrics, StreamMetrics};
use crate::route_table::{Route, RouteTable};
use crate::routing::method::MethodSet;
use crate::routing::request_path::{self, PathOutcome};
use crate::runtime::CallTiming;
use crate::runtime::executor::{Answer, HttpResponse, InstanceLease, RoutedRequest};
use crate::runtime::request_body::{RequestBody, StreamedRequestBody};
use crate::runtime::response_body::{ResponseBody, StreamEnd, StreamedBody};

/// What serving a request found out, for the access log, the metrics and
/// `Server-Timing`; [`route`] fills it in as it gets along.
#[derive(Default)]
struct Observed<'h> {
    /// The route that matched, if any.
    route: Option<&'h Route>,
    /// Where the guest's time went, if it ran.
    guest: Option<CallTiming>,
    /// The CORS policy whose headers the answer carries: the matched
    /// route's, or for a 404 the route the path goes on below. `None` for a
    /// preflight, which is answered whole.
    cors: Option<&'h CorsPolicy>,
}

/// Serves one request; never fails (every error is a response). With
/// `server_timing`, routed responses carry a `Server-Timing` header.
pub async fn handle(state: Arc<ServerState>, req: Request<Incoming>, server_timing: bool) -> HttpResponse {
    let started = Instant::now();
    let request_id: Arc<str> = Arc::from(request_id::for_request(req.headers()));
    let method = req.method().clone();
    // For the access log; a `Uri` clone shares the request's bytes.
    let uri = req.uri().clone();
    let origin = req.headers().get(header::ORIGIN).cloned();
    let mut observed = Observed::default();
    // One snapshot of the route table for the whole request: a reload that
    // lands meanwhile affects only later requests.
    let table = state.routes();

    let mut resp = match route(&table, req, &request_id, &mut observed).await {
        Ok(resp) => resp,
        Err(err) => {
            // Fields before the (possibly multi-line) details, so the first
            // line of the event names the request and the route.
            let route = observed.route.map_or("-", Route::name);
            match &err {
                HostError::Guest(guest) => {
                    if let Some(matched) = observed.route {
                        matched.metrics.record_guest_error(guest);
                    }
                    tracing::error!(request_id = %request_id, route = %route, error = %guest, "guest failed")
                }
                HostError::InvalidResponse(why) => {
                    tracing::error!(request_id = %request_id, route = %route, error = %why, "invalid guest response")
                }
                _ => {}
            }
            err.into_response()
        }
    };
    if let Some(cors) = observed.cors {
        cors.decorate(origin.as_ref(), resp.headers_mut());
    }
    let elapsed = started.elapsed();
    let metrics = match observed.route {
        Some(matched) => &matched.metrics,
        None => RouteMetrics::unmatched(),
    };
    metrics.record_response(resp.status(), elapsed);
    if server_timing && observed.route.is_some() {
        resp.headers_mut().insert("server-timing", server_timing::header_value(observed.guest, elapsed));
    }
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert(request_id::HEADER, v);
    }
    let route_name = observed.route.map_or("-", Route::name);
    tracing::info!(
        target: "wasmroutes::access",
        request_id = %request_id,
        method = %method,
        path = %uri.path(),
        route = %route_name,
        status = resp.status().as_u16(),
        total_us = elapsed.as_micros() as u64,
        guest_us = observed.guest.map_or(0, |t| t.total().as_micros() as u64),
    );
    if let ResponseBody::Streamed(body) = resp.body_mut() {
        report_stream_end(body, metrics.streams(), request_id, route_name.to_owned());
    }
    resp
}

/// Logs the end of a streamed answer (the access log's line was for its
/// head) and counts it.
fn report_stream_end(body: &mut StreamedBody, metrics: StreamMetrics, request_id: Arc<str>, route: String) {
    body.on_end(move |summary| {
        metrics.record(&summary.end, summary.bytes);
        let (bytes, duration_us) = (summary.bytes, summary.duration.as_micros() as u64);
        match &summary.end {
            StreamEnd::Cut(why) => tracing::error!(
                target: "wasmroutes::access",
                request_id = %request_id, route = %route, end = "cut", bytes, duration_us, reason = %why,
                "stream cut off"
            ),
            end => tracing::info!(
                target: "wasmroutes::access",
                request_id = %request_id, route = %route, end = end.as_str(), bytes, duration_us,
                "stream ended"
            ),
        }
    });
}

async fn route<'t>(
    table: &'t RouteTable,
    req: Request<Incoming>,
    request_id: &Arc<str>,
    observed: &mut Observed<'t>,
) -> Result<HttpResponse, HostError> {
    let routed = match request_path::normalize(req.uri().path()).map_err(HostError::BadPath)? {
        PathOutcome::Route(routed) => routed,
        PathOutcome::Redirect(to) => return Ok(redirect(to, req.uri().query())),
    };
    let segments: Vec<&str> = routed.segments.iter().map(String::as_str).collect();
    let Some(found) = table.lookup(&segments) else {
        observed.cors = table.cors_for_unmatched(&segments);
        return Err(HostError::NotFound);
    };
    let route = found.value;
    observed.route = Some(route);
    if let Some(cors) = route.cors.as_deref() {
        // A preflight is the host's to answer: the guest never sees it.
        if CorsPolicy::is_preflight(req.method(), req.headers()) {
            return preflight(cors, req.headers(), route.component.methods());
        }
        observed.cors = Some(cors);
    }
    let call = match route.executor.answer(req.method()) {
        Answer::Call(call) => call,
        Answer::Options(allowed) => return Ok(options_response(allowed.allow_header())),
        Answer::NotAllowed(allowed) => {
            return Err(HostError::MethodNotAllowed { method: req.method().to_string(), allowed });
        }
    };

    let permit = Arc::clone(&route.in_flight).try_acquire_owned().map_err(|_| HostError::Busy)?;
    let (parts, body) = req.into_parts();
    let max_body = route.limits().max_body;
    let body = if call.streams_request_body() {
        // Counted against the limit as the guest reads it; only a declared
        // length can be refused up front.
        refuse_declared_over(max_body, &parts.headers)?;
        RequestBody::Streamed(StreamedRequestBody::new(body, max_body))
    } else {
        RequestBody::Whole(read_body(max_body, &parts.headers, body).await?)
    };
    let lease = InstanceLease::new(permit, route.metrics.instance_started());
    let request = RoutedRequest {
        parts,
        body,
        path: routed.path,
        params: found.params,
        request_id: Arc::clone(request_id),
        lease,
    };
    let outcome = call.run(request).await;
    observed.guest = Some(outcome.timing);
    Ok(outcome.response?)
}

/// Reads the whole body, refusing anything over the route's limit: a
/// declared `Content-Length` over it is refused before reading a byte, and a
/// chunked body is cut off as soon as it passes the limit.
async fn read_body(limit: u64, headers: &http::HeaderMap, body: Incoming) -> Result<Bytes, HostError> {
    refuse_declared_over(limit, headers)?;
    let limited = Limited::new(body, usize::try_from(limit).unwrap_or(usize::MAX));
    match limited.collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(HostError::BodyTooLarge(limit)),
        Err(_) => Err(HostError::BodyRead),
    }
}

/// A `Content-Length` over the route's limit is refused before reading a byte.
fn refuse_declared_over(limit: u64, headers: &http::HeaderMap) -> Result<(), HostError> {
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(len) if len > limit => Err(HostError::BodyTooLarge(limit)),
        _ => Ok(()),
    }
}

fn preflight(cors: &CorsPolicy, request: &http::HeaderMap, methods: MethodSet) -> Result<HttpResponse, HostError> {
    match cors.preflight(request, methods) {
        PreflightAnswer::Allowed(headers) => {
            let mut resp = empty_response(StatusCode::NO_CONTENT);
            *resp.headers_mut() = headers;
            Ok(resp)
        }
        PreflightAnswer::Refused(why) => Err(HostError::PreflightRefused(why)),
    }
}

fn options_response(allow: String) -> HttpResponse {
    let mut resp = empty_response(StatusCode::NO_CONTENT);
    if let Ok(v) = HeaderValue::from_str(&allow) {
        resp.headers_mut().insert(header::ALLOW, v);
    }
    resp
}

fn redirect(path: String, query: Option<&str>) -> HttpResponse {
    let location = match query {
        Some(q) => format!("{path}?{q}"),
        None => path,
    };
    let mut resp = empty_response(StatusCode::PERMANENT_REDIRECT);
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

/// An answer with `status` and no body.
fn empty_response(status: StatusCode) -> HttpResponse {
    let mut resp = http::Response::new(ResponseBody::empty());
    *resp.status_mut() = status;
    resp
}
