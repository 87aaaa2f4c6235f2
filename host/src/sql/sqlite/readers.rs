//! Reads beside the writer, on read-only connections (WAL lets a reader see
//! the last commit while a write is in progress).
//!
//! A read runs first where the guest called it, on the async thread, with a
//! short time budget: a primary-key lookup takes microseconds, and handing it
//! to another thread and back would cost more than the lookup (two thread
//! wake-ups). A read that outlives the budget, or finds the file busy, is
//! stopped and run again from the start on tokio's blocking pool with the
//! statement's whole time: a read-only statement changes nothing, so running
//! it twice is safe, and no async thread is held longer than the budget.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::connection::{Conn, is_read_only, run_query};
use crate::sql::backend::SqlLimits;
use crate::sql::error::SqlError;
use crate::sql::value::{Rows, SqlValue};

/// Read-only connections a database keeps at most (each is a file handle
/// and SQLite's page cache).
const MAX_READERS: usize = 4;

/// How long a read may run on an async thread before it moves to the
/// blocking pool.
const ON_THE_ASYNC_THREAD: Duration = Duration::from_millis(1);

/// What a read found.
pub(super) enum Read {
    /// The statement only reads: its rows.
    Rows(Rows),
    /// The statement changes data (a change with `RETURNING`): it belongs to
    /// the writer, and nothing was run; its parameters, given back.
    Writes(Vec<SqlValue>),
}

/// A database's read-only connections.
pub(super) struct Readers {
    path: PathBuf,
    limits: SqlLimits,
    idle: Mutex<Vec<Conn>>,
    slots: Arc<Semaphore>,
}

impl Readers {
    pub(super) fn new(path: PathBuf, limits: SqlLimits) -> Readers {
        Readers { path, limits, idle: Mutex::new(Vec::new()), slots: Arc::new(Semaphore::new(MAX_READERS)) }
    }

    /// Runs `sql` if it only reads.
    pub(super) async fn query(self: &Arc<Self>, sql: &str, params: Vec<SqlValue>) -> Result<Read, SqlError> {
        let (slot, conn) = match Arc::clone(&self.slots).try_acquire_owned() {
            Ok(slot) => {
                let conn = match self.take_idle() {
                    Some(conn) => conn,
                    None => Conn::open(&self.path, true, self.limits)?,
                };
                let brief = SqlLimits {
                    statement_timeout: ON_THE_ASYNC_THREAD.min(self.limits.statement_timeout),
                    ..self.limits
                };
                match read(&conn, sql, &params, brief) {
                    Err(SqlError::Timeout(_)) if brief.statement_timeout < self.limits.statement_timeout => {}
                    Err(SqlError::Unavailable(_)) => {}
                    done => {
                        self.give_back(conn);
                        return Ok(done?.map_or(Read::Writes(params), Read::Rows));
                    }
                }
                (slot, Some(conn))
            }
            // Every reader is busy with a long read: wait for one.
            Err(_) => {
                let slot = Arc::clone(&self.slots).acquire_owned().await.map_err(|_| closed())?;
                (slot, self.take_idle())
            }
        };
        self.read_blocking(slot, conn, sql.to_owned(), params).await
    }

    /// Runs the read on the blocking pool, waiting for the file's lock up to
    /// the busy timeout.
    async fn read_blocking(
        self: &Arc<Self>,
        slot: OwnedSemaphorePermit,
        conn: Option<Conn>,
        sql: String,
        params: Vec<SqlValue>,
    ) -> Result<Read, SqlError> {
        let readers = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let _slot = slot;
            let conn = match conn {
                Some(conn) => conn,
                None => Conn::open(&readers.path, true, readers.limits)?,
            };
            conn.wait_when_busy(readers.limits.busy_timeout)?;
            let result = read(&conn, &sql, &params, readers.limits);
            if conn.wait_when_busy(Duration::ZERO).is_ok() {
                readers.give_back(conn);
            }
            Ok(result?.map_or(Read::Writes(params), Read::Rows))
        })
        .await
        .map_err(|e| SqlError::Internal(format!("database task failed: {e}")))?
    }

    fn take_idle(&self) -> Option<Conn> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner).pop()
    }

    fn give_back(&self, conn: Conn) {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner).push(conn);
    }
}

/// The rows of `sql` if it only reads; `None` if it writes (nothing run).
fn read(conn: &Conn, sql: &str, params: &[SqlValue], limits: SqlLimits) -> Result<Option<Rows>, SqlError> {
    if is_read_only(conn, sql)? { run_query(conn, sql, params, limits).map(Some) } else { Ok(None) }
}

fn closed() -> SqlError {
    SqlError::Internal("database closed".into())
}
