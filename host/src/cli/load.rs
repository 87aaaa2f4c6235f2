//! What `check` and `serve` share: manifest → engine → route table.

use std::path::PathBuf;

use anyhow::Context;
use wasmroutes::config::RoutesConfig;
use wasmroutes::config::manifest_source::ManifestSource;
use wasmroutes::kv::Stores;
use wasmroutes::route_table::RouteTable;
use wasmroutes::runtime::{CompileCache, EngineConfig, PoolTuning, Sandbox};
use wasmroutes::sql::Databases;

/// Where the routes are declared: the arguments `check`, `routes` and
/// `serve` share.
#[derive(clap::Args)]
pub struct ManifestArgs {
    /// The deployment manifest.
    #[arg(default_value = "routes.toml")]
    routes_toml: PathBuf,
    /// Take the routes from a directory tree instead of ROUTES_TOML: `api/posts/[id]/route.wasm`
    /// answers `/api/posts/[id]` (file-based routing, like Next.js `app/api`).
    #[arg(long, value_name = "DIR", conflicts_with = "routes_toml")]
    dir: Option<PathBuf>,
}

impl ManifestArgs {
    /// `--dir` when given, else ROUTES_TOML.
    pub fn source(self) -> ManifestSource {
        ManifestSource::new(self.routes_toml, self.dir)
    }
}

/// Where the compile cache is and how large it may grow: what every command
/// that uses the cache takes.
#[derive(clap::Args, Clone)]
pub struct CacheLocation {
    /// Where compiled components are cached [default: $XDG_CACHE_HOME/wasmroutes or ~/.cache/wasmroutes].
    #[arg(long, env = "WASMROUTES_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Largest the cache may grow (e.g. 2GiB, 500MB): past it, the least recently used compiled
    /// components not used by this deployment are removed after each load.
    #[arg(long, env = "WASMROUTES_CACHE_MAX_SIZE", value_name = "SIZE", default_value = "2GiB",
          value_parser = wasmroutes::limits::parse_size)]
    pub cache_max_size: u64,
}

impl CacheLocation {
    /// The cache, unless no directory is given and none can be found.
    pub fn cache(self) -> Option<CompileCache> {
        let dir = self.cache_dir.or_else(CompileCache::default_dir)?;
        Some(CompileCache::new(dir).with_max_size(self.cache_max_size))
    }

    /// The cache, for a command that is about the cache itself: without one, an error.
    pub fn required(self) -> anyhow::Result<CompileCache> {
        self.cache().context("no cache directory: give --cache-dir (neither XDG_CACHE_HOME nor HOME is set)")
    }
}

/// The compile-cache arguments `routes` and `serve` share.
#[derive(clap::Args)]
pub struct CacheArgs {
    #[command(flatten)]
    location: CacheLocation,
    /// Always compile; neither read nor write the compile cache (wins over --cache-dir and
    /// WASMROUTES_CACHE_DIR, so a command line can turn off a cache the environment sets).
    #[arg(long)]
    no_cache: bool,
}

impl CacheArgs {
    /// The cache to use, if any.
    pub fn cache(self) -> Option<CompileCache> {
        if self.no_cache { None } else { self.location.cache() }
    }
}

/// Reads `source` (a `routes.toml` or a `--dir` tree), starts wasmtime sized
/// for its routes, and loads every component: all that `serve` does before
/// it listens.
pub fn load(source: &ManifestSource, cache: Option<CompileCache>) -> anyhow::Result<(Sandbox, RouteTable)> {
    let config = source.read()?;
    load_config(&config, cache, 0, &Stores::unopened(&config.stores), &Databases::unopened(&config.databases))
}

/// Starts wasmtime sized for `config`'s routes (and for at least
/// `min_memory` per instance, which later reloads may use without a
/// restart), and loads every component; routes get their stores from
/// `stores` and their databases from `databases`.
/// Blocking (see [`RouteTable::load`]).
pub fn load_config(
    config: &RoutesConfig,
    cache: Option<CompileCache>,
    min_memory: u64,
    stores: &Stores,
    databases: &Databases,
) -> anyhow::Result<(Sandbox, RouteTable)> {
    let max_memory = config.routes.iter().map(|r| r.limits.memory).max().unwrap_or_default().max(min_memory);
    let pool = PoolTuning::from_env()?;
    if pool != PoolTuning::default() {
        tracing::info!("pool tuning from {}: {}", wasmroutes::runtime::pool_tuning::ENV, pool.describe());
    }
    let engine_config = EngineConfig { max_memory, cache, pool, ..EngineConfig::default() };
    let sandbox = Sandbox::new(&engine_config).map_err(anyhow::Error::from).context("starting wasmtime")?;
    let table = RouteTable::load(config, &sandbox, stores, databases)?;
    Ok((sandbox, table))
}
