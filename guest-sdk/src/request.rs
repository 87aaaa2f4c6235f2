//! The request a handler receives: already routed, params and query decoded.

use serde::de::DeserializeOwned;

use crate::{Error, Method};

/// The value of one dynamic segment of the route pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParamValue {
    /// `[name]`: one segment.
    Single(String),
    /// `[...name]` / `[[...name]]`: the matched segments (empty for an optional
    /// catch-all that matched nothing).
    Segments(Vec<String>),
}

/// An HTTP request routed to this component.
#[derive(Clone, Debug)]
pub struct Request {
    method: Method,
    path: String,
    params: Vec<(String, ParamValue)>,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    pub(crate) fn from_parts(
        method: Method,
        path: String,
        params: Vec<(String, ParamValue)>,
        query: Vec<(String, String)>,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> Self {
        Request { method, path, params, query, headers, body }
    }

    /// Starts a request by hand, for unit tests of handlers.
    pub fn builder(method: Method, path: impl Into<String>) -> RequestBuilder {
        RequestBuilder { req: Request::from_parts(method, path.into(), Vec::new(), Vec::new(), Vec::new(), Vec::new()) }
    }

    /// The method the host dispatched (`Head` when a `get` handler serves `HEAD`).
    pub fn method(&self) -> Method {
        self.method
    }

    /// The request path as routed, e.g. `/api/posts/42` (still percent-encoded).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The decoded value of the `[name]` segment of the route pattern.
    ///
    /// Fails with a 500 error when the route has no such single-segment param:
    /// that is a mismatch between `routes.toml` and the code, not bad input.
    pub fn param(&self, name: &str) -> Result<&str, Error> {
        match self.find_param(name) {
            Some(ParamValue::Single(v)) => Ok(v),
            Some(ParamValue::Segments(_)) => Err(Error::internal(format!(
                "route param `{name}` is a catch-all; read it with `segments(\"{name}\")`"
            ))),
            None => Err(Error::internal(format!("route has no param `{name}`"))),
        }
    }

    /// The decoded segments of a `[...name]` or `[[...name]]` catch-all.
    ///
    /// Fails with a 500 error when the route has no such catch-all.
    pub fn segments(&self, name: &str) -> Result<&[String], Error> {
        match self.find_param(name) {
            Some(ParamValue::Segments(v)) => Ok(v),
            Some(ParamValue::Single(_)) => Err(Error::internal(format!(
                "route param `{name}` is a single segment; read it with `param(\"{name}\")`"
            ))),
            None => Err(Error::internal(format!("route has no catch-all `{name}`"))),
        }
    }

    /// All params in pattern order.
    pub fn params(&self) -> &[(String, ParamValue)] {
        &self.params
    }

    fn find_param(&self, name: &str) -> Option<&ParamValue> {
        self.params.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// The first value of query parameter `name` (`?q=a&q=b` → `"a"`).
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Every value of query parameter `name`, in order.
    pub fn query_all(&self, name: &str) -> Vec<&str> {
        self.query.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect()
    }

    /// All query pairs, decoded, in order, repeats kept.
    pub fn query_pairs(&self) -> &[(String, String)] {
        &self.query
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// All headers; names are lower-case, repeats kept.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The raw body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body as text, decoded like the Fetch API's `request.text()`: UTF-8,
    /// a leading byte-order mark dropped, invalid bytes replaced with U+FFFD.
    pub fn text(&self) -> String {
        let bytes = self.body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&self.body);
        String::from_utf8_lossy(bytes).into_owned()
    }

    /// The body parsed as JSON into `T`, like Next.js's `request.json()`
    /// (content-type is not checked), except that an empty or invalid body is a
    /// `400` error rather than an exception, so `?` answers the client.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        let text = self.text();
        if text.trim().is_empty() {
            return Err(Error::bad_request("Request body is empty; expected JSON"));
        }
        serde_json::from_str(&text).map_err(|e| Error::bad_request(format!("Invalid JSON body: {e}")))
    }
}

/// Builds a [`Request`] for unit tests.
#[derive(Clone, Debug)]
pub struct RequestBuilder {
    req: Request,
}

impl RequestBuilder {
    /// Adds a `[name]` param.
    pub fn param(mut self, name: &str, value: &str) -> Self {
        self.req.params.push((name.to_owned(), ParamValue::Single(value.to_owned())));
        self
    }

    /// Adds a catch-all param.
    pub fn segments(mut self, name: &str, segments: &[&str]) -> Self {
        let segments = segments.iter().map(|s| (*s).to_owned()).collect();
        self.req.params.push((name.to_owned(), ParamValue::Segments(segments)));
        self
    }

    /// Adds a decoded query pair.
    pub fn query(mut self, name: &str, value: &str) -> Self {
        self.req.query.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Adds a header (the name is lower-cased, as the host does).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.req.headers.push((name.to_ascii_lowercase(), value.to_owned()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.req.body = body.into();
        self
    }

    /// Finishes the request.
    pub fn build(self) -> Request {
        self.req
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Todo {
        task: String,
    }

    fn post(body: &[u8]) -> Request {
        Request::builder(Method::Post, "/api/todos").body(body.to_vec()).build()
    }

    #[test]
    fn json_ignores_content_type_and_drops_a_leading_bom() {
        let todo: Todo = post(b"\xEF\xBB\xBF{\"task\":\"x\"}").json().unwrap();
        assert_eq!(todo, Todo { task: "x".into() });
    }

    #[test]
    fn json_of_empty_or_invalid_body_is_a_400() {
        for body in [&b""[..], b"  ", b"{", b"{\"task\":1}", b"[]"] {
            let err = post(body).json::<Todo>().unwrap_err();
            assert_eq!(err.status(), 400, "body {body:?}");
        }
    }

    #[test]
    fn json_replaces_invalid_utf8_like_text_decoder() {
        let todo: Todo = post(b"{\"task\":\"a\xFFb\"}").json().unwrap();
        assert_eq!(todo.task, "a\u{FFFD}b");
    }

    #[test]
    fn query_keeps_order_and_repeats() {
        let req = Request::builder(Method::Get, "/s").query("q", "a").query("x", "1").query("q", "b").build();
        assert_eq!(req.query("q"), Some("a"));
        assert_eq!(req.query_all("q"), ["a", "b"]);
        assert_eq!(req.query("missing"), None);
    }

    #[test]
    fn params_and_segments_are_typed() {
        let req = Request::builder(Method::Get, "/d/a/b").param("id", "7").segments("slug", &["a", "b"]).build();
        assert_eq!(req.param("id"), Ok("7"));
        assert_eq!(req.segments("slug").unwrap(), ["a", "b"]);
        assert_eq!(req.param("slug").unwrap_err().status(), 500);
        assert_eq!(req.segments("id").unwrap_err().status(), 500);
        assert_eq!(req.param("nope").unwrap_err().status(), 500);
    }

    #[test]
    fn header_lookup_is_case_insensitive() {
        let req = Request::builder(Method::Get, "/").header("X-Api-Key", "k").build();
        assert_eq!(req.header("x-api-key"), Some("k"));
        assert_eq!(req.header("X-API-KEY"), Some("k"));
    }
}
