//! On a real PostgreSQL server (one per test, on a free loopback port):
//! what a request may and may not do, transactions, concurrency, the
//! server going away under load and coming back, a host that starts while
//! it is down, hosts starting together on one database, and the `db`
//! command beside running hosts.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use e2e_support::keep_alive::Connection;
use e2e_support::postgres_server::PostgresServer;
use e2e_support::{TestHost, eventually};

use super::{Backend, Deployment, NOTES_POSTGRES as NOTES, db, encode, post, titles};

fn backend(server: &PostgresServer) -> Backend {
    Backend::Postgres { url: server.url() }
}

#[test]
fn a_route_reads_and_writes_postgres_and_errors_are_typed() {
    let server = PostgresServer::start();
    let deployment = Deployment::new(&backend(&server), "");
    let host = deployment.start();
    assert!(host.log_text().contains("applied migrations 0001_notes.sql"), "{}", host.log_text());

    let first = post(&host, "first");
    // PostgreSQL has no last insert id (a route uses RETURNING).
    assert_eq!((first.status, first.json()["id"].is_null(), first.json()["rows"].as_u64()), (201, true, Some(1)));
    assert_eq!(post(&host, "second").status, 201);
    assert_eq!(titles(&host), ["first", "second"]);

    let duplicate = post(&host, "first");
    assert_eq!(duplicate.status, 409, "{}", duplicate.text());
    assert!(
        duplicate.text().starts_with("constraint: unique: duplicate key value violates unique constraint"),
        "{}",
        duplicate.text()
    );
    assert!(post(&host, "").text().starts_with("constraint: check:"));

    let select = |sql: &str| host.get(&format!("/api/notes?op=select&sql={}", encode(sql)));
    let run = |sql: &str| host.get(&format!("/api/notes?op=run&sql={}", encode(sql)));
    let bad = select("SELECT nope FROM notes");
    assert_eq!(bad.status, 400);
    assert!(bad.text().contains("invalid-statement: column \"nope\" does not exist"), "{}", bad.text());
    assert!(run("DELETE FROM notes; DELETE FROM notes").text().contains("one statement per call"));
    for (sql, needle) in [
        ("DROP TABLE notes", "put them in a migration"),
        ("CREATE TABLE x (y int)", "put them in a migration"),
        ("SET statement_timeout = 0", "session settings are not allowed"),
        ("COMMIT", "use the interface's begin"),
        ("COPY notes TO STDOUT", "only SELECT"),
    ] {
        let refused = run(sql);
        assert_eq!(refused.status, 400, "{sql}: {}", refused.text());
        assert!(refused.text().contains(needle), "{sql}: {}", refused.text());
    }
    // The server's statement_timeout stops a slow statement.
    let started = Instant::now();
    let slow = select("SELECT pg_sleep(30)");
    assert_eq!(slow.status, 504, "{}", slow.text());
    assert!(slow.text().contains("statement timeout"), "{}", slow.text());
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(host.get("/api/notes?op=tx-twice").text().contains("a transaction is already open"));

    let denied = host.get("/api/other");
    assert_eq!((denied.status, denied.text()), (500, "access-denied: main".to_owned()));

    // PostgreSQL's types, as the guest sees them.
    let values = select(
        "SELECT 1::int2, 2::int4, 9223372036854775807::int8, 2.5::float8, 'text', '\\x00ff'::bytea, NULL, \
         true, 12.340::numeric, '6f1c2c1e-9c1f-4b8e-8a3e-0d6f4c7b2a10'::uuid, '{\"a\": [1]}'::jsonb, \
         '2026-12-07 03:04:05.678+00'::timestamptz, '2026-12-07'::date",
    );
    assert_eq!(
        values.json()["rows"],
        serde_json::json!([[
            1,
            2,
            9_223_372_036_854_775_807_i64,
            2.5,
            "text",
            [0, 255],
            null,
            true,
            "12.340",
            "6f1c2c1e-9c1f-4b8e-8a3e-0d6f4c7b2a10",
            "{\"a\": [1]}",
            "2026-12-07T03:04:05.678Z",
            "2026-12-07"
        ]]),
        "{}",
        values.text()
    );
    let interval = select("SELECT interval '1 day'");
    assert!(interval.text().contains("cast it in the query"), "{}", interval.text());

    assert_eq!(host.get("/api/notes?op=connections&n=16").text(), "16");
    assert_eq!(host.get("/api/notes?op=connections&n=17").status, 413);
    assert_eq!(titles(&host), ["first", "second"], "nothing else was written");
}

#[test]
fn transactions_end_with_their_request_in_fresh_instances() {
    let server = PostgresServer::start();
    super::transactions_end_with_their_request(&Deployment::new(&backend(&server), ""));
}

