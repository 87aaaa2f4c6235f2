//! PostgreSQL: a database many hosts share.
//!
//! - **A pool per database** (deadpool-postgres, connections made as they
//!   are needed): a statement outside a transaction borrows a connection
//!   for itself; a transaction holds one from `begin` to its end.
//! - **One statement per call**: statements go through the extended
//!   protocol (prepared, cached per connection), which PostgreSQL refuses
//!   for text holding two. Only data statements run at request time
//!   (`SELECT`, `INSERT`, `UPDATE`, `DELETE`, `WITH`, `VALUES`, `TABLE`,
//!   `MERGE`): schema changes belong to migrations, transactions to
//!   `begin`/`commit`. What a statement may touch is the database role's
//!   business: give the URL's user the grants its routes need.
//! - **Parameters typed by the statement**: each value is sent in text
//!   form (blobs as `bytea`) and PostgreSQL parses it as the type it
//!   inferred for that parameter, so an integer or a text reaches an
//!   `int4`, `uuid`, `timestamptz` or `jsonb` column as the column wants.
//! - **Results**: booleans, integers, floats, text, `bytea` as themselves;
//!   `numeric`, `uuid`, JSON, dates and times as their text (RFC 3339 for
//!   timestamps); any other type is refused with a hint to cast it.
//! - **Time**: the server's `statement_timeout` stops a statement; a
//!   statement that also outlives a margin past it on the client is
//!   cancelled and its connection dropped.
//! - **Failures of the server are [`SqlError::Unavailable`]**: the pool
//!   reconnects by itself, and a host that starts while PostgreSQL is down
//!   serves (with every call unavailable) and applies its migrations when
//!   the server comes back.
//! - **Errors in a transaction**: each statement in one runs under a
//!   savepoint, so a refused statement (a duplicate key, say) leaves the
//!   transaction usable, as on SQLite.

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod, Runtime};
use futures_util::StreamExt;
use rustls::pki_types::pem::PemObject;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{Format, IsNull, Kind, ToSql, Type, to_sql_checked};
use tokio_postgres::{CancelToken, NoTls, Statement};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::backend::{Database, ResultBudget, Session, SqlLimits, first_keyword};
use super::error::{ConstraintKind, SqlError};
use super::migrations::{self, Applied, MigrationError};
use super::value::{Executed, Rows, SqlValue};

/// Connections one host keeps to one database at most.
const POOL_SIZE: usize = 16;
/// How long making a connection may take before the call is unavailable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long past the server's `statement_timeout` the client waits before
/// it cancels the statement itself.
const CLIENT_MARGIN: Duration = Duration::from_secs(2);
/// How often a host that started without PostgreSQL tries its migrations.
const MIGRATION_RETRY: Duration = Duration::from_secs(2);
/// The savepoint each statement in a transaction runs under.
const SAVEPOINT: &str = "wasmroutes_statement";

/// How connections are made: TLS when the URL's `sslmode` is `require`.
#[derive(Clone)]
enum Tls {
    Plain,
    Rustls(MakeRustlsConnect),
}

/// A PostgreSQL database.
pub struct PostgresDatabase {
    shared: Arc<Shared>,
}

struct Shared {
    name: String,
    pool: Pool,
    tls: Tls,
    limits: SqlLimits,
    /// `Some(why)` while the migrations wait for the server: every call is
    /// unavailable until they are applied.
    not_ready: Mutex<Option<String>>,
}

