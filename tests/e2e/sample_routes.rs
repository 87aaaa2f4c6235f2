//! Every route of the tutorial answers exactly like its JavaScript original.

use std::sync::OnceLock;

use e2e_support::{TestHost, test_routes_toml};
use serde_json::json;

/// One host for every test here: they only send requests.
fn shared_host() -> &'static TestHost {
    static HOST: OnceLock<TestHost> = OnceLock::new();
    TestHost::routes(&test_routes_toml()).shared(&HOST)
}

#[test]
fn get_routes_answer_like_the_tutorial() {
    let host = shared_host();
    let cases: &[(&str, u16, &str)] = &[
        ("/api/hello", 200, r#"{"message":"Hello from API!"}"#),
        ("/api/posts", 200, r#"[{"id":1,"title":"First Post"},{"id":2,"title":"Second Post"}]"#),
        ("/api/posts/42", 200, r#"{"id":"42","title":"Post 42","content":"Post content here..."}"#),
        (
            "/api/posts/hello%20world",
            200,
            r#"{"id":"hello world","title":"Post hello world","content":"Post content here..."}"#,
        ),
        (
            "/api/search?q=rust&limit=5",
            200,
            r#"{"query":"rust","limit":5,"results":[{"id":1,"name":"Result for rust"}]}"#,
        ),
        (
            "/api/search?q=a+b%26c",
            200,
            r#"{"query":"a b&c","limit":10,"results":[{"id":1,"name":"Result for a b&c"}]}"#,
        ),
        ("/api/search", 200, r#"{"query":null,"limit":10,"results":[{"id":1,"name":"Result for null"}]}"#),
        ("/api/search?q=x&limit=", 200, r#"{"query":"x","limit":10,"results":[{"id":1,"name":"Result for x"}]}"#),
        (
            "/api/search?q=first&q=second",
            200,
            r#"{"query":"first","limit":10,"results":[{"id":1,"name":"Result for first"}]}"#,
        ),
        ("/api/user/1", 200, r#"{"id":"1","name":"Alice","email":"alice@example.com"}"#),
        ("/api/user/2", 200, r#"{"id":"2","name":"Bob","email":"bob@example.com"}"#),
        ("/api/user/3", 404, r#"{"error":"User not found"}"#),
        ("/api/user/boom", 500, r#"{"error":"Internal server error"}"#),
        ("/api/todos", 200, r#"[{"id":1,"task":"Learn Next.js","done":false}]"#),
        ("/api/docs/a", 200, r#"{"slug":["a"]}"#),
        ("/api/docs/a/b/c", 200, r#"{"slug":["a","b","c"]}"#),
        ("/api/shop", 200, r#"{"slug":[]}"#),
        ("/api/shop/clothes/shirts", 200, r#"{"slug":["clothes","shirts"]}"#),
    ];
    for (target, status, body) in cases {
        let resp = host.get(target);
        assert_eq!((resp.status, resp.text().as_str()), (*status, *body), "GET {target}");
        assert_eq!(resp.header("content-type"), Some("application/json"), "GET {target}");
        assert!(resp.header("x-request-id").is_some(), "GET {target}");
    }
}

#[test]
fn search_rejects_a_limit_that_is_not_a_non_negative_integer() {
    let host = shared_host();
    for limit in ["-1", "abc", "1.5", "%2B3"] {
        let resp = host.get(&format!("/api/search?q=x&limit={limit}"));
        assert_eq!(resp.status, 400, "limit={limit}: {}", resp.text());
        assert!(resp.json()["error"].as_str().is_some_and(|m| m.contains("limit")), "{}", resp.text());
    }
}

#[test]
fn post_routes_create_with_a_timestamp_id() {
    let host = shared_host();
    let before = now_millis();

    let resp = host.request("POST", "/api/users", &[], br#"{"name":"Ada","email":"ada@example.com"}"#);
    assert_eq!(resp.status, 201, "{}", resp.text());
    let user = resp.json();
    let id = user["id"].as_u64().expect("numeric id");
    assert!(id >= before && id <= now_millis(), "id {id} is a millisecond timestamp");
    let text = resp.text();
    assert_eq!(text, format!(r#"{{"id":{id},"name":"Ada","email":"ada@example.com"}}"#));

    let resp = host.request("POST", "/api/users", &[("content-type", "text/plain")], br#"{"name":"Ada"}"#);
    assert_eq!(resp.status, 201, "content-type is not checked, like request.json()");
    assert!(resp.json().get("email").is_none(), "a missing field is missing from the answer");

    let resp = host.request("POST", "/api/todos", &[], b"\xEF\xBB\xBF{\"task\":\"Ship\"}");
    assert_eq!(resp.status, 201, "a leading BOM is dropped: {}", resp.text());
    let todo = resp.json();
    assert_eq!((todo["task"].clone(), todo["done"].clone()), (json!("Ship"), json!(false)));
    assert!(todo["id"].as_u64().is_some_and(|id| id >= before));

    let resp = host.request("DELETE", "/api/todos", &[], b"");
    assert_eq!((resp.status, resp.text().as_str()), (200, r#"{"message":"All todos deleted"}"#));
}

#[test]
fn invalid_or_empty_json_is_a_400_json_error() {
    let host = shared_host();
    for body in [&b""[..], b"{", b"not json", b"[1,2", b"{\"name\": }"] {
        let resp = host.request("POST", "/api/users", &[("content-type", "application/json")], body);
        assert_eq!(resp.status, 400, "body {:?}: {}", String::from_utf8_lossy(body), resp.text());
        assert_eq!(resp.header("content-type"), Some("application/json"));
        assert!(resp.json()["error"].is_string(), "{}", resp.text());
    }
    // The host keeps serving after every one of them.
    assert_eq!(host.get("/api/hello").status, 200);
}

fn now_millis() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// `scripts/serve.sh` leaves the sample store in `sample-routes/.wasmroutes`
/// (git-ignored); the workspace's `sample-routes/*` glob must not take it for
/// a crate, or every cargo command, `scripts/test.sh` included, fails after
/// the first `serve`.
#[test]
fn the_sample_store_directory_is_not_a_workspace_member() {
    let root = &e2e_support::artifacts().root;
    let store = root.join("sample-routes/.wasmroutes");
    let created = !store.exists();
    std::fs::create_dir_all(store.join("kv")).expect("create the store directory");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let metadata = std::process::Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(root)
        .output()
        .expect("run cargo metadata");
    if created {
        let _ = std::fs::remove_dir_all(&store);
    }
    assert!(metadata.status.success(), "{}", String::from_utf8_lossy(&metadata.stderr));
}
