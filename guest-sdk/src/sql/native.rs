//! The database outside `wasm32`: an in-memory SQLite (rusqlite, the same
//! version and SQLite the host runs) per database name, private to the
//! thread, so `cargo test` of a route needs no host and each `#[test]` (its
//! own thread) gets databases of its own. [`testing`] creates them from the
//! route's migrations.
//!
//! It runs statements the way the host's SQLite backend does: parameters
//! `$1`, `$2`… bound by position, one statement per call, foreign keys
//! enforced, schema changes and other files refused at request time by the
//! same authorizer rules, the host's default row and byte limits, and the
//! same typed errors (constraint kinds from SQLite's extended result
//! codes).

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::ffi;
use rusqlite::hooks::{AuthAction, AuthContext, Authorization};
use rusqlite::types::ValueRef;

use super::{ConstraintKind, Executed, Rows, SqlError, Value};

/// Rows one query may return: the host's default `max_rows`.
pub const MAX_ROWS: usize = 10_000;

/// Bytes one query's values may add up to: the host's default
/// `max_result_size` (16 MiB), counted as the host does.
pub const MAX_RESULT_BYTES: usize = 16 << 20;

/// `PRAGMA`s a request may run, as on the host: they only read the schema.
const READ_PRAGMAS: [&str; 7] =
    ["table_info", "table_xinfo", "table_list", "index_list", "index_info", "index_xinfo", "foreign_key_list"];

/// One database of the thread.
struct NativeDb {
    connection: rusqlite::Connection,
    /// Set while the SDK itself runs a statement (migrations, `BEGIN`,
    /// `COMMIT`, …), which the authorizer then allows.
    trusted: Arc<AtomicBool>,
    /// What the authorizer refused last, for the error message.
    refused: Arc<Mutex<Option<String>>>,
    /// An error every call fails with (`testing::fail`).
    failure: Option<SqlError>,
}

thread_local! {
    static DATABASES: RefCell<HashMap<String, NativeDb>> = RefCell::new(HashMap::new());
}

impl NativeDb {
    fn new(name: &str) -> NativeDb {
        let fail = |e: rusqlite::Error| -> ! { panic!("cannot create in-memory SQLite database `{name}`: {e}") };
        let mut connection = rusqlite::Connection::open_in_memory().unwrap_or_else(|e| fail(e));
        connection.execute_batch("PRAGMA foreign_keys = ON").unwrap_or_else(|e| fail(e));
        let trusted = Arc::new(AtomicBool::new(false));
        let refused = Arc::new(Mutex::new(None));
        let (hook_trusted, hook_refused) = (Arc::clone(&trusted), Arc::clone(&refused));
        connection
            .authorizer(Some(move |context: AuthContext<'_>| {
                if hook_trusted.load(Ordering::Relaxed) {
                    return Authorization::Allow;
                }
                match refusal(&context.action) {
                    None => Authorization::Allow,
                    Some(why) => {
                        *hook_refused.lock().unwrap_or_else(PoisonError::into_inner) = Some(why);
                        Authorization::Deny
                    }
                }
            }))
            .unwrap_or_else(|e| fail(e));
        NativeDb { connection, trusted, refused, failure: None }
    }

    /// Runs the SDK's own `sql` (transaction control, migrations), which a
    /// route's statements may not.
    fn run_trusted(&self, sql: &str) -> Result<(), SqlError> {
        self.trusted.store(true, Ordering::Relaxed);
        let result = self.connection.execute_batch(sql);
        self.trusted.store(false, Ordering::Relaxed);
        result.map_err(|e| self.error(e))
    }

    /// A rusqlite error as the route sees it.
    fn error(&self, error: rusqlite::Error) -> SqlError {
        let refused = self.refused.lock().unwrap_or_else(PoisonError::into_inner).take();
        classify(error, refused)
    }
}

/// Runs `f` on database `name` of this thread, unless a failure was
/// injected with `testing::fail`.
fn with<T>(name: &str, f: impl FnOnce(&NativeDb) -> Result<T, SqlError>) -> Result<T, SqlError> {
    DATABASES.with_borrow(|dbs| match dbs.get(name) {
        None => Err(missing(name)),
        Some(NativeDb { failure: Some(err), .. }) => Err(err.clone()),
        Some(db) => f(db),
    })
}

fn missing(name: &str) -> SqlError {
    eprintln!(
        "wasmroutes-sdk: this test thread has no database `{name}`: create it first, e.g. with \
         wasmroutes_sdk::sql::testing::database({name:?}).migrations(\"…/migrations/{name}\")"
    );
    SqlError::NoSuchDatabase(name.to_owned())
}