impl PostgresDatabase {
    /// A pool for the database at `url` (`postgres://user:password@host:port/db`,
    /// with `?sslmode=require` for TLS and `&sslrootcert=FILE` for a CA that
    /// is not one of the Mozilla roots). Connects nothing yet.
    pub fn new(name: &str, url: &str, limits: SqlLimits) -> Result<PostgresDatabase, SqlError> {
        let (config, tls) = connection_config(url, limits)?;
        let manager = match &tls {
            Tls::Plain => {
                Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast })
            }
            Tls::Rustls(connector) => Manager::from_config(
                config,
                connector.clone(),
                ManagerConfig { recycling_method: RecyclingMethod::Fast },
            ),
        };
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .wait_timeout(Some(limits.busy_timeout))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .recycle_timeout(Some(CONNECT_TIMEOUT))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| SqlError::Internal(format!("database `{name}`: {e}")))?;
        Ok(PostgresDatabase {
            shared: Arc::new(Shared { name: name.to_owned(), pool, tls, limits, not_ready: Mutex::new(None) }),
        })
    }

    /// Applies the migrations of `dir` on a connection of its own.
    pub async fn migrate(&self, dir: &std::path::Path) -> Result<Applied, MigrationError> {
        let shared = &self.shared;
        let unavailable =
            |e: SqlError| MigrationError::Unavailable { database: shared.name.clone(), message: e.to_string() };
        let mut client = shared.connection().await.map_err(unavailable)?;
        let applied = migrations::apply_postgres(&shared.name, &mut client, dir).await;
        if applied.is_err() {
            // It may hold the advisory lock in a broken state: never reuse it.
            drop(Object::take(client));
        }
        applied
    }

    /// Where each migration of `dir` stands in the database. Reads only.
    pub async fn migration_status(
        &self,
        dir: &std::path::Path,
    ) -> Result<Vec<(String, migrations::MigrationState)>, MigrationError> {
        let shared = &self.shared;
        let client = shared
            .connection()
            .await
            .map_err(|e| MigrationError::Unavailable { database: shared.name.clone(), message: e.to_string() })?;
        migrations::status_postgres(&shared.name, &client, dir).await
    }

    /// Applies the migrations of `dir` now if the server answers; if it does
    /// not, the database starts unavailable and a task applies them as soon
    /// as it does. Any other migration failure is the caller's.
    pub async fn migrate_or_wait(&self, dir: PathBuf) -> Result<(), MigrationError> {
        match self.migrate(&dir).await {
            Ok(applied) => {
                log_applied(&self.shared.name, &applied);
                Ok(())
            }
            Err(MigrationError::Unavailable { message, .. }) => {
                tracing::warn!(
                    database = %self.shared.name,
                    "PostgreSQL is unavailable ({message}); serving, with the database unavailable until its \
                     migrations can be applied"
                );
                *self.shared.not_ready.lock().unwrap_or_else(PoisonError::into_inner) = Some(message);
                let database = PostgresDatabase { shared: Arc::clone(&self.shared) };
                tokio::spawn(async move { database.migrate_when_possible(dir).await });
                Ok(())
            }
            Err(other) => Err(other),
        }
    }

    async fn migrate_when_possible(self, dir: PathBuf) {
        let name = self.shared.name.clone();
        loop {
            tokio::time::sleep(MIGRATION_RETRY).await;
            let outcome = match self.migrate(&dir).await {
                Err(MigrationError::Unavailable { message, .. }) => {
                    *self.shared.not_ready.lock().unwrap_or_else(PoisonError::into_inner) = Some(message);
                    continue;
                }
                Ok(applied) => {
                    log_applied(&name, &applied);
                    None
                }
                Err(other) => {
                    tracing::error!(database = %name, "{other}");
                    Some(other.to_string())
                }
            };
            // A migration the server refused leaves the database unavailable
            // with the reason, which /readyz shows, until a fixed host starts.
            *self.shared.not_ready.lock().unwrap_or_else(PoisonError::into_inner) = outcome;
            return;
        }
    }
}

fn log_applied(name: &str, applied: &Applied) {
    if !applied.now.is_empty() {
        tracing::info!(database = %name, "applied migrations {}", applied.now.join(", "));
    }
}

/// The connection settings of `url`, with the host's own: its name, a
/// connect timeout unless the URL sets one, and the statement timeout.
fn connection_config(url: &str, limits: SqlLimits) -> Result<(tokio_postgres::Config, Tls), SqlError> {
    let (url, root_cert) = take_query_param(url, "sslrootcert");
    let mut config: tokio_postgres::Config =
        url.parse().map_err(|e| SqlError::InvalidStatement(format!("the database URL is not valid: {e}")))?;
    if config.get_application_name().is_none() {
        config.application_name("wasmroutes");
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    // A lock held by another transaction is waited for up to the busy
    // timeout, as SQLite's writer is: then the call is unavailable (55P03).
    let timeout = format!(
        "-c statement_timeout={} -c lock_timeout={}",
        limits.statement_timeout.as_millis().max(1),
        limits.busy_timeout.as_millis().max(1)
    );
    let options = match config.get_options() {
        Some(given) => format!("{given} {timeout}"),
        None => timeout,
    };
    config.options(options);
    let tls = match config.get_ssl_mode() {
        tokio_postgres::config::SslMode::Require => Tls::Rustls(rustls_connector(root_cert.as_deref())?),
        // `prefer` (the default) would try TLS first; the host asks for TLS
        // only where the URL says it must be there.
        _ => {
            config.ssl_mode(tokio_postgres::config::SslMode::Disable);
            Tls::Plain
        }
    };
    Ok((config, tls))
}

/// Whether `url` is a PostgreSQL URL this backend can connect with (for
/// the configuration's check, before anything connects).
pub fn check_url(url: &str) -> Result<(), String> {
    let (url, _) = take_query_param(url, "sslrootcert");
    url.parse::<tokio_postgres::Config>().map(drop).map_err(|e| e.to_string())
}

/// `url` without the query parameter `key`, and its (percent-decoded)
/// value: tokio-postgres does not know `sslrootcert`.
fn take_query_param(url: &str, key: &str) -> (String, Option<String>) {
    let Some((base, query)) = url.split_once('?') else { return (url.to_owned(), None) };
    let mut value = None;
    // The other parameters stay as written: re-encoding would turn `%20`
    // into `+`, which tokio-postgres does not read as a space.
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| match form_urlencoded::parse(pair.as_bytes()).next() {
            Some((k, v)) if k == key => {
                value = Some(v.into_owned());
                false
            }
            _ => !pair.is_empty(),
        })
        .collect();
    let url = if kept.is_empty() { base.to_owned() } else { format!("{base}?{}", kept.join("&")) };
    (url, value)
}

