//! The suite on Redis (a real `redis-server` per test, on a free loopback
//! port), plus what only a shared store has: Redis going away and coming
//! back while the host keeps serving, and stores on one server that never
//! see each other's keys.

use std::time::{Duration, Instant};

use e2e_support::keep_alive::Connection;
use e2e_support::redis_server::RedisServer;
use e2e_support::{TestHost, eventually, free_port};

use super::{Backend, Deployment, post_task, task_title};

fn backend(redis: &RedisServer) -> Backend {
    Backend::Redis { url: redis.url() }
}

#[test]
fn tasks_answer_as_specified() {
    let redis = RedisServer::start();
    super::tasks_answer_as_specified(&backend(&redis));
}

#[test]
fn list_keys_pages_return_every_key() {
    // SCAN returns every key present for the whole scan at least once; a
    // key may come twice while Redis resizes its table (README).
    let redis = RedisServer::start();
    super::list_keys_pages_return_every_key_once(&backend(&redis), false);
}

#[test]
fn increments_are_exact() {
    let redis = RedisServer::start();
    super::increments_are_exact(&backend(&redis));
}

#[test]
fn compare_and_swap_loses_no_update() {
    let redis = RedisServer::start();
    super::compare_and_swap_loses_no_update(&backend(&redis));
}

#[test]
fn undeclared_stores_are_denied() {
    let redis = RedisServer::start();
    super::undeclared_stores_are_denied(&backend(&redis));
}

#[test]
fn limits_are_enforced() {
    let redis = RedisServer::start();
    super::limits_are_enforced(&backend(&redis));
}

/// Two stores on one Redis server: same key, separate values, separate lists.
#[test]
fn stores_on_one_server_never_see_each_others_keys() {
    let redis = RedisServer::start();
    let deployment = Deployment::new(&backend(&redis), "");
    let host = deployment.start();
    let mut conn = Connection::open(host.addr);
    assert_eq!(conn.request("POST", "/kv?key=shared&store=default", b"in default").status, 204);
    assert_eq!(conn.request("GET", "/kv?key=shared&store=other", b"").status, 404);
    assert_eq!(conn.request("POST", "/kv?key=shared&store=other", b"in other").status, 204);
    assert_eq!(conn.request("GET", "/kv?key=shared&store=default", b"").text(), "in default");
    assert_eq!(conn.request("POST", "/kv?key=only-other&store=other", b"x").status, 204);
    let listed = conn.request("GET", "/kv?op=list&store=default", b"").json();
    assert_eq!(listed["keys"], serde_json::json!(["shared"]), "{listed}");
}

/// Redis killed under load: store routes answer 503 with `Retry-After`,
/// other routes keep answering, the host stays up; once Redis is back the
/// same host writes again by itself, and no acknowledged write was lost
/// (Redis runs with `appendfsync always` here).
#[test]
fn redis_going_away_is_503_and_coming_back_needs_no_restart() {
    let mut redis = RedisServer::start_durable();
    let deployment = Deployment::new(&backend(&redis), "");
    let host = deployment.start();
    let mut conn = Connection::open(host.addr);
    let mut acknowledged = Vec::new();
    for i in 0..50 {
        let resp = post_task(&mut conn, &format!("before {i}"));
        assert_eq!(resp.status, 201, "{}", resp.text());
        acknowledged.push(resp.json()["id"].as_u64().expect("id"));
    }

    redis.stop();
    let refused = post_task(&mut conn, "while down");
    assert_eq!(refused.status, 503, "{}", refused.text());
    assert!(refused.header("retry-after").is_some(), "503 says when to retry");
    assert!(refused.json()["error"].is_string());
    assert_eq!(conn.request("GET", &format!("/api/tasks/{}", acknowledged[0]), b"").status, 503);
    for _ in 0..20 {
        assert_eq!(conn.request("GET", "/api/hello", b"").status, 200, "routes without stores keep answering");
    }

    redis.restart();
    let back = eventually(Duration::from_secs(15), || {
        let resp = post_task(&mut conn, "after");
        if resp.status == 201 {
            return Ok(resp);
        }
        assert_eq!(resp.status, 503, "{}", resp.text());
        Err("the host did not reconnect to Redis by itself".into())
    });
    assert!(back.json()["id"].as_u64() > acknowledged.last().copied());
    for id in acknowledged {
        assert!(task_title(&mut conn, id).is_some(), "acknowledged task {id} lost across the Redis restart");
    }
}

/// A host started while Redis is down starts anyway: `/readyz` says which
/// store is down (status "degraded"), its routes answer 503, and when
/// Redis comes up everything works without a restart.
#[test]
fn the_host_starts_degraded_without_redis_and_readyz_says_so() {
    let mut redis = RedisServer::start();
    redis.stop();
    let deployment = Deployment::new(&backend(&redis), "");
    let admin = free_port();
    let host = TestHost::manifest(&deployment.manifest).args(&["--admin-addr", &format!("127.0.0.1:{admin}")]).start();
    let admin = std::net::SocketAddr::from(([127, 0, 0, 1], admin));

    let ready = e2e_support::send(admin, "GET", "/readyz", &[], b"");
    assert_eq!(ready.status, 200, "{}", ready.text());
    let body = ready.json();
    assert_eq!(body["status"], "degraded", "{body}");
    assert_eq!(body["stores"]["default"]["ok"], false, "{body}");
    assert_eq!(body["stores"]["default"]["type"], "redis", "{body}");
    assert_eq!(post_task(&mut Connection::open(host.addr), "x").status, 503);
    assert_eq!(host.get("/api/hello").status, 200);

    redis.restart();
    eventually(Duration::from_secs(15), || match e2e_support::send(admin, "GET", "/readyz", &[], b"").json() {
        ready if ready["status"] == "ready" => Ok(()),
        other => Err(format!("readyz never turned ready: {other}")),
    });
    assert_eq!(post_task(&mut Connection::open(host.addr), "x").status, 201);
}

/// Store calls count against the route's `timeout`: with Redis frozen
/// (SIGSTOP), a route with a 500 ms timeout answers 504 after about 500 ms,
/// not after the backend's own 2 s response timeout, and the host serves
/// the next request normally once Redis resumes.
#[test]
fn store_calls_count_against_the_route_timeout() {
    let redis = RedisServer::start();
    let a = e2e_support::artifacts();
    let mut toml = super::store_table(&backend(&redis), "default", "");
    e2e_support::route(
        &mut toml,
        "/api/tasks/[id]",
        &a.component("tasks-id"),
        "key_value_stores = [\"default\"]\nlimits = { timeout = \"500ms\" }\n",
    );
    let deployment = Deployment::from_toml(&toml);
    let host = deployment.start();
    assert_eq!(host.get("/api/tasks/1").status, 404, "Redis answers");
    redis.pause();
    let started = Instant::now();
    let resp = host.get("/api/tasks/1");
    let took = started.elapsed();
    redis.resume();
    assert_eq!(resp.status, 504, "{}", resp.text());
    assert!(took < Duration::from_millis(1900), "cut at the route's timeout, not the backend's: {took:?}");
    assert_eq!(host.get("/api/tasks/1").status, 404, "serves normally afterwards");
}
