//! What `check` and `serve` share: manifest → engine → route table.

use anyhow::Context;
use wasmroutes::config::RoutesConfig;
use wasmroutes::manifest_source::ManifestSource;
use wasmroutes::route_table::RouteTable;
use wasmroutes::runtime::{CompileCache, EngineConfig, Runtime};

/// Reads `source` (a `routes.toml` or a `--dir` tree), starts wasmtime sized
/// for its routes, and loads every component: all that `serve` does before
/// it listens.
pub async fn load(source: &ManifestSource, cache: Option<CompileCache>) -> anyhow::Result<(Runtime, RouteTable)> {
    let config = source.read()?;
    load_config(&config, cache, 0).await
}

/// Starts wasmtime sized for `config`'s routes (and for at least
/// `min_memory` per instance, which later reloads may use without a
/// restart), and loads every component.
pub async fn load_config(
    config: &RoutesConfig,
    cache: Option<CompileCache>,
    min_memory: u64,
) -> anyhow::Result<(Runtime, RouteTable)> {
    let max_memory = config.routes.iter().map(|r| r.limits.memory).max().unwrap_or_default().max(min_memory);
    let engine_config = EngineConfig { max_memory, cache, ..EngineConfig::default() };
    let runtime = Runtime::new(&engine_config).map_err(anyhow::Error::from).context("starting wasmtime")?;
    let table = RouteTable::load(config, &runtime).await?;
    Ok((runtime, table))
}
