//! HTTP-level bad input and protocol support: slowloris, oversized headers,
//! malformed requests, HTTP/2 with prior knowledge, graceful shutdown.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use e2e_support::{TestHost, send, test_routes_toml};

fn read_all(stream: &mut TcpStream) -> Vec<u8> {
    stream.set_read_timeout(Some(Duration::from_secs(20))).expect("read timeout");
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    out
}

#[test]
fn slow_headers_get_the_connection_closed() {
    let host = TestHost::routes(&test_routes_toml()).args(&["--header-read-timeout", "500ms"]).start();
    let mut stream = TcpStream::connect(host.addr).expect("connect");
    stream.write_all(b"GET /api/hello HTTP/1.1\r\nhost: x\r\n").expect("partial head");
    // Never finish the head. The server must give up on us rather than hold
    // the connection forever (the read timeout above bounds the wait).
    let answer = read_all(&mut stream);
    let text = String::from_utf8_lossy(&answer);
    assert!(answer.is_empty() || text.starts_with("HTTP/1.1 408"), "expected a close, got {text:?}");
    assert_eq!(host.get("/api/hello").status, 200, "other clients are unaffected");
}

#[test]
fn oversized_headers_are_431_and_malformed_requests_400() {
    let host = TestHost::routes(&test_routes_toml()).start();
    let big = "x".repeat(100 * 1024);
    let resp = host.request("GET", "/api/hello", &[("x-big", &big)], b"");
    assert_eq!(resp.status, 431);

    let mut stream = TcpStream::connect(host.addr).expect("connect");
    stream.write_all(b"THIS IS NOT HTTP\r\n\r\n").expect("write");
    let answer = String::from_utf8_lossy(&read_all(&mut stream)).into_owned();
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer:?}");

    assert_eq!(host.get("/api/hello").status, 200);
}

#[test]
fn http2_with_prior_knowledge_is_served() {
    let host = TestHost::routes(&test_routes_toml()).start();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let (status, body) = runtime.block_on(async {
        use http_body_util::{BodyExt, Empty};
        let stream = tokio::net::TcpStream::connect(host.addr).await.expect("connect");
        let io = hyper_util::rt::TokioIo::new(stream);
        let (mut sender, conn) = hyper::client::conn::http2::handshake(hyper_util::rt::TokioExecutor::new(), io)
            .await
            .expect("h2 handshake");
        tokio::spawn(conn);
        let req = hyper::Request::get(format!("http://{}/api/posts/7", host.addr))
            .body(Empty::<bytes::Bytes>::new())
            .expect("request");
        let resp = sender.send_request(req).await.expect("h2 response");
        assert_eq!(resp.version(), hyper::Version::HTTP_2);
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        (status, body)
    });
    assert_eq!(status, 200);
    assert_eq!(&body[..], br#"{"id":"7","title":"Post 7","content":"Post content here..."}"#);
}

#[test]
fn sigterm_lets_in_flight_requests_finish_then_exits_zero() {
    let mut host = TestHost::routes(&test_routes_toml()).start();
    let addr = host.addr;
    let in_flight = std::thread::spawn(move || send(addr, "GET", "/hostile?do=sleep&ms=2000", &[], b""));
    std::thread::sleep(Duration::from_millis(500));
    let status = host.terminate();
    assert!(status.success(), "exit status {status}");
    let resp = in_flight.join().expect("in-flight request");
    assert_eq!((resp.status, resp.text().as_str()), (200, r#"{"slept_ms":2000}"#), "the in-flight request finished");
    assert!(TcpStream::connect(addr).is_err(), "no longer accepting");
    assert!(host.log_text().contains("shutting down"));
}
