//! On an embedded SQLite file migrated at start: what a request may and
//! may not do, how errors reach the guest, what becomes of transactions a
//! request leaves open, that an acknowledged write survives `kill -9`, and
//! the `db` command beside (never under) a server.

use super::{Backend, Deployment, NOTES_SQLITE as NOTES, db, encode, post, titles};

const SQLITE: Backend = Backend::Sqlite;

#[test]
fn a_route_reads_and_writes_its_database_and_errors_are_typed() {
    let deployment = Deployment::new(&SQLITE, "");
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

#[test]
fn transactions_end_with_their_request_in_fresh_instances() {
    super::transactions_end_with_their_request(&Deployment::new(&SQLITE, ""));
}

#[test]
fn transactions_end_with_their_request_in_reused_instances() {
    super::transactions_end_with_their_request(&Deployment::new(&SQLITE, "isolation = \"reuse\""));
}

/// A 201 means the row is on disk: it is there after `kill -9`.
#[test]
fn acknowledged_writes_survive_kill_9() {
    let deployment = Deployment::new(&SQLITE, "");
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

#[test]
fn a_bad_migration_stops_the_start_and_names_its_file() {
    let deployment = Deployment::new(&SQLITE, "");
    drop(deployment.start());
    deployment.migration("0002_broken.sql", "CREATE TABLE tags (x); INSERT INTO nowhere VALUES (1);");
    let log = deployment.try_start().err().expect("the host must not start");
    assert!(log.contains("0002_broken.sql: migration failed on database `main`"), "{log}");
    assert!(log.contains("no such table: nowhere"), "{log}");

    std::fs::remove_file(deployment.dir().join("migrations/main/0002_broken.sql")).expect("remove");
    deployment.migration("0001_notes.sql", &format!("{NOTES}\n-- edited"));
    let log = deployment.try_start().err().expect("an edited migration is refused");
    assert!(log.contains("0001_notes.sql: this migration was applied to database `main` with other contents"), "{log}");

    deployment.migration("0001_notes.sql", NOTES);
    deployment.migration("0002_tags.sql", "CREATE TABLE tags (note_id INTEGER REFERENCES notes (id), tag TEXT);");
    let host = deployment.start();
    assert!(host.log_text().contains("applied migrations 0002_tags.sql"), "{}", host.log_text());
    let tables = host.get(&format!("/api/notes?op=select&sql={}", encode("PRAGMA table_list")));
    assert!(tables.text().contains("\"tags\""), "{}", tables.text());
}

#[test]
fn the_db_command_migrates_reports_and_queries_but_never_beside_a_server() {
    let deployment = Deployment::new(&SQLITE, "");
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

    deployment.migration("0001_notes.sql", &format!("{NOTES} -- edited"));
    let (ok, out, err) = db(&deployment, &["status"]);
    assert!(!ok && out == "0001_notes.sql\tCHANGED since it was applied\n", "{out}{err}");
}

#[test]
fn concurrent_inserts_are_all_kept() {
    super::concurrent_inserts_are_all_kept(&SQLITE);
}

#[test]
fn concurrent_transactions_lose_no_update() {
    // A SQLite transaction holds the one writer from BEGIN: no lock clause.
    super::concurrent_transactions_lose_no_update(&SQLITE, "");
}