#[test]
fn transactions_end_with_their_request_in_reused_instances() {
    let server = PostgresServer::start();
    super::transactions_end_with_their_request(&Deployment::new(&backend(&server), "isolation = \"reuse\""));
}

#[test]
fn concurrent_inserts_are_all_kept() {
    let server = PostgresServer::start();
    super::concurrent_inserts_are_all_kept(&backend(&server));
}

#[test]
fn concurrent_transactions_lose_no_update() {
    // READ COMMITTED: the row lock of FOR UPDATE is what serialises them.
    let server = PostgresServer::start();
    super::concurrent_transactions_lose_no_update(&backend(&server), "FOR UPDATE");
}

/// PostgreSQL killed (SIGKILL) while 8 clients insert: the host answers 503
/// with the reason while it is down, reconnects by itself when it is back,
/// and every insert it acknowledged with a 201 is in the database.
#[test]
fn postgres_killed_under_load_answers_503_then_recovers_and_loses_no_acknowledged_write() {
    let mut server = PostgresServer::start();
    let deployment = Deployment::new(&backend(&server), "");
    let host = deployment.start();
    let stop = Arc::new(AtomicBool::new(false));
    let addr = host.addr;
    let writers: Vec<_> = (0..8)
        .map(|client| {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut conn = Connection::open(addr);
                let (mut acknowledged, mut unavailable) = (Vec::new(), 0);
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let title = format!("client {client} note {i}");
                    i += 1;
                    let resp = conn.request("POST", "/api/notes", title.as_bytes());
                    match resp.status {
                        201 => acknowledged.push(title),
                        503 => {
                            assert!(resp.text().starts_with("unavailable: "), "{}", resp.text());
                            unavailable += 1;
                            std::thread::sleep(Duration::from_millis(20));
                        }
                        other => panic!("insert: {other} {}", resp.text()),
                    }
                }
                (acknowledged, unavailable)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    server.stop();
    let down = eventually(Duration::from_secs(10), || {
        let resp = post(&host, "while down");
        if resp.status == 503 { Ok(resp) } else { Err(format!("{} {}", resp.status, resp.text())) }
    });
    assert!(down.text().starts_with("unavailable: "), "{}", down.text());
    std::thread::sleep(Duration::from_millis(500));
    server.restart();
    eventually(Duration::from_secs(20), || {
        let resp = post(&host, "after");
        if resp.status == 201 { Ok(()) } else { Err(format!("{} {}", resp.status, resp.text())) }
    });
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    let mut acknowledged = Vec::new();
    let mut unavailable = 0;
    for writer in writers {
        let (titles, refused) = writer.join().expect("writer");
        acknowledged.extend(titles);
        unavailable += refused;
    }
    assert!(unavailable > 0, "the writers saw the outage");
    let stored: std::collections::BTreeSet<String> = titles(&host).into_iter().collect();
    let lost: Vec<&String> = acknowledged.iter().filter(|t| !stored.contains(*t)).collect();
    assert!(lost.is_empty(), "{} acknowledged writes lost, e.g. {:?}", lost.len(), lost.first());
    eprintln!("{} acknowledged inserts kept, {unavailable} refused with 503 during the outage", acknowledged.len());
}

/// A host that starts while PostgreSQL is down serves (its routes answer
/// 503 and /readyz names the database), and applies its migrations when
/// the server comes back.
#[test]
fn a_host_started_while_postgres_is_down_migrates_when_it_comes_back() {
    let mut server = PostgresServer::start();
    let deployment = Deployment::new(&backend(&server), "");
    server.stop();
    let admin = e2e_support::free_port();
    let host = deployment.start_with(&["--admin-addr", &format!("127.0.0.1:{admin}")]);
    let unavailable = post(&host, "too early");
    assert_eq!(unavailable.status, 503, "{}", unavailable.text());
    assert!(unavailable.text().contains("its migrations are not applied yet"), "{}", unavailable.text());
    let readyz = || e2e_support::send(std::net::SocketAddr::from(([127, 0, 0, 1], admin)), "GET", "/readyz", &[], b"");
    let ready = readyz().json();
    assert_eq!((ready["status"].as_str(), &ready["databases"]["main"]["ok"]), (Some("degraded"), &false.into()));
    let why = ready["databases"]["main"]["error"].as_str().unwrap_or_default();
    assert!(why.contains("migrations are not applied yet"), "{ready}");

    server.restart();
    eventually(Duration::from_secs(20), || {
        let resp = post(&host, "on time");
        if resp.status == 201 { Ok(()) } else { Err(format!("{} {}", resp.status, resp.text())) }
    });
    assert!(host.log_text().contains("applied migrations 0001_notes.sql"), "{}", host.log_text());
    assert_eq!(readyz().json()["status"], "ready");
    assert_eq!(titles(&host), ["on time"]);
}

/// Three hosts start at once on one database: each migration is applied
/// once (one host's log says so, the table records it once), and an
/// applied migration edited afterwards stops the next start.
#[test]
fn hosts_starting_together_apply_each_migration_once() {
    let server = PostgresServer::start();
    let deployment = Deployment::new(&backend(&server), "");
    deployment.migration("0002_tags.sql", "CREATE TABLE tags (note_id BIGINT REFERENCES notes (id), tag TEXT);");
    let hosts: Vec<TestHost> = std::thread::scope(|scope| {
        let starting: Vec<_> = (0..3).map(|_| scope.spawn(|| deployment.start())).collect();
        starting.into_iter().map(|h| h.join().expect("host")).collect()
    });
    let applying: Vec<&TestHost> = hosts.iter().filter(|h| h.log_text().contains("applied migrations")).collect();
    assert_eq!(applying.len(), 1, "exactly one host applied them");
    assert!(applying[0].log_text().contains("applied migrations 0001_notes.sql, 0002_tags.sql"));
    assert_eq!(server.psql("SELECT name FROM _wasmroutes_migrations ORDER BY name"), "0001_notes.sql\n0002_tags.sql");
    for host in &hosts {
        assert_eq!(post(host, &format!("from {}", host.addr)).status, 201);
    }
    assert_eq!(titles(&hosts[0]).len(), 3, "one database under all three");
    drop(hosts);

    deployment.migration("0001_notes.sql", &format!("{NOTES}\n-- edited"));
    let log = deployment.try_start().err().expect("an edited migration is refused");
    assert!(log.contains("0001_notes.sql: this migration was applied to database `main` with other contents"), "{log}");
}

/// `wasmroutes db` on PostgreSQL: status, migrate and query, also while a
/// host serves the database (it is shared, unlike a SQLite file).
#[test]
fn the_db_command_works_on_postgres_beside_a_running_host() {
    let server = PostgresServer::start();
    let deployment = Deployment::new(&backend(&server), "");
    assert_eq!(db(&deployment, &["status"]).1, "0001_notes.sql\tpending\n");
    let (ok, out, err) = db(&deployment, &["migrate"]);
    assert!(ok, "{err}");
    assert_eq!(out, "database `main`: applied 0001_notes.sql\n");
    let host = deployment.start();
    assert!(!host.log_text().contains("applied migrations"), "{}", host.log_text());
    let (ok, out, err) = db(&deployment, &["query", "INSERT INTO notes (title) VALUES ($1), ($2)", "one", "2"]);
    assert!(ok, "{err}");
    assert_eq!(out, "2 row(s) changed\n");
    assert_eq!(titles(&host), ["one", "2"]);
    let (_, out, _) = db(&deployment, &["query", "SELECT id, title FROM notes ORDER BY id"]);
    assert_eq!(out, "id\ttitle\n1\tone\n2\t2\n");
    let (ok, _, err) = db(&deployment, &["query", "DROP TABLE notes"]);
    assert!(!ok && err.contains("put them in a migration"), "{err}");
    deployment.migration("0002_tags.sql", "CREATE TABLE tags (tag TEXT);");
    assert_eq!(db(&deployment, &["status"]).1, "0001_notes.sql\tapplied\n0002_tags.sql\tpending\n");
    assert_eq!(db(&deployment, &["migrate"]).1, "database `main`: applied 0002_tags.sql\n");
}

/// TLS where the URL asks for it: `sslmode=require` verifies the server's
/// certificate (here against the CA `sslrootcert` names); without that CA
/// the certificate is refused and the database stays unavailable.
#[test]
fn tls_when_the_url_asks_for_it() {
    let server = PostgresServer::start_with_tls();
    let ca = server.ca_path();
    let url = format!("{}?sslmode=require&sslrootcert={}", server.url(), ca.display());
    let host = Deployment::new(&Backend::Postgres { url }, "").start();
    assert_eq!(post(&host, "over TLS").status, 201);
    assert_eq!(titles(&host), ["over TLS"]);
    let encrypted = server.psql("SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) WHERE ssl AND application_name = 'wasmroutes'");
    assert_ne!(encrypted, "0", "the host's connections use TLS");
    drop(host);

    let unverified = format!("{}?sslmode=require", server.url());
    let host = Deployment::new(&Backend::Postgres { url: unverified }, "").start();
    let refused = post(&host, "no CA");
    assert_eq!(refused.status, 503, "{}", refused.text());
    assert!(refused.text().contains("certificate"), "{}", refused.text());
}