/// TLS that verifies the server's certificate and name against the Mozilla
/// roots, plus the CA in `root_cert` if given.
fn rustls_connector(root_cert: Option<&str>) -> Result<MakeRustlsConnect, SqlError> {
    let mut roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    if let Some(path) = root_cert {
        let pem = std::fs::read(path)
            .map_err(|e| SqlError::InvalidStatement(format!("sslrootcert {path} cannot be read: {e}")))?;
        let certs = rustls::pki_types::CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| SqlError::InvalidStatement(format!("sslrootcert {path}: {e}")))?;
        for cert in certs {
            roots.add(cert).map_err(|e| SqlError::InvalidStatement(format!("sslrootcert {path}: {e}")))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| SqlError::Internal(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

impl Shared {
    /// A pooled connection, or why there is none.
    async fn connection(&self) -> Result<Object, SqlError> {
        self.pool.get().await.map_err(|e| match e {
            PoolError::Timeout(_) => SqlError::Unavailable(format!(
                "database `{}`: no connection within {:?} (the server is unreachable, or all {POOL_SIZE} \
                 connections are busy)",
                self.name, self.limits.busy_timeout
            )),
            PoolError::Backend(e) => classify(e),
            PoolError::Closed => SqlError::Unavailable(format!("database `{}` is closed", self.name)),
            other => SqlError::Internal(other.to_string()),
        })
    }

    fn check_ready(&self) -> Result<(), SqlError> {
        match &*self.not_ready.lock().unwrap_or_else(PoisonError::into_inner) {
            None => Ok(()),
            Some(why) => Err(SqlError::Unavailable(format!(
                "database `{}` is not ready: its migrations are not applied yet ({why})",
                self.name
            ))),
        }
    }

    /// Cancels whatever `client` runs and drops the connection, in the
    /// background (from a `Drop` too).
    fn abandon(&self, client: Object) {
        let cancel = client.cancel_token();
        let tls = self.tls.clone();
        drop(Object::take(client));
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(cancel_query(cancel, tls));
        }
    }
}

async fn cancel_query(cancel: CancelToken, tls: Tls) {
    let _ = match tls {
        Tls::Plain => cancel.cancel_query(NoTls).await,
        Tls::Rustls(connector) => cancel.cancel_query(connector).await,
    };
}

#[async_trait]
impl Database for PostgresDatabase {
    fn session(&self) -> Box<dyn Session> {
        Box::new(PostgresSession { shared: Arc::clone(&self.shared), transaction: None })
    }

    async fn ping(&self) -> Result<(), SqlError> {
        self.shared.check_ready()?;
        let client = self.shared.connection().await?;
        client.simple_query("SELECT 1").await.map_err(classify)?;
        Ok(())
    }
}

/// One instance's session: the connection of its open transaction, if any.
struct PostgresSession {
    shared: Arc<Shared>,
    transaction: Option<Object>,
}

impl PostgresSession {
    /// Runs `work` on the open transaction's connection under a savepoint,
    /// or on a connection borrowed for it; within the time limit either way.
    async fn run<T, F>(&mut self, sql: &str, work: F) -> Result<T, SqlError>
    where
        F: for<'c> AsyncFnOnce(&'c Object, Statement) -> Result<T, SqlError>,
    {
        self.shared.check_ready()?;
        check_statement(sql)?;
        let shared = Arc::clone(&self.shared);
        let limit = shared.limits.statement_timeout + CLIENT_MARGIN;
        match self.transaction.take() {
            Some(client) => {
                let outcome = timed(limit, async {
                    client.batch_execute(&format!("SAVEPOINT {SAVEPOINT}")).await.map_err(classify)?;
                    let result = match client.prepare_cached(sql).await.map_err(classify) {
                        Ok(statement) => work(&client, statement).await,
                        Err(e) => Err(e),
                    };
                    let end = match result {
                        Ok(_) => format!("RELEASE SAVEPOINT {SAVEPOINT}"),
                        Err(_) => format!("ROLLBACK TO SAVEPOINT {SAVEPOINT}; RELEASE SAVEPOINT {SAVEPOINT}"),
                    };
                    client.batch_execute(&end).await.map_err(classify)?;
                    result
                })
                .await;
                match outcome {
                    Some(result) => {
                        if !matches!(result, Err(SqlError::Unavailable(_))) {
                            self.transaction = Some(client);
                        } else {
                            // The connection is gone, and the transaction with it.
                            shared.abandon(client);
                        }
                        result
                    }
                    None => {
                        shared.abandon(client);
                        Err(past_time(&shared))
                    }
                }
            }
            None => {
                let client = shared.connection().await?;
                let mut in_flight = InFlight { shared: &shared, client: Some(client) };
                let outcome = timed(limit, async {
                    let client = in_flight.client.as_ref().ok_or_else(|| SqlError::Internal("no client".into()))?;
                    let statement = client.prepare_cached(sql).await.map_err(classify)?;
                    work(client, statement).await
                })
                .await;
                match outcome {
                    Some(result) => {
                        in_flight.finish();
                        result
                    }
                    None => Err(past_time(&shared)),
                }
            }
        }
    }

    fn no_transaction(&self, what: &str) -> SqlError {
        SqlError::InvalidStatement(format!("{what} without an open transaction: call begin first"))
    }
}

/// A borrowed connection whose statement may still run: dropped before
/// [`InFlight::finish`] (the instance was stopped, or the time ran out), it
/// cancels the statement and closes the connection instead of handing a
/// busy one back to the pool.
struct InFlight<'a> {
    shared: &'a Shared,
    client: Option<Object>,
}

