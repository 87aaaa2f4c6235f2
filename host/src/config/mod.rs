//! `routes.toml`: the deployment manifest, parsed and validated with no I/O
//! beyond reading the file itself and the host environment for `${VAR}`.
//! The per-route keys are read by one function whichever file holds them: a
//! `[[route]]` table here, or a `route.toml` of a route tree ([`crate::config::route_dir`]).
//!
//! Every problem is reported as `file:line:column: message`, and nothing is
//! half-loaded: either every route is valid or the whole file is rejected.
//!
//! One file per step: `schema.rs` is what serde reads, `route.rs` turns a
//! route's keys into a [`RouteConfig`], `cors.rs` its `cors` table,
//! `stores.rs` the store tables, `env.rs` `${VAR}` interpolation,
//! `conflicts.rs` the one overlap check, and `location.rs` turns byte spans
//! into `file:line:column`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::cors::CorsPolicy;
use crate::limits::Limits;
use crate::outbound::OutboundPolicy;
use crate::routing::pattern::RoutePattern;

mod build_step;
mod conflicts;
mod cors;
mod databases;
mod env;
mod location;
pub mod manifest_source;
mod route;
pub mod route_dir;
mod schema;
mod stores;
#[cfg(test)]
mod tests;

pub use build_step::{BuildStep, JS_SOURCE_EXTENSIONS, is_js_source};
pub use conflicts::check_conflicts;
pub use databases::{DatabaseBackend, DatabaseConfig};
use location::TomlText;
pub use location::{ConfigError, Location};
pub(crate) use route::tree_route;

/// One `[[route]]` entry, validated.
#[derive(Clone, Debug)]
pub struct RouteConfig {
    /// The URL pattern.
    pub pattern: RoutePattern,
    /// The component file, resolved against the directory of `routes.toml`.
    pub component: PathBuf,
    /// What `wasmroutes build` runs to make `component`: the route's `build`
    /// command, or the JavaScript toolchain for a `route.js`/`route.ts`.
    pub build: Option<BuildStep>,
    /// Globs (relative to the manifest's directory) of the sources `build`
    /// reads: with `serve --watch`, a change to a matching file runs `build`.
    /// A JavaScript route always watches its route file.
    /// Each one is known to compile.
    pub watch: Vec<String>,
    /// Environment the guest sees, `${VAR}` already interpolated.
    pub env: Vec<(String, String)>,
    /// Resource limits.
    pub limits: Limits,
    /// Where the guest may send HTTP requests (default: nowhere).
    pub outbound: OutboundPolicy,
    /// Fresh instance per request (default), or reuse.
    pub isolation: Isolation,
    /// The key-value stores the guest may open (default: none). Each names
    /// a store of [`RoutesConfig::stores`].
    pub key_value_stores: Vec<String>,
    /// The SQL databases the guest may open (default: none). Each names a
    /// database of [`RoutesConfig::databases`].
    pub databases: Vec<String>,
    /// Which browser origins may call the route, and how (default: no CORS
    /// headers, so browsers allow only same-origin pages).
    pub cors: Option<CorsPolicy>,
    /// Where the entry starts, for later errors (missing component, …).
    pub at: Location,
}

/// How a route's requests get their instances.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isolation {
    /// A fresh instance for every request: nothing survives between requests.
    Fresh,
    /// One instance serves up to `max_requests` requests in sequence; state
    /// persists between them. Opt-in.
    Reuse {
        /// Requests an instance serves before it is replaced.
        max_requests: u32,
    },
}

impl Isolation {
    /// Requests a reused instance serves unless `max_requests_per_instance` says otherwise.
    pub const DEFAULT_MAX_REQUESTS: u32 = 1000;
}

/// A validated `routes.toml`.
#[derive(Clone, Debug)]
pub struct RoutesConfig {
    /// The file it came from (for a route tree: its directory).
    pub file: PathBuf,
    /// The directory relative paths and build commands are resolved against
    /// (for a route tree: the tree itself).
    pub base_dir: PathBuf,
    /// The routes in file order.
    pub routes: Vec<RouteConfig>,
    /// The key-value stores by name; always holds [`StoreConfig::DEFAULT`].
    pub stores: BTreeMap<String, StoreConfig>,
    /// The SQL databases by name (`[database.NAME]`; in a route tree, the
    /// implicit [`DatabaseConfig::DEFAULT`] only).
    pub databases: BTreeMap<String, DatabaseConfig>,
}

impl RoutesConfig {
    /// Where embedded stores and SQLite databases live unless `--data-dir` says otherwise:
    /// `.wasmroutes/` beside `routes.toml` (beside the tree for `--dir`).
    pub fn default_data_dir(&self) -> PathBuf {
        let beside = if self.file == self.base_dir {
            self.base_dir.parent().map(Path::to_owned).unwrap_or_default()
        } else {
            self.base_dir.clone()
        };
        beside.join(".wasmroutes")
    }
}

