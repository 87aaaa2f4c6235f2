//! Test harness for the end-to-end tests: builds the real `wasmroutes` binary
//! and the real components once per test run, starts the binary on an
//! ephemeral 127.0.0.1 port, and talks raw HTTP/1.1 to it (raw, so paths like
//! `//api/hello` or `%2e%2e` reach the server exactly as written).
//!
//! When a test fails, the server's log is printed (see [`TestHost`]'s `Drop`).

pub mod cluster;
pub mod guarded_process;
pub mod keep_alive;
pub mod postgres_server;
pub mod redis_server;
pub mod streamed;

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Components the tests use: every sample route, the hostile ones,
/// `kv-plain` (wasi:keyvalue without the SDK), and `http-hello` (the
/// benchmark's hello as a wasi:http component).
const COMPONENT_PACKAGES: &[&str] = &[
    "hello",
    "posts",
    "posts-id",
    "users",
    "search",
    "user-id",
    "todos",
    "docs-slug",
    "shop-slug",
    "tasks",
    "tasks-id",
    "notes",
    "notes-id",
    "clock",
    "stream-plain",
    "api-0-1",
    "kv-plain",
    "sql-plain",
    "http-proxy",
    "http-hello",
    "hostile",
    "no-handler",
    "wrong-type",
];

/// Where things are once built.
pub struct Artifacts {
    /// The workspace root.
    pub root: PathBuf,
    /// `target/release/wasmroutes`.
    pub binary: PathBuf,
    /// `target/wasm32-wasip2/release`.
    pub wasm_dir: PathBuf,
    /// The workspace's target directory.
    pub target_dir: PathBuf,
    /// The compile cache every test host shares (unless a test picks its
    /// own): the first host compiles, the rest start from the cache.
    pub compile_cache: PathBuf,
}

impl Artifacts {
    /// The `.wasm` file of a component package (`posts-id` → `posts_id.wasm`).
    pub fn component(&self, package: &str) -> PathBuf {
        self.wasm_dir.join(format!("{}.wasm", package.replace('-', "_")))
    }
}

/// Builds the host binary and every test component, once per process.
pub fn artifacts() -> &'static Artifacts {
    static BUILT: OnceLock<Artifacts> = OnceLock::new();
    BUILT.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ is in the workspace").to_owned();
        let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target"));
        cargo(&root, &["build", "--release", "-p", "wasmroutes", "--bin", "wasmroutes"]);
        let mut args = vec!["build", "--release", "--target", "wasm32-wasip2"];
        for p in COMPONENT_PACKAGES {
            args.extend(["-p", p]);
        }
        cargo(&root, &args);
        Artifacts {
            binary: target.join("release").join("wasmroutes"),
            wasm_dir: target.join("wasm32-wasip2").join("release"),
            compile_cache: target.join("e2e-compile-cache"),
            target_dir: target,
            root,
        }
    })
}

/// Runs the `wasmroutes` binary to completion in `cwd` with extra `env`.
pub fn run_wasmroutes(args: &[&str], cwd: &Path, env: &[(&str, &Path)]) -> std::process::Output {
    let mut command = Command::new(&artifacts().binary);
    command.args(args).current_dir(cwd).stdin(Stdio::null());
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("run wasmroutes")
}

/// Compiles the components `manifest` names into the tests' compile cache
/// (`wasmroutes precompile`), so the hosts that serve them afterwards load
/// them in milliseconds instead of each compiling them again: a JavaScript
/// route is a 12 MB engine, about 14 s of Cranelift per component.
pub fn precompile(manifest: &Path) {
    let a = artifacts();
    let out = Command::new(&a.binary)
        .arg("precompile")
        .arg(manifest)
        .arg("--cache-dir")
        .arg(&a.compile_cache)
        .stdin(Stdio::null())
        .output()
        .expect("run wasmroutes precompile");
    assert!(out.status.success(), "wasmroutes precompile failed:\n{}", String::from_utf8_lossy(&out.stderr));
}