impl InFlight<'_> {
    fn finish(&mut self) {
        drop(self.client.take());
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            self.shared.abandon(client);
        }
    }
}

async fn timed<T>(limit: Duration, work: impl Future<Output = T>) -> Option<T> {
    tokio::time::timeout(limit, work).await.ok()
}

fn past_time(shared: &Shared) -> SqlError {
    SqlError::Timeout(format!("the statement ran longer than {:?} and was cancelled", shared.limits.statement_timeout))
}

#[async_trait]
impl Session for PostgresSession {
    async fn query(&mut self, sql: &str, params: Vec<SqlValue>) -> Result<Rows, SqlError> {
        let limits = self.shared.limits;
        self.run(sql, async move |client: &Object, statement: Statement| {
            let params = bind(&statement, params)?;
            let columns: Vec<String> = statement.columns().iter().map(|c| c.name().to_owned()).collect();
            let stream = client.query_raw(&statement, params.iter()).await.map_err(classify)?;
            let mut stream = std::pin::pin!(stream);
            let mut rows = Vec::new();
            let mut budget = ResultBudget::new(limits);
            while let Some(row) = stream.next().await {
                let row = row.map_err(classify)?;
                budget.row()?;
                let mut values = Vec::with_capacity(columns.len());
                for (index, column) in row.columns().iter().enumerate() {
                    let raw: Raw<'_> = row.try_get(index).map_err(classify)?;
                    let value = decode(column.name(), column.type_(), raw.0)?;
                    budget.value(&value)?;
                    values.push(value);
                }
                rows.push(values);
            }
            Ok(Rows { columns, rows })
        })
        .await
    }

    async fn execute(&mut self, sql: &str, params: Vec<SqlValue>) -> Result<Executed, SqlError> {
        self.run(sql, async move |client: &Object, statement: Statement| {
            if !statement.columns().is_empty() {
                return Err(SqlError::InvalidStatement(
                    "the statement returns rows: run it with query, not execute".into(),
                ));
            }
            let params = bind(&statement, params)?;
            let rows_affected = client.execute_raw(&statement, params.iter()).await.map_err(classify)?;
            Ok(Executed { rows_affected, last_insert_id: None })
        })
        .await
    }

    async fn begin(&mut self) -> Result<(), SqlError> {
        if self.transaction.is_some() {
            return Err(SqlError::InvalidStatement(
                "a transaction is already open: commit or roll it back first".into(),
            ));
        }
        self.shared.check_ready()?;
        let client = self.shared.connection().await?;
        client.batch_execute("BEGIN").await.map_err(classify)?;
        self.transaction = Some(client);
        Ok(())
    }

    async fn commit(&mut self) -> Result<(), SqlError> {
        let Some(client) = self.transaction.take() else {
            return Err(self.no_transaction("commit"));
        };
        // A failed COMMIT ends the transaction too (PostgreSQL rolls it
        // back), so the connection goes back clean either way.
        match timed(self.shared.limits.statement_timeout + CLIENT_MARGIN, client.batch_execute("COMMIT")).await {
            Some(result) => result.map_err(classify),
            None => {
                self.shared.abandon(client);
                Err(past_time(&self.shared))
            }
        }
    }

    async fn rollback(&mut self) -> Result<(), SqlError> {
        let Some(client) = self.transaction.take() else {
            return Err(self.no_transaction("rollback"));
        };
        match client.batch_execute("ROLLBACK").await {
            Ok(()) => Ok(()),
            Err(e) => {
                self.shared.abandon(client);
                Err(classify(e))
            }
        }
    }

    fn in_transaction(&self) -> bool {
        self.transaction.is_some()
    }
}

impl Drop for PostgresSession {
    /// An instance that ends with a transaction open (a trap, a timeout, a
    /// handler that returned without committing) leaves nothing behind: the
    /// transaction is rolled back before its connection returns to the
    /// pool, or the connection is closed, which rolls it back too.
    fn drop(&mut self) {
        let Some(client) = self.transaction.take() else { return };
        let shared = Arc::clone(&self.shared);
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    if let Err(e) = client.batch_execute("ROLLBACK").await {
                        tracing::warn!(database = %shared.name, "rolling back an abandoned transaction: {e}");
                        drop(Object::take(client));
                    }
                });
            }
            Err(_) => drop(Object::take(client)),
        }
    }
}

