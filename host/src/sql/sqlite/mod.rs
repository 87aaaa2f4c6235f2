//! The embedded SQL backend: one SQLite file per database (rusqlite, SQLite
//! compiled in).
//!
//! - **One process.** The file's lock file (`NAME.sqlite.lock`) is held
//!   exclusively while the database is open, so a second server, or
//!   `wasmroutes db` while a server runs, stops with a clear error instead
//!   of writing beside it.
//! - **Durability.** WAL with `synchronous = FULL`: a commit that returned
//!   is on disk, through a kill -9 or a power cut.
//! - **One writer, many readers.** SQLite serialises writers anyway; here
//!   they go to the one read-write connection's thread, which commits many
//!   requests' writes at once ([`writer`]), and reads run beside it on
//!   read-only connections ([`readers`]). A transaction has the writer from
//!   `begin` to `commit` or `rollback`.
//! - **What a request may run, for how long** ([`connection`]): SQLite's
//!   authorizer allows reads and data changes and refuses the rest at
//!   prepare time: schema changes (they belong in migrations),
//!   `ATTACH`/`DETACH` (another file), `PRAGMA` other than a few read-only
//!   ones, `VACUUM`, `ANALYZE`, `REINDEX`, and transaction statements in SQL
//!   text (a route uses `begin`/`commit`, so the host always knows whether
//!   one is open). Rows and bytes per result are counted while stepping; a
//!   statement past its time is interrupted by the progress handler.

mod connection;
mod readers;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;

use self::connection::Conn;
use self::readers::{Read, Readers};
use self::writer::{Call, Transaction, Writer};
use super::backend::{Database, Session, SqlLimits};
use super::error::SqlError;
use super::value::{Executed, Rows, SqlValue};

/// An embedded SQLite database.
pub struct SqliteDatabase {
    shared: Arc<Shared>,
}

/// What the database and its sessions share; the last of them to go closes
/// the file.
struct Shared {
    path: PathBuf,
    readers: Arc<Readers>,
    writer: Writer,
    /// Held (locked) until the writer has closed its connection: declared
    /// after it, so dropped after it.
    _lock: std::fs::File,
}

impl SqliteDatabase {
    /// Opens (creating it if missing) the database `name` in the file at
    /// `path`. Blocking: call it at start-up, or from `spawn_blocking`.
    pub fn open(name: &str, path: &Path, limits: SqlLimits) -> Result<SqliteDatabase, SqlError> {
        if let Some(folder) = path.parent().filter(|f| !f.as_os_str().is_empty()) {
            std::fs::create_dir_all(folder)
                .map_err(|e| SqlError::Internal(format!("cannot create {}: {e}", folder.display())))?;
        }
        let lock = lock(path)?;
        let writer = Writer::start(name, Conn::open(path, false, limits)?, limits)?;
        Ok(SqliteDatabase {
            shared: Arc::new(Shared {
                path: path.to_owned(),
                readers: Arc::new(Readers::new(path.to_owned(), limits)),
                writer,
                _lock: lock,
            }),
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.shared.path
    }
}

/// The lock file beside `path`, locked exclusively.
fn lock(path: &Path) -> Result<std::fs::File, SqlError> {
    let mut lock_path = path.as_os_str().to_owned();
    lock_path.push(".lock");
    let lock_path = PathBuf::from(lock_path);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| SqlError::Internal(format!("cannot open {}: {e}", lock_path.display())))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(SqlError::Unavailable(format!(
            "{} is open in another wasmroutes process (a running server holds it)",
            path.display()
        ))),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(SqlError::Internal(format!("cannot lock {}: {e}", lock_path.display())))
        }
    }
}

#[async_trait]
impl Database for SqliteDatabase {
    fn session(&self) -> Box<dyn Session> {
        Box::new(SqliteSession { shared: Arc::clone(&self.shared), transaction: None, lost: false })
    }

    async fn ping(&self) -> Result<(), SqlError> {
        match self.shared.readers.query("SELECT 1", Vec::new()).await? {
            Read::Rows(rows) if rows.rows.len() == 1 => Ok(()),
            _ => Err(SqlError::Internal("SELECT 1 returned no row".into())),
        }
    }
}

