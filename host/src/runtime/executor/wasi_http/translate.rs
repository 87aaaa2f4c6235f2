//! What a `wasi:http/proxy` route's component receives and what of its
//! answer goes out.
//!
//! Such a component gets the HTTP request itself, so the routing the host
//! did reaches it as request headers: ours, and Spin's names for the same
//! things, so a component written for Spin that reads them works unchanged.
//! Headers with those prefixes that the client sent are removed first: a
//! client must not be able to fake a route match.
//!
//! | header | value |
//! | --- | --- |
//! | `x-wasmroutes-route`, `spin-matched-route` | the route pattern, e.g. `/api/items/[id]` |
//! | `x-wasmroutes-param-NAME`, `spin-path-match-NAME` | the param as it appeared in the path (percent-encoded); a catch-all's segments joined by `/` |
//! | `spin-path-info` | a trailing catch-all's part of the path, from its `/` (empty otherwise) |
//! | `x-wasmroutes-full-url`, `spin-full-url` | `http://HOST/PATH?QUERY` |
//! | `x-request-id` | the host's request id (exactly one) |

use http::header::{CONTENT_LENGTH, HeaderMap, HeaderName, HeaderValue};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

use crate::routing::router::ParamValue;
use crate::runtime::guest_call::{HOST_OWNED_HEADERS, HttpResponse, REQUEST_ID_HEADER};
use crate::runtime::response_body::ResponseBody;

/// Bytes of a decoded param that are encoded again for a header: what a
/// header value cannot hold, and `/` and `%` so that the value is lossless.
const PARAM_ENCODE: &AsciiSet = &CONTROLS.add(b' ').add(b'"').add(b'%').add(b'/').add(b'?').add(b'#');

/// Prefixes of the headers the host sets.
const HOST_PREFIXES: [&str; 2] = ["x-wasmroutes-", "spin-"];

/// What the route table found, for the headers.
pub(super) struct Matched<'a> {
    /// The route pattern.
    pub(super) route: &'a str,
    /// The decoded params, in pattern order.
    pub(super) params: &'a [(String, ParamValue)],
}

/// The request the component gets: `parts` with the routed `path` and an
/// absolute URI, the host's headers, and `body`.
pub(super) fn component_request<B>(
    mut parts: http::request::Parts,
    path: &str,
    matched: &Matched<'_>,
    request_id: &str,
    body: B,
) -> http::Request<B> {
    let host = parts
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| parts.uri.authority().map(|a| a.as_str()))
        .unwrap_or("localhost")
        .to_owned();
    let path_and_query = match parts.uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_owned(),
    };
    let full_url = format!("http://{host}{path_and_query}");
    if let Ok(uri) = full_url.parse() {
        parts.uri = uri;
    }

    let headers = &mut parts.headers;
    let foreign: Vec<HeaderName> =
        headers.keys().filter(|name| HOST_PREFIXES.iter().any(|p| name.as_str().starts_with(p))).cloned().collect();
    for name in foreign {
        headers.remove(name);
    }
    set(headers, REQUEST_ID_HEADER, request_id);
    set(headers, "x-wasmroutes-route", matched.route);
    set(headers, "spin-matched-route", matched.route);
    set(headers, "x-wasmroutes-full-url", &full_url);
    set(headers, "spin-full-url", &full_url);
    let mut path_info = String::new();
    for (name, value) in matched.params {
        let encoded = match value {
            ParamValue::Single(v) => utf8_percent_encode(v, PARAM_ENCODE).to_string(),
            ParamValue::Segments(segments) => {
                let encoded: Vec<String> =
                    segments.iter().map(|s| utf8_percent_encode(s, PARAM_ENCODE).to_string()).collect();
                path_info = encoded.iter().map(|s| format!("/{s}")).collect();
                encoded.join("/")
            }
        };
        let name = name.to_ascii_lowercase();
        set(headers, &format!("x-wasmroutes-param-{name}"), &encoded);
        set(headers, &format!("spin-path-match-{name}"), &encoded);
    }
    set(headers, "spin-path-info", &path_info);
    http::Request::from_parts(parts, body)
}

