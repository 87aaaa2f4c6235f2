//! Routes written as Next.js App Router `route.js` files, built by
//! `guest-js/build.mjs` (componentize-js and our shim) through `wasmroutes
//! build`, served by the same host: `sample-routes/js` must answer byte for
//! byte what the Rust samples answer, and the Next.js route-handler API
//! (params, `request.url`, `request.json()`, `process.env`, `Response.json`,
//! thrown errors) must behave as a Next.js author expects.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use e2e_support::{TestHost, artifacts, precompile, route, run_wasmroutes, test_routes_toml};

/// `wasmroutes build sample-routes/js/routes.toml`, once per test process:
/// the JS samples' components, in `target/js/`.
pub(crate) fn js_samples() -> PathBuf {
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
            precompile(&manifest);
            manifest
        })
        .clone()
}

/// A host serving the JS samples with a data dir of its own: the files of
/// their key-value store and database are held by one process at a time.
pub(crate) fn serve_js_samples() -> (TestHost, tempfile::TempDir) {
    let data = tempfile::tempdir().expect("data dir");
    let host =
        TestHost::manifest(&js_samples()).args(&["--data-dir", data.path().to_str().expect("UTF-8 path")]).start();
    (host, data)
}

/// `tests/js/next-example/route.js` built into a component, once.
fn next_example() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| build_js_route("tests/js/next-example/route.js", "next_example")).clone()
}

/// Builds the route file at `source` (from the checkout's root) with
/// `guest-js/build.mjs` into `target/js/<name>.wasm`.
pub(crate) fn build_js_route(source: &str, name: &str) -> PathBuf {
    let a = artifacts();
    let out = a.target_dir.join(format!("js/{name}.wasm"));
    let status = std::process::Command::new("node")
        .arg(a.root.join("guest-js/build.mjs"))
        .arg(a.root.join(source))
        .arg(&out)
        .status()
        .expect("run node (scripts/setup.sh installs the JS toolchain)");
    assert!(status.success(), "guest-js/build.mjs failed: {status}");
    out
}

