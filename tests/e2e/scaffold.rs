//! `wasmroutes new`: a fresh route crate builds and serves with no edits,
//! also outside this repository with the SDK's minimum Rust, and so does a
//! fresh route.js; clashing paths and bad names are refused without touching
//! anything.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use e2e_support::{TestHost, artifacts, precompile, route, run_wasmroutes};

/// Where generated crates build: inside the workspace target dir, so the
/// compiled dependencies survive between test runs.
fn scaffold_target_dir() -> PathBuf {
    artifacts().target_dir.join("e2e-scaffold")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
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

/// `program ARGS` in `cwd` as on a route author's machine: no toolchain
/// chosen by the environment (cargo, which runs these tests, sets
/// RUSTUP_TOOLCHAIN), so a `rust-toolchain.toml` in `cwd` decides, as it
/// does for someone typing the command there.
fn as_author(program: &Path, args: &[&str], cwd: &Path, env: &[(&str, &Path)]) -> Output {
    let mut command = Command::new(program);
    command.args(args).current_dir(cwd).stdin(Stdio::null());
    for var in ["RUSTUP_TOOLCHAIN", "RUSTUP_TOOLCHAIN_SOURCE", "RUSTC", "RUSTC_WRAPPER", "CARGO"] {
        command.env_remove(var);
    }
    command.envs(env.iter().copied());
    command.output().unwrap_or_else(|e| panic!("run {}: {e}", program.display()))
}

/// The `rust-version` guest-sdk/Cargo.toml declares.
fn sdk_rust_version() -> String {
    let manifest = std::fs::read_to_string(artifacts().root.join("guest-sdk/Cargo.toml")).expect("the SDK's manifest");
    manifest
        .lines()
        .find_map(|line| line.strip_prefix("rust-version = \"")?.strip_suffix('"'))
        .expect("guest-sdk/Cargo.toml declares its own rust-version")
        .to_owned()
}

#[test]
fn a_route_made_outside_the_repository_tests_builds_and_serves_with_the_sdks_minimum_rust() {
    let dir = tempfile::tempdir().expect("temp dir"); // under /tmp: outside the checkout
    let wasmroutes = artifacts().binary.as_path();
    // Its own target dir under ours: compiled dependencies survive between runs.
    let target = artifacts().target_dir.join("e2e-scaffold-sdk-minimum");
    let env = [("CARGO_TARGET_DIR", target.as_path())];

    let made = as_author(
        wasmroutes,
        &["new", "greet", "--path", "/api/greet/[name]", "--methods", "get,post"],
        dir.path(),
        &env,
    );
    assert!(made.status.success(), "new failed:\n{}", stderr(&made));
    let minimum = sdk_rust_version();
    assert!(
        stdout(&made).contains(&format!("its own Cargo workspace, built with Rust {minimum}")),
        "{}",
        stdout(&made)
    );
    let crate_dir = dir.path().join("greet");
    let toolchain = std::fs::read_to_string(crate_dir.join("rust-toolchain.toml")).expect("rust-toolchain.toml");
    assert!(toolchain.contains(&format!("channel = \"{minimum}\"")), "{toolchain}");
    assert!(toolchain.contains(r#"targets = ["wasm32-wasip2"]"#), "{toolchain}");
    assert_eq!(std::fs::read_to_string(crate_dir.join(".gitignore")).expect(".gitignore"), "/target/\n");

    // The compiler a route author gets in the crate is the SDK's minimum.
    let rustc = as_author(Path::new("rustc"), &["--version"], &crate_dir, &[]);
    assert!(stdout(&rustc).starts_with(&format!("rustc {minimum}.")), "{}{}", stdout(&rustc), stderr(&rustc));

    let tested = as_author(Path::new("cargo"), &["test"], &crate_dir, &env);
    assert!(tested.status.success(), "cargo test failed:\n{}", stderr(&tested));
    assert!(stdout(&tested).contains("test result: ok. 2 passed"), "{}", stdout(&tested));
    let built = as_author(wasmroutes, &["build", "routes.toml"], dir.path(), &env);
    assert!(built.status.success(), "build failed:\n{}", stderr(&built));

    let host = TestHost::manifest(&dir.path().join("routes.toml")).start();
    let got = host.get("/api/greet/Ada");
    assert_eq!(got.json(), serde_json::json!({ "method": "GET", "path": "/api/greet/Ada", "name": "Ada" }));
    let posted = host.request("POST", "/api/greet/Ada", &[], br#"{"hi":1}"#);
    assert_eq!((posted.status, posted.json()["body"].clone()), (201, serde_json::json!({ "hi": 1 })));
}

#[test]
fn a_javascript_route_made_by_new_passes_its_tests_builds_and_serves() {
    let dir = tempfile::tempdir().expect("temp dir");
    let made = run_wasmroutes(
        &["new", "greet", "--js", "--path", "/api/greet/[name]/[[...rest]]", "--methods", "get,post,options"],
        dir.path(),
        &[],
    );
    assert!(made.status.success(), "new --js failed:\n{}", stderr(&made));
    assert!(stdout(&made).contains("(cd greet && node --test route.test.mjs)"), "{}", stdout(&made));
    let manifest = std::fs::read_to_string(dir.path().join("routes.toml")).expect("routes.toml");
    assert_eq!(manifest, "[[route]]\npath = \"/api/greet/[name]/[[...rest]]\"\ncomponent = \"greet/route.js\"\n");

    let tested = Command::new("node")
        .args(["--test", "route.test.mjs"])
        .current_dir(dir.path().join("greet"))
        .output()
        .expect("run node (Node.js 18 or newer)");
    assert!(tested.status.success(), "node --test failed:\n{}{}", stdout(&tested), stderr(&tested));
    assert!(stdout(&tested).contains("# pass 3"), "{}", stdout(&tested));

    let built = run_wasmroutes(&["build", "routes.toml"], dir.path(), &[]);
    assert!(built.status.success(), "build failed:\n{}", stderr(&built));
    precompile(&dir.path().join("routes.toml"));
    let host = TestHost::manifest(&dir.path().join("routes.toml")).start();
    let got = host.get("/api/greet/Ada/x/y");
    assert_eq!(
        got.json(),
        serde_json::json!({ "method": "GET", "path": "/api/greet/Ada/x/y", "name": "Ada", "rest": ["x", "y"] })
    );
    assert_eq!(host.get("/api/greet/Ada").json()["rest"], serde_json::json!([]), "no rest: an empty list");
    let posted = host.request("POST", "/api/greet/Ada", &[], br#"{"hi":1}"#);
    assert_eq!((posted.status, posted.json()["body"].clone()), (201, serde_json::json!({ "hi": 1 })));
    let options = host.request("OPTIONS", "/api/greet/Ada", &[], b"");
    assert_eq!((options.status, options.header("allow")), (204, Some("GET, HEAD, POST, OPTIONS")));
}
