//! Every answer the host makes itself, as one JSON envelope:
//! `{"error": "<message>"}` with `content-type: application/json`. Details
//! (trap messages, backtraces) go to the log, never to the client.

use http::{HeaderValue, StatusCode, header};

use crate::cors;
use crate::routing::method::MethodSet;
use crate::routing::request_path::PathError;
use crate::runtime::GuestError;
use crate::runtime::executor::{CallError, HttpResponse};
use crate::runtime::request_body::RequestBodyError;
use crate::runtime::response_body::ResponseBody;

/// A failure the host answers for.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// No route matches the path.
    #[error("Not found")]
    NotFound,
    /// The path cannot be decoded.
    #[error("{0}")]
    BadPath(PathError),
    /// The route does not export this method.
    #[error("Method {method} not allowed; allowed: {}", allowed.allow_header())]
    MethodNotAllowed {
        /// The request's method.
        method: String,
        /// What the route allows.
        allowed: MethodSet,
    },
    /// A CORS preflight the route's `cors` does not allow: no
    /// `Access-Control-Allow-*` headers, so the browser blocks the request.
    #[error("{0}")]
    PreflightRefused(String),
    /// The body is larger than the route accepts.
    #[error("Request body exceeds the limit of {0} bytes")]
    BodyTooLarge(u64),
    /// The body could not be read from the client.
    #[error("Could not read request body")]
    BodyRead,
    /// Too many requests in flight for the route.
    #[error("Too many requests for this route; retry shortly")]
    Busy,
    /// The guest failed (trap, panic, memory limit, timeout).
    #[error("{}", guest_message(.0))]
    Guest(GuestError),
    /// The guest answered with something that is not valid HTTP.
    #[error("Internal server error")]
    InvalidResponse(String),
}

impl From<CallError> for HostError {
    fn from(err: CallError) -> HostError {
        match err {
            CallError::Guest(guest) => HostError::Guest(guest),
            CallError::InvalidResponse(why) => HostError::InvalidResponse(why),
            CallError::Body(RequestBodyError::TooLarge { limit }) => HostError::BodyTooLarge(limit),
            CallError::Body(RequestBodyError::Read(_)) => HostError::BodyRead,
        }
    }
}

fn guest_message(err: &GuestError) -> &'static str {
    match err {
        GuestError::Timeout(_) => "Route handler timed out",
        GuestError::Instantiate(_) => "Route is temporarily unavailable",
        _ => "Internal server error",
    }
}

/// A status the host answers with by itself, named and described for the
/// API document: `openapi.rs` documents exactly these.
pub struct HostResponse {
    /// The status.
    pub status: StatusCode,
    /// Its name in the document's `components.responses`.
    pub name: &'static str,
    /// What makes the host answer it.
    pub description: &'static str,
}

/// Every status a [`HostError`] is answered with, once (a unit test checks
/// that each variant's status is here).
pub const HOST_RESPONSES: [HostResponse; 8] = [
    HostResponse {
        status: StatusCode::BAD_REQUEST,
        name: "BadRequest",
        description: "The path cannot be decoded, or the request body could not be read (host).",
    },
    HostResponse {
        status: StatusCode::FORBIDDEN,
        name: "PreflightRefused",
        description: "A CORS preflight the route's `cors` does not allow (host); no `Access-Control-Allow-*` headers.",
    },
    HostResponse {
        status: StatusCode::NOT_FOUND,
        name: "NotFound",
        description: "No route matches the path (host); a route may also answer 404 itself.",
    },
    HostResponse {
        status: StatusCode::METHOD_NOT_ALLOWED,
        name: "MethodNotAllowed",
        description: "The route does not export this method (host); `Allow` lists those it does.",
    },
    HostResponse {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        name: "PayloadTooLarge",
        description: "The request body is over the route's `limits.max_body` (host; the guest does not run).",
    },
    HostResponse {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        name: "InternalError",
        description: "The handler failed: a trap, a panic, a thrown error, or an invalid answer (host).",
    },
    HostResponse {
        status: StatusCode::SERVICE_UNAVAILABLE,
        name: "Unavailable",
        description: "The route is at `limits.max_concurrency`, or no instance is free (host); retry after `Retry-After`.",
    },
    HostResponse {
        status: StatusCode::GATEWAY_TIMEOUT,
        name: "Timeout",
        description: "The handler ran past the route's `limits.timeout` (host).",
    },
];

