//! `@wasmroutes/sql` in route.js files: `tests/js/sql/route.js` drives the
//! module through a real component (values of every type both ways,
//! changes, transactions, errors caught and uncaught), and the notes
//! sample in `sample-routes/js` answers the notes API as specified, byte for
//! byte as the Rust notes sample does on the same database.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use e2e_support::{TestHost, TestResponse, artifacts, precompile, route};
use serde_json::json;

use crate::js_routes::{js_samples, serve_js_samples};

/// The schema of `tests/js/sql/route.js`'s database `default`.
const SQL_ROUTE_SCHEMA: &str = "create table items (id integer primary key, v);\n\
     create table names (id integer primary key, name text not null unique check (name <> ''));\n";

/// `tests/js/sql/route.js` built into a component, once, and compiled into
/// the tests' cache.
fn sql_route() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let a = artifacts();
            let out = a.target_dir.join("js/sql_route.wasm");
            let status = std::process::Command::new("node")
                .arg(a.root.join("guest-js/build.mjs"))
                .arg(a.root.join("tests/js/sql/route.js"))
                .arg(&out)
                .status()
                .expect("run node (scripts/setup.sh installs the JS toolchain)");
            assert!(status.success(), "guest-js/build.mjs failed: {status}");
            let deployment = SqlDeployment::new(&out);
            precompile(&deployment.manifest);
            out
        })
        .clone()
}

/// A temp dir with the route's migrations and a routes.toml serving it at
/// `/api/sql/[op]` with the database `default` (statements stopped after
/// 300 ms). The data dir is the default, inside the temp dir.
struct SqlDeployment {
    _dir: tempfile::TempDir,
    manifest: PathBuf,
}

impl SqlDeployment {
    fn new(component: &Path) -> SqlDeployment {
        let dir = tempfile::tempdir().expect("temp dir");
        let migrations = dir.path().join("migrations");
        std::fs::create_dir_all(&migrations).expect("migrations folder");
        std::fs::write(migrations.join("0001_schema.sql"), SQL_ROUTE_SCHEMA).expect("migration");
        let mut toml = String::from(
            "[database.default]\ntype = \"sqlite\"\nmigrations = \"migrations\"\nstatement_timeout = \"300ms\"\n\n",
        );
        route(&mut toml, "/api/sql/[op]", component, "databases = [\"default\"]\n");
        let manifest = dir.path().join("routes.toml");
        std::fs::write(&manifest, toml).expect("routes.toml");
        SqlDeployment { _dir: dir, manifest }
    }

    fn start(&self) -> TestHost {
        TestHost::manifest(&self.manifest).start()
    }
}

fn ok_json(resp: &TestResponse) -> serde_json::Value {
    assert_eq!(resp.status, 200, "{}", resp.text());
    resp.json()
}