/// One instance's session: the writer while a transaction is open.
struct SqliteSession {
    shared: Arc<Shared>,
    transaction: Option<Transaction>,
    /// SQLite rolled the open transaction back itself (a statement in it
    /// was interrupted, or hit a disk error): said at the next commit.
    lost: bool,
}

impl SqliteSession {
    /// Why `call` has no transaction to end.
    fn no_transaction(&mut self, call: &str) -> SqlError {
        if std::mem::take(&mut self.lost) {
            SqlError::InvalidStatement(format!(
                "{call}: the transaction was already rolled back, when a statement in it failed; begin again"
            ))
        } else {
            SqlError::InvalidStatement(format!("{call} without an open transaction"))
        }
    }

    /// Runs `call` in the open transaction, or in the writer's next group
    /// commit.
    async fn write(&mut self, call: Call) -> Result<writer::Answer, SqlError> {
        let Some(transaction) = &self.transaction else {
            return self.shared.writer.run(call).await;
        };
        let ran = transaction.run(call).await?;
        if !ran.open {
            self.transaction = None;
            self.lost = true;
        }
        ran.result
    }
}

#[async_trait]
impl Session for SqliteSession {
    async fn query(&mut self, sql: &str, params: Vec<SqlValue>) -> Result<Rows, SqlError> {
        if self.transaction.is_none() {
            // A read runs beside the writer, on a read-only connection; a
            // change with RETURNING goes to the writer.
            let params = match self.shared.readers.query(sql, params).await? {
                Read::Rows(rows) => return Ok(rows),
                Read::Writes(params) => params,
            };
            return self.write(Call::Query { sql: sql.to_owned(), params }).await?.rows();
        }
        self.write(Call::Query { sql: sql.to_owned(), params }).await?.rows()
    }

    async fn execute(&mut self, sql: &str, params: Vec<SqlValue>) -> Result<Executed, SqlError> {
        self.write(Call::Execute { sql: sql.to_owned(), params }).await?.executed()
    }

    async fn begin(&mut self) -> Result<(), SqlError> {
        if self.transaction.is_some() {
            return Err(SqlError::InvalidStatement(
                "a transaction is already open: commit or roll it back first".into(),
            ));
        }
        self.lost = false;
        self.transaction = Some(self.shared.writer.begin().await?);
        Ok(())
    }

    async fn commit(&mut self) -> Result<(), SqlError> {
        match self.transaction.take() {
            Some(transaction) => transaction.commit().await,
            None => Err(self.no_transaction("commit")),
        }
    }

    async fn rollback(&mut self) -> Result<(), SqlError> {
        match self.transaction.take() {
            Some(transaction) => transaction.rollback().await,
            None => Err(self.no_transaction("rollback")),
        }
    }

    fn in_transaction(&self) -> bool {
        self.transaction.is_some()
    }
}

impl Drop for SqliteSession {
    /// An instance that ends with a transaction open (a trap, a timeout, a
    /// handler that returned without committing) leaves nothing behind: the
    /// writer rolls it back when it sees the transaction dropped. Dropped
    /// here, before `shared`, so the writer is never waited for while it
    /// still serves this session.
    fn drop(&mut self) {
        drop(self.transaction.take());
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use rusqlite::Connection;

    use super::*;
    use crate::sql::ConstraintKind;
    use crate::sql::conformance;

    /// A database in a temp dir whose tables are `schema`, created the way
    /// a migration does (outside the request-time authorizer).
    fn database(schema: &str, limits: SqlLimits) -> (tempfile::TempDir, SqliteDatabase) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("data/main.sqlite");
        let db = SqliteDatabase::open("main", &path, limits).expect("open");
        Connection::open(&path).expect("migrate").execute_batch(schema).expect("schema");
        (dir, db)
    }

