//! Every SQL database of a deployment, each opened (and migrated) when the
//! first route that lists it is loaded, and kept for the host's whole life:
//! `serve --watch` reloads swap routes, never databases (a changed
//! `[database.NAME]` needs a restart, and a reload that tries says so). A
//! database no route uses is never opened. Each route gets a
//! [`RouteDatabases`]: only the databases its `databases` lists.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use super::backend::Database;
use super::migrations::{self, MigrationError};
use super::postgres::PostgresDatabase;
use super::sqlite::SqliteDatabase;
use super::{SqlError, SqlLimits};
use crate::config::{DatabaseBackend, DatabaseConfig};

/// How long `/readyz` waits for one database to answer.
const PING_TIMEOUT: Duration = Duration::from_secs(1);

/// The state of one open database, for `/readyz`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatabaseHealth {
    /// The database's name.
    pub name: String,
    /// Its `type`.
    pub kind: &'static str,
    /// `None` when it answered; else why not.
    pub error: Option<String>,
}

/// Why a database could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DatabasesError {
    /// The database cannot be opened.
    #[error("database `{database}`: {source}")]
    Open {
        /// The database.
        database: String,
        /// Why.
        source: SqlError,
    },
    /// Its migrations cannot be read or applied.
    #[error(transparent)]
    Migrate(#[from] MigrationError),
    /// A route lists a database the configuration does not have.
    #[error("database `{0}` is not configured; add a `[database.{0}]` table")]
    Unconfigured(String),
    /// `routes.toml` no longer configures the databases this host opened.
    #[error("databases changed ({0}); databases are opened once, restart `wasmroutes serve` to apply the change")]
    Changed(String),
}

/// The configured databases, and the ones open so far.
pub struct Databases {
    configs: BTreeMap<String, DatabaseConfig>,
    /// Where SQLite files live; `None`: never open anything.
    data_dir: Option<PathBuf>,
    open: Mutex<BTreeMap<String, Arc<dyn Database>>>,
}

impl Databases {
    /// Asks every open database whether it answers, all at once, each
    /// within `PING_TIMEOUT`.
    pub async fn health(&self) -> Vec<DatabaseHealth> {
        let open: Vec<(String, Arc<dyn Database>)> = self
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(name, db)| (name.clone(), Arc::clone(db)))
            .collect();
        let checks: Vec<_> = open
            .into_iter()
            .map(|(name, db)| {
                let kind = self.configs.get(&name).map_or("sqlite", |c| c.backend.kind());
                tokio::spawn(async move {
                    let error = match tokio::time::timeout(PING_TIMEOUT, db.ping()).await {
                        Ok(Ok(())) => None,
                        Ok(Err(e)) => Some(e.to_string()),
                        Err(_) => Some(format!("unavailable: no answer within {PING_TIMEOUT:?}")),
                    };
                    DatabaseHealth { name, kind, error }
                })
            })
            .collect();
        let mut health = Vec::with_capacity(checks.len());
        for check in checks {
            if let Ok(h) = check.await {
                health.push(h);
            }
        }
        health
    }
}

impl Databases {
    /// The databases of `configs`, opened as routes need them: SQLite files
    /// under `data_dir`.
    pub fn new(configs: &BTreeMap<String, DatabaseConfig>, data_dir: &Path) -> Databases {
        Databases { configs: configs.clone(), data_dir: Some(data_dir.to_owned()), open: Mutex::default() }
    }

    /// The configuration without opening anything: for commands that load
    /// routes without serving them (`check`, `routes`, `precompile`).
    pub fn unopened(configs: &BTreeMap<String, DatabaseConfig>) -> Databases {
        Databases { configs: configs.clone(), data_dir: None, open: Mutex::default() }
    }

    /// The file of the SQLite database `name` under `data_dir`.
    pub fn sqlite_path(data_dir: &Path, name: &str) -> PathBuf {
        data_dir.join("sql").join(format!("{name}.sqlite"))
    }

    /// Opens one database and applies its migrations. Blocking; a PostgreSQL
    /// database needs to be called on a blocking thread of the runtime.
    pub fn open_one(config: &DatabaseConfig, data_dir: &Path) -> Result<Arc<dyn Database>, DatabasesError> {
        match &config.backend {
            DatabaseBackend::Sqlite => {
                let path = Self::sqlite_path(data_dir, &config.name);
                let database = open_sqlite(&config.name, &path, config.limits)?;
                if let Some(dir) = &config.migrations {
                    let applied = migrations::apply_sqlite(&config.name, &path, dir)?;
                    if !applied.now.is_empty() {
                        tracing::info!(database = %config.name, "applied migrations {}", applied.now.join(", "));
                    }
                }
                Ok(Arc::new(database))
            }
            DatabaseBackend::Postgres { url } => {
                let database = PostgresDatabase::new(&config.name, url.as_str(), config.limits)
                    .map_err(|source| DatabasesError::Open { database: config.name.clone(), source })?;
                if let Some(dir) = &config.migrations {
                    // Route loading runs on a blocking thread of the runtime
                    // (see RouteTable::load); commands enter one first.
                    let runtime = tokio::runtime::Handle::try_current().map_err(|_| DatabasesError::Open {
                        database: config.name.clone(),
                        source: SqlError::Internal("PostgreSQL needs the async runtime".into()),
                    })?;
                    runtime.block_on(database.migrate_or_wait(dir.clone()))?;
                }
                Ok(Arc::new(database))
            }
        }
    }

