//! A route's CORS policy (`cors = { … }` in `routes.toml` or `route.toml`)
//! and the headers it puts on answers, following the CORS protocol of the
//! Fetch standard (<https://fetch.spec.whatwg.org/#http-cors-protocol>).
//!
//! The host answers a preflight itself, from the policy and the methods the
//! route exports, without running the guest; and it puts the
//! `Access-Control-Allow-*` headers on every actual answer of the route,
//! including the errors the host makes (405, 413, 500, 504, …), because a
//! browser hides an answer without them from the page, error or not. The
//! policy is the host's: `Access-Control-*` headers a guest sets itself are
//! replaced.
//!
//! Pure: headers in, headers out; `server::dispatch` decides when to ask.

use std::time::Duration;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

use crate::origin_pattern::{Origin, OriginPattern};
use crate::routing::method::MethodSet;

/// Which origins may call a route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AllowedOrigins {
    /// `origins = ["*"]`: any origin, answered with `*` (never with credentials).
    Any,
    /// `scheme://host[:port]` patterns, `*.suffix` for subdomains.
    Listed(Vec<OriginPattern>),
}

/// Which request headers (beyond the CORS-safelisted ones) a cross-origin
/// request may send; also used for `expose`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeaderList {
    /// `["*"]`: any header (never with credentials).
    Any,
    /// These names, lower case.
    Listed(Vec<HeaderName>),
}

/// A rule of the Fetch standard the settings break: with credentials a
/// browser reads `*` literally, so a `*` would never match.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CorsConfigError {
    /// `origins = ["*"]` with `credentials = true`.
    #[error(
        "origins = [\"*\"] cannot be used with credentials = true: browsers refuse `Access-Control-Allow-Origin: *` \
         on a request with credentials; list the origins instead"
    )]
    AnyOriginWithCredentials,
    /// `headers = ["*"]` with `credentials = true`.
    #[error(
        "headers = [\"*\"] cannot be used with credentials = true: browsers read `*` literally on a request with \
         credentials; list the headers instead"
    )]
    AnyHeaderWithCredentials,
    /// `expose = ["*"]` with `credentials = true`.
    #[error(
        "expose = [\"*\"] cannot be used with credentials = true: browsers read `*` literally on a request with \
         credentials; list the headers instead"
    )]
    ExposeAnyWithCredentials,
}

/// A route's CORS policy, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorsPolicy {
    origins: AllowedOrigins,
    headers: HeaderList,
    /// `Access-Control-Expose-Headers`, ready to send; `None` when empty.
    expose: Option<HeaderValue>,
    /// `Access-Control-Max-Age` in seconds, ready to send.
    max_age: Option<HeaderValue>,
    credentials: bool,
}

/// What the host answers a preflight with.
#[derive(Debug, PartialEq, Eq)]
pub enum PreflightAnswer {
    /// `204` with these headers.
    Allowed(HeaderMap),
    /// Refused: no `Access-Control-Allow-*` headers, and why (for the 403
    /// body and the developer reading it in the network tab).
    Refused(String),
}

/// The `Vary` a preflight answer carries, allowed or refused: it depends on
/// all three, so a cache never serves one origin's answer to another.
pub const PREFLIGHT_VARY: &str = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers";

impl CorsPolicy {
    /// A policy from its validated parts.
    pub fn new(
        origins: AllowedOrigins,
        headers: HeaderList,
        expose: HeaderList,
        max_age: Option<Duration>,
        credentials: bool,
    ) -> Result<CorsPolicy, CorsConfigError> {
        if credentials {
            if origins == AllowedOrigins::Any {
                return Err(CorsConfigError::AnyOriginWithCredentials);
            }
            if headers == HeaderList::Any {
                return Err(CorsConfigError::AnyHeaderWithCredentials);
            }
            if expose == HeaderList::Any {
                return Err(CorsConfigError::ExposeAnyWithCredentials);
            }
        }
        let expose = match expose {
            HeaderList::Any => Some(HeaderValue::from_static("*")),
            HeaderList::Listed(names) if names.is_empty() => None,
            HeaderList::Listed(names) => HeaderValue::from_str(&join(&names)).ok(),
        };
        let max_age = max_age.map(|age| HeaderValue::from(age.as_secs()));
        Ok(CorsPolicy { origins, headers, expose, max_age, credentials })
    }

