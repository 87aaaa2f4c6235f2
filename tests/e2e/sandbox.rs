//! docs/behaviour.md §8: a guest sees only what its route declares.

use e2e_support::{TestHost, test_routes_toml};
use serde_json::json;

#[test]
fn guest_sees_only_its_declared_env() {
    let host = TestHost::routes(&test_routes_toml()).start();
    let resp = host.get("/limited?do=env");
    assert_eq!(resp.json(), json!({ "GREETING": "hello from the host" }), "interpolated from the host env");
    let resp = host.get("/hostile?do=env");
    assert_eq!(resp.json(), json!({}), "no env declared, none seen (the host's env stays out)");
    let log = host.log_text();
    assert!(!log.contains("hello from the host") && !log.contains("must-not-leak"), "env values are never logged");
}

#[test]
fn guest_output_goes_to_the_log_tagged_with_route_and_request_id() {
    let host = TestHost::routes(&test_routes_toml()).start();
    let resp = host.get("/hostile?do=print");
    assert_eq!(resp.status, 200);
    let id = resp.header("x-request-id").expect("request id").to_owned();
    // Lines are logged as the guest writes them, before the answer is sent.
    let log = host.log_text();
    for text in ["hello from the guest's stdout", "hello from the guest's stderr"] {
        let line = log.lines().find(|l| l.contains(text)).unwrap_or_else(|| panic!("{text:?} not logged:\n{log}"));
        assert!(line.contains(&id) && line.contains("route=/hostile"), "{line}");
    }
}

#[test]
fn guest_gets_headers_and_body() {
    let host = TestHost::routes(&test_routes_toml()).start();
    let resp = host.request("POST", "/hostile", &[("X-Custom", "v1"), ("x-custom", "v2")], b"12345");
    let echo = resp.json();
    assert_eq!(echo["method"], "POST");
    assert_eq!(echo["body_len"], 5);
    let custom: Vec<&str> = echo["headers"]
        .as_array()
        .expect("headers")
        .iter()
        .filter(|h| h[0] == "x-custom")
        .filter_map(|h| h[1].as_str())
        .collect();
    assert_eq!(custom, ["v1", "v2"], "names lower-cased, repeats kept in order");
}

#[test]
fn guest_cannot_read_files_open_sockets_or_see_args() {
    let host = TestHost::routes(&test_routes_toml()).start();
    // A listener the guest would reach if it had network access.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let target = listener.local_addr().expect("addr");
    let cases = [
        "/hostile?do=read-file&path=/etc/passwd".to_owned(),
        "/hostile?do=read-file&path=Cargo.toml".to_owned(),
        "/hostile?do=list-dir".to_owned(),
        format!("/hostile?do=socket&addr={target}"),
    ];
    for target in &cases {
        let resp = host.get(target);
        assert_eq!(resp.status, 200, "{target}: {}", resp.text());
        assert_eq!(resp.json()["ok"], json!(false), "{target} must fail inside the sandbox: {}", resp.text());
    }
    listener.set_nonblocking(true).expect("nonblocking");
    assert!(listener.accept().is_err(), "nothing connected to the host-side listener");
    assert_eq!(host.get("/hostile?do=args").json(), json!([]), "no args");
}

#[test]
fn a_chatty_guest_cannot_flood_the_log() {
    let host = TestHost::routes(&test_routes_toml()).start();
    // Per request: 16 KiB of output at most.
    let resp = host.get("/hostile?do=spam&lines=100&width=1000");
    assert_eq!(resp.status, 200, "the guest is never blocked or failed for logging");
    assert!(host.log_text().contains("bytes not logged"), "the cut is reported");

    // Per route: a burst of 2000 lines, then 200 lines/s.
    for _ in 0..8 {
        assert_eq!(host.get("/hostile?do=spam&lines=500").status, 200);
    }
    let log = host.log_text();
    let logged = log.lines().filter(|l| l.contains("wasmroutes::guest: x route=")).count();
    assert!(logged < 4000, "only the budget is logged, got {logged} lines");
    assert!(log.contains("log lines/s"), "suppressed lines are reported");
}
