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
//!   they queue for the one read-write connection (up to the busy timeout)
//!   instead of spinning on the file lock, and reads run beside them on
//!   read-only connections (WAL lets readers see the last commit while a
//!   write is in progress). A transaction holds the writer from `begin` to
//!   `commit` or `rollback`.
//! - **Off the async threads.** Every statement runs in `spawn_blocking`.
//! - **What a request may run.** SQLite's authorizer allows reads and data
//!   changes and refuses the rest at prepare time: schema changes (they
//!   belong in migrations), `ATTACH`/`DETACH` (another file), `PRAGMA`
//!   other than a few read-only ones, `VACUUM`, `ANALYZE`, `REINDEX`, and
//!   transaction statements in SQL text (a route uses `begin`/`commit`, so
//!   the host always knows whether one is open).
//! - **Limits.** Rows and bytes per result, counted while stepping, so an
//!   oversized result is refused before it is all in memory; a statement
//!   past its time is interrupted by the progress handler.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use async_trait::async_trait;
use rusqlite::hooks::{AuthAction, AuthContext, Authorization};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, ffi};
use tokio::sync::{OwnedMutexGuard, Semaphore};

use super::backend::{Database, ResultBudget, Session, SqlLimits, first_keyword};
use super::error::{ConstraintKind, SqlError};
use super::value::{Executed, Rows, SqlValue};

/// Read-only connections a database keeps at most (each is a file handle
/// and SQLite's page cache).
const MAX_READERS: usize = 4;

/// `PRAGMA`s a request may run: they only read the schema.
const READ_PRAGMAS: [&str; 7] =
    ["table_info", "table_xinfo", "table_list", "index_list", "index_info", "index_xinfo", "foreign_key_list"];

/// SQLite's progress handler runs every this many virtual-machine steps.
const PROGRESS_STEPS: i32 = 1000;

/// An embedded SQLite database.
pub struct SqliteDatabase {
    shared: Arc<Shared>,
    /// Held (locked) for as long as the database is open.
    _lock: std::fs::File,
}

struct Shared {
    name: String,
    path: PathBuf,
    limits: SqlLimits,
    writer: Arc<tokio::sync::Mutex<Conn>>,
    idle_readers: Mutex<Vec<Conn>>,
    reader_slots: Semaphore,
}

/// A connection and what its hooks read.
struct Conn {
    connection: Connection,
    /// When the running statement must stop (the progress handler's check).
    deadline: Arc<Mutex<Option<Instant>>>,
    /// Set while the host itself runs a statement (`BEGIN`, `COMMIT`, …),
    /// which the authorizer then allows.
    trusted: Arc<AtomicBool>,
    /// What the authorizer refused last, for the error message.
    refused: Arc<Mutex<Option<String>>>,
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
        let writer = Conn::open(path, false, limits)?;
        Ok(SqliteDatabase {
            _lock: lock,
            shared: Arc::new(Shared {
                name: name.to_owned(),
                path: path.to_owned(),
                limits,
                writer: Arc::new(tokio::sync::Mutex::new(writer)),
                idle_readers: Mutex::new(Vec::new()),
                reader_slots: Semaphore::new(MAX_READERS),
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
        let limits = self.shared.limits;
        let rows = self.shared.read(move |conn| run_query(conn, "SELECT 1", Vec::new(), limits)).await?;
        if rows.rows.len() == 1 { Ok(()) } else { Err(SqlError::Internal("SELECT 1 returned no row".into())) }
    }
}

impl Shared {
    /// Waits for the writer, at most the busy timeout.
    async fn writer(&self) -> Result<OwnedMutexGuard<Conn>, SqlError> {
        tokio::time::timeout(self.limits.busy_timeout, Arc::clone(&self.writer).lock_owned()).await.map_err(|_| {
            SqlError::Unavailable(format!(
                "database `{}` is busy: another request held its writer for {:?}",
                self.name, self.limits.busy_timeout
            ))
        })
    }

    /// Runs `work` on a read-only connection, off the async threads.
    async fn read<T: Send + 'static>(
        self: &Arc<Self>,
        work: impl FnOnce(&Conn) -> Result<T, SqlError> + Send + 'static,
    ) -> Result<T, SqlError> {
        let _slot = self.reader_slots.acquire().await.map_err(|_| SqlError::Internal("database closed".into()))?;
        let idle = self.idle_readers.lock().unwrap_or_else(PoisonError::into_inner).pop();
        let shared = Arc::clone(self);
        let (conn, result) = blocking(move || {
            let conn = match idle {
                Some(conn) => conn,
                None => Conn::open(&shared.path, true, shared.limits)?,
            };
            let result = work(&conn);
            Ok((conn, result))
        })
        .await?;
        self.idle_readers.lock().unwrap_or_else(PoisonError::into_inner).push(conn);
        result
    }
}

/// Runs blocking `work` on tokio's blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, SqlError> + Send + 'static,
) -> Result<T, SqlError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| SqlError::Internal(format!("database task failed: {e}")))?
}

