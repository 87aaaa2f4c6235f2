//! docs/behaviour.md §6: every guest failure is a clean JSON error, logged with the
//! route and request id, and the host serves the next request normally.

use std::time::Duration;

use e2e_support::{TestHost, send, test_routes_toml};

fn assert_still_serving(host: &TestHost) {
    let resp = host.get("/api/hello");
    assert_eq!((resp.status, resp.text().as_str()), (200, r#"{"message":"Hello from API!"}"#));
    assert_eq!(host.get("/hostile").status, 200, "the failing route itself recovers");
}

#[test]
fn traps_panics_and_invalid_responses_are_500s_and_the_host_keeps_serving() {
    let host = TestHost::routes(&test_routes_toml()).start();
    let cases = [
        "/hostile?do=trap",
        "/hostile?do=panic",
        "/hostile?do=recurse",
        "/hostile?do=bad-status&status=1000",
        "/hostile?do=bad-status&status=99",
        "/hostile?do=bad-status&status=150",
        "/hostile?do=bad-header",
        "/hostile?do=bad-header-value",
    ];
    for target in cases {
        let resp = host.get(target);
        resp.assert_error(500, "Internal server error");
        let id = resp.header("x-request-id").expect("request id").to_owned();
        assert_still_serving(&host);
        let log = host.log_text();
        let line = log.lines().find(|l| l.contains(&id) && l.contains("ERROR")).unwrap_or_else(|| {
            panic!("{target}: no error log line with request id {id}:\n{log}");
        });
        assert!(line.contains("route=/hostile"), "{target}: log names the route: {line}");
    }
    let log = host.log_text();
    assert!(log.contains("hostile guest panics on purpose"), "the panic message reaches the log, not the client");
}

#[test]
fn guest_over_its_time_limit_is_504_and_others_are_served_meanwhile() {
    let host = TestHost::routes(&test_routes_toml()).start();
    let addr = host.addr;
    let spinner = std::thread::spawn(move || send(addr, "GET", "/limited?do=loop", &[], b""));
    std::thread::sleep(Duration::from_millis(100));
    // While the guest spins, other routes answer.
    for _ in 0..5 {
        assert_eq!(host.get("/api/hello").status, 200);
    }
    let resp = spinner.join().expect("spinner");
    resp.assert_error(504, "Route handler timed out");
    assert_still_serving(&host);
    assert!(host.log_text().contains("time limit"), "the timeout is logged");
}

#[test]
fn a_response_over_the_host_cap_is_a_logged_500() {
    let host = TestHost::routes(&test_routes_toml()).start();
    host.get("/hostile?do=big&mib=17").assert_error(500, "Internal server error");
    assert!(host.log_text().contains("exceeds the 16777216-byte cap"));
    assert_eq!(host.get("/hostile?do=big&mib=1").body.len(), 1 << 20, "under the cap is fine");
    assert_still_serving(&host);
}

#[test]
fn guest_over_its_memory_limit_is_500() {
    let host = TestHost::routes(&test_routes_toml()).start();
    for target in ["/limited?do=alloc", "/hostile?do=alloc"] {
        host.get(target).assert_error(500, "Internal server error");
        assert_still_serving(&host);
    }
    assert!(host.log_text().contains("memory limit exceeded"), "logged as a memory-limit hit");
}

#[test]
fn body_over_the_route_limit_is_413_before_the_guest_runs() {
    let host = TestHost::routes(&test_routes_toml()).start();
    let big = vec![b'x'; 2000];
    host.request("POST", "/limited", &[], &big).assert_error(413, "Request body exceeds the limit of 1024 bytes");

    // Chunked, so no Content-Length to check up front: cut off while reading.
    let mut chunked = Vec::new();
    for _ in 0..4 {
        chunked.extend_from_slice(format!("{:x}\r\n", 500).as_bytes());
        chunked.extend_from_slice(&[b'y'; 500]);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    host.request("POST", "/limited", &[("transfer-encoding", "chunked")], &chunked)
        .assert_error(413, "Request body exceeds the limit of 1024 bytes");

    let small = host.request("POST", "/limited", &[], &[b'z'; 1000]);
    assert_eq!((small.status, small.json()["body_len"].as_u64()), (200, Some(1000)));
}

#[test]
fn requests_over_the_route_concurrency_limit_are_503_with_retry_after() {
    let host = TestHost::routes(&test_routes_toml()).start();
    // A second request while the only slot is busy is refused.
    let (sleeper, refused) = host.occupy_only_slot("/single?do=sleep&ms=3000", "/single");
    refused.assert_error(503, "Too many requests for this route; retry shortly");
    assert_eq!(refused.header("retry-after"), Some("1"));
    assert_eq!(host.get("/api/hello").status, 200, "other routes are unaffected");
    assert_eq!(sleeper.join().expect("sleeper").status, 200);
    assert_eq!(host.get("/single").status, 200, "the slot is free again");
}
