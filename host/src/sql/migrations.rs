//! Schema migrations: a folder of `.sql` files per database, applied in
//! name order (`0001_notes.sql`, `0002_tags.sql`, …), each in its own
//! transaction, each once. What was applied is recorded in the database
//! (`_wasmroutes_migrations`: name and checksum), so a host that starts
//! again applies only what is new, and a migration edited after it was
//! applied is an error rather than a silent difference between databases.
//!
//! Schema changes happen only here: at request time the backends refuse
//! them (see `sqlite.rs`).

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

/// The table that records applied migrations.
pub const TABLE: &str = "_wasmroutes_migrations";

/// One migration file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Migration {
    /// Its file name, which orders and names it (`0001_notes.sql`).
    pub name: String,
    /// The file.
    pub path: PathBuf,
    /// Its statements.
    pub sql: String,
    /// blake3 of the statements, hex.
    pub checksum: String,
}

/// Why migrations could not be read or applied.
#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    /// The folder or a file could not be read.
    #[error("cannot read migrations from {}: {source}", path.display())]
    Read {
        /// The folder or file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A migration file's name is not UTF-8.
    #[error("{}: a migration's file name must be UTF-8", .0.display())]
    Name(PathBuf),
    /// A migration was applied with other contents than its file has now.
    #[error(
        "{}: this migration was applied to database `{database}` with other contents; \
         an applied migration cannot change: put the change in a new migration",
        path.display()
    )]
    Changed {
        /// The database.
        database: String,
        /// The file.
        path: PathBuf,
    },
    /// A migration the database has applied has no file any more.
    #[error(
        "database `{database}` has migration `{name}` applied, but {} has no such file; \
         applied migrations must stay",
        dir.display()
    )]
    Missing {
        /// The database.
        database: String,
        /// The migration's name.
        name: String,
        /// The folder.
        dir: PathBuf,
    },
    /// The database cannot be reached (PostgreSQL); nothing was applied.
    #[error("database `{database}` is unavailable, its migrations were not applied: {message}")]
    Unavailable {
        /// The database.
        database: String,
        /// Why.
        message: String,
    },
    /// A migration failed; nothing of it was applied.
    #[error("{}: migration failed on database `{database}`, nothing of it was applied: {message}", path.display())]
    Failed {
        /// The database.
        database: String,
        /// The file.
        path: PathBuf,
        /// The database's message.
        message: String,
    },
}

/// The `.sql` files of `dir`, in name order.
pub fn read_dir(dir: &Path) -> Result<Vec<Migration>, MigrationError> {
    let read_err = |path: &Path| {
        let path = path.to_owned();
        move |source| MigrationError::Read { path, source }
    };
    let mut migrations = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_err(dir))? {
        let path = entry.map_err(read_err(dir))?.path();
        if path.extension().is_none_or(|e| e != "sql") || !path.is_file() {
            continue;
        }
        let name = path.file_name().and_then(|n| n.to_str()).ok_or_else(|| MigrationError::Name(path.clone()))?;
        let sql = std::fs::read_to_string(&path).map_err(read_err(&path))?;
        let checksum = blake3::hash(sql.as_bytes()).to_hex().to_string();
        migrations.push(Migration { name: name.to_owned(), path, sql, checksum });
    }
    migrations.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(migrations)
}

/// Where one migration stands in a database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MigrationState {
    /// Applied, with the file's current contents.
    Applied,
    /// Not applied yet.
    Pending,
    /// Applied with other contents than the file has now.
    Changed,
    /// Applied, and its file is gone.
    Missing,
}

impl MigrationState {
    /// How `wasmroutes db status` prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            MigrationState::Applied => "applied",
            MigrationState::Pending => "pending",
            MigrationState::Changed => "CHANGED since it was applied",
            MigrationState::Missing => "MISSING: applied, but its file is gone",
        }
    }
}

/// Every migration of `dir` and of the SQLite database at `path`, in name
/// order, with where it stands. Reads only.
pub fn status_sqlite(database: &str, path: &Path, dir: &Path) -> Result<Vec<(String, MigrationState)>, MigrationError> {
    let files = read_dir(dir)?;
    let failed = |e: rusqlite::Error| MigrationError::Failed {
        database: database.to_owned(),
        path: path.to_owned(),
        message: e.to_string(),
    };
    let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(failed)?;
    let recorded: bool = conn
        .query_row("SELECT count(*) FROM sqlite_schema WHERE name = ?1", [TABLE], |r| r.get::<_, i64>(0))
        .map_err(failed)?
        > 0;
    let applied: Vec<(String, String)> = if recorded {
        conn.prepare(&format!("SELECT name, checksum FROM {TABLE}"))
            .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
            .map_err(failed)?
    } else {
        Vec::new()
    };
    Ok(compare(&files, &applied))
}

