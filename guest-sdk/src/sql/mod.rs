//! SQL databases: relational data that outlives a request, with queries,
//! uniqueness and transactions.
//!
//! Behind the Cargo feature `sql`:
//!
//! ```toml
//! [dependencies]
//! wasmroutes-sdk = { path = "…/guest-sdk", features = ["sql"] }
//! ```
//!
//! The feature costs a component nothing it does not use (a route that
//! never opens a database imports nothing of `wasmroutes:sql`); it exists
//! for native tests, where it compiles SQLite (see [Testing](#testing)), so
//! route crates that do not use SQL do not build it.
//!
//! A route opens only the databases its `routes.toml` entry lists, each
//! configured in a `[database.NAME]` table with its migrations:
//!
//! ```toml
//! [database.default]
//! type = "sqlite"
//! migrations = "migrations/books"
//!
//! [[route]]
//! path = "/api/books"
//! component = "../target/wasm32-wasip2/release/books.wasm"
//! databases = ["default"]
//! ```
//!
//! Each call runs one statement with its parameters, and rows come back as
//! your own types:
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use wasmroutes_sdk::sql::Db;
//! use wasmroutes_sdk::{Error, Request, Response, Result, params, route};
//!
//! #[derive(Serialize, Deserialize)]
//! struct Book { id: i64, title: String, isbn: String, available: bool }
//!
//! #[derive(Deserialize)]
//! struct NewBook { title: String, isbn: String }
//!
//! struct Books;
//!
//! #[route]
//! impl Books {
//!     /// The books on the shelf, by title.
//!     fn get(_req: Request) -> Result {
//!         let db = Db::open("default")?;
//!         let books: Vec<Book> = db.query(
//!             "select id, title, isbn, available from books where available = $1 order by title",
//!             (true,),
//!         )?;
//!         Ok(Response::json(&books))
//!     }
//!
//!     /// Adds a book: `201`, or `409` when its ISBN is taken.
//!     fn post(req: Request) -> Result {
//!         let new: NewBook = req.json()?;
//!         let db = Db::open("default")?;
//!         let book: Book = db
//!             .query_one(
//!                 "insert into books (title, isbn, available) values ($1, $2, $3) \
//!                  returning id, title, isbn, available",
//!                 params![new.title, new.isbn, true],
//!             )
//!             .map_err(|e| match e.is_unique_violation() {
//!                 true => Error::conflict("A book with this ISBN exists"),
//!                 false => e.into(),
//!             })?;
//!         Ok(Response::json(&book).status(201))
//!     }
//! }
//!
//! // Natively, each test thread has its own in-memory SQLite databases,
//! // made from the route's migrations (here, one inline).
//! use wasmroutes_sdk::Method;
//! use wasmroutes_sdk::sql::testing;
//! testing::database("default").execute_batch(
//!     "create table books (id integer primary key, title text not null, \
//!      isbn text not null unique, available integer not null)",
//! );
//! let post = |body: &str| Books::post(Request::builder(Method::Post, "/api/books").body(body).build());
//! assert_eq!(post(r#"{"title":"Dune","isbn":"978-0441013593"}"#)?.status_code(), 201);
//! assert_eq!(post(r#"{"title":"Dune, again","isbn":"978-0441013593"}"#).unwrap_err().status(), 409);
//! let list = Books::get(Request::builder(Method::Get, "/api/books").build())?;
//! assert_eq!(list.body_bytes(), br#"[{"id":1,"title":"Dune","isbn":"978-0441013593","available":true}]"#);
//! # Ok::<(), Error>(())
//! ```
//!
//! Underneath is the host's `wasmroutes:sql@0.1.0` (WIT in `wit/deps/sql`);
//! the README's "SQL databases" says what the host allows and enforces.
//!
//! # Statements and parameters
//!
//! [`Db::query`] runs a statement that returns rows (a `select`, or a
//! change with `returning`); [`Db::execute`] one that does not, and says
//! how many rows it changed ([`Executed`]). One statement per call; schema
//! changes belong in migrations and are refused at request time.
//!
//! Parameters are `$1`, `$2`… (PostgreSQL's syntax, which SQLite reads
//! too), given as a tuple `(id, &title)`, an array or slice of one type,
//! `()` for none, or [`params!`](crate::params)`[a, b, c]` for any mix. Each
//! is a [`ToValue`]: integers, floats, `bool` (stored as 1 or 0 by
//! SQLite), text, bytes, `Option` (`None` is `NULL`), `serde_json::Value`
//! (JSON text) or a [`Value`]. `$N` is the N-th value wherever it appears
//! in the text, on SQLite as on PostgreSQL, and may appear more than once.
//!
//! # Rows into Rust types
//!
//! [`Db::query`] maps each row to a `T: Deserialize` with serde, straight
//! from the typed values (no detour through JSON):
//!
//! - a struct (or a map) takes the row by **column name**: name the columns
//!   as the fields (`select created_at as "createdAt"`, or
//!   `#[serde(rename)]`); extra columns are ignored unless the struct
//!   denies unknown fields;
//! - a tuple takes the row **by position** (as many fields as columns);
//! - a row of one column is also its value: `query::<i64>("select count(*) …")`.
//!
//! Values keep their types: integers into any integer type that holds them
//! (and into floats), reals into floats, text into `String`s, `char`s and
//! unit enum variants by name, blobs into `Vec<u8>` (or `serde_bytes`), and
//! `NULL` into `Option::None`. A `bool` field reads SQLite's `0` and `1`. A
//! struct, map or `Vec` field (other than bytes) in a text column is read as
//! JSON. A value that does not fit is [`SqlError::Decode`], naming the
//! column: ``column `done`: invalid value: integer `2`, expected a boolean (0
//! or 1)``. (Inside `#[serde(flatten)]` and untagged enums serde buffers
//! the values first, and a `bool` there needs a real boolean, which SQLite
//! never returns.)
//!
//! For "not found", use [`Db::query_opt`] (`None` without a row) and answer
//! your own `404`. [`Db::query_one`] is for statements that always return
//! one row (`count(*)`, `insert … returning`); anything else is
//! [`SqlError::RowCount`], a `500`: a missing row there is a bug in the
//! route, not the client's mistake. Code that works on any table reads
//! [`Rows`] and [`Row`] ([`Db::query_rows`]).
//!
//! # Transactions
//!
//! [`Db::transaction`] runs a closure between `begin` and `commit`:
//! `Ok` commits, `Err` rolls back (and returns the error), and a panic, a
//! trap or a timeout leaves nothing either (the host rolls back a
//! transaction still open when the request ends). Statements outside a
//! transaction each commit on their own.
//!
//! ```
//! # use wasmroutes_sdk::sql::{Db, SqlError, testing};
//! # testing::database("default").execute_batch(
//! #     "create table accounts (id integer primary key, balance integer not null check (balance >= 0))");
//! let db = Db::open("default")?;
//! db.execute("insert into accounts (id, balance) values (1, 100), (2, 0)", ())?;
//! let transfer = |amount: i64| {
//!     db.transaction(|tx| {
//!         tx.execute("update accounts set balance = balance + $1 where id = 2", (amount,))?;
//!         tx.execute("update accounts set balance = balance - $1 where id = 1", (amount,))?;
//!         Ok::<_, SqlError>(amount)
//!     })
//! };
//! assert_eq!(transfer(30)?, 30);
//! // 500 would take account 1 below zero: the check refuses the second
//! // update, and the first is rolled back with it.
//! assert!(transfer(500).is_err_and(|e| e.constraint_kind().is_some()));
//! let balances: Vec<(i64, i64)> = db.query("select id, balance from accounts order by id", ())?;
//! assert_eq!(balances, [(1, 70), (2, 30)]);
//! # Ok::<(), SqlError>(())
//! ```
//!
//! # Errors and HTTP statuses
//!
//! Every call returns [`SqlError`], which `?` in a handler turns into an
//! [`Error`](crate::Error) response:
//!
//! | [`SqlError`] | Status | The client sees | stderr |
//! |---|---|---|---|
//! | `Constraint { kind, .. }` | `409` | `Conflict: a unique constraint refused the change` (or `a foreign key constraint`, `a not-null constraint`, `a check constraint`, `a constraint`) | the database's message |
//! | `Unavailable` (busy past the busy timeout, unreachable) | `503`, `Retry-After: 1` | `Storage is temporarily unavailable; try again shortly` | the detail |
//! | `Timeout` (the statement ran too long) | `504` | `The database took too long to answer` | the detail |
//! | `NoSuchDatabase`, `AccessDenied` (a deployment error) | `500` | `Internal server error` | the database, and that the route must list it in `databases` |
//! | `InvalidStatement`, `LimitExceeded`, `Internal`, `Decode`, `RowCount` | `500` | `Internal server error` | the detail |
//!
//! A constraint the route expects (a duplicate name, say) deserves its own
//! message: match [`SqlError::is_unique_violation`] (or
//! [`SqlError::constraint_kind`]) before `?`, as the example above does.
//! The host tags each stderr line with the route and request id.
//!
//! # Testing
//!
//! Outside `wasm32` (in `cargo test`), [`Db`] runs on an in-memory SQLite
//! per database name that belongs to the current thread, with the host's
//! SQLite and its request-time rules; each `#[test]` starts with no
//! databases. [`testing::database`] creates one from the migrations
//! `routes.toml` names:
//!
//! ```
//! use wasmroutes_sdk::sql::{Db, testing};
//! # let migrations = std::env::temp_dir().join(format!("wasmroutes-sdk-doc-{}", std::process::id()));
//! # std::fs::create_dir_all(&migrations).unwrap();
//! # std::fs::write(migrations.join("0001_notes.sql"), "create table notes (id integer primary key, title text)").unwrap();
//! // In a route crate: concat!(env!("CARGO_MANIFEST_DIR"), "/../migrations/notes")
//! testing::database("default").migrations(&migrations);
//! let count: i64 = Db::open("default")?.query_one("select count(*) from notes", ())?;
//! assert_eq!(count, 0);
//! # std::fs::remove_dir_all(&migrations).unwrap();
//! # Ok::<(), wasmroutes_sdk::sql::SqlError>(())
//! ```
//!
//! [`testing`] also injects failures ([`testing::fail`]) to test how a
//! route answers a database that is down. The migrations and what
//! [`testing::TestDatabase::execute_batch`] runs are trusted setup; the
//! route's own statements run under the host's request-time rules.