/// Runs `work` on the writer held by `guard`, off the async threads, and
/// gives the guard back.
async fn on_writer<T: Send + 'static>(
    guard: OwnedMutexGuard<Conn>,
    work: impl FnOnce(&Conn) -> Result<T, SqlError> + Send + 'static,
) -> Result<(OwnedMutexGuard<Conn>, Result<T, SqlError>), SqlError> {
    blocking(move || {
        let result = work(&guard);
        Ok((guard, result))
    })
    .await
}

impl Conn {
    fn open(path: &Path, read_only: bool, limits: SqlLimits) -> Result<Conn, SqlError> {
        let flags = if read_only {
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
        } else {
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX
        };
        let open_err = |e: rusqlite::Error| SqlError::Internal(format!("cannot open {}: {e}", path.display()));
        let connection = Connection::open_with_flags(path, flags).map_err(open_err)?;
        // Another process (`wasmroutes db`) may hold the file for a moment.
        connection.busy_timeout(limits.busy_timeout).map_err(open_err)?;
        if read_only {
            connection.execute_batch("PRAGMA query_only = ON").map_err(open_err)?;
        } else {
            let mode: String =
                connection.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0)).map_err(open_err)?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(SqlError::Internal(format!("{}: cannot use WAL (journal mode {mode})", path.display())));
            }
            connection.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON").map_err(open_err)?;
        }
        let mut conn = Conn {
            connection,
            deadline: Arc::new(Mutex::new(None)),
            trusted: Arc::new(AtomicBool::new(false)),
            refused: Arc::new(Mutex::new(None)),
        };
        conn.install_hooks().map_err(open_err)?;
        Ok(conn)
    }

    fn install_hooks(&mut self) -> rusqlite::Result<()> {
        let deadline = Arc::clone(&self.deadline);
        self.connection.progress_handler(
            PROGRESS_STEPS,
            Some(move || deadline.lock().unwrap_or_else(PoisonError::into_inner).is_some_and(|d| Instant::now() >= d)),
        )?;
        let (trusted, refused) = (Arc::clone(&self.trusted), Arc::clone(&self.refused));
        self.connection.authorizer(Some(move |context: AuthContext<'_>| {
            if trusted.load(Ordering::Relaxed) {
                return Authorization::Allow;
            }
            match refusal(&context.action) {
                None => Authorization::Allow,
                Some(why) => {
                    *refused.lock().unwrap_or_else(PoisonError::into_inner) = Some(why);
                    Authorization::Deny
                }
            }
        }))?;
        Ok(())
    }

    /// Runs the host's own `sql` (transaction control), which a route's
    /// statements may not.
    fn run_trusted(&self, sql: &str) -> Result<(), SqlError> {
        self.trusted.store(true, Ordering::Relaxed);
        let result = self.connection.execute_batch(sql);
        self.trusted.store(false, Ordering::Relaxed);
        result.map_err(|e| self.error(e))
    }

    /// Runs `work` with the statement deadline set.
    fn timed<T>(&self, limits: SqlLimits, work: impl FnOnce() -> Result<T, SqlError>) -> Result<T, SqlError> {
        *self.deadline.lock().unwrap_or_else(PoisonError::into_inner) = Some(Instant::now() + limits.statement_timeout);
        let result = work();
        *self.deadline.lock().unwrap_or_else(PoisonError::into_inner) = None;
        result.map_err(|e| match e {
            SqlError::Timeout(_) => SqlError::Timeout(format!(
                "the statement ran longer than {:?} and was stopped",
                limits.statement_timeout
            )),
            other => other,
        })
    }

    /// A rusqlite error as the route sees it.
    fn error(&self, error: rusqlite::Error) -> SqlError {
        let refused = self.refused.lock().unwrap_or_else(PoisonError::into_inner).take();
        classify(error, refused)
    }
}

