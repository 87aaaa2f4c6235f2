//! docs/behaviour.md §4: 405 with Allow, automatic HEAD and OPTIONS — answered from
//! the component's exports, without running the guest.

use std::sync::OnceLock;

use e2e_support::{TestHost, test_routes_toml};

/// One host for every test here: they only send requests.
fn shared_host() -> &'static TestHost {
    static HOST: OnceLock<TestHost> = OnceLock::new();
    TestHost::routes(&test_routes_toml()).shared(&HOST)
}

#[test]
fn unexported_method_is_405_with_allow_and_json_error() {
    let host = shared_host();
    let cases = [
        ("DELETE", "/api/hello", "GET, HEAD, OPTIONS"),
        ("POST", "/api/posts/1", "GET, HEAD, OPTIONS"),
        ("GET", "/api/users", "POST, OPTIONS"),
        ("PUT", "/api/todos", "GET, HEAD, POST, DELETE, OPTIONS"),
        ("PATCH", "/api/todos", "GET, HEAD, POST, DELETE, OPTIONS"),
        ("PROPFIND", "/api/hello", "GET, HEAD, OPTIONS"),
    ];
    for (method, target, allow) in cases {
        let resp = host.request(method, target, &[], b"");
        resp.assert_error(405, &format!("Method {method} not allowed; allowed: {allow}"));
        assert_eq!(resp.header("allow"), Some(allow), "{method} {target}");
    }
}

#[test]
fn head_runs_get_and_sends_no_body() {
    let host = shared_host();
    let get = host.get("/api/posts/9");
    let head = host.request("HEAD", "/api/posts/9", &[], b"");
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty(), "HEAD sends no body");
    assert_eq!(head.header("content-type"), Some("application/json"));
    assert_eq!(head.header("content-length"), Some(get.body.len().to_string().as_str()));

    // The guest sees HEAD (Next.js passes the real method to GET too), and its
    // own headers survive.
    let head = host.request("HEAD", "/hostile", &[], b"");
    assert_eq!((head.status, head.header("x-echo")), (200, Some("1")));

    let head = host.request("HEAD", "/api/users", &[], b"");
    assert_eq!(head.status, 405, "no GET, so no automatic HEAD");
    assert_eq!(head.header("allow"), Some("POST, OPTIONS"));
}

#[test]
fn options_is_204_with_allow() {
    let host = shared_host();
    for (target, allow) in [
        ("/api/todos", "GET, HEAD, POST, DELETE, OPTIONS"),
        ("/api/users", "POST, OPTIONS"),
        ("/api/docs/x", "GET, HEAD, OPTIONS"),
    ] {
        let resp = host.request("OPTIONS", target, &[], b"");
        assert_eq!(resp.status, 204, "{target}");
        assert_eq!(resp.header("allow"), Some(allow), "{target}");
        assert!(resp.body.is_empty());
    }
    host.request("OPTIONS", "/api/nope", &[], b"").assert_error(404, "Not found");
}

#[test]
fn method_answers_do_not_wait_for_a_busy_guest() {
    let host = shared_host();
    // `/single` runs one request at a time. Hold that slot with a sleeping
    // request; once a GET is refused with 503 the route is provably busy, yet
    // 405 and OPTIONS still answer: they come from the component's type,
    // not from running it.
    let (sleeper, _refused) = host.occupy_only_slot("/single?do=sleep&ms=3000", "/single");
    assert_eq!(host.request("PUT", "/single", &[], b"").status, 405);
    assert_eq!(host.request("OPTIONS", "/single", &[], b"").status, 204);
    assert_eq!(sleeper.join().expect("sleeper").status, 200);
}
