//! docs/behaviour.md §3: normalization, decoding, precedence, 404, 308, 400.

use std::sync::OnceLock;

use e2e_support::{TestHost, test_routes_toml};

/// One host for every test here: they only send requests.
fn shared_host() -> &'static TestHost {
    static HOST: OnceLock<TestHost> = OnceLock::new();
    TestHost::routes(&test_routes_toml()).shared(&HOST)
}

#[test]
fn unknown_paths_and_wrong_case_are_json_404s() {
    let host = shared_host();
    for target in ["/api/nope", "/API/hello", "/api/Hello", "/api/hello/extra", "/", "/api/docs", "/api/posts/1/2"] {
        host.get(target).assert_error(404, "Not found");
    }
}

#[test]
fn trailing_and_doubled_slashes_redirect_with_query_kept() {
    let host = shared_host();
    let cases = [
        ("/api/hello/", "/api/hello"),
        ("/api/hello/?x=1&y=2", "/api/hello?x=1&y=2"),
        ("//api/hello", "/api/hello"),
        ("/api//hello", "/api/hello"),
        ("/api/posts//7/", "/api/posts/7"),
    ];
    for (target, location) in cases {
        let resp = host.get(target);
        assert_eq!(resp.status, 308, "{target}");
        assert_eq!(resp.header("location"), Some(location), "{target}");
    }
}

#[test]
fn dot_segments_resolve_before_routing_and_never_climb_above_root() {
    let host = shared_host();
    for target in ["/api/./hello", "/api/x/../hello", "/api/x/%2e%2e/hello", "/../../api/hello", "/api/%2E/hello"] {
        let resp = host.get(target);
        assert_eq!((resp.status, resp.text().as_str()), (200, r#"{"message":"Hello from API!"}"#), "{target}");
    }
    // RFC 3986 §5.2.4: a final dot segment leaves a trailing slash, which is
    // redirected like any other (the query goes along).
    for (target, location) in
        [("/api/hello/..", "/api"), ("/api/posts/..?q=1", "/api?q=1"), ("/api/hello/.", "/api/hello")]
    {
        let resp = host.get(target);
        assert_eq!((resp.status, resp.header("location")), (308, Some(location)), "{target}");
    }
}

#[test]
fn backslashes_are_slashes_and_redirect_to_the_slash_form() {
    let host = shared_host();
    // As Next.js answers: a WHATWG URL parser reads `\` as `/` in an http(s) path.
    for (target, location) in [
        ("/api\\hello", "/api/hello"),
        ("/api\\hello?x=1", "/api/hello?x=1"),
        ("/api\\posts\\7\\", "/api/posts/7"),
        ("/api\\x\\..\\hello", "/api/hello"),
    ] {
        let resp = host.get(target);
        assert_eq!((resp.status, resp.header("location")), (308, Some(location)), "{target}");
    }
    let escaped = host.get("/api/posts/a%5Cb");
    assert_eq!(escaped.status, 200, "an escaped backslash is a character of its segment");
    assert!(escaped.text().contains(r#""id":"a\\b""#), "{}", escaped.text());
}

#[test]
fn raw_utf8_in_the_request_line_is_read_as_if_escaped() {
    // A deliberate difference from Node.js, which refuses these with 400.
    let resp = shared_host().get("/api/posts/café");
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert!(resp.text().contains(r#""id":"café""#), "{}", resp.text());
}

#[test]
fn params_are_decoded_once_and_encoded_slash_stays_inside() {
    let host = shared_host();
    let cases = [
        ("/api/posts/a%2Fb", r#""id":"a/b""#),
        ("/api/posts/%2541", r#""id":"%41""#),
        ("/api/posts/a+b", r#""id":"a+b""#),
        ("/api/posts/caf%C3%A9", r#""id":"café""#),
    ];
    for (target, fragment) in cases {
        let resp = host.get(target);
        assert_eq!(resp.status, 200, "{target}");
        assert!(resp.text().contains(fragment), "{target}: {}", resp.text());
    }
    let resp = host.get("/api/docs/a%2Fb/c");
    assert_eq!(resp.text(), r#"{"slug":["a/b","c"]}"#, "a catch-all keeps %2F inside its segment");
}

#[test]
fn malformed_percent_encoding_and_invalid_utf8_are_400s() {
    let host = shared_host();
    for target in ["/api/posts/%zz", "/api/posts/%4", "/api/posts/50%", "/api/posts/%FF", "/api/posts/%C3%28"] {
        let resp = host.get(target);
        assert_eq!(resp.status, 400, "{target}: {}", resp.text());
        assert_eq!(resp.header("content-type"), Some("application/json"));
        assert!(resp.json()["error"].is_string());
    }
}

#[test]
fn precedence_static_before_param_before_catch_all() {
    let host = shared_host();
    // `/hostile` (static) beats nothing; `/hostile/[id]/[...rest]` needs at
    // least two more segments; the echo shows which params the guest got.
    let resp = host.get("/hostile/7/a/b%2Fc");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.json()["path"], "/hostile/7/a/b%2Fc");
    host.get("/hostile/7").assert_error(404, "Not found");
}

#[test]
fn query_reaches_the_guest_decoded_in_order_with_repeats() {
    let host = shared_host();
    let resp = host.get("/hostile?b=2&a=1+1&b=%F0%9F%98%80&flag");
    assert_eq!(resp.json()["query"], serde_json::json!([["b", "2"], ["a", "1 1"], ["b", "😀"], ["flag", ""]]));
}