/// Why the authorizer refuses `action` at request time; `None`: allowed.
fn refusal(action: &AuthAction<'_>) -> Option<String> {
    use AuthAction as A;
    match action {
        A::Select | A::Read { .. } | A::Insert { .. } | A::Update { .. } | A::Delete { .. } | A::Function { .. } => {
            None
        }
        A::Recursive => None,
        A::Pragma { pragma_name, .. } if READ_PRAGMAS.contains(&pragma_name.to_ascii_lowercase().as_str()) => None,
        A::Pragma { pragma_name, .. } => {
            Some(format!("PRAGMA {pragma_name} is not allowed in a request (only {})", READ_PRAGMAS.join(", ")))
        }
        A::Attach { .. } | A::Detach { .. } => {
            Some("ATTACH and DETACH are not allowed: a route opens another database by its name".into())
        }
        A::Transaction { .. } | A::Savepoint { .. } => Some(
            "transaction statements are not allowed in SQL text: use the interface's begin, commit and rollback".into(),
        ),
        A::Analyze { .. } | A::Reindex { .. } => {
            Some("ANALYZE and REINDEX are maintenance, not allowed in a request".into())
        }
        _ => Some("schema changes are not allowed in a request: put them in a migration".into()),
    }
}

/// A rusqlite error as a typed [`SqlError`]; `refused` is what the
/// authorizer said, if it refused the statement.
fn classify(error: rusqlite::Error, refused: Option<String>) -> SqlError {
    use rusqlite::Error as E;
    use rusqlite::ffi::ErrorCode as C;
    match error {
        E::SqliteFailure(e, message) => {
            let message = message.unwrap_or_else(|| e.to_string());
            match e.code {
                C::ConstraintViolation => {
                    let kind = match e.extended_code {
                        ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => ConstraintKind::Unique,
                        ffi::SQLITE_CONSTRAINT_FOREIGNKEY => ConstraintKind::ForeignKey,
                        ffi::SQLITE_CONSTRAINT_NOTNULL => ConstraintKind::NotNull,
                        ffi::SQLITE_CONSTRAINT_CHECK => ConstraintKind::Check,
                        _ => ConstraintKind::Other,
                    };
                    SqlError::Constraint { kind, message }
                }
                C::DatabaseBusy | C::DatabaseLocked => SqlError::Unavailable(message),
                C::OperationInterrupted => SqlError::Timeout(message),
                C::AuthorizationForStatementDenied => SqlError::InvalidStatement(refused.unwrap_or(message)),
                C::TooBig => SqlError::LimitExceeded(message),
                C::ReadOnly | C::Unknown | C::TypeMismatch | C::ParameterOutOfRange => {
                    SqlError::InvalidStatement(message)
                }
                _ => SqlError::Internal(message),
            }
        }
        E::SqlInputError { error, msg, .. } if error.code == C::AuthorizationForStatementDenied => {
            SqlError::InvalidStatement(refused.unwrap_or(msg))
        }
        E::SqlInputError { msg, offset, .. } => SqlError::InvalidStatement(format!("{msg} (at byte {offset})")),
        E::MultipleStatement => SqlError::InvalidStatement("one statement per call: the text holds more".into()),
        E::InvalidParameterCount(given, expected) => {
            SqlError::InvalidStatement(format!("the statement has {expected} parameter(s), {given} given"))
        }
        E::ExecuteReturnedResults => {
            SqlError::InvalidStatement("the statement returns rows: run it with query, not execute".into())
        }
        E::Empty => SqlError::InvalidStatement("the statement is empty".into()),
        E::NulError(_) => SqlError::InvalidStatement("the statement holds a NUL character".into()),
        E::Utf8Error(column, _) => SqlError::Internal(format!("column {column} holds text that is not UTF-8")),
        other => SqlError::Internal(other.to_string()),
    }
}

/// What the authorizer cannot refuse, refused by its first keyword:
/// `VACUUM` (also `VACUUM INTO` another file) reaches no authorizer action.
fn check_statement(sql: &str) -> Result<(), SqlError> {
    let first = first_keyword(sql);
    if first.eq_ignore_ascii_case("vacuum") {
        return Err(SqlError::InvalidStatement("VACUUM is maintenance, not allowed in a request".into()));
    }
    Ok(())
}