mod de;
mod error;
#[cfg(target_arch = "wasm32")]
mod host;
#[cfg(not(target_arch = "wasm32"))]
mod native;
mod value;

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;

use std::fmt;

use serde::de::DeserializeOwned;

pub use error::{ConstraintKind, SqlError};
#[cfg(target_arch = "wasm32")]
use host as imp;
#[cfg(not(target_arch = "wasm32"))]
use native as imp;
#[cfg(not(target_arch = "wasm32"))]
pub use native::testing;
pub use value::{Params, ToValue, Value};

/// What a statement that changes data did ([`Db::execute`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Executed {
    /// Rows inserted, updated or deleted.
    pub rows_affected: u64,
    /// The row id of the last insert on the connection (SQLite's
    /// `last_insert_rowid`); `None` where the database has no such thing:
    /// use `returning` for ids that work everywhere.
    pub last_insert_id: Option<i64>,
}

/// An open database.
///
/// Dropping it closes the connection (and rolls back a transaction left
/// open, which [`Db::transaction`] never does).
pub struct Db {
    name: String,
    conn: imp::Connection,
}

impl Db {
    /// Opens the database named `name`. The route must list it in its
    /// `databases`.
    pub fn open(name: &str) -> Result<Db, SqlError> {
        Ok(Db { name: name.to_owned(), conn: imp::open(name)? })
    }

