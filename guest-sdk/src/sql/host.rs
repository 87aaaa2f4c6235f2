//! The database on `wasm32`: calls into the host's `wasmroutes:sql@0.1.0`.
//! Only the functions a route reaches are linked, so a route that never
//! touches `sql` imports nothing from `wasmroutes:sql`.

use super::{ConstraintKind, Executed, Rows, SqlError, Value};

// The generated ABI glue is `unsafe` by nature; the SDK's own code stays safe.
#[allow(missing_docs, dead_code, unsafe_code, clippy::all)]
mod bindings {
    wit_bindgen::generate!({
        path: "../wit/deps/sql",
        world: "wasmroutes:sql/imports@0.1.0",
    });
}

use bindings::wasmroutes::sql::types as wit;

impl From<wit::Error> for SqlError {
    fn from(err: wit::Error) -> SqlError {
        match err {
            wit::Error::NoSuchDatabase(m) => SqlError::NoSuchDatabase(m),
            wit::Error::AccessDenied(m) => SqlError::AccessDenied(m),
            wit::Error::InvalidStatement(m) => SqlError::InvalidStatement(m),
            wit::Error::Constraint(violation) => {
                let kind = match violation.kind {
                    wit::ConstraintKind::Unique => ConstraintKind::Unique,
                    wit::ConstraintKind::ForeignKey => ConstraintKind::ForeignKey,
                    wit::ConstraintKind::NotNull => ConstraintKind::NotNull,
                    wit::ConstraintKind::Check => ConstraintKind::Check,
                    wit::ConstraintKind::Other => ConstraintKind::Other,
                };
                SqlError::Constraint { kind, message: violation.message }
            }
            wit::Error::Unavailable(m) => SqlError::Unavailable(m),
            wit::Error::Timeout(m) => SqlError::Timeout(m),
            wit::Error::LimitExceeded(m) => SqlError::LimitExceeded(m),
            wit::Error::Internal(m) => SqlError::Internal(m),
        }
    }
}

fn into_wit(value: Value) -> wit::Value {
    match value {
        Value::Null => wit::Value::Null,
        Value::Integer(i) => wit::Value::Integer(i),
        Value::Real(r) => wit::Value::Real(r),
        Value::Text(t) => wit::Value::Text(t),
        Value::Blob(b) => wit::Value::Blob(b),
        Value::Boolean(b) => wit::Value::Boolean(b),
    }
}

fn from_wit(value: wit::Value) -> Value {
    match value {
        wit::Value::Null => Value::Null,
        wit::Value::Integer(i) => Value::Integer(i),
        wit::Value::Real(r) => Value::Real(r),
        wit::Value::Text(t) => Value::Text(t),
        wit::Value::Blob(b) => Value::Blob(b),
        wit::Value::Boolean(b) => Value::Boolean(b),
    }
}

/// An open connection: the host's `connection` (closed when dropped, which
/// also rolls back a transaction left open).
pub(super) struct Connection(wit::Connection);

pub(super) fn open(name: &str) -> Result<Connection, SqlError> {
    Ok(Connection(wit::Connection::open(name)?))
}

impl Connection {
    pub(super) fn query(&self, sql: &str, params: Vec<Value>) -> Result<Rows, SqlError> {
        let params: Vec<wit::Value> = params.into_iter().map(into_wit).collect();
        let set = self.0.query(sql, &params)?;
        let rows = set.rows.into_iter().map(|row| row.into_iter().map(from_wit).collect()).collect();
        Ok(Rows { columns: set.columns, rows })
    }

    pub(super) fn execute(&self, sql: &str, params: Vec<Value>) -> Result<Executed, SqlError> {
        let params: Vec<wit::Value> = params.into_iter().map(into_wit).collect();
        let done = self.0.execute(sql, &params)?;
        Ok(Executed { rows_affected: done.rows_affected, last_insert_id: done.last_insert_id })
    }

    pub(super) fn begin(&self) -> Result<(), SqlError> {
        Ok(self.0.begin()?)
    }

    pub(super) fn commit(&self) -> Result<(), SqlError> {
        Ok(self.0.commit()?)
    }

    pub(super) fn rollback(&self) -> Result<(), SqlError> {
        Ok(self.0.rollback()?)
    }
}
