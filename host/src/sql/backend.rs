//! What every SQL backend implements: a database, and the sessions a guest
//! instance runs its statements in.
//!
//! A session is one instance's view of a database: statements outside a
//! transaction each commit on their own; between `begin` and `commit` they
//! see each other's changes and nobody else's, and a session dropped with a
//! transaction open (the instance trapped, timed out, or returned without
//! committing) rolls it back. A backend takes connections lazily, so a
//! session that runs nothing costs nothing.

use std::time::Duration;

use async_trait::async_trait;

use super::error::SqlError;
use super::value::{Executed, Rows, SqlValue};

/// The limits every database enforces, per call (documented in the README,
/// "SQL databases"; `[database.NAME]` may lower or raise them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SqlLimits {
    /// Rows one query may return (default 10,000).
    pub max_rows: usize,
    /// Bytes one query's values may add up to (default 16 MiB; see
    /// [`SqlValue::weight`]).
    pub max_result_bytes: usize,
    /// How long one statement may run (default 5 s; never more than what is
    /// left of the route's `timeout`).
    pub statement_timeout: Duration,
    /// How long a write waits for the database's writer before it is
    /// [`SqlError::Unavailable`] (default 5 s).
    pub busy_timeout: Duration,
}

impl Default for SqlLimits {
    fn default() -> Self {
        SqlLimits {
            max_rows: 10_000,
            max_result_bytes: 16 << 20,
            statement_timeout: Duration::from_secs(5),
            busy_timeout: Duration::from_secs(5),
        }
    }
}

/// A result counted against the limits while it is read, so an oversized
/// one is refused before it is whole in memory.
pub(crate) struct ResultBudget {
    limits: SqlLimits,
    rows: usize,
    bytes: usize,
}

impl ResultBudget {
    pub(crate) fn new(limits: SqlLimits) -> ResultBudget {
        ResultBudget { limits, rows: 0, bytes: 0 }
    }

    /// Before each row.
    pub(crate) fn row(&mut self) -> Result<(), SqlError> {
        if self.rows == self.limits.max_rows {
            return Err(SqlError::LimitExceeded(format!(
                "the query returns more than {} rows: add a LIMIT, or page with a cursor",
                self.limits.max_rows
            )));
        }
        self.rows += 1;
        Ok(())
    }

    /// For each value ([`SqlValue::weight`]).
    pub(crate) fn value(&mut self, value: &SqlValue) -> Result<(), SqlError> {
        self.bytes += value.weight();
        if self.bytes > self.limits.max_result_bytes {
            return Err(SqlError::LimitExceeded(format!(
                "the query's result is larger than {} bytes",
                self.limits.max_result_bytes
            )));
        }
        Ok(())
    }
}

/// A database's storage: hands out sessions.
#[async_trait]
pub trait Database: Send + Sync + 'static {
    /// A new session (no connection is taken until a statement runs).
    fn session(&self) -> Box<dyn Session>;

    /// Checks that the database answers (for `/readyz`).
    async fn ping(&self) -> Result<(), SqlError>;
}

/// One instance's statements on one database. Each call runs one statement
/// with its parameters (`?1`, `?2`… on SQLite, `$1`, `$2`… on PostgreSQL);
/// text holding two statements is refused.
#[async_trait]
pub trait Session: Send {
    /// Runs a statement and returns its rows (a `SELECT`, or a change with
    /// `RETURNING`).
    async fn query(&mut self, sql: &str, params: Vec<SqlValue>) -> Result<Rows, SqlError>;

    /// Runs a statement that returns no rows.
    async fn execute(&mut self, sql: &str, params: Vec<SqlValue>) -> Result<Executed, SqlError>;

    /// Opens a transaction. One at a time: a second `begin` is
    /// [`SqlError::InvalidStatement`].
    async fn begin(&mut self) -> Result<(), SqlError>;

    /// Commits the open transaction; durable when it returns `Ok`.
    async fn commit(&mut self) -> Result<(), SqlError>;

    /// Rolls the open transaction back.
    async fn rollback(&mut self) -> Result<(), SqlError>;

    /// Whether a transaction is open.
    fn in_transaction(&self) -> bool;
}

/// The first word of `sql`, after whitespace and comments.
pub(crate) fn first_keyword(sql: &str) -> &str {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_keyword_skips_space_and_comments() {
        assert_eq!(first_keyword("  VACUUM"), "VACUUM");
        assert_eq!(first_keyword("-- tidy\n/* really */ vacuum into 'x'"), "vacuum");
        assert_eq!(first_keyword("select 1"), "select");
        assert_eq!(first_keyword("/* unterminated"), "");
    }
}