    /// The name it was opened by.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `sql` and maps each row to a `T` (see [Rows into Rust
    /// types](self#rows-into-rust-types)).
    pub fn query<T: DeserializeOwned>(&self, sql: &str, params: impl Params) -> Result<Vec<T>, SqlError> {
        query(&self.conn, sql, params)
    }

    /// Runs `sql`, which must return exactly one row, as a `T`: for
    /// `count(*)`, `insert … returning` and the like. No row or more than
    /// one is [`SqlError::RowCount`] (a `500`); for a row that may be
    /// missing, use [`Db::query_opt`].
    pub fn query_one<T: DeserializeOwned>(&self, sql: &str, params: impl Params) -> Result<T, SqlError> {
        query_one(&self.conn, sql, params)
    }

    /// Runs `sql`, which returns at most one row: `None` without one (answer
    /// your own `404`). More than one row is [`SqlError::RowCount`]: add a
    /// `limit 1` if only the first matters.
    pub fn query_opt<T: DeserializeOwned>(&self, sql: &str, params: impl Params) -> Result<Option<T>, SqlError> {
        query_opt(&self.conn, sql, params)
    }

    /// Runs `sql` and returns its columns and values as they are, for code
    /// that does not know the shape of the result.
    pub fn query_rows(&self, sql: &str, params: impl Params) -> Result<Rows, SqlError> {
        self.conn.query(sql, params.into_values())
    }

