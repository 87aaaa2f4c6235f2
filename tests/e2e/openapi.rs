//! The OpenAPI 3.1 document the host derives from its route table:
//! `wasmroutes openapi` and `/openapi.json` on the admin port, checked by a
//! real validator (`openapi-spec-validator`, installed by scripts/setup.sh)
//! and against what the routes actually are.

use std::net::SocketAddr;

use e2e_support::{TestHost, artifacts, route, run_wasmroutes, send, test_routes_toml};
use serde_json::Value;

/// Runs the validator on `document`; a missing validator fails the test.
fn assert_valid(document: &str) {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, document).expect("write document");
    let out = std::process::Command::new("openapi-spec-validator")
        .arg(&file)
        .output()
        .expect("run openapi-spec-validator (scripts/setup.sh installs it)");
    assert!(
        out.status.success(),
        "openapi-spec-validator refused the document:\n{}{}\n{document}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `wasmroutes openapi` on `routes_toml` (written to a temp dir).
fn openapi_of(routes_toml: &str) -> (String, Value) {
    let dir = tempfile::tempdir().expect("temp dir");
    let manifest = dir.path().join("routes.toml");
    std::fs::write(&manifest, routes_toml).expect("write routes.toml");
    let cache = artifacts().compile_cache.clone();
    let out = run_wasmroutes(
        &["openapi", manifest.to_str().expect("UTF-8 path"), "--cache-dir", cache.to_str().expect("UTF-8 path")],
        dir.path(),
        &[("WASMROUTES_TEST_GREETING", std::path::Path::new("from the host"))],
    );
    assert!(out.status.success(), "wasmroutes openapi failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).expect("UTF-8 JSON");
    let document = serde_json::from_str(&text).expect("JSON");
    (text, document)
}

fn methods(document: &Value, path: &str) -> Vec<String> {
    let item = document["paths"][path].as_object().unwrap_or_else(|| panic!("no path {path} in the document"));
    item.keys().filter(|k| *k != "parameters").cloned().collect()
}

#[test]
fn the_sample_routes_document_is_valid_openapi_and_says_what_the_routes_are() {
    let (text, doc) = openapi_of(&test_routes_toml());
    assert_valid(&text);
    assert_eq!(doc["openapi"], "3.1.0");

    // Methods as the components export them, plus the host's HEAD and OPTIONS.
    assert_eq!(methods(&doc, "/api/hello"), ["get", "head", "options"]);
    assert_eq!(methods(&doc, "/api/todos"), ["delete", "get", "head", "options", "post"]);
    assert_eq!(methods(&doc, "/api/users"), ["options", "post"]);

    // Params in OpenAPI syntax; a catch-all says so; an optional one is two paths.
    let param = &doc["paths"]["/api/posts/{id}"]["parameters"][0];
    assert_eq!(
        (param["name"].as_str(), param["in"].as_str(), param["required"].as_bool()),
        (Some("id"), Some("path"), Some(true))
    );
    assert_eq!(doc["paths"]["/api/docs/{slug}"]["parameters"][0]["x-wasmroutes-catch-all"], true);
    assert_eq!(methods(&doc, "/api/shop"), methods(&doc, "/api/shop/{slug}"));
    assert!(doc["paths"]["/api/shop"].get("parameters").is_none(), "no param when the optional catch-all is empty");
    assert!(doc["paths"].get("/api/docs").is_none(), "a required catch-all needs a segment");

    // The answers the host makes, in its envelope; 413 only where a body goes.
    let post = &doc["paths"]["/api/todos"]["post"];
    for (status, name) in [
        ("400", "BadRequest"),
        ("413", "PayloadTooLarge"),
        ("500", "InternalError"),
        ("503", "Unavailable"),
        ("504", "Timeout"),
    ] {
        assert_eq!(post["responses"][status]["$ref"], format!("#/components/responses/{name}"), "{status}");
    }
    assert!(doc["paths"]["/api/todos"]["get"]["responses"].get("413").is_none());
    assert_eq!(post["requestBody"]["description"], "At most 1MiB (`limits.max_body`).");
    let limited = &doc["paths"]["/limited"]["post"]["requestBody"]["description"];
    assert_eq!(limited, "At most 1KiB (`limits.max_body`).");
    let options = &doc["paths"]["/api/todos"]["options"]["responses"];
    assert!(options.get("204").is_some() && options.get("500").is_none(), "the host's OPTIONS runs no guest");
    for name in ["NotFound", "MethodNotAllowed"] {
        let response = &doc["components"]["responses"][name];
        assert_eq!(response["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/Error", "{name}");
    }
    assert_eq!(doc["components"]["responses"]["MethodNotAllowed"]["headers"]["allow"]["schema"]["type"], "string");
    assert_eq!(doc["components"]["schemas"]["Error"]["required"], serde_json::json!(["error"]));

    // Every operation id is unique.
    let mut ids: Vec<&str> = doc["paths"]
        .as_object()
        .expect("paths")
        .values()
        .flat_map(|item| item.as_object().expect("path item").values())
        .filter_map(|op| op["operationId"].as_str())
        .collect();
    let count = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), count, "duplicate operationId");
}

#[test]
fn a_wasi_http_route_documents_every_method_and_awkward_paths_stay_valid() {
    let a = artifacts();
    let mut toml = String::new();
    route(&mut toml, "/api/proxy/[id]", &a.component("http-proxy"), "");
    route(&mut toml, "/api/a-b", &a.component("hello"), "");
    route(&mut toml, "/api/ab", &a.component("hello"), "");
    route(&mut toml, "/api/caf\u{e9}", &a.component("hello"), "");
    let (text, doc) = openapi_of(&toml);
    assert_valid(&text);
    assert_eq!(methods(&doc, "/api/proxy/{id}"), ["delete", "get", "head", "options", "patch", "post", "put"]);
    assert!(
        doc["paths"]["/api/proxy/{id}"]["options"]["description"].as_str().is_some_and(|d| d.contains("wasi:http"))
    );
    assert!(doc["paths"].get("/api/caf%C3%A9").is_some(), "{}", doc["paths"]);
    assert_ne!(doc["paths"]["/api/a-b"]["get"]["operationId"], doc["paths"]["/api/ab"]["get"]["operationId"]);
}

#[test]
fn the_admin_port_serves_the_same_document() {
    let host = TestHost::routes(&test_routes_toml()).args(&["--admin-addr", "127.0.0.1:0"]).start();
    let log = host.log_text();
    let admin: SocketAddr = log
        .lines()
        .find_map(|l| l.split("/openapi.json on http://").nth(1))
        .unwrap_or_else(|| panic!("no admin address announced:\n{log}"))
        .trim()
        .parse()
        .expect("admin address");
    let resp = send(admin, "GET", "/openapi.json", &[], b"");
    assert_eq!((resp.status, resp.header("content-type")), (200, Some("application/json")));
    assert_valid(&resp.text());
    let served: Value = resp.json();
    let (_, printed) = openapi_of(&test_routes_toml());
    assert_eq!(served, printed, "the CLI and the admin port describe the same table");
}

/// Validates `instance` against the document's schema `schema` (which may
/// `$ref` into `components.schemas`) with the Python `jsonschema` package
/// (JSON Schema 2020-12; it comes with openapi-spec-validator).
fn assert_matches_schema(document: &Value, schema: &Value, instance: &Value) {
    let mut root = schema.clone();
    root["components"] = document["components"].clone();
    let script = "import json, sys, jsonschema\n\
                  schema, instance = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))\n\
                  jsonschema.Draft202012Validator.check_schema(schema)\n\
                  jsonschema.Draft202012Validator(schema).validate(instance)\n";
    let dir = tempfile::tempdir().expect("temp dir");
    let (schema_file, instance_file) = (dir.path().join("schema.json"), dir.path().join("instance.json"));
    std::fs::write(&schema_file, root.to_string()).expect("write schema");
    std::fs::write(&instance_file, instance.to_string()).expect("write instance");
    let out = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(&schema_file)
        .arg(&instance_file)
        .output()
        .expect("run python3 (scripts/setup.sh installs jsonschema with openapi-spec-validator)");
    assert!(out.status.success(), "{instance} does not match {schema}:\n{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn routes_that_describe_themselves_get_real_bodies_that_match_what_they_answer() {
    let (text, doc) = openapi_of(&test_routes_toml());
    assert_valid(&text);

    // users: `#[schema(request = NewUser, response = User, status = 201)]`
    // and a doc comment.
    let post = &doc["paths"]["/api/users"]["post"];
    assert_eq!(post["summary"], "Creates a user: `201` with the new user.");
    assert_eq!(post["requestBody"]["required"], true);
    let request = &post["requestBody"]["content"]["application/json"]["schema"];
    assert_eq!(request["$ref"], "#/components/schemas/NewUser");
    let created = &post["responses"]["201"]["content"]["application/json"]["schema"];
    assert_eq!(created["$ref"], "#/components/schemas/User");
    assert!(post["responses"].get("default").is_some(), "errors are still the handler's own");
    let got = &doc["paths"]["/api/posts/{id}"]["get"]["responses"]["200"]["content"]["application/json"]["schema"];
    assert_eq!(got["$ref"], "#/components/schemas/Post");
    let post_schema = &doc["components"]["schemas"]["Post"];
    assert_eq!(post_schema["required"], serde_json::json!(["id", "title", "content"]));

    // Routes without `#[schema]` stay as their exports describe them.
    let hello = &doc["paths"]["/api/hello"]["get"];
    assert!(hello.get("summary").is_none() && hello["responses"].get("200").is_none(), "{hello}");
    let todos = &doc["paths"]["/api/todos"]["post"]["requestBody"]["content"];
    assert!(todos.get("*/*").is_some(), "{todos}");

    // What the routes really answer matches the schemas they publish.
    let host = TestHost::routes(&test_routes_toml()).start();
    let body = br#"{"name":"Ada","email":"ada@example.com"}"#;
    let sent: Value = serde_json::from_slice(body).expect("JSON");
    assert_matches_schema(&doc, request, &sent);
    let user = host.request("POST", "/api/users", &[("content-type", "application/json")], body);
    assert_eq!(user.status, 201);
    assert_matches_schema(&doc, created, &user.json());
    assert_matches_schema(&doc, got, &host.get("/api/posts/7").json());
}
