//! Every setting `serve` needs in a container can come from a `WASMROUTES_*`
//! environment variable instead of a flag (a Kubernetes manifest sets env
//! more easily than it rewrites a command line), and `--log-format json`
//! is one of them, for the cluster's log shipper.

use std::net::SocketAddr;
use std::process::{Command, Stdio};

use e2e_support::{KillOnDrop, artifacts, free_port, route, send, wait_for_log};

fn free_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], free_port()))
}

#[test]
fn serve_takes_its_settings_from_wasmroutes_variables() {
    let a = artifacts();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut toml = String::new();
    route(&mut toml, "/api/hello", &a.component("hello"), "");
    route(&mut toml, "/api/tasks", &a.component("tasks"), "key_value_stores = [\"default\"]\n");
    let manifest = dir.path().join("routes.toml");
    std::fs::write(&manifest, toml).expect("write routes.toml");
    let (addr, admin) = (free_addr(), free_addr());
    let (data, cache) = (dir.path().join("data"), dir.path().join("cache"));
    let log = dir.path().join("server.log");
    let log_file = std::fs::File::create(&log).expect("log file");
    let child = Command::new(&a.binary)
        .arg("serve")
        .arg(&manifest)
        .env("WASMROUTES_ADDR", addr.to_string())
        .env("WASMROUTES_ADMIN_ADDR", admin.to_string())
        .env("WASMROUTES_DATA_DIR", &data)
        .env("WASMROUTES_CACHE_DIR", &cache)
        .env("WASMROUTES_LOG_FORMAT", "json")
        .env("WASMROUTES_SHUTDOWN_GRACE", "1s")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().expect("log file"))
        .stderr(log_file)
        .spawn()
        .expect("spawn wasmroutes");
    let mut child = KillOnDrop(child);
    wait_for_log(&log, &mut child, &format!("listening on http://{addr}"));
    let log_text = || std::fs::read_to_string(&log).unwrap_or_default();

    assert_eq!(send(addr, "GET", "/api/hello", &[], b"").status, 200);
    let created = send(addr, "POST", "/api/tasks", &[], br#"{"title":"from env"}"#);
    assert_eq!(created.status, 201, "{}", created.text());
    assert!(data.join("kv/default.redb").is_file(), "the store is under WASMROUTES_DATA_DIR");
    assert!(std::fs::read_dir(&cache).is_ok_and(|mut d| d.next().is_some()), "compiled into WASMROUTES_CACHE_DIR");
    assert_eq!(send(admin, "GET", "/readyz", &[], b"").status, 200, "admin on WASMROUTES_ADMIN_ADDR");

    // Every line is one JSON object, start-up lines and the route table
    // included: a log shipper meets nothing else.
    let text = log_text();
    for line in text.lines() {
        assert!(serde_json::from_str::<serde_json::Value>(line).is_ok_and(|v| v.is_object()), "not JSON: {line}");
    }
    assert!(text.contains(r#""message":"route","route":"/api/tasks""#), "the route table as events:\n{text}");
    // The access log line of the POST.
    let line = text
        .lines()
        .find(|l| l.contains(r#""path":"/api/tasks""#) && l.contains(r#""status":"#))
        .unwrap_or_else(|| panic!("no JSON access log line:\n{text}"));
    let event: serde_json::Value = serde_json::from_str(line).expect("a JSON log line");
    assert_eq!((event["status"].as_u64(), event["method"].as_str()), (Some(201), Some("POST")), "{event}");
}
