//! Why a database call failed, typed the same for every backend, so a
//! route (and the SDKs' JSON envelope) can tell a duplicate key from an
//! outage from its own bad SQL.

/// Which constraint a statement broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConstraintKind {
    /// `UNIQUE` or `PRIMARY KEY`.
    Unique,
    /// `FOREIGN KEY`.
    ForeignKey,
    /// `NOT NULL`.
    NotNull,
    /// `CHECK`.
    Check,
    /// Another kind the backend reports.
    Other,
}

impl ConstraintKind {
    /// Its name in messages and in the WIT.
    pub fn as_str(self) -> &'static str {
        match self {
            ConstraintKind::Unique => "unique",
            ConstraintKind::ForeignKey => "foreign key",
            ConstraintKind::NotNull => "not null",
            ConstraintKind::Check => "check",
            ConstraintKind::Other => "other",
        }
    }
}

/// Why a call failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SqlError {
    /// No database of that name is configured.
    #[error("no database named `{0}`")]
    NoSuchDatabase(String),
    /// The database exists, but the route does not list it in `databases`.
    #[error("the route may not open database `{0}`: list it in the route's `databases`")]
    AccessDenied(String),
    /// The statement cannot run: a syntax error, an unknown table or
    /// column, a wrong number of parameters, two statements in one call, a
    /// statement refused at request time (schema changes, `ATTACH`,
    /// `PRAGMA` writes), a transaction call out of order. Carries the
    /// database's own message where it gave one.
    #[error("invalid statement: {0}")]
    InvalidStatement(String),
    /// A constraint refused the change; nothing was written.
    #[error("{} constraint failed: {message}", kind.as_str())]
    Constraint {
        /// Which constraint.
        kind: ConstraintKind,
        /// The database's message (names the table and column).
        message: String,
    },
    /// The database is busy (another writer held it past the busy timeout)
    /// or cannot be reached; the same call may succeed later.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// The statement ran past its time limit and was stopped; nothing it
    /// did outside an open transaction was kept.
    #[error("timeout: {0}")]
    Timeout(String),
    /// A result over the database's row or byte limit, or a call over a
    /// per-instance limit.
    #[error("limit exceeded: {0}")]
    LimitExceeded(String),
    /// Anything else the backend reports (I/O, a corrupt file, …).
    #[error("database error: {0}")]
    Internal(String),
}
