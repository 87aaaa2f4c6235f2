//! The benchmark's other hellos: `bench/floor-hello`, hello without WASI
//! imports, whose rows in bench/run.sh and the sandbox bench measure the cost
//! of imports only if it answers exactly what hello answers and really
//! imports nothing; and `bench/http-hello`, hello as a wasi:http component,
//! whose rows (in wasmroutes and in `wasmtime serve`) compare with hello's
//! only if it answers the same.

use std::path::Path;

use e2e_support::{TestHost, TestResponse, artifacts, floor_hello, route};

/// Serves `component` at `/other/hello` beside the hello sample, checks that
/// it answers with hello's status, body and content type, and returns both
/// answers (hello's first).
fn assert_answers_like_hello(component: &Path) -> (TestResponse, TestResponse) {
    let mut toml = String::new();
    route(&mut toml, "/api/hello", &artifacts().component("hello"), "");
    route(&mut toml, "/other/hello", component, "");
    let host = TestHost::routes(&toml).start();

    let hello = host.get("/api/hello");
    let other = host.get("/other/hello");
    assert_eq!(hello.status, 200, "{}", hello.text());
    assert_eq!(other.status, hello.status);
    assert_eq!(other.body, hello.body, "{} vs {}", other.text(), hello.text());
    assert_eq!(other.header("content-type"), hello.header("content-type"));
    (hello, other)
}

#[test]
fn floor_hello_answers_byte_for_byte_like_hello() {
    assert_answers_like_hello(floor_hello());
}

#[test]
fn http_hello_answers_byte_for_byte_like_hello() {
    let (hello, http) = assert_answers_like_hello(&artifacts().component("http-hello"));
    assert_eq!(http.header("content-length"), hello.header("content-length"));
}

#[test]
fn floor_hello_imports_nothing_from_wasi() {
    // A component names every interface it imports in its import section, so
    // `wasi:` appearing nowhere in its bytes means no WASI import. Hello, a
    // std route, shows the check can see them.
    let has_wasi = |bytes: &[u8]| bytes.windows(5).any(|w| w == b"wasi:");
    let hello = std::fs::read(artifacts().component("hello")).expect("read hello");
    assert!(has_wasi(&hello), "hello (std) should import WASI: the check would prove nothing");
    let floor = std::fs::read(floor_hello()).expect("read floor-hello");
    assert!(!has_wasi(&floor), "floor-hello must import nothing from WASI");
}
