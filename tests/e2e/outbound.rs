//! Outbound HTTP: only to the route's `allowed_outbound_hosts`, deny by
//! default; a denied request comes back to the guest, which picks the status.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use e2e_support::{TestHost, artifacts, route};
use serde_json::json;

/// A one-line HTTP server on 127.0.0.1 that counts the requests it gets.
fn upstream() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind upstream");
    let port = listener.local_addr().expect("addr").port();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            counter.fetch_add(1, Ordering::SeqCst);
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let body = "upstream says hi";
            let _ =
                write!(stream, "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
        }
    });
    (port, hits)
}

#[test]
fn fetch_reaches_only_allow_listed_hosts() {
    let (port, hits) = upstream();
    let hostile = artifacts().component("hostile");
    let mut toml = String::new();
    route(&mut toml, "/allowed", &hostile, &format!("allowed_outbound_hosts = [\"http://127.0.0.1:{port}\"]\n"));
    route(
        &mut toml,
        "/other-port",
        &hostile,
        &format!("allowed_outbound_hosts = [\"http://127.0.0.1:{}\"]\n", port + 1),
    );
    route(&mut toml, "/default", &hostile, "");
    let host = TestHost::start(&toml);
    let url = format!("http://127.0.0.1:{port}/data?x=1");

    let resp = host.get(&format!("/allowed?do=fetch&url={url}"));
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.json(), json!({ "status": 200, "body": "upstream says hi" }));
    assert_eq!(hits.load(Ordering::SeqCst), 1);

    for denied in ["/default", "/other-port"] {
        let resp = host.get(&format!("{denied}?do=fetch&url={url}"));
        // The guest learns the request was denied and chooses 403 itself.
        assert_eq!(resp.status, 403, "{denied}: {}", resp.text());
        assert!(resp.json()["error"].as_str().is_some_and(|m| m.contains("denied")), "{}", resp.text());
    }
    let resp = host.get(&format!("/allowed?do=fetch&url=http://localhost:{port}/"));
    assert_eq!(resp.status, 403, "a different host name is a different host: {}", resp.text());
    assert_eq!(hits.load(Ordering::SeqCst), 1, "denied requests never left the host");
    assert!(host.log_text().contains("denied: not in allowed_outbound_hosts"), "denials are logged");
    assert!(!host.log_text().contains("/data?x=1"), "logged destinations omit path and query");
}

#[test]
fn a_failing_upstream_is_the_guests_to_answer() {
    // Allowed, but nothing listens there: the guest gets a connection error
    // and the SDK turns it into a 502.
    let closed = TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let hostile = artifacts().component("hostile");
    let mut toml = String::new();
    route(&mut toml, "/allowed", &hostile, &format!("allowed_outbound_hosts = [\"http://127.0.0.1:{closed}\"]\n"));
    let host = TestHost::start(&toml);
    let resp = host.get(&format!("/allowed?do=fetch&url=http://127.0.0.1:{closed}/"));
    assert_eq!(resp.status, 502, "{}", resp.text());
    assert!(resp.json()["error"].as_str().is_some_and(|m| m.starts_with("Upstream request failed")));
}
