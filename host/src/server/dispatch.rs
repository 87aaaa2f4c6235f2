//! One request's way through the host: normalize the path, route it, pick the
//! handler for the method, read the body within the limit, run the guest,
//! convert its answer. Every failure becomes a [`HostError`] here, at one edge.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::{HeaderValue, Request, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;

use super::host_error::HostError;
use super::{Host, proxy_request, request_id, server_timing, translate};
use crate::cors::{CorsPolicy, PreflightAnswer};
use crate::observability::RouteMetrics;
use crate::route_table::{Route, RouteTable};
use crate::routing::method::{Method, MethodAnswer, MethodSet};
use crate::routing::request_path::{self, PathOutcome};
use crate::routing::router::ParamValue;
use crate::runtime::{CallTiming, Invocation};

/// What the server answers with.
pub type HttpResponse = http::Response<Full<Bytes>>;

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
pub async fn handle(host: Arc<Host>, req: Request<Incoming>, server_timing: bool) -> HttpResponse {
    let started = Instant::now();
    let request_id: Arc<str> = Arc::from(request_id::for_request(req.headers()));
    let method = req.method().clone();
    // For the access log; a `Uri` clone shares the request's bytes.
    let uri = req.uri().clone();
    let origin = req.headers().get(header::ORIGIN).cloned();
    let mut observed = Observed::default();
    // One snapshot of the route table for the whole request: a reload that
    // lands meanwhile affects only later requests.
    let table = host.routes();

    let mut resp = match route(&host, &table, req, &request_id, &mut observed).await {
        Ok(resp) => resp,
        Err(err) => {
            // Fields before the (possibly multi-line) details, so the first
            // line of the event names the request and the route.
            let route = observed.route.map_or("-", |r| &*r.name);
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
    tracing::info!(
        target: "wasmroutes::access",
        request_id = %request_id,
        method = %method,
        path = %uri.path(),
        route = %observed.route.map_or("-", |r| &*r.name),
        status = resp.status().as_u16(),
        total_us = elapsed.as_micros() as u64,
        guest_us = observed.guest.map_or(0, |t| t.total().as_micros() as u64),
    );
    resp
}

async fn route<'t>(
    host: &Host,
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
    if route.component.is_proxy() {
        return forward(host, route, &routed.path, &found.params, req, request_id, observed).await;
    }

    // Which export answers is decided from the component's type, without
    // instantiating it (`MethodSet::answer`, shared with `routes --match`).
    let requested = Method::from_http(req.method());
    let (export, strip_body) = match route.component.methods().answer(requested) {
        MethodAnswer::Call { export, strip_body } => (export, strip_body),
        MethodAnswer::Options(allowed) => return Ok(options_response(allowed.allow_header())),
        MethodAnswer::NotAllowed(allowed) => {
            return Err(HostError::MethodNotAllowed { method: req.method().to_string(), allowed });
        }
    };
    // `Call` is only ever the answer to a method a route can export.
    let method = requested.unwrap_or(export);

    let permit = route.in_flight.try_acquire().map_err(|_| HostError::Busy)?;
    let (parts, body) = req.into_parts();
    let body = read_body(route, &parts.headers, body).await?;
    let guest_req = translate::guest_request(
        method,
        routed.path,
        found.params,
        parts.uri.query(),
        &parts.headers,
        request_id,
        body,
    );

    let invocation = invocation(route, request_id);
    let mut timing = CallTiming::default();
    let in_flight = route.metrics.instance_started();
    let answer = route.call(&host.sandbox, export, &guest_req, invocation, &mut timing).await;
    drop(in_flight);
    drop(permit);
    observed.guest = Some(timing);
    let mut resp = translate::http_response(answer.map_err(HostError::Guest)?).map_err(HostError::InvalidResponse)?;
    if strip_body {
        strip_body_for_head(&mut resp);
    }
    Ok(resp)
}

/// A `wasi:http/proxy` route: the component gets the request itself (any
/// method; the route and its params as headers) and answers it.
async fn forward<'t>(
    host: &Host,
    route: &'t Route,
    path: &str,
    params: &[(String, ParamValue)],
    req: Request<Incoming>,
    request_id: &Arc<str>,
    observed: &mut Observed<'t>,
) -> Result<HttpResponse, HostError> {
    let permit = route.in_flight.try_acquire().map_err(|_| HostError::Busy)?;
    let (parts, body) = req.into_parts();
    let body = read_body(route, &parts.headers, body).await?;
    let matched = proxy_request::Matched { route: &route.name, params };
    let request = proxy_request::proxy_request(parts, path, &matched, request_id, body);
    let mut timing = CallTiming::default();
    let in_flight = route.metrics.instance_started();
    let answer = route
        .component
        .call_proxy(&host.sandbox, request, invocation(route, request_id), translate::MAX_RESPONSE_BODY, &mut timing)
        .await;
    drop(in_flight);
    drop(permit);
    observed.guest = Some(timing);
    Ok(proxy_request::proxy_response(answer.map_err(HostError::Guest)?))
}

/// Who is calling a route's guest, for its limits, capabilities and logs.
fn invocation<'r>(route: &'r Route, request_id: &Arc<str>) -> Invocation<'r> {
    Invocation {
        route: Arc::clone(&route.name),
        request_id: Arc::clone(request_id),
        env: &route.env,
        limits: &route.limits,
        outbound: &route.outbound,
        kv_stores: &route.kv_stores,
        log_budget: &route.log_budget,
    }
}

/// Reads the whole body, refusing anything over the route's limit: a
/// declared `Content-Length` over it is refused before reading a byte, and a
/// chunked body is cut off as soon as it passes the limit.
async fn read_body(route: &Route, headers: &http::HeaderMap, body: Incoming) -> Result<Bytes, HostError> {
    let limit = route.limits.max_body;
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(HostError::BodyTooLarge(limit));
    }
    let limited = Limited::new(body, usize::try_from(limit).unwrap_or(usize::MAX));
    match limited.collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(HostError::BodyTooLarge(limit)),
        Err(_) => Err(HostError::BodyRead),
    }
}

/// `HEAD` served by `get`: same status and headers, no body, and the length
/// the body would have had.
fn strip_body_for_head(resp: &mut HttpResponse) {
    use hyper::body::Body as _;
    let len = resp.body().size_hint().exact().unwrap_or(0);
    *resp.body_mut() = Full::new(Bytes::new());
    resp.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from(len));
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
    let mut resp = http::Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = status;
    resp
}