    /// Whether a request is a CORS preflight: `OPTIONS` with `Origin` and
    /// `Access-Control-Request-Method`. Any other `OPTIONS` is an ordinary
    /// request.
    pub fn is_preflight(method: &http::Method, headers: &HeaderMap) -> bool {
        method == http::Method::OPTIONS
            && headers.contains_key(header::ORIGIN)
            && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    }

    /// The answer to a preflight for a route answering `methods` (from its
    /// exports, as for `Allow`).
    pub fn preflight(&self, request: &HeaderMap, methods: MethodSet) -> PreflightAnswer {
        let origin = request.get(header::ORIGIN);
        let Some(allow_origin) = origin.and_then(|o| self.allow_origin(o)) else {
            let shown = origin.and_then(|o| o.to_str().ok()).unwrap_or("?");
            return PreflightAnswer::Refused(format!("CORS: origin {shown} is not allowed to call this route"));
        };
        let method = request.get(header::ACCESS_CONTROL_REQUEST_METHOD).and_then(|m| m.to_str().ok()).unwrap_or("");
        // Exact and case-sensitive, as browsers compare (`patch` is not `PATCH`).
        let allowed = methods.allowed();
        if !allowed.iter().any(|m| m.as_str() == method) {
            return PreflightAnswer::Refused(format!(
                "CORS: method {method} is not allowed on this route; allowed: {}",
                allowed.allow_header()
            ));
        }
        let requested = match requested_headers(request) {
            Ok(names) => names,
            Err(bad) => return PreflightAnswer::Refused(format!("CORS: `{bad}` is not a header name")),
        };
        if let Some(refused) = requested.iter().find(|name| !self.allows_header(name)) {
            return PreflightAnswer::Refused(format!(
                "CORS: request header {refused} is not allowed on this route (add it to cors.headers)"
            ));
        }

        let mut headers = HeaderMap::new();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow_origin);
        if self.credentials {
            headers.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
        }
        if let Ok(value) = HeaderValue::from_str(&allowed.allow_header()) {
            headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, value);
        }
        // Echo what was asked (all of it allowed): exact, and unlike `*` it
        // also covers `authorization`.
        if let (false, Ok(value)) = (requested.is_empty(), HeaderValue::from_str(&join(&requested))) {
            headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, value);
        }
        if let Some(age) = &self.max_age {
            headers.insert(header::ACCESS_CONTROL_MAX_AGE, age.clone());
        }
        headers.insert(header::VARY, HeaderValue::from_static(PREFLIGHT_VARY));
        PreflightAnswer::Allowed(headers)
    }

    /// Puts the CORS headers of an actual (non-preflight) answer on
    /// `response`, for a request that came with `origin`.
    pub fn decorate(&self, origin: Option<&HeaderValue>, response: &mut HeaderMap) {
        for name in [
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
        ] {
            response.remove(name);
        }
        if self.depends_on_origin() && !varies_on_origin(response) {
            response.append(header::VARY, HeaderValue::from_static("Origin"));
        }
        let Some(allow_origin) = origin.and_then(|o| self.allow_origin(o)) else { return };
        response.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow_origin);
        if self.credentials {
            response.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
        }
        if let Some(expose) = &self.expose {
            response.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, expose.clone());
        }
    }

    /// The `Access-Control-Allow-Origin` value for `origin`, if it may call.
    fn allow_origin(&self, origin: &HeaderValue) -> Option<HeaderValue> {
        match &self.origins {
            AllowedOrigins::Any => Some(HeaderValue::from_static("*")),
            AllowedOrigins::Listed(patterns) => {
                let uri: http::Uri = origin.to_str().ok()?.parse().ok()?;
                // An origin is scheme, host and port only.
                let bare = uri.path_and_query().is_none_or(|pq| pq.as_str() == "/");
                let origin_of = Origin::of(&uri)?;
                (bare && patterns.iter().any(|p| p.matches(&origin_of))).then(|| origin.clone())
            }
        }
    }

    fn allows_header(&self, name: &HeaderName) -> bool {
        match &self.headers {
            HeaderList::Any => true,
            HeaderList::Listed(names) => names.contains(name),
        }
    }

    /// `*` without credentials is the same answer for every origin.
    fn depends_on_origin(&self) -> bool {
        !matches!(self.origins, AllowedOrigins::Any)
    }
}

