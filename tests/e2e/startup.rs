//! A bad deployment is refused at start, naming the file, line and problem;
//! nothing is half-loaded.

use e2e_support::{TestHost, artifacts, route};

/// Starts a host that must fail; returns its output.
fn refused(routes_toml: &str) -> String {
    match TestHost::routes(routes_toml).try_start() {
        Ok(host) => panic!("host started on {} but should have refused:\n{routes_toml}", host.addr),
        Err(output) => output,
    }
}

fn assert_mentions(output: &str, parts: &[&str]) {
    for part in parts {
        assert!(output.contains(part), "expected {part:?} in:\n{output}");
    }
}

#[test]
fn bad_manifests_are_refused_with_file_line_and_problem() {
    let a = artifacts();
    let hello = a.component("hello");
    let mut good = String::new();
    route(&mut good, "/api/hello", &hello, "");

    let cases: Vec<(String, Vec<&str>)> = vec![
        ("[[route]\npath = 1".into(), vec!["routes.toml:1:"]),
        (
            format!("{good}[[route]]\npath = \"/x\"\ncomponent = \"x.wasm\"\nmethods = [\"GET\"]\n"),
            vec!["routes.toml:8:", "unknown field `methods`"],
        ),
        (format!("{good}[[route]]\npath = \"/api/[id\"\ncomponent = \"x.wasm\"\n"), vec!["routes.toml:6:", "`[id`"]),
        (
            format!(
                "{good}[[route]]\npath = \"/x\"\ncomponent = \"x.wasm\"\nenv = {{ K = \"${{WASMROUTES_UNSET_VAR}}\" }}\n"
            ),
            vec!["routes.toml:8:", "WASMROUTES_UNSET_VAR", "not set"],
        ),
    ];
    for (toml, expected) in cases {
        assert_mentions(&refused(&toml), &expected);
    }
}

#[test]
fn conflicting_routes_are_refused_naming_both() {
    let hello = artifacts().component("hello");
    let mut toml = String::new();
    route(&mut toml, "/api/posts/[id]", &hello, "");
    route(&mut toml, "/api/posts/[slug]/edit", &hello, "");
    assert_mentions(
        &refused(&toml),
        &["routes.toml:5:", "`/api/posts/[slug]/edit`", "`/api/posts/[id]`", "param names"],
    );

    let mut toml = String::new();
    route(&mut toml, "/api/shop", &hello, "");
    route(&mut toml, "/api/shop/[[...slug]]", &hello, "");
    assert_mentions(&refused(&toml), &["routes.toml:5:", "optional catch-all"]);
}

#[test]
fn unusable_components_are_refused_before_serving() {
    let a = artifacts();
    let mut missing = String::new();
    route(&mut missing, "/api/hello", &a.component("hello"), "");
    route(&mut missing, "/api/gone", &a.wasm_dir.join("does_not_exist.wasm"), "");
    assert_mentions(&refused(&missing), &["routes.toml:5:", "/api/gone", "does_not_exist.wasm", "cannot read"]);

    let mut no_handler = String::new();
    route(&mut no_handler, "/api/plain", &a.component("no-handler"), "");
    assert_mentions(&refused(&no_handler), &["routes.toml:1:", "exports no handler", "greet"]);

    let mut wrong = String::new();
    route(&mut wrong, "/api/wrong", &a.component("wrong-type"), "");
    assert_mentions(&refused(&wrong), &["routes.toml:1:", "GET handler has the wrong type"]);

    let mut not_wasm = String::new();
    route(&mut not_wasm, "/api/toml", &a.root.join("Cargo.toml"), "");
    assert_mentions(&refused(&not_wasm), &["routes.toml:1:", "not a valid WebAssembly component"]);
}

#[test]
fn build_runs_each_distinct_build_command_from_the_manifest_directory() {
    let a = artifacts();
    let dir = tempfile::tempdir().expect("temp dir");
    let hello = a.component("hello");
    let mut toml = String::new();
    route(&mut toml, "/a", &hello, "build = \"echo a >> built.txt\"\n");
    route(&mut toml, "/b", &hello, "build = \"echo a >> built.txt\"\n");
    route(&mut toml, "/c", &hello, "build = \"echo c >> built.txt\"\n");
    let manifest = dir.path().join("routes.toml");
    std::fs::write(&manifest, &toml).expect("write routes.toml");
    let out = std::process::Command::new(&a.binary).arg("build").arg(&manifest).output().expect("run build");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let built =
        std::fs::read_to_string(dir.path().join("built.txt")).expect("commands ran in the manifest's directory");
    assert_eq!(built, "a\nc\n", "a command shared by two routes runs once");

    route(&mut toml, "/d", &hello, "build = \"exit 3\"\n");
    std::fs::write(&manifest, &toml).expect("write routes.toml");
    let out = std::process::Command::new(&a.binary).arg("build").arg(&manifest).output().expect("run build");
    assert!(!out.status.success(), "a failing build command fails `wasmroutes build`");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_mentions(&stderr, &["routes.toml:16:", "/d", "exit 3", "failed"]);
}

