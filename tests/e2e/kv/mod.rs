//! Key-value stores end to end: the real host, real components (the `tasks`
//! samples written with the SDK, and `kv-plain`, written against plain
//! `wasi:keyvalue` with wit-bindgen), real backends — a redb file under the
//! host's data dir, and a real `redis-server` started by the test.
//!
//! The suite in this file runs against both backends ([`Backend`]); the
//! backend-only behaviour (durability across `kill -9`, the `kv` command,
//! Redis going away) is in [`embedded`] and [`redis`].

mod embedded;
mod redis;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use e2e_support::keep_alive::Connection;
use e2e_support::{TestHost, TestResponse, artifacts, clients, route};

/// Where the stores of a test deployment live.
#[derive(Clone, Debug)]
enum Backend {
    /// The default: a redb file under the manifest's `.wasmroutes/`.
    Embedded,
    /// A Redis server (each test starts its own, so stores never meet).
    Redis { url: String },
}

/// A deployment in a temp dir that outlives its hosts, so a test can stop
/// a host and start another on the same data.
struct Deployment {
    dir: tempfile::TempDir,
    manifest: PathBuf,
}

impl Deployment {
    /// The tasks samples at `/api/tasks` and `/api/tasks/[id]` (store
    /// `default`), `kv-plain` at `/kv` (stores `default` and `other`), at
    /// `/kv-default-only` and at `/undeclared` (no stores), hello at
    /// `/api/hello`. Both stores on `backend`; `default_extra` is added to
    /// the `default` store's table.
    fn new(backend: &Backend, default_extra: &str) -> Deployment {
        let a = artifacts();
        let mut toml = store_table(backend, "default", default_extra);
        toml.push_str(&store_table(backend, "other", ""));
        let default = "key_value_stores = [\"default\"]\n";
        route(&mut toml, "/api/tasks", &a.component("tasks"), default);
        route(&mut toml, "/api/tasks/[id]", &a.component("tasks-id"), default);
        route(&mut toml, "/kv", &a.component("kv-plain"), "key_value_stores = [\"default\", \"other\"]\n");
        route(&mut toml, "/kv-default-only", &a.component("kv-plain"), default);
        route(&mut toml, "/undeclared", &a.component("kv-plain"), "");
        route(&mut toml, "/api/hello", &a.component("hello"), "");
        Self::from_toml(&toml)
    }

    fn from_toml(toml: &str) -> Deployment {
        let dir = tempfile::tempdir().expect("temp dir");
        let manifest = dir.path().join("routes.toml");
        std::fs::write(&manifest, toml).expect("write routes.toml");
        Deployment { dir, manifest }
    }

    fn start(&self) -> TestHost {
        TestHost::manifest(&self.manifest).start()
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join(".wasmroutes")
    }
}

/// A `[key_value_store.NAME]` table on `backend`.
fn store_table(backend: &Backend, name: &str, extra: &str) -> String {
    match backend {
        Backend::Embedded => format!("[key_value_store.{name}]\ntype = \"embedded\"\n{extra}\n"),
        Backend::Redis { url } => format!("[key_value_store.{name}]\ntype = \"redis\"\nurl = \"{url}\"\n{extra}\n"),
    }
}

fn post_task(conn: &mut Connection, title: &str) -> TestResponse {
    conn.request("POST", "/api/tasks", serde_json::json!({ "title": title }).to_string().as_bytes())
}

/// Every key `/kv` lists, page by page: (keys in page order, pages).
fn list_all(conn: &mut Connection, path: &str) -> (Vec<String>, usize) {
    let mut keys = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let target = match &cursor {
            Some(c) => format!("{path}?op=list&cursor={}", encode(c)),
            None => format!("{path}?op=list"),
        };
        let resp = conn.request("GET", &target, b"");
        assert_eq!(resp.status, 200, "{}", resp.text());
        let page = resp.json();
        let batch = page["keys"].as_array().expect("keys");
        assert!(batch.len() <= 1000, "a page holds at most 1,000 keys, this one {}", batch.len());
        keys.extend(batch.iter().map(|k| k.as_str().expect("key").to_owned()));
        pages += 1;
        match page["cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return (keys, pages),
        }
    }
}

/// Percent-encodes a query value.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

// ---------------------------------------------------------------------------
// The suite both backends run.

