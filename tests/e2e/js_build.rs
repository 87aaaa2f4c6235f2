//! A route whose component is a `route.js` / `route.ts`: `wasmroutes build`
//! builds it with the toolchain the binary carries (installed into the cache
//! on first use), `serve` explains what to do when it is not built yet, a
//! route tree (`--dir`) takes `route.js` like Next.js's `app/api`, and
//! `serve --watch` rebuilds a saved route file.

use std::path::Path;
use std::time::Duration;

use e2e_support::{TestHost, artifacts, eventually, precompile, run_wasmroutes};

const HELLO_JS: &str = "export function GET() {\n  return Response.json({ message: 'hello from js' })\n}\n";

const SLUG_TS: &str = "type Params = { slug: string[] }\n\
export async function GET(request: Request, { params }: { params: Promise<Params> }) {\n\
  const { slug } = await params\n\
  return Response.json({ slug, method: request.method })\n\
}\n";

/// The tests' compile cache, as an argument.
fn cache_arg() -> &'static str {
    artifacts().compile_cache.to_str().expect("a UTF-8 target path")
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("a folder")).expect("create folder");
    std::fs::write(path, text).expect("write file");
}

/// `wasmroutes build ARGS` in `cwd`, which must succeed; its stderr.
fn build(args: &[&str], cwd: &Path, env: &[(&str, &Path)]) -> String {
    let mut all = vec!["build"];
    all.extend_from_slice(args);
    let out = run_wasmroutes(&all, cwd, env);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "wasmroutes build failed:\n{stderr}");
    stderr
}