/// `bench/floor-hello`'s component, built once per process. It is its own
/// workspace (std-free: see its Cargo.toml), built into ours.
pub fn floor_hello() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let a = artifacts();
        let manifest = a.root.join("bench/floor-hello/Cargo.toml");
        let manifest = manifest.to_str().expect("a UTF-8 checkout path");
        let args = ["build", "--locked", "--release", "--target", "wasm32-wasip2", "--manifest-path", manifest];
        cargo_with(&a.root, &args, &[("CARGO_TARGET_DIR", &a.target_dir)]);
        a.component("floor-hello")
    })
}

fn cargo(root: &Path, args: &[&str]) {
    cargo_with(root, args, &[]);
}

fn cargo_with(root: &Path, args: &[&str], env: &[(&str, &Path)]) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(&cargo)
        .args(args)
        .envs(env.iter().copied())
        .current_dir(root)
        .status()
        .unwrap_or_else(|e| panic!("cannot run {cargo}: {e}"));
    assert!(status.success(), "`cargo {}` failed: {status}", args.join(" "));
}

/// The sample deployment plus test routes, as `routes.toml` text with
/// absolute component paths.
pub fn test_routes_toml() -> String {
    let a = artifacts();
    let sample = [
        ("/api/hello", "hello"),
        ("/api/posts", "posts"),
        ("/api/posts/[id]", "posts-id"),
        ("/api/users", "users"),
        ("/api/search", "search"),
        ("/api/user/[id]", "user-id"),
        ("/api/todos", "todos"),
        ("/api/docs/[...slug]", "docs-slug"),
        ("/api/shop/[[...slug]]", "shop-slug"),
        ("/hostile", "hostile"),
        ("/hostile/[id]/[...rest]", "hostile"),
    ];
    let mut toml = String::new();
    for (path, package) in sample {
        route(&mut toml, path, &a.component(package), "");
    }
    route(&mut toml, "/single", &a.component("hostile"), "limits = { max_concurrency = 1 }\n");
    route(
        &mut toml,
        "/limited",
        &a.component("hostile"),
        "limits = { memory = \"16MiB\", timeout = \"500ms\", max_body = \"1KiB\" }\n\
         env = { GREETING = \"hello ${WASMROUTES_TEST_GREETING}\" }\n",
    );
    toml
}

/// Appends one `[[route]]`.
pub fn route(toml: &mut String, path: &str, component: &Path, extra: &str) {
    let _ = write!(toml, "[[route]]\npath = \"{path}\"\ncomponent = {:?}\n{extra}\n", component.display().to_string());
}

/// A running `wasmroutes serve`. Killed on drop; prints its log if the test
/// is failing.
pub struct TestHost {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

/// What a [`TestHost`] serves.
enum Source {
    /// `routes.toml` text, written to the host's temp dir.
    Routes(String),
    /// A manifest the test keeps (to edit it while the host runs).
    Manifest(PathBuf),
    /// A route tree, served with `--dir`.
    Dir(PathBuf),
}

/// A [`TestHost`] about to start: what it serves and its extra
/// `wasmroutes serve` flags. The one way to start a host:
/// `TestHost::routes(&toml).args(&["--watch"]).start()`.
#[must_use = "a launch does nothing until `start`, `try_start` or `shared`"]
pub struct Launch {
    source: Source,
    args: Vec<String>,
}

impl Launch {
    /// Extra `wasmroutes serve` flags.
    pub fn args(mut self, args: &[&str]) -> Launch {
        self.args.extend(args.iter().map(|a| (*a).to_owned()));
        self
    }

    /// Starts the host; panics with its output if it exits instead of
    /// listening.
    pub fn start(self) -> TestHost {
        self.try_start().unwrap_or_else(|log| panic!("host did not start; its output:\n{log}"))
    }

    /// Starts the host, or returns its output if it exits instead of
    /// listening (for tests of refused configurations).
    pub fn try_start(self) -> Result<TestHost, String> {
        self.spawn(false)
    }

    /// One host for every test of a module that only reads from it, started
    /// by the first test that asks (`cell` is the module's). Its process is
    /// killed when the test binary exits (it never gets dropped). Tests that
    /// count log lines, change files or kill the host start their own.
    pub fn shared(self, cell: &'static OnceLock<TestHost>) -> &'static TestHost {
        cell.get_or_init(|| {
            // The kernel kills the host when the thread that started it
            // exits, so start it from a thread that lives as long as the
            // test binary.
            let (started, host) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let _ = started.send(self.spawn(true));
                loop {
                    std::thread::park();
                }
            });
            match host.recv() {
                Ok(Ok(host)) => host,
                Ok(Err(log)) => panic!("shared host did not start; its output:\n{log}"),
                Err(_) => panic!("the thread starting the shared host died"),
            }
        })
    }