/// Binds `params` to `statement` (1-based).
fn bind(statement: &mut rusqlite::Statement<'_>, params: Vec<SqlValue>) -> rusqlite::Result<()> {
    // SQLite reads `$2` as a name and numbers names in order of first
    // appearance; bind value N to `$N` (and `?N`), as PostgreSQL does.
    let slots: Vec<usize> = (1..=statement.parameter_count())
        .map(|index| {
            statement
                .parameter_name(index)
                .and_then(|name| name.strip_prefix('$').or_else(|| name.strip_prefix('?')))
                .and_then(|number| number.parse::<usize>().ok())
                .filter(|number| *number >= 1)
                .unwrap_or(index)
        })
        .collect();
    let expected = slots.iter().copied().max().unwrap_or(0);
    if params.len() != expected {
        return Err(rusqlite::Error::InvalidParameterCount(params.len(), expected));
    }
    for (index, slot) in slots.into_iter().enumerate() {
        let at = index + 1;
        match &params[slot - 1] {
            SqlValue::Null => statement.raw_bind_parameter(at, rusqlite::types::Null)?,
            SqlValue::Integer(i) => statement.raw_bind_parameter(at, i)?,
            SqlValue::Real(r) => statement.raw_bind_parameter(at, r)?,
            SqlValue::Text(t) => statement.raw_bind_parameter(at, t.as_str())?,
            SqlValue::Blob(b) => statement.raw_bind_parameter(at, b.as_slice())?,
            SqlValue::Boolean(b) => statement.raw_bind_parameter(at, i64::from(*b))?,
        }
    }
    Ok(())
}

/// Runs a query on `conn`, within the row and byte limits.
fn run_query(conn: &Conn, sql: &str, params: Vec<SqlValue>, limits: SqlLimits) -> Result<Rows, SqlError> {
    check_statement(sql)?;
    conn.timed(limits, || {
        let mut statement = conn.connection.prepare_cached(sql).map_err(|e| conn.error(e))?;
        bind(&mut statement, params).map_err(|e| conn.error(e))?;
        let columns: Vec<String> = statement.column_names().map(str::to_owned).collect();
        let width = columns.len();
        let mut rows = Vec::new();
        let mut budget = ResultBudget::new(limits);
        let mut cursor = statement.raw_query();
        while let Some(row) = cursor.next().map_err(|e| conn.error(e))? {
            budget.row()?;
            let mut values = Vec::with_capacity(width);
            for index in 0..width {
                let value = match row.get_ref(index).map_err(|e| conn.error(e))? {
                    ValueRef::Null => SqlValue::Null,
                    ValueRef::Integer(i) => SqlValue::Integer(i),
                    ValueRef::Real(r) => SqlValue::Real(r),
                    ValueRef::Text(t) => SqlValue::Text(
                        String::from_utf8(t.to_vec())
                            .map_err(|_| SqlError::Internal(format!("column {index} holds text that is not UTF-8")))?,
                    ),
                    ValueRef::Blob(b) => SqlValue::Blob(b.to_vec()),
                };
                budget.value(&value)?;
                values.push(value);
            }
            rows.push(values);
        }
        Ok(Rows { columns, rows })
    })
}

/// Runs a statement that returns no rows on `conn`.
fn run_execute(conn: &Conn, sql: &str, params: Vec<SqlValue>, limits: SqlLimits) -> Result<Executed, SqlError> {
    check_statement(sql)?;
    conn.timed(limits, || {
        let mut statement = conn.connection.prepare_cached(sql).map_err(|e| conn.error(e))?;
        bind(&mut statement, params).map_err(|e| conn.error(e))?;
        let rows_affected = statement.raw_execute().map_err(|e| conn.error(e))? as u64;
        Ok(Executed { rows_affected, last_insert_id: Some(conn.connection.last_insert_rowid()) })
    })
}

/// Whether `sql` only reads, as SQLite judges it (`sqlite3_stmt_readonly`).
fn is_read_only(conn: &Conn, sql: &str) -> Result<bool, SqlError> {
    check_statement(sql)?;
    let statement = conn.connection.prepare_cached(sql).map_err(|e| conn.error(e))?;
    Ok(statement.readonly())
}

/// One instance's session: the writer while a transaction is open.
struct SqliteSession {
    shared: Arc<Shared>,
    transaction: Option<OwnedMutexGuard<Conn>>,
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

    /// Runs `work` in the open transaction, or on the writer by itself.
    async fn on_writer<T: Send + 'static>(
        &mut self,
        work: impl FnOnce(&Conn) -> Result<T, SqlError> + Send + 'static,
    ) -> Result<T, SqlError> {
        match self.transaction.take() {
            Some(guard) => {
                let (guard, result) = on_writer(guard, work).await?;
                if guard.connection.is_autocommit() {
                    self.lost = true;
                } else {
                    self.transaction = Some(guard);
                }
                result
            }
            None => on_writer(self.shared.writer().await?, work).await?.1,
        }
    }
}

