//! `wasmroutes db`: apply and inspect a database's migrations, and run one
//! statement, through the same backend and rules the routes use.
//!
//! A SQLite database is locked by the server that has it open; this command
//! then stops with a message saying so instead of writing beside it. A
//! PostgreSQL database is shared: migrating it while hosts run is safe
//! (hosts and this command take turns on an advisory lock).

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};
use wasmroutes::config::manifest_source::ManifestSource;
use wasmroutes::config::{DatabaseBackend, DatabaseConfig};
use wasmroutes::sql::migrations::{self, MigrationState};
use wasmroutes::sql::postgres::PostgresDatabase;
use wasmroutes::sql::{Database, Databases, SqlError, SqlValue};

/// Migrate, inspect or query a SQL database of ROUTES_TOML (or the `default` database of a --dir tree).
#[derive(clap::Args)]
pub struct DbArgs {
    #[command(flatten)]
    manifest: super::load::ManifestArgs,
    /// The database, as named in `[database.NAME]` [default: the only one].
    #[arg(long)]
    database: Option<String>,
    /// Where SQLite databases keep their files [default: .wasmroutes/ beside ROUTES_TOML or the tree].
    #[arg(long, env = "WASMROUTES_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    op: DbOp,
}

/// What to do.
#[derive(clap::Subcommand)]
enum DbOp {
    /// Apply the migrations not applied yet (what `serve` does at start).
    Migrate,
    /// List every migration: applied, pending, or changed since it was applied.
    Status,
    /// Run one statement with parameters ($1, $2…) and print its rows
    /// (tab-separated, a header first) or how many rows it changed.
    /// Schema changes are refused here as in routes: they belong in migrations.
    Query {
        /// The statement.
        sql: String,
        /// Its parameters: an integer, a real, `null`, or else text.
        params: Vec<String>,
    },
}

/// Opens the database and runs the operation.
pub fn run(args: DbArgs) -> anyhow::Result<()> {
    let source = args.manifest.source();
    let config = source.read()?;
    let names: Vec<&str> = config.databases.keys().map(String::as_str).collect();
    let database = match (&args.database, names.as_slice()) {
        (Some(name), _) => config
            .databases
            .get(name)
            .with_context(|| format!("{source} configures no database `{name}` (it has: {})", names.join(", ")))?,
        (None, [only]) => &config.databases[*only],
        (None, []) => bail!("{source} configures no database: add a `[database.NAME]` table"),
        (None, _) => bail!("{source} configures several databases ({}): name one with --database", names.join(", ")),
    };
    let data_dir = args.data_dir.unwrap_or_else(|| config.default_data_dir());
    match args.op {
        DbOp::Status => status(database, &source, &data_dir),
        DbOp::Migrate => migrate(database, &source, &data_dir),
        DbOp::Query { sql, params } => query(database, &data_dir, &sql, &params),
    }
}

fn migrations_dir<'a>(database: &'a DatabaseConfig, source: &ManifestSource) -> anyhow::Result<&'a PathBuf> {
    database.migrations.as_ref().with_context(|| match source {
        ManifestSource::File(_) => format!("database `{}` has no `migrations` folder", database.name),
        ManifestSource::Dir(tree) => format!(
            "database `{}` has no migrations: a route tree keeps them in {}, a folder of .sql files",
            database.name,
            tree.join(DatabaseConfig::TREE_MIGRATIONS).display()
        ),
    })
}

/// A runtime for the PostgreSQL client (and a query's session).
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?)
}

/// A pool for a PostgreSQL database; connects when first used.
fn postgres(database: &DatabaseConfig, url: &str) -> anyhow::Result<PostgresDatabase> {
    PostgresDatabase::new(&database.name, url, database.limits)
        .with_context(|| format!("cannot open database `{}`", database.name))
}

/// Opens (and so locks) a SQLite database, refusing while a server has
/// it; a PostgreSQL database as it is, without migrating it.
fn open(database: &DatabaseConfig, data_dir: &std::path::Path) -> anyhow::Result<std::sync::Arc<dyn Database>> {
    if let DatabaseBackend::Postgres { url } = &database.backend {
        return Ok(std::sync::Arc::new(postgres(database, url)?));
    }
    Databases::open_one(database, data_dir)
        .with_context(|| format!("cannot open database `{}`", database.name))
        .context("stop the server that has it open (or use a copy of the data dir with --data-dir) and run this again")
}