/// How the named tables `after` differ from `before` (`` `a` added, `b`
/// changed, `c` removed ``); `None`: they do not. Stores and databases are
/// opened once, so a reload that changes them is refused with this.
pub fn named_changes<T: PartialEq>(before: &BTreeMap<String, T>, after: &BTreeMap<String, T>) -> Option<String> {
    if before == after {
        return None;
    }
    let mut changes = Vec::new();
    for (name, table) in after {
        match before.get(name) {
            None => changes.push(format!("`{name}` added")),
            Some(old) if old != table => changes.push(format!("`{name}` changed")),
            Some(_) => {}
        }
    }
    changes.extend(before.keys().filter(|n| !after.contains_key(*n)).map(|n| format!("`{n}` removed")));
    Some(changes.join(", "))
}

/// One `[key_value_store.NAME]` table, or the implicit `default` store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreConfig {
    /// The name routes open it by.
    pub name: String,
    /// Where its data lives.
    pub backend: StoreBackend,
    /// Largest value a `set` may store, in bytes.
    pub max_value: u64,
}

impl StoreConfig {
    /// The store that exists without a table: embedded, default limits.
    pub const DEFAULT: &'static str = "default";

    /// `max_value` unless the table says otherwise.
    pub const DEFAULT_MAX_VALUE: u64 = 1 << 20;

    /// The largest `max_value` a table may set: a value passes whole through
    /// the guest's memory and, for Redis, one command.
    pub const MAX_MAX_VALUE: u64 = 64 << 20;

    /// The store `default` is when `routes.toml` does not configure it.
    pub fn implicit_default() -> StoreConfig {
        StoreConfig {
            name: Self::DEFAULT.to_owned(),
            backend: StoreBackend::Embedded,
            max_value: Self::DEFAULT_MAX_VALUE,
        }
    }
}

/// A store's backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreBackend {
    /// A redb file under the data directory: durable, one host.
    Embedded,
    /// A Redis server, shared by every host that names it.
    Redis {
        /// `redis://[user:password@]host[:port][/db]`, `${VAR}` interpolated.
        url: String,
    },
}

impl StoreBackend {
    /// `"embedded"` or `"redis"`, as written in `type`.
    pub fn kind(&self) -> &'static str {
        match self {
            StoreBackend::Embedded => "embedded",
            StoreBackend::Redis { .. } => "redis",
        }
    }
}

impl RoutesConfig {
    /// Reads and validates `path`, interpolating `${VAR}` from the process
    /// environment.
    pub fn load(path: &Path) -> Result<RoutesConfig, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        Self::parse(path, &text, &|name| std::env::var(name).ok())
    }

    /// Validates `text` as if read from `path`; `lookup_env` resolves `${VAR}`.
    pub fn parse(
        path: &Path,
        text: &str,
        lookup_env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<RoutesConfig, ConfigError> {
        let toml_text = TomlText::new(path, text);
        let parsed: schema::FileToml = toml_text.deserialize()?;
        if parsed.route.is_empty() {
            return Err(toml_text.invalid(0..0, "no routes: add a `[[route]]` table with `path` and `component`"));
        }

        let base_dir = path.parent().map(Path::to_owned).unwrap_or_default();
        let stores = stores::parse_stores(parsed.key_value_store, &toml_text, lookup_env)?;
        let databases = databases::parse_databases(parsed.database, &toml_text, &base_dir, lookup_env)?;
        let mut routes = Vec::with_capacity(parsed.route.len());
        for entry in parsed.route {
            let span = entry.span();
            let stores_named = entry.get_ref().key_value_stores.clone();
            let databases_named = entry.get_ref().databases.clone();
            let source = route::RouteSource::Manifest { base_dir: &base_dir, at: toml_text.at(span.clone()), span };
            routes.push(route::route_from_keys(entry.into_inner(), source, &toml_text, lookup_env)?);
            if let Some(unknown) = stores_named.iter().find(|n| !stores.contains_key(n.get_ref())) {
                let configured: Vec<&str> = stores.keys().map(String::as_str).collect();
                return Err(toml_text.invalid(
                    unknown.span(),
                    format!(
                        "key_value_stores: no store `{}` is configured; add a `[key_value_store.{}]` table \
                         (configured: {})",
                        unknown.get_ref(),
                        unknown.get_ref(),
                        configured.join(", ")
                    ),
                ));
            }
            if let Some(unknown) = databases_named.iter().find(|n| !databases.contains_key(n.get_ref())) {
                let configured: Vec<&str> = databases.keys().map(String::as_str).collect();
                let configured = if configured.is_empty() { "none".to_owned() } else { configured.join(", ") };
                return Err(toml_text.invalid(
                    unknown.span(),
                    format!(
                        "databases: no database `{0}` is configured; add a `[database.{0}]` table (configured: \
                         {configured})",
                        unknown.get_ref(),
                    ),
                ));
            }
        }
        check_conflicts(&routes)?;
        Ok(RoutesConfig { file: path.to_owned(), base_dir, routes, stores, databases })
    }
}
