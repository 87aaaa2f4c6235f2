//! `wasmroutes new`: a fresh route crate builds and serves with no edits;
//! clashing paths and bad names are refused without touching anything.

use std::path::{Path, PathBuf};

use e2e_support::{TestHost, artifacts, route, run_wasmroutes};

/// Where generated crates build: inside the workspace target dir, so the
/// compiled dependencies survive between test runs.
fn scaffold_target_dir() -> PathBuf {
    artifacts().target_dir.join("e2e-scaffold")
}

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A routes.toml as a user might have written it: a comment, odd spacing,
/// no final newline.
fn user_manifest(dir: &Path) -> String {
    let mut text = String::from("# my deployment\n");
    route(&mut text, "/api/hello", &artifacts().component("hello"), "");
    text.push_str("# the end   ");
    std::fs::write(dir.join("routes.toml"), &text).expect("write routes.toml");
    text
}

#[test]
fn a_new_route_builds_and_serves_with_no_edits() {
    let dir = tempfile::tempdir().expect("temp dir");
    let original = user_manifest(dir.path());
    let target = scaffold_target_dir();
    let env = [("CARGO_TARGET_DIR", target.as_path())];

    let made =
        run_wasmroutes(&["new", "things-id", "--path", "/api/things/[id]", "--methods", "get,post"], dir.path(), &env);
    assert!(made.status.success(), "new failed:\n{}", stderr(&made));
    let said = stdout(&made);
    for next in ["wasmroutes build routes.toml", "wasmroutes serve routes.toml", "curl -s localhost:3000/api/things/42"]
    {
        assert!(said.contains(next), "expected {next:?} in:\n{said}");
    }
    let manifest = std::fs::read_to_string(dir.path().join("routes.toml")).expect("routes.toml");
    assert!(manifest.starts_with(&original), "the user's text must stay as it was:\n{manifest}");
    assert!(manifest.contains("path = \"/api/things/[id]\""), "{manifest}");
    let lib = std::fs::read_to_string(dir.path().join("things-id/src/lib.rs")).expect("lib.rs");
    assert!(lib.contains("req.param(\"id\")") && lib.contains("fn post_answers_with_json"), "{lib}");

    // The one build of a generated crate in this test run.
    let built = run_wasmroutes(&["build", "routes.toml"], dir.path(), &env);
    assert!(built.status.success(), "build failed:\n{}", stderr(&built));

    let host = TestHost::manifest(&dir.path().join("routes.toml")).start();
    let got = host.get("/api/things/42");
    assert_eq!(got.status, 200, "{}", got.text());
    assert_eq!(got.json(), serde_json::json!({ "method": "GET", "path": "/api/things/42", "id": "42" }));
    let posted = host.request("POST", "/api/things/7", &[], br#"{"name":"Ada"}"#);
    assert_eq!(posted.status, 201, "{}", posted.text());
    assert_eq!(posted.json()["body"], serde_json::json!({ "name": "Ada" }));
    let deleted = host.request("DELETE", "/api/things/7", &[], b"");
    deleted.assert_error(405, "Method DELETE not allowed; allowed: GET, HEAD, POST, OPTIONS");
    assert_eq!(deleted.header("allow"), Some("GET, HEAD, POST, OPTIONS"));
    assert_eq!(host.get("/api/hello").status, 200, "the user's own route still serves");
}

#[test]
fn a_path_that_clashes_with_an_existing_route_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut text = String::new();
    route(&mut text, "/api/things/[slug]", &artifacts().component("posts-id"), "");
    std::fs::write(dir.path().join("routes.toml"), &text).expect("write routes.toml");

    let refused = run_wasmroutes(&["new", "things-id", "--path", "/api/things/[id]"], dir.path(), &[]);
    assert!(!refused.status.success());
    let why = stderr(&refused);
    for part in ["`/api/things/[id]`", "`/api/things/[slug]`", "routes.toml:1:1", "two different param names"] {
        assert!(why.contains(part), "expected {part:?} in:\n{why}");
    }
    assert!(!dir.path().join("things-id").exists(), "nothing is created");
    assert_eq!(std::fs::read_to_string(dir.path().join("routes.toml")).expect("routes.toml"), text);
}

#[test]
fn bad_names_and_paths_are_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cases: [(&[&str], &str); 5] = [
        (&["new", "Things", "--path", "/api/things"], "not a valid route name"),
        (&["new", "1things", "--path", "/api/things"], "not a valid route name"),
        (&["new", "fn", "--path", "/api/things"], "cannot be a route name"),
        (&["new", "things", "--path", "/api/[id"], "`[id` is not `[name]`"),
        (&["new", "things", "--path", "/api/x", "--methods", "get,fetch"], "`fetch` is not one of get, post"),
    ];
    for (args, expected) in cases {
        let refused = run_wasmroutes(args, dir.path(), &[]);
        assert!(!refused.status.success(), "{args:?} should fail");
        assert!(stderr(&refused).contains(expected), "{args:?}: expected {expected:?} in:\n{}", stderr(&refused));
    }
    let left: Vec<_> = std::fs::read_dir(dir.path()).expect("read dir").collect();
    assert!(left.is_empty(), "nothing is written: {left:?}");
}