    fn spawn(self, die_with_parent: bool) -> Result<TestHost, String> {
        let dir = tempfile::tempdir().expect("temp dir");
        let source: Vec<std::ffi::OsString> = match self.source {
            Source::Routes(text) => {
                let manifest = dir.path().join("routes.toml");
                std::fs::write(&manifest, text).expect("write routes.toml");
                vec![manifest.into()]
            }
            Source::Manifest(path) => vec![path.into()],
            Source::Dir(path) => vec!["--dir".into(), path.into()],
        };
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        TestHost::spawn(&source, &args, dir, die_with_parent)
    }
}

impl TestHost {
    /// A host serving `routes_toml` (written to a temp dir).
    pub fn routes(routes_toml: &str) -> Launch {
        Launch { source: Source::Routes(routes_toml.to_owned()), args: Vec::new() }
    }

    /// A host serving a manifest the test keeps (to edit it while the host runs).
    pub fn manifest(manifest: &Path) -> Launch {
        Launch { source: Source::Manifest(manifest.to_owned()), args: Vec::new() }
    }

    /// A host serving the route tree at `dir` (`wasmroutes serve --dir`).
    pub fn dir(dir: &Path) -> Launch {
        Launch { source: Source::Dir(dir.to_owned()), args: Vec::new() }
    }

    /// Starts `wasmroutes serve` on what `source` names (a manifest path, or
    /// `--dir` and a tree) with extra flags, logging into `dir`. With
    /// `die_with_parent`, the kernel kills it when the calling thread exits.
    fn spawn(
        source: &[std::ffi::OsString],
        args: &[&str],
        dir: tempfile::TempDir,
        die_with_parent: bool,
    ) -> Result<TestHost, String> {
        let a = artifacts();
        let log = dir.path().join("server.log");
        let log_file = std::fs::File::create(&log).expect("log file");
        let mut command = Command::new(&a.binary);
        command.args(["serve", "--addr", "127.0.0.1:0"]);
        if !args.contains(&"--cache-dir") && !args.contains(&"--no-cache") {
            command.arg("--cache-dir").arg(&a.compile_cache);
        }
        if die_with_parent {
            kill_with_parent_thread(&mut command);
        }
        let child = command
            .args(args)
            .args(source)
            .env("WASMROUTES_TEST_GREETING", "from the host")
            .env("WASMROUTES_TEST_SECRET", "must-not-leak")
            .env("RUST_LOG", "info")
            .stdout(log_file.try_clone().expect("log file"))
            .stderr(log_file)
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn wasmroutes");
        let mut host = TestHost { child, addr: SocketAddr::from(([127, 0, 0, 1], 0)), log, _dir: dir };
        // Generous: a host that compiles large components (JavaScript
        // routes) while the other tests run can take minutes on 2 cores.
        let deadline = Instant::now() + Duration::from_secs(600);
        loop {
            let text = host.log_text();
            if let Some(rest) = text.lines().find_map(|l| l.split("listening on http://").nth(1)) {
                // The address ends the line, or the JSON string (--log-format json).
                let addr = rest.split(|c: char| c == '"' || c.is_whitespace()).next().unwrap_or_default();
                host.addr = addr.parse().expect("listen address");
                return Ok(host);
            }
            if let Ok(Some(_)) = host.child.try_wait() {
                return Err(host.log_text());
            }
            assert!(Instant::now() < deadline, "host did not start in time:\n{text}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Everything the server has logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends a request and reads the whole response.
    pub fn request(&self, method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> TestResponse {
        send(self.addr, method, target, headers, body)
    }

    /// `GET target`.
    pub fn get(&self, target: &str) -> TestResponse {
        self.request("GET", target, &[], b"")
    }

    /// Holds the only slot of a `max_concurrency = 1` route: sends a request
    /// to `sleeping_target` on another thread, then polls `probe` until it is
    /// refused. Returns the sleeping request (to join) and the refusal.
    pub fn occupy_only_slot(
        &self,
        sleeping_target: &str,
        probe: &str,
    ) -> (std::thread::JoinHandle<TestResponse>, TestResponse) {
        let addr = self.addr;
        let target = sleeping_target.to_owned();
        let sleeper = std::thread::spawn(move || send(addr, "GET", &target, &[], b""));
        std::thread::sleep(Duration::from_millis(200));
        for _ in 0..100 {
            let resp = self.get(probe);
            if resp.status == 503 {
                return (sleeper, resp);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("{sleeping_target} should hold the route's only slot, but {probe} was never refused");
    }

    /// Sends SIGTERM and waits for the process to exit; returns its status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        self.child.wait().expect("wait for host")
    }

    /// Kills the process with SIGKILL (no shutdown, no flushing) and waits.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's resident memory now (`VmRSS`), in KiB.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).expect("/proc status");
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("VmRSS");
        line.split_whitespace().nth(1).and_then(|kib| kib.parse().ok()).expect("VmRSS in KiB")
    }
}

impl Drop for TestHost {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("----- wasmroutes log -----\n{}\n--------------------------", self.log_text());
        }
    }
}

/// A loopback port that nothing listens on, for a server a test starts on
/// an address it must know beforehand (a cluster's hosts, which come back
/// on the same port after a restart).
///
/// Picked below the kernel's ephemeral range (`ip_local_port_range`), from
/// which every `bind(:0)` and every outgoing connection draws: a port from
/// that range, free when probed, could be handed to another test's server
/// before the caller binds it. Never the same port twice in this process.
pub fn free_port() -> u16 {
    use std::hash::BuildHasher;
    static GIVEN: std::sync::Mutex<std::collections::BTreeSet<u16>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    static SEED: OnceLock<std::collections::hash_map::RandomState> = OnceLock::new();
    const LOWEST: u16 = 10_000;
    let ephemeral_start = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32_768);
    if ephemeral_start <= LOWEST + 1_000 {
        // No room below the ephemeral range: the kernel's pick, as before.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        return listener.local_addr().expect("local addr").port();
    }
    let span = u64::from(ephemeral_start - LOWEST);
    let seed = SEED.get_or_init(std::collections::hash_map::RandomState::new);
    let mut given = GIVEN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    for attempt in 0..100_000u64 {
        let port = LOWEST + u16::try_from(seed.hash_one((given.len(), attempt)) % span).expect("below the range");
        if !given.contains(&port) && std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            given.insert(port);
            return port;
        }
    }
    panic!("no free loopback port between {LOWEST} and {ephemeral_start}")
}