#[test]
fn the_js_samples_answer_byte_for_byte_what_the_rust_samples_answer() {
    let (js, _data) = serve_js_samples();
    let rust = TestHost::routes(&test_routes_toml()).start();
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
    let host = TestHost::routes(&toml).start();

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

#[test]
fn request_json_decodes_the_body_as_the_fetch_standard_and_next_js_do() {
    let (js, _data) = serve_js_samples();
    let json = br#"{"name":"Ada","email":"ada@example.com"}"#;
    let with_bom = [b"\xEF\xBB\xBF".as_slice(), json].concat();
    let expected = r#"{"id":0,"name":"Ada","email":"ada@example.com"}"#;

    // A leading UTF-8 byte-order mark is not part of the text: the body
    // reads as if it were absent.
    let plain = js.request("POST", "/api/users", &[], json);
    let marked = js.request("POST", "/api/users", &[("content-type", "application/json")], &with_bom);
    for got in [&plain, &marked] {
        assert_eq!(
            (got.status, got.header("content-type"), clock_id_as_zero(&got.text()).as_str()),
            (201, Some("application/json"), expected),
        );
    }
    // Bytes that are not UTF-8 become U+FFFD, one per maximal bad sequence.
    let invalid = js.request("POST", "/api/users", &[], b"{\"name\":\"A\xFFda\",\"email\":\"\xC3\x28@example.com\"}");
    assert_eq!(invalid.status, 201, "{}", invalid.text());
    assert_eq!(
        clock_id_as_zero(&invalid.text()),
        "{\"id\":0,\"name\":\"A\u{FFFD}da\",\"email\":\"\u{FFFD}(@example.com\"}"
    );
    // Only one mark, and only a leading one, is dropped: another is text,
    // which JSON does not allow; a mark alone is an empty body. Both make
    // `request.json()` throw (a SyntaxError; the host's 500).
    for body in [
        [b"\xEF\xBB\xBF".as_slice(), &with_bom].concat(),
        [b" ".as_slice(), &with_bom].concat(),
        b"\xEF\xBB\xBF".to_vec(),
    ] {
        js.request("POST", "/api/users", &[], &body).assert_error(500, "Internal server error");
    }
    let log = js.log_text();
    assert_eq!(log.matches("SyntaxError: JSON.parse").count(), 3, "{log}");
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

/// `tests/js/{fetch,next}` built by `wasmroutes build` from a routes.toml
/// naming them (absolute paths) in a temp dir, once; `extra` is appended to
/// the fetch route (its allow-list). Returns the manifest, to serve.
fn feature_routes(dir: &Path, fetch_extra: &str) -> PathBuf {
    let root = &artifacts().root;
    let fetch = root.join("tests/js/fetch/route.js");
    let next = root.join("tests/js/next/route.ts");
    let manifest = dir.join("routes.toml");
    let toml = format!(
        "[[route]]\npath = \"/api/fetch\"\ncomponent = {:?}\n{fetch_extra}\n\
         [[route]]\npath = \"/api/next/[[...slug]]\"\ncomponent = {:?}\n",
        fetch.display().to_string(),
        next.display().to_string(),
    );
    std::fs::write(&manifest, toml).expect("write routes.toml");
    let built = run_wasmroutes(&["build", manifest.to_str().expect("UTF-8 path")], dir, &[]);
    assert!(built.status.success(), "building tests/js failed:\n{}", String::from_utf8_lossy(&built.stderr));
    precompile(&manifest);
    manifest
}

#[test]
fn fetch_next_server_next_headers_and_typescript_work_as_in_next_js() {
    let upstream = std::net::TcpListener::bind("127.0.0.1:0").expect("bind upstream");
    let port = upstream.local_addr().expect("address").port();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for stream in upstream.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut head = [0u8; 4096];
            let _ = stream.read(&mut head);
            let body = "upstream says hi";
            let _ =
                write!(stream, "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
        }
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let manifest = feature_routes(dir.path(), &format!("allowed_outbound_hosts = [\"http://127.0.0.1:{port}\"]\n"));
    let host = TestHost::manifest(&manifest).start();

    // fetch goes out through the allow-list...
    let allowed = format!("/api/fetch?url=http://127.0.0.1:{port}/data");
    let got = host.get(&allowed);
    assert_eq!((got.status, got.json()), (200, serde_json::json!({ "status": 200, "body": "upstream says hi" })));
    // ...and nowhere else: the route sees a rejected promise (and may catch it),
    let denied = format!("/api/fetch?url=http://127.0.0.1:{}/data", port + 1);
    let refused = host.get(&denied);
    assert_eq!(refused.status, 502, "{}", refused.text());
    assert!(refused.json()["error"].as_str().is_some_and(|e| e.starts_with("fetch failed")), "{}", refused.text());
    // or, uncaught, the 500 envelope with the reason in the log only.
    host.request("POST", &denied, &[], b"").assert_error(500, "Internal server error");

    // TypeScript, next/server and next/headers.
    let headers = [("user-agent", "e2e"), ("cookie", "theme=dark; lang=en%20GB"), ("x-test", "sync works")];
    let next = host.request("GET", "/api/next/a/b", &headers, b"");
    assert_eq!((next.status, next.header("x-powered-by")), (202, Some("wasmroutes")), "{}", next.text());
    assert_eq!(
        next.json(),
        serde_json::json!({
            "slug": ["a", "b"], "isNextRequest": true, "agent": "e2e", "theme": "dark",
            "cookies": ["theme", "lang"], "sync": "sync works",
        })
    );
    assert_eq!(host.get("/api/next").json()["slug"], serde_json::Value::Null, "empty optional catch-all");
    let redirect = host.request("POST", "/api/next", &[], b"");
    assert_eq!(redirect.status, 308);
    assert!(redirect.header("location").is_some_and(|l| l.ends_with("/api/elsewhere")), "{:?}", redirect.headers);
    assert_eq!(host.request("PUT", "/api/next", &[], b"").text(), "put ok", "`export {{ x as PUT }}`");
    // `export * from './more'` exported DELETE, whose cookies().set() throws.
    host.request("DELETE", "/api/next", &[], b"").assert_error(500, "Internal server error");
    let allow = host.request("PATCH", "/api/next", &[], b"");
    assert_eq!((allow.status, allow.header("allow")), (405, Some("GET, HEAD, POST, PUT, DELETE, OPTIONS")));
    let log = host.log_text();
    assert!(log.contains("cookies().set() is not supported"), "{log}");
}

#[test]
fn a_js_route_and_a_rust_route_share_one_key_value_store() {
    let js = js_samples();
    let built = js.parent().expect("sample dir").join(".wasmroutes/build/app/api/tasks/[id]/route.js.wasm");
    let a = artifacts();
    let mut toml = String::new();
    route(&mut toml, "/api/tasks", &a.component("tasks"), "key_value_stores = [\"default\"]\n");
    route(&mut toml, "/api/tasks/[id]", &built, "key_value_stores = [\"default\"]\n");
    route(&mut toml, "/api/rust-tasks/[id]", &a.component("tasks-id"), "key_value_stores = [\"default\"]\n");
    let data = tempfile::tempdir().expect("data dir");
    let host = TestHost::routes(&toml).args(&["--data-dir", data.path().to_str().expect("UTF-8 path")]).start();

    // Created by the Rust route, read, changed and deleted by the JS one,
    // and each answer is what the Rust tasks/[id] route gives.
    let created = host.request("POST", "/api/tasks", &[], br#"{"title":"Write docs"}"#);
    assert_eq!(created.status, 201, "{}", created.text());
    let id = created.json()["id"].as_u64().expect("an id");
    let requests: [(&str, &str, &[u8]); 9] = [
        ("GET", "", b""),
        ("PATCH", "", br#"{"done":true}"#),
        ("PATCH", "", br#"{"title":"  Ship  "}"#),
        ("PATCH", "", br#"{"title":5}"#),
        ("PATCH", "", b"{}"),
        ("GET", "", b""),
        ("GET", "0", b""),
        ("GET", "abc", b""),
        ("GET", "99999", b""),
    ];
    for (method, other_id, body) in requests {
        let id = if other_id.is_empty() { id.to_string() } else { other_id.to_owned() };
        let j = host.request(method, &format!("/api/tasks/{id}"), &[], body);
        let r = host.request(method, &format!("/api/rust-tasks/{id}"), &[], body);
        assert_eq!(
            (j.status, j.header("content-type"), j.text()),
            (r.status, r.header("content-type"), r.text()),
            "{method} {id} {}: JS (left) and Rust (right) differ",
            String::from_utf8_lossy(body)
        );
    }
    let shown = host.get(&format!("/api/tasks/{id}"));
    assert_eq!(shown.text(), format!(r#"{{"id":{id},"title":"Ship","done":true}}"#));
    let deleted = host.request("DELETE", &format!("/api/tasks/{id}"), &[], b"");
    assert_eq!((deleted.status, deleted.text()), (204, String::new()));
    host.get(&format!("/api/rust-tasks/{id}")).assert_error(404, "Task not found");
    host.request("DELETE", &format!("/api/tasks/{id}"), &[], b"").assert_error(404, "Task not found");
}
