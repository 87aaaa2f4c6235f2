//! Outbound HTTP from a route: a small `fetch`.
//!
//! Requests go through the host (`wasi:http`), which sends them only to the
//! hosts listed in the route's `allowed_outbound_hosts`; anything else fails
//! with [`FetchError::is_denied`] and never leaves the machine. A failed fetch
//! converts into a `502` [`Error`], so `?` answers the client sensibly.
//!
//! ```no_run
//! use wasmroutes_sdk::{fetch, Request, Response, Result};
//!
//! fn get(_req: Request) -> Result {
//!     let upstream = fetch::get("https://api.example.com/v1/status").header("accept", "application/json").send()?;
//!     let status: serde_json::Value = upstream.json()?;
//!     Ok(Response::json(&status))
//! }
//! ```

use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Error;

/// An outbound request being built.
#[derive(Clone, Debug)]
pub struct Fetch {
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// `GET url`.
pub fn get(url: impl Into<String>) -> Fetch {
    request("GET", url)
}

/// `POST url`.
pub fn post(url: impl Into<String>) -> Fetch {
    request("POST", url)
}

/// Any method.
pub fn request(method: &str, url: impl Into<String>) -> Fetch {
    Fetch { method: method.to_ascii_uppercase(), url: url.into(), headers: Vec::new(), body: Vec::new() }
}

impl Fetch {
    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets a JSON body and `content-type: application/json`.
    pub fn json<T: Serialize + ?Sized>(self, value: &T) -> Result<Self, FetchError> {
        let body = serde_json::to_vec(value).map_err(|e| FetchError::new(format!("cannot serialize body: {e}")))?;
        Ok(self.header("content-type", "application/json").body(body))
    }

    /// Sends the request and reads the whole response.
    pub fn send(self) -> Result<FetchResponse, FetchError> {
        let url = Url::parse(&self.url)?;
        imp::send(&self, &url)
    }
}

/// A response from upstream.
#[derive(Clone, Debug)]
pub struct FetchResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl FetchResponse {
    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body bytes.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; invalid JSON from upstream is a `502`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.body).map_err(|e| Error::bad_gateway(format!("Upstream sent invalid JSON: {e}")))
    }
}

/// Why a fetch failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchError {
    message: String,
    denied: bool,
}

impl FetchError {
    fn new(message: impl Into<String>) -> Self {
        FetchError { message: message.into(), denied: false }
    }

    /// The host refused the destination (not in `allowed_outbound_hosts`).
    pub fn is_denied(&self) -> bool {
        self.denied
    }

    /// What went wrong.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for FetchError {}

impl From<FetchError> for Error {
    fn from(err: FetchError) -> Error {
        Error::bad_gateway(format!("Upstream request failed: {}", err.message))
    }
}

/// The parts of a URL `wasi:http` wants.
#[derive(Debug, PartialEq, Eq)]
struct Url<'a> {
    https: bool,
    authority: &'a str,
    path_with_query: &'a str,
}

impl<'a> Url<'a> {
    fn parse(url: &'a str) -> Result<Url<'a>, FetchError> {
        let (https, rest) = if let Some(rest) = url.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            (false, rest)
        } else {
            return Err(FetchError::new(format!("`{url}` is not an http:// or https:// URL")));
        };
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(split);
        if authority.is_empty() {
            return Err(FetchError::new(format!("`{url}` has no host")));
        }
        let path_with_query = if path.is_empty() { "/" } else { path };
        Ok(Url { https, authority, path_with_query })
    }
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use wasip2::http::outgoing_handler;
    use wasip2::http::types::{ErrorCode, Fields, IncomingBody, Method, OutgoingBody, OutgoingRequest, Scheme};
    use wasip2::io::streams::StreamError;

    use super::{Fetch, FetchError, FetchResponse, Url};

