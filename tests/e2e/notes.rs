//! The notes samples end to end: `sample-routes/routes.toml` itself, served
//! by the real host with a temp data dir, its `default` SQLite database
//! migrated from `sample-routes/migrations/notes` at start, and the
//! `notes` and `notes-id` components (written with the SDK's
//! `wasmroutes_sdk::sql`) answering over real sockets. The notes survive a
//! restart of the host.

use std::path::PathBuf;

use e2e_support::{TestHost, TestResponse, artifacts};
use serde_json::{Value, json};

/// The sample deployment with its data in a temp dir.
struct Samples {
    data: tempfile::TempDir,
    manifest: PathBuf,
}

impl Samples {
    fn new() -> Samples {
        let a = artifacts();
        let data = tempfile::tempdir().expect("temp dir");
        let manifest = a.root.join("sample-routes/routes.toml");
        // routes.toml names components under the checkout's target/; a build
        // elsewhere (CARGO_TARGET_DIR) gets a copy pointing there.
        let manifest = if a.wasm_dir == a.root.join("target/wasm32-wasip2/release") {
            manifest
        } else {
            let text = std::fs::read_to_string(&manifest).expect("sample-routes/routes.toml");
            let target = format!("{}/", a.target_dir.display());
            let migrations = a.root.join("sample-routes/migrations/notes");
            let text = text.replace("\"../target/", &format!("\"{target}")).replace(
                "migrations = \"migrations/notes\"",
                &format!("migrations = {:?}", migrations.display().to_string()),
            );
            let copy = data.path().join("routes.toml");
            std::fs::write(&copy, text).expect("write routes.toml");
            copy
        };
        Samples { data, manifest }
    }

    fn start(&self) -> TestHost {
        let dir = self.data_dir();
        TestHost::manifest(&self.manifest).args(&["--data-dir", dir.to_str().expect("UTF-8")]).start()
    }

    fn data_dir(&self) -> PathBuf {
        self.data.path().join("data")
    }
}

fn send_json(host: &TestHost, method: &str, target: &str, body: &str) -> TestResponse {
    host.request(method, target, &[("content-type", "application/json")], body.as_bytes())
}

fn create(host: &TestHost, title: &str, body: &str) -> Value {
    let resp = send_json(host, "POST", "/api/notes", &json!({ "title": title, "body": body }).to_string());
    assert_eq!(resp.status, 201, "{}", resp.text());
    let note = resp.json();
    assert_eq!(resp.header("location"), Some(format!("/api/notes/{}", note["id"]).as_str()));
    note
}

/// `GET target`: the titles of the page and its `nextCursor`.
fn page(host: &TestHost, target: &str) -> (Vec<String>, Option<String>) {
    let resp = host.get(target);
    assert_eq!(resp.status, 200, "{target}: {}", resp.text());
    assert_eq!(resp.header("content-type"), Some("application/json"));
    let json = resp.json();
    let titles =
        json["notes"].as_array().expect("notes").iter().map(|n| n["title"].as_str().expect("title").to_owned());
    (titles.collect(), json["nextCursor"].as_str().map(str::to_owned))
}

/// Every title of a listing, following `nextCursor` page by page: the
/// titles in order and the cursors the pages gave.
fn walk(host: &TestHost, query: &str) -> (Vec<String>, Vec<String>) {
    let (mut titles, mut cursors) = (Vec::new(), Vec::new());
    let mut cursor: Option<String> = None;
    loop {
        let target = match &cursor {
            Some(c) => format!("/api/notes?{query}&cursor={c}"),
            None => format!("/api/notes?{query}"),
        };
        let (page, next) = page(host, &target);
        titles.extend(page);
        match next {
            Some(next) => {
                cursors.push(next.clone());
                cursor = Some(next);
            }
            None => return (titles, cursors),
        }
    }
}

fn is_iso_timestamp(text: &str) -> bool {
    let shape: String = text.chars().map(|c| if c.is_ascii_digit() { 'd' } else { c }).collect();
    shape == "dddd-dd-ddTdd:dd:dd.dddZ"
}