/// Data statements only, by their first keyword (see the module's note).
/// A word that begins no PostgreSQL command goes to the server, which says
/// what is wrong with it.
fn check_statement(sql: &str) -> Result<(), SqlError> {
    const TRANSACTION: [&str; 9] =
        ["begin", "start", "commit", "end", "rollback", "abort", "savepoint", "release", "prepare"];
    const SETTINGS: [&str; 4] = ["set", "reset", "show", "discard"];
    const MAINTENANCE: [&str; 6] = ["vacuum", "analyze", "analyse", "reindex", "cluster", "checkpoint"];
    const OTHER: [&str; 26] = [
        "alter",
        "call",
        "close",
        "comment",
        "copy",
        "create",
        "deallocate",
        "declare",
        "do",
        "drop",
        "execute",
        "fetch",
        "grant",
        "import",
        "listen",
        "load",
        "lock",
        "move",
        "notify",
        "reassign",
        "refresh",
        "revoke",
        "security",
        "truncate",
        "unlisten",
        "explain",
    ];
    let first = first_keyword(sql).to_ascii_lowercase();
    let why = if TRANSACTION.contains(&first.as_str()) {
        "transaction statements are not allowed in a request: use the interface's begin, commit and rollback"
    } else if SETTINGS.contains(&first.as_str()) {
        "session settings are not allowed in a request"
    } else if MAINTENANCE.contains(&first.as_str()) {
        "maintenance is not allowed in a request"
    } else if OTHER.contains(&first.as_str()) {
        "only SELECT, INSERT, UPDATE, DELETE, WITH, VALUES, TABLE and MERGE run in a request; \
         schema changes are not allowed in a request: put them in a migration"
    } else if first.is_empty() && sql.trim().is_empty() {
        return Err(SqlError::InvalidStatement("the statement is empty".into()));
    } else {
        return Ok(());
    };
    Err(SqlError::InvalidStatement(format!("{why} (the statement begins with {})", first.to_uppercase())))
}

/// The parameters of `statement`, checked against the types PostgreSQL
/// inferred for them.
fn bind(statement: &Statement, params: Vec<SqlValue>) -> Result<Vec<Param>, SqlError> {
    let types = statement.params();
    if params.len() != types.len() {
        return Err(SqlError::InvalidStatement(format!(
            "the statement has {} parameter(s), {} given",
            types.len(),
            params.len()
        )));
    }
    params
        .into_iter()
        .zip(types)
        .enumerate()
        .map(|(index, (value, ty))| {
            if matches!(value, SqlValue::Blob(_)) && base_type(ty) != &Type::BYTEA {
                return Err(SqlError::InvalidStatement(format!(
                    "parameter ${} is a blob, but the statement wants {}: blobs go to bytea",
                    index + 1,
                    ty.name()
                )));
            }
            Ok(Param(value))
        })
        .collect()
}

/// The type a domain is over (itself for other types).
fn base_type(ty: &Type) -> &Type {
    match ty.kind() {
        Kind::Domain(base) => base_type(base),
        _ => ty,
    }
}

/// One parameter: text PostgreSQL parses as the parameter's type, or the
/// bytes of a `bytea`.
#[derive(Debug)]
struct Param(SqlValue);

impl ToSql for Param {
    fn to_sql(&self, ty: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        let integer_type = matches!(*base_type(ty), Type::INT2 | Type::INT4 | Type::INT8);
        match &self.0 {
            SqlValue::Null => return Ok(IsNull::Yes),
            SqlValue::Integer(i) => out.extend_from_slice(i.to_string().as_bytes()),
            SqlValue::Real(r) => out.extend_from_slice(real_text(*r).as_bytes()),
            SqlValue::Text(t) => out.extend_from_slice(t.as_bytes()),
            SqlValue::Blob(b) => out.extend_from_slice(b),
            SqlValue::Boolean(b) if integer_type => out.extend_from_slice(if *b { b"1" } else { b"0" }),
            SqlValue::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        }
        Ok(IsNull::No)
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    fn encode_format(&self, _: &Type) -> Format {
        match self.0 {
            SqlValue::Blob(_) => Format::Binary,
            _ => Format::Text,
        }
    }

    to_sql_checked!();
}

/// A float in the text PostgreSQL's `float8in` reads back exactly.
fn real_text(r: f64) -> String {
    if r.is_nan() {
        "NaN".into()
    } else if r.is_infinite() {
        if r > 0.0 { "Infinity".into() } else { "-Infinity".into() }
    } else {
        // Rust prints the shortest text that reads back as the same f64.
        format!("{r:?}")
    }
}

/// A column's bytes as they came (binary format), decoded by [`decode`].
struct Raw<'a>(Option<&'a [u8]>);

impl<'a> tokio_postgres::types::FromSql<'a> for Raw<'a> {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(Some(raw)))
    }

    fn from_sql_null(_: &Type) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(None))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// A column value of type `ty` in PostgreSQL's binary format.
