//! Observability: Prometheus metrics and health on `--admin-addr`, the access
//! log (also as JSON), opt-in `Server-Timing`, and the client's `x-request-id`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use e2e_support::{KillOnDrop, TestHost, TestResponse, eventually, send, test_routes_toml};

/// The distinct components in `test_routes_toml()`.
const DISTINCT_COMPONENTS: f64 = 10.0;

/// A host serving the test routes with the admin endpoints on a free port.
fn host_with_admin(extra: &[&str]) -> (TestHost, SocketAddr) {
    let mut args = vec!["--admin-addr", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    let host = TestHost::routes(&test_routes_toml()).args(&args).start();
    let log = host.log_text();
    let admin = log
        .lines()
        .find_map(|l| l.split("/openapi.json on http://").nth(1))
        .unwrap_or_else(|| panic!("no admin address announced:\n{log}"));
    let admin = admin.trim().parse().expect("admin address");
    (host, admin)
}

fn admin_get(admin: SocketAddr, path: &str) -> TestResponse {
    send(admin, "GET", path, &[], b"")
}

/// The value of the sample `series` (name and labels exactly as rendered).
fn sample(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no sample {series} in:\n{metrics}"))
}

#[test]
fn metrics_count_responses_by_route_and_status_class_and_guest_failures_by_kind() {
    let (host, admin) = host_with_admin(&[]);
    for _ in 0..3 {
        assert_eq!(host.get("/api/hello").status, 200);
    }
    assert_eq!(host.request("DELETE", "/api/hello", &[], b"").status, 405);
    assert_eq!(host.get("/hostile?do=trap").status, 500);
    assert_eq!(host.get("/limited?do=loop").status, 504);
    assert_eq!(host.get("/limited?do=alloc").status, 500);
    assert_eq!(host.get("/no/such/route").status, 404);

    let resp = admin_get(admin, "/metrics");
    assert_eq!(resp.status, 200);
    assert!(resp.header("content-type").is_some_and(|t| t.starts_with("text/plain")));
    let m = resp.text();
    assert_eq!(sample(&m, r#"wasmroutes_requests_total{route="/api/hello",status="2xx"}"#), 3.0);
    assert_eq!(sample(&m, r#"wasmroutes_requests_total{route="/api/hello",status="4xx"}"#), 1.0);
    assert_eq!(sample(&m, r#"wasmroutes_requests_total{route="/api/hello",status="5xx"}"#), 0.0);
    assert_eq!(sample(&m, r#"wasmroutes_requests_total{route="/hostile",status="5xx"}"#), 1.0);
    assert_eq!(sample(&m, r#"wasmroutes_requests_total{route="/limited",status="5xx"}"#), 2.0);
    assert_eq!(sample(&m, r#"wasmroutes_requests_total{route="(unmatched)",status="4xx"}"#), 1.0);
    assert_eq!(sample(&m, r#"wasmroutes_guest_traps_total{route="/hostile"}"#), 1.0);
    assert_eq!(sample(&m, r#"wasmroutes_guest_timeouts_total{route="/limited"}"#), 1.0);
    assert_eq!(sample(&m, r#"wasmroutes_guest_memory_limit_hits_total{route="/limited"}"#), 1.0);
    assert_eq!(sample(&m, r#"wasmroutes_guest_traps_total{route="/limited"}"#), 0.0);
    assert_eq!(sample(&m, r#"wasmroutes_instances_in_flight{route="/limited"}"#), 0.0);
    assert_eq!(sample(&m, r#"wasmroutes_request_duration_seconds_count{route="/api/hello"}"#), 4.0);
    assert_eq!(sample(&m, r#"wasmroutes_request_duration_seconds_bucket{route="/api/hello",le="+Inf"}"#), 4.0);
    let loaded =
        sample(&m, "wasmroutes_compile_cache_hits_total") + sample(&m, "wasmroutes_compile_cache_misses_total");
    assert_eq!(loaded, DISTINCT_COMPONENTS, "every component was either a cache hit or a miss");
}

#[test]
fn instances_in_flight_shows_a_running_guest() {
    let (host, admin) = host_with_admin(&[]);
    let (sleeper, _) = host.occupy_only_slot("/single?do=sleep&ms=3000", "/single");
    eventually(Duration::from_secs(10), || {
        let m = admin_get(admin, "/metrics").text();
        if sample(&m, r#"wasmroutes_instances_in_flight{route="/single"}"#) == 1.0 {
            return Ok(());
        }
        Err(format!("the sleeping guest never showed as in flight:\n{m}"))
    });
    assert_eq!(sleeper.join().expect("sleeper").status, 200);
    let m = admin_get(admin, "/metrics").text();
    assert_eq!(sample(&m, r#"wasmroutes_instances_in_flight{route="/single"}"#), 0.0);
}

#[test]
fn admin_health_endpoints_and_unknown_paths() {
    let (host, admin) = host_with_admin(&[]);
    let health = admin_get(admin, "/healthz");
    assert_eq!((health.status, health.json()), (200, serde_json::json!({ "status": "alive" })));
    let ready = admin_get(admin, "/readyz");
    assert_eq!((ready.status, ready.json()), (200, serde_json::json!({ "status": "ready" })), "ready after load");
    let unknown = admin_get(admin, "/api/hello");
    assert_eq!(unknown.status, 404, "routes are not served on the admin address");
    assert_eq!(unknown.header("content-type"), Some("application/json"));
    assert!(unknown.json()["error"].is_string());
    assert_eq!(host.get("/metrics").status, 404, "metrics are not served on the public address");
}

/// Waits for the log line of `request_id` whose `target` is the access log.
fn json_access_line(host: &TestHost, request_id: &str) -> serde_json::Value {
    eventually(Duration::from_secs(10), || {
        let log = host.log_text();
        let found = log
            .lines()
            .filter(|l| l.starts_with('{'))
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .find(|v| v["target"] == "wasmroutes::access" && v["request_id"] == request_id);
        found.ok_or_else(|| format!("no JSON access log line for {request_id}:\n{log}"))
    })
}

#[test]
fn json_access_log_lines_carry_method_path_route_status_times_and_request_id() {
    let host = TestHost::routes(&test_routes_toml()).args(&["--log-format", "json"]).start();
    let resp = host.request("GET", "/api/posts/42?x=1", &[("x-request-id", "trace-json-1")], b"");
    assert_eq!(resp.status, 200);
    let line = json_access_line(&host, "trace-json-1");
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["method"], "GET");
    assert_eq!(line["path"], "/api/posts/42");
    assert_eq!(line["route"], "/api/posts/[id]");
    assert_eq!(line["status"], 200);
    let total = line["total_us"].as_u64().expect("total_us");
    let guest = line["guest_us"].as_u64().expect("guest_us");
    assert!(guest <= total, "guest time is part of the total: {line}");

    let resp = host.get("/no/such/route");
    let id = resp.header("x-request-id").expect("request id");
    let line = json_access_line(&host, id);
    assert_eq!((line["route"].as_str(), line["status"].as_u64()), (Some("-"), Some(404)));

    // Other events of the request are JSON too, and carry its id.
    let resp = host.request("GET", "/hostile?do=trap", &[("x-request-id", "trace-json-trap")], b"");
    assert_eq!(resp.status, 500);
    json_access_line(&host, "trace-json-trap");
    let log = host.log_text();
    let error = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["level"] == "ERROR" && v["request_id"] == "trace-json-trap");
    assert!(error.is_some_and(|e| e["route"] == "/hostile"), "the error event is JSON with the id:\n{log}");
}

#[test]
fn server_timing_only_when_enabled() {
    let plain = TestHost::routes(&test_routes_toml()).start();
    assert_eq!(plain.get("/api/hello").header("server-timing"), None);

    let timed = TestHost::routes(&test_routes_toml()).args(&["--server-timing"]).start();
    let resp = timed.get("/api/hello");
    assert_eq!(resp.status, 200);
    let value = resp.header("server-timing").expect("server-timing header");
    let names: Vec<&str> = value.split(", ").map(|m| m.split(";dur=").next().unwrap_or_default()).collect();
    assert_eq!(names, ["instantiate", "handler", "total"], "{value}");
    for metric in value.split(", ") {
        let ms: f64 = metric.split(";dur=").nth(1).and_then(|d| d.parse().ok()).expect("a duration in ms");
        assert!(ms >= 0.0, "{value}");
    }
    let refused = timed.request("DELETE", "/api/hello", &[], b"");
    assert!(refused.header("server-timing").is_some_and(|v| v.starts_with("total;dur=")), "no guest ran: total");
    assert_eq!(timed.get("/no/such/route").header("server-timing"), None, "only routed requests");
}

/// The `x-request-id` headers the hostile route's echo says it received.
fn guest_seen_ids(resp: &TestResponse) -> Vec<String> {
    let echo = resp.json();
    let headers = echo["headers"].as_array().expect("echoed headers");
    headers
        .iter()
        .filter(|pair| pair[0] == "x-request-id")
        .map(|pair| pair[1].as_str().expect("value").to_owned())
        .collect()
}

#[test]
fn a_sane_client_request_id_is_kept_passed_to_the_guest_and_logged() {
    let host = TestHost::routes(&test_routes_toml()).start();
    let id = "client-req_42.a:b";
    let resp = host.request("GET", "/hostile?do=echo", &[("x-request-id", id)], b"");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("x-request-id"), Some(id));
    assert_eq!(guest_seen_ids(&resp), [id]);
    eventually(Duration::from_secs(10), || {
        let log = host.log_text();
        let logged = log.lines().any(|l| l.contains("wasmroutes::access") && l.contains(&format!("request_id={id}")));
        if logged { Ok(()) } else { Err(format!("no access log line with {id}:\n{log}")) }
    });
}

#[test]
fn an_insane_client_request_id_is_replaced_everywhere() {
    let host = TestHost::routes(&test_routes_toml()).start();
    let too_long = "x".repeat(129);
    for sent in ["has spaces", "inject\"quote", "a/b", too_long.as_str()] {
        let resp = host.request("GET", "/hostile?do=echo", &[("x-request-id", sent)], b"");
        assert_eq!(resp.status, 200);
        let id = resp.header("x-request-id").expect("request id").to_owned();
        assert_ne!(id, sent);
        assert!(id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()), "a generated id: {id}");
        assert_eq!(guest_seen_ids(&resp), [id], "the guest sees the replacement, not the client's value");
    }
}

#[test]
fn readyz_answers_during_load_and_is_200_only_once_every_route_is_loaded() {
    // Started by hand (the harness waits for the load to finish), with no
    // compile cache so loading takes a while.
    let a = e2e_support::artifacts();
    let dir = tempfile::tempdir().expect("temp dir");
    let manifest = dir.path().join("routes.toml");
    std::fs::write(&manifest, test_routes_toml()).expect("write routes.toml");
    let log = dir.path().join("server.log");
    let log_file = std::fs::File::create(&log).expect("log file");
    let child = std::process::Command::new(&a.binary)
        .args(["serve", "--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--no-cache"])
        .arg(&manifest)
        .env("WASMROUTES_TEST_GREETING", "x")
        .stdout(log_file.try_clone().expect("log file"))
        .stderr(log_file)
        .spawn()
        .expect("spawn wasmroutes");
    let _child = KillOnDrop(child);
    let log_text = || std::fs::read_to_string(&log).unwrap_or_default();

    let deadline = Instant::now() + Duration::from_secs(120);
    let admin: SocketAddr = loop {
        if let Some(addr) = log_text().lines().find_map(|l| l.split("/openapi.json on http://").nth(1)) {
            break addr.trim().parse().expect("admin address");
        }
        assert!(Instant::now() < deadline, "no admin address announced:\n{}", log_text());
        std::thread::sleep(Duration::from_millis(5));
    };
    let mut seen = Vec::new();
    loop {
        let health = admin_get(admin, "/healthz").status;
        let ready = admin_get(admin, "/readyz").status;
        // Read after the answer: a 200 must mean the load had finished.
        let loaded = log_text().contains("listening on http://");
        assert_eq!(health, 200, "alive while loading too");
        assert!(ready == 503 || (ready == 200 && loaded), "/readyz {ready} before the routes were loaded");
        seen.push(ready);
        if ready == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "never ready:\n{}", log_text());
        std::thread::sleep(Duration::from_millis(10));
    }
    let not_ready = seen.iter().filter(|&&s| s == 503).count();
    eprintln!("/readyz: {not_ready} × 503 while loading, then 200");
}
