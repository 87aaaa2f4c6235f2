//! SQL databases for routes: relational data beside the key-value stores,
//! one trait over an embedded SQLite file per database (the default) and,
//! for many hosts, PostgreSQL.
//!
//! - [`value`]: parameters, column values and result shapes.
//! - [`error`]: the typed errors a route sees.
//! - [`backend`]: the traits a backend implements (a database, its
//!   sessions) and the per-call limits.
//! - [`migrations`]: the schema, from a folder of `.sql` files applied once
//!   each, in order, and recorded in the database.
//! - [`databases`]: every database of a deployment, opened once, and the
//!   subset each route may open.
//! - [`sqlite`]: the embedded backend: a file per database, WAL, one writer
//!   and a pool of readers, request-time statements checked by SQLite's
//!   authorizer.
//! - [`postgres`]: the shared backend: a pool of connections per database,
//!   parameters typed by the server, a degraded start while it is down.

pub mod backend;
pub mod databases;
pub mod error;
pub mod migrations;
pub mod postgres;
pub mod sqlite;
pub mod value;

#[cfg(test)]
mod conformance;

pub use backend::{Database, Session, SqlLimits};
pub use databases::{DatabaseHealth, Databases, DatabasesError, RouteDatabases};
pub use error::{ConstraintKind, SqlError};
pub use value::{Executed, Rows, SqlValue};
