//! Outbound HTTP: only to the route's `allowed_outbound_hosts`, deny by
//! default; a denied request comes back to the guest, which picks the status.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use e2e_support::{TestHost, artifacts, route};
use serde_json::json;

/// What [`upstream`] received: one request head per connection.
type Heads = Arc<Mutex<Vec<String>>>;

/// A one-line HTTP server on 127.0.0.1 that counts the requests it gets and
/// keeps their heads.
fn upstream() -> (u16, Arc<AtomicUsize>, Heads) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind upstream");
    let port = listener.local_addr().expect("addr").port();
    let hits = Arc::new(AtomicUsize::new(0));
    let heads: Heads = Arc::default();
    let (counter, seen) = (Arc::clone(&hits), Arc::clone(&heads));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            counter.fetch_add(1, Ordering::SeqCst);
            let mut buf = [0u8; 4096];
            let n = stream.read(&mut buf).unwrap_or(0);
            seen.lock().expect("heads").push(String::from_utf8_lossy(&buf[..n]).into_owned());
            let body = "upstream says hi";
            let _ =
                write!(stream, "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
        }
    });
    (port, hits, heads)
}

#[test]
fn fetch_reaches_only_allow_listed_hosts() {
    let (port, hits, _) = upstream();
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
    let host = TestHost::routes(&toml).start();
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
    let host = TestHost::routes(&toml).start();
    let resp = host.get(&format!("/allowed?do=fetch&url=http://127.0.0.1:{closed}/"));
    assert_eq!(resp.status, 502, "{}", resp.text());
    assert!(resp.json()["error"].as_str().is_some_and(|m| m.starts_with("Upstream request failed")));
}

#[test]
fn an_outbound_request_carries_one_host_header_the_guest_cannot_set() {
    let (port, hits, heads) = upstream();
    let hostile = artifacts().component("hostile");
    let mut toml = String::new();
    route(&mut toml, "/allowed", &hostile, &format!("allowed_outbound_hosts = [\"http://127.0.0.1:{port}\"]\n"));
    let host = TestHost::routes(&toml).start();

    let resp = host.get(&format!("/allowed?do=fetch&url=http://127.0.0.1:{port}/"));
    assert_eq!(resp.status, 200, "{}", resp.text());
    let head = heads.lock().expect("heads")[0].to_ascii_lowercase();
    let hosts: Vec<&str> = head.lines().filter(|l| l.starts_with("host:")).collect();
    assert_eq!(hosts, [format!("host: 127.0.0.1:{port}")], "exactly the authority's Host: {head}");

    // A guest-chosen Host is refused when the guest builds its headers, so
    // the request never leaves and the SDK reports the failure.
    let resp = host.get(&format!("/allowed?do=fetch&url=http://127.0.0.1:{port}/&host=evil.example"));
    assert_eq!(resp.status, 502, "{}", resp.text());
    assert_eq!(hits.load(Ordering::SeqCst), 1, "the request with a guest-set Host never left");
}
