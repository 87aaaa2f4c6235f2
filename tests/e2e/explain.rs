//! `wasmroutes routes`: the table in precedence order, and `--match`
//! explaining a request — checked against what the server really answers.

use std::path::Path;

use e2e_support::{TestHost, artifacts, route, run_wasmroutes};

/// Routes written out of precedence order, so the table has to sort them.
fn manifest() -> String {
    let a = artifacts();
    let mut text = String::new();
    route(&mut text, "/api/shop/[[...slug]]", &a.component("shop-slug"), "");
    route(&mut text, "/api/posts/[...slug]", &a.component("docs-slug"), "");
    route(&mut text, "/api/posts/[id]", &a.component("posts-id"), "");
    route(&mut text, "/api/posts/new", &a.component("users"), "limits = { memory = \"16MiB\", timeout = \"500ms\" }\n");
    route(&mut text, "/api/hello", &a.component("hello"), "");
    text
}

/// `wasmroutes routes <manifest> <extra…>`'s output; it must succeed.
fn routes(dir: &Path, extra: &[&str]) -> String {
    let cache = artifacts().compile_cache.display().to_string();
    let mut args = vec!["routes", "routes.toml", "--cache-dir", &cache];
    args.extend_from_slice(extra);
    let out = run_wasmroutes(&args, dir, &[]);
    assert!(out.status.success(), "routes {extra:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn assert_mentions(output: &str, parts: &[&str]) {
    for part in parts {
        assert!(output.contains(part), "expected {part:?} in:\n{output}");
    }
}

#[test]
fn the_table_lists_routes_in_precedence_order_with_methods_and_limits() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("routes.toml"), manifest()).expect("write");
    let table = routes(dir.path(), &[]);
    let lines: Vec<&str> = table.lines().collect();
    let paths: Vec<&str> = lines.iter().skip(1).filter_map(|l| l.split_whitespace().next()).collect();
    assert_eq!(
        paths,
        ["/api/hello", "/api/posts/new", "/api/posts/[id]", "/api/posts/[...slug]", "/api/shop/[[...slug]]"],
        "{table}"
    );
    assert_mentions(lines[0], &["PATH", "METHODS", "MEMORY", "TIMEOUT", "MAX_BODY", "CONCURRENCY", "COMPONENT"]);
    assert_mentions(lines[1], &["GET, HEAD, OPTIONS", "64MiB", "10s", "1MiB", "256", "hello.wasm"]);
    assert_mentions(lines[2], &["POST, OPTIONS", "16MiB", "500ms", "users.wasm"]);
}

#[test]
fn match_explains_the_winner_and_agrees_with_the_server() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("routes.toml"), manifest()).expect("write");
    let host = TestHost::routes(&manifest()).start();

    // A static segment beats a param and a catch-all that also match.
    let posted = routes(dir.path(), &["--match", "/api/posts/new", "--method", "POST"]);
    assert_mentions(
        &posted,
        &[
            "/api/posts/new        WINS",
            "/api/posts/[id]       also matches, but loses at segment 3: static `new` beats `[id]`",
            "/api/posts/[...slug]  also matches, but loses at segment 3: static `new` beats `[...slug]`",
            "the component's `post` handler is called",
        ],
    );

    // A param, decoded.
    let param = routes(dir.path(), &["--match", "/api/posts/4%202"]);
    assert_mentions(&param, &["/api/posts/[id]       WINS", "params      id = \"4 2\"", "`get` handler is called"]);
    assert_eq!(host.get("/api/posts/4%202").json()["id"], "4 2");

    // A catch-all keeps every segment, an encoded slash inside its own.
    let rest = routes(dir.path(), &["--match", "/api/posts/a/b%2Fc"]);
    assert_mentions(&rest, &["/api/posts/[...slug]  WINS", "slug = [\"a\", \"b/c\"]"]);
    assert_eq!(host.get("/api/posts/a/b%2Fc").json(), serde_json::json!({ "slug": ["a", "b/c"] }));

    // 405, with the same Allow the server sends.
    let refused = routes(dir.path(), &["--match", "/api/posts/42", "--method", "delete"]);
    assert_mentions(&refused, &["405 Method Not Allowed, Allow: GET, HEAD, OPTIONS"]);
    let server = host.request("DELETE", "/api/posts/42", &[], b"");
    assert_eq!((server.status, server.header("allow")), (405, Some("GET, HEAD, OPTIONS")));

    // Automatic HEAD from GET, and automatic OPTIONS.
    let head = routes(dir.path(), &["--match", "/api/hello", "--method", "HEAD"]);
    assert_mentions(&head, &["automatic HEAD: the component's `get` handler is called"]);
    assert_eq!(host.request("HEAD", "/api/hello", &[], b"").status, 200);
    let options = routes(dir.path(), &["--match", "/api/hello", "--method", "OPTIONS"]);
    assert_mentions(&options, &["204 No Content, Allow: GET, HEAD, OPTIONS (automatic OPTIONS"]);

    // A non-canonical path redirects (query kept), then routes.
    let redirected = routes(dir.path(), &["--match", "/api//hello/?x=1"]);
    assert_mentions(
        &redirected,
        &["308 Permanent Redirect to /api/hello?x=1", "GET /api/hello?x=1", "/api/hello  WINS"],
    );
    let server = host.get("/api//hello/?x=1");
    assert_eq!((server.status, server.header("location")), (308, Some("/api/hello?x=1")));

    // An optional catch-all answers the bare path with no segments.
    let bare = routes(dir.path(), &["--match", "/api/shop"]);
    assert_mentions(&bare, &["/api/shop/[[...slug]]  WINS", "slug = []"]);

    // Nothing matches: 404; a malformed escape: 400.
    let missing = routes(dir.path(), &["--match", "/api/nope"]);
    assert_mentions(&missing, &["considered  none", "404 Not Found"]);
    assert_eq!(host.get("/api/nope").status, 404);
    let malformed = routes(dir.path(), &["--match", "/api/%zz"]);
    assert_mentions(&malformed, &["400 Bad Request: Malformed percent-encoding"]);
    assert_eq!(host.get("/api/%zz").status, 400);
}
