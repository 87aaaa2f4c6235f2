//! HTTP ⇄ WIT records: the request the guest sees and the response it gives.
//!
//! The guest's response is untrusted input: its status and headers are checked
//! here, and anything that is not valid HTTP becomes a logged 500.

use bytes::Bytes;
use http::StatusCode;
use http::header::{HeaderMap, HeaderName, HeaderValue};

use crate::routing::method::Method;
use crate::routing::router::ParamValue;
use crate::runtime::guest_call::{HOST_OWNED_HEADERS, HttpResponse, MAX_RESPONSE_BODY, REQUEST_ID_HEADER};
use crate::runtime::response_body::ResponseBody;
use crate::runtime::{GuestRequest, GuestResponse, WitMethod, WitParamValue};

/// Builds the record the guest receives. Its `x-request-id` header is always
/// `request_id`, whatever the client sent, so the guest can tag its own logs
/// and outbound calls with the id the host logs.
pub(super) fn guest_request(
    method: Method,
    path: String,
    params: Vec<(String, ParamValue)>,
    query: Option<&str>,
    headers: &HeaderMap,
    request_id: &str,
    body: Bytes,
) -> GuestRequest {
    let query = query
        .map(|q| form_urlencoded::parse(q.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
        .unwrap_or_default();
    let headers = headers
        .iter()
        .filter(|(name, _)| name.as_str() != REQUEST_ID_HEADER)
        .map(|(name, value)| {
            let value = match value.to_str() {
                Ok(v) => v.to_owned(),
                Err(_) => String::from_utf8_lossy(value.as_bytes()).into_owned(),
            };
            (name.as_str().to_owned(), value)
        })
        .chain(std::iter::once((REQUEST_ID_HEADER.to_owned(), request_id.to_owned())))
        .collect();
    let params = params
        .into_iter()
        .map(|(name, value)| {
            let value = match value {
                ParamValue::Single(v) => WitParamValue::Single(v),
                ParamValue::Segments(v) => WitParamValue::Segments(v),
            };
            (name, value)
        })
        .collect();
    GuestRequest { method: wit_method(method), path, params, query, headers, body: body.to_vec() }
}

fn wit_method(method: Method) -> WitMethod {
    match method {
        Method::Get => WitMethod::Get,
        Method::Head => WitMethod::Head,
        Method::Post => WitMethod::Post,
        Method::Put => WitMethod::Put,
        Method::Patch => WitMethod::Patch,
        Method::Delete => WitMethod::Delete,
        Method::Options => WitMethod::Options,
    }
}

/// Checks and converts the guest's answer. The error says what was wrong,
/// for the log.
pub(super) fn http_response(resp: GuestResponse) -> Result<HttpResponse, String> {
    if resp.body.len() > MAX_RESPONSE_BODY {
        return Err(format!("response body of {} bytes exceeds the {MAX_RESPONSE_BODY}-byte cap", resp.body.len()));
    }
    let (status, headers) = response_head(resp.status, resp.headers)?;
    let mut out = http::Response::new(ResponseBody::from(resp.body));
    *out.status_mut() = status;
    *out.headers_mut() = headers;
    Ok(out)
}

/// Checks and converts a guest's status and headers (a whole answer's, or
/// a streamed one's head). Framing and hop-by-hop headers are the host's
/// and are dropped.
pub(crate) fn response_head(
    status: u16,
    guest_headers: Vec<(String, String)>,
) -> Result<(StatusCode, HeaderMap), String> {
    let status = StatusCode::from_u16(status)
        .ok()
        .filter(|s| (200..=599).contains(&s.as_u16()))
        .ok_or_else(|| format!("invalid status {status} (must be 200-599)"))?;
    let mut headers = HeaderMap::with_capacity(guest_headers.len());
    for (name, value) in guest_headers {
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| format!("invalid header name {name:?}"))?;
        let value = HeaderValue::from_str(&value).map_err(|_| format!("invalid value for header {name}: {value:?}"))?;
        if HOST_OWNED_HEADERS.contains(&name.as_str()) {
            continue;
        }
        headers.append(name, value);
    }
    Ok((status, headers))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16, headers: &[(&str, &str)]) -> GuestResponse {
        GuestResponse {
            status,
            headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            body: b"{}".to_vec(),
        }
    }

    #[test]
    fn valid_response_converts_and_drops_framing_headers() {
        let out = http_response(resp(
            201,
            &[("Content-Type", "application/json"), ("content-length", "999"), ("x-a", "1"), ("x-a", "2")],
        ))
        .unwrap();
        assert_eq!(out.status(), 201);
        assert_eq!(out.headers()["content-type"], "application/json");
        assert!(out.headers().get("content-length").is_none());
        assert_eq!(out.headers().get_all("x-a").iter().count(), 2);
    }

    #[test]
    fn invalid_status_or_header_is_rejected() {
        for status in [0, 99, 100, 199, 600, 1000] {
            assert!(http_response(resp(status, &[])).is_err(), "{status}");
        }
        assert!(http_response(resp(200, &[("bad name", "x")])).is_err());
        assert!(http_response(resp(200, &[("x-ok", "line\nbreak")])).is_err());
    }

    #[test]
    fn query_is_decoded_in_order_with_plus_as_space() {
        let req = guest_request(
            Method::Get,
            "/s".into(),
            vec![],
            Some("q=a+b&q=%C3%A9&x=&flag"),
            &HeaderMap::new(),
            "id",
            Bytes::new(),
        );
        let pairs: Vec<(&str, &str)> = req.query.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(pairs, [("q", "a b"), ("q", "é"), ("x", ""), ("flag", "")]);
    }

    #[test]
    fn the_guest_sees_exactly_one_request_id_the_hosts() {
        let mut headers = HeaderMap::new();
        headers.append("x-request-id", HeaderValue::from_static("client sent spaces"));
        headers.append("x-request-id", HeaderValue::from_static("second"));
        headers.append("accept", HeaderValue::from_static("*/*"));
        let req = guest_request(Method::Get, "/".into(), vec![], None, &headers, "abc123", Bytes::new());
        let ids: Vec<&str> = req.headers.iter().filter(|(k, _)| k == "x-request-id").map(|(_, v)| v.as_str()).collect();
        assert_eq!(ids, ["abc123"]);
        assert!(req.headers.iter().any(|(k, v)| k == "accept" && v == "*/*"));
    }
}