#[test]
fn the_notes_api_answers_as_specified_and_keeps_its_notes_across_a_restart() {
    let samples = Samples::new();
    let mut host = samples.start();
    assert!(host.log_text().contains("applied migrations 0001_create_notes.sql"), "{}", host.log_text());
    assert_eq!(host.get("/api/notes").text(), r#"{"notes":[],"nextCursor":null}"#);

    // Create: 201, Location, the note with both times equal.
    let resp = send_json(&host, "POST", "/api/notes", r#"{"title":"  Groceries ","body":"milk","tags":["x"]}"#);
    assert_eq!(resp.status, 201, "{}", resp.text());
    assert_eq!(resp.header("location"), Some("/api/notes/1"));
    let note = resp.json();
    let created = note["createdAt"].as_str().expect("createdAt").to_owned();
    assert!(is_iso_timestamp(&created), "{created}");
    assert_eq!(
        resp.text(),
        format!(r#"{{"id":1,"title":"Groceries","body":"milk","createdAt":"{created}","updatedAt":"{created}"}}"#)
    );
    for (title, body) in [("delta", "d"), ("Alpha", "50% off"), ("charlie", "snake_case"), ("Bravo", "")] {
        create(&host, title, body);
    }

    // Pages: five notes, two a page, in each order.
    let (newest, cursors) = walk(&host, "limit=2");
    assert_eq!(newest, ["Bravo", "charlie", "Alpha", "delta", "Groceries"]);
    assert_eq!(cursors, ["4", "2"]);
    assert_eq!(walk(&host, "sort=oldest&limit=2").0, ["Groceries", "delta", "Alpha", "charlie", "Bravo"]);
    let (by_title, cursors) = walk(&host, "sort=title&limit=2");
    assert_eq!(by_title, ["Alpha", "Bravo", "charlie", "delta", "Groceries"]);
    assert_eq!(cursors, ["627261766f", "64656c7461"], "hex of `bravo`, `delta`");
    assert_eq!(page(&host, "/api/notes?limit=5").1, None, "no next page after the last note");

    // Search: title or body, ASCII case ignored, `%` and `_` literal.
    assert_eq!(page(&host, "/api/notes?q=GROC").0, ["Groceries"]);
    assert_eq!(page(&host, "/api/notes?q=%25").0, ["Alpha"], "q=% matches a literal %");
    assert_eq!(page(&host, "/api/notes?q=_").0, ["charlie"], "q=_ matches a literal _");
    assert_eq!(
        page(&host, "/api/notes?q=a&sort=title&limit=2"),
        (vec!["Alpha".to_owned(), "Bravo".to_owned()], Some("627261766f".to_owned()))
    );

    // Conflicts, validation and bad parameters.
    send_json(&host, "POST", "/api/notes", r#"{"title":"GROCERIES"}"#)
        .assert_error(409, "A note with this title already exists");
    send_json(&host, "POST", "/api/notes", r#"{"body":"no title"}"#).assert_error(422, "title must be a string");
    send_json(&host, "POST", "/api/notes", r#"{"title":"   "}"#).assert_error(422, "title must not be empty");
    send_json(&host, "POST", "/api/notes", r#"{"title":"x","body":1}"#).assert_error(422, "body must be a string");
    send_json(&host, "POST", "/api/notes", "[]").assert_error(400, "Send a JSON object");
    send_json(&host, "POST", "/api/notes", "").assert_error(400, "Request body is empty; expected JSON");
    host.get("/api/notes?sort=size").assert_error(400, "sort must be one of newest, oldest, title");
    host.get("/api/notes?limit=101").assert_error(400, "limit must be an integer from 1 to 100");
    host.get("/api/notes?cursor=abc").assert_error(400, "Invalid cursor");
    host.get("/api/notes?sort=title&cursor=zz").assert_error(400, "Invalid cursor");

    // One note: read, change, delete.
    host.get("/api/notes/99").assert_error(404, "Note not found");
    host.get("/api/notes/0").assert_error(400, "Note id must be a positive integer");
    host.get("/api/notes/abc").assert_error(400, "Note id must be a positive integer");
    let read = host.get("/api/notes/1");
    assert_eq!((read.status, read.json()), (200, note.clone()));

    let patched = send_json(&host, "PATCH", "/api/notes/1", r#"{"body":"oat milk"}"#);
    assert_eq!(patched.status, 200, "{}", patched.text());
    let patched = patched.json();
    assert_eq!((patched["title"].clone(), patched["body"].clone()), (json!("Groceries"), json!("oat milk")));
    assert_eq!(patched["createdAt"], created.as_str());
    let updated = patched["updatedAt"].as_str().expect("updatedAt");
    assert!(is_iso_timestamp(updated) && updated >= created.as_str(), "{updated}");
    send_json(&host, "PATCH", "/api/notes/1", r#"{"title":"alpha"}"#)
        .assert_error(409, "A note with this title already exists");
    send_json(&host, "PATCH", "/api/notes/1", r#"{"other":1}"#)
        .assert_error(422, "Nothing to update: send `title` and/or `body`");
    send_json(&host, "PATCH", "/api/notes/99", r#"{"title":"x"}"#).assert_error(404, "Note not found");
    let renamed = send_json(&host, "PATCH", "/api/notes/1", r#"{"title":"Shopping"}"#);
    assert_eq!(renamed.json()["title"], "Shopping");

    let deleted = host.request("DELETE", "/api/notes/5", &[], b"");
    assert_eq!((deleted.status, deleted.body.len()), (204, 0));
    host.request("DELETE", "/api/notes/5", &[], b"").assert_error(404, "Note not found");
    let put = host.request("PUT", "/api/notes/1", &[], b"{}");
    assert_eq!(put.status, 405, "{}", put.text());

    // A restart (SIGTERM, then a new host on the same data) keeps every note,
    // and ids keep counting past the deleted one.
    let before = host.get("/api/notes?sort=oldest").text();
    host.terminate();
    let host = samples.start();
    assert!(!host.log_text().contains("applied migrations"), "applied once: {}", host.log_text());
    assert_eq!(host.get("/api/notes?sort=oldest").text(), before);
    assert_eq!(create(&host, "echo", "")["id"], 6, "autoincrement does not reuse the deleted id");
    assert!(samples.data_dir().join("sql/default.sqlite").is_file(), "the database is in --data-dir");
}
