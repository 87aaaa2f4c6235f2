//! docs/behaviour.md §10 (CORS): the host answers preflights from a route's
//! `cors` and its exports without running the guest, and every answer of the
//! route — the guest's and the host's own errors — carries the CORS headers.
//! The last test plays a browser: it runs the CORS checks of the Fetch
//! standard over a table of requests and compares what a page would see.

use std::sync::OnceLock;

use e2e_support::{RouteTree, TestHost, TestResponse, artifacts, route};

const CREDENTIALED: &str = r#"cors = { origins = ["https://app.example.com", "https://*.example.com"], headers = ["content-type", "authorization"], max_age = "10m", credentials = true, expose = ["x-request-id"] }"#;
const APP: &str = "https://app.example.com";

fn cors_routes() -> String {
    let a = artifacts();
    let mut toml = String::new();
    route(&mut toml, "/api/posts/[id]", &a.component("posts-id"), CREDENTIALED);
    route(&mut toml, "/api/users", &a.component("users"), CREDENTIALED);
    route(&mut toml, "/api/hello", &a.component("hello"), r#"cors = { origins = ["*"], expose = ["*"] }"#);
    route(&mut toml, "/api/todos", &a.component("todos"), "");
    route(
        &mut toml,
        "/hostile",
        &a.component("hostile"),
        &format!("{CREDENTIALED}\nlimits = {{ timeout = \"500ms\", max_body = \"1KiB\" }}"),
    );
    toml
}

/// One host for the tests that only send requests.
fn shared_host() -> &'static TestHost {
    static HOST: OnceLock<TestHost> = OnceLock::new();
    TestHost::routes(&cors_routes()).shared(&HOST)
}

fn preflight(host: &TestHost, path: &str, origin: &str, method: &str, headers: &str) -> TestResponse {
    let mut sent = vec![("origin", origin), ("access-control-request-method", method)];
    if !headers.is_empty() {
        sent.push(("access-control-request-headers", headers));
    }
    host.request("OPTIONS", path, &sent, b"")
}

fn cors_headers(resp: &TestResponse) -> Vec<&str> {
    resp.headers.iter().map(|(k, _)| k.as_str()).filter(|k| k.starts_with("access-control-")).collect()
}

#[test]
fn a_preflight_is_answered_by_the_host_from_the_exports() {
    let host = TestHost::routes(&cors_routes()).start();
    let resp = preflight(&host, "/api/posts/7", APP, "GET", "authorization,content-type");
    assert_eq!(resp.status, 204, "{}", resp.text());
    assert_eq!(resp.header("access-control-allow-origin"), Some(APP));
    assert_eq!(resp.header("access-control-allow-credentials"), Some("true"));
    assert_eq!(resp.header("access-control-allow-methods"), Some("GET, HEAD, OPTIONS"), "from the exports");
    assert_eq!(resp.header("access-control-allow-headers"), Some("authorization, content-type"));
    assert_eq!(resp.header("access-control-max-age"), Some("600"));
    assert_eq!(resp.header("vary"), Some("Origin, Access-Control-Request-Method, Access-Control-Request-Headers"));
    assert!(resp.header("allow").is_none() && resp.body.is_empty(), "not the ordinary OPTIONS answer");

    let users = preflight(&host, "/api/users", "https://eu.example.com", "POST", "content-type");
    assert_eq!(users.status, 204);
    assert_eq!(users.header("access-control-allow-methods"), Some("POST, OPTIONS"));

    // The guest never ran: the access log (this test's own host) has no
    // guest time for them.
    let log = host.log_text();
    let preflights: Vec<&str> = log.lines().filter(|l| l.contains("method=OPTIONS")).collect();
    assert_eq!(preflights.len(), 2, "{log}");
    assert!(preflights.iter().all(|l| l.contains("guest_us=0")), "{preflights:?}");

    // An OPTIONS that is not a preflight is answered as before, with the
    // CORS headers of an actual answer.
    let plain = host.request("OPTIONS", "/api/posts/7", &[("origin", APP)], b"");
    assert_eq!((plain.status, plain.header("allow")), (204, Some("GET, HEAD, OPTIONS")));
    assert_eq!(plain.header("access-control-allow-origin"), Some(APP));
}

