//! The Redis backend against a real `redis-server` (installed by
//! `scripts/setup.sh`; without it these tests fail, they never skip): the
//! conformance suite on one shared server, each test in a store (a key
//! namespace) of its own, and what only a shared network server brings:
//! stores side by side, other programs' keys, a server that stops, hangs or
//! starts late.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use e2e_support::redis_server::{RedisServer, Resp};
use wasmroutes::kv::redis::{RESPONSE_TIMEOUT, RedisBackend};
use wasmroutes::kv::{Backend, KvError};

use crate::conformance::list_all;

/// The server the conformance tests and most others share (killed when the
/// test process ends).
static SHARED: LazyLock<RedisServer> = LazyLock::new(RedisServer::start);

/// The backend's log lines (connected, lost, back), shown with a failing
/// test's output.
fn log_to_test_output() {
    let _ = tracing_subscriber::fmt().with_test_writer().with_env_filter("wasmroutes=debug").try_init();
}

/// A store name no other test in this process uses.
fn unique(name: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!("{name}-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// A backend for a fresh store on the shared server.
fn fresh(name: &str) -> (String, RedisBackend) {
    log_to_test_output();
    let store = unique(name);
    let backend = RedisBackend::new(&store, &SHARED.url()).expect("a backend");
    (store, backend)
}

crate::conformance::backend_conformance!(|| async {
    let backend: Arc<dyn Backend> = Arc::new(fresh("conformance").1);
    backend
});

/// Retries `call` until it succeeds or `within` has passed.
async fn eventually<T, F: Future<Output = Result<T, KvError>>>(within: Duration, mut call: impl FnMut() -> F) -> T {
    let deadline = Instant::now() + within;
    loop {
        match call().await {
            Ok(value) => return value,
            Err(e) if Instant::now() < deadline => {
                assert!(matches!(e, KvError::Unavailable(_)), "{e:?}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("still failing after {within:?}: {e}"),
        }
    }
}

/// Asserts that `result` is `Unavailable` naming the store and the server.
fn assert_unavailable<T: std::fmt::Debug>(result: Result<T, KvError>, store: &str, port: u16) {
    match result {
        Err(KvError::Unavailable(message)) => {
            let prefix = format!("redis store `{store}` at 127.0.0.1:{port} is not reachable: ");
            assert!(message.starts_with(&prefix), "{message}");
        }
        other => panic!("expected unavailable, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_stored_under_the_store_namespace() {
    let (store, backend) = fresh("layout");
    backend.set("user:1".into(), b"\x00bytes\xff".to_vec()).await.expect("set");
    assert_eq!(backend.increment("hits".into(), 41).await.expect("increment"), 41);
    let raw = SHARED.cmd(&["GET", &format!("wasmroutes:{store}:user:1")]);
    assert_eq!(raw.bytes(), Some(&b"\x00bytes\xff"[..]));
    assert_eq!(SHARED.cmd(&["GET", &format!("wasmroutes:{store}:hits")]).bytes(), Some(&b"41"[..]));
    assert_eq!(SHARED.cmd(&["EXISTS", "user:1"]), Resp::Integer(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stores_on_one_server_do_not_see_each_other() {
    let (_, a) = fresh("iso-a");
    let (_, b) = fresh("iso-b");
    a.set_many((0..50).map(|i| (format!("k{i}"), b"a".to_vec())).collect()).await.expect("set_many");
    b.set_many((25..75).map(|i| (format!("k{i}"), b"b".to_vec())).collect()).await.expect("set_many");
    assert_eq!(a.get("k30").await.expect("get"), Some(b"a".to_vec()));
    assert_eq!(b.get("k30").await.expect("get"), Some(b"b".to_vec()));
    assert_eq!(a.get("k60").await.expect("get"), None);
    assert!(!b.exists("k10").await.expect("exists"));
    let listed_a: BTreeSet<String> = list_all(&a, None, 7).await.into_iter().collect();
    let listed_b: BTreeSet<String> = list_all(&b, None, 1000).await.into_iter().collect();
    assert_eq!(listed_a, (0..50).map(|i| format!("k{i}")).collect());
    assert_eq!(listed_b, (25..75).map(|i| format!("k{i}")).collect());

    b.delete_many((25..50).map(|i| format!("k{i}")).collect()).await.expect("delete_many");
    assert_eq!(a.get("k30").await.expect("get"), Some(b"a".to_vec()));
    assert!(a.compare_and_swap("k60".into(), None, b"a".to_vec()).await.expect("cas"));
    assert_eq!(b.get("k60").await.expect("get"), Some(b"b".to_vec()));
    assert_eq!(a.increment("k70".into(), 1).await.expect("increment"), 1);
    assert_eq!(b.get("k70").await.expect("get"), Some(b"b".to_vec()));
}

/// Store names are text in the namespace, not patterns: `g*-N` does not list
/// the keys of `gx-N`, nor `g?` those of `gz`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn glob_characters_in_store_names_match_only_themselves() {
    let n = unique("");
    let stores = [format!("g*{n}"), format!("gx{n}"), format!("g?{n}"), format!("g[x]{n}"), format!("g\\{n}")];
    let backends: Vec<RedisBackend> =
        stores.iter().map(|s| RedisBackend::new(s, &SHARED.url()).expect("a backend")).collect();
    for (i, backend) in backends.iter().enumerate() {
        backend.set(format!("only-{i}"), Vec::new()).await.expect("set");
    }
    for (i, backend) in backends.iter().enumerate() {
        assert_eq!(list_all(backend, None, 1000).await, [format!("only-{i}")], "store {}", stores[i]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_skips_keys_of_other_programs_and_stores() {
    let (store, backend) = fresh("foreign");
    // 3,000 keys that are not this store's, some very close to it.
    let mut foreign: Vec<Vec<u8>> = (0..2990).map(|i| format!("app:{i}").into_bytes()).collect();
    foreign.extend([
        format!("wasmroutes:{store}").into_bytes(),
        format!("wasmroutes:{store}x:k").into_bytes(),
        format!("wasmroutes:{store}-2:k").into_bytes(),
        format!("Wasmroutes:{store}:k").into_bytes(),
        format!("xwasmroutes:{store}:k").into_bytes(),
        format!("{store}:k").into_bytes(),
        b"wasmroutes:".to_vec(),
        b"wasmroutes::k".to_vec(),
        // In the namespace but not UTF-8: no guest could name it.
        [format!("wasmroutes:{store}:").into_bytes(), b"\xff\xfe".to_vec()].concat(),
    ]);
    let mut mset: Vec<&[u8]> = vec![b"MSET"];
    for key in &foreign {
        mset.extend([key.as_slice(), b"v"]);
    }
    assert_eq!(SHARED.command(&mset), Resp::Simple("OK".into()));

    let ours: BTreeSet<String> = (0..40).map(|i| format!("mine/{i}")).collect();
    backend.set_many(ours.iter().map(|k| (k.clone(), Vec::new())).collect()).await.expect("set_many");
    // Not limit 1 or 2: one SCAN step returns a whole hash bucket (more than
    // one while Redis rehashes), and a page may then exceed a tiny limit
    // (see `RedisBackend::list_keys`); 8 of these 40 keys in one step is not
    // going to happen.
    for limit in [7, 1000] {
        let listed = list_all(&backend, None, limit).await;
        assert_eq!(listed.len(), ours.len(), "limit {limit}: {listed:?}");
        assert_eq!(listed.into_iter().collect::<BTreeSet<_>>(), ours, "limit {limit}");
    }
    assert_eq!(list_all(&backend, Some("mine/1"), 1000).await.len(), 11);
    // A foreign key in the namespace is simply a key of the store.
    assert_eq!(SHARED.cmd(&["SET", &format!("wasmroutes:{store}:planted"), "x"]), Resp::Simple("OK".into()));
    assert_eq!(backend.get("planted").await.expect("get"), Some(b"x".to_vec()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cursors_are_scan_cursors() {
    let (_, backend) = fresh("cursor");
    backend.set_many((0..3000).map(|i| (format!("c{i}"), Vec::new())).collect()).await.expect("set_many");
    let page = backend.list_keys(None, None, 10).await.expect("list");
    assert!(!page.keys.is_empty() && page.keys.len() <= 10, "{page:?}");
    let cursor = page.cursor.expect("more pages");
    assert!(cursor.bytes().all(|b| b.is_ascii_digit()) && cursor != "0", "{cursor}");
    backend.list_keys(None, Some(&cursor), 10).await.expect("the next page");
    for bad in ["x", "-1", ""] {
        assert!(matches!(backend.list_keys(None, Some(bad), 10).await, Err(KvError::Invalid(_))), "{bad:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_of_another_redis_type_is_an_error_not_a_crash() {
    let (store, backend) = fresh("types");
    assert_eq!(SHARED.cmd(&["RPUSH", &format!("wasmroutes:{store}:list"), "a"]), Resp::Integer(1));
    assert!(matches!(backend.get("list").await, Err(KvError::Backend(_))));
    assert!(matches!(backend.increment("list".into(), 1).await, Err(KvError::Invalid(_))));
    let cas = backend.compare_and_swap("list".into(), Some(b"a".to_vec()), Vec::new()).await;
    assert!(matches!(cas, Err(KvError::Backend(_))), "{cas:?}");
    // EXISTS, SET and DEL do not care about the type.
    assert!(backend.exists("list").await.expect("exists"));
    backend.set("list".into(), b"now a string".to_vec()).await.expect("set");
    assert_eq!(backend.get("list").await.expect("get"), Some(b"now a string".to_vec()));
}

/// A server that dies: calls fail at once with `Unavailable` (not hang), and
/// the same backend works again once a server is back on the port; what a
/// durable server acknowledged is still there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_server_is_unavailable_then_used_again_after_restart() {
    log_to_test_output();
    let mut server = RedisServer::start_durable();
    let store = unique("restart");
    let backend = RedisBackend::new(&store, &server.url()).expect("a backend");
    backend.set("kept".into(), b"before".to_vec()).await.expect("set");
    assert_eq!(backend.increment("n".into(), 1).await.expect("increment"), 1);

    server.stop();
    for _ in 0..5 {
        let started = Instant::now();
        assert_unavailable(backend.get("kept").await, &store, server.port());
        assert_unavailable(backend.set("k".into(), Vec::new()).await, &store, server.port());
        assert_unavailable(backend.compare_and_swap("k".into(), None, Vec::new()).await, &store, server.port());
        assert_unavailable(backend.list_keys(None, None, 10).await, &store, server.port());
        assert_unavailable(backend.ping().await, &store, server.port());
        assert!(started.elapsed() < Duration::from_millis(500), "took {:?}", started.elapsed());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    server.restart();
    let value = eventually(Duration::from_secs(5), || backend.get("kept")).await;
    assert_eq!(value, Some(b"before".to_vec()), "acknowledged before the kill");
    // The script cache went with the old process: EVALSHA loads it again.
    assert!(backend.compare_and_swap("kept".into(), Some(b"before".to_vec()), b"after".to_vec()).await.expect("cas"));
    assert_eq!(backend.increment("n".into(), 1).await.expect("increment"), 2);
    backend.ping().await.expect("ping");
}

/// A server that hangs (SIGSTOP): calls give up after the response timeout
/// with `Unavailable`, and answers stay matched to their calls once it
/// resumes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_server_times_out_then_answers_the_right_calls() {
    log_to_test_output();
    let server = RedisServer::start();
    let store = unique("hang");
    let backend = Arc::new(RedisBackend::new(&store, &server.url()).expect("a backend"));
    for i in 0..20 {
        backend.set(format!("k{i}"), format!("v{i}").into_bytes()).await.expect("set");
    }

    server.pause();
    let started = Instant::now();
    let calls: Vec<_> = (0..20)
        .map(|i| {
            let backend = Arc::clone(&backend);
            tokio::spawn(async move { backend.get(&format!("k{i}")).await })
        })
        .collect();
    for call in calls {
        assert_unavailable(call.await.expect("task"), &store, server.port());
    }
    let waited = started.elapsed();
    assert!(waited >= RESPONSE_TIMEOUT - Duration::from_millis(100), "gave up after {waited:?}");
    assert!(waited < RESPONSE_TIMEOUT + Duration::from_secs(2), "hung for {waited:?}");

    server.resume();
    eventually(Duration::from_secs(5), || backend.ping()).await;
    for i in 0..20 {
        let value = backend.get(&format!("k{i}")).await.expect("get");
        assert_eq!(value, Some(format!("v{i}").into_bytes()), "k{i} answered with another call's reply");
    }
}

/// The host starts while Redis is down: `new` succeeds, calls are
/// `Unavailable`, and once a server listens the same backend works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_made_while_the_server_is_down_works_once_it_is_up() {
    log_to_test_output();
    let mut server = RedisServer::start();
    server.stop();
    let store = unique("late");
    let started = Instant::now();
    let backend = RedisBackend::new(&store, &server.url()).expect("new succeeds without a server");
    assert_unavailable(backend.get("k").await, &store, server.port());
    assert_unavailable(backend.ping().await, &store, server.port());
    assert!(started.elapsed() < Duration::from_millis(500), "took {:?}", started.elapsed());
    // Long enough for the background retries to reach their longest delay.
    tokio::time::sleep(Duration::from_secs(2)).await;

    server.restart();
    let back = Instant::now();
    eventually(Duration::from_secs(5), || backend.set("k".into(), b"v".to_vec())).await;
    assert_eq!(backend.get("k").await.expect("get"), Some(b"v".to_vec()));
    assert!(back.elapsed() < Duration::from_secs(2), "usable {:?} after the server came", back.elapsed());
}

/// A wrong password fails calls (without showing it) rather than leaving
/// the store waiting; once the server takes the password, the same backend
/// works: the background task replaces a connection whose set-up failed,
/// which the redis crate itself only retries after I/O errors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_an_error_until_the_server_takes_it() {
    log_to_test_output();
    let server = RedisServer::start();
    assert_eq!(server.cmd(&["CONFIG", "SET", "requirepass", "right"]), Resp::Simple("OK".into()));
    let store = unique("auth");
    let url = format!("redis://:s3cret@127.0.0.1:{}", server.port());
    let backend = RedisBackend::new(&store, &url).expect("a backend");
    for _ in 0..3 {
        match backend.get("k").await {
            Err(KvError::Backend(message)) => {
                assert!(message.ends_with("Password authentication failed"), "{message}");
                assert!(!message.contains("s3cret"), "{message}");
            }
            other => panic!("expected an authentication error, got {other:?}"),
        }
    }
    let replies = server.commands(&[&["AUTH", "right"], &["CONFIG", "SET", "requirepass", "s3cret"]]);
    assert_eq!(replies, [Resp::Simple("OK".into()), Resp::Simple("OK".into())]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while backend.ping().await.is_err() {
        assert!(Instant::now() < deadline, "still failing: {:?}", backend.ping().await);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    backend.set("k".into(), b"v".to_vec()).await.expect("set");
}

/// Not a check: how many GETs and SETs per second the backend does against
/// a local server, 64 tasks at once. Run with
/// `cargo test --release -p wasmroutes --test kv_backends redis::throughput -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement; run by hand"]
async fn throughput() {
    const TASKS: usize = 64;
    const OPS: usize = 3000;
    let (_, backend) = fresh("throughput");
    let backend = Arc::new(backend);
    backend.set("hot".into(), vec![b'x'; 100]).await.expect("set");
    for op in ["set", "get", "increment"] {
        let started = Instant::now();
        let tasks: Vec<_> = (0..TASKS)
            .map(|t| {
                let backend = Arc::clone(&backend);
                tokio::spawn(async move {
                    for i in 0..OPS {
                        match op {
                            "set" => backend.set(format!("k{t}-{i}"), vec![b'x'; 100]).await.expect("set"),
                            "get" => {
                                backend.get(&format!("k{t}-{i}")).await.expect("get").expect("set before");
                            }
                            _ => {
                                backend.increment(format!("n{t}"), 1).await.expect("increment");
                            }
                        }
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("task");
        }
        let elapsed = started.elapsed();
        println!(
            "{op}: {} ops in {elapsed:.2?}: {:.0} ops/s",
            TASKS * OPS,
            (TASKS * OPS) as f64 / elapsed.as_secs_f64()
        );
    }
}