/// An open database: its name (each call finds the thread's database by it).
pub(super) struct Connection {
    name: String,
}

/// Opens database `name` of this thread; fails if [`testing`] did not
/// create it, or with an injected `NoSuchDatabase` or `AccessDenied` (the
/// errors the host gives `open`).
pub(super) fn open(name: &str) -> Result<Connection, SqlError> {
    DATABASES.with_borrow(|dbs| match dbs.get(name) {
        None => Err(missing(name)),
        Some(NativeDb { failure: Some(err @ (SqlError::NoSuchDatabase(_) | SqlError::AccessDenied(_))), .. }) => {
            Err(err.clone())
        }
        Some(_) => Ok(Connection { name: name.to_owned() }),
    })
}

impl Connection {
    pub(super) fn query(&self, sql: &str, params: Vec<Value>) -> Result<Rows, SqlError> {
        with(&self.name, |db| run_query(db, sql, params))
    }

    pub(super) fn execute(&self, sql: &str, params: Vec<Value>) -> Result<Executed, SqlError> {
        with(&self.name, |db| {
            check_statement(sql)?;
            let mut statement = db.connection.prepare_cached(sql).map_err(|e| db.error(e))?;
            bind(&mut statement, params).map_err(|e| db.error(e))?;
            let rows_affected = statement.raw_execute().map_err(|e| db.error(e))? as u64;
            Ok(Executed { rows_affected, last_insert_id: Some(db.connection.last_insert_rowid()) })
        })
    }

    pub(super) fn begin(&self) -> Result<(), SqlError> {
        with(&self.name, |db| {
            if !db.connection.is_autocommit() {
                return Err(SqlError::InvalidStatement(
                    "a transaction is already open: commit or roll it back first".into(),
                ));
            }
            db.run_trusted("BEGIN IMMEDIATE")
        })
    }

    pub(super) fn commit(&self) -> Result<(), SqlError> {
        with(&self.name, |db| {
            if db.connection.is_autocommit() {
                return Err(SqlError::InvalidStatement("commit without an open transaction".into()));
            }
            let result = db.run_trusted("COMMIT");
            if result.is_err() && !db.connection.is_autocommit() {
                // As on the host: a failed commit leaves nothing open.
                let _ = db.run_trusted("ROLLBACK");
            }
            result
        })
    }

    pub(super) fn rollback(&self) -> Result<(), SqlError> {
        with(&self.name, |db| {
            if db.connection.is_autocommit() {
                return Err(SqlError::InvalidStatement("rollback without an open transaction".into()));
            }
            db.run_trusted("ROLLBACK")
        })
    }
}

/// Why the authorizer refuses `action` at request time (the host's rules);
/// `None`: allowed.
fn refusal(action: &AuthAction<'_>) -> Option<String> {
    use AuthAction as A;
    match action {
        A::Select
        | A::Read { .. }
        | A::Insert { .. }
        | A::Update { .. }
        | A::Delete { .. }
        | A::Function { .. }
        | A::Recursive => None,
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

/// A rusqlite error as a typed [`SqlError`], as the host classifies it;
/// `refused` is what the authorizer said, if it refused the statement.
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
/// `VACUUM` reaches no authorizer action.
fn check_statement(sql: &str) -> Result<(), SqlError> {
    if first_keyword(sql).eq_ignore_ascii_case("vacuum") {
        return Err(SqlError::InvalidStatement("VACUUM is maintenance, not allowed in a request".into()));
    }
    Ok(())
}

/// The first word of `sql`, after whitespace and comments.
fn first_keyword(sql: &str) -> &str {
    let mut rest = sql;
    loop {
        rest = rest.trim_start();
        if let Some(line) = rest.strip_prefix("--") {
            rest = line.split_once('\n').map_or("", |(_, after)| after);
        } else if let Some(block) = rest.strip_prefix("/*") {
            rest = block.split_once("*/").map_or("", |(_, after)| after);
        } else {
            break;
        }
    }
    let end = rest.find(|c: char| !c.is_ascii_alphanumeric() && c != '_').unwrap_or(rest.len());
    &rest[..end]
}

/// Binds `params` to `statement` as the host does.
fn bind(statement: &mut rusqlite::Statement<'_>, params: Vec<Value>) -> rusqlite::Result<()> {
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
            Value::Null => statement.raw_bind_parameter(at, rusqlite::types::Null)?,
            Value::Integer(i) => statement.raw_bind_parameter(at, i)?,
            Value::Real(r) => statement.raw_bind_parameter(at, r)?,
            Value::Text(t) => statement.raw_bind_parameter(at, t.as_str())?,
            Value::Blob(b) => statement.raw_bind_parameter(at, b.as_slice())?,
            Value::Boolean(b) => statement.raw_bind_parameter(at, i64::from(*b))?,
        }
    }
    Ok(())
}