    /// Runs `sql`, a statement that returns no rows (`insert`, `update`,
    /// `delete` without `returning`).
    pub fn execute(&self, sql: &str, params: impl Params) -> Result<Executed, SqlError> {
        self.conn.execute(sql, params.into_values())
    }

    /// Runs `f` in a transaction: commits when it returns `Ok`, rolls back
    /// when it returns `Err` (and returns that error) or panics. A failed
    /// `begin` or `commit` is returned as `E` (commonly
    /// [`wasmroutes_sdk::Error`](crate::Error) or [`SqlError`]).
    ///
    /// One transaction at a time per connection: calls on `tx` (or on this
    /// `Db`) inside `f` are part of it.
    pub fn transaction<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&Transaction<'_>) -> Result<T, E>,
        E: From<SqlError>,
    {
        self.conn.begin()?;
        let mut guard = RollbackOnUnwind { conn: &self.conn, armed: true };
        let result = f(&Transaction { db: self });
        guard.armed = false;
        match result {
            Ok(value) => {
                self.conn.commit()?;
                Ok(value)
            }
            Err(err) => {
                if let Err(rollback) = self.conn.rollback() {
                    // The closure's error is what the caller must see; the
                    // host rolls back at the end of the request anyway.
                    eprintln!("wasmroutes-sdk: rolling back a transaction on `{}` failed: {rollback}", self.name);
                }
                Err(err)
            }
        }
    }
}

impl fmt::Debug for Db {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Db").field("name", &self.name).finish_non_exhaustive()
    }
}

/// Rolls back the transaction when the closure unwinds (natively; on
/// `wasm32` a panic traps and the host rolls back).
struct RollbackOnUnwind<'a> {
    conn: &'a imp::Connection,
    armed: bool,
}

impl Drop for RollbackOnUnwind<'_> {
    fn drop(&mut self) {
        if self.armed {
            let _ = self.conn.rollback();
        }
    }
}

/// The open transaction of [`Db::transaction`]: the same calls as [`Db`].
pub struct Transaction<'a> {
    db: &'a Db,
}

impl Transaction<'_> {
    /// The database's name.
    pub fn name(&self) -> &str {
        &self.db.name
    }

    /// [`Db::query`] in the transaction.
    pub fn query<T: DeserializeOwned>(&self, sql: &str, params: impl Params) -> Result<Vec<T>, SqlError> {
        self.db.query(sql, params)
    }

    /// [`Db::query_one`] in the transaction.
    pub fn query_one<T: DeserializeOwned>(&self, sql: &str, params: impl Params) -> Result<T, SqlError> {
        self.db.query_one(sql, params)
    }

    /// [`Db::query_opt`] in the transaction.
    pub fn query_opt<T: DeserializeOwned>(&self, sql: &str, params: impl Params) -> Result<Option<T>, SqlError> {
        self.db.query_opt(sql, params)
    }

    /// [`Db::query_rows`] in the transaction.
    pub fn query_rows(&self, sql: &str, params: impl Params) -> Result<Rows, SqlError> {
        self.db.query_rows(sql, params)
    }

    /// [`Db::execute`] in the transaction.
    pub fn execute(&self, sql: &str, params: impl Params) -> Result<Executed, SqlError> {
        self.db.execute(sql, params)
    }
}

impl fmt::Debug for Transaction<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transaction").field("db", &self.db.name).finish()
    }
}

fn query<T: DeserializeOwned>(conn: &imp::Connection, sql: &str, params: impl Params) -> Result<Vec<T>, SqlError> {
    conn.query(sql, params.into_values())?.deserialize()
}

fn query_one<T: DeserializeOwned>(conn: &imp::Connection, sql: &str, params: impl Params) -> Result<T, SqlError> {
    let rows = conn.query(sql, params.into_values())?;
    match rows.len() {
        1 => rows.deserialize::<T>().map(|mut one| one.remove(0)),
        n => Err(SqlError::RowCount(format!("query_one wants exactly one row, got {n}, from `{}`", shown(sql)))),
    }
}

fn query_opt<T: DeserializeOwned>(
    conn: &imp::Connection,
    sql: &str,
    params: impl Params,
) -> Result<Option<T>, SqlError> {
    let rows = conn.query(sql, params.into_values())?;
    match rows.len() {
        0 => Ok(None),
        1 => rows.deserialize::<T>().map(|mut one| one.pop()),
        n => Err(SqlError::RowCount(format!("query_opt wants at most one row, got {n}, from `{}`", shown(sql)))),
    }
}