    /// Whether `configs` is what these databases were opened with; a
    /// reload calls it before it loads anything.
    pub fn check_unchanged(&self, configs: &BTreeMap<String, DatabaseConfig>) -> Result<(), DatabasesError> {
        match crate::config::named_changes(&self.configs, configs) {
            None => Ok(()),
            Some(changes) => Err(DatabasesError::Changed(changes)),
        }
    }

    /// The databases a route may open: the ones it lists, opened now if no
    /// route opened them before.
    pub fn for_route(&self, names: &[String]) -> Result<Arc<RouteDatabases>, DatabasesError> {
        let Some(data_dir) = &self.data_dir else { return Ok(Arc::default()) };
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let mut allowed = BTreeMap::new();
        for name in names {
            let config = self.configs.get(name).ok_or_else(|| DatabasesError::Unconfigured(name.clone()))?;
            let database = match open.get(name) {
                Some(database) => Arc::clone(database),
                None => {
                    let database = Self::open_one(config, data_dir)?;
                    open.insert(name.clone(), Arc::clone(&database));
                    database
                }
            };
            allowed.insert(name.clone(), database);
        }
        Ok(Arc::new(RouteDatabases { allowed }))
    }
}

fn open_sqlite(name: &str, path: &Path, limits: SqlLimits) -> Result<SqliteDatabase, DatabasesError> {
    SqliteDatabase::open(name, path, limits)
        .map_err(|source| DatabasesError::Open { database: name.to_owned(), source })
}

/// The databases one route may open.
#[derive(Default)]
pub struct RouteDatabases {
    allowed: BTreeMap<String, Arc<dyn Database>>,
}

impl RouteDatabases {
    /// The database `name`, if the route declared it.
    pub fn open(&self, name: &str) -> Option<&Arc<dyn Database>> {
        self.allowed.get(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn configs(migrations: Option<PathBuf>) -> BTreeMap<String, DatabaseConfig> {
        let main = DatabaseConfig {
            name: "main".into(),
            backend: DatabaseBackend::Sqlite,
            migrations,
            limits: SqlLimits::default(),
        };
        [("main".to_owned(), main)].into()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn databases_open_and_migrate_when_a_route_lists_them_and_only_then() {
        let dir = tempfile::tempdir().expect("temp dir");
        let migrations = dir.path().join("migrations");
        std::fs::create_dir(&migrations).expect("folder");
        std::fs::write(migrations.join("0001.sql"), "CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT);")
            .expect("write");
        let databases = Databases::new(&configs(Some(migrations)), dir.path());
        assert!(databases.for_route(&[]).expect("none").open("main").is_none());
        assert!(!Databases::sqlite_path(dir.path(), "main").exists(), "nothing opened yet");

        let route = databases.for_route(&["main".to_owned()]).expect("open");
        let main = route.open("main").expect("listed");
        let mut session = main.session();
        session
            .execute("INSERT INTO notes (title) VALUES ($1)", vec![crate::sql::SqlValue::Text("a".into())])
            .await
            .expect("the migration made the table");
        let again = databases.for_route(&["main".to_owned()]).expect("already open");
        assert!(Arc::ptr_eq(main, again.open("main").expect("main")), "opened once");
        let err = databases.for_route(&["nope".to_owned()]).err().expect("unconfigured");
        assert!(err.to_string().contains("`nope` is not configured"), "{err}");
    }

    #[test]
    fn unopened_databases_touch_nothing_and_a_changed_configuration_is_named() {
        let dir = tempfile::tempdir().expect("temp dir");
        let databases = Databases::unopened(&configs(None));
        assert!(databases.for_route(&["main".to_owned()]).expect("nothing to open").open("main").is_none());
        assert!(std::fs::read_dir(dir.path()).expect("dir").next().is_none());
        databases.check_unchanged(&configs(None)).expect("same");
        let err = databases.check_unchanged(&configs(Some("m".into()))).expect_err("changed").to_string();
        assert!(err.contains("`main` changed") && err.contains("restart"), "{err}");
    }
}