#[test]
fn a_preflight_for_a_disallowed_origin_method_or_header_is_refused() {
    let host = shared_host();
    let cases = [
        ("https://evil.test", "GET", "", "CORS: origin https://evil.test is not allowed to call this route"),
        ("https://example.com", "GET", "", "CORS: origin https://example.com is not allowed to call this route"),
        ("http://app.example.com", "GET", "", "CORS: origin http://app.example.com is not allowed to call this route"),
        ("null", "GET", "", "CORS: origin null is not allowed to call this route"),
        (APP, "DELETE", "", "CORS: method DELETE is not allowed on this route; allowed: GET, HEAD, OPTIONS"),
        (APP, "get", "", "CORS: method get is not allowed on this route; allowed: GET, HEAD, OPTIONS"),
        (
            APP,
            "GET",
            "content-type,x-secret",
            "CORS: request header x-secret is not allowed on this route (add it to cors.headers)",
        ),
    ];
    for (origin, method, headers, message) in cases {
        let resp = preflight(host, "/api/posts/7", origin, method, headers);
        resp.assert_error(403, message);
        assert!(cors_headers(&resp).is_empty(), "{origin} {method}: {:?}", resp.headers);
        assert!(resp.header("vary").is_some_and(|v| v.starts_with("Origin")), "{origin} {method}");
    }
    // A route without `cors` answers as it always did.
    let plain = preflight(host, "/api/todos", APP, "POST", "content-type");
    assert_eq!((plain.status, plain.header("allow")), (204, Some("GET, HEAD, POST, DELETE, OPTIONS")));
    assert!(cors_headers(&plain).is_empty());
}

#[test]
fn actual_answers_carry_the_origin_credentials_and_expose_list() {
    let host = shared_host();
    for origin in [APP, "https://a.b.example.com"] {
        let resp = host.request("GET", "/api/posts/7", &[("origin", origin)], b"");
        assert_eq!(resp.status, 200);
        assert_eq!(resp.header("access-control-allow-origin"), Some(origin), "echoed, never `*`");
        assert_eq!(resp.header("access-control-allow-credentials"), Some("true"));
        assert_eq!(resp.header("access-control-expose-headers"), Some("x-request-id"));
        assert_eq!(resp.header("vary"), Some("Origin"));
    }
    for origin in [Some("https://evil.test"), Some("https://example.com"), None] {
        let headers: Vec<(&str, &str)> = origin.map(|o| ("origin", o)).into_iter().collect();
        let resp = host.request("GET", "/api/posts/7", &headers, b"");
        assert_eq!(resp.status, 200, "the request itself is served; the browser hides it");
        assert!(cors_headers(&resp).is_empty(), "{origin:?}: {:?}", resp.headers);
        assert_eq!(resp.header("vary"), Some("Origin"), "{origin:?}");
    }
    let any = host.request("GET", "/api/hello", &[("origin", "https://anyone.test")], b"");
    assert_eq!(any.header("access-control-allow-origin"), Some("*"));
    assert_eq!(any.header("access-control-expose-headers"), Some("*"));
    assert!(any.header("vary").is_none() && any.header("access-control-allow-credentials").is_none());

    // The route's policy replaces CORS headers the guest set itself, and
    // adds to its Vary.
    let own = host.request("GET", "/hostile?do=own-cors", &[("origin", "https://evil.test")], b"");
    assert!(cors_headers(&own).is_empty(), "{:?}", own.headers);
    let vary: Vec<&str> = own.headers.iter().filter(|(k, _)| k == "vary").map(|(_, v)| v.as_str()).collect();
    assert_eq!(vary, ["accept", "Origin"]);
}

#[test]
fn host_made_errors_carry_cors_headers() {
    let host = shared_host();
    let origin = [("origin", APP)];
    let big = vec![b'x'; 4096];
    let cases: [(&str, &str, &[u8], u16); 6] = [
        ("GET", "/api/posts/7/comments", b"", 404),
        ("DELETE", "/hostile", b"", 405),
        ("POST", "/hostile", &big, 413),
        ("GET", "/hostile?do=trap", b"", 500),
        ("GET", "/hostile?do=loop", b"", 504),
        ("POST", "/api/users", b"{not json", 400),
    ];
    for (method, target, body, status) in cases {
        let resp = host.request(method, target, &origin, body);
        assert_eq!(resp.status, status, "{method} {target}: {}", resp.text());
        assert_eq!(resp.header("access-control-allow-origin"), Some(APP), "{method} {target}");
        assert_eq!(resp.header("access-control-allow-credentials"), Some("true"), "{method} {target}");
        assert_eq!(resp.header("access-control-expose-headers"), Some("x-request-id"), "{method} {target}");
        assert!(resp.header("vary").is_some_and(|v| v.contains("Origin")), "{method} {target}");
    }
    // A 404 below no route with CORS has none.
    let unrelated = host.request("GET", "/nothing/here", &origin, b"");
    assert_eq!(unrelated.status, 404);
    assert!(cors_headers(&unrelated).is_empty());
    // The host keeps serving after the failures.
    assert_eq!(host.request("GET", "/api/posts/7", &origin, b"").status, 200);
}

