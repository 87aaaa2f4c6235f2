//! `isolation = "reuse"`: opt-in instance reuse, up to a number of requests,
//! with failed instances discarded. Fresh stays the default.

use e2e_support::{TestHost, artifacts, route};

fn count(host: &TestHost, path: &str) -> u64 {
    let resp = host.get(&format!("{path}?do=count"));
    assert_eq!(resp.status, 200, "{}", resp.text());
    resp.json().as_u64().expect("a count")
}

#[test]
fn reused_instances_keep_state_until_their_limit_or_a_failure() {
    let hostile = artifacts().component("hostile");
    let mut toml = String::new();
    route(&mut toml, "/fresh", &hostile, "");
    route(&mut toml, "/reuse", &hostile, "isolation = \"reuse\"\nmax_requests_per_instance = 3\n");
    let host = TestHost::routes(&toml).start();

    let fresh: Vec<u64> = (0..3).map(|_| count(&host, "/fresh")).collect();
    assert_eq!(fresh, [1, 1, 1], "by default every request gets a fresh instance");

    let reused: Vec<u64> = (0..4).map(|_| count(&host, "/reuse")).collect();
    assert_eq!(reused, [1, 2, 3, 1], "an instance serves 3 requests, then a new one takes over");

    assert_eq!(count(&host, "/reuse"), 2);
    host.get("/reuse?do=trap").assert_error(500, "Internal server error");
    assert_eq!(count(&host, "/reuse"), 1, "a trapped instance is discarded, not reused");

    // Log lines of a reused instance carry each request's own id.
    let resp = host.get("/reuse?do=print");
    let id = resp.header("x-request-id").expect("request id").to_owned();
    let log = host.log_text();
    assert!(log.lines().any(|l| l.contains("hello from the guest's stdout") && l.contains(&id)), "{log}");
}
