//! Streamed answers from `route.js`: a `Response` made from a
//! `ReadableStream` (a route's own, an async generator's, `ReadableStream.from`,
//! a `TextEncoderStream`'s) goes out chunk by chunk as the stream produces it;
//! a stream that fails cuts the answer; a client that goes away aborts
//! `request.signal` and cancels the stream; every other answer is sent
//! whole, with its length, as before.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use e2e_support::streamed::{Arrived, stream_get};
use e2e_support::{TestHost, artifacts, eventually, route};

use crate::js_routes::{build_js_route, serve_js_samples};

/// `tests/js/streams/route.js`, built once.
fn streams_route() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| build_js_route("tests/js/streams/route.js", "streams")).clone()
}

fn host() -> TestHost {
    let mut toml = String::new();
    route(&mut toml, "/streams", &streams_route(), "");
    TestHost::routes(&toml).start()
}

fn texts(arrived: &Arrived) -> Vec<String> {
    arrived.chunks.iter().map(|(_, c)| String::from_utf8_lossy(c).into_owned()).collect()
}

/// How long after the first chunk the last one arrived.
fn spread(arrived: &Arrived) -> Duration {
    let (first, last) = (arrived.chunks.first().expect("a chunk").0, arrived.chunks.last().expect("a chunk").0);
    last.duration_since(first)
}

fn header<'a>(arrived: &'a Arrived, name: &str) -> Option<&'a str> {
    arrived.head.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[test]
fn the_js_clock_streams_what_the_rust_clock_streams() {
    let (js, _data) = serve_js_samples();
    let mut toml = String::new();
    route(&mut toml, "/api/clock", &artifacts().component("clock"), "");
    let rust = TestHost::routes(&toml).start();
    let target = "/api/clock?count=4&interval_ms=200";
    let (from_js, from_rust) =
        (stream_get(js.addr, "GET", target, usize::MAX), stream_get(rust.addr, "GET", target, usize::MAX));
    assert!(from_js.complete && from_rust.complete);
    assert_eq!(from_js.body(), from_rust.body(), "byte for byte");
    assert_eq!(from_js.chunks.len(), 4, "one chunk per event: {:?}", texts(&from_js));
    assert!(spread(&from_js) >= Duration::from_millis(400), "events arrive as they happen, not at the end");
    for name in ["content-type", "cache-control", "x-accel-buffering"] {
        assert_eq!(header(&from_js, name), header(&from_rust, name), "{name}");
    }
    for (target, headers) in [
        ("/api/clock?count=abc", vec![]),
        ("/api/clock?count=3&interval_ms=5", vec![]),
        ("/api/clock?count=3", vec![("last-event-id", "3")]),
    ] {
        let (a, b) = (js.request("GET", target, &headers, b""), rust.request("GET", target, &headers, b""));
        assert_eq!((a.status, a.text()), (b.status, b.text()), "{target} {headers:?}");
        assert_eq!(a.header("content-type"), b.header("content-type"), "{target}");
    }
    let resumed = js.request("GET", "/api/clock?count=3&interval_ms=10", &[("last-event-id", "1")], b"");
    assert_eq!(
        resumed.text(),
        rust.request("GET", "/api/clock?count=3&interval_ms=10", &[("last-event-id", "1")], b"").text()
    );
    assert!(resumed.text().starts_with("event: tick\nid: 2\n"), "{}", resumed.text());
}

#[test]
fn async_generators_and_text_encoder_streams_stream() {
    let host = host();
    for kind in ["generator", "from"] {
        let arrived =
            stream_get(host.addr, "GET", &format!("/streams?kind={kind}&count=3&interval_ms=200"), usize::MAX);
        assert_eq!((arrived.status, arrived.complete), (200, true), "{kind}");
        assert_eq!(texts(&arrived), ["chunk 1\n", "chunk 2\n", "chunk 3\n"], "{kind}");
        assert!(spread(&arrived) >= Duration::from_millis(300), "{kind}: each chunk arrives when it is yielded");
    }

    let arrived = stream_get(host.addr, "GET", "/streams?kind=encoder&count=3&interval_ms=200", usize::MAX);
    assert_eq!((arrived.status, arrived.complete), (200, true));
    assert_eq!(texts(&arrived), ["text 1\n", "text 2\n", "text 3\n"]);
    assert!(spread(&arrived) >= Duration::from_millis(300), "each chunk arrives when it is written");
    assert_eq!(header(&arrived, "content-type"), Some("text/plain; charset=utf-8"));
}

#[test]
fn a_stream_that_fails_cuts_the_answer_and_the_host_serves_on() {
    let host = host();
    let arrived = stream_get(host.addr, "GET", "/streams?kind=error", usize::MAX);
    assert_eq!(arrived.status, 200);
    assert_eq!(texts(&arrived), ["before the error\n", "still before\n"]);
    assert!(!arrived.complete, "a failed stream is not a complete answer");
    let log = eventually(Duration::from_secs(10), || {
        let log = host.log_text();
        log.contains("stream cut off").then_some(log).ok_or_else(|| "not cut yet".to_owned())
    });
    assert!(log.contains("the data source failed"), "the stream's error is logged: {log}");
    let next = host.get("/streams");
    assert_eq!((next.status, next.text().as_str()), (200, r#"{"whole":true}"#));
}

#[test]
fn a_client_that_goes_away_aborts_the_signal_and_cancels_the_stream() {
    let host = host();
    let arrived = stream_get(host.addr, "GET", "/streams?kind=endless&interval_ms=20", 3);
    assert_eq!(arrived.chunks.len(), 3);
    drop(arrived);
    let log = eventually(Duration::from_secs(10), || {
        let log = host.log_text();
        (log.contains("signal aborted: AbortError") && log.contains("stream cancelled: closed"))
            .then_some(log)
            .ok_or_else(|| "the route has not heard yet".to_owned())
    });
    assert!(log.contains("end=\"client_gone\""), "{log}");
}

#[test]
fn answers_that_are_not_streams_go_whole_with_their_length() {
    let host = host();
    let whole = host.get("/streams");
    assert_eq!((whole.status, whole.text().as_str()), (200, r#"{"whole":true}"#));
    assert_eq!(whole.header("content-length"), Some("14"));
    assert_eq!(whole.header("x-accel-buffering"), None);
    let head = host.request("HEAD", "/streams", &[], b"");
    assert_eq!((head.status, head.header("content-length")), (200, Some("14")));

    // A POST whose answer streams its own body back.
    let body: Vec<u8> = (0..300 * 1024).map(|i| (i % 253) as u8).collect();
    let echoed = host.request("POST", "/streams", &[], &body);
    assert_eq!(echoed.status, 201);
    assert_eq!(echoed.body, body);
}
