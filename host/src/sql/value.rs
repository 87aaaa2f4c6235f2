//! What goes into a statement and what comes out of it, the same for every
//! backend: the values of `wasmroutes:sql` and the shapes of a result.

/// One parameter or one column value.
///
/// Booleans exist for parameters: SQLite stores them as the integers 0 and
/// 1 (it has no boolean type, and `true` in its SQL is 1), so a SQLite
/// result never holds one; JSON travels as text.
#[derive(Clone, Debug, PartialEq)]
pub enum SqlValue {
    /// SQL `NULL`.
    Null,
    /// A 64-bit signed integer.
    Integer(i64),
    /// A 64-bit float.
    Real(f64),
    /// UTF-8 text.
    Text(String),
    /// Bytes.
    Blob(Vec<u8>),
    /// A boolean (a parameter; see the type's note).
    Boolean(bool),
}

impl SqlValue {
    /// Bytes this value counts against a result's byte limit: its payload,
    /// at least 8 (what a row slot costs whatever it holds).
    pub fn weight(&self) -> usize {
        match self {
            SqlValue::Text(t) => t.len().max(8),
            SqlValue::Blob(b) => b.len().max(8),
            SqlValue::Null | SqlValue::Integer(_) | SqlValue::Real(_) | SqlValue::Boolean(_) => 8,
        }
    }
}

/// The rows a query returned.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rows {
    /// Column names, in the statement's order.
    pub columns: Vec<String>,
    /// One vector per row, a value per column.
    pub rows: Vec<Vec<SqlValue>>,
}

/// What a statement that changes data did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Executed {
    /// Rows inserted, updated or deleted.
    pub rows_affected: u64,
    /// The row id of the last insert on this connection (SQLite's
    /// `last_insert_rowid`); `None` where the backend has no such thing
    /// (PostgreSQL: use `RETURNING`).
    pub last_insert_id: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_weighs_its_payload_and_at_least_a_slot() {
        assert_eq!(SqlValue::Null.weight(), 8);
        assert_eq!(SqlValue::Text("hi".into()).weight(), 8);
        assert_eq!(SqlValue::Blob(vec![0; 1000]).weight(), 1000);
        assert_eq!(SqlValue::Text("é".repeat(10)).weight(), 20, "bytes, not characters");
    }
}
