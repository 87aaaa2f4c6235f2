//! The benchmark's other hellos: `bench/floor-hello`, hello without WASI
//! imports, whose rows in bench/run.sh and the sandbox bench measure the cost
//! of imports only if it answers exactly what hello answers and really
//! imports nothing; and `bench/http-hello`, hello as a wasi:http component,
//! whose rows (in wasmroutes and in `wasmtime serve`) compare with hello's
//! only if it answers the same.

use e2e_support::{TestHost, artifacts, floor_hello, route};

#[test]
fn floor_hello_answers_byte_for_byte_like_hello() {
    let mut toml = String::new();
    route(&mut toml, "/api/hello", &artifacts().component("hello"), "");
    route(&mut toml, "/floor/hello", floor_hello(), "");
    let host = TestHost::routes(&toml).start();

    let hello = host.get("/api/hello");
    let floor = host.get("/floor/hello");
    assert_eq!(hello.status, 200, "{}", hello.text());
    assert_eq!(floor.status, hello.status);
    assert_eq!(floor.body, hello.body, "{} vs {}", floor.text(), hello.text());
    assert_eq!(floor.header("content-type"), hello.header("content-type"));
}

#[test]
fn http_hello_answers_byte_for_byte_like_hello() {
    let mut toml = String::new();
    route(&mut toml, "/api/hello", &artifacts().component("hello"), "");
    route(&mut toml, "/http/hello", &artifacts().component("http-hello"), "");
    let host = TestHost::routes(&toml).start();

    let hello = host.get("/api/hello");
    let http = host.get("/http/hello");
    assert_eq!(hello.status, 200, "{}", hello.text());
    assert_eq!(http.status, hello.status);
    assert_eq!(http.body, hello.body, "{} vs {}", http.text(), hello.text());
    assert_eq!(http.header("content-type"), hello.header("content-type"));
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
