//! What goes into a guest call and what comes out of it, whatever the kind
//! of component that answers: the routed request, the HTTP answer or why
//! there is none, and where the time went.

use std::sync::Arc;
use std::time::Duration;

use super::guest_error::GuestError;
use super::request_body::{RequestBody, RequestBodyError};
use super::response_body::ResponseBody;
use crate::observability::InFlight;
use crate::routing::method::MethodSet;
use crate::routing::router::ParamValue;

/// What the server answers with.
pub type HttpResponse = http::Response<ResponseBody>;

/// Largest whole response body a guest may send (host-wide); a streamed
/// one is held to the route's `max_stream_bytes` instead.
pub const MAX_RESPONSE_BODY: usize = 16 * 1024 * 1024;

/// The header that carries the request id, both ways and to the guest.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Headers the host owns in a guest's answer: framing is computed by hyper,
/// hop-by-hop headers do not belong to a handler.
pub(crate) const HOST_OWNED_HEADERS: [&str; 8] =
    ["connection", "content-length", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"];

/// A request the router matched, its body within the route's limit.
pub struct RoutedRequest {
    /// Method, URI, headers as the client sent them.
    pub parts: http::request::Parts,
    /// The body: whole, or streamed if the call takes it so
    /// ([`crate::runtime::executor::Call::streams_request_body`]).
    pub body: RequestBody,
    /// The normalized path the route matched.
    pub path: String,
    /// The decoded params, in pattern order.
    pub params: Vec<(String, ParamValue)>,
    /// The host's id for the request.
    pub request_id: Arc<str>,
    /// The instance's share of the route's capacity, held until it ends.
    pub lease: InstanceLease,
}

/// What a running instance holds: one of the route's `max_concurrency`
/// permits and its place in the in-flight gauge. The executor drops it when
/// the instance ends, which for a streamed answer is after the response has
/// been returned, when the stream ends.
pub struct InstanceLease {
    _permit: tokio::sync::OwnedSemaphorePermit,
    _in_flight: InFlight,
}

impl InstanceLease {
    /// The lease of an instance holding `permit`, counted in `in_flight`.
    pub fn new(permit: tokio::sync::OwnedSemaphorePermit, in_flight: InFlight) -> InstanceLease {
        InstanceLease { _permit: permit, _in_flight: in_flight }
    }

    /// A lease on no route's capacity, counted nowhere: for a call made
    /// outside the server (a benchmark).
    pub fn standalone() -> InstanceLease {
        let permit = Arc::new(tokio::sync::Semaphore::new(1)).try_acquire_owned();
        let permit = permit.unwrap_or_else(|_| unreachable!("a new semaphore has its permit"));
        InstanceLease::new(permit, crate::observability::RouteMetrics::unmatched().instance_started())
    }
}

/// How a route answers a method: with a call `C` into its guest, or by
/// itself.
pub enum Answer<C> {
    /// A guest call answers it.
    Call(C),
    /// `OPTIONS` on a route without an `options` handler: the host answers
    /// `204` with these methods in `Allow`.
    Options(MethodSet),
    /// `405`: the route allows only these.
    NotAllowed(MethodSet),
}

impl<C> Answer<C> {
    /// The same answer, with `f` making the call.
    pub fn map_call<D>(self, f: impl FnOnce(C) -> D) -> Answer<D> {
        match self {
            Answer::Call(call) => Answer::Call(f(call)),
            Answer::Options(allowed) => Answer::Options(allowed),
            Answer::NotAllowed(allowed) => Answer::NotAllowed(allowed),
        }
    }
}

/// What a guest call came to, and where its time went.
pub struct CallOutcome {
    /// The HTTP answer, or why there is none.
    pub response: Result<HttpResponse, CallError>,
    /// Where the call spent its time, as far as it got.
    pub timing: CallTiming,
}

/// Why a guest call has no HTTP answer.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The guest failed (trap, panic, memory limit, timeout).
    #[error(transparent)]
    Guest(#[from] GuestError),
    /// The guest answered with something that is not valid HTTP.
    #[error("invalid guest response: {0}")]
    InvalidResponse(String),
    /// The request body failed before the guest answered: over the route's
    /// `max_body`, or cut off by the client.
    #[error(transparent)]
    Body(#[from] RequestBodyError),
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
