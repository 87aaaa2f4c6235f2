//! SQL databases: a route that lists `main` in `databases` runs statements
//! on an embedded SQLite file migrated at start, over real sockets against
//! the `sql-plain` test component. What a request may and may not do, how
//! errors reach the guest, what becomes of transactions a request leaves
//! open, and that an acknowledged write survives `kill -9`.

use std::path::PathBuf;

use e2e_support::{TestHost, artifacts};

/// A deployment in a temp dir: migrations, a routes.toml with `main`
/// (listed by `/api/notes`, not by `/api/other`) and a data dir.
struct Deployment {
    dir: tempfile::TempDir,
    manifest: PathBuf,
}

const NOTES: &str = "CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT NOT NULL UNIQUE CHECK (title <> ''));";

impl Deployment {
    fn new(route_extra: &str) -> Deployment {
        let dir = tempfile::tempdir().expect("temp dir");
        let migrations = dir.path().join("migrations/main");
        std::fs::create_dir_all(&migrations).expect("migrations folder");
        std::fs::write(migrations.join("0001_notes.sql"), NOTES).expect("migration");
        let component = artifacts().component("sql-plain");
        let manifest = dir.path().join("routes.toml");
        let text = format!(
            "[database.main]\ntype = \"sqlite\"\nmigrations = \"migrations/main\"\nstatement_timeout = \"300ms\"\n\n\
             [[route]]\npath = \"/api/notes\"\ncomponent = \"{c}\"\ndatabases = [\"main\"]\n{route_extra}\n\n\
             [[route]]\npath = \"/api/other\"\ncomponent = \"{c}\"\n",
            c = component.display()
        );
        std::fs::write(&manifest, text).expect("routes.toml");
        Deployment { dir, manifest }
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn start(&self) -> TestHost {
        self.start_with(&[])
    }

    fn start_with(&self, args: &[&str]) -> TestHost {
        let data = self.data_dir();
        let mut all = vec!["--data-dir", data.to_str().expect("UTF-8")];
        all.extend_from_slice(args);
        TestHost::manifest(&self.manifest).args(&all).start()
    }

    fn try_start(&self) -> Result<TestHost, String> {
        let data = self.data_dir();
        TestHost::manifest(&self.manifest).args(&["--data-dir", data.to_str().expect("UTF-8")]).try_start()
    }
}

fn titles(host: &TestHost) -> Vec<String> {
    let list = host.get("/api/notes");
    assert_eq!(list.status, 200, "{}", list.text());
    list.json().as_array().expect("a list").iter().map(|n| n["title"].as_str().expect("title").to_owned()).collect()
}

fn post(host: &TestHost, title: &str) -> e2e_support::TestResponse {
    host.request("POST", "/api/notes", &[], title.as_bytes())
}

fn encode(sql: &str) -> String {
    sql.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

#[test]
fn a_route_reads_and_writes_its_database_and_errors_are_typed() {
    let deployment = Deployment::new("");
    let host = deployment.start();
    assert!(host.log_text().contains("applied migrations 0001_notes.sql"), "{}", host.log_text());

    let first = post(&host, "first");
    assert_eq!((first.status, first.json()["id"].as_i64(), first.json()["rows"].as_u64()), (201, Some(1), Some(1)));
    assert_eq!(post(&host, "second").status, 201);
    assert_eq!(titles(&host), ["first", "second"]);

    let duplicate = post(&host, "first");
    assert_eq!(duplicate.status, 409, "{}", duplicate.text());
    assert!(
        duplicate.text().starts_with("constraint: unique: UNIQUE constraint failed: notes.title"),
        "{}",
        duplicate.text()
    );
    let empty = post(&host, "");
    assert!(empty.text().starts_with("constraint: check:"), "{}", empty.text());

    let bad = host.get(&format!("/api/notes?op=select&sql={}", encode("SELECT nope FROM notes")));
    assert_eq!(bad.status, 400);
    assert!(bad.text().contains("invalid-statement: no such column: nope"), "{}", bad.text());
    let two = host.get(&format!("/api/notes?op=run&sql={}", encode("DELETE FROM notes; DELETE FROM notes")));
    assert!(two.text().contains("one statement per call"), "{}", two.text());
    for ddl in ["DROP TABLE notes", "CREATE TABLE x (y)", "ALTER TABLE notes ADD COLUMN z"] {
        let refused = host.get(&format!("/api/notes?op=run&sql={}", encode(ddl)));
        assert_eq!(refused.status, 400, "{ddl}: {}", refused.text());
        assert!(refused.text().contains("put them in a migration"), "{ddl}: {}", refused.text());
    }
    let attach = host.get(&format!("/api/notes?op=run&sql={}", encode("ATTACH DATABASE '/tmp/x.sqlite' AS x")));
    assert!(attach.text().contains("ATTACH and DETACH are not allowed"), "{}", attach.text());
    let forever = "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c) SELECT count(*) FROM c";
    let slow = host.get(&format!("/api/notes?op=select&sql={}", encode(forever)));
    assert_eq!(slow.status, 504, "{}", slow.text());
    assert!(slow.text().contains("longer than 300ms"), "{}", slow.text());
    let twice = host.get("/api/notes?op=tx-twice");
    assert!(twice.text().contains("a transaction is already open"), "{}", twice.text());

    // A route that does not list the database is denied, and the host logs why.
    let denied = host.get("/api/other");
    assert_eq!(denied.status, 500);
    assert_eq!(denied.text(), "access-denied: main");
    assert!(host.log_text().contains("database access denied"), "{}", host.log_text());
    let unknown = host.get("/api/notes?db=elsewhere");
    assert_eq!(unknown.text(), "access-denied: elsewhere");

    // Values of every kind come back as stored.
    let values = host.get(&format!(
        "/api/notes?op=select&sql={}",
        encode("SELECT 1, 2.5, 'text', x'00ff', NULL, 9223372036854775807")
    ));
    assert_eq!(
        values.json()["rows"],
        serde_json::json!([[1, 2.5, "text", [0, 255], null, 9_223_372_036_854_775_807_i64]])
    );

    // An instance may hold a bounded number of connections.
    assert_eq!(host.get("/api/notes?op=connections&n=16").text(), "16");
    let many = host.get("/api/notes?op=connections&n=17");
    assert_eq!(many.status, 413, "{}", many.text());
    assert_eq!(titles(&host), ["first", "second"], "nothing else was written");
}

/// Committed, rolled back, left open by a handler that returned, or open
/// when the guest trapped: only the commit stays, and the database's one
/// writer is free again at once.
fn transactions_end_with_their_request(deployment: &Deployment) {
    let host = deployment.start();
    assert_eq!(host.get("/api/notes?op=tx&title=kept&end=commit").text(), "done");
    assert_eq!(host.get("/api/notes?op=tx&title=undone&end=rollback").text(), "done");
    assert_eq!(host.get("/api/notes?op=tx&title=left&end=leave").text(), "done");
    let trapped = host.get("/api/notes?op=tx&title=trapped&end=trap");
    assert_eq!(trapped.status, 500);
    // Were a transaction still open, this write would wait for the writer
    // and fail after the busy timeout.
    assert_eq!(post(&host, "after").status, 201);
    assert_eq!(titles(&host), ["kept", "after"]);
}

#[test]
fn transactions_end_with_their_request_in_fresh_instances() {
    transactions_end_with_their_request(&Deployment::new(""));
}

#[test]
fn transactions_end_with_their_request_in_reused_instances() {
    let deployment = Deployment::new("isolation = \"reuse\"");
    transactions_end_with_their_request(&deployment);
}

/// A 201 means the row is on disk: it is there after `kill -9`.
#[test]
fn acknowledged_writes_survive_kill_9() {
    let deployment = Deployment::new("");
    let mut host = deployment.start();
    let written: Vec<String> = (0..50).map(|i| format!("note {i}")).collect();
    for title in &written {
        assert_eq!(post(&host, title).status, 201);
    }
    host.kill();
    let admin = e2e_support::free_port();
    let host = deployment.start_with(&["--admin-addr", &format!("127.0.0.1:{admin}")]);
    assert_eq!(titles(&host), written);
    // `/readyz` reports on the open database.
    let ready = e2e_support::send(std::net::SocketAddr::from(([127, 0, 0, 1], admin)), "GET", "/readyz", &[], b"");
    let body = ready.json();
    assert_eq!((body["status"].as_str(), body["databases"]["main"]["type"].as_str()), (Some("ready"), Some("sqlite")));
    assert_eq!(body["databases"]["main"]["ok"], true, "{body}");
    assert!(!host.log_text().contains("applied migrations"), "applied once: {}", host.log_text());
}

fn migration(deployment: &Deployment, name: &str, sql: &str) -> PathBuf {
    let path = deployment.dir.path().join("migrations/main").join(name);
    std::fs::write(&path, sql).expect("write migration");
    path
}

#[test]
fn a_bad_migration_stops_the_start_and_names_its_file() {
    let deployment = Deployment::new("");
    drop(deployment.start());
    migration(&deployment, "0002_broken.sql", "CREATE TABLE tags (x); INSERT INTO nowhere VALUES (1);");
    let log = deployment.try_start().err().expect("the host must not start");
    assert!(log.contains("0002_broken.sql: migration failed on database `main`"), "{log}");
    assert!(log.contains("no such table: nowhere"), "{log}");

    std::fs::remove_file(deployment.dir.path().join("migrations/main/0002_broken.sql")).expect("remove");
    migration(&deployment, "0001_notes.sql", &format!("{NOTES}\n-- edited"));
    let log = deployment.try_start().err().expect("an edited migration is refused");
    assert!(log.contains("0001_notes.sql: this migration was applied to database `main` with other contents"), "{log}");

    migration(&deployment, "0001_notes.sql", NOTES);
    migration(&deployment, "0002_tags.sql", "CREATE TABLE tags (note_id INTEGER REFERENCES notes (id), tag TEXT);");
    let host = deployment.start();
    assert!(host.log_text().contains("applied migrations 0002_tags.sql"), "{}", host.log_text());
    let tables = host.get(&format!("/api/notes?op=select&sql={}", encode("PRAGMA table_list")));
    assert!(tables.text().contains("\"tags\""), "{}", tables.text());
}

/// `wasmroutes db ARGS` on the deployment: (success, stdout, stderr).
fn db(deployment: &Deployment, args: &[&str]) -> (bool, String, String) {
    let (manifest, data) = (deployment.manifest.to_str().expect("UTF-8"), deployment.data_dir());
    let mut all = vec!["db", manifest, "--data-dir", data.to_str().expect("UTF-8")];
    all.extend_from_slice(args);
    let out = e2e_support::run_wasmroutes(&all, deployment.dir.path(), &[]);
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

#[test]
fn the_db_command_migrates_reports_and_queries_but_never_beside_a_server() {
    let deployment = Deployment::new("");
    assert_eq!(db(&deployment, &["status"]).1, "0001_notes.sql\tpending\n");
    let (ok, out, err) = db(&deployment, &["migrate"]);
    assert!(ok, "{err}");
    assert_eq!(out, "database `main`: applied 0001_notes.sql\n");
    let (ok, out, _) = db(&deployment, &["query", "INSERT INTO notes (title) VALUES ($1), ($2)", "one", "2"]);
    assert!(ok);
    assert_eq!(out, "2 row(s) changed\n");
    let (_, out, _) = db(&deployment, &["query", "SELECT id, title, typeof(title) FROM notes ORDER BY id"]);
    assert_eq!(out, "id\ttitle\ttypeof(title)\n1\tone\ttext\n2\t2\ttext\n", "a column's affinity keeps text text");
    let (ok, _, err) = db(&deployment, &["query", "DROP TABLE notes"]);
    assert!(!ok && err.contains("put them in a migration"), "{err}");

    // A server holds the file: the command stops instead of writing beside
    // it; status, which only reads, still answers.
    let host = deployment.start();
    assert_eq!(titles(&host), ["one", "2"]);
    let (ok, _, err) = db(&deployment, &["query", "SELECT 1"]);
    assert!(!ok && err.contains("is open in another wasmroutes process"), "{err}");
    assert!(err.contains("stop the server that has it open"), "{err}");
    assert_eq!(db(&deployment, &["status"]).1, "0001_notes.sql\tapplied\n");
    drop(host);

    migration(&deployment, "0001_notes.sql", &format!("{NOTES} -- edited"));
    let (ok, out, err) = db(&deployment, &["status"]);
    assert!(!ok && out == "0001_notes.sql\tCHANGED since it was applied\n", "{out}{err}");
}
