//! Route lookup cost with 10 and with 10,000 routes: a trie walk, so it should
//! not grow with the number of routes. `cargo bench -p wasmroutes --bench router`

#![allow(missing_docs)] // criterion_group! generates undocumented functions

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use wasmroutes::routing::pattern::RoutePattern;
use wasmroutes::routing::router::Router;

fn table(n: usize) -> Router<usize> {
    let mut router = Router::new();
    for i in 0..n {
        // A mix of shapes: static, one param, a nested param, a catch-all.
        let pattern = match i % 4 {
            0 => format!("/api/s{i}/items"),
            1 => format!("/api/s{i}/items/[id]"),
            2 => format!("/api/s{i}/users/[user]/posts/[post]"),
            _ => format!("/api/s{i}/docs/[...slug]"),
        };
        router.insert(RoutePattern::parse(&pattern).expect("pattern"), i).expect("insert");
    }
    router
}

fn lookup(c: &mut Criterion) {
    let mut group = c.benchmark_group("route_lookup");
    for n in [10, 10_000] {
        let router = table(n);
        let hit = ["api", "s5", "items", "42"];
        let deep = ["api", "s6", "users", "7", "posts", "9"];
        let miss = ["api", "nope", "x"];
        group.bench_with_input(BenchmarkId::new("param_hit", n), &router, |b, r| {
            b.iter(|| r.lookup(std::hint::black_box(&hit)).map(|m| *m.value))
        });
        group.bench_with_input(BenchmarkId::new("two_params", n), &router, |b, r| {
            b.iter(|| r.lookup(std::hint::black_box(&deep)).map(|m| *m.value))
        });
        group.bench_with_input(BenchmarkId::new("miss", n), &router, |b, r| {
            b.iter(|| r.lookup(std::hint::black_box(&miss)).map(|m| *m.value))
        });
    }
    group.finish();
}

criterion_group!(benches, lookup);
criterion_main!(benches);