    fn invalid_saying(result: Result<impl std::fmt::Debug, SqlError>, needle: &str) {
        match result {
            Err(SqlError::InvalidStatement(message)) => assert!(message.contains(needle), "{message}"),
            other => panic!("expected an invalid statement saying `{needle}`, got {other:?}"),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_passes_the_conformance_suite() {
        let (_dir, db) = database(conformance::SCHEMA, SqlLimits::default());
        conformance::run(&db).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_request_may_change_data_but_not_the_schema_nor_leave_the_file() {
        let (dir, db) = database(conformance::SCHEMA, SqlLimits::default());
        let mut s = db.session();
        let refused = [
            ("CREATE TABLE t (x)", "put them in a migration"),
            ("DROP TABLE notes", "put them in a migration"),
            ("ALTER TABLE notes ADD COLUMN x", "put them in a migration"),
            ("CREATE INDEX i ON notes (body)", "put them in a migration"),
            ("PRAGMA journal_mode = DELETE", "PRAGMA journal_mode is not allowed"),
            ("PRAGMA foreign_keys = OFF", "PRAGMA foreign_keys is not allowed"),
            ("BEGIN", "use the interface's begin"),
            ("SAVEPOINT a", "use the interface's begin"),
            ("VACUUM", "VACUUM is maintenance"),
            ("ANALYZE", "maintenance"),
        ];
        for (sql, needle) in refused {
            invalid_saying(s.execute(sql, vec![]).await, needle);
        }
        let elsewhere = dir.path().join("other.sqlite");
        let attach = format!("ATTACH DATABASE '{}' AS other", elsewhere.display());
        invalid_saying(s.execute(&attach, vec![]).await, "ATTACH and DETACH are not allowed");
        invalid_saying(s.query(&format!("/* x */ VACUUM INTO '{}'", elsewhere.display()), vec![]).await, "VACUUM");
        assert!(!elsewhere.exists(), "no other file was written");
        // Reading the schema is allowed.
        let columns = s.query("PRAGMA table_info(notes)", vec![]).await.expect("table_info");
        assert_eq!(columns.rows.len(), 5);
        // And the writer still works after all those refusals.
        s.execute(
            "INSERT INTO notes (id, title) VALUES ($1, $2)",
            vec![SqlValue::Integer(1), SqlValue::Text("a".into())],
        )
        .await
        .expect("insert");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn results_over_the_row_or_byte_limit_are_refused_while_they_are_read() {
        let limits = SqlLimits { max_rows: 100, max_result_bytes: 64 << 10, ..SqlLimits::default() };
        let (_dir, db) = database("CREATE TABLE n (x)", limits);
        let mut s = db.session();
        let series = "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < $1) SELECT i FROM c";
        assert_eq!(s.query(series, vec![SqlValue::Integer(100)]).await.expect("100 rows").rows.len(), 100);
        match s.query(series, vec![SqlValue::Integer(1_000_000_000)]).await {
            Err(SqlError::LimitExceeded(m)) => assert!(m.contains("more than 100 rows"), "{m}"),
            other => panic!("expected the row limit, got {other:?}"),
        }
        match s.query("SELECT zeroblob(100000)", vec![]).await {
            Err(SqlError::LimitExceeded(m)) => assert!(m.contains("larger than 65536 bytes"), "{m}"),
            other => panic!("expected the byte limit, got {other:?}"),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_statement_past_its_time_is_stopped_and_the_database_goes_on() {
        let limits = SqlLimits { statement_timeout: Duration::from_millis(200), ..SqlLimits::default() };
        let (_dir, db) = database("CREATE TABLE n (x)", limits);
        let mut s = db.session();
        let forever = "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c) SELECT count(*) FROM c";
        let started = Instant::now();
        match s.query(forever, vec![]).await {
            Err(SqlError::Timeout(m)) => assert!(m.contains("longer than 200ms"), "{m}"),
            other => panic!("expected a timeout, got {other:?}"),
        }
        assert!(started.elapsed() < Duration::from_secs(5), "stopped, not run to the end");
        // On the writer too, and inside a transaction, which SQLite then
        // rolls back: the commit says so.
        s.begin().await.expect("begin");
        s.execute("INSERT INTO n VALUES (1)", vec![]).await.expect("insert");
        let slow_write =
            "INSERT INTO n WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c) SELECT i FROM c";
        assert!(matches!(s.execute(slow_write, vec![]).await, Err(SqlError::Timeout(_))));
        invalid_saying(s.commit().await, "already rolled back");
        let count = s.query("SELECT count(*) FROM n", vec![]).await.expect("count");
        assert_eq!(count.rows, [vec![SqlValue::Integer(0)]]);
        s.execute("INSERT INTO n VALUES (2)", vec![]).await.expect("the writer is free again");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_writer_waits_for_an_open_transaction_up_to_the_busy_timeout() {
        let limits = SqlLimits { busy_timeout: Duration::from_millis(300), ..SqlLimits::default() };
        let (_dir, db) = database("CREATE TABLE n (x)", limits);
        let mut holder = db.session();
        holder.begin().await.expect("begin");
        holder.execute("INSERT INTO n VALUES (1)", vec![]).await.expect("insert");
        let mut other = db.session();
        match other.execute("INSERT INTO n VALUES (2)", vec![]).await {
            Err(SqlError::Unavailable(m)) => assert!(m.contains("busy"), "{m}"),
            other => panic!("expected busy, got {other:?}"),
        }
        // Reads do not wait: they see the last commit.
        let count = other.query("SELECT count(*) FROM n", vec![]).await.expect("read beside the writer");
        assert_eq!(count.rows, [vec![SqlValue::Integer(0)]]);
        holder.commit().await.expect("commit");
        other.execute("INSERT INTO n VALUES (2)", vec![]).await.expect("insert after the commit");
    }

    /// Runs `writes` (each an execute of SQL with one integer) from their own
    /// tasks while `holder` keeps the writer in a transaction, so they are
    /// all queued when it commits and the writer takes them as one batch.
    async fn queued_behind_a_transaction(
        db: &SqliteDatabase,
        writes: Vec<(&'static str, i64)>,
    ) -> Vec<Result<Executed, SqlError>> {
        let mut holder = db.session();
        holder.begin().await.expect("begin");
        let tasks: Vec<_> = writes
            .into_iter()
            .map(|(sql, value)| {
                let mut session = db.session();
                tokio::spawn(async move { session.execute(sql, vec![SqlValue::Integer(value)]).await })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(100)).await;
        holder.commit().await.expect("commit");
        let mut results = Vec::new();
        for task in tasks {
            results.push(task.await.expect("task"));
        }
        results
    }

    async fn values(db: &SqliteDatabase) -> Vec<i64> {
        let rows = db.session().query("SELECT x FROM n ORDER BY x", vec![]).await.expect("read");
        rows.rows
            .into_iter()
            .map(|row| match row.as_slice() {
                [SqlValue::Integer(x)] => *x,
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn queued_writes_commit_together_and_each_gets_its_own_answer() {
        let (_dir, db) = database("CREATE TABLE n (x INTEGER PRIMARY KEY)", SqlLimits::default());
        let (commits_before, _) = db.shared.writer.batch_stats();
        let mut writes: Vec<(&str, i64)> = (1..=50).map(|x| ("INSERT INTO n VALUES ($1)", x)).collect();
        writes.push(("INSERT INTO n VALUES ($1)", 7));
        let results = queued_behind_a_transaction(&db, writes).await;
        let failed: Vec<_> = results.iter().filter(|r| r.is_err()).collect();
        assert!(
            matches!(failed.as_slice(), [Err(SqlError::Constraint { kind: ConstraintKind::Unique, .. })]),
            "only the duplicate fails: {failed:?}"
        );
        // Whichever of the two 7s was queued second fails; the tasks queue
        // in no particular order.
        assert_eq!(results.iter().filter(|r| r.as_ref().is_ok_and(|e| e.rows_affected == 1)).count(), 50);
        assert_eq!(values(&db).await, (1..=50).collect::<Vec<_>>());
        let (commits, statements) = db.shared.writer.batch_stats();
        assert_eq!(commits - commits_before, 1, "one commit for the 51 queued writes");
        assert_eq!(statements, 51, "all 51 ran in the batch, the failed one too");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_statement_that_ends_the_batch_fails_alone_and_the_others_run_again() {
        let (_dir, db) = database("CREATE TABLE n (x INTEGER PRIMARY KEY)", SqlLimits::default());
        db.session().execute("INSERT INTO n VALUES ($1)", vec![SqlValue::Integer(5)]).await.expect("seed");
        // OR ROLLBACK ends the whole transaction on a conflict.
        let writes = vec![
            ("INSERT INTO n VALUES ($1)", 1),
            ("INSERT INTO n VALUES ($1)", 2),
            ("INSERT OR ROLLBACK INTO n VALUES ($1)", 5),
            ("INSERT INTO n VALUES ($1)", 3),
        ];
        let results = queued_behind_a_transaction(&db, writes).await;
        assert!(results[0].is_ok() && results[1].is_ok() && results[3].is_ok(), "{results:?}");
        assert!(matches!(results[2], Err(SqlError::Constraint { .. })), "{:?}", results[2]);
        assert_eq!(values(&db).await, [1, 2, 3, 5]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_deferred_constraint_fails_only_the_statement_that_broke_it() {
        let schema = "CREATE TABLE p (id INTEGER PRIMARY KEY); INSERT INTO p VALUES (1); \
                      CREATE TABLE n (x INTEGER PRIMARY KEY, p INTEGER REFERENCES p(id) DEFERRABLE INITIALLY DEFERRED)";
        let (_dir, db) = database(schema, SqlLimits::default());
        let writes = vec![
            ("INSERT INTO n VALUES ($1, 1)", 1),
            ("INSERT INTO n VALUES ($1, 99)", 2),
            ("INSERT INTO n VALUES ($1, 1)", 3),
        ];
        let results = queued_behind_a_transaction(&db, writes).await;
        assert!(results[0].is_ok() && results[2].is_ok(), "{results:?}");
        assert!(
            matches!(results[1], Err(SqlError::Constraint { kind: ConstraintKind::ForeignKey, .. })),
            "{:?}",
            results[1]
        );
        assert_eq!(values(&db).await, [1, 3]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_given_up_before_its_turn_never_runs() {
        let limits = SqlLimits { busy_timeout: Duration::from_millis(200), ..SqlLimits::default() };
        let (_dir, db) = database("CREATE TABLE n (x INTEGER PRIMARY KEY)", limits);
        let mut holder = db.session();
        holder.begin().await.expect("begin");
        let mut late = db.session();
        assert!(matches!(late.execute("INSERT INTO n VALUES (1)", vec![]).await, Err(SqlError::Unavailable(_))));
        let mut cancelled = db.session();
        let gone =
            tokio::time::timeout(Duration::from_millis(50), cancelled.execute("INSERT INTO n VALUES (2)", vec![]));
        assert!(gone.await.is_err(), "still queued behind the transaction");
        holder.commit().await.expect("commit");
        db.session().execute("INSERT INTO n VALUES (3)", vec![]).await.expect("after");
        assert_eq!(values(&db).await, [3], "neither the busy write nor the cancelled one ran");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_long_read_moves_off_the_async_thread_and_finishes() {
        let (_dir, db) = database("CREATE TABLE n (x)", SqlLimits::default());
        let count = "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 3000000) \
                     SELECT count(*) FROM c";
        let started = Instant::now();
        let rows = db.session().query(count, vec![]).await.expect("count");
        assert_eq!(rows.rows, [vec![SqlValue::Integer(3_000_000)]]);
        assert!(started.elapsed() > Duration::from_millis(1), "long enough to outlive the async thread's budget");
    }

    #[test]
    fn one_process_at_a_time_holds_a_database() {
        let (dir, db) = database("CREATE TABLE n (x)", SqlLimits::default());
        let path = dir.path().join("data/main.sqlite");
        match SqliteDatabase::open("main", &path, SqlLimits::default()) {
            Err(SqlError::Unavailable(m)) => assert!(m.contains("open in another wasmroutes process"), "{m}"),
            other => panic!("a second open must be refused, got {:?}", other.err()),
        }
        drop(db);
        SqliteDatabase::open("main", &path, SqlLimits::default()).expect("free again once closed");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_commit_is_in_the_file_for_the_next_process() {
        let (dir, db) = database("CREATE TABLE n (x)", SqlLimits::default());
        let mut s = db.session();
        s.begin().await.expect("begin");
        s.execute("INSERT INTO n VALUES ($1)", vec![SqlValue::Boolean(true)]).await.expect("insert");
        s.commit().await.expect("commit");
        s.execute("INSERT INTO n VALUES ($1)", vec![SqlValue::Text("{\"a\":1}".into())]).await.expect("insert");
        drop(db);
        let raw = Connection::open(dir.path().join("data/main.sqlite")).expect("open");
        let mode: String = raw.query_row("PRAGMA journal_mode", [], |r| r.get(0)).expect("mode");
        assert_eq!(mode, "wal");
        let rows: Vec<String> = raw
            .prepare("SELECT quote(x) FROM n ORDER BY rowid")
            .and_then(|mut st| st.query_map([], |r| r.get(0))?.collect())
            .expect("rows");
        assert_eq!(rows, ["1", "'{\"a\":1}'"], "a boolean is stored as 1, JSON as text");
    }
}
