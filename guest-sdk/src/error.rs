//! The error a handler returns with `?`: a status and a message the client
//! sees as `{"error": "<message>"}`.

use std::fmt;

use crate::Response;

/// An error that becomes a JSON error response.
///
/// The message is sent to the client, so put in it only what the caller may
/// see; log details with `eprintln!` (the host tags guest output with the
/// route and request id). Headers added with [`Error::with_header`] (such as
/// the `Retry-After` of [`Error::unavailable`]) are sent with the response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    status: u16,
    message: String,
    headers: Vec<(String, String)>,
}

impl Error {
    /// An error with any status. A status outside `400..=599` is sent as 500.
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        let status = if (400..=599).contains(&status) { status } else { 500 };
        Error { status, message: message.into(), headers: Vec::new() }
    }

    /// `400 Bad Request`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, message)
    }

    /// `401 Unauthorized`.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(401, message)
    }

    /// `403 Forbidden`.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, message)
    }

    /// `404 Not Found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, message)
    }

    /// `409 Conflict`.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(409, message)
    }

    /// `422 Unprocessable Content`.
    pub fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(422, message)
    }

    /// `500 Internal Server Error`.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, message)
    }

    /// `502 Bad Gateway`, for a failed call to another service.
    pub fn bad_gateway(message: impl Into<String>) -> Self {
        Self::new(502, message)
    }

    /// `503 Service Unavailable` with `Retry-After: <retry_after_secs>`, for
    /// a dependency that is down for now (the client may try again later).
    pub fn unavailable(message: impl Into<String>, retry_after_secs: u32) -> Self {
        Self::new(503, message).with_header("retry-after", retry_after_secs.to_string())
    }

    /// Sends header `name` with the error response, replacing any value this
    /// error already had for it (and the response's own, e.g. `content-type`).
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let name = name.into();
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(&name));
        self.headers.push((name, value.into()));
        self
    }

    /// The HTTP status this error is sent with.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The message the client sees.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The headers sent with the error response, in the order added.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status, self.message)
    }
}

impl std::error::Error for Error {}

impl From<Error> for Response {
    fn from(err: Error) -> Response {
        let resp = Response::json(&serde_json::json!({ "error": err.message })).status(err.status);
        err.headers.into_iter().fold(resp, |resp, (name, value)| resp.header(name, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_becomes_json_envelope_with_its_status() {
        let resp = Response::from(Error::not_found("User not found"));
        assert_eq!(resp.status_code(), 404);
        assert_eq!(resp.header_value("content-type"), Some("application/json"));
        assert_eq!(resp.body_bytes(), br#"{"error":"User not found"}"#);
    }

    #[test]
    fn status_outside_error_range_is_sent_as_500() {
        assert_eq!(Error::new(200, "not an error").status(), 500);
        assert_eq!(Error::new(99, "nonsense").status(), 500);
        assert_eq!(Error::new(418, "teapot").status(), 418);
    }

    #[test]
    fn an_error_has_no_extra_headers_by_default() {
        let resp = Response::from(Error::bad_request("nope"));
        assert_eq!(resp.headers(), [("content-type".to_owned(), "application/json".to_owned())]);
    }

    #[test]
    fn unavailable_is_a_503_with_retry_after() {
        let err = Error::unavailable("Try again soon", 1);
        assert_eq!(err.status(), 503);
        assert_eq!(err.header_value("Retry-After"), Some("1"));
        let resp = Response::from(err);
        assert_eq!(resp.status_code(), 503);
        assert_eq!(resp.header_value("retry-after"), Some("1"));
        assert_eq!(resp.header_value("content-type"), Some("application/json"));
        assert_eq!(resp.body_bytes(), br#"{"error":"Try again soon"}"#);
    }

    #[test]
    fn with_header_replaces_its_own_and_the_responses_value() {
        let err = Error::conflict("x")
            .with_header("x-a", "1")
            .with_header("X-A", "2")
            .with_header("content-type", "application/problem+json");
        assert_eq!(err.headers().len(), 2);
        let resp = Response::from(err);
        assert_eq!(resp.header_value("x-a"), Some("2"));
        assert_eq!(resp.header_value("content-type"), Some("application/problem+json"));
        assert_eq!(resp.headers().len(), 2);
    }
}
