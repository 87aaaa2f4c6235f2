//! Per-request sandbox cost, as the server's executor runs it: the WIT
//! request record, new store + instantiate + one handler call + drop, and
//! the HTTP answer, on the hello component, fresh and reused; and, when it is built,
//! fresh on `floor-hello`, the same answer from a component with no WASI
//! imports (the floor for what imports cost per instance); and, when they
//! are built, fresh `GET /api/tasks/1` on `tasks-id` (one key-value read,
//! the SDK, JSON in and out) and fresh `GET ?key=k` on `kv-plain` (one read,
//! no SDK), both on an embedded store in a temp dir: what a store read adds.
//! Build the components first (`cargo build --release --target wasm32-wasip2 -p hello`,
//! `bench/floor-hello/build.sh`), then `cargo bench -p wasmroutes --bench sandbox`,
//! or run `bench/sandbox.sh`, which does all of it.

#![allow(missing_docs)] // criterion_group! generates undocumented functions

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use wasmroutes::config::{Isolation, StoreConfig};
use wasmroutes::kv::{RouteStores, Stores};
use wasmroutes::routing::router::ParamValue;
use wasmroutes::runtime::executor::{Answer, InstanceLease, RoutedRequest};
use wasmroutes::runtime::{CallTiming, EngineConfig, Executor, RouteComponent, RouteContext, Sandbox};

fn component_wasm(name: &str) -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let path = root.join(format!("target/wasm32-wasip2/release/{name}.wasm"));
    path.exists().then_some(path)
}

/// A GET of `uri` that the router matched with `params`.
fn get(uri: &str, params: &[(&str, &str)]) -> RoutedRequest {
    let (parts, ()) = http::Request::get(uri).body(()).expect("a valid request").into_parts();
    RoutedRequest {
        path: parts.uri.path().to_owned(),
        parts,
        body: Default::default(),
        params: params.iter().map(|(k, v)| (k.to_string(), ParamValue::Single(v.to_string()))).collect(),
        request_id: Arc::from("bench"),
        lease: InstanceLease::standalone(),
    }
}

/// The executor a route of `component` would have, with `stores`, fresh
/// or reusing each instance for up to `reuse` requests.
fn executor(component: &RouteComponent, stores: Arc<RouteStores>, reuse: Option<u32>) -> Executor {
    let context = RouteContext { kv_stores: stores, ..RouteContext::ungranted("/bench") };
    Executor::new(component, context, reuse).expect("a wasmroutes:api component")
}

/// One request through `executor`, from the WIT record to the HTTP answer;
/// `None` if the guest failed.
fn call(rt: &tokio::runtime::Runtime, executor: &Executor, request: RoutedRequest) -> Option<CallTiming> {
    let Answer::Call(call) = executor.answer(&http::Method::GET) else { panic!("the route has no GET handler") };
    let outcome = rt.block_on(call.run(request));
    let response = outcome.response.ok()?;
    assert_eq!(response.status(), 200);
    Some(outcome.timing)
}

fn sandbox(c: &mut Criterion) {
    let Some(wasm) = component_wasm("hello") else {
        panic!("build target/wasm32-wasip2/release/hello.wasm first (see the file's doc comment)");
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio");
    let sandbox = Sandbox::new(&EngineConfig { cache: None, ..EngineConfig::default() }).expect("runtime");
    let (component, _) = RouteComponent::load(&sandbox, &wasm).expect("load hello");
    let fresh_hello = executor(&component, Arc::default(), None);
    // One request: for a fresh executor, from a new store to dropping it.
    let hello = |executor: &Executor| call(&rt, executor, get("/api/hello", &[])).expect("call");

    c.bench_function("fresh_instance_request", |b| b.iter(|| hello(&fresh_hello)));
    phases("fresh_instance_request", || hello(&fresh_hello));

    kv_reads(c, &rt, &sandbox);

    if let Some(floor) = component_wasm("floor_hello") {
        let (floor, _) = RouteComponent::load(&sandbox, &floor).expect("load floor-hello");
        let floor = executor(&floor, Arc::default(), None);
        c.bench_function("fresh_instance_request_no_wasi_imports", |b| b.iter(|| hello(&floor)));
        phases("fresh_instance_request_no_wasi_imports", || hello(&floor));
    }

    js_hello(c, &rt, &sandbox);

    let reused = executor(&component, Arc::default(), Some(u32::MAX));
    c.bench_function("reused_instance_request", |b| b.iter(|| hello(&reused)));
}

/// The JavaScript hello (`sample-routes/js`, built by `wasmroutes build
/// sample-routes/js/routes.toml`), fresh and reused: where a JS request's
/// time goes, next to the Rust hello's.
fn js_hello(c: &mut Criterion, rt: &tokio::runtime::Runtime, sandbox: &Sandbox) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let wasm = root.join("sample-routes/js/.wasmroutes/build/app/api/hello/route.js.wasm");
    if !wasm.exists() {
        eprintln!("(no JS rows: run `wasmroutes build sample-routes/js/routes.toml`)");
        return;
    }
    let (component, _) = RouteComponent::load(sandbox, &wasm).expect("load the JS hello");
    let fresh_executor = executor(&component, Arc::default(), None);
    let fresh = || call(rt, &fresh_executor, get("/api/hello", &[])).expect("call");
    let mut group = c.benchmark_group("js");
    group.sample_size(20);
    group.bench_function("fresh_instance_request_js", |b| b.iter(fresh));
    // The engine's heap grows while an instance is reused (its garbage
    // collector does not give memory back): how many requests one instance
    // serves before it hits the route's memory limit.
    let unbounded = executor(&component, Arc::default(), Some(u32::MAX));
    let mut served = 0u32;
    while served < 100_000 && call(rt, &unbounded, get("/api/hello", &[])).is_some() {
        served += 1;
    }
    eprintln!("a reused JS hello instance served {served} requests before failing (64 MiB memory limit)");
    // As a route with `isolation = "reuse"` runs it: a new instance after
    // the default `max_requests_per_instance`.
    let pool = executor(&component, Arc::default(), Some(Isolation::DEFAULT_MAX_REQUESTS));
    group.bench_function("reused_instance_request_js", |b| {
        b.iter(|| call(rt, &pool, get("/api/hello", &[])).expect("call"))
    });
    group.finish();
    phases_n("fresh_instance_request_js", 2_000, fresh);
}