fn decode(column: &str, ty: &Type, raw: Option<&[u8]>) -> Result<SqlValue, SqlError> {
    use tokio_postgres::types::FromSql;
    let Some(raw) = raw else { return Ok(SqlValue::Null) };
    let bad = |e: Box<dyn std::error::Error + Sync + Send>| {
        SqlError::Internal(format!("column `{column}` ({}): {e}", ty.name()))
    };
    let text = |bytes: &[u8]| {
        String::from_utf8(bytes.to_vec())
            .map(SqlValue::Text)
            .map_err(|_| SqlError::Internal(format!("column `{column}` holds text that is not UTF-8")))
    };
    let ty = base_type(ty);
    if let Kind::Enum(_) = ty.kind() {
        return text(raw);
    }
    Ok(match *ty {
        Type::BOOL => SqlValue::Boolean(bool::from_sql(ty, raw).map_err(bad)?),
        Type::INT2 => SqlValue::Integer(i16::from_sql(ty, raw).map_err(bad)?.into()),
        Type::INT4 => SqlValue::Integer(i32::from_sql(ty, raw).map_err(bad)?.into()),
        Type::INT8 => SqlValue::Integer(i64::from_sql(ty, raw).map_err(bad)?),
        Type::OID => SqlValue::Integer(u32::from_sql(ty, raw).map_err(bad)?.into()),
        Type::FLOAT4 => SqlValue::Real(f32::from_sql(ty, raw).map_err(bad)?.into()),
        Type::FLOAT8 => SqlValue::Real(f64::from_sql(ty, raw).map_err(bad)?),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN | Type::JSON | Type::XML => text(raw)?,
        Type::JSONB => match raw.split_first() {
            Some((1, json)) => text(json)?,
            _ => return Err(SqlError::Internal(format!("column `{column}`: an unknown jsonb format"))),
        },
        Type::BYTEA => SqlValue::Blob(raw.to_vec()),
        Type::UUID => {
            SqlValue::Text(uuid_text(raw).ok_or_else(|| {
                SqlError::Internal(format!("column `{column}`: a uuid is 16 bytes, not {}", raw.len()))
            })?)
        }
        Type::NUMERIC => SqlValue::Text(
            numeric_text(raw).ok_or_else(|| SqlError::Internal(format!("column `{column}`: a malformed numeric")))?,
        ),
        Type::TIMESTAMPTZ => SqlValue::Text(jiff::Timestamp::from_sql(ty, raw).map_err(bad)?.to_string()),
        Type::TIMESTAMP => SqlValue::Text(jiff::civil::DateTime::from_sql(ty, raw).map_err(bad)?.to_string()),
        Type::DATE => SqlValue::Text(jiff::civil::Date::from_sql(ty, raw).map_err(bad)?.to_string()),
        Type::TIME => SqlValue::Text(jiff::civil::Time::from_sql(ty, raw).map_err(bad)?.to_string()),
        _ => {
            return Err(SqlError::InvalidStatement(format!(
                "column `{column}` has type {}, which routes cannot read: cast it in the query \
                 (`{column}::text`)",
                ty.name()
            )));
        }
    })
}

/// `8-4-4-4-12` lowercase hex of 16 bytes.
fn uuid_text(raw: &[u8]) -> Option<String> {
    let bytes: &[u8; 16] = raw.try_into().ok()?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Some(format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..]))
}

/// A `numeric` in PostgreSQL's binary form (base-10000 digits, a weight, a
/// sign and a display scale) as exact decimal text.
fn numeric_text(raw: &[u8]) -> Option<String> {
    let word = |at: usize| raw.get(at..at + 2).map(|b| u16::from_be_bytes([b[0], b[1]]));
    let ndigits = usize::from(word(0)?);
    let weight = i32::from(word(2)? as i16);
    let sign = word(4)?;
    let scale = usize::from(word(6)?);
    let digits: Vec<u16> = (0..ndigits).map(|i| word(8 + 2 * i)).collect::<Option<_>>()?;
    match sign {
        0x0000 | 0x4000 => {}
        0xC000 => return Some("NaN".into()),
        0xD000 => return Some("Infinity".into()),
        0xF000 => return Some("-Infinity".into()),
        _ => return None,
    }
    let digit = |index: i32| usize::try_from(index).ok().and_then(|i| digits.get(i)).copied().unwrap_or(0);
    let mut text = String::new();
    if sign == 0x4000 {
        text.push('-');
    }
    if weight < 0 {
        text.push('0');
    } else {
        for index in 0..=weight {
            if index == 0 {
                text.push_str(&digit(index).to_string());
            } else {
                text.push_str(&format!("{:04}", digit(index)));
            }
        }
    }
    if scale > 0 {
        let mut fraction = String::new();
        let mut index = weight + 1;
        while fraction.len() < scale {
            fraction.push_str(&format!("{:04}", digit(index)));
            index += 1;
        }
        fraction.truncate(scale);
        text.push('.');
        text.push_str(&fraction);
    }
    Some(text)
}

