//! [`SqlError`]: why a database call failed, and the HTTP answer it becomes.

use std::fmt;

use crate::Error;

/// Which constraint refused a change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConstraintKind {
    /// `UNIQUE` or `PRIMARY KEY` (also a unique index).
    Unique,
    /// `FOREIGN KEY`.
    ForeignKey,
    /// `NOT NULL`.
    NotNull,
    /// `CHECK`.
    Check,
    /// Another kind the database reports.
    Other,
}

impl ConstraintKind {
    /// Its name, as in the WIT: `unique`, `foreign-key`, `not-null`,
    /// `check`, `other`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConstraintKind::Unique => "unique",
            ConstraintKind::ForeignKey => "foreign-key",
            ConstraintKind::NotNull => "not-null",
            ConstraintKind::Check => "check",
            ConstraintKind::Other => "other",
        }
    }

    /// How the `409` names it: "a unique constraint", …
    fn described(self) -> &'static str {
        match self {
            ConstraintKind::Unique => "a unique constraint",
            ConstraintKind::ForeignKey => "a foreign key constraint",
            ConstraintKind::NotNull => "a not-null constraint",
            ConstraintKind::Check => "a check constraint",
            ConstraintKind::Other => "a constraint",
        }
    }
}

impl fmt::Display for ConstraintKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a database call failed: the cases of `wasmroutes:sql`'s `error`,
/// and two of the SDK's own ([`SqlError::Decode`], [`SqlError::RowCount`]).
///
/// With `?` in a handler it becomes an [`Error`] (see the [module
/// docs](crate::sql#errors-and-http-statuses) for the table of statuses).
/// Match it first to answer a case yourself, typically a unique violation
/// ([`SqlError::is_unique_violation`]) as your own `409`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SqlError {
    /// No database of this name is configured on the host.
    NoSuchDatabase(String),
    /// The route may not open the database of this name: `routes.toml`
    /// must list it in the route's `databases`.
    AccessDenied(String),
    /// The statement cannot run: a syntax error, an unknown table or
    /// column, a wrong number of parameters, two statements in one call, a
    /// statement refused at request time (schema changes, `ATTACH`, …), a
    /// transaction call out of order. The database's message.
    InvalidStatement(String),
    /// A constraint refused the change; nothing was written.
    Constraint {
        /// Which constraint.
        kind: ConstraintKind,
        /// The database's message (it names the table and column).
        message: String,
    },
    /// The database is busy or unreachable; the same call may succeed
    /// later.
    Unavailable(String),
    /// The statement ran past its time and was stopped.
    Timeout(String),
    /// A result over the database's row or byte limit, or too many open
    /// connections.
    LimitExceeded(String),
    /// Anything else the database reported.
    Internal(String),
    /// A row or a value did not fit the Rust type asked for (the message
    /// names the column).
    Decode(String),
    /// [`Db::query_one`](super::Db::query_one) got other than one row, or
    /// [`Db::query_opt`](super::Db::query_opt) more than one.
    RowCount(String),
}

impl SqlError {
    /// Which constraint refused the change, if that is what happened.
    pub fn constraint_kind(&self) -> Option<ConstraintKind> {
        match self {
            SqlError::Constraint { kind, .. } => Some(*kind),
            _ => None,
        }
    }

    /// Whether a unique constraint (or primary key) refused the change: the
    /// row exists already.
    pub fn is_unique_violation(&self) -> bool {
        self.constraint_kind() == Some(ConstraintKind::Unique)
    }
}

impl fmt::Display for SqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SqlError::NoSuchDatabase(name) => write!(f, "no database `{name}` is configured on this host"),
            SqlError::AccessDenied(name) => {
                write!(f, "the route may not open database `{name}`: list it in the route's `databases`")
            }
            SqlError::InvalidStatement(m) => write!(f, "invalid statement: {m}"),
            SqlError::Constraint { kind, message } => write!(f, "{kind} constraint failed: {message}"),
            SqlError::Unavailable(m) => write!(f, "database unavailable: {m}"),
            SqlError::Timeout(m) => write!(f, "database timeout: {m}"),
            SqlError::LimitExceeded(m) => write!(f, "database limit exceeded: {m}"),
            SqlError::Internal(m) => write!(f, "database error: {m}"),
            SqlError::Decode(m) => write!(f, "cannot read the result: {m}"),
            SqlError::RowCount(m) => write!(f, "unexpected number of rows: {m}"),
        }
    }
}

impl std::error::Error for SqlError {}

/// What the client sees when the failure is not theirs to fix.
const GENERIC: &str = "Internal server error";

/// `Retry-After` seconds of a `503` for an unavailable database.
const RETRY_AFTER_SECS: u32 = 1;

impl From<SqlError> for Error {
    /// See the [module docs](crate::sql#errors-and-http-statuses). Logs to
    /// stderr what the client is not told.
    fn from(err: SqlError) -> Error {
        match err {
            SqlError::NoSuchDatabase(ref name) => {
                eprintln!(
                    "wasmroutes-sdk: deployment error: no database `{name}` is configured on this host; \
                     configure it in routes.toml ([database.{name}]) and list it in this route's `databases`"
                );
                Error::internal(GENERIC)
            }
            SqlError::AccessDenied(ref name) => {
                eprintln!(
                    "wasmroutes-sdk: deployment error: this route may not open database `{name}`; \
                     the route must list it in `databases` in routes.toml"
                );
                Error::internal(GENERIC)
            }
            SqlError::Constraint { kind, .. } => {
                eprintln!("wasmroutes-sdk: {err}");
                Error::conflict(format!("Conflict: {} refused the change", kind.described()))
            }
            SqlError::Unavailable(_) => {
                eprintln!("wasmroutes-sdk: {err}");
                Error::unavailable("Storage is temporarily unavailable; try again shortly", RETRY_AFTER_SECS)
            }
            SqlError::Timeout(_) => {
                eprintln!("wasmroutes-sdk: {err}");
                Error::new(504, "The database took too long to answer")
            }
            SqlError::InvalidStatement(_)
            | SqlError::LimitExceeded(_)
            | SqlError::Internal(_)
            | SqlError::Decode(_)
            | SqlError::RowCount(_) => {
                eprintln!("wasmroutes-sdk: {err}");
                Error::internal(GENERIC)
            }
        }
    }
}