#[test]
fn values_of_every_type_round_trip_through_the_sql_tag() {
    let deployment = SqlDeployment::new(&sql_route());
    let host = deployment.start();
    let got = ok_json(&host.get("/api/sql/roundtrip"));
    let stored = |stored: &str, back: serde_json::Value| json!({ "stored": stored, "back": back });
    let expected = json!({
        "integer": stored("integer", json!({ "type": "number", "value": 42 })),
        "negative": stored("integer", json!({ "type": "number", "value": -7 })),
        "real": stored("real", json!({ "type": "number", "value": 2.5 })),
        // Past 2^53 a number is no longer an exact integer: it goes as a real.
        "unsafeNumber": stored("real", json!({ "type": "number", "value": 9_007_199_254_740_992_u64 })),
        // A BigInt is an integer, and an integer past 2^53 comes back a BigInt.
        "bigint": stored("integer", json!({ "type": "bigint", "value": "1152921504606846977" })),
        "minInteger": stored("integer", json!({ "type": "bigint", "value": "-9223372036854775808" })),
        "maxInteger": stored("integer", json!({ "type": "bigint", "value": "9223372036854775807" })),
        "text": stored("text", json!({ "type": "string", "value": "héllo 😀" })),
        "empty": stored("text", json!({ "type": "string", "value": "" })),
        // SQLite keeps a boolean as 1.
        "boolean": stored("integer", json!({ "type": "number", "value": 1 })),
        "null": stored("null", json!({ "type": "null" })),
        "undefined": stored("null", json!({ "type": "null" })),
        "bytes": stored("blob", json!({ "type": "Uint8Array", "value": [0, 255, 1] })),
        "arrayBuffer": stored("blob", json!({ "type": "Uint8Array", "value": [7, 8] })),
        "date": stored("text", json!({ "type": "string", "value": "2026-12-07T03:04:05.678Z" })),
        "object": stored("text", json!({ "type": "string", "value": r#"{"a":[1,"x"],"b":null}"# })),
        "array": stored("text", json!({ "type": "string", "value": "[1,2]" })),
        "select": {
            "columns": ["safe", "big", "blob", "half"],
            "row": {
                "safe": { "type": "number", "value": 9_007_199_254_740_991_u64 },
                "big": { "type": "bigint", "value": "9007199254740993" },
                "blob": { "type": "Uint8Array", "value": [0xca, 0xfe] },
                "half": { "type": "number", "value": 0.5 },
            },
        },
    });
    for (key, want) in expected.as_object().expect("an object") {
        assert_eq!(&got[key], want, "{key}");
    }
    // Refused in the guest, before the host sees them.
    assert_eq!(got["tooBig"]["error"]["name"], "RangeError", "{got}");
    assert_eq!(got["symbol"]["error"]["name"], "TypeError", "{got}");
}

#[test]
fn changes_report_their_row_counts_and_returning_gives_rows() {
    let deployment = SqlDeployment::new(&sql_route());
    let host = deployment.start();
    let got = ok_json(&host.get("/api/sql/changes"));
    assert_eq!(
        got,
        json!({
            "first": { "rowCount": 1, "lastInsertId": 1, "rows": [] },
            "second": { "rowCount": 2, "lastInsertId": 3 },
            "updated": 2,
            // `with … delete` is a change: its count, not a row set.
            "withDelete": 1,
            "returned": {
                "rowCount": 2,
                "rows": [{ "id": 1, "name": "A!" }, { "id": 2, "name": "B!" }],
                "columns": ["id", "name"],
            },
            "queried": [{ "n": 2 }],
        })
    );
}

#[test]
fn a_transaction_commits_when_its_callback_resolves_and_rolls_back_when_it_throws() {
    let deployment = SqlDeployment::new(&sql_route());
    let host = deployment.start();
    let got = ok_json(&host.get("/api/sql/transactions"));
    assert_eq!(got["committed"], "done", "what the callback returned: {got}");
    assert_eq!(got["thrown"]["error"]["message"], "changed my mind", "the callback's own error: {got}");
    assert_eq!(got["thrown"]["error"]["isSqlError"], false);
    assert_eq!(got["refused"]["error"]["code"], "constraint", "{got}");
    assert_eq!(got["refused"]["error"]["constraint"], "unique", "{got}");
    assert!(
        got["after"]["error"]["message"].as_str().is_some_and(|m| m.contains("has ended")),
        "a handle used after its transaction: {got}"
    );
    assert_eq!(got["names"], json!(["kept", "kept too"]), "only the committed transaction's rows");
    // The host had no transaction left open to roll back.
    assert!(!host.log_text().contains("transaction open; rolled back"), "{}", host.log_text());
}

#[test]
fn errors_are_sql_errors_with_the_wit_code_and_the_databases_message() {
    let deployment = SqlDeployment::new(&sql_route());
    let host = deployment.start();
    let got = ok_json(&host.get("/api/sql/errors"));
    let error = |case: &str| got[case]["error"].clone();
    let sql_error = |case: &str, code: &str, constraint: serde_json::Value, message: &str| {
        let e = error(case);
        assert_eq!(
            (&e["name"], &e["isSqlError"], &e["code"], &e["constraint"]),
            (&json!("SqlError"), &json!(true), &json!(code), &constraint),
            "{case}: {got}"
        );
        assert!(e["message"].as_str().is_some_and(|m| m.contains(message)), "{case}: {e}");
    };
    sql_error("invalid", "invalid-statement", json!(null), "no such column: nope");
    sql_error("unique", "constraint", json!("unique"), "UNIQUE constraint failed: names.name");
    sql_error("notNull", "constraint", json!("not-null"), "NOT NULL constraint failed: names.name");
    sql_error("check", "constraint", json!("check"), "CHECK constraint failed");
    sql_error("denied", "access-denied", json!(null), "list it in the route's `databases`");
    assert_eq!(error("denied")["database"], "other");
    sql_error("timeout", "timeout", json!(null), "longer than 300ms");
    sql_error("schema", "invalid-statement", json!(null), "put them in a migration");
    assert_eq!(error("notATag")["name"], "TypeError", "{got}");
    assert!(error("notATag")["message"].as_str().is_some_and(|m| m.contains("template tag")), "{got}");
}

#[test]
fn an_uncaught_sql_error_answers_as_the_rust_sdk_does() {
    let deployment = SqlDeployment::new(&sql_route());
    let host = deployment.start();
    host.get("/api/sql/unique").assert_error(409, "Conflict: a unique constraint refused the change");
    host.get("/api/sql/check").assert_error(409, "Conflict: a check constraint refused the change");
    host.get("/api/sql/timeout").assert_error(504, "The database took too long to answer");
    host.get("/api/sql/denied").assert_error(500, "Internal server error");
    host.get("/api/sql/invalid").assert_error(500, "Internal server error");
    let log = host.log_text();
    assert!(
        log.contains(
            "@wasmroutes/sql: deployment error: this route may not open database `other`; \
             the route must list it in `databases` in routes.toml"
        ),
        "{log}"
    );
    assert!(log.contains("SqlError: no such column: nope"), "the details are logged: {log}");
}

#[test]
fn a_database_busy_past_its_busy_timeout_is_a_503_to_retry() {
    let deployment = SqlDeployment::new(&sql_route());
    let host = deployment.start();
    // One request holds the writer in a transaction for 8 s; a write of
    // another waits for it up to the busy timeout (5 s), then gives up.
    let addr = host.addr;
    let holder = std::thread::spawn(move || e2e_support::send(addr, "POST", "/api/sql/holder?ms=8000", &[], b""));
    std::thread::sleep(Duration::from_millis(1500));
    let waited = host.get("/api/sql/write");
    waited.assert_error(503, "Storage is temporarily unavailable; try again shortly");
    assert_eq!(waited.header("retry-after"), Some("1"));
    let held = holder.join().expect("the holder");
    assert_eq!((held.status, held.text()), (200, r#"{"held":8000}"#.to_owned()));
}

fn post(host: &TestHost, path: &str, body: &str) -> TestResponse {
    host.request("POST", path, &[], body.as_bytes())
}

fn patch(host: &TestHost, path: &str, body: &str) -> TestResponse {
    host.request("PATCH", path, &[], body.as_bytes())
}

/// `2026-12-07T03:04:05.678Z`: JavaScript's toISOString shape.
fn is_timestamp(value: &serde_json::Value) -> bool {
    let Some(text) = value.as_str() else { return false };
    let shape = "dddd-dd-ddTdd:dd:dd.dddZ";
    text.len() == shape.len()
        && text.chars().zip(shape.chars()).all(|(c, s)| if s == 'd' { c.is_ascii_digit() } else { c == s })
}

#[test]
fn the_js_notes_sample_follows_the_notes_api() {
    let (host, _data) = serve_js_samples();

    let created = post(&host, "/api/notes", r#"{"title":"  Groceries  ","body":"milk","tags":["ignored"]}"#);
    assert_eq!(created.status, 201, "{}", created.text());
    assert_eq!(created.header("location"), Some("/api/notes/1"));
    assert_eq!(created.header("content-type"), Some("application/json"));
    let note = created.json();
    assert!(is_timestamp(&note["createdAt"]) && note["createdAt"] == note["updatedAt"], "{note}");
    let at = note["createdAt"].as_str().expect("a timestamp");
    assert_eq!(
        created.text(),
        format!(r#"{{"id":1,"title":"Groceries","body":"milk","createdAt":"{at}","updatedAt":"{at}"}}"#),
        "keys in order, title trimmed"
    );
    assert_eq!(host.get("/api/notes/1").text(), created.text());
    assert_eq!(post(&host, "/api/notes", r#"{"title":"Books"}"#).json()["body"], "", "body defaults to empty");

    // What a client sends wrong.
    post(&host, "/api/notes", r#"{"title":"GROCERIES"}"#).assert_error(409, "A note with this title already exists");
    post(&host, "/api/notes", "").assert_error(400, "Request body is empty; expected JSON");
    post(&host, "/api/notes", "{nope").assert_error(400, "Invalid JSON body: key must be a string at line 1 column 2");
    post(&host, "/api/notes", "{\"title\":\"x\",}")
        .assert_error(400, "Invalid JSON body: trailing comma at line 1 column 14");
    for not_an_object in ["[1]", "null", "\"title\"", "5"] {
        post(&host, "/api/notes", not_an_object).assert_error(400, "Send a JSON object");
    }
    let long = |c: &str, n: usize| c.repeat(n);
    for (body, message) in [
        ("{}".to_owned(), "title must be a string"),
        (r#"{"title":5}"#.to_owned(), "title must be a string"),
        (r#"{"title":null}"#.to_owned(), "title must be a string"),
        (r#"{"title":" \t\n "}"#.to_owned(), "title must not be empty"),
        (format!(r#"{{"title":"{}"}}"#, long("é", 201)), "title must be at most 200 characters"),
        (r#"{"title":"x","body":5}"#.to_owned(), "body must be a string"),
        (format!(r#"{{"title":"x","body":"{}"}}"#, long("😀", 10_001)), "body must be at most 10000 characters"),
    ] {
        post(&host, "/api/notes", &body).assert_error(422, message);
    }
    // The limits count characters, not bytes or UTF-16 units.
    let longest =
        post(&host, "/api/notes", &format!(r#"{{"title":"{}","body":"{}"}}"#, long("é", 200), long("😀", 10_000)));
    assert_eq!(longest.status, 201, "{}", longest.text());

    // One note by id.
    for bad in ["abc", "0", "-1", "1.5", "9223372036854775808", "%201"] {
        host.get(&format!("/api/notes/{bad}")).assert_error(400, "Note id must be a positive integer");
    }
    host.get("/api/notes/9223372036854775807").assert_error(404, "Note not found");
    assert_eq!(host.get("/api/notes/0001").json()["id"], 1, "leading zeros are still the number");

    // PATCH changes what it is sent and updatedAt, in one statement.
    let patched = patch(&host, "/api/notes/1", r#"{"body":"oat milk"}"#);
    assert_eq!(patched.status, 200, "{}", patched.text());
    let changed = patched.json();
    assert_eq!(
        (&changed["title"], &changed["body"], &changed["createdAt"]),
        (&json!("Groceries"), &json!("oat milk"), &note["createdAt"])
    );
    assert!(is_timestamp(&changed["updatedAt"]) && changed["updatedAt"].as_str() >= Some(at), "{changed}");
    assert_eq!(host.get("/api/notes/1").text(), patched.text());
    assert_eq!(patch(&host, "/api/notes/1", r#"{"title":" Weekly groceries "}"#).json()["title"], "Weekly groceries");
    patch(&host, "/api/notes/1", "{}").assert_error(422, "Nothing to update: send `title` and/or `body`");
    patch(&host, "/api/notes/1", r#"{"other":1}"#).assert_error(422, "Nothing to update: send `title` and/or `body`");
    patch(&host, "/api/notes/1", r#"{"title":"books"}"#).assert_error(409, "A note with this title already exists");
    patch(&host, "/api/notes/1", r#"{"title":""}"#).assert_error(422, "title must not be empty");
    patch(&host, "/api/notes/99", r#"{"title":"x"}"#).assert_error(404, "Note not found");
    patch(&host, "/api/notes/x", r#"{"title":"x"}"#).assert_error(400, "Note id must be a positive integer");
    patch(&host, "/api/notes/1", "[")
        .assert_error(400, "Invalid JSON body: EOF while parsing a list at line 1 column 1");

    // DELETE, then it is gone.
    let deleted = host.request("DELETE", "/api/notes/2", &[], b"");
    assert_eq!((deleted.status, deleted.text()), (204, String::new()));
    host.request("DELETE", "/api/notes/2", &[], b"").assert_error(404, "Note not found");
    host.get("/api/notes/2").assert_error(404, "Note not found");

    // Methods the files do not export: the host's 405.
    let put = host.request("PUT", "/api/notes", &[], b"");
    assert_eq!((put.status, put.header("allow")), (405, Some("GET, HEAD, POST, OPTIONS")));
    let post_one = host.request("POST", "/api/notes/1", &[], b"");
    assert_eq!((post_one.status, post_one.header("allow")), (405, Some("GET, HEAD, PATCH, DELETE, OPTIONS")));
}

/// The titles of a list answer, and its nextCursor.
fn page(host: &TestHost, target: &str) -> (Vec<String>, Option<String>) {
    let resp = host.get(target);
    assert_eq!(resp.status, 200, "{target}: {}", resp.text());
    let body = resp.json();
    let titles =
        body["notes"].as_array().expect("notes").iter().map(|n| n["title"].as_str().expect("title").to_owned());
    (titles.collect(), body["nextCursor"].as_str().map(str::to_owned))
}

#[test]
fn the_js_notes_list_searches_sorts_and_pages() {
    let (host, _data) = serve_js_samples();
    for (title, body) in [
        ("Banana bread", "flour, 3 bananas"),
        ("apple pie", "100% butter"),
        ("Cherry jam", "cherries_and sugar"),
        ("Été", "summer"),
        ("date loaf", "dates"),
    ] {
        let created = post(&host, "/api/notes", &json!({ "title": title, "body": body }).to_string());
        assert_eq!(created.status, 201, "{}", created.text());
    }
    let titles = |names: &[&str]| names.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();

    // Newest first by default, 20 to a page.
    let (all, next) = page(&host, "/api/notes");
    assert_eq!((all, next), (titles(&["date loaf", "Été", "Cherry jam", "apple pie", "Banana bread"]), None));
    // Pages of two, each ending with the cursor of its last note.
    assert_eq!(page(&host, "/api/notes?limit=2"), (titles(&["date loaf", "Été"]), Some("4".to_owned())));
    assert_eq!(
        page(&host, "/api/notes?limit=2&cursor=4"),
        (titles(&["Cherry jam", "apple pie"]), Some("2".to_owned()))
    );
    assert_eq!(page(&host, "/api/notes?limit=2&cursor=2"), (titles(&["Banana bread"]), None));
    assert_eq!(page(&host, "/api/notes?sort=oldest&limit=3").0, titles(&["Banana bread", "apple pie", "Cherry jam"]));
    assert_eq!(page(&host, "/api/notes?sort=oldest&limit=3&cursor=3").0, titles(&["Été", "date loaf"]));
    // By lower(title); SQLite lowers ASCII only, so É sorts by its bytes,
    // after every ASCII letter. The cursor is the hex of lower(title).
    let (first, cursor) = page(&host, "/api/notes?sort=title&limit=3");
    assert_eq!(first, titles(&["apple pie", "Banana bread", "Cherry jam"]));
    assert_eq!(cursor.as_deref(), Some("636865727279206a616d"), "hex of \"cherry jam\"");
    let (rest, end) = page(&host, "/api/notes?sort=title&limit=3&cursor=636865727279206a616d");
    assert_eq!((rest, end), (titles(&["date loaf", "Été"]), None));
    let (_, after_date) = page(&host, "/api/notes?sort=title&limit=1&cursor=636865727279206a616d");
    assert_eq!(after_date.as_deref(), Some("64617465206c6f6166"));

    // q: in the title or the body, ASCII case-insensitive, % and _ literal.
    assert_eq!(page(&host, "/api/notes?q=BANANA").0, titles(&["Banana bread"]));
    assert_eq!(page(&host, "/api/notes?q=%25").0, titles(&["apple pie"]), "q=% matches a literal %");
    assert_eq!(page(&host, "/api/notes?q=_").0, titles(&["Cherry jam"]), "q=_ matches a literal _");
    assert_eq!(page(&host, "/api/notes?q=a&sort=oldest&limit=2").0, titles(&["Banana bread", "apple pie"]));
    assert_eq!(page(&host, "/api/notes?q=").0.len(), 5, "an empty q filters nothing");
    assert_eq!(page(&host, "/api/notes?q=nothing").0, Vec::<String>::new());

    // What the list refuses.
    for bad in ["sort=random", "sort=NEWEST"] {
        host.get(&format!("/api/notes?{bad}")).assert_error(400, "sort must be one of newest, oldest, title");
    }
    for bad in ["limit=0", "limit=101", "limit=abc", "limit=-1", "limit=2.5", "limit=99999999999999999999"] {
        host.get(&format!("/api/notes?{bad}")).assert_error(400, "limit must be an integer from 1 to 100");
    }
    for bad in ["cursor=abc", "cursor=-1", "sort=title&cursor=zz", "sort=title&cursor=abc", "sort=title&cursor=ff"] {
        host.get(&format!("/api/notes?{bad}")).assert_error(400, "Invalid cursor");
    }
}

/// Only a route that imports `@wasmroutes/sql` has the interface among its
/// component's imports: the import's name is nowhere in the others' bytes.
#[test]
fn only_a_route_that_uses_sql_imports_the_sql_interface() {
    let built = js_samples().parent().expect("the samples' folder").join(".wasmroutes/build/app/api");
    let imports_sql = |route: &str| {
        let bytes = std::fs::read(built.join(route)).unwrap_or_else(|e| panic!("{route}: {e}"));
        bytes.windows(b"wasmroutes:sql/types@0.1.0".len()).any(|w| w == b"wasmroutes:sql/types@0.1.0")
    };
    for route in ["notes/route.js.wasm", "notes/[id]/route.js.wasm"] {
        assert!(imports_sql(route), "{route} uses @wasmroutes/sql");
    }
    for route in ["hello/route.js.wasm", "tasks/[id]/route.js.wasm", "users/route.js.wasm"] {
        assert!(!imports_sql(route), "{route} opens no database, so imports no database interface");
    }
}

/// One host with the Rust notes at `/api/notes…` and the JS notes at
/// `/js/notes…`, on one database: a note one creates the other reads, with
/// the same timestamps, so their answers can be compared byte for byte.
struct TwoNotes {
    host: TestHost,
}

impl TwoNotes {
    fn start() -> TwoNotes {
        let a = artifacts();
        let built = js_samples().parent().expect("the samples' folder").join(".wasmroutes/build/app/api/notes");
        let migrations = a.root.join("sample-routes/migrations/notes");
        let mut toml =
            format!("[database.default]\ntype = \"sqlite\"\nmigrations = {:?}\n\n", migrations.display().to_string());
        let listed = "databases = [\"default\"]\n";
        route(&mut toml, "/api/notes", &a.component("notes"), listed);
        route(&mut toml, "/api/notes/[id]", &a.component("notes-id"), listed);
        route(&mut toml, "/js/notes", &built.join("route.js.wasm"), listed);
        route(&mut toml, "/js/notes/[id]", &built.join("[id]/route.js.wasm"), listed);
        // The data dir is the default, beside the host's own temp routes.toml.
        TwoNotes { host: TestHost::routes(&toml).start() }
    }

    fn rust(&self, method: &str, rest: &str, body: &[u8]) -> TestResponse {
        self.host.request(method, &format!("/api/notes{rest}"), &[], body)
    }

    fn js(&self, method: &str, rest: &str, body: &[u8]) -> TestResponse {
        self.host.request(method, &format!("/js/notes{rest}"), &[], body)
    }

    /// The same request to both; their answers must be the same. Returns
    /// the Rust one.
    fn same(&self, method: &str, rest: &str, body: &[u8]) -> TestResponse {
        let (r, j) = (self.rust(method, rest, body), self.js(method, rest, body));
        assert_eq!(
            answer(&j),
            answer(&r),
            "{method} …/notes{rest} {:?}: JS (left) and Rust (right) differ",
            String::from_utf8_lossy(body)
        );
        r
    }
}

/// What a client sees of a response, but its request id, date and length.
fn answer(resp: &TestResponse) -> (u16, Vec<(String, String)>, String) {
    let headers = resp
        .headers
        .iter()
        .filter(|(name, _)| !["x-request-id", "date", "content-length"].contains(&name.as_str()))
        .cloned()
        .collect();
    (resp.status, headers, resp.text())
}

/// Bodies neither route accepts, one per way serde_json (and so the Rust
/// SDK) reports a body that is not JSON, then JSON the notes refuse.
fn refused_bodies() -> Vec<Vec<u8>> {
    let mut bodies: Vec<Vec<u8>> = [
        "",
        "  \n",
        "\u{a0}\u{85}\u{2028}",
        "{nope",
        "{",
        "[",
        "{\"title\":",
        "{\"title\" \"x\"}",
        "{\"title\":\"x\",}",
        "{\"title\":\"x\" \"body\":1}",
        "[1,]",
        "[1 2]",
        "nul",
        "tru",
        "fals",
        "-",
        "01",
        "1.",
        "1.e3",
        "1e",
        "1e+",
        "1e400",
        "-1e400",
        "123456789012345678901234567890e290",
        "1e99999999999",
        "\"abc",
        "\"\\x\"",
        "\"\\ud800\"",
        "\"\\udc00\"",
        "\"\\ud800\\u0041\"",
        "\"\\ud800x\"",
        "\"\\u12\"",
        "\"\\u12g4\"",
        "\"a\u{1}b\"",
        "{\"a\":1}}",
        "{}\n\n  x",
        "{\n  \"title\": \"x\",\n  \"body\": tru\n}",
        "{\"é😀\":1,\"x\" 2}",
        "\u{feff}{}",
        "{1:2}",
        "{\"title\":\"x\"} // comment",
        "[1] [2]",
        "'single'",
        "NaN",
        "Infinity",
        "+1",
        ".5",
        // Not objects.
        "[1]",
        "null",
        "5",
        "-0.0",
        "\"title\"",
        "true",
        "[{\"title\":\"x\"}]",
        // Objects the notes refuse.
        "{}",
        "{\"title\":5}",
        "{\"title\":null}",
        "{\"title\":[\"x\"]}",
        "{\"title\":\" \\t\\n \"}",
        "{\"title\":\"\u{85}\u{a0}\u{3000}\"}",
        "{\"title\":\"x\",\"body\":5}",
        "{\"title\":\"x\",\"body\":null}",
        "{\"title\":5,\"body\":5}",
        "{\"title\":\"GROCERIES\"}",
        "{\"title\":\" groceries \"}",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    bodies.push(format!("{}1{}", "[".repeat(127), "]".repeat(127)).into_bytes());
    bodies.push(format!("{}1{}", "[".repeat(128), "]".repeat(128)).into_bytes());
    bodies.push(format!("{}1{}", "{\"a\":".repeat(130), "}".repeat(130)).into_bytes());
    bodies.push(format!("{{\"title\":\"{}\"}}", "é".repeat(201)).into_bytes());
    bodies.push(format!("{{\"title\":\"x\",\"body\":\"{}\"}}", "😀".repeat(10_001)).into_bytes());
    // A byte-order mark is dropped once; invalid UTF-8 becomes U+FFFD.
    bodies.push(b"\xEF\xBB\xBF\xEF\xBB\xBF{}".to_vec());
    bodies.push(b"\xEF\xBB\xBF".to_vec());
    bodies.push(b"{\"title\":\"x\",\"body\":1\xFF}".to_vec());
    bodies.push(b"\xC3\x28".to_vec());
    bodies
}

#[test]
fn the_js_and_rust_notes_answer_byte_for_byte_alike_on_one_database() {
    let two = TwoNotes::start();

    // Made by one, read by the other: the same bytes, timestamps included.
    let made = two.rust("POST", "", br#"{"title":"  Groceries ","body":"milk","tags":[1]}"#);
    assert_eq!((made.status, made.header("location")), (201, Some("/api/notes/1")), "{}", made.text());
    assert_eq!(answer(&two.js("GET", "/1", b"")).2, made.text());
    // Trimmed as Rust trims: U+0085 is space, U+FEFF is not (JavaScript's
    // trim() says the opposite).
    let made = two.js("POST", "", "{\"title\":\"\u{85}Zed\u{feff}\",\"body\":\"  spaced  \"}".as_bytes());
    assert_eq!((made.status, made.header("location")), (201, Some("/api/notes/2")), "{}", made.text());
    assert_eq!(answer(&two.rust("GET", "/2", b"")).2, made.text());
    assert_eq!(made.json()["title"], "Zed\u{feff}");
    let notes = [
        ("Banana bread", "flour, 3 bananas"),
        ("apple pie", "100% butter"),
        ("Cherry jam", "cherries_and sugar"),
        ("Été", "summer"),
        ("date loaf", "dates \\ more"),
        ("é😀 emoji", "x"),
    ];
    for (i, (title, body)) in notes.into_iter().enumerate() {
        let json = json!({ "title": title, "body": body }).to_string();
        let made = if i % 2 == 0 { two.js("POST", "", json.as_bytes()) } else { two.rust("POST", "", json.as_bytes()) };
        assert_eq!(made.status, 201, "{}", made.text());
    }

    // Every refusal, the same (PATCH on note 2, whose title is not
    // Groceries, so that a taken title is refused there too).
    for body in refused_bodies() {
        two.same("POST", "", &body);
        two.same("PATCH", "/2", &body);
    }
    two.same("POST", "", br#"{"body":"no title"}"#);
    for body in ["{\"title\":\"x\"}", "{\"body\":\"x\"}", "{}", "{nope"] {
        for id in ["/99", "/0", "/abc", "/-1", "/9223372036854775808", "/9223372036854775807", "/%201"] {
            two.same("PATCH", id, body.as_bytes());
        }
    }

    // Reading: one note, and lists in every order, searched, paged, refused.
    for id in ["1", "2", "3", "0001", "99", "0", "abc", "-1", "1.5", "9223372036854775807", "9223372036854775808"] {
        two.same("GET", &format!("/{id}"), b"");
        two.same("HEAD", &format!("/{id}"), b"");
    }
    let mut lists = vec![String::new(), "?".to_owned()];
    for sort in ["", "newest", "oldest", "title", "NEWEST", "size"] {
        for limit in ["", "1", "3", "100", "0", "101", "abc", "-1", "+3", "2.5", "007", "99999999999999999999"] {
            lists.push(format!("?sort={sort}&limit={limit}"));
        }
    }
    for q in ["a", "A", "%25", "_", "%5C", "%C3%A9", "%C3%89t", "%F0%9F%98%80", "nothing", "", "+"] {
        lists.push(format!("?q={q}"));
        lists.push(format!("?q={q}&sort=title&limit=2"));
    }
    for cursor in
        ["", "3", "1", "0", "abc", "-1", "99999999999999999999", "626f6f6b73", "zz", "ABCD", "ff", "c3", "c3a9"]
    {
        for sort in ["newest", "oldest", "title"] {
            lists.push(format!("?sort={sort}&cursor={cursor}&limit=2"));
        }
    }
    lists.push("?q=a&q=b&sort=oldest&sort=title".to_owned());
    for list in &lists {
        two.same("GET", list, b"");
    }
    // Paging to the end in title order, following each route's own cursors.
    let mut cursor = String::new();
    for _ in 0..10 {
        let page = two.same("GET", &format!("?sort=title&limit=2&cursor={cursor}"), b"").json();
        match page["nextCursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    assert!(cursor.len() > 2, "the title pages ended with a cursor: {cursor}");

    // Changed by one, read by the other.
    let changed = two.rust("PATCH", "/1", br#"{"body":"oat milk"}"#);
    assert_eq!(changed.status, 200, "{}", changed.text());
    assert_eq!(answer(&two.js("GET", "/1", b"")).2, changed.text());
    let changed = two.js("PATCH", "/2", br#"{"title":" Novels ","ignored":true}"#);
    assert_eq!(changed.status, 200, "{}", changed.text());
    assert_eq!(answer(&two.rust("GET", "/2", b"")).2, changed.text());
    two.same("PATCH", "/1", br#"{"title":"novels"}"#);
    two.same("PATCH", "/1", br#"{"title":"Novels","body":5}"#);
    two.same("GET", "?sort=oldest", b"");

    // Deleted by one, gone for the other.
    let gone = two.js("DELETE", "/2", b"");
    assert_eq!((gone.status, gone.text()), (204, String::new()));
    let gone = two.rust("DELETE", "/3", b"");
    assert_eq!((gone.status, gone.text()), (204, String::new()));
    for id in ["/2", "/3", "/abc", "/0"] {
        two.same("DELETE", id, b"");
        two.same("GET", id, b"");
    }
    two.same("GET", "?sort=title", b"");

    // Methods neither exports: the host's 405, with the same Allow.
    for (method, rest) in
        [("PUT", ""), ("DELETE", ""), ("PATCH", ""), ("POST", "/1"), ("PUT", "/1"), ("OPTIONS", ""), ("OPTIONS", "/1")]
    {
        two.same(method, rest, b"{}");
    }
}
