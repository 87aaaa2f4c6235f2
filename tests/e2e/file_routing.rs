//! File-based routing: `serve --dir` maps a tree of `route.wasm` folders the
//! way Next.js maps `app/api`, with the same rules and errors as routes.toml.

use e2e_support::{RouteTree, TestHost, artifacts};
use serde_json::json;

/// A tree with every kind of folder, served by the real binary.
fn sample_tree() -> RouteTree {
    let tree = RouteTree::new("api");
    tree.route("hello", "hello")
        .route("posts/[id]", "posts-id")
        .route("docs/[...slug]", "docs-slug")
        .route("shop/[[...slug]]", "shop-slug")
        .route("(admin)/greet", "hello")
        .route("_private/secret", "hello")
        .route(".hidden", "hello")
        .route("configured", "hostile")
        .file(
            "configured/route.toml",
            "env = { GREETING = \"hello ${WASMROUTES_TEST_GREETING}\" }\nlimits = { max_body = \"1KiB\" }\n",
        )
        .route("plain", "hostile")
        .file("hello/README.md", "files other than route.wasm and route.toml are left alone");
    tree
}

#[test]
fn folders_map_to_routes_like_next_js_app_api() {
    let tree = sample_tree();
    let host = TestHost::dir(&tree.root).start();

    let hello = host.get("/api/hello");
    assert_eq!((hello.status, hello.text().as_str()), (200, r#"{"message":"Hello from API!"}"#));
    let post = host.get("/api/posts/42");
    assert_eq!(post.status, 200);
    assert_eq!(post.json()["id"], "42", "[id] folder is a param: {}", post.text());
    assert_eq!(host.get("/api/docs/a/b").json(), json!({ "slug": ["a", "b"] }));
    host.get("/api/docs").assert_error(404, "Not found");
    assert_eq!(host.get("/api/shop").json(), json!({ "slug": [] }), "[[...slug]] also matches zero segments");
    assert_eq!(host.get("/api/shop/x/y").json(), json!({ "slug": ["x", "y"] }));

    let grouped = host.get("/api/greet");
    assert_eq!(grouped.status, 200, "a (group) folder is left out of the URL");
    for hidden in ["/api/(admin)/greet", "/api/_private/secret", "/api/.hidden", "/api/hello/README.md"] {
        host.get(hidden).assert_error(404, "Not found");
    }

    let log = host.log_text();
    assert!(log.contains("7 route(s) from"), "skipped folders are not routes:\n{log}");
    let sql = tree.root.parent().expect("tree in a temp dir").join(".wasmroutes/sql");
    assert!(!sql.exists(), "no route lists the `default` database, so it is never opened");
}

#[test]
fn route_toml_gives_its_route_env_and_limits_and_no_other() {
    let tree = sample_tree();
    let host = TestHost::dir(&tree.root).start();

    let configured = host.get("/api/configured?do=env");
    assert_eq!(configured.json(), json!({ "GREETING": "hello from the host" }), "interpolated from the host env");
    assert_eq!(host.get("/api/plain?do=env").json(), json!({}), "no route.toml: no env");

    host.request("POST", "/api/configured", &[], &[b'x'; 2000])
        .assert_error(413, "Request body exceeds the limit of 1024 bytes");
    let plain = host.request("POST", "/api/plain", &[], &[b'x'; 2000]);
    assert_eq!(plain.status, 200, "the default body limit applies elsewhere: {}", plain.text());
}

#[test]
fn check_accepts_a_tree_and_serve_refuses_a_tree_with_a_manifest() {
    let a = artifacts();
    let tree = sample_tree();
    let out = std::process::Command::new(&a.binary)
        .arg("check")
        .arg("--dir")
        .arg(&tree.root)
        .env("WASMROUTES_TEST_GREETING", "x")
        .output()
        .expect("run check");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("7 route(s) OK") && stdout.contains("/api/posts/[id]"), "{stdout}");

    let out = std::process::Command::new(&a.binary)
        .args(["serve", "routes.toml", "--dir"])
        .arg(&tree.root)
        .output()
        .expect("run serve");
    assert_eq!(out.status.code(), Some(2), "a usage error");
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be used with"));
}

#[test]
fn conflicting_folders_fail_start_up_naming_both() {
    let tree = RouteTree::new("api");
    tree.route("posts/[id]", "posts-id").route("posts/[slug]", "posts-id");
    let output = refused(&tree);
    for part in ["posts/[id]/route.wasm", "posts/[slug]/route.wasm", "param names", "rename or remove one"] {
        assert!(output.contains(part), "expected {part:?} in:\n{output}");
    }
}

#[test]
fn bad_route_toml_fails_start_up_naming_file_and_line() {
    let tree = RouteTree::new("api");
    tree.route("hello", "hello")
        .route("slow", "hostile")
        .file("slow/route.toml", "\nlimits = { timeout = \"soon\" }\n");
    let output = refused(&tree);
    let at = format!("{}:2:", tree.root.join("slow/route.toml").display());
    assert!(output.contains(&at) && output.contains("limits.timeout"), "expected {at:?} in:\n{output}");
}

#[test]
fn bad_folder_names_and_empty_trees_fail_start_up_saying_what_to_do() {
    let tree = RouteTree::new("api");
    tree.route("posts/[id", "posts-id");
    let output = refused(&tree);
    assert!(output.contains("posts/[id: folder name `[id` is not a valid URL segment"), "{output}");

    let empty = RouteTree::new("api");
    empty.route("_drafts/hello", "hello");
    let output = refused(&empty);
    assert!(output.contains("no routes: expected `route.wasm`"), "{output}");
}

/// A tree's `default` database: SQLite under `.wasmroutes/` beside the tree,
/// migrated from `_migrations/`, open to the routes whose route.toml lists it,
/// and reached by `wasmroutes db --dir` as a routes.toml's databases are.
#[test]
fn a_tree_has_a_default_database_migrated_from_its_migrations_folder() {
    let tree = RouteTree::new("api");
    tree.route("notes", "sql-plain")
        .file("notes/route.toml", "databases = [\"default\"]\n")
        .route("other", "sql-plain")
        .file("_migrations/0001_notes.sql", "CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT NOT NULL UNIQUE);");
    let host = TestHost::dir(&tree.root).start();
    assert!(host.log_text().contains("applied migrations 0001_notes.sql"), "{}", host.log_text());

    let first = host.request("POST", "/api/notes?db=default", &[], b"first");
    assert_eq!((first.status, first.json()["id"].as_i64()), (201, Some(1)), "{}", first.text());
    assert_eq!(host.request("POST", "/api/notes?db=default", &[], b"first").status, 409, "the migration's UNIQUE");
    assert_eq!(host.get("/api/notes?db=default").json(), json!([{ "id": 1, "title": "first" }]));
    assert_eq!(host.get("/api/other?db=default").text(), "access-denied: default", "not listed: denied");
    let beside = tree.root.parent().expect("tree in a temp dir");
    assert!(beside.join(".wasmroutes/sql/default.sqlite").is_file(), "where a routes.toml's `default` would be");
    drop(host);

    let root = tree.root.to_str().expect("UTF-8");
    let db = |args: &[&str]| {
        let out = e2e_support::run_wasmroutes(&[&["db", "--dir", root], args].concat(), beside, &[]);
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        assert!(out.status.success(), "db {args:?}: {}", text(&out.stderr));
        text(&out.stdout)
    };
    assert_eq!(db(&["status"]), "0001_notes.sql\tapplied\n");
    assert_eq!(db(&["query", "SELECT title FROM notes"]), "title\nfirst\n");
}

/// Starts a host that must fail; returns its output.
fn refused(tree: &RouteTree) -> String {
    match TestHost::dir(&tree.root).try_start() {
        Ok(host) => panic!("host started on {} but should have refused {}", host.addr, tree.root.display()),
        Err(output) => output,
    }
}