/// A statement short enough for a message: its first 80 characters, on
/// one line.
fn shown(sql: &str) -> String {
    let line: String = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(80) {
        Some((end, _)) => format!("{}…", &line[..end]),
        None => line,
    }
}

/// A query's result as it came: column names, and a [`Value`] per column
/// per row ([`Db::query_rows`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rows {
    columns: Vec<String>,
    rows: Vec<Vec<Value>>,
}

impl Rows {
    /// The column names, in the statement's order.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// How many rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Row `index` (from 0).
    pub fn get(&self, index: usize) -> Option<Row<'_>> {
        self.rows.get(index).map(|values| Row { columns: &self.columns, values })
    }

    /// The rows, in order.
    pub fn iter(&self) -> RowIter<'_> {
        RowIter { columns: &self.columns, rows: self.rows.iter() }
    }

    /// Each row as a `T`, as [`Db::query`] maps them.
    pub fn deserialize<T: DeserializeOwned>(self) -> Result<Vec<T>, SqlError> {
        let Rows { columns, rows } = self;
        rows.into_iter().map(|values| de::from_row(&columns, values)).collect()
    }

    /// The column names and the rows' values.
    pub fn into_parts(self) -> (Vec<String>, Vec<Vec<Value>>) {
        (self.columns, self.rows)
    }
}

impl<'a> IntoIterator for &'a Rows {
    type Item = Row<'a>;
    type IntoIter = RowIter<'a>;

    fn into_iter(self) -> RowIter<'a> {
        self.iter()
    }
}

/// The rows of [`Rows::iter`].
#[derive(Clone, Debug)]
pub struct RowIter<'a> {
    columns: &'a [String],
    rows: std::slice::Iter<'a, Vec<Value>>,
}

impl<'a> Iterator for RowIter<'a> {
    type Item = Row<'a>;

    fn next(&mut self) -> Option<Row<'a>> {
        self.rows.next().map(|values| Row { columns: self.columns, values })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.rows.size_hint()
    }
}

impl ExactSizeIterator for RowIter<'_> {}

impl DoubleEndedIterator for RowIter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.rows.next_back().map(|values| Row { columns: self.columns, values })
    }
}

/// One row of [`Rows`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Row<'a> {
    columns: &'a [String],
    values: &'a [Value],
}

impl<'a> Row<'a> {
    /// The column names.
    pub fn columns(&self) -> &'a [String] {
        self.columns
    }

    /// The values, one per column.
    pub fn values(&self) -> &'a [Value] {
        self.values
    }

    /// The value of a column, by name (the first column of that name) or
    /// position (from 0); `None` if the row has no such column.
    pub fn value(&self, column: impl ColumnIndex) -> Option<&'a Value> {
        column.position(self.columns).and_then(|i| self.values.get(i))
    }

    /// The value of a column as a `T`, converted as [`Db::query`] converts
    /// values; a missing column is [`SqlError::Decode`].
    pub fn get<T: DeserializeOwned>(&self, column: impl ColumnIndex) -> Result<T, SqlError> {
        let position = column
            .position(self.columns)
            .filter(|i| *i < self.values.len())
            .ok_or_else(|| SqlError::Decode(format!("the row has no column {}", column.describe())))?;
        let name = self.columns.get(position).map_or("?", String::as_str);
        de::from_value(name, self.values[position].clone())
    }

    /// The whole row as a `T`, as [`Db::query`] maps rows.
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, SqlError> {
        de::from_row(self.columns, self.values.to_vec())
    }
}

/// A column of a [`Row`]: its name (`&str`) or its position (`usize`).
pub trait ColumnIndex: sealed::Sealed {
    /// Its position among `columns`.
    fn position(&self, columns: &[String]) -> Option<usize>;
    /// How messages name it.
    fn describe(&self) -> String;
}

impl ColumnIndex for &str {
    fn position(&self, columns: &[String]) -> Option<usize> {
        columns.iter().position(|c| c == self)
    }

    fn describe(&self) -> String {
        format!("`{self}`")
    }
}

impl ColumnIndex for usize {
    fn position(&self, columns: &[String]) -> Option<usize> {
        (*self < columns.len()).then_some(*self)
    }

    fn describe(&self) -> String {
        format!("at position {self}")
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for &str {}
    impl Sealed for usize {}
}
