//! Routes written as Next.js App Router `route.js` files, built by
//! `guest-js/build.mjs` (componentize-js and our shim) through `wasmroutes
//! build`, served by the same host: `sample-routes/js` must answer byte for
//! byte what the Rust samples answer, and the Next.js route-handler API
//! (params, `request.url`, `request.json()`, `process.env`, `Response.json`,
//! thrown errors) must behave as a Next.js author expects.

use std::path::PathBuf;
use std::sync::OnceLock;

use e2e_support::{TestHost, artifacts, route, run_wasmroutes, test_routes_toml};

/// `wasmroutes build sample-routes/js/routes.toml`, once per test process:
/// the JS samples' components, in `target/js/`.
fn js_samples() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let a = artifacts();
            let manifest = a.root.join("sample-routes/js/routes.toml");
            let manifest_arg = manifest.to_str().expect("a UTF-8 checkout path");
            let built = run_wasmroutes(&["build", manifest_arg], &a.root, &[]);
            assert!(
                built.status.success(),
                "building the JS samples failed:\n{}",
                String::from_utf8_lossy(&built.stderr)
            );
            manifest
        })
        .clone()
}

/// `tests/js/next-example/route.js` built into a component, once.
fn next_example() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let a = artifacts();
            let out = a.target_dir.join("js/next_example.wasm");
            let status = std::process::Command::new("node")
                .arg(a.root.join("guest-js/build.mjs"))
                .arg(a.root.join("tests/js/next-example/route.js"))
                .arg(&out)
                .status()
                .expect("run node (scripts/setup.sh installs the JS toolchain)");
            assert!(status.success(), "guest-js/build.mjs failed: {status}");
            out
        })
        .clone()
}

#[test]
fn the_js_samples_answer_byte_for_byte_what_the_rust_samples_answer() {
    let js = TestHost::start_manifest(&js_samples(), &[]);
    let rust = TestHost::start(&test_routes_toml());
    let targets = [
        "/api/hello",
        "/api/posts",
        "/api/posts/42",
        "/api/posts/a%20b",
        "/api/posts/%C3%A9t%C3%A9",
        "/api/docs/a/b/c",
        "/api/docs/x%2Fy",
        "/api/shop",
        "/api/shop/a/b",
        "/api/search?q=rust&limit=5",
        "/api/search",
        "/api/search?limit=",
        "/api/search?limit=abc",
        "/api/search?limit=-1",
        "/api/search?limit=99999999999999999999",
        "/api/search?limit=18446744073709551615",
        "/api/search?q=%22quoted%22+%F0%9F%98%80",
        "/api/user/1",
        "/api/user/2",
        "/api/user/3",
        "/api/user/boom",
        "/api/todos",
    ];
    for target in targets {
        let (j, r) = (js.get(target), rust.get(target));
        assert_eq!(
            (j.status, j.header("content-type"), j.text()),
            (r.status, r.header("content-type"), r.text()),
            "GET {target}: JS (left) and Rust (right) differ"
        );
    }
    // Requests with bodies; an id made from the clock (`Date.now()`, the
    // Rust samples' `now_millis`) is compared as "a number".
    let bodies: [(&str, &str, &[u8]); 6] = [
        ("POST", "/api/users", br#"{"name":"Ada","email":"ada@example.com"}"#),
        ("POST", "/api/users", br#"{"name":"Ada"}"#),
        ("POST", "/api/todos", br#"{"task":"Ship it"}"#),
        ("POST", "/api/todos", b"{}"),
        ("DELETE", "/api/todos", b""),
        ("HEAD", "/api/todos", b""),
    ];
    for (method, target, body) in bodies {
        let (j, r) = (js.request(method, target, &[], body), rust.request(method, target, &[], body));
        assert_eq!(
            (j.status, j.header("content-type"), clock_id_as_zero(&j.text())),
            (r.status, r.header("content-type"), clock_id_as_zero(&r.text())),
            "{method} {target} {}: JS (left) and Rust (right) differ",
            String::from_utf8_lossy(body)
        );
    }
    // The one deliberate difference: `request.json()` on a body that is not
    // JSON throws, as in Next.js (a 500 envelope, the error in the log); the
    // Rust SDK answers 400 with serde's reason.
    js.request("POST", "/api/users", &[], b"{nope").assert_error(500, "Internal server error");
    assert_eq!(rust.request("POST", "/api/users", &[], b"{nope").status, 400);
    let log = js.log_text();
    assert!(log.contains("database error looking up user \"boom\": connection reset"), "{log}");
    // What the host answers without running a guest is the same too.
    for (method, target) in [
        ("DELETE", "/api/hello"),
        ("OPTIONS", "/api/posts/1"),
        ("HEAD", "/api/posts"),
        ("PUT", "/api/users"),
        ("OPTIONS", "/api/todos"),
        ("GET", "/api/users"),
    ] {
        let (j, r) = (js.request(method, target, &[], b""), rust.request(method, target, &[], b""));
        assert_eq!(
            (j.status, j.header("allow"), j.text()),
            (r.status, r.header("allow"), r.text()),
            "{method} {target}"
        );
    }
}

#[test]
fn a_next_js_route_file_runs_unchanged() {
    let mut toml = String::new();
    route(&mut toml, "/api/items/[id]", &next_example(), "env = { API_KEY = \"secret\" }\n");
    let host = TestHost::start(&toml);

    let got = host.get("/api/items/42?q=hello%20world");
    assert_eq!(got.status, 200, "{}", got.text());
    assert_eq!(got.json(), serde_json::json!({ "id": "42", "q": "hello world", "key": "set" }));
    assert_eq!(got.header("content-type"), Some("application/json"));

    let created = host.request("POST", "/api/items/1", &[("content-type", "application/json")], br#"{"name":"Ada"}"#);
    assert_eq!(created.status, 201, "{}", created.text());
    let body = created.json();
    assert_eq!(body["name"], "Ada");
    assert!(body["id"].as_u64().is_some_and(|ms| ms > 1_700_000_000_000), "Date.now() is the real clock: {body}");

    // The methods come from the module's exports, known at load.
    let refused = host.request("PUT", "/api/items/1", &[], b"");
    assert_eq!((refused.status, refused.header("allow")), (405, Some("GET, HEAD, POST, DELETE, OPTIONS")));
    // A throw, and `request.json()` on a body that is not JSON (it throws, as
    // in Next.js): the host's 500 envelope, details only in the log.
    host.request("DELETE", "/api/items/1", &[], b"").assert_error(500, "Internal server error");
    host.request("POST", "/api/items/1", &[], b"{not json").assert_error(500, "Internal server error");
    let log = host.log_text();
    assert!(log.contains("DELETE fails on purpose"), "the error is logged:\n{log}");
    assert!(!host.get("/api/items/7").text().contains("secret"), "env values stay inside");
}

/// `text` with the digits after its first `"id":` replaced by `0`: the id
/// the users and todos samples make from the clock.
fn clock_id_as_zero(text: &str) -> String {
    let Some(at) = text.find(r#""id":"#) else { return text.to_owned() };
    let digits_from = at + r#""id":"#.len();
    let digits = text[digits_from..].chars().take_while(char::is_ascii_digit).count();
    if digits < 13 {
        return text.to_owned(); // not a millisecond clock reading
    }
    format!("{}0{}", &text[..digits_from], &text[digits_from + digits..])
}