/// Sets `name` to `value`. Names are ours or `prefix + param name`, and
/// param names are identifiers (pattern.rs), so every name is a valid header
/// name. A value that is not header text (a route pattern whose static
/// segment holds a control character) is percent-encoded, so nothing is ever
/// left out; UTF-8 passes as is.
fn set(headers: &mut HeaderMap, name: &str, value: &str) {
    let name = HeaderName::from_bytes(name.as_bytes()).expect("header names built from identifiers are valid");
    let value = HeaderValue::from_str(value).unwrap_or_else(|_| {
        HeaderValue::from_str(&utf8_percent_encode(value, CONTROLS).to_string())
            .expect("percent-encoding leaves only visible ASCII")
    });
    headers.insert(name, value);
}

/// The component's response head as the host sends it, with `body`:
/// framing and hop-by-hop headers are the host's (hyper computes them),
/// except a valid `content-length`, kept as `wasmtime serve` keeps it:
/// wasmtime-wasi-http fails a body of any other length, and the answer is
/// then cut.
pub(super) fn sent_response(mut head: http::response::Parts, body: ResponseBody) -> HttpResponse {
    let length =
        head.headers.get(CONTENT_LENGTH).filter(|v| v.to_str().is_ok_and(|v| v.parse::<u64>().is_ok())).cloned();
    for name in HOST_OWNED_HEADERS {
        head.headers.remove(name);
    }
    if let Some(length) = length {
        head.headers.insert(CONTENT_LENGTH, length);
    }
    http::Response::from_parts(head, body)
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn parts(uri: &str, headers: &[(&str, &str)]) -> http::request::Parts {
        let mut builder = http::Request::builder().uri(uri);
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        builder.body(()).unwrap().into_parts().0
    }

    #[test]
    fn the_route_and_its_params_become_headers_and_client_copies_are_dropped() {
        let params = vec![
            ("id".to_owned(), ParamValue::Single("a b/é".to_owned())),
            ("rest".to_owned(), ParamValue::Segments(vec!["x".to_owned(), "y%z".to_owned()])),
        ];
        let matched = Matched { route: "/api/[id]/[...rest]", params: &params };
        let headers = [
            ("host", "example.test:3000"),
            ("spin-path-match-id", "forged"),
            ("x-wasmroutes-route", "forged"),
            ("x-request-id", "client"),
            ("accept", "*/*"),
        ];
        let req =
            component_request(parts("/api/a%20b/x?q=1", &headers), "/api/a%20b/x/y%25z", &matched, "rid", Bytes::new());
        let h = req.headers();
        assert_eq!(req.uri().to_string(), "http://example.test:3000/api/a%20b/x/y%25z?q=1");
        assert_eq!(h["x-wasmroutes-route"], "/api/[id]/[...rest]");
        assert_eq!(h["spin-matched-route"], "/api/[id]/[...rest]");
        assert_eq!(h["x-wasmroutes-param-id"], "a%20b%2F%C3%A9");
        assert_eq!(h.get_all("spin-path-match-id").iter().count(), 1, "the client's copy is gone");
        assert_eq!(h["spin-path-match-rest"], "x/y%25z");
        assert_eq!(h["spin-path-info"], "/x/y%25z");
        assert_eq!(h["spin-full-url"], "http://example.test:3000/api/a%20b/x/y%25z?q=1");
        assert_eq!(h["x-request-id"], "rid");
        assert_eq!(h["accept"], "*/*");
    }

    #[test]
    fn a_route_pattern_that_is_not_header_text_is_percent_encoded() {
        let matched = Matched { route: "/api/a\u{1}b/[id]", params: &[] };
        let req = component_request(parts("/api/a%01b/1", &[]), "/api/a%01b/1", &matched, "rid", Bytes::new());
        assert_eq!(req.headers()["x-wasmroutes-route"], "/api/a%01b/[id]");
    }

    #[test]
    fn framing_headers_of_the_answer_are_the_hosts() {
        let (head, ()) = http::Response::builder()
            .header("content-length", "999")
            .header("transfer-encoding", "chunked")
            .header("x-a", "1")
            .body(())
            .unwrap()
            .into_parts();
        let out = sent_response(head, ResponseBody::from(Bytes::from_static(b"hi")));
        assert_eq!(out.headers()["content-length"], "999", "a declared length the component must keep");
        assert!(out.headers().get("transfer-encoding").is_none());
        assert_eq!(out.headers()["x-a"], "1");
        let (head, ()) = http::Response::builder().header("content-length", "lots").body(()).unwrap().into_parts();
        let out = sent_response(head, ResponseBody::from(Bytes::from_static(b"hi")));
        assert!(out.headers().get("content-length").is_none(), "not a length: hyper frames it");
    }
}