    pub fn send(req: &Fetch, url: &Url<'_>) -> Result<FetchResponse, FetchError> {
        let headers: Vec<(String, Vec<u8>)> =
            req.headers.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.as_bytes().to_vec())).collect();
        let fields = Fields::from_list(&headers).map_err(|e| FetchError::new(format!("invalid header: {e:?}")))?;
        let outgoing = OutgoingRequest::new(fields);
        let method = match req.method.as_str() {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "PATCH" => Method::Patch,
            "DELETE" => Method::Delete,
            "OPTIONS" => Method::Options,
            other => Method::Other(other.to_owned()),
        };
        let invalid = |what: &str| FetchError::new(format!("invalid {what} in {}", req.url));
        outgoing.set_method(&method).map_err(|()| invalid("method"))?;
        outgoing
            .set_scheme(Some(if url.https { &Scheme::Https } else { &Scheme::Http }))
            .map_err(|()| invalid("scheme"))?;
        outgoing.set_authority(Some(url.authority)).map_err(|()| invalid("host"))?;
        outgoing.set_path_with_query(Some(url.path_with_query)).map_err(|()| invalid("path"))?;

        let body = outgoing.body().map_err(|()| FetchError::new("request body unavailable"))?;
        let pending = outgoing_handler::handle(outgoing, None).map_err(error_code)?;
        write_body(&body, &req.body)?;
        OutgoingBody::finish(body, None).map_err(error_code)?;

        pending.subscribe().block();
        let response = match pending.get() {
            Some(Ok(Ok(response))) => response,
            Some(Ok(Err(code))) => return Err(error_code(code)),
            Some(Err(())) | None => return Err(FetchError::new("response already taken")),
        };
        let status = response.status();
        let headers = response
            .headers()
            .entries()
            .into_iter()
            .map(|(k, v)| (k, String::from_utf8_lossy(&v).into_owned()))
            .collect();
        let incoming = response.consume().map_err(|()| FetchError::new("response body unavailable"))?;
        let body = read_body(&incoming)?;
        drop(IncomingBody::finish(incoming));
        Ok(FetchResponse { status, headers, body })
    }

    fn write_body(body: &OutgoingBody, bytes: &[u8]) -> Result<(), FetchError> {
        if bytes.is_empty() {
            return Ok(());
        }
        let stream = body.write().map_err(|()| FetchError::new("request body stream unavailable"))?;
        // `blocking-write-and-flush` takes at most 4096 bytes per call.
        for chunk in bytes.chunks(4096) {
            stream.blocking_write_and_flush(chunk).map_err(|e| FetchError::new(format!("sending body: {e:?}")))?;
        }
        Ok(())
    }

    fn read_body(body: &IncomingBody) -> Result<Vec<u8>, FetchError> {
        let stream = body.stream().map_err(|()| FetchError::new("response body stream unavailable"))?;
        let mut out = Vec::new();
        loop {
            match stream.blocking_read(64 * 1024) {
                Ok(chunk) => out.extend_from_slice(&chunk),
                Err(StreamError::Closed) => return Ok(out),
                Err(StreamError::LastOperationFailed(e)) => {
                    return Err(FetchError::new(format!("reading response: {}", e.to_debug_string())));
                }
            }
        }
    }

    fn error_code(code: ErrorCode) -> FetchError {
        let denied = matches!(code, ErrorCode::HttpRequestDenied);
        let message = if denied {
            "request denied by the host (not in allowed_outbound_hosts)".to_owned()
        } else {
            format!("{code:?}")
        };
        FetchError { message, denied }
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use super::{Fetch, FetchError, FetchResponse, Url};

    pub fn send(req: &Fetch, _url: &Url<'_>) -> Result<FetchResponse, FetchError> {
        Err(FetchError::new(format!(
            "cannot {} {}: outbound HTTP is only available to a route running in the wasmroutes host",
            req.method, req.url
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls_into_wasi_parts() {
        assert_eq!(
            Url::parse("https://api.example.com:8443/v1/x?q=1").unwrap(),
            Url { https: true, authority: "api.example.com:8443", path_with_query: "/v1/x?q=1" }
        );
        assert_eq!(Url::parse("http://h?x").unwrap(), Url { https: false, authority: "h", path_with_query: "?x" });
        assert_eq!(Url::parse("http://h").unwrap().path_with_query, "/");
        assert!(Url::parse("ftp://h").is_err());
        assert!(Url::parse("https:///x").is_err());
    }

    #[test]
    fn a_failed_fetch_is_a_502() {
        let err: Error = get("http://example.com").send().unwrap_err().into();
        assert_eq!(err.status(), 502);
    }
}