#[test]
fn a_route_toml_configures_cors_for_file_based_routing() {
    let tree = RouteTree::new("api");
    tree.route("posts/[id]", "posts-id")
        .file("posts/[id]/route.toml", &format!("{CREDENTIALED}\n"))
        .route("hello", "hello");
    let host = TestHost::dir(&tree.root).start();
    let resp = preflight(&host, "/api/posts/1", "https://shop.example.com", "GET", "authorization");
    assert_eq!(resp.status, 204);
    assert_eq!(resp.header("access-control-allow-origin"), Some("https://shop.example.com"));
    let refused = preflight(&host, "/api/posts/1", "https://evil.test", "GET", "");
    assert_eq!(refused.status, 403);
    let hello = host.request("GET", "/api/hello", &[("origin", APP)], b"");
    assert!(cors_headers(&hello).is_empty(), "CORS is per route");
}

#[test]
fn credentials_with_a_star_are_refused_at_load() {
    let a = artifacts();
    let mut toml = String::new();
    route(&mut toml, "/api/hello", &a.component("hello"), r#"cors = { origins = ["*"], credentials = true }"#);
    let out = TestHost::routes(&toml).try_start().err().expect("refused");
    assert!(out.contains("routes.toml:4:21: cors: origins = [\"*\"] cannot be used with credentials = true"), "{out}");
}

/// What a page's `fetch` would see, by the CORS protocol of the Fetch
/// standard (<https://fetch.spec.whatwg.org/#http-cors-protocol>), written
/// here from the standard independently of the host's code.
mod browser {
    use e2e_support::{TestHost, TestResponse};

    /// A cross-origin `fetch(path, { method, headers, credentials })`.
    pub struct Fetch<'a> {
        pub origin: &'a str,
        pub method: &'a str,
        pub path: &'a str,
        pub headers: &'a [(&'a str, &'a str)],
        /// `credentials: "include"`.
        pub include_credentials: bool,
    }

    /// The response as the page sees it, or a network error (`TypeError`).
    #[derive(Debug, PartialEq, Eq)]
    pub enum Seen {
        /// Status and whether `x-request-id` is readable from script.
        Response {
            status: u16,
            request_id_readable: bool,
        },
        NetworkError(&'static str),
    }

    const SAFELISTED_METHODS: [&str; 3] = ["GET", "HEAD", "POST"];
    const SAFELISTED_RESPONSE_HEADERS: [&str; 7] =
        ["cache-control", "content-language", "content-length", "content-type", "expires", "last-modified", "pragma"];

    /// CORS-safelisted request-header (simplified to the names and
    /// `content-type` values a page commonly sends).
    fn safelisted(name: &str, value: &str) -> bool {
        match name.to_ascii_lowercase().as_str() {
            "accept" | "accept-language" | "content-language" => true,
            "content-type" => {
                let essence = value.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
                ["application/x-www-form-urlencoded", "multipart/form-data", "text/plain"].contains(&essence.as_str())
            }
            _ => false,
        }
    }

    fn list(resp: &TestResponse, name: &str) -> Vec<String> {
        resp.headers
            .iter()
            .filter(|(k, _)| k == name)
            .flat_map(|(_, v)| v.split(','))
            .map(|item| item.trim().to_owned())
            .filter(|item| !item.is_empty())
            .collect()
    }

    /// The "CORS check".
    fn cors_check(fetch: &Fetch, resp: &TestResponse) -> bool {
        let allow_origin: Vec<&str> =
            resp.headers.iter().filter(|(k, _)| k == "access-control-allow-origin").map(|(_, v)| v.as_str()).collect();
        let [origin] = allow_origin.as_slice() else { return false };
        if !fetch.include_credentials && *origin == "*" {
            return true;
        }
        if *origin != fetch.origin {
            return false;
        }
        if !fetch.include_credentials {
            return true;
        }
        resp.header("access-control-allow-credentials") == Some("true")
    }

    pub fn fetch(host: &TestHost, fetch: &Fetch) -> Seen {
        let mut unsafe_names: Vec<String> = fetch
            .headers
            .iter()
            .filter(|(name, value)| !safelisted(name, value))
            .map(|(name, _)| name.to_ascii_lowercase())
            .collect();
        unsafe_names.sort();
        if !SAFELISTED_METHODS.contains(&fetch.method) || !unsafe_names.is_empty() {
            let requested = unsafe_names.join(",");
            let mut sent = vec![("origin", fetch.origin), ("access-control-request-method", fetch.method)];
            if !requested.is_empty() {
                sent.push(("access-control-request-headers", &requested));
            }
            let pre = host.request("OPTIONS", fetch.path, &sent, b"");
            if !cors_check(fetch, &pre) {
                return Seen::NetworkError("preflight: CORS check");
            }
            if !(200..300).contains(&pre.status) {
                return Seen::NetworkError("preflight: status not ok");
            }
            let methods = list(&pre, "access-control-allow-methods");
            let names: Vec<String> =
                list(&pre, "access-control-allow-headers").iter().map(|n| n.to_ascii_lowercase()).collect();
            let star = |items: &[String]| items.iter().any(|i| i == "*");
            if !methods.iter().any(|m| m == fetch.method)
                && !SAFELISTED_METHODS.contains(&fetch.method)
                && (fetch.include_credentials || !star(&methods))
            {
                return Seen::NetworkError("preflight: method");
            }
            for name in &unsafe_names {
                let listed = names.contains(name);
                if !listed && (name == "authorization" || fetch.include_credentials || !star(&names)) {
                    return Seen::NetworkError("preflight: header");
                }
            }
        }
        let mut sent: Vec<(&str, &str)> = vec![("origin", fetch.origin)];
        sent.extend_from_slice(fetch.headers);
        let resp = host.request(fetch.method, fetch.path, &sent, b"{\"name\":\"Ada\"}");
        if !cors_check(fetch, &resp) {
            return Seen::NetworkError("response: CORS check");
        }
        let exposed = list(&resp, "access-control-expose-headers");
        let readable = SAFELISTED_RESPONSE_HEADERS.contains(&"x-request-id")
            || exposed.iter().any(|n| n.eq_ignore_ascii_case("x-request-id"))
            || (!fetch.include_credentials && exposed.iter().any(|n| n == "*"));
        Seen::Response { status: resp.status, request_id_readable: readable }
    }
}

/// Origin, method, path, headers, `credentials: "include"`, what the page sees.
type Case<'a> = (&'a str, &'a str, &'a str, &'a [(&'a str, &'a str)], bool, browser::Seen);

#[test]
fn a_browser_sees_what_the_cors_config_intends() {
    use browser::{Fetch, Seen};
    let host = shared_host();
    let ok = |status| Seen::Response { status, request_id_readable: true };
    let json = [("content-type", "application/json")];
    let auth = [("authorization", "Bearer t")];
    let custom = [("x-custom", "1")];
    #[rustfmt::skip]
    let cases: Vec<Case> = vec![
        (APP, "GET", "/api/posts/1", &[], true, ok(200)),
        (APP, "GET", "/api/posts/1", &[], false, ok(200)),
        ("https://a.b.example.com", "GET", "/api/posts/1", &auth, true, ok(200)),
        (APP, "POST", "/api/users", &json, true, ok(201)),
        (APP, "GET", "/api/posts/1", &custom, true, Seen::NetworkError("preflight: CORS check")),
        (APP, "PUT", "/api/posts/1", &[], true, Seen::NetworkError("preflight: CORS check")),
        ("https://evil.test", "GET", "/api/posts/1", &[], true, Seen::NetworkError("response: CORS check")),
        ("https://example.com", "POST", "/api/users", &json, false, Seen::NetworkError("preflight: CORS check")),
        ("https://app.example.com:8443", "GET", "/api/posts/1", &[], false, Seen::NetworkError("response: CORS check")),
        ("https://anyone.test", "GET", "/api/hello", &[], false, ok(200)),
        ("https://anyone.test", "GET", "/api/hello", &[], true, Seen::NetworkError("response: CORS check")),
        ("https://anyone.test", "GET", "/api/hello", &json, false, Seen::NetworkError("preflight: CORS check")),
        (APP, "GET", "/api/todos", &[], false, Seen::NetworkError("response: CORS check")),
        (APP, "GET", "/api/posts/1/comments", &[], true, ok(404)),
        (APP, "GET", "/hostile?do=trap", &[], true, ok(500)),
        (APP, "DELETE", "/hostile", &[], true, Seen::NetworkError("preflight: CORS check")),
    ];
    for (origin, method, path, headers, include_credentials, expected) in cases {
        let fetch = Fetch { origin, method, path, headers, include_credentials };
        let seen = browser::fetch(host, &fetch);
        assert_eq!(seen, expected, "{origin} {method} {path} {headers:?} credentials={include_credentials}");
    }
}