#[test]
fn check_validates_without_serving() {
    let a = artifacts();
    let dir = tempfile::tempdir().expect("temp dir");
    let manifest = dir.path().join("routes.toml");
    let check = || std::process::Command::new(&a.binary).arg("check").arg(&manifest).output().expect("run check");

    let mut good = String::new();
    route(&mut good, "/api/hello", &a.component("hello"), "");
    route(&mut good, "/api/todos", &a.component("todos"), "");
    std::fs::write(&manifest, &good).expect("write routes.toml");
    let out = check();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("2 route(s) OK") && stdout.contains("GET, HEAD, POST, DELETE, OPTIONS"), "{stdout}");

    let mut bad = good.clone();
    route(&mut bad, "/api/wrong", &a.component("wrong-type"), "");
    std::fs::write(&manifest, &bad).expect("write routes.toml");
    let out = check();
    assert_eq!(out.status.code(), Some(1));
    assert_mentions(&String::from_utf8_lossy(&out.stderr), &["routes.toml:9:", "GET handler has the wrong type"]);
}

#[test]
fn loading_reports_progress_per_component() {
    let a = artifacts();
    let dir = tempfile::tempdir().expect("temp dir");
    let manifest = dir.path().join("routes.toml");
    let mut toml = String::new();
    route(&mut toml, "/api/hello", &a.component("hello"), "");
    route(&mut toml, "/api/todos", &a.component("todos"), "");
    route(&mut toml, "/api/todos/again", &a.component("todos"), "");
    std::fs::write(&manifest, &toml).expect("write routes.toml");
    let out = std::process::Command::new(&a.binary)
        .arg("check")
        .arg(&manifest)
        .env("RUST_LOG", "info,wasmroutes::load_progress=debug")
        .output()
        .expect("run check");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // One line per distinct component file, numbered out of the total.
    assert_eq!(stderr.matches("loaded component ").count(), 2, "{stderr}");
    assert_mentions(&stderr, &["loaded component 1/2: ", "loaded component 2/2: ", "hello.wasm (compiled)"]);
}

#[test]
fn a_mistake_is_one_error_line_with_its_causes_even_with_rust_backtrace_set() {
    let a = artifacts();
    let dir = tempfile::tempdir().expect("temp dir");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(&a.binary)
            .args(args)
            .current_dir(dir.path())
            .env("RUST_BACKTRACE", "1")
            .output()
            .expect("run wasmroutes");
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };

    let (code, stderr) = run(&["check", "nothere.toml"]);
    assert_eq!(code, Some(1));
    assert_eq!(stderr.trim_end(), "error: cannot read nothere.toml: No such file or directory (os error 2)");

    std::fs::write(dir.path().join("routes.toml"), "[[route]]\npath = \"/a\"\ncomponet = \"a.wasm\"\n").expect("write");
    let (code, stderr) = run(&["check"]);
    assert_eq!(code, Some(1));
    assert_eq!(stderr.lines().count(), 1, "one line, no backtrace:\n{stderr}");
    assert!(stderr.starts_with("error: routes.toml:3:1: unknown field `componet`"), "{stderr}");

    // A cause that adds something gets its own line; the port stays busy
    // while the listener lives.
    let busy = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = busy.local_addr().expect("address").to_string();
    let manifest = dir.path().join("ok.toml");
    let mut toml = String::new();
    route(&mut toml, "/a", &a.component("hello"), "");
    std::fs::write(&manifest, toml).expect("write");
    let (code, stderr) = run(&["serve", manifest.to_str().expect("UTF-8 path"), "--addr", &addr, "--no-cache"]);
    assert_eq!(code, Some(1));
    let last: Vec<&str> = stderr.lines().rev().take(2).collect();
    assert_eq!(last, ["  caused by: Address already in use (os error 98)", &format!("error: cannot listen on {addr}")]);
    assert!(!stderr.contains("stack backtrace") && !stderr.contains("Stack backtrace"), "{stderr}");
}