/// Where each migration stands: those of `files`, and those the database
/// recorded as `applied` (name, checksum) that have no file, in name order.
pub fn compare(files: &[Migration], applied: &[(String, String)]) -> Vec<(String, MigrationState)> {
    let mut states: Vec<(String, MigrationState)> = files
        .iter()
        .map(|m| {
            let state = match applied.iter().find(|(name, _)| name == &m.name) {
                None => MigrationState::Pending,
                Some((_, checksum)) if checksum == &m.checksum => MigrationState::Applied,
                Some(_) => MigrationState::Changed,
            };
            (m.name.clone(), state)
        })
        .collect();
    for (name, _) in applied.iter().filter(|(name, _)| !files.iter().any(|m| &m.name == name)) {
        states.push((name.clone(), MigrationState::Missing));
    }
    states.sort_by(|a, b| a.0.cmp(&b.0));
    states
}

/// Refuses to go on when an applied migration was edited or removed.
fn check_history(
    database: &str,
    dir: &Path,
    files: &[Migration],
    applied: &[(String, String)],
) -> Result<(), MigrationError> {
    for (name, checksum) in applied {
        match files.iter().find(|m| &m.name == name) {
            None => {
                return Err(MigrationError::Missing {
                    database: database.to_owned(),
                    name: name.clone(),
                    dir: dir.to_owned(),
                });
            }
            Some(m) if &m.checksum != checksum => {
                return Err(MigrationError::Changed { database: database.to_owned(), path: m.path.clone() });
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// What [`apply_sqlite`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// Migrations applied now, in order.
    pub now: Vec<String>,
    /// Migrations that were already applied.
    pub before: usize,
}

/// Applies the migrations of `dir` that the SQLite database `database` in
/// `path` has not applied yet. Each runs in its own `BEGIN IMMEDIATE`
/// transaction, which also serialises hosts starting together on the same
/// file: the second finds the migration recorded and skips it.
pub fn apply_sqlite(database: &str, path: &Path, dir: &Path) -> Result<Applied, MigrationError> {
    let migrations = read_dir(dir)?;
    let failed = |path: &Path, e: rusqlite::Error| MigrationError::Failed {
        database: database.to_owned(),
        path: path.to_owned(),
        message: e.to_string(),
    };
    let mut conn = Connection::open(path).map_err(|e| failed(path, e))?;
    conn.busy_timeout(std::time::Duration::from_secs(30)).map_err(|e| failed(path, e))?;
    conn.execute_batch(&format!(
        "PRAGMA foreign_keys = ON; CREATE TABLE IF NOT EXISTS {TABLE} \
         (name TEXT PRIMARY KEY, checksum TEXT NOT NULL, applied_at TEXT NOT NULL)"
    ))
    .map_err(|e| failed(path, e))?;

    let applied: Vec<(String, String)> = conn
        .prepare(&format!("SELECT name, checksum FROM {TABLE} ORDER BY name"))
        .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
        .map_err(|e| failed(path, e))?;
    check_history(database, dir, &migrations, &applied)?;

    let mut report = Applied { now: Vec::new(), before: applied.len() };
    for migration in migrations.iter().filter(|m| !applied.iter().any(|(name, _)| name == &m.name)) {
        let failed = |e: rusqlite::Error| failed(&migration.path, e);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(failed)?;
        // Another host may have applied it since the list was read.
        let recorded: Option<String> = tx
            .query_row(&format!("SELECT checksum FROM {TABLE} WHERE name = ?1"), [&migration.name], |r| r.get(0))
            .optional()
            .map_err(failed)?;
        match recorded {
            Some(checksum) if checksum != migration.checksum => {
                return Err(MigrationError::Changed { database: database.to_owned(), path: migration.path.clone() });
            }
            Some(_) => continue,
            None => {}
        }
        tx.execute_batch(&migration.sql).map_err(failed)?;
        tx.execute(
            &format!(
                "INSERT INTO {TABLE} (name, checksum, applied_at) VALUES (?1, ?2, strftime('%Y-%m-%dT%H:%M:%fZ'))"
            ),
            [&migration.name, &migration.checksum],
        )
        .map_err(failed)?;
        tx.commit().map_err(failed)?;
        report.now.push(migration.name.clone());
    }
    Ok(report)
}

/// The key of the PostgreSQL advisory lock a host holds while it migrates
/// (the bytes of "wasmrout"), so hosts starting together take turns.
const POSTGRES_LOCK: i64 = 0x7761_736d_726f_7574;

/// The migrations a PostgreSQL database recorded: (name, checksum).
async fn recorded_postgres(client: &tokio_postgres::Client) -> Result<Vec<(String, String)>, tokio_postgres::Error> {
    let exists = client.query_one("SELECT to_regclass($1) IS NOT NULL", &[&TABLE]).await?.get::<_, bool>(0);
    if !exists {
        return Ok(Vec::new());
    }
    let rows = client.query(&format!("SELECT name, checksum FROM {TABLE} ORDER BY name"), &[]).await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// A PostgreSQL error while migrating: the database's refusal names the
/// file, anything else (no connection) means the database is unavailable.
fn postgres_failure(database: &str, path: &Path, e: tokio_postgres::Error) -> MigrationError {
    match e.as_db_error() {
        Some(db) => MigrationError::Failed {
            database: database.to_owned(),
            path: path.to_owned(),
            message: db.message().to_owned(),
        },
        None => MigrationError::Unavailable { database: database.to_owned(), message: e.to_string() },
    }
}

/// [`status_sqlite`] for a PostgreSQL database, on `client`. Reads only.
pub async fn status_postgres(
    database: &str,
    client: &tokio_postgres::Client,
    dir: &Path,
) -> Result<Vec<(String, MigrationState)>, MigrationError> {
    let files = read_dir(dir)?;
    let applied = recorded_postgres(client).await.map_err(|e| postgres_failure(database, dir, e))?;
    Ok(compare(&files, &applied))
}

/// [`apply_sqlite`] for a PostgreSQL database, on `client`. Each migration
/// runs in its own transaction (PostgreSQL's DDL is transactional: a
/// failing migration leaves nothing). The host holds an advisory lock from
/// reading the history to the last commit, so of several hosts starting
/// together one applies each migration and the others find it recorded.
pub async fn apply_postgres(
    database: &str,
    client: &mut tokio_postgres::Client,
    dir: &Path,
) -> Result<Applied, MigrationError> {
    let migrations = read_dir(dir)?;
    let fail = |path: &Path| {
        let path = path.to_owned();
        move |e| postgres_failure(database, &path, e)
    };
    client.execute("SELECT pg_advisory_lock($1)", &[&POSTGRES_LOCK]).await.map_err(fail(dir))?;
    let result = apply_postgres_locked(database, client, dir, &migrations).await;
    // Unlocked by ending the session too, if this fails.
    let unlocked = client.execute("SELECT pg_advisory_unlock($1)", &[&POSTGRES_LOCK]).await.map_err(fail(dir));
    let applied = result?;
    unlocked?;
    Ok(applied)
}

async fn apply_postgres_locked(
    database: &str,
    client: &mut tokio_postgres::Client,
    dir: &Path,
    migrations: &[Migration],
) -> Result<Applied, MigrationError> {
    let fail = |path: &Path| {
        let path = path.to_owned();
        move |e| postgres_failure(database, &path, e)
    };
    client
        .batch_execute(&format!(
            "CREATE TABLE IF NOT EXISTS {TABLE} \
             (name TEXT PRIMARY KEY, checksum TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        ))
        .await
        .map_err(fail(dir))?;
    let applied = recorded_postgres(client).await.map_err(fail(dir))?;
    check_history(database, dir, migrations, &applied)?;
    let mut report = Applied { now: Vec::new(), before: applied.len() };
    for migration in migrations.iter().filter(|m| !applied.iter().any(|(name, _)| name == &m.name)) {
        let tx = client.transaction().await.map_err(fail(&migration.path))?;
        tx.batch_execute(&migration.sql).await.map_err(fail(&migration.path))?;
        tx.execute(
            &format!("INSERT INTO {TABLE} (name, checksum) VALUES ($1, $2)"),
            &[&migration.name, &migration.checksum],
        )
        .await
        .map_err(fail(&migration.path))?;
        tx.commit().await.map_err(fail(&migration.path))?;
        report.now.push(migration.name.clone());
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, sql: &str) {
        std::fs::create_dir_all(dir).expect("folder");
        std::fs::write(dir.join(name), sql).expect("write");
    }

    #[test]
    fn migrations_apply_in_name_order_once_each() {
        let temp = tempfile::tempdir().expect("temp dir");
        let (dir, db) = (temp.path().join("migrations"), temp.path().join("main.sqlite"));
        write(&dir, "0002_tags.sql", "CREATE TABLE tags (note_id INTEGER REFERENCES notes (id), tag TEXT);");
        write(&dir, "0001_notes.sql", "CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT);\n-- a comment\n");
        write(&dir, "README.md", "not a migration");

        let first = apply_sqlite("main", &db, &dir).expect("apply");
        assert_eq!(first, Applied { now: vec!["0001_notes.sql".into(), "0002_tags.sql".into()], before: 0 });
        let again = apply_sqlite("main", &db, &dir).expect("apply again");
        assert_eq!(again, Applied { now: vec![], before: 2 });

        write(&dir, "0003_index.sql", "CREATE INDEX notes_title ON notes (title);");
        assert_eq!(apply_sqlite("main", &db, &dir).expect("a new one").now, ["0003_index.sql"]);
        let conn = Connection::open(&db).expect("open");
        let tables: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_schema WHERE type IN ('table', 'index') ORDER BY name")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .expect("schema");
        assert_eq!(tables, [TABLE, "notes", "notes_title", "sqlite_autoindex__wasmroutes_migrations_1", "tags"]);
    }

    #[test]
    fn a_failing_migration_leaves_nothing_and_names_its_file() {
        let temp = tempfile::tempdir().expect("temp dir");
        let (dir, db) = (temp.path().join("m"), temp.path().join("main.sqlite"));
        write(&dir, "0001_ok.sql", "CREATE TABLE a (x);");
        write(&dir, "0002_bad.sql", "CREATE TABLE b (x); INSERT INTO nowhere VALUES (1);");
        let err = apply_sqlite("main", &db, &dir).expect_err("the second fails").to_string();
        assert!(err.contains("0002_bad.sql: migration failed on database `main`"), "{err}");
        assert!(err.contains("no such table: nowhere"), "{err}");
        let conn = Connection::open(&db).expect("open");
        let b: Option<String> = conn
            .query_row("SELECT name FROM sqlite_schema WHERE name = 'b'", [], |r| r.get(0))
            .optional()
            .expect("query");
        assert_eq!(b, None, "the failed migration's first statement was rolled back too");
        let applied: i64 = conn.query_row(&format!("SELECT count(*) FROM {TABLE}"), [], |r| r.get(0)).expect("count");
        assert_eq!(applied, 1, "the first one stays applied");
    }

    #[test]
    fn an_edited_or_deleted_applied_migration_is_an_error() {
        let temp = tempfile::tempdir().expect("temp dir");
        let (dir, db) = (temp.path().join("m"), temp.path().join("main.sqlite"));
        write(&dir, "0001_a.sql", "CREATE TABLE a (x);");
        apply_sqlite("main", &db, &dir).expect("apply");

        write(&dir, "0001_a.sql", "CREATE TABLE a (x, y);");
        let err = apply_sqlite("main", &db, &dir).expect_err("edited").to_string();
        assert!(err.contains("0001_a.sql: this migration was applied to database `main` with other contents"), "{err}");

        write(&dir, "0002_b.sql", "CREATE TABLE b (x);");
        let states = status_sqlite("main", &db, &dir).expect("status");
        assert_eq!(
            states,
            [("0001_a.sql".into(), MigrationState::Changed), ("0002_b.sql".into(), MigrationState::Pending)]
        );

        std::fs::remove_file(dir.join("0001_a.sql")).expect("remove");
        let err = apply_sqlite("main", &db, &dir).expect_err("deleted").to_string();
        assert!(err.contains("has migration `0001_a.sql` applied, but"), "{err}");
        let states = status_sqlite("main", &db, &dir).expect("status");
        assert_eq!(states[0], ("0001_a.sql".into(), MigrationState::Missing));
    }

    #[test]
    fn hosts_starting_together_apply_each_migration_once() {
        let temp = tempfile::tempdir().expect("temp dir");
        let (dir, db) = (temp.path().join("m"), temp.path().join("main.sqlite"));
        for i in 0..20 {
            write(&dir, &format!("{i:04}.sql"), &format!("CREATE TABLE t{i} (x); INSERT INTO t{i} VALUES ({i});"));
        }
        let applied: Vec<Applied> = std::thread::scope(|s| {
            let runs: Vec<_> = (0..4).map(|_| s.spawn(|| apply_sqlite("main", &db, &dir).expect("apply"))).collect();
            runs.into_iter().map(|r| r.join().expect("thread")).collect()
        });
        assert_eq!(applied.iter().map(|a| a.now.len()).sum::<usize>(), 20, "{applied:?}");
        let conn = Connection::open(&db).expect("open");
        let rows: i64 = conn.query_row("SELECT count(*) FROM t19", [], |r| r.get(0)).expect("count");
        assert_eq!(rows, 1);
    }
}
