//! `serve --watch`: a changed component or routes.toml is loaded in the
//! background and swapped in whole; requests never fail across the swap; a
//! broken change keeps the running version; a route's sources rebuild it.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use e2e_support::{TestHost, artifacts, eventually, send};

const HELLO: &str = r#"{"message":"Hello from API!"}"#;
const POSTS: &str = r#"[{"id":1,"title":"First Post"},{"id":2,"title":"Second Post"}]"#;

/// Generous: a reload compiles a component on a busy 2-core machine.
const DEADLINE: Duration = Duration::from_secs(90);

/// Replaces `to` with a copy of `from` the way cargo and careful editors
/// do: written beside it, then renamed over it.
fn place(from: &Path, to: &Path) {
    let tmp = to.with_extension("tmp");
    std::fs::copy(from, &tmp).expect("copy component");
    std::fs::rename(&tmp, to).expect("rename into place");
}

/// Serves `manifest` with `--watch` and waits until the watcher is running.
fn start_watching(manifest: &Path, extra: &[&str]) -> TestHost {
    let mut args = vec!["--watch"];
    args.extend_from_slice(extra);
    let host = TestHost::manifest(manifest).args(&args).start();
    wait_for_log(&host, 0, "for changes");
    host
}

/// Waits until the log, past its first `from` bytes, contains `needle`;
/// returns that part of the log.
fn wait_for_log(host: &TestHost, from: usize, needle: &str) -> String {
    eventually(DEADLINE, || {
        let log = host.log_text();
        let new = log.get(from..).unwrap_or_default();
        if new.contains(needle) { Ok(new.to_owned()) } else { Err(format!("the log never said {needle:?}:\n{log}")) }
    })
}

/// Waits until `GET target` answers 200 with `body`.
fn wait_for_body(host: &TestHost, target: &str, body: &str) {
    eventually(DEADLINE, || {
        let resp = host.get(target);
        if resp.status == 200 && resp.text() == body {
            return Ok(());
        }
        Err(format!("{target} never answered {body}; last: {} {}", resp.status, resp.text()))
    })
}

fn one_route_manifest(dir: &Path, extra: &str) -> String {
    let toml = format!("[[route]]\npath = \"/api/thing\"\ncomponent = \"route.wasm\"\n{extra}");
    std::fs::write(dir.join("routes.toml"), &toml).expect("write routes.toml");
    toml
}

#[test]
fn a_component_swapped_under_load_switches_with_no_failed_request() {
    let a = artifacts();
    let dir = tempfile::tempdir().expect("temp dir");
    place(&a.component("hello"), &dir.path().join("route.wasm"));
    one_route_manifest(dir.path(), "");
    let host = start_watching(&dir.path().join("routes.toml"), &[]);
    assert_eq!(host.get("/api/thing").text(), HELLO);

    let stop = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicUsize::new(0));
    let switched = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (addr, stop) = (host.addr, Arc::clone(&stop));
            let (started, switched) = (Arc::clone(&started), Arc::clone(&switched));
            std::thread::spawn(move || {
                let deadline = Instant::now() + DEADLINE;
                let mut answers: Vec<(u16, String)> = Vec::new();
                while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                    let resp = send(addr, "GET", "/api/thing", &[], b"");
                    if answers.is_empty() {
                        started.fetch_add(1, Ordering::Relaxed);
                    }
                    if resp.text() == POSTS && !answers.iter().any(|(_, body)| body == POSTS) {
                        switched.fetch_add(1, Ordering::Relaxed);
                    }
                    answers.push((resp.status, resp.text()));
                }
                answers
            })
        })
        .collect();

    // Every client is under way on the old version before the swap.
    let all_started = || started.load(Ordering::Relaxed) >= clients.len();
    eventually(DEADLINE, || if all_started() { Ok(()) } else { Err("not every client got an answer".into()) });
    std::thread::sleep(Duration::from_millis(100));
    place(&a.component("posts"), &dir.path().join("route.wasm"));
    let all_switched = || switched.load(Ordering::Relaxed) >= clients.len();
    eventually(DEADLINE, || if all_switched() { Ok(()) } else { Err("not every client saw the new version".into()) });
    // Some more requests on the new version, then stop.
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);

    let mut total = 0;
    for client in clients {
        let answers = client.join().expect("client thread");
        total += answers.len();
        for (status, body) in &answers {
            assert_eq!(*status, 200, "a request failed during the swap: {body}");
            assert!(body == HELLO || body == POSTS, "unexpected answer: {body}");
        }
        // Requests of one client run one after another: once one got the new
        // version, every later one must too (the swap is atomic).
        let first_new = answers.iter().position(|(_, b)| b == POSTS).expect("this client saw the new version");
        assert!(answers[first_new..].iter().all(|(_, b)| b == POSTS), "a client went back to the old version");
        assert!(answers[0].1 == HELLO, "the client started on the old version");
    }
    assert!(total > 8, "the load ran ({total} requests)");
    let log = wait_for_log(&host, 0, "reloaded 1 route(s)");
    assert!(!log.contains("reload failed"), "{log}");
}

