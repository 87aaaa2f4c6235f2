//! Per-request sandbox cost: new store + instantiate + one handler call +
//! drop, on the hello component, fresh and reused; and, when it is built,
//! fresh on `floor-hello`, the same answer from a component with no WASI
//! imports (the floor for what imports cost per instance).
//! Build the components first (`cargo build --release --target wasm32-wasip2 -p hello`,
//! `bench/floor-hello/build.sh`), then `cargo bench -p wasmroutes --bench sandbox`,
//! or run `bench/sandbox.sh`, which does all of it.

#![allow(missing_docs)] // criterion_group! generates undocumented functions

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use wasmroutes::limits::Limits;
use wasmroutes::method::Method;
use wasmroutes::runtime::{
    CallTiming, EngineConfig, GuestRequest, Invocation, LogBudget, ReusePool, RouteComponent, Runtime, WitMethod,
};

fn component_wasm(name: &str) -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let path = root.join(format!("target/wasm32-wasip2/release/{name}.wasm"));
    path.exists().then_some(path)
}

fn sandbox(c: &mut Criterion) {
    let Some(wasm) = component_wasm("hello") else {
        panic!("build target/wasm32-wasip2/release/hello.wasm first (see the file's doc comment)");
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio");
    let runtime = Runtime::new(&EngineConfig { cache: None, ..EngineConfig::default() }).expect("runtime");
    let (component, _) = RouteComponent::load(&runtime, &wasm).expect("load hello");
    let request = GuestRequest {
        method: WitMethod::Get,
        path: "/api/hello".into(),
        params: Vec::new(),
        query: Vec::new(),
        headers: Vec::new(),
        body: Vec::new(),
    };
    let limits = Limits::default();
    let outbound = Arc::default();
    let kv_stores = Arc::default();
    let log_budget = Arc::new(LogBudget::default());
    let route: Arc<str> = Arc::from("/api/hello");
    let env: Arc<[(String, String)]> = Arc::from(Vec::new());
    let request_id: Arc<str> = Arc::from("bench");
    let invocation = || Invocation {
        route: Arc::clone(&route),
        request_id: Arc::clone(&request_id),
        env: &env,
        limits: &limits,
        outbound: &outbound,
        kv_stores: &kv_stores,
        log_budget: &log_budget,
    };

    // One fresh-instance request, from a new store to dropping it.
    let fresh = |component: &RouteComponent| {
        let mut timing = CallTiming::default();
        rt.block_on(component.call(&runtime, Method::Get, &request, invocation(), &mut timing)).expect("call");
        timing
    };

    c.bench_function("fresh_instance_request", |b| b.iter(|| fresh(&component)));
    phases("fresh_instance_request", || fresh(&component));

    if let Some(floor) = component_wasm("floor_hello") {
        let (floor, _) = RouteComponent::load(&runtime, &floor).expect("load floor-hello");
        c.bench_function("fresh_instance_request_no_wasi_imports", |b| b.iter(|| fresh(&floor)));
        phases("fresh_instance_request_no_wasi_imports", || fresh(&floor));
    }

    let pool = ReusePool::new(u32::MAX);
    c.bench_function("reused_instance_request", |b| {
        b.iter(|| {
            rt.block_on(pool.call(
                &component,
                &runtime,
                Method::Get,
                &request,
                invocation(),
                &mut CallTiming::default(),
            ))
            .expect("call")
        })
    });
}

/// Splits a fresh-instance request into the phases `CallTiming` records (the
/// same split `Server-Timing` reports) and prints their means: instantiate
/// (from the `InstancePre`), handler (the first call into the new instance),
/// and the rest (new store and WASI context, then dropping the store, which
/// resets the pool slot).
fn phases(name: &str, mut request: impl FnMut() -> CallTiming) {
    const N: u32 = 50_000;
    let (mut instantiate, mut handler) = (Duration::ZERO, Duration::ZERO);
    let started = Instant::now();
    for _ in 0..N {
        let timing = request();
        instantiate += timing.instantiate;
        handler += timing.handler;
    }
    let total = started.elapsed();
    eprintln!(
        "{name} phases (mean of {N}): total {:?} = instantiate {:?} + handler {:?} + store set-up and drop {:?}",
        total / N,
        instantiate / N,
        handler / N,
        total.saturating_sub(instantiate + handler) / N
    );
}

criterion_group!(benches, sandbox);
criterion_main!(benches);