/// Bytes a value counts against the result's byte limit, as on the host:
/// its payload, at least 8.
fn weight(value: &Value) -> usize {
    match value {
        Value::Text(t) => t.len().max(8),
        Value::Blob(b) => b.len().max(8),
        Value::Null | Value::Integer(_) | Value::Real(_) | Value::Boolean(_) => 8,
    }
}

fn run_query(db: &NativeDb, sql: &str, params: Vec<Value>) -> Result<Rows, SqlError> {
    check_statement(sql)?;
    let mut statement = db.connection.prepare_cached(sql).map_err(|e| db.error(e))?;
    bind(&mut statement, params).map_err(|e| db.error(e))?;
    let columns: Vec<String> = statement.column_names().map(str::to_owned).collect();
    let width = columns.len();
    let mut rows = Vec::new();
    let mut bytes = 0usize;
    let mut cursor = statement.raw_query();
    while let Some(row) = cursor.next().map_err(|e| db.error(e))? {
        if rows.len() == MAX_ROWS {
            return Err(SqlError::LimitExceeded(format!(
                "the query returns more than {MAX_ROWS} rows: add a LIMIT, or page with a cursor"
            )));
        }
        let mut values = Vec::with_capacity(width);
        for index in 0..width {
            let value = match row.get_ref(index).map_err(|e| db.error(e))? {
                ValueRef::Null => Value::Null,
                ValueRef::Integer(i) => Value::Integer(i),
                ValueRef::Real(r) => Value::Real(r),
                ValueRef::Text(t) => Value::Text(
                    String::from_utf8(t.to_vec())
                        .map_err(|_| SqlError::Internal(format!("column {index} holds text that is not UTF-8")))?,
                ),
                ValueRef::Blob(b) => Value::Blob(b.to_vec()),
            };
            bytes += weight(&value);
            if bytes > MAX_RESULT_BYTES {
                return Err(SqlError::LimitExceeded(format!(
                    "the query's result is larger than {MAX_RESULT_BYTES} bytes"
                )));
            }
            values.push(value);
        }
        rows.push(values);
    }
    Ok(Rows { columns, rows })
}

/// Applies the `.sql` files of `dir` in name order to `db`, each in its own
/// transaction, as the host's migrations do.
fn migrate(db: &NativeDb, dir: &Path) -> Result<Vec<String>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot read migrations from {}: {e}", dir.display()))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| format!("cannot read migrations from {}: {e}", dir.display()))?.path();
        if path.extension().is_some_and(|e| e == "sql") && path.is_file() {
            files.push(path);
        }
    }
    files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    let mut applied = Vec::new();
    for path in files {
        let sql = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        db.run_trusted(&format!("BEGIN IMMEDIATE;\n{sql}\n;COMMIT;")).map_err(|e| {
            let _ = db.run_trusted("ROLLBACK");
            format!("{}: migration failed: {e}", path.display())
        })?;
        applied.push(path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
    }
    Ok(applied)
}

/// Helpers for native tests of routes that use [`sql`](crate::sql).
///
/// Outside `wasm32`, [`Db::open`](crate::sql::Db::open) opens an in-memory
/// SQLite database of the current thread, which must be created first:
/// [`database`](crate::sql::testing::database) creates database `name`
/// empty (replacing one the thread had), and
/// [`migrations`](crate::sql::testing::TestDatabase::migrations) applies a migrations folder, the
/// one `routes.toml` names for the database, so the test runs on the real
/// schema. Each `#[test]` runs on a thread of its own, so tests never see
/// each other's data; every [`Db`](crate::sql::Db) of one name in a thread
/// is the same database (on the host each is a connection of its own).
///
/// ```
/// use wasmroutes_sdk::sql::{Db, SqlError, testing};
///
/// testing::database("default")
///     .execute_batch("create table notes (id integer primary key, title text not null unique)")
///     .execute_batch("insert into notes (title) values ('seeded')");
/// let db = Db::open("default")?;
/// let titles: Vec<String> = db.query("select title from notes", ())?;
/// assert_eq!(titles, ["seeded"]);
///
/// testing::fail("default", SqlError::Unavailable("the disk is gone".into()));
/// assert!(matches!(db.query::<String>("select title from notes", ()), Err(SqlError::Unavailable(_))));
/// testing::recover("default");
/// assert!(db.execute("insert into notes (title) values ($1)", ("more",)).is_ok());
/// # Ok::<(), SqlError>(())
/// ```
///
/// A route's own statements run with the host's request-time rules (no
/// schema changes, `$1`-style parameters, one statement per call, the
/// host's default limits: [`MAX_ROWS`], [`MAX_RESULT_BYTES`]); what these
/// helpers run (migrations,
/// [`execute_batch`](crate::sql::testing::TestDatabase::execute_batch)) is trusted, as
/// the host's migrations are.
pub mod testing {
    use std::path::Path;