/// A process a test started by hand, killed on drop, so a failing assert
/// leaves no server behind.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Tries `attempt` until it succeeds, every 20 ms for up to `timeout`, and
/// returns what it gave. `attempt` says why it is not done yet (`Err`), and
/// the last reason is what a timeout fails the test with: the one polling
/// loop of the tests, so each says only what it waits for.
pub fn eventually<T>(timeout: Duration, mut attempt: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        match attempt() {
            Ok(done) => return done,
            Err(why) if Instant::now() >= deadline => panic!("still not done after {timeout:?}: {why}"),
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// Waits until the log file `log` of `child` (a server a test started by
/// hand) contains `needle`, and returns the log so far; fails the test if
/// the process exits first or two minutes pass.
pub fn wait_for_log(log: &Path, child: &mut KillOnDrop, needle: &str) -> String {
    eventually(Duration::from_secs(120), || {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.contains(needle) {
            return Ok(text);
        }
        if let Ok(Some(status)) = child.0.try_wait() {
            panic!("the server exited ({status}) before logging {needle:?}:\n{text}");
        }
        Err(format!("no {needle:?} in the log:\n{text}"))
    })
}

/// A response as read off the wire.
#[derive(Debug)]
pub struct TestResponse {
    /// Status code.
    pub status: u16,
    /// Headers, names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl TestResponse {
    /// The first value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", self.text()))
    }

    /// Asserts the host's JSON error envelope: status, exact message,
    /// content type and a request id.
    pub fn assert_error(&self, status: u16, message: &str) {
        assert_eq!(self.status, status, "body: {}", self.text());
        assert_eq!(self.header("content-type"), Some("application/json"));
        assert_eq!(self.json(), serde_json::json!({ "error": message }));
        assert!(self.header("x-request-id").is_some_and(|id| !id.is_empty()), "x-request-id missing");
    }
}

/// Writes one HTTP/1.1 request (connection: close) and reads the response.
pub fn send(addr: SocketAddr, method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> TestResponse {
    try_send(addr, method, target, headers, body).unwrap_or_else(|e| panic!("{method} {target} on {addr}: {e}"))
}

/// [`send`] for tests where a request may fail (a host killed under load):
/// a refused connection, a reset, or a response cut short is an error, not
/// a panic.
pub fn try_send(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<TestResponse> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut head = format!("{method} {target} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-length") || k.eq_ignore_ascii_case("transfer-encoding"))
    {
        let _ = write!(head, "content-length: {}\r\n", body.len());
    }
    for (k, v) in headers {
        let _ = write!(head, "{k}: {v}\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    let mut raw = Vec::new();
    let read = stream.read_to_end(&mut raw);
    match parse_response(&raw, method == "HEAD") {
        Some(response) => Ok(response),
        None => Err(read.err().unwrap_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("incomplete response: {:?}", String::from_utf8_lossy(&raw)),
            )
        })),
    }
}

