//! The host side of `wasmroutes:sql@0.1.0` for guests: `open` checks the
//! route's `databases` (deny by default); every other call goes to the
//! connection's [`Session`], whose backend enforces the limits.
//!
//! The sessions live here, not in the resource table, so that the end of a
//! request can find them: a transaction a handler left open is rolled back
//! then (for a reused instance; a fresh one's sessions end with its store,
//! which rolls them back too).

use std::sync::Arc;

use wasmtime::component::{HasData, Linker, Resource, ResourceTable};

use super::bindings::sql::wasmroutes::sql::types as wit;
use super::guest_state::GuestState;
use crate::sql::{ConstraintKind, RouteDatabases, Session, SqlError, SqlValue};

/// Connections one instance may hold open at once.
pub const MAX_CONNECTIONS: usize = 16;

/// An open connection, as the guest's `connection` resource: which slot of
/// [`SqlContext::sessions`] holds its session.
pub struct ConnectionHandle {
    slot: usize,
}

/// What one instance's database calls need.
pub struct SqlContext {
    databases: Arc<RouteDatabases>,
    route: Arc<str>,
    request_id: Arc<str>,
    sessions: Vec<Option<Box<dyn Session>>>,
}

impl SqlContext {
    /// The context for a request of `route`.
    pub fn new(databases: Arc<RouteDatabases>, route: Arc<str>, request_id: Arc<str>) -> SqlContext {
        SqlContext { databases, route, request_id, sessions: Vec::new() }
    }

    /// A reused instance's next request.
    pub fn set_request_id(&mut self, request_id: Arc<str>) {
        self.request_id = request_id;
    }

    /// Rolls back every transaction the request left open.
    pub async fn end_request(&mut self) {
        for session in self.sessions.iter_mut().flatten().filter(|s| s.in_transaction()) {
            tracing::warn!(
                request_id = %self.request_id,
                route = %self.route,
                "the handler returned with a database transaction open; rolled back"
            );
            if let Err(e) = session.rollback().await {
                tracing::error!(request_id = %self.request_id, route = %self.route, "rollback failed: {e}");
            }
        }
    }

    fn session(
        &mut self,
        connection: &Resource<ConnectionHandle>,
        table: &ResourceTable,
    ) -> wasmtime::Result<&mut Box<dyn Session>> {
        let slot = table.get(connection)?.slot;
        self.sessions
            .get_mut(slot)
            .and_then(Option::as_mut)
            .ok_or_else(|| wasmtime::format_err!("connection {slot} has no session"))
    }
}

/// The borrow of a store's data the generated `Host` traits are
/// implemented on.
pub struct SqlView<'a> {
    ctx: &'a mut SqlContext,
    table: &'a mut ResourceTable,
}

impl<'a> SqlView<'a> {
    /// A view of `ctx` and the store's resource table.
    pub fn new(ctx: &'a mut SqlContext, table: &'a mut ResourceTable) -> Self {
        SqlView { ctx, table }
    }
}

/// Marker for [`HasData`]: the linker hands host functions a [`SqlView`].
struct Sql;

impl HasData for Sql {
    type Data<'a> = SqlView<'a>;
}

/// Adds `wasmroutes:sql/types` to the linker.
pub fn add_to_linker(linker: &mut Linker<GuestState>) -> wasmtime::Result<()> {
    wit::add_to_linker::<GuestState, Sql>(linker, GuestState::sql)
}

fn to_wit(error: SqlError) -> wit::Error {
    match error {
        SqlError::NoSuchDatabase(m) => wit::Error::NoSuchDatabase(m),
        SqlError::AccessDenied(m) => wit::Error::AccessDenied(m),
        SqlError::InvalidStatement(m) => wit::Error::InvalidStatement(m),
        SqlError::Constraint { kind, message } => {
            let kind = match kind {
                ConstraintKind::Unique => wit::ConstraintKind::Unique,
                ConstraintKind::ForeignKey => wit::ConstraintKind::ForeignKey,
                ConstraintKind::NotNull => wit::ConstraintKind::NotNull,
                ConstraintKind::Check => wit::ConstraintKind::Check,
                ConstraintKind::Other => wit::ConstraintKind::Other,
            };
            wit::Error::Constraint(wit::ConstraintViolation { kind, message })
        }
        SqlError::Unavailable(m) => wit::Error::Unavailable(m),
        SqlError::Timeout(m) => wit::Error::Timeout(m),
        SqlError::LimitExceeded(m) => wit::Error::LimitExceeded(m),
        SqlError::Internal(m) => wit::Error::Internal(m),
    }
}