/// A tokio-postgres error as a typed [`SqlError`].
fn classify(error: tokio_postgres::Error) -> SqlError {
    let Some(db) = error.as_db_error() else {
        // No answer from the server: the connection failed or was lost.
        // tokio-postgres keeps the cause (a TLS or socket error) as the
        // source, which its message leaves out.
        let mut message = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            message = format!("{message}: {cause}");
            source = cause.source();
        }
        return SqlError::Unavailable(message);
    };
    let message = match db.detail() {
        Some(detail) => format!("{}: {detail}", db.message()),
        None => db.message().to_owned(),
    };
    let code = db.code();
    let class = &code.code()[..2];
    let constraint = |kind| SqlError::Constraint { kind, message: message.clone() };
    match *code {
        SqlState::UNIQUE_VIOLATION => constraint(ConstraintKind::Unique),
        SqlState::FOREIGN_KEY_VIOLATION => constraint(ConstraintKind::ForeignKey),
        SqlState::NOT_NULL_VIOLATION => constraint(ConstraintKind::NotNull),
        SqlState::CHECK_VIOLATION => constraint(ConstraintKind::Check),
        SqlState::QUERY_CANCELED => SqlError::Timeout(message),
        SqlState::SYNTAX_ERROR if db.message().contains("multiple commands") => {
            SqlError::InvalidStatement(format!("one statement per call: the text holds more ({message})"))
        }
        SqlState::T_R_SERIALIZATION_FAILURE
        | SqlState::T_R_DEADLOCK_DETECTED
        | SqlState::LOCK_NOT_AVAILABLE
        | SqlState::ADMIN_SHUTDOWN
        | SqlState::CRASH_SHUTDOWN
        | SqlState::CANNOT_CONNECT_NOW
        | SqlState::TOO_MANY_CONNECTIONS => SqlError::Unavailable(message),
        _ => match class {
            "23" => constraint(ConstraintKind::Other),
            "08" | "53" | "57" => SqlError::Unavailable(message),
            "54" => SqlError::LimitExceeded(message),
            "42" | "22" | "0A" | "21" | "25" | "2B" | "2F" | "34" | "3B" | "3D" | "3F" | "P0" => {
                SqlError::InvalidStatement(message)
            }
            _ => SqlError::Internal(message),
        },
    }
}

#[cfg(test)]
mod tests {
    use e2e_support::postgres_server::PostgresServer;

    use super::*;
    use crate::sql::conformance;

    /// Converts the suite's SQLite schema to PostgreSQL's types.
    fn schema() -> String {
        conformance::SCHEMA
            .replace("INTEGER PRIMARY KEY", "BIGINT PRIMARY KEY")
            .replace("REAL", "DOUBLE PRECISION")
            .replace("BLOB", "BYTEA")
            .replace("note_id INTEGER", "note_id BIGINT")
    }

