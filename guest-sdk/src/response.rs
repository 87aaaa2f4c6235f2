//! The response a handler returns, and what may stand in for one.

use serde::Serialize;

use crate::sse::EventWriter;
use crate::{BodyWriter, Error, StreamError, Streaming};

/// An HTTP response: status, headers, body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Default for Response {
    fn default() -> Self {
        Response::new()
    }
}

impl Response {
    /// `200` with no headers and an empty body.
    pub fn new() -> Self {
        Response { status: 200, headers: Vec::new(), body: Vec::new() }
    }

    /// `200` with `value` serialized as JSON and `content-type: application/json`.
    ///
    /// Keys keep the order of the struct's fields, as `JSON.stringify` keeps
    /// an object's. A value that cannot be serialized (a map with non-string
    /// keys, say) gives a `500` JSON error instead.
    pub fn json<T: Serialize + ?Sized>(value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(body) => Response::new().header("content-type", "application/json").body(body),
            Err(e) => {
                eprintln!("wasmroutes-sdk: response is not serializable as JSON: {e}");
                Response::new()
                    .status(500)
                    .header("content-type", "application/json")
                    .body(&br#"{"error":"Internal server error"}"#[..])
            }
        }
    }

    /// `200` with a `text/plain; charset=utf-8` body.
    pub fn text(text: impl Into<String>) -> Self {
        Response::new().header("content-type", "text/plain; charset=utf-8").body(text.into().into_bytes())
    }

    /// A streamed `200` whose body `body` writes while it is sent; set the
    /// status and headers on the [`Streaming`] it returns. See [`Streaming`].
    pub fn stream<F>(body: F) -> Streaming
    where
        F: FnOnce(&mut BodyWriter) -> Result<(), StreamError> + Send + 'static,
    {
        Streaming::new(body)
    }

    /// Server-sent events: a streamed `200` with `content-type:
    /// text/event-stream`, `cache-control: no-cache` and `x-accel-buffering:
    /// no` (which tells nginx not to hold the events back), whose closure
    /// sends [`Event`](crate::sse::Event)s. See [`sse`](crate::sse).
    pub fn sse<F>(events: F) -> Streaming
    where
        F: FnOnce(&mut EventWriter<'_>) -> Result<(), StreamError> + Send + 'static,
    {
        Streaming::new(move |body| events(&mut EventWriter::new(body)))
            .header("content-type", "text/event-stream")
            .header("cache-control", "no-cache")
            .header("x-accel-buffering", "no")
    }

    /// Sets the status: `200..=599` (docs/behaviour.md §5); the host answers
    /// anything else with a 500 and logs why.
    pub fn status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// Sets header `name`, replacing any earlier value of it.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        replace_header(&mut self.headers, name.into(), value.into());
        self
    }

    /// Adds a value for header `name`, keeping earlier ones (e.g. `set-cookie`).
    pub fn append_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// The status code.
    pub fn status_code(&self) -> u16 {
        self.status
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// All headers in order.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The body bytes.
    pub fn body_bytes(&self) -> &[u8] {
        &self.body
    }

    /// The body parsed as JSON, for tests.
    pub fn json_body(&self) -> serde_json::Result<serde_json::Value> {
        serde_json::from_slice(&self.body)
    }

    pub(crate) fn into_parts(self) -> (u16, Vec<(String, String)>, Vec<u8>) {
        (self.status, self.headers, self.body)
    }
}

/// Anything a handler may return.
#[diagnostic::on_unimplemented(
    note = "a streaming handler's return type is spelled `Streaming` or `Result<Streaming, …>`: \
            `#[route]` sees only the name, so an alias of `Streaming` makes it a whole handler"
)]
pub trait IntoResponse {
    /// Converts into the response sent to the client.
    fn into_response(self) -> Response;
}

impl IntoResponse for Response {
    fn into_response(self) -> Response {
        self
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        Response::from(self)
    }
}

impl<T: IntoResponse, E: IntoResponse> IntoResponse for Result<T, E> {
    fn into_response(self) -> Response {
        match self {
            Ok(ok) => ok.into_response(),
            Err(err) => err.into_response(),
        }
    }
}

/// Sets header `name` in `headers`, in place of any value it had (names
/// compare without case, as HTTP's do).
pub(crate) fn replace_header(headers: &mut Vec<(String, String)>, name: String, value: String) {
    headers.retain(|(k, _)| !k.eq_ignore_ascii_case(&name));
    headers.push((name, value));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Post {
        id: u32,
        title: &'static str,
    }

    #[test]
    fn json_keeps_field_order_and_sets_content_type() {
        let resp = Response::json(&Post { id: 1, title: "First Post" });
        assert_eq!(resp.status_code(), 200);
        assert_eq!(resp.header_value("Content-Type"), Some("application/json"));
        assert_eq!(resp.body_bytes(), br#"{"id":1,"title":"First Post"}"#);
    }

    #[test]
    fn header_replaces_and_append_header_keeps() {
        let resp = Response::json(&1)
            .header("Content-Type", "application/problem+json")
            .append_header("set-cookie", "a=1")
            .append_header("set-cookie", "b=2");
        assert_eq!(resp.header_value("content-type"), Some("application/problem+json"));
        assert_eq!(resp.headers().iter().filter(|(k, _)| k == "set-cookie").count(), 2);
    }

    #[test]
    fn unserializable_json_is_a_500() {
        let mut map = std::collections::HashMap::new();
        map.insert(vec![1u8], 1);
        let resp = Response::json(&map);
        assert_eq!(resp.status_code(), 500);
    }

    #[test]
    fn result_of_error_turns_into_its_status() {
        let r: Result<Response, Error> = Err(Error::bad_request("nope"));
        assert_eq!(r.into_response().status_code(), 400);
    }
}