impl HostError {
    /// The status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            HostError::NotFound => StatusCode::NOT_FOUND,
            HostError::BadPath(_) | HostError::BodyRead => StatusCode::BAD_REQUEST,
            HostError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            HostError::PreflightRefused(_) => StatusCode::FORBIDDEN,
            HostError::BodyTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            HostError::Busy => StatusCode::SERVICE_UNAVAILABLE,
            HostError::Guest(GuestError::Timeout(_)) => StatusCode::GATEWAY_TIMEOUT,
            HostError::Guest(GuestError::Instantiate(_)) => StatusCode::SERVICE_UNAVAILABLE,
            HostError::Guest(_) | HostError::InvalidResponse(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The JSON error response, with `Allow` or `Retry-After` where they apply.
    pub fn into_response(self) -> HttpResponse {
        let body = serde_json::json!({ "error": self.to_string() }).to_string();
        let mut resp = json_response(self.status(), body);
        match &self {
            HostError::MethodNotAllowed { allowed, .. } => {
                if let Ok(v) = HeaderValue::from_str(&allowed.allow_header()) {
                    resp.headers_mut().insert(header::ALLOW, v);
                }
            }
            HostError::PreflightRefused(_) => {
                resp.headers_mut().insert(header::VARY, HeaderValue::from_static(cors::PREFLIGHT_VARY));
            }
            HostError::Busy | HostError::Guest(GuestError::Instantiate(_)) => {
                resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        resp
    }
}

/// A response with a JSON body.
pub fn json_response(status: StatusCode, body: String) -> HttpResponse {
    let mut resp = http::Response::new(ResponseBody::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::method::Method;

    #[test]
    fn method_not_allowed_carries_allow_and_json_error() {
        let allowed: MethodSet = [Method::Get].into_iter().collect();
        let resp = HostError::MethodNotAllowed { method: "POST".into(), allowed: allowed.allowed() }.into_response();
        assert_eq!(resp.status(), 405);
        assert_eq!(resp.headers()[header::ALLOW], "GET, HEAD, OPTIONS");
        assert_eq!(resp.headers()[header::CONTENT_TYPE], "application/json");
    }

    #[test]
    fn guest_failures_never_leak_details() {
        let err = HostError::Guest(GuestError::Trap("wasm backtrace: secret stuff".into()));
        assert_eq!(err.status(), 500);
        assert_eq!(err.to_string(), "Internal server error");
        assert_eq!(HostError::Guest(GuestError::Timeout(std::time::Duration::from_secs(1))).status(), 504);
    }

    #[test]
    fn every_status_the_host_answers_with_is_documented_once() {
        let every_kind = [
            HostError::NotFound,
            HostError::BadPath(PathError::NotAbsolute),
            HostError::MethodNotAllowed { method: "PUT".into(), allowed: MethodSet::default() },
            HostError::PreflightRefused("origin".into()),
            HostError::BodyTooLarge(1),
            HostError::BodyRead,
            HostError::Busy,
            HostError::Guest(GuestError::Timeout(std::time::Duration::from_secs(1))),
            HostError::Guest(GuestError::Instantiate("no slot".into())),
            HostError::Guest(GuestError::Trap("trap".into())),
            HostError::InvalidResponse("status 99".into()),
        ];
        for error in every_kind {
            let documented = HOST_RESPONSES.iter().filter(|r| r.status == error.status()).count();
            assert_eq!(documented, 1, "{error:?} answers {}", error.status());
        }
    }
}