fn migrate(database: &DatabaseConfig, source: &ManifestSource, data_dir: &std::path::Path) -> anyhow::Result<()> {
    let dir = migrations_dir(database, source)?;
    if let DatabaseBackend::Postgres { url } = &database.backend {
        let applied =
            runtime()?.block_on(async { postgres(database, url)?.migrate(dir).await.map_err(anyhow::Error::from) })?;
        if applied.now.is_empty() {
            println!("database `{}`: up to date ({} migration(s) applied)", database.name, applied.before);
        } else {
            println!("database `{}`: applied {}", database.name, applied.now.join(", "));
        }
        return Ok(());
    }
    // Opening applies the migrations, as a server's start does.
    let path = Databases::sqlite_path(data_dir, &database.name);
    let before = if path.exists() { migrations::status_sqlite(&database.name, &path, dir)? } else { Vec::new() };
    let _open = open(database, data_dir)?;
    let after = migrations::status_sqlite(&database.name, &path, dir)?;
    let applied: Vec<&str> = after
        .iter()
        .filter(|(name, state)| {
            *state == MigrationState::Applied && !before.iter().any(|(b, s)| b == name && *s == MigrationState::Applied)
        })
        .map(|(name, _)| name.as_str())
        .collect();
    if applied.is_empty() {
        println!("database `{}`: up to date ({} migration(s) applied)", database.name, after.len());
    } else {
        println!("database `{}`: applied {}", database.name, applied.join(", "));
    }
    Ok(())
}

fn status(database: &DatabaseConfig, source: &ManifestSource, data_dir: &std::path::Path) -> anyhow::Result<()> {
    let dir = migrations_dir(database, source)?;
    let path = Databases::sqlite_path(data_dir, &database.name);
    let states = if let DatabaseBackend::Postgres { url } = &database.backend {
        runtime()?
            .block_on(async { postgres(database, url)?.migration_status(dir).await.map_err(anyhow::Error::from) })?
    } else if path.exists() {
        migrations::status_sqlite(&database.name, &path, dir)?
    } else {
        migrations::read_dir(dir)?.into_iter().map(|m| (m.name, MigrationState::Pending)).collect()
    };
    let mut out = std::io::stdout().lock();
    for (name, state) in &states {
        writeln!(out, "{name}\t{}", state.as_str())?;
    }
    let bad = states.iter().filter(|(_, s)| matches!(s, MigrationState::Changed | MigrationState::Missing)).count();
    if bad > 0 {
        bail!("{bad} migration(s) of database `{}` differ from what was applied", database.name);
    }
    Ok(())
}

fn query(database: &DatabaseConfig, data_dir: &std::path::Path, sql: &str, params: &[String]) -> anyhow::Result<()> {
    let db = open(database, data_dir)?;
    let params: Vec<SqlValue> = params.iter().map(|p| parameter(p)).collect();
    let runtime = runtime()?;
    let name = &database.name;
    runtime.block_on(async {
        let mut session = db.session();
        // A statement that returns rows is refused by `execute`, saying so.
        match session.execute(sql, params.clone()).await {
            Ok(done) => {
                println!("{} row(s) changed", done.rows_affected);
                Ok(())
            }
            Err(SqlError::InvalidStatement(m)) if m.contains("returns rows") => {
                let rows = session.query(sql, params).await.with_context(|| format!("query on `{name}`"))?;
                let mut out = std::io::stdout().lock();
                writeln!(out, "{}", rows.columns.join("\t"))?;
                for row in rows.rows {
                    let cells: Vec<String> = row.iter().map(cell).collect();
                    writeln!(out, "{}", cells.join("\t"))?;
                }
                Ok(())
            }
            Err(e) => Err(anyhow::Error::new(e).context(format!("statement on `{name}`"))),
        }
    })
}

/// A parameter as typed on the command line.
fn parameter(text: &str) -> SqlValue {
    if text == "null" {
        SqlValue::Null
    } else if let Ok(i) = text.parse::<i64>() {
        SqlValue::Integer(i)
    } else if let Some(r) = text.parse::<f64>().ok().filter(|r| r.is_finite() && text.contains('.')) {
        SqlValue::Real(r)
    } else {
        SqlValue::Text(text.to_owned())
    }
}

/// A value as printed: text as is, blobs as SQL hex literals.
fn cell(value: &SqlValue) -> String {
    match value {
        SqlValue::Null => "NULL".into(),
        SqlValue::Integer(i) => i.to_string(),
        SqlValue::Real(r) => r.to_string(),
        SqlValue::Text(t) => t.clone(),
        SqlValue::Blob(b) => format!("x'{}'", b.iter().map(|byte| format!("{byte:02x}")).collect::<String>()),
        SqlValue::Boolean(b) => b.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_read_as_their_kind() {
        assert_eq!(parameter("42"), SqlValue::Integer(42));
        assert_eq!(parameter("-1.5"), SqlValue::Real(-1.5));
        assert_eq!(parameter("null"), SqlValue::Null);
        assert_eq!(parameter("inf"), SqlValue::Text("inf".into()));
        assert_eq!(parameter("1e3"), SqlValue::Text("1e3".into()), "a real is written with a point");
        assert_eq!(parameter("ada"), SqlValue::Text("ada".into()));
        assert_eq!(cell(&SqlValue::Blob(vec![0, 255])), "x'00ff'");
    }
}