/// The response in `raw`; `None` if its head is incomplete.
fn parse_response(raw: &[u8], head_request: bool) -> Option<TestResponse> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line.split(' ').nth(1).and_then(|s| s.parse().ok())?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers.iter().any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    if chunked && !head_request {
        body = dechunk(&body);
    }
    Some(TestResponse { status, headers, body })
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = data.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&data[..line_end]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = line_end + 2;
        out.extend_from_slice(&data[start..start + size]);
        data = &data[start + size + 2..];
    }
    out
}

/// A route tree for `wasmroutes serve --dir` (file-based routing), built in a
/// temp dir from copies of the real components. Removed on drop.
pub struct RouteTree {
    _temp: tempfile::TempDir,
    /// The tree's own folder, e.g. `<temp>/api`: what `--dir` gets.
    pub root: PathBuf,
}

impl RouteTree {
    /// An empty tree whose own folder is called `name` (the first URL segment).
    pub fn new(name: &str) -> RouteTree {
        let temp = tempfile::tempdir().expect("temp dir");
        let root = temp.path().join(name);
        std::fs::create_dir_all(&root).expect("create tree root");
        RouteTree { _temp: temp, root }
    }

    /// Copies component `package` to `<folder>/route.wasm` (`folder` relative
    /// to the root; `""` is the root itself).
    pub fn route(&self, folder: &str, package: &str) -> &Self {
        let dir = self.root.join(folder);
        std::fs::create_dir_all(&dir).expect("create route folder");
        std::fs::copy(artifacts().component(package), dir.join("route.wasm")).expect("copy component");
        self
    }

    /// Writes a file (e.g. `posts/route.toml`) under the root.
    pub fn file(&self, path: &str, contents: &str) -> &Self {
        let file = self.root.join(path);
        std::fs::create_dir_all(file.parent().expect("file has a folder")).expect("create folder");
        std::fs::write(file, contents).expect("write file");
        self
    }
}

/// Makes the kernel kill the spawned process (SIGKILL) when the thread that
/// spawns it exits: a shared host outlives every test, and nothing drops it.
#[allow(unsafe_code)] // `pre_exec` is unsafe: the closure runs between fork and exec.
fn kill_with_parent_thread(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure only calls prctl(2), which is async-signal-safe
    // and touches no memory of the parent.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Runs `f(i)` for `i` in `0..clients` on threads of their own, each with
/// its own keep-alive connection; collects the results in order.
pub fn clients<T: Send + 'static>(
    host: &TestHost,
    clients: usize,
    f: impl Fn(usize, &mut keep_alive::Connection) -> T + Send + Sync + 'static,
) -> Vec<T> {
    let f = std::sync::Arc::new(f);
    let addr = host.addr;
    let threads: Vec<_> = (0..clients)
        .map(|i| {
            let f = std::sync::Arc::clone(&f);
            std::thread::spawn(move || f(i, &mut keep_alive::Connection::open(addr)))
        })
        .collect();
    threads.into_iter().map(|t| t.join().expect("client thread")).collect()
}