    fn database(server: &PostgresServer, limits: SqlLimits) -> PostgresDatabase {
        PostgresDatabase::new("main", &server.url(), limits).expect("a pool")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_passes_the_conformance_suite() {
        let server = PostgresServer::start();
        server.psql(&schema());
        conformance::run(&database(&server, SqlLimits::default())).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn parameters_take_the_statements_types_and_stay_data() {
        let server = PostgresServer::start();
        server.psql(
            "CREATE TABLE typed (n int4, u uuid, t timestamptz, j jsonb, d numeric, b bool, x bytea, f float4, s text)",
        );
        let db = database(&server, SqlLimits::default());
        let mut s = db.session();
        let text = |t: &str| SqlValue::Text(t.into());
        s.execute(
            "INSERT INTO typed VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            vec![
                SqlValue::Integer(42),
                text("6F1C2C1E-9C1F-4B8E-8A3E-0D6F4C7B2A10"),
                text("2026-12-07T04:05:06.5+01:00"),
                text(r#"{"b": 1, "a": [true]}"#),
                SqlValue::Real(0.1),
                SqlValue::Integer(1),
                SqlValue::Blob(vec![0, 1, 254, 255]),
                SqlValue::Real(f64::INFINITY),
                text("'); DROP TABLE typed; --"),
            ],
        )
        .await
        .expect("insert");
        let rows = s.query("SELECT * FROM typed WHERE n = $1 AND b = $2", vec![text("42"), SqlValue::Boolean(true)]);
        assert_eq!(
            rows.await.expect("select").rows,
            [vec![
                SqlValue::Integer(42),
                text("6f1c2c1e-9c1f-4b8e-8a3e-0d6f4c7b2a10"),
                text("2026-12-07T03:05:06.5Z"),
                text(r#"{"a": [true], "b": 1}"#),
                text("0.1"),
                SqlValue::Boolean(true),
                SqlValue::Blob(vec![0, 1, 254, 255]),
                SqlValue::Real(f64::INFINITY),
                text("'); DROP TABLE typed; --"),
            ]]
        );
        match s.execute("INSERT INTO typed (n) VALUES ($1)", vec![text("forty-two")]).await {
            Err(SqlError::InvalidStatement(m)) => assert!(m.contains("invalid input syntax for type integer"), "{m}"),
            other => panic!("expected a refusal, got {other:?}"),
        }
        match s.execute("INSERT INTO typed (n) VALUES ($1)", vec![SqlValue::Blob(vec![1])]).await {
            Err(SqlError::InvalidStatement(m)) => assert!(m.contains("blobs go to bytea"), "{m}"),
            other => panic!("expected a refusal, got {other:?}"),
        }
        match s.execute("INSERT INTO typed (n) VALUES ($1)", vec![SqlValue::Integer(i64::MAX)]).await {
            Err(SqlError::InvalidStatement(m)) => assert!(m.contains("out of range"), "{m}"),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn results_over_the_row_or_byte_limit_are_refused_while_they_are_read() {
        let server = PostgresServer::start();
        let limits = SqlLimits { max_rows: 100, max_result_bytes: 64 << 10, ..SqlLimits::default() };
        let db = database(&server, limits);
        let mut s = db.session();
        let series = "SELECT generate_series(1, $1::int8)";
        assert_eq!(s.query(series, vec![SqlValue::Integer(100)]).await.expect("100 rows").rows.len(), 100);
        match s.query(series, vec![SqlValue::Integer(10_000_000)]).await {
            Err(SqlError::LimitExceeded(m)) => assert!(m.contains("more than 100 rows"), "{m}"),
            other => panic!("expected the row limit, got {other:?}"),
        }
        match s.query("SELECT repeat('x', 100000)", vec![]).await {
            Err(SqlError::LimitExceeded(m)) => assert!(m.contains("larger than 65536 bytes"), "{m}"),
            other => panic!("expected the byte limit, got {other:?}"),
        }
        // The connection those left mid-result is fine for the next call.
        let one = s.query("SELECT 1", vec![]).await.expect("after the limits");
        assert_eq!(one.rows, [vec![SqlValue::Integer(1)]]);
    }

    #[test]
    fn numerics_print_exactly() {
        let numeric = |ndigits: u16, weight: i16, sign: u16, scale: u16, digits: &[u16]| {
            let mut raw = Vec::new();
            for word in [ndigits, weight as u16, sign, scale].iter().chain(digits) {
                raw.extend_from_slice(&word.to_be_bytes());
            }
            numeric_text(&raw).expect("well formed")
        };
        assert_eq!(numeric(0, 0, 0, 0, &[]), "0");
        assert_eq!(numeric(2, 0, 0, 2, &[123, 4500]), "123.45");
        assert_eq!(numeric(1, -1, 0x4000, 3, &[10]), "-0.001");
        assert_eq!(numeric(1, 1, 0, 0, &[1]), "10000");
        assert_eq!(numeric(3, 2, 0, 0, &[12, 3456, 7890]), "1234567890");
        assert_eq!(numeric(0, 0, 0xC000, 0, &[]), "NaN");
        assert_eq!(numeric_text(&[0, 1]), None, "truncated");
    }

    #[test]
    fn only_data_statements_run_in_a_request() {
        for sql in [
            "SELECT 1",
            " -- c\n with x as (select 1) select * from x",
            "insert into t values (1)",
            "TABLE t",
            "(SELECT 1) UNION (SELECT 2)",
            "SELEC 1",
        ] {
            check_statement(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
        for (sql, needle) in [
            ("CREATE TABLE t (x int)", "put them in a migration"),
            ("drop table t", "put them in a migration"),
            ("BEGIN", "use the interface's begin"),
            ("SET statement_timeout = 0", "session settings"),
            ("VACUUM", "maintenance"),
            ("COPY t FROM '/etc/passwd'", "only SELECT"),
            (" ", "empty"),
        ] {
            match check_statement(sql) {
                Err(SqlError::InvalidStatement(m)) => assert!(m.contains(needle), "{sql}: {m}"),
                other => panic!("{sql}: {other:?}"),
            }
        }
    }

    #[test]
    fn the_url_keeps_what_tokio_postgres_reads_and_gives_the_root_certificate() {
        let (url, cert) =
            take_query_param("postgres://u@h/db?sslmode=require&sslrootcert=%2Ftmp%2Fca.pem", "sslrootcert");
        assert_eq!((url.as_str(), cert.as_deref()), ("postgres://u@h/db?sslmode=require", Some("/tmp/ca.pem")));
        let (url, cert) = take_query_param("postgres://u@h/db", "sslrootcert");
        assert_eq!((url.as_str(), cert), ("postgres://u@h/db", None));
        let (config, tls) =
            connection_config("postgres://u@h/db?options=-c%20search_path%3Dapp", SqlLimits::default()).expect("valid");
        assert!(matches!(tls, Tls::Plain));
        assert_eq!(config.get_options(), Some("-c search_path=app -c statement_timeout=5000 -c lock_timeout=5000"));
        assert!(matches!(connection_config("mysql://x", SqlLimits::default()), Err(SqlError::InvalidStatement(_))));
    }
}