#[test]
fn a_broken_change_keeps_the_old_version_and_a_good_one_recovers() {
    let a = artifacts();
    let dir = tempfile::tempdir().expect("temp dir");
    let component = dir.path().join("route.wasm");
    let manifest = dir.path().join("routes.toml");
    place(&a.component("hello"), &component);
    let good = one_route_manifest(dir.path(), "");
    let host = start_watching(&manifest, &[]);

    // Garbage bytes, written in place (as a half-finished write would be).
    let mark = host.log_text().len();
    std::fs::write(&component, b"\0asm garbage, not a component").expect("write garbage");
    let log = wait_for_log(&host, mark, "reload failed");
    assert!(log.contains("still serving the previous version"), "{log}");
    assert!(log.contains("routes.toml:1:1: route `/api/thing`"), "names file, line and route: {log}");
    assert!(log.contains("is not a valid WebAssembly component"), "{log}");
    assert_eq!(host.get("/api/thing").text(), HELLO);

    // A real component whose exports are wrong.
    let mark = host.log_text().len();
    place(&a.component("no-handler"), &component);
    let log = wait_for_log(&host, mark, "exports no handler");
    assert!(log.contains("reload failed"), "{log}");
    assert_eq!(host.get("/api/thing").text(), HELLO);

    // The old component again: nothing to compile.
    let mark = host.log_text().len();
    place(&a.component("hello"), &component);
    let log = wait_for_log(&host, mark, "reloaded 1 route(s)");
    assert!(log.contains("(0 compiled, 0 from cache, 1 unchanged)"), "{log}");

    // routes.toml that is not TOML.
    let mark = host.log_text().len();
    std::fs::write(&manifest, "[[route]\npath = \"/api/thing\"\n").expect("write bad toml");
    let log = wait_for_log(&host, mark, "reload failed");
    assert!(log.contains("routes.toml:1:"), "names the file and line: {log}");
    assert_eq!(host.get("/api/thing").text(), HELLO);

    // More memory than the running engine was sized for.
    let mark = host.log_text().len();
    one_route_manifest(dir.path(), "limits = { memory = \"1GiB\" }\n");
    let log = wait_for_log(&host, mark, "restart `wasmroutes serve`");
    assert!(log.contains("routes.toml:1:1: route `/api/thing`: limits.memory = 1GiB"), "{log}");
    assert!(log.contains("reload failed"), "{log}");
    assert_eq!(host.get("/api/thing").text(), HELLO);

    // A good change recovers.
    std::fs::write(&manifest, good).expect("restore routes.toml");
    place(&a.component("posts"), &component);
    wait_for_body(&host, "/api/thing", POSTS);
}

#[test]
fn a_route_added_to_routes_toml_appears_and_only_its_component_compiles() {
    let a = artifacts();
    let dir = tempfile::tempdir().expect("temp dir");
    let manifest = dir.path().join("routes.toml");
    for package in ["hello", "posts", "users"] {
        place(&a.component(package), &dir.path().join(format!("{package}.wasm")));
    }
    let route = |path: &str, package: &str| format!("[[route]]\npath = \"{path}\"\ncomponent = \"{package}.wasm\"\n\n");
    let two = route("/api/hello", "hello") + &route("/api/posts", "posts");
    std::fs::write(&manifest, &two).expect("write routes.toml");
    // No compile cache: every component loaded is compiled, so the counts
    // say exactly what the reload did.
    let host = start_watching(&manifest, &["--no-cache"]);
    assert_eq!(host.get("/api/users").status, 404);

    let mark = host.log_text().len();
    std::fs::write(&manifest, two.clone() + &route("/api/users", "users")).expect("add a route");
    let log = wait_for_log(&host, mark, "reloaded 3 route(s)");
    assert!(log.contains("(1 compiled, 0 from cache, 2 unchanged)"), "{log}");
    let created = host.request("POST", "/api/users", &[], br#"{"name":"Ada","email":"ada@example.com"}"#);
    assert_eq!(created.status, 201, "{}", created.text());
    assert_eq!(host.get("/api/hello").text(), HELLO);

    let mark = host.log_text().len();
    std::fs::write(&manifest, route("/api/hello", "hello") + &route("/api/users", "users")).expect("drop a route");
    let log = wait_for_log(&host, mark, "reloaded 2 route(s)");
    assert!(log.contains("(0 compiled, 0 from cache, 2 unchanged)"), "{log}");
    host.get("/api/posts").assert_error(404, "Not found");
}

#[test]
fn a_source_change_runs_the_routes_build_and_the_route_updates() {
    let a = artifacts();
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(dir.path().join("src")).expect("src dir");
    std::fs::create_dir_all(dir.path().join("out")).expect("out dir");
    let choice = dir.path().join("src").join("choice.txt");
    std::fs::write(&choice, a.component("hello").display().to_string()).expect("write source");
    place(&a.component("hello"), &dir.path().join("out").join("route.wasm"));
    // The "build" copies whichever component the source names into place.
    let toml = "[[route]]\npath = \"/api/thing\"\ncomponent = \"out/route.wasm\"\n\
                build = 'cp \"$(cat src/choice.txt)\" out/route.wasm.tmp && mv out/route.wasm.tmp out/route.wasm'\n\
                watch = [\"src/*.txt\"]\n";
    std::fs::write(dir.path().join("routes.toml"), toml).expect("write routes.toml");
    let host = start_watching(&dir.path().join("routes.toml"), &[]);
    assert_eq!(host.get("/api/thing").text(), HELLO);

    let mark = host.log_text().len();
    std::fs::write(&choice, a.component("posts").display().to_string()).expect("edit source");
    wait_for_body(&host, "/api/thing", POSTS);
    let log = wait_for_log(&host, mark, "reloaded 1 route(s)");
    assert!(log.contains("sources changed; running build command"), "{log}");

    // A failing build shows its output and changes nothing.
    let mark = host.log_text().len();
    std::fs::write(&choice, "/nonexistent/route.wasm").expect("break the source");
    // (cp's own message names the missing file.)
    let log = wait_for_log(&host, mark, "/nonexistent/route.wasm");
    assert!(log.contains("routes.toml:1:1: route `/api/thing`: build command `cp"), "{log}");
    assert!(log.contains("failed with exit status"), "{log}");
    assert_eq!(host.get("/api/thing").text(), POSTS);
}