#[async_trait]
impl Session for SqliteSession {
    async fn query(&mut self, sql: &str, params: Vec<SqlValue>) -> Result<Rows, SqlError> {
        let limits = self.shared.limits;
        let sql = sql.to_owned();
        if self.transaction.is_none() {
            // A read runs beside the writer, on a read-only connection; a
            // change with RETURNING goes to the writer.
            let probe = sql.clone();
            let answer = self
                .shared
                .read(move |conn| {
                    if is_read_only(conn, &probe)? {
                        run_query(conn, &probe, params, limits).map(Ok)
                    } else {
                        Ok(Err(params))
                    }
                })
                .await?;
            match answer {
                Ok(rows) => return Ok(rows),
                Err(params) => return self.on_writer(move |conn| run_query(conn, &sql, params, limits)).await,
            }
        }
        self.on_writer(move |conn| run_query(conn, &sql, params, limits)).await
    }

    async fn execute(&mut self, sql: &str, params: Vec<SqlValue>) -> Result<Executed, SqlError> {
        let limits = self.shared.limits;
        let sql = sql.to_owned();
        self.on_writer(move |conn| run_execute(conn, &sql, params, limits)).await
    }

    async fn begin(&mut self) -> Result<(), SqlError> {
        if self.transaction.is_some() {
            return Err(SqlError::InvalidStatement(
                "a transaction is already open: commit or roll it back first".into(),
            ));
        }
        self.lost = false;
        // IMMEDIATE: the write lock now, so a transaction never fails half
        // way for want of it.
        let (guard, result) =
            on_writer(self.shared.writer().await?, |conn| conn.run_trusted("BEGIN IMMEDIATE")).await?;
        result?;
        self.transaction = Some(guard);
        Ok(())
    }

    async fn commit(&mut self) -> Result<(), SqlError> {
        let Some(guard) = self.transaction.take() else {
            return Err(self.no_transaction("commit"));
        };
        let (guard, result) = on_writer(guard, |conn| conn.run_trusted("COMMIT")).await?;
        if result.is_err() {
            // A failed COMMIT (SQLite keeps the transaction open on SQLITE_BUSY
            // or an I/O error) is rolled back, so the writer is clean.
            let _ = on_writer(guard, rollback_if_open).await;
        }
        result
    }

    async fn rollback(&mut self) -> Result<(), SqlError> {
        let Some(guard) = self.transaction.take() else {
            return Err(self.no_transaction("rollback"));
        };
        on_writer(guard, rollback_if_open).await?.1
    }

    fn in_transaction(&self) -> bool {
        self.transaction.is_some()
    }
}

/// Rolls back whatever transaction `conn` has open.
fn rollback_if_open(conn: &Conn) -> Result<(), SqlError> {
    if conn.connection.is_autocommit() { Ok(()) } else { conn.run_trusted("ROLLBACK") }
}

impl Drop for SqliteSession {
    /// An instance that ends with a transaction open (a trap, a timeout, a
    /// handler that returned without committing) leaves nothing behind.
    fn drop(&mut self) {
        let Some(guard) = self.transaction.take() else { return };
        let name = self.shared.name.clone();
        let roll_back = move || {
            if let Err(e) = rollback_if_open(&guard) {
                tracing::error!(database = %name, "rolling back an abandoned transaction failed: {e}");
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn_blocking(roll_back)),
            Err(_) => roll_back(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
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

    #[test]
    fn request_time_refuses_schema_changes_and_other_files() {
        assert_eq!(refusal(&AuthAction::Select), None);
        assert_eq!(refusal(&AuthAction::Insert { table_name: "notes" }), None);
        let pragma = |pragma_name| AuthAction::Pragma { pragma_name, pragma_value: None };
        assert_eq!(refusal(&pragma("table_info")), None);
        assert!(refusal(&pragma("journal_mode")).is_some_and(|m| m.contains("PRAGMA journal_mode is not allowed")));
        let create = AuthAction::CreateTable { table_name: "t" };
        assert!(refusal(&create).is_some_and(|m| m.contains("put them in a migration")));
        assert!(refusal(&AuthAction::Attach { filename: "/etc/x" }).is_some_and(|m| m.contains("ATTACH")));
    }
}