fn from_wit(value: wit::Value) -> SqlValue {
    match value {
        wit::Value::Null => SqlValue::Null,
        wit::Value::Integer(i) => SqlValue::Integer(i),
        wit::Value::Real(r) => SqlValue::Real(r),
        wit::Value::Text(t) => SqlValue::Text(t),
        wit::Value::Blob(b) => SqlValue::Blob(b),
        wit::Value::Boolean(b) => SqlValue::Boolean(b),
    }
}

fn into_wit(value: SqlValue) -> wit::Value {
    match value {
        SqlValue::Null => wit::Value::Null,
        SqlValue::Integer(i) => wit::Value::Integer(i),
        SqlValue::Real(r) => wit::Value::Real(r),
        SqlValue::Text(t) => wit::Value::Text(t),
        SqlValue::Blob(b) => wit::Value::Blob(b),
        SqlValue::Boolean(b) => wit::Value::Boolean(b),
    }
}

impl wit::Host for SqlView<'_> {}

impl wit::HostConnection for SqlView<'_> {
    async fn open(&mut self, name: String) -> wasmtime::Result<Result<Resource<ConnectionHandle>, wit::Error>> {
        let Some(database) = self.ctx.databases.open(&name) else {
            // A deployment error, not the client's: the route's code and its
            // `databases` disagree.
            tracing::error!(
                request_id = %self.ctx.request_id,
                route = %self.ctx.route,
                database = %name,
                "database access denied: the route does not list it in databases"
            );
            return Ok(Err(to_wit(SqlError::AccessDenied(name))));
        };
        let slot = match self.ctx.sessions.iter().position(Option::is_none) {
            Some(free) => free,
            None if self.ctx.sessions.len() < MAX_CONNECTIONS => {
                self.ctx.sessions.push(None);
                self.ctx.sessions.len() - 1
            }
            None => {
                let message = format!("an instance may hold {MAX_CONNECTIONS} connections open at once");
                return Ok(Err(to_wit(SqlError::LimitExceeded(message))));
            }
        };
        self.ctx.sessions[slot] = Some(database.session());
        Ok(Ok(self.table.push(ConnectionHandle { slot })?))
    }

    async fn query(
        &mut self,
        connection: Resource<ConnectionHandle>,
        statement: String,
        params: Vec<wit::Value>,
    ) -> wasmtime::Result<Result<wit::RowSet, wit::Error>> {
        let session = self.ctx.session(&connection, self.table)?;
        let params = params.into_iter().map(from_wit).collect();
        Ok(match session.query(&statement, params).await {
            Ok(rows) => Ok(wit::RowSet {
                columns: rows.columns,
                rows: rows.rows.into_iter().map(|row| row.into_iter().map(into_wit).collect()).collect(),
            }),
            Err(e) => Err(to_wit(e)),
        })
    }

    async fn execute(
        &mut self,
        connection: Resource<ConnectionHandle>,
        statement: String,
        params: Vec<wit::Value>,
    ) -> wasmtime::Result<Result<wit::Executed, wit::Error>> {
        let session = self.ctx.session(&connection, self.table)?;
        let params = params.into_iter().map(from_wit).collect();
        Ok(session
            .execute(&statement, params)
            .await
            .map(|done| wit::Executed { rows_affected: done.rows_affected, last_insert_id: done.last_insert_id })
            .map_err(to_wit))
    }

    async fn begin(&mut self, connection: Resource<ConnectionHandle>) -> wasmtime::Result<Result<(), wit::Error>> {
        Ok(self.ctx.session(&connection, self.table)?.begin().await.map_err(to_wit))
    }

    async fn commit(&mut self, connection: Resource<ConnectionHandle>) -> wasmtime::Result<Result<(), wit::Error>> {
        Ok(self.ctx.session(&connection, self.table)?.commit().await.map_err(to_wit))
    }

    async fn rollback(&mut self, connection: Resource<ConnectionHandle>) -> wasmtime::Result<Result<(), wit::Error>> {
        Ok(self.ctx.session(&connection, self.table)?.rollback().await.map_err(to_wit))
    }

    async fn drop(&mut self, connection: Resource<ConnectionHandle>) -> wasmtime::Result<()> {
        let ConnectionHandle { slot } = self.table.delete(connection)?;
        // Dropping the session rolls back a transaction it still has open.
        if let Some(session) = self.ctx.sessions.get_mut(slot) {
            *session = None;
        }
        Ok(())
    }
}
