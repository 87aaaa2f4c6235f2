//! A standard `wasi:http/proxy` component (built like one for `wasmtime
//! serve`: tests/components/http-proxy) mounted at a dynamic route: it gets
//! every method, the route as headers, its env and outbound allow-list, and
//! the same limits and error envelope as any route.

use e2e_support::{TestHost, artifacts, route};

fn host(extra: &str) -> TestHost {
    let mut toml = String::new();
    let limits = "env = { GREETING = \"from routes.toml\" }\n[route.limits]\ntimeout = \"1s\"\nmemory = \"16MiB\"\n";
    route(&mut toml, "/api/proxy/[...rest]", &artifacts().component("http-proxy"), &format!("{extra}{limits}"));
    route(&mut toml, "/api/hello", &artifacts().component("hello"), "");
    TestHost::routes(&toml).start()
}

#[test]
fn it_answers_every_method_and_sees_the_route_as_headers() {
    let host = host("");
    let spoofed = [("spin-path-match-rest", "forged"), ("x-wasmroutes-route", "forged"), ("x-test", "kept")];
    let resp = host.request("POST", "/api/proxy/a%20b/%C3%A9?q=1&q=2", &spoofed, b"the body");
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.header("x-from"), Some("proxy"));
    let echo = resp.json();
    assert_eq!(echo["method"], "POST");
    assert_eq!(echo["url"], format!("http://{}/api/proxy/a%20b/%C3%A9?q=1&q=2", host.addr));
    assert_eq!(echo["body"], "the body");
    assert_eq!(echo["greeting"], "from routes.toml", "the route's env, nothing else");
    let headers = &echo["headers"];
    assert_eq!(headers["x-wasmroutes-route"], "/api/proxy/[...rest]");
    assert_eq!(headers["spin-matched-route"], "/api/proxy/[...rest]");
    assert_eq!(headers["x-wasmroutes-param-rest"], "a%20b/%C3%A9", "as in the path, catch-all segments joined");
    assert_eq!(headers["spin-path-match-rest"], "a%20b/%C3%A9", "the client's copy is replaced");
    assert_eq!(headers["spin-path-info"], "/a%20b/%C3%A9");
    assert_eq!(headers["spin-full-url"], echo["url"]);
    assert_eq!(headers["x-test"], "kept");
    assert_eq!(Some(headers["x-request-id"].as_str().unwrap_or_default()), resp.header("x-request-id"));

    // Every method reaches it, even ones no wasmroutes:api route can export.
    for method in ["GET", "PUT", "PATCH", "DELETE", "OPTIONS", "PROPFIND"] {
        let resp = host.request(method, "/api/proxy/m", &[], b"");
        assert_eq!((resp.status, resp.json()["method"].as_str()), (200, Some(method)), "{method}");
    }
    let head = host.request("HEAD", "/api/proxy/m", &[], b"");
    assert_eq!((head.status, head.body.len()), (200, 0));
}

#[test]
fn its_faults_become_the_json_envelope_and_the_host_keeps_serving() {
    let host = host("");
    host.get("/api/proxy/trap").assert_error(500, "Internal server error");
    host.get("/api/proxy/spin").assert_error(504, "Route handler timed out");
    host.get("/api/proxy/grow").assert_error(500, "Internal server error");
    host.get("/api/proxy/no-response").assert_error(500, "Internal server error");
    assert_eq!(host.get("/api/proxy/after").status, 200);
    assert_eq!(host.get("/api/hello").status, 200);
    let log = host.log_text();
    assert!(log.contains("the proxy component panics on purpose"), "the panic message is in the log:\n{log}");
    assert!(log.contains("guest memory limit exceeded"), "{log}");
    assert!(log.contains("the handler returned without setting a response"), "{log}");
}

#[test]
fn its_output_is_logged_and_outbound_requests_need_the_allow_list() {
    let probe = host("");
    let allowed = format!("allowed_outbound_hosts = [\"http://{}\"]\n", probe.addr);
    let host = host(&allowed);
    let resp = host.get("/api/proxy/print");
    assert_eq!(resp.text(), "printed");
    let id = resp.header("x-request-id").expect("request id").to_owned();
    let log = host.log_text();
    let line = log.lines().find(|l| l.contains("proxy says hello on stdout")).expect("stdout in the log");
    assert!(line.contains(&id) && line.contains("/api/proxy/[...rest]"), "tagged with request and route: {line}");

    let fetched = host.get(&format!("/api/proxy/fetch?url=http://{}/api/hello", probe.addr)).json();
    assert_eq!(fetched["status"], 200, "{fetched}");
    let denied = host.get(&format!("/api/proxy/fetch?url=http://{}/api/hello", host.addr)).json();
    assert_eq!(denied["error"], "ErrorCode::HttpRequestDenied", "not on the list: {denied}");
}

#[test]
fn reuse_isolation_is_refused_for_it() {
    let mut toml = String::new();
    let extra = "isolation = \"reuse\"\nmax_requests_per_instance = 3\n";
    route(&mut toml, "/api/proxy", &artifacts().component("http-proxy"), extra);
    let Err(log) = TestHost::routes(&toml).try_start() else {
        panic!("a reused wasi:http component should be refused")
    };
    assert!(log.contains("a wasi:http/proxy component runs in a fresh instance per request"), "{log}");
}

#[test]
fn check_and_routes_say_it_answers_any_method() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut toml = String::new();
    route(&mut toml, "/api/proxy/[id]", &artifacts().component("http-proxy"), "");
    let manifest = dir.path().join("routes.toml");
    std::fs::write(&manifest, toml).expect("write routes.toml");
    let manifest = manifest.to_str().expect("a UTF-8 temp path");
    let check = e2e_support::run_wasmroutes(&["check", manifest], dir.path(), &[]);
    assert!(String::from_utf8_lossy(&check.stdout).contains("/api/proxy/[id]  ANY (wasi:http)"), "{check:?}");
    let explain = e2e_support::run_wasmroutes(
        &["routes", manifest, "--match", "/api/proxy/7", "--method", "PROPFIND"],
        dir.path(),
        &[],
    );
    let explained = String::from_utf8_lossy(&explain.stdout);
    assert!(explained.contains("the wasi:http component's incoming-handler answers PROPFIND"), "{explained}");
}