/// `Access-Control-Request-Headers`: comma-separated names over any number
/// of lines, lower-cased; the first that is not a header name is the error.
fn requested_headers(request: &HeaderMap) -> Result<Vec<HeaderName>, String> {
    let mut names = Vec::new();
    for line in request.get_all(header::ACCESS_CONTROL_REQUEST_HEADERS) {
        let text = line.to_str().map_err(|_| String::from_utf8_lossy(line.as_bytes()).into_owned())?;
        for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let parsed = parse_header_name(name).map_err(|_| name.to_owned())?;
            if !names.contains(&parsed) {
                names.push(parsed);
            }
        }
    }
    Ok(names)
}

fn varies_on_origin(response: &HeaderMap) -> bool {
    response
        .get_all(header::VARY)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').map(str::trim).any(|token| token == "*" || token.eq_ignore_ascii_case("origin")))
}

fn join(names: &[HeaderName]) -> String {
    names.iter().map(HeaderName::as_str).collect::<Vec<_>>().join(", ")
}

/// Parses one `headers` or `expose` entry: a header name (any case).
pub fn parse_header_name(raw: &str) -> Result<HeaderName, String> {
    HeaderName::from_bytes(raw.trim().to_ascii_lowercase().as_bytes())
        .map_err(|_| format!("`{raw}` is not a header name"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::method::Method;

    fn policy(origins: &[&str], headers: &[&str], expose: &[&str], credentials: bool) -> CorsPolicy {
        let list = |names: &[&str]| match names {
            ["*"] => HeaderList::Any,
            names => HeaderList::Listed(names.iter().map(|n| parse_header_name(n).unwrap()).collect()),
        };
        let origins = match origins {
            ["*"] => AllowedOrigins::Any,
            list => AllowedOrigins::Listed(list.iter().map(|o| OriginPattern::parse(o).unwrap()).collect()),
        };
        CorsPolicy::new(origins, list(headers), list(expose), Some(Duration::from_secs(600)), credentials).unwrap()
    }

    fn request(pairs: &[(&str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| (HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap()))
            .collect()
    }

    fn get_post() -> MethodSet {
        [Method::Get, Method::Post].into_iter().collect()
    }

    #[test]
    fn an_allowed_preflight_gets_the_allow_headers() {
        let p = policy(&["https://app.example.com"], &["content-type", "Authorization"], &[], true);
        let req = request(&[
            ("origin", "https://app.example.com"),
            ("access-control-request-method", "POST"),
            ("access-control-request-headers", "Content-Type,authorization"),
        ]);
        let PreflightAnswer::Allowed(h) = p.preflight(&req, get_post()) else { panic!("refused") };
        assert_eq!(h["access-control-allow-origin"], "https://app.example.com");
        assert_eq!(h["access-control-allow-credentials"], "true");
        assert_eq!(h["access-control-allow-methods"], "GET, HEAD, POST, OPTIONS");
        assert_eq!(h["access-control-allow-headers"], "content-type, authorization");
        assert_eq!(h["access-control-max-age"], "600");
        assert_eq!(h["vary"], PREFLIGHT_VARY);
    }

    #[test]
    fn a_preflight_is_refused_for_origin_method_or_header() {
        let p = policy(&["https://*.example.com"], &["content-type"], &[], false);
        let cases = [
            (("https://evil.com", "GET", ""), "origin https://evil.com"),
            (("https://example.com", "GET", ""), "origin https://example.com"),
            (("null", "GET", ""), "origin null"),
            (("https://a.example.com/path", "GET", ""), "origin"),
            (("https://a.example.com", "DELETE", ""), "method DELETE"),
            (("https://a.example.com", "post", ""), "method post"),
            (("https://a.example.com", "POST", "x-secret"), "header x-secret"),
            (("https://a.example.com", "POST", "a b"), "`a b`"),
        ];
        for ((origin, method, headers), why) in cases {
            let req = request(&[
                ("origin", origin),
                ("access-control-request-method", method),
                ("access-control-request-headers", headers),
            ]);
            match p.preflight(&req, get_post()) {
                PreflightAnswer::Refused(reason) => assert!(reason.contains(why), "{origin} {method}: {reason}"),
                PreflightAnswer::Allowed(_) => panic!("{origin} {method} {headers}: allowed"),
            }
        }
        let req = request(&[("origin", "https://a.b.example.com"), ("access-control-request-method", "HEAD")]);
        assert!(matches!(p.preflight(&req, get_post()), PreflightAnswer::Allowed(_)), "subdomains, HEAD via GET");
    }

    #[test]
    fn actual_answers_carry_the_origin_vary_and_expose_list() {
        let p = policy(&["https://app.example.com"], &[], &["X-Request-Id", "etag"], true);
        let origin = HeaderValue::from_static("https://app.example.com");
        let mut resp = request(&[("vary", "Accept-Encoding"), ("access-control-allow-origin", "*")]);
        p.decorate(Some(&origin), &mut resp);
        assert_eq!(resp["access-control-allow-origin"], "https://app.example.com", "the guest's `*` is replaced");
        assert_eq!(resp["access-control-allow-credentials"], "true");
        assert_eq!(resp["access-control-expose-headers"], "x-request-id, etag");
        let vary: Vec<_> = resp.get_all("vary").iter().collect();
        assert_eq!(vary, ["Accept-Encoding", "Origin"]);

        let mut refused = HeaderMap::new();
        p.decorate(Some(&HeaderValue::from_static("https://evil.com")), &mut refused);
        assert_eq!(refused.len(), 1, "only Vary: {refused:?}");
        let mut no_origin = request(&[("vary", "origin")]);
        p.decorate(None, &mut no_origin);
        assert_eq!(no_origin.len(), 1, "Vary is not repeated: {no_origin:?}");
    }

    #[test]
    fn any_origin_is_a_star_and_needs_no_vary() {
        let p = policy(&["*"], &["*"], &["*"], false);
        let mut resp = HeaderMap::new();
        p.decorate(Some(&HeaderValue::from_static("https://whoever.test")), &mut resp);
        assert_eq!(resp["access-control-allow-origin"], "*");
        assert_eq!(resp["access-control-expose-headers"], "*");
        assert!(!resp.contains_key("vary") && !resp.contains_key("access-control-allow-credentials"));
    }

    #[test]
    fn star_with_credentials_is_refused() {
        let any = || HeaderList::Any;
        let none = || HeaderList::Listed(Vec::new());
        let listed = || AllowedOrigins::Listed(vec![OriginPattern::parse("https://a.test").unwrap()]);
        let new = |o, h, e| CorsPolicy::new(o, h, e, None, true).unwrap_err();
        assert_eq!(new(AllowedOrigins::Any, none(), none()), CorsConfigError::AnyOriginWithCredentials);
        assert_eq!(new(listed(), any(), none()), CorsConfigError::AnyHeaderWithCredentials);
        assert_eq!(new(listed(), none(), any()), CorsConfigError::ExposeAnyWithCredentials);
        assert!(CorsPolicy::new(AllowedOrigins::Any, any(), any(), None, false).is_ok());
    }

    #[test]
    fn only_options_with_origin_and_request_method_is_a_preflight() {
        let full = request(&[("origin", "https://a.test"), ("access-control-request-method", "GET")]);
        assert!(CorsPolicy::is_preflight(&http::Method::OPTIONS, &full));
        assert!(!CorsPolicy::is_preflight(&http::Method::GET, &full));
        assert!(!CorsPolicy::is_preflight(&http::Method::OPTIONS, &request(&[("origin", "https://a.test")])));
    }
}
