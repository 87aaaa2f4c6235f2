//! `routes.toml` as a whole: what parses, and the error each mistake gets.

use std::path::{Path, PathBuf};

use super::*;

fn parse(text: &str) -> Result<RoutesConfig, ConfigError> {
    let env = |name: &str| (name == "API_KEY").then(|| "s3cret".to_owned());
    RoutesConfig::parse(Path::new("deploy/routes.toml"), text, &env)
}

fn error(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

#[test]
fn parses_routes_with_env_and_limits() {
    let cfg = parse(
        r#"
[[route]]
path = "/api/posts/[id]"
component = "target/posts_id.wasm"
build = "cargo build"
watch = ["posts/src/**/*.rs", "posts/Cargo.toml"]
env = { API_KEY = "${API_KEY}", MODE = "demo-${API_KEY}-x" }
limits = { memory = "32MiB", timeout = "2s", max_body = "10KB", max_concurrency = 4 }
allowed_outbound_hosts = ["https://api.example.com"]
isolation = "reuse"
max_requests_per_instance = 50

[[route]]
path = "/api/hello"
component = "hello.wasm"
"#,
    )
    .unwrap();
    assert_eq!(cfg.routes.len(), 2);
    let r = &cfg.routes[0];
    assert_eq!(r.pattern.as_str(), "/api/posts/[id]");
    assert_eq!(r.component, Path::new("deploy/target/posts_id.wasm"));
    assert_eq!(r.build, Some(BuildStep::Command("cargo build".into())));
    assert_eq!(r.watch, ["posts/src/**/*.rs", "posts/Cargo.toml"]);
    assert_eq!(r.env, [("API_KEY".into(), "s3cret".into()), ("MODE".into(), "demo-s3cret-x".into())]);
    assert_eq!(r.limits.memory, 32 << 20);
    assert_eq!(r.limits.timeout, std::time::Duration::from_secs(2));
    assert_eq!(r.limits.max_body, 10_000);
    assert_eq!(r.limits.max_concurrency, 4);
    assert!(r.outbound.allows("https", "api.example.com", 443));
    assert_eq!(r.isolation, Isolation::Reuse { max_requests: 50 });
    assert_eq!(cfg.routes[1].isolation, Isolation::Fresh);
    assert_eq!(r.at.line, 2);
    assert_eq!(cfg.routes[1].limits, Limits::default());
    assert!(cfg.routes[1].outbound.is_deny_all(), "no outbound HTTP unless declared");
    assert_eq!(cfg.routes[1].at.line, 13);
}

#[test]
fn a_javascript_component_is_built_by_wasmroutes_and_watched() {
    let cfg = parse(
        r#"
[[route]]
path = "/api/posts/[id]"
component = "app/api/posts/[id]/route.ts"
watch = ["lib/**/*.js"]
"#,
    )
    .unwrap();
    let r = &cfg.routes[0];
    let output = Path::new("deploy/.wasmroutes/build/app/api/posts/[id]/route.ts.wasm");
    assert_eq!(r.component, output);
    let source = PathBuf::from("deploy/app/api/posts/[id]/route.ts");
    assert_eq!(r.build, Some(BuildStep::JavaScript { source, output: output.to_owned(), aot: false }));
    assert_eq!(r.watch, ["app/api/posts/[[]id[]]/route.ts", "lib/**/*.js"], "the route file first, escaped");
    let glob = globset::Glob::new(&r.watch[0]).unwrap().compile_matcher();
    assert!(glob.is_match("app/api/posts/[id]/route.ts"));
    assert!(!glob.is_match("app/api/posts/i/route.ts"));

    let outside = parse("[[route]]\npath = \"/a\"\ncomponent = \"../src/./a/route.mjs\"\n").unwrap();
    assert_eq!(outside.routes[0].component, Path::new("deploy/.wasmroutes/build/__/src/a/route.mjs.wasm"));
    assert_eq!(outside.routes[0].watch, ["../src/a/route.mjs"]);
}

#[test]
fn aot_builds_a_javascript_route_into_its_own_file_and_is_refused_elsewhere() {
    let cfg = parse("[[route]]\npath = \"/a\"\ncomponent = \"a/route.js\"\naot = true\n").unwrap();
    let output = Path::new("deploy/.wasmroutes/build/a/route.js.aot.wasm");
    assert_eq!(cfg.routes[0].component, output);
    let source = PathBuf::from("deploy/a/route.js");
    assert_eq!(cfg.routes[0].build, Some(BuildStep::JavaScript { source, output: output.to_owned(), aot: true }));
    let off = parse("[[route]]\npath = \"/a\"\ncomponent = \"a/route.js\"\naot = false\n").unwrap();
    assert_eq!(off.routes[0].component, Path::new("deploy/.wasmroutes/build/a/route.js.wasm"));

    let err = error("[[route]]\npath = \"/a\"\ncomponent = \"a.wasm\"\naot = true\n");
    assert!(err.starts_with("deploy/routes.toml:4:7: `aot` applies to a route.js or route.ts"), "{err}");
    let err = error("[[route]]\npath = \"/a\"\ncomponent = \"a/route.js\"\naot = \"yes\"\n");
    assert!(err.starts_with("deploy/routes.toml:4:7: invalid type: string \"yes\", expected a boolean"), "{err}");
}

#[test]
fn a_javascript_component_refuses_a_build_command() {
    let err = error("[[route]]\npath = \"/a\"\ncomponent = \"a/route.js\"\nbuild = \"make\"\n");
    assert!(err.starts_with("deploy/routes.toml:4:9: `build` is not used with a JavaScript component"), "{err}");
}

#[test]
fn errors_name_file_line_and_problem() {
    let cases = [
        (
            "[[route]]\npath = \"/a\"\ncomponent = \"a.wasm\"\nmethod = \"GET\"\n",
            "deploy/routes.toml:4:",
            "unknown field `method`",
        ),
        ("[[route]]\npath = \"/a\"\n", "deploy/routes.toml:1:", "missing field `component`"),
        ("\n[[route]]\ncomponent = \"a.wasm\"\n", "deploy/routes.toml:2:", "missing field `path`"),
        ("[[route]]\npath = \"/a/[id\"\ncomponent = \"a.wasm\"\n", "deploy/routes.toml:2:8", "is not `[name]`"),
        (
            "[[route]]\npath = \"/a\"\ncomponent = \"a.wasm\"\nenv = { K = \"${NOPE}\" }\n",
            "deploy/routes.toml:4:",
            "`NOPE` is not set",
        ),
        (
            "[[route]]\npath = \"/a\"\ncomponent = \"a.wasm\"\nlimits = { memory = \"lots\" }\n",
            "deploy/routes.toml:4:",
            "limits.memory",
        ),
        (
            "[[route]]\npath = \"/a\"\ncomponent = \"a.wasm\"\nlimits = { timeout = \"0s\" }\n",
            "deploy/routes.toml:4:",
            "more than zero",
        ),
        ("[[route]\n", "deploy/routes.toml:1:", ""),
        (
            "[[route]]\npath = \"/a\"\ncomponent = \"a.wasm\"\nisolation = \"pooled\"\n",
            "deploy/routes.toml:4:",
            "\"fresh\" or \"reuse\"",
        ),
        (
            "[[route]]\npath = \"/a\"\ncomponent = \"a.wasm\"\nmax_requests_per_instance = 5\n",
            "deploy/routes.toml:4:",
            "needs isolation",
        ),
        (
            "[[route]]\npath = \"/a\"\ncomponent = \"a.wasm\"\nallowed_outbound_hosts = [\"api.x\"]\n",
            "deploy/routes.toml:4:",
            "scheme://host",
        ),
        ("", "deploy/routes.toml:1:1", "no routes"),
        (
            "[[route]]\npath = \"/a\"\ncomponent = \"a.wasm\"\nwatch = [\"src/**\"]\n",
            "deploy/routes.toml:4:",
            "`watch` needs a `build` command",
        ),
        (
            "[[route]]\npath = \"/a\"\ncomponent = \"a.wasm\"\nbuild = \"make\"\nwatch = [\"src/*.rs\", \"src/[a.rs\"]\n",
            "deploy/routes.toml:5:22",
            "not a valid glob",
        ),
        (
            "[[route]]\npath = \"/a\"\ncomponent = \"a.wasm\"\nbuild = \"make\"\nwatch = [\"/src/*.rs\"]\n",
            "deploy/routes.toml:5:",
            "relative to routes.toml",
        ),
    ];
    for (text, at, message) in cases {
        let err = error(text);
        assert!(err.starts_with(at), "{text:?}: {err}");
        assert!(err.contains(message), "{text:?}: {err}");
    }
}

#[test]
fn key_value_stores_are_configured_once_and_declared_per_route() {
    let cfg = parse(
        r#"
[key_value_store.sessions]
type = "redis"
url = "redis://:${API_KEY}@127.0.0.1:6379/2"
max_value = "64KiB"

[[route]]
path = "/a"
component = "a.wasm"
key_value_stores = ["default", "sessions"]

[[route]]
path = "/b"
component = "b.wasm"
"#,
    )
    .unwrap();
    assert_eq!(cfg.stores.len(), 2, "`default` exists without a table");
    assert_eq!(cfg.stores["default"], StoreConfig::implicit_default());
    let sessions = &cfg.stores["sessions"];
    assert_eq!(sessions.backend, StoreBackend::Redis { url: "redis://:s3cret@127.0.0.1:6379/2".into() });
    assert_eq!(sessions.max_value, 64 << 10);
    assert_eq!(cfg.routes[0].key_value_stores, ["default", "sessions"]);
    assert!(cfg.routes[1].key_value_stores.is_empty(), "no store unless declared");
    assert_eq!(cfg.default_data_dir(), Path::new("deploy/.wasmroutes"));
}

#[test]
fn store_errors_name_file_line_and_problem() {
    let route = "[[route]]\npath = \"/a\"\ncomponent = \"a.wasm\"\n";
    let cases = [
        (format!("{route}key_value_stores = [\"nope\"]\n"), "deploy/routes.toml:4:21", "no store `nope` is configured"),
        (format!("{route}key_value_stores = [\"a b\"]\n"), "deploy/routes.toml:4:", "not a valid store name"),
        (format!("{route}key_value_stores = [\"default\", \"default\"]\n"), "deploy/routes.toml:4:", "listed twice"),
        (
            format!("[key_value_store.x]\ntype = \"memcached\"\n{route}"),
            "deploy/routes.toml:2:8",
            "\"embedded\" or \"redis\"",
        ),
        (format!("[key_value_store.x]\ntype = \"redis\"\n{route}"), "deploy/routes.toml:", "missing `url`"),
        (
            format!("[key_value_store.x]\ntype = \"redis\"\nurl = \"http://x\"\n{route}"),
            "deploy/routes.toml:3:",
            "redis://",
        ),
        (
            format!("[key_value_store.x]\ntype = \"redis\"\nurl = \"${{NOPE}}\"\n{route}"),
            "deploy/routes.toml:3:",
            "`NOPE` is not set",
        ),
        (
            format!("[key_value_store.x]\ntype = \"embedded\"\nurl = \"redis://x\"\n{route}"),
            "deploy/routes.toml:3:",
            "remove it",
        ),
        (format!("[key_value_store.x]\n{route}"), "deploy/routes.toml:", "missing `type`"),
        (
            format!("[key_value_store.x]\ntype = \"embedded\"\nmax_value = \"1GiB\"\n{route}"),
            "deploy/routes.toml:3:",
            "between 1B and 64MiB",
        ),
        (
            format!("[key_value_store.x]\ntype = \"embedded\"\nttl = \"1s\"\n{route}"),
            "deploy/routes.toml:3:",
            "unknown field `ttl`",
        ),
    ];
    for (text, at, message) in cases {
        let err = error(&text);
        assert!(err.starts_with(at), "{text:?}: {err}");
        assert!(err.contains(message), "{text:?}: {err}");
    }
}

#[test]
fn cors_is_a_per_route_table() {
    let cfg = parse(
        r#"
[[route]]
path = "/a"
component = "a.wasm"
cors = { origins = ["https://app.example.com", "https://*.example.com"], headers = ["content-type", "Authorization"], max_age = "10m", credentials = true, expose = ["x-request-id"] }

[[route]]
path = "/b"
component = "b.wasm"
"#,
    )
    .unwrap();
    assert!(cfg.routes[0].cors.is_some());
    assert!(cfg.routes[1].cors.is_none(), "no CORS unless configured");
}

#[test]
fn cors_errors_name_the_entry() {
    let route = "[[route]]\npath = \"/a\"\ncomponent = \"a.wasm\"\n";
    let cases = [
        ("cors = { origins = [\"*\"], credentials = true }", "4:21", "cannot be used with credentials"),
        (
            "cors = { origins = [\"https://a.test\"], headers = [\"*\"], credentials = true }",
            "4:51",
            "list the headers",
        ),
        ("cors = { origins = [\"https://a.test\"], expose = [\"*\"], credentials = true }", "4:50", "expose"),
        ("cors = { origins = [\"*\", \"https://a.test\"] }", "4:21", "cannot be listed with others"),
        ("cors = { origins = [] }", "4:8", "cors.origins is empty"),
        ("cors = { headers = [\"x\"] }", "4:8", "missing `origins`"),
        ("cors = { origins = [\"https://a.test/app\"] }", "4:21", "cors.origins entry `https://a.test/app`: "),
        ("cors = { origins = [\"a.test\"] }", "4:21", "scheme://host"),
        ("cors = { origins = [\"*\"], headers = [\"bad header\"] }", "4:38", "`bad header` is not a header name"),
        ("cors = { origins = [\"*\"], max_age = \"1500ms\" }", "4:37", "whole seconds"),
        ("cors = { origins = [\"*\"], methods = [\"GET\"] }", "4:", "unknown field `methods`"),
    ];
    for (line, at, message) in cases {
        let err = error(&format!("{route}{line}\n"));
        assert!(err.starts_with(&format!("deploy/routes.toml:{at}")), "{line}: {err}");
        assert!(err.contains(message), "{line}: {err}");
    }
}

#[test]
fn databases_are_configured_once_and_declared_per_route() {
    let cfg = parse(
        r#"
[database.main]
type = "sqlite"
migrations = "migrations/main"
max_rows = 500
max_result_size = "1MiB"
statement_timeout = "250ms"

[database.audit]
type = "sqlite"

[[route]]
path = "/api/notes"
component = "notes.wasm"
databases = ["main", "audit"]

[[route]]
path = "/api/hello"
component = "hello.wasm"
"#,
    )
    .unwrap();
    let main = &cfg.databases["main"];
    assert_eq!(main.backend, DatabaseBackend::Sqlite);
    assert_eq!(main.migrations.as_deref(), Some(Path::new("deploy/migrations/main")));
    assert_eq!(main.limits.max_rows, 500);
    assert_eq!(main.limits.max_result_bytes, 1 << 20);
    assert_eq!(main.limits.statement_timeout, std::time::Duration::from_millis(250));
    assert_eq!(cfg.databases["audit"].migrations, None);
    assert_eq!(cfg.databases["audit"].limits, crate::sql::SqlLimits::default());
    assert_eq!(cfg.routes[0].databases, ["main", "audit"]);
    assert!(cfg.routes[1].databases.is_empty(), "no database unless declared");
}

#[test]
fn database_mistakes_name_their_line() {
    let route = "[[route]]\npath = \"/a\"\ncomponent = \"a.wasm\"\n";
    let cases = [
        ("[database.main]\n", "deploy/routes.toml:1:1: database.main: missing `type`: write type = \"sqlite\""),
        (
            "[database.main]\ntype = \"mysql\"\n",
            "deploy/routes.toml:2:8: database.main: type must be \"sqlite\" or \"postgres\", not \"mysql\"",
        ),
        (
            "[database.\"a b\"]\ntype = \"sqlite\"\n",
            "deploy/routes.toml:1:11: database.a b: `a b` is not a valid database name",
        ),
        (
            "[database.m]\ntype = \"sqlite\"\nmax_rows = 0\n",
            "deploy/routes.toml:3:12: database.m.max_rows must be between 1",
        ),
        (
            "[database.m]\ntype = \"sqlite\"\nstatement_timeout = \"soon\"\n",
            "deploy/routes.toml:3:21: database.m.statement_timeout:",
        ),
        (
            "[database.m]\ntype = \"sqlite\"\nurl = \"x\"\n",
            "deploy/routes.toml:3:7: database.m: `url` is for type = \"postgres\"; remove it",
        ),
        ("[database.m]\ntype = \"postgres\"\n", "deploy/routes.toml:1:1: database.m: missing `url`"),
        (
            "[database.m]\ntype = \"postgres\"\nurl = \"mysql://db/app\"\n",
            "deploy/routes.toml:3:7: database.m: `url` must start with postgres:// or postgresql://",
        ),
        (
            "[database.m]\ntype = \"postgres\"\nurl = \"postgres://db/app?sslmode=sometimes\"\n",
            "deploy/routes.toml:3:7: database.m: `url` is not a valid PostgreSQL URL",
        ),
        (
            "[database.m]\ntype = \"postgres\"\nurl = \"${WASMROUTES_TEST_UNSET_URL}\"\n",
            "deploy/routes.toml:3:7: environment variable `WASMROUTES_TEST_UNSET_URL` is not set",
        ),
        ("[database.m]\ntype = \"sqlite\"\nuser = \"x\"\n", "deploy/routes.toml:3:1: unknown field `user`"),
    ];
    for (tables, want) in cases {
        let err = error(&format!("{tables}\n{route}"));
        assert!(err.starts_with(want), "{err}\nwanted: {want}");
    }
    let err = error(&format!("{route}databases = [\"main\"]\n"));
    assert!(
        err.starts_with("deploy/routes.toml:4:14: databases: no database `main` is configured; add a `[database.main]` table (configured: none)"),
        "{err}"
    );
    let err = error(&format!("[database.main]\ntype = \"sqlite\"\n\n{route}databases = [\"main\", \"main\"]\n"));
    assert!(err.contains("databases: `main` is listed twice"), "{err}");
}