#[test]
fn a_route_js_component_is_built_by_wasmroutes_build_with_the_toolchain_it_installs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let project = dir.path().join("project");
    write(&project.join("app/api/hello/route.js"), HELLO_JS);
    write(&project.join("app/api/docs/[...slug]/route.ts"), SLUG_TS);
    let manifest = project.join("routes.toml");
    write(
        &manifest,
        "[[route]]\npath = \"/api/hello\"\ncomponent = \"app/api/hello/route.js\"\n\n\
         [[route]]\npath = \"/api/docs/[...slug]\"\ncomponent = \"app/api/docs/[...slug]/route.ts\"\n",
    );

    // Before a build, loading says what to run instead of "No such file".
    let out = run_wasmroutes(&["check", manifest.to_str().expect("UTF-8 path")], &project, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("routes.toml:1:1: route `/api/hello`: ")
            && stderr.contains(
                ".wasmroutes/build/app/api/hello/route.js.wasm does not exist yet: run `wasmroutes build` first"
            ),
        "{stderr}"
    );

    // An empty cache: the build installs the toolchain there first, once.
    let cache = dir.path().join("cache");
    let log = build(&[], &project, &[("XDG_CACHE_HOME", &cache)]);
    assert!(log.contains("installing the JavaScript toolchain"), "{log}");
    assert!(log.contains("built 2 route(s) from routes.toml"), "{log}");
    let installed: Vec<_> = std::fs::read_dir(cache.join("wasmroutes/js-toolchain"))
        .expect("toolchain folder")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(installed.len(), 1, "one toolchain, no staging folder left behind: {installed:?}");
    assert!(installed[0].join(".installed").is_file() && installed[0].join("guest-js/node_modules").is_dir());
    // From another directory, with a relative manifest path: the route
    // files are found all the same.
    let again = build(&["project/routes.toml"], dir.path(), &[("XDG_CACHE_HOME", &cache)]);
    assert!(!again.contains("installing"), "installed once: {again}");
    assert!(again.contains("built 2 route(s) from project/routes.toml"), "{again}");

    precompile(&manifest);
    let host = TestHost::manifest(&manifest).start();
    let hello = host.get("/api/hello");
    assert_eq!((hello.status, hello.text()), (200, r#"{"message":"hello from js"}"#.to_owned()));
    let docs = host.get("/api/docs/a/b%20c");
    assert_eq!(docs.text(), r#"{"slug":["a","b c"],"method":"GET"}"#);
    // The exports became the component's methods: POST is a host-made 405.
    let post = host.request("POST", "/api/hello", &[], b"");
    assert_eq!((post.status, post.header("allow")), (405, Some("GET, HEAD, OPTIONS")));
}

#[test]
fn a_javascript_component_with_a_build_command_is_refused_at_its_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let manifest = dir.path().join("routes.toml");
    write(&manifest, "[[route]]\npath = \"/a\"\ncomponent = \"route.js\"\nbuild = \"npx tsc\"\n");
    let out = run_wasmroutes(&["check", manifest.to_str().expect("UTF-8 path")], dir.path(), &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("routes.toml:4:9: `build` is not used with a JavaScript component"), "{stderr}");
}

#[test]
fn a_route_tree_takes_route_js_and_route_ts_like_next_js_app_api() {
    let dir = tempfile::tempdir().expect("temp dir");
    let api = dir.path().join("app/api");
    write(&api.join("hello/route.js"), HELLO_JS);
    write(&api.join("docs/[...slug]/route.ts"), SLUG_TS);
    write(&api.join("docs/[...slug]/route.toml"), "limits = { timeout = \"2s\" }\n");
    let api_arg = api.to_str().expect("UTF-8 path");
    build(&["--dir", api_arg], dir.path(), &[]);
    assert!(api.join(".wasmroutes/build/hello/route.js.wasm").is_file());
    let precompiled = run_wasmroutes(&["precompile", "--dir", api_arg, "--cache-dir", cache_arg()], dir.path(), &[]);
    assert!(precompiled.status.success(), "{}", String::from_utf8_lossy(&precompiled.stderr));

    let host = TestHost::dir(&api).start();
    assert_eq!(host.get("/api/hello").text(), r#"{"message":"hello from js"}"#);
    assert_eq!(host.get("/api/docs/x").text(), r#"{"slug":["x"],"method":"GET"}"#);
    host.get("/api/.wasmroutes/build").assert_error(404, "Not found");
}

#[test]
fn serve_watch_rebuilds_a_saved_route_js() {
    let dir = tempfile::tempdir().expect("temp dir");
    let source = dir.path().join("app/api/hello/route.js");
    write(&source, HELLO_JS);
    let manifest = dir.path().join("routes.toml");
    write(&manifest, "[[route]]\npath = \"/api/hello\"\ncomponent = \"app/api/hello/route.js\"\n");
    build(&[], dir.path(), &[]);
    precompile(&manifest);
    let host = TestHost::manifest(&manifest).args(&["--watch"]).start();
    assert_eq!(host.get("/api/hello").text(), r#"{"message":"hello from js"}"#);

    write(&source, &HELLO_JS.replace("hello from js", "saved again"));
    eventually(Duration::from_secs(300), || match host.get("/api/hello").text() {
        saved if saved == r#"{"message":"saved again"}"# => Ok(()),
        other => Err(format!("the saved route.js never answered; last {other}:\n{}", host.log_text())),
    });
    let log = host.log_text();
    assert!(log.contains("sources changed; running JavaScript build"), "{log}");
    // The watcher saw only finished components: no load of a half-written file.
    assert!(!log.contains("not a valid WebAssembly component"), "{log}");
}

#[test]
fn an_unchanged_route_js_rebuilds_to_the_same_bytes_and_is_not_compiled_again() {
    let dir = tempfile::tempdir().expect("temp dir");
    let project = dir.path().join("project");
    let copy = dir.path().join("elsewhere/deeper/copy");
    let manifest_text = "[[route]]\npath = \"/api/hello\"\ncomponent = \"app/api/hello/route.js\"\n";
    for root in [&project, &copy] {
        write(&root.join("app/api/hello/route.js"), HELLO_JS);
        write(&root.join("routes.toml"), manifest_text);
    }
    let component = |root: &Path| {
        std::fs::read(root.join(".wasmroutes/build/app/api/hello/route.js.wasm")).expect("the built component")
    };
    build(&[], &project, &[]);
    let first = component(&project);

    // A fresh compile cache: the first start compiles the component.
    let cache = dir.path().join("compile-cache");
    let cache_arg = cache.to_str().expect("UTF-8 path");
    let host = TestHost::manifest(&project.join("routes.toml")).args(&["--cache-dir", cache_arg]).start();
    assert!(host.log_text().contains("(1 compiled, 0 from cache)"), "{}", host.log_text());
    assert_eq!(host.get("/api/hello").text(), r#"{"message":"hello from js"}"#);
    drop(host);

    // Built again, saved again unchanged, from another working directory,
    // while a copy at another path builds at the same time: every build has
    // the same bytes (nothing of the paths, the clock or the randomness of a
    // build is in the component).
    write(&project.join("app/api/hello/route.js"), HELLO_JS);
    std::thread::scope(|s| {
        let copy_build = s.spawn(|| build(&[], &copy, &[]));
        let again = build(&["project/routes.toml"], dir.path(), &[]);
        assert!(again.contains("built 1 route(s) from project/routes.toml"), "{again}");
        copy_build.join().expect("the copy's build");
    });
    for (what, rebuilt) in [("the rebuild", component(&project)), ("the copy", component(&copy))] {
        assert!(rebuilt == first, "{what} differs from the first build ({} and {} bytes)", rebuilt.len(), first.len());
    }

    // So the host finds the rebuilt component in its cache: nothing to compile.
    let host = TestHost::manifest(&project.join("routes.toml")).args(&["--cache-dir", cache_arg]).start();
    assert!(host.log_text().contains("(0 compiled, 1 from cache)"), "{}", host.log_text());
    assert_eq!(host.get("/api/hello").text(), r#"{"message":"hello from js"}"#);
}

/// CPU-bound work in a loop, a 400 on bad input and a second method: enough
/// for weval's specialisation of the interpreter to show if it got one wrong.
const FIB_JS: &str = "export function GET(request) {\n\
  const n = Number(request.nextUrl.searchParams.get('n'))\n\
  if (!Number.isInteger(n) || n < 0 || n > 90) return Response.json({ error: 'n must be 0 to 90' }, { status: 400 })\n\
  let [a, b] = [0n, 1n]\n\
  for (let i = 0; i < n; i++) [a, b] = [b, a + b]\n\
  const words = Array.from({ length: n }, (_, i) => `w${i % 7}`).sort().join(',')\n\
  return Response.json({ n, fib: a.toString(), words: words.length })\n\
}\n\
export async function POST(request) {\n\
  const body = await request.json()\n\
  return Response.json({ keys: Object.keys(body).sort(), total: Object.values(body).reduce((s, v) => s + v, 0) }, { status: 201 })\n\
}\n";

#[test]
fn an_aot_route_js_is_built_with_weval_and_answers_as_the_interpreted_build_does() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(&dir.path().join("app/api/fib/route.js"), FIB_JS);
    let manifest = dir.path().join("routes.toml");
    write(
        &manifest,
        "[[route]]\npath = \"/api/aot/fib\"\ncomponent = \"app/api/fib/route.js\"\naot = true\n\n\
         [[route]]\npath = \"/api/fib\"\ncomponent = \"app/api/fib/route.js\"\n",
    );

    // Without weval, the build says how to get it; it never downloads one.
    let nowhere = dir.path().join("no-weval-here");
    let out = run_wasmroutes(&["build"], dir.path(), &[("WASMROUTES_WEVAL", &nowhere)]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("routes.toml:1:1: route `/api/aot/fib`: ahead-of-time JavaScript build")
            && stderr.contains("needs weval 0.5.0 for `aot = true`")
            && stderr.contains("install it with `cargo install weval --version 0.5.0 --locked`"),
        "{stderr}"
    );

    // scripts/setup.sh installs weval there.
    let weval = artifacts().root.join("target/tools/bin/weval");
    assert!(weval.is_file(), "{} is missing: run scripts/setup.sh weval", weval.display());
    let log = build(&[], dir.path(), &[("WASMROUTES_WEVAL", &weval)]);
    assert!(log.contains("(GET, POST, ahead of time;"), "{log}");
    let built = dir.path().join(".wasmroutes/build/app/api/fib");
    let (aot, interpreted) = (built.join("route.js.aot.wasm"), built.join("route.js.wasm"));
    let bytes = |p: &Path| std::fs::read(p).expect("a built component");
    assert_ne!(bytes(&aot), bytes(&interpreted), "two different builds, in two files");

    precompile(&manifest);
    let host = TestHost::manifest(&manifest).start();
    for target in ["/api/fib?n=0", "/api/fib?n=1", "/api/fib?n=90", "/api/fib?n=-1", "/api/fib?n=x"] {
        let (want, got) = (host.get(target), host.get(&target.replace("/api/", "/api/aot/")));
        assert_eq!((got.status, got.text()), (want.status, want.text()), "{target}");
    }
    assert_eq!(host.get("/api/aot/fib?n=90").text(), r#"{"n":90,"fib":"2880067194370816120","words":269}"#);
    let body = br#"{"b": 2, "a": 40}"#;
    let (want, got) = (host.request("POST", "/api/fib", &[], body), host.request("POST", "/api/aot/fib", &[], body));
    assert_eq!((got.status, got.text()), (201, r#"{"keys":["a","b"],"total":42}"#.to_owned()));
    assert_eq!((got.status, got.text()), (want.status, want.text()));
    // A body that is not JSON is the same 500 both ways, and the host goes on.
    let (want, got) = (host.request("POST", "/api/fib", &[], b"{"), host.request("POST", "/api/aot/fib", &[], b"{"));
    assert_eq!((got.status, got.text()), (want.status, want.text()));
    assert_eq!(host.get("/api/aot/fib?n=10").status, 200);
}