    use super::{DATABASES, NativeDb, migrate};
    use crate::sql::SqlError;

    pub use super::{MAX_RESULT_BYTES, MAX_ROWS};

    /// Creates database `name` for this thread, empty, replacing the one
    /// the thread had under that name (and forgetting an injected failure).
    /// Fill it with [`TestDatabase::migrations`] and
    /// [`TestDatabase::execute_batch`].
    pub fn database(name: &str) -> TestDatabase {
        DATABASES.with_borrow_mut(|dbs| dbs.insert(name.to_owned(), NativeDb::new(name)));
        TestDatabase { name: name.to_owned() }
    }

    /// A database of this thread, created by [`database`]. Its methods
    /// panic when what they run fails: a test's setup is wrong, and the
    /// message says which file or statement.
    #[derive(Clone, Debug)]
    pub struct TestDatabase {
        name: String,
    }

    impl TestDatabase {
        /// The name [`Db::open`](crate::sql::Db::open) opens it by.
        pub fn name(&self) -> &str {
            &self.name
        }

        /// Applies the `.sql` files of the folder `dir` in name order, each
        /// in its own transaction, as the host does at start. Pass the
        /// folder `routes.toml` names, e.g.
        /// `concat!(env!("CARGO_MANIFEST_DIR"), "/../migrations/notes")`.
        ///
        /// # Panics
        ///
        /// When the folder cannot be read or a migration fails (naming the
        /// file and SQLite's message).
        pub fn migrations(self, dir: impl AsRef<Path>) -> TestDatabase {
            let dir = dir.as_ref();
            let result = self.run(|db| migrate(db, dir));
            if let Err(message) = result {
                panic!("database `{}`: {message}", self.name);
            }
            self
        }

        /// Runs `sql`, any number of statements (schema, seed data), as
        /// trusted setup: the request-time rules do not apply.
        ///
        /// # Panics
        ///
        /// When a statement fails, with SQLite's message.
        pub fn execute_batch(self, sql: &str) -> TestDatabase {
            if let Err(message) = self.run(|db| db.run_trusted(sql).map_err(|e| e.to_string())) {
                panic!("database `{}`: {message}", self.name);
            }
            self
        }

        fn run<T>(&self, f: impl FnOnce(&NativeDb) -> Result<T, String>) -> Result<T, String> {
            DATABASES.with_borrow(|dbs| match dbs.get(&self.name) {
                Some(db) => f(db),
                None => Err("it was dropped (testing::drop_database)".into()),
            })
        }
    }

    /// Makes every call on database `name` of this thread fail with
    /// `error` until [`recover`], to test how a route answers a database
    /// that is down, slow or forbidden. [`Db::open`](crate::sql::Db::open)
    /// fails only for [`SqlError::NoSuchDatabase`] and
    /// [`SqlError::AccessDenied`], as on the host, where the other errors
    /// come from the calls on an open connection.
    ///
    /// # Panics
    ///
    /// If the thread has no database `name` (create it with [`database`]).
    pub fn fail(name: &str, error: SqlError) {
        DATABASES.with_borrow_mut(|dbs| match dbs.get_mut(name) {
            Some(db) => db.failure = Some(error),
            None => panic!("testing::fail: this thread has no database `{name}`; create it with testing::database"),
        });
    }

    /// Undoes [`fail`]: calls on database `name` work again, its data intact.
    pub fn recover(name: &str) {
        DATABASES.with_borrow_mut(|dbs| {
            if let Some(db) = dbs.get_mut(name) {
                db.failure = None;
            }
        });
    }

    /// Removes database `name` from this thread: opening it fails again.
    pub fn drop_database(name: &str) {
        DATABASES.with_borrow_mut(|dbs| dbs.remove(name));
    }
}