/// The tasks samples answer as the README says: create, read, list with
/// pagination, update, delete, and JSON errors for what is wrong.
fn tasks_answer_as_specified(backend: &Backend) {
    let deployment = Deployment::new(backend, "");
    let host = deployment.start();
    let mut conn = Connection::open(host.addr);

    let created = post_task(&mut conn, "  Write the tests  ");
    assert_eq!(created.status, 201, "{}", created.text());
    let task = created.json();
    let id = task["id"].as_u64().expect("numeric id");
    assert_eq!(task, serde_json::json!({ "id": id, "title": "Write the tests", "done": false }));
    assert_eq!(created.header("location"), Some(format!("/api/tasks/{id}").as_str()));
    let second = post_task(&mut conn, "Ship").json();
    assert_eq!(second["id"].as_u64(), Some(id + 1), "ids come from one counter");

    let got = conn.request("GET", &format!("/api/tasks/{id}"), b"");
    assert_eq!((got.status, got.json()), (200, task.clone()));

    let patched = conn.request("PATCH", &format!("/api/tasks/{id}"), br#"{"done": true}"#);
    assert_eq!(patched.status, 200, "{}", patched.text());
    assert_eq!(patched.json()["done"], true);
    assert_eq!(conn.request("GET", &format!("/api/tasks/{id}"), b"").json()["done"], true, "the change is stored");

    let list = conn.request("GET", "/api/tasks", b"");
    assert_eq!(list.status, 200);
    let listed: Vec<u64> =
        list.json()["tasks"].as_array().expect("tasks").iter().filter_map(|t| t["id"].as_u64()).collect();
    assert!(listed.contains(&id) && listed.contains(&(id + 1)), "{}", list.text());

    let deleted = conn.request("DELETE", &format!("/api/tasks/{id}"), b"");
    assert_eq!((deleted.status, deleted.body.len()), (204, 0));
    conn.request("GET", &format!("/api/tasks/{id}"), b"").assert_error(404, "Task not found");
    assert_eq!(conn.request("DELETE", &format!("/api/tasks/{id}"), b"").status, 404);
    assert_eq!(conn.request("PATCH", &format!("/api/tasks/{id}"), br#"{"done":true}"#).status, 404);

    for bad in [r#"{"title": ""}"#, r#"{"title": 5}"#, r#"{}"#, "not json"] {
        let resp = conn.request("POST", "/api/tasks", bad.as_bytes());
        assert_eq!(resp.status, 400, "POST {bad}: {}", resp.text());
        assert!(resp.json()["error"].is_string(), "JSON error envelope for {bad}");
    }
    assert_eq!(conn.request("GET", "/api/tasks/abc", b"").status, 400, "an id is a positive integer");
}

/// Pages of `list-keys` hold at most 1,000 keys and together return every
/// key exactly once, also while other clients keep writing.
fn list_keys_pages_return_every_key_once(backend: &Backend, exactly_once: bool) {
    let deployment = Deployment::new(backend, "");
    let host = deployment.start();
    let initial: BTreeSet<String> = (0..2500).map(|i| format!("k{i:05}")).collect();
    let keys: Arc<Vec<String>> = Arc::new(initial.iter().cloned().collect());
    clients(&host, 4, move |c, conn| {
        for key in keys.iter().skip(c).step_by(4) {
            assert_eq!(conn.request("POST", &format!("/kv?key={key}"), b"v").status, 204);
        }
    });
    let (listed, pages) = list_all(&mut Connection::open(host.addr), "/kv");
    assert!(pages >= 3, "2,500 keys take at least three pages, got {pages}");
    let unique: BTreeSet<String> = listed.iter().cloned().collect();
    assert_eq!(unique, initial, "every key, nothing else");
    if exactly_once {
        assert_eq!(listed.len(), initial.len(), "no key twice");
    }

    // Now list while a writer adds and removes other keys.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (stop, addr) = (Arc::clone(&stop), host.addr);
        std::thread::spawn(move || {
            let mut conn = Connection::open(addr);
            let mut i = 0u32;
            while !stop.load(Ordering::Relaxed) {
                assert_eq!(conn.request("POST", &format!("/kv?key=w{i:06}"), b"x").status, 204);
                if i.is_multiple_of(3) {
                    conn.request("GET", &format!("/kv?op=delete&key=w{i:06}"), b"");
                }
                i += 1;
            }
            i
        })
    };
    for _ in 0..3 {
        let (listed, _) = list_all(&mut Connection::open(host.addr), "/kv");
        let mut seen = BTreeMap::<&str, usize>::new();
        for key in &listed {
            *seen.entry(key.as_str()).or_default() += 1;
        }
        for key in &initial {
            let n = seen.get(key.as_str()).copied().unwrap_or(0);
            assert!(n >= 1, "{key}, present throughout, was not listed");
            if exactly_once {
                assert_eq!(n, 1, "{key} listed {n} times");
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    assert!(writer.join().expect("writer") > 0, "the writer wrote while the lists ran");
}

/// 64 clients × 500 increments of one counter: exactly 32,000.
fn increments_are_exact(backend: &Backend) {
    let deployment = Deployment::new(backend, "");
    let host = deployment.start();
    clients(&host, 64, |_, conn| {
        for _ in 0..500 {
            let resp = conn.request("GET", "/kv?op=incr&key=counter&delta=1", b"");
            assert_eq!(resp.status, 200, "{}", resp.text());
        }
    });
    let total = host.get("/kv?key=counter");
    assert_eq!((total.status, total.text()), (200, "32000".to_owned()));
    let down = host.get("/kv?op=incr&key=counter&delta=-32001");
    assert_eq!(down.text(), "-1", "negative deltas");
}

/// Concurrent read-modify-write through compare-and-swap loses no update:
/// 16 clients each get 50 swaps through, retrying on conflict.
fn compare_and_swap_loses_no_update(backend: &Backend) {
    let deployment = Deployment::new(backend, "");
    let host = deployment.start();
    let conflicts: Vec<u32> = clients(&host, 16, |_, conn| {
        let mut conflicts = 0;
        let mut done = 0;
        while done < 50 {
            let resp = conn.request("GET", "/kv?op=casincr&key=n", b"");
            match resp.status {
                200 => done += 1,
                409 => conflicts += 1,
                other => panic!("casincr: {other} {}", resp.text()),
            }
        }
        conflicts
    });
    assert_eq!(host.get("/kv?key=n").text(), "800", "16 × 50 swaps, none lost");
    eprintln!("compare-and-swap: {} conflicts retried", conflicts.iter().sum::<u32>());
    // The SDK's bounded retry (`update_json`) under the same contention:
    // every PATCH lands or is refused with 409, never silently lost.
    let id = post_task(&mut Connection::open(host.addr), "contended").json()["id"].as_u64().expect("id");
    let statuses = clients(&host, 8, move |i, conn| {
        let title = format!("title {i}");
        let body = serde_json::json!({ "title": title }).to_string();
        (0..20).map(|_| conn.request("PATCH", &format!("/api/tasks/{id}"), body.as_bytes()).status).collect::<Vec<_>>()
    });
    assert!(statuses.iter().flatten().all(|s| *s == 200 || *s == 409), "{statuses:?}");
}

/// A route opens only the stores it lists; anything else is denied and
/// logged with the route and the request id.
fn undeclared_stores_are_denied(backend: &Backend) {
    let deployment = Deployment::new(backend, "");
    let host = deployment.start();
    let denied = host.request("GET", "/undeclared?key=a", &[("x-request-id", "kv-denied-1")], b"");
    assert_eq!(denied.status, 500, "{}", denied.text());
    assert!(denied.text().contains("access-denied"), "{}", denied.text());
    let other = host.get("/kv-default-only?key=a&store=other");
    assert!(
        other.status == 500 && other.text().contains("access-denied"),
        "configured but not declared: {}",
        other.text()
    );
    let log = host.log_text();
    let line = log.lines().find(|l| l.contains("kv-denied-1") && l.contains("access denied")).unwrap_or_else(|| {
        panic!("a log line with the request id and the denial: {log}");
    });
    assert!(line.contains("/undeclared"), "names the route: {line}");
    // The SDK route's answer to a denied store: 500, details only in the log.
    assert_eq!(host.get("/api/hello").status, 200, "other routes are unaffected");
}

/// Keys are 1 to 256 bytes, values at most `max_value`; over-limit calls
/// are refused whole, and the data is unchanged.
fn limits_are_enforced(backend: &Backend) {
    let deployment = Deployment::new(backend, "max_value = \"1KiB\"\n");
    let host = deployment.start();
    let mut conn = Connection::open(host.addr);
    let long_key = "k".repeat(257);
    let resp = conn.request("POST", &format!("/kv?key={long_key}"), b"v");
    assert!(resp.status == 500 && resp.text().contains("limit: "), "{}", resp.text());
    assert_eq!(conn.request("POST", &format!("/kv?key={}", "k".repeat(256)), b"v").status, 204, "256 bytes is fine");

    assert_eq!(conn.request("POST", "/kv?key=big", &[b'x'; 1024]).status, 204, "exactly max_value");
    let over = conn.request("POST", "/kv?key=big", &[b'y'; 1025]);
    assert!(over.status == 500 && over.text().contains("limit: "), "{}", over.text());
    assert_eq!(conn.request("GET", "/kv?key=big", b"").body, vec![b'x'; 1024], "nothing truncated or half-written");

    // The SDK route stores a task well under the limit.
    assert_eq!(post_task(&mut conn, &"t".repeat(150)).status, 201);
}

// ---------------------------------------------------------------------------
// Helpers for the backend modules.

/// The value the tasks sample stored for `id`, through the HTTP API.
fn task_title(conn: &mut Connection, id: u64) -> Option<String> {
    let resp = conn.request("GET", &format!("/api/tasks/{id}"), b"");
    match resp.status {
        200 => resp.json()["title"].as_str().map(str::to_owned),
        404 => None,
        other => panic!("GET /api/tasks/{id}: {other} {}", resp.text()),
    }
}

/// Runs `wasmroutes kv` on the deployment; returns (exit code, stdout, stderr).
fn kv_command(deployment: &Deployment, args: &[&str]) -> (i32, String, String) {
    let manifest = deployment.manifest.to_str().expect("UTF-8 temp path");
    let mut all = vec!["kv", manifest];
    all.extend_from_slice(args);
    let out = e2e_support::run_wasmroutes(&all, deployment.dir.path(), &[]);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