/// Fresh-instance requests that read one key of an embedded store.
fn kv_reads(c: &mut Criterion, rt: &tokio::runtime::Runtime, sandbox: &Sandbox) {
    let (Some(tasks_id), Some(kv_plain)) = (component_wasm("tasks_id"), component_wasm("kv_plain")) else {
        eprintln!("(no kv rows: build tasks-id and kv-plain for wasm32-wasip2)");
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let configs = [(StoreConfig::DEFAULT.to_owned(), StoreConfig::implicit_default())].into();
    let _guard = rt.enter();
    let stores = Stores::new(&configs, dir.path());
    let kv_stores = stores.for_route(&[StoreConfig::DEFAULT.to_owned()]).expect("open the store");
    let store = stores.opened().pop().expect("the default store");
    let task = br#"{"id":1,"title":"bench","done":false}"#.to_vec();
    rt.block_on(store.set("task:00000000000000000001".into(), task)).expect("seed");
    rt.block_on(store.set("k".into(), b"v".to_vec())).expect("seed");

    let id = [("id", "1")];
    let cases = [
        ("fresh_instance_request_kv_get_sdk", tasks_id, "/api/tasks/1", &id[..]),
        ("fresh_instance_request_kv_get_plain", kv_plain, "/kv?key=k", &[]),
    ];
    for (name, wasm, uri, params) in cases {
        let (component, _) = RouteComponent::load(sandbox, &wasm).expect("load");
        let executor = executor(&component, Arc::clone(&kv_stores), None);
        let fresh = || call(rt, &executor, get(uri, params)).expect("call");
        c.bench_function(name, |b| b.iter(fresh));
        phases(name, fresh);
    }
}

/// Splits a fresh-instance request into the phases `CallTiming` records (the
/// same split `Server-Timing` reports) and prints their means: instantiate
/// (from the `InstancePre`), handler (the first call into the new instance),
/// and the rest (new store and WASI context, then dropping the store, which
/// resets the pool slot).
fn phases(name: &str, request: impl FnMut() -> CallTiming) {
    phases_n(name, 50_000, request);
}

/// [`phases`] over `n` requests, with the page faults each one takes (the
/// pages of the memory image and heap it touches, a large part of a fresh
/// instance's cost).
fn phases_n(name: &str, n: u32, mut request: impl FnMut() -> CallTiming) {
    let (mut instantiate, mut handler) = (Duration::ZERO, Duration::ZERO);
    let faults_before = minor_faults();
    let started = Instant::now();
    for _ in 0..n {
        let timing = request();
        instantiate += timing.instantiate;
        handler += timing.handler;
    }
    let total = started.elapsed();
    let faults = minor_faults().saturating_sub(faults_before) / u64::from(n);
    eprintln!(
        "{name} phases (mean of {n}): total {:?} = instantiate {:?} + handler {:?} + store set-up and drop {:?}; \
         {faults} page faults per request",
        total / n,
        instantiate / n,
        handler / n,
        total.saturating_sub(instantiate + handler) / n
    );
}

/// This process's minor page faults so far (`/proc/self/stat`, field 10).
fn minor_faults() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The command name (field 2) may hold spaces; the fields after its `)` do not.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    after_name.split_whitespace().nth(7).and_then(|f| f.parse().ok()).unwrap_or(0)
}

criterion_group!(benches, sandbox);
criterion_main!(benches);
