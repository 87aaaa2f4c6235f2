//! The `[database.NAME]` tables of `routes.toml`: SQL databases routes may
//! open by name (those their `databases` key lists).

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::Spanned;

use super::env::interpolate;
use super::location::{ConfigError, TomlText};
use super::schema::DatabaseToml;
use crate::limits::{parse_duration, parse_size};
use crate::sql::SqlLimits;

/// One `[database.NAME]` table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatabaseConfig {
    /// The name routes open it by.
    pub name: String,
    /// Where its data lives.
    pub backend: DatabaseBackend,
    /// The folder of its migrations (`migrations`, relative to
    /// `routes.toml`), applied at start; `None`: no schema managed here.
    pub migrations: Option<PathBuf>,
    /// Its per-call limits.
    pub limits: SqlLimits,
}

impl DatabaseConfig {
    /// The one database a route tree (`--dir`) has, without a table.
    pub const DEFAULT: &'static str = "default";

    /// The folder of a route tree that holds its `default` database's
    /// migrations: the `_` that keeps it out of routing (a Next.js private
    /// folder) also keeps it from being mistaken for a route.
    pub const TREE_MIGRATIONS: &'static str = "_migrations";

    /// The database `default` is in a route tree: what `[database.default]
    /// type = "sqlite"` with `migrations` and default limits would give.
    pub fn implicit_default(migrations: Option<PathBuf>) -> DatabaseConfig {
        DatabaseConfig {
            name: Self::DEFAULT.to_owned(),
            backend: DatabaseBackend::Sqlite,
            migrations,
            limits: SqlLimits::default(),
        }
    }
}

/// A database's backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatabaseBackend {
    /// A SQLite file under the data directory: durable, one host.
    Sqlite,
    /// A PostgreSQL server several hosts share.
    Postgres {
        /// `postgres://…`, `${VAR}` interpolated.
        url: String,
    },
}

impl DatabaseBackend {
    /// The name `type` gives it.
    pub fn kind(&self) -> &'static str {
        match self {
            DatabaseBackend::Sqlite => "sqlite",
            DatabaseBackend::Postgres { .. } => "postgres",
        }
    }
}

/// The largest `max_rows` a table may set.
const MAX_MAX_ROWS: u32 = 1_000_000;
/// The largest `max_result_size`: a result passes whole through the guest's
/// memory, whose largest limit this is not far from.
const MAX_MAX_RESULT_SIZE: u64 = 256 << 20;

/// The `[database.NAME]` tables, with `migrations` resolved against `base_dir`.
pub(super) fn parse_databases(
    tables: BTreeMap<Spanned<String>, Spanned<DatabaseToml>>,
    toml_text: &TomlText<'_>,
    base_dir: &Path,
    lookup_env: &dyn Fn(&str) -> Option<String>,
) -> Result<BTreeMap<String, DatabaseConfig>, ConfigError> {
    let mut databases = BTreeMap::new();
    for (name, table) in tables {
        let invalid = |span: Range<usize>, message: String| toml_text.invalid(span, message);
        let label = format!("database.{}", name.get_ref());
        check_database_name(name.get_ref()).map_err(|m| invalid(name.span(), format!("{label}: {m}")))?;
        let table_span = table.span();
        let table = table.into_inner();
        let kind = table.kind.ok_or_else(|| {
            invalid(table_span.clone(), format!("{label}: missing `type`: write type = \"sqlite\" or \"postgres\""))
        })?;
        let backend = match kind.get_ref().as_str() {
            "sqlite" => {
                if let Some(url) = &table.url {
                    return Err(invalid(url.span(), format!("{label}: `url` is for type = \"postgres\"; remove it")));
                }
                DatabaseBackend::Sqlite
            }
            "postgres" => {
                let url = table.url.ok_or_else(|| {
                    invalid(table_span.clone(), format!("{label}: missing `url`, e.g. url = \"${{DATABASE_URL}}\""))
                })?;
                let resolved = interpolate(url.get_ref(), lookup_env).map_err(|m| invalid(url.span(), m))?;
                if !(resolved.starts_with("postgres://") || resolved.starts_with("postgresql://")) {
                    return Err(invalid(
                        url.span(),
                        format!(
                            "{label}: `url` must start with postgres:// or postgresql://, \
                             e.g. postgres://app:secret@127.0.0.1:5432/app"
                        ),
                    ));
                }
                if let Err(e) = crate::sql::postgres::check_url(&resolved) {
                    return Err(invalid(url.span(), format!("{label}: `url` is not a valid PostgreSQL URL: {e}")));
                }
                DatabaseBackend::Postgres { url: resolved }
            }
            other => {
                return Err(invalid(
                    kind.span(),
                    format!("{label}: type must be \"sqlite\" or \"postgres\", not {other:?}"),
                ));
            }
        };
        let migrations = match &table.migrations {
            None => None,
            Some(m) if m.get_ref().trim().is_empty() => {
                return Err(invalid(m.span(), format!("{label}.migrations is empty: give a folder of .sql files")));
            }
            Some(m) => Some(base_dir.join(m.get_ref())),
        };
        let mut limits = SqlLimits::default();
        if let Some(v) = &table.max_rows {
            if !(1..=MAX_MAX_ROWS).contains(v.get_ref()) {
                return Err(invalid(v.span(), format!("{label}.max_rows must be between 1 and {MAX_MAX_ROWS}")));
            }
            limits.max_rows = *v.get_ref() as usize;
        }
        if let Some(v) = &table.max_result_size {
            let bytes =
                parse_size(v.get_ref()).map_err(|m| invalid(v.span(), format!("{label}.max_result_size: {m}")))?;
            if bytes == 0 || bytes > MAX_MAX_RESULT_SIZE {
                return Err(invalid(v.span(), format!("{label}.max_result_size must be between 1B and 256MiB")));
            }
            limits.max_result_bytes = bytes as usize;
        }
        if let Some(v) = &table.statement_timeout {
            limits.statement_timeout = parse_duration(v.get_ref())
                .map_err(|m| invalid(v.span(), format!("{label}.statement_timeout: {m}")))?;
            if limits.statement_timeout.is_zero() {
                return Err(invalid(v.span(), format!("{label}.statement_timeout must be more than zero")));
            }
        }
        databases
            .insert(name.get_ref().clone(), DatabaseConfig { name: name.into_inner(), backend, migrations, limits });
    }
    Ok(databases)
}

/// Database names: what a route passes to `open`, and a file name for
/// SQLite databases, so letters, digits, `_` and `-` only.
pub(super) fn check_database_name(name: &str) -> Result<(), String> {
    let ok = (1..=64).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && !name.starts_with('-');
    if ok {
        Ok(())
    } else {
        Err(format!("`{name}` is not a valid database name (1 to 64 letters, digits, `_` or `-`)"))
    }
}
