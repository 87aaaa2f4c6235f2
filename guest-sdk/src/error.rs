//! The error a handler returns with `?`: a status and a message the client
//! sees as `{"error": "<message>"}`.

use std::fmt;

use crate::Response;

/// An error that becomes a JSON error response.
///
/// The message is sent to the client, so put in it only what the caller may
/// see; log details with `eprintln!` (the host tags guest output with the
/// route and request id).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    status: u16,
    message: String,
}

impl Error {
    /// An error with any status. A status outside `400..=599` is sent as 500.
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        let status = if (400..=599).contains(&status) { status } else { 500 };
        Error { status, message: message.into() }
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

    /// The HTTP status this error is sent with.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The message the client sees.
    pub fn message(&self) -> &str {
        &self.message
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
        Response::json(&serde_json::json!({ "error": err.message })).status(err.status)
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
}
