//! One SQLite connection as the embedded backend uses it: opened with the
//! durability settings, with the hooks that enforce what a request may run
//! (the authorizer) and for how long (the progress handler), and the
//! statements run on it within the result limits.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rusqlite::hooks::{AuthAction, AuthContext, Authorization};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, ffi};

use crate::sql::backend::{ResultBudget, SqlLimits, first_keyword};
use crate::sql::error::{ConstraintKind, SqlError};
use crate::sql::value::{Executed, Rows, SqlValue};

/// `PRAGMA`s a request may run: they only read the schema.
const READ_PRAGMAS: [&str; 7] =
    ["table_info", "table_xinfo", "table_list", "index_list", "index_info", "index_xinfo", "foreign_key_list"];

/// SQLite's progress handler runs every this many virtual-machine steps.
const PROGRESS_STEPS: i32 = 1000;

/// A connection and what its hooks read.
pub(super) struct Conn {
    pub(super) connection: Connection,
    /// When the running statement must stop (the progress handler's check).
    deadline: Arc<Mutex<Option<Instant>>>,
    /// Set while the host itself runs a statement (`BEGIN`, `COMMIT`, …),
    /// which the authorizer then allows.
    trusted: Arc<AtomicBool>,
    /// What the authorizer refused last, for the error message.
    refused: Arc<Mutex<Option<String>>>,
}

impl Conn {
    /// Opens the read-write connection (`read_only == false`, the one
    /// writer) or a reader. A reader does not wait when the file is busy: it
    /// runs on an async thread first, and its caller decides whether to
    /// wait ([`Conn::wait_when_busy`]).
    pub(super) fn open(path: &Path, read_only: bool, limits: SqlLimits) -> Result<Conn, SqlError> {
        let flags = if read_only {
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
        } else {
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX
        };
        let open_err = |e: rusqlite::Error| SqlError::Internal(format!("cannot open {}: {e}", path.display()));
        let connection = Connection::open_with_flags(path, flags).map_err(open_err)?;
        // Another process (`wasmroutes db`) may hold the file for a moment.
        let wait = if read_only { Duration::ZERO } else { limits.busy_timeout };
        connection.busy_timeout(wait).map_err(open_err)?;
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
    pub(super) fn run_trusted(&self, sql: &str) -> Result<(), SqlError> {
        self.trusted.store(true, Ordering::Relaxed);
        let result = self.connection.execute_batch(sql);
        self.trusted.store(false, Ordering::Relaxed);
        result.map_err(|e| self.error(e))
    }

    /// How long a statement waits for another process's lock on the file.
    pub(super) fn wait_when_busy(&self, wait: Duration) -> Result<(), SqlError> {
        self.connection.busy_timeout(wait).map_err(|e| self.error(e))
    }

    /// Whether a transaction is open (SQLite ends one itself when a
    /// statement in it is interrupted or hits a disk error).
    pub(super) fn in_transaction(&self) -> bool {
        !self.connection.is_autocommit()
    }

    /// Rolls back whatever transaction is open.
    pub(super) fn rollback_if_open(&self) -> Result<(), SqlError> {
        if self.in_transaction() { self.run_trusted("ROLLBACK") } else { Ok(()) }
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
fn bind(statement: &mut rusqlite::Statement<'_>, params: &[SqlValue]) -> rusqlite::Result<()> {
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
pub(super) fn run_query(conn: &Conn, sql: &str, params: &[SqlValue], limits: SqlLimits) -> Result<Rows, SqlError> {
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
pub(super) fn run_execute(
    conn: &Conn,
    sql: &str,
    params: &[SqlValue],
    limits: SqlLimits,
) -> Result<Executed, SqlError> {
    check_statement(sql)?;
    conn.timed(limits, || {
        let mut statement = conn.connection.prepare_cached(sql).map_err(|e| conn.error(e))?;
        bind(&mut statement, params).map_err(|e| conn.error(e))?;
        let rows_affected = statement.raw_execute().map_err(|e| conn.error(e))? as u64;
        Ok(Executed { rows_affected, last_insert_id: Some(conn.connection.last_insert_rowid()) })
    })
}

/// Whether `sql` only reads, as SQLite judges it (`sqlite3_stmt_readonly`).
pub(super) fn is_read_only(conn: &Conn, sql: &str) -> Result<bool, SqlError> {
    check_statement(sql)?;
    let statement = conn.connection.prepare_cached(sql).map_err(|e| conn.error(e))?;
    Ok(statement.readonly())
}

#[cfg(test)]
mod tests {
    use super::*;

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
