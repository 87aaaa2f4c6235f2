//! `wasmroutes precompile`: fill the compile cache, serve nothing.
//!
//! For container images: compiling every component while the image is
//! built, into a cache the image carries, lets a new pod skip Cranelift and
//! serve within a fraction of a second, even on a read-only root filesystem.

use anyhow::Context;
use wasmroutes::kv::Stores;
use wasmroutes::sql::Databases;

/// Compile every component of ROUTES_TOML (or a --dir route tree) into the compile cache,
/// so a later `serve` with the same cache starts without compiling.
///
/// The cache is keyed by each component's content and by the engine (wasmtime version,
/// settings and the CPU features of this machine): a `serve` on a machine with other CPU
/// features finds no entry and compiles at start.
#[derive(clap::Args)]
pub struct PrecompileArgs {
    #[command(flatten)]
    manifest: super::load::ManifestArgs,
    #[command(flatten)]
    cache: super::load::CacheLocation,
}

/// Loads the deployment as `serve` (without `--watch`) would, with a cache
/// that must be writable.
pub fn run(args: PrecompileArgs) -> anyhow::Result<()> {
    let cache = args.cache.required()?;
    let dir = cache.dir().to_owned();
    cache.ensure_writable().with_context(|| format!("cannot write the compile cache {}", dir.display()))?;
    let source = args.manifest.source();
    let config = source.read()?;
    // The same engine sizing as `serve` without --watch (minimum memory 0),
    // so `serve` finds these entries: the engine's settings are part of the key.
    let (stores, databases) = (Stores::unopened(&config.stores), Databases::unopened(&config.databases));
    let (_, table) = super::load::load_config(&config, Some(cache), 0, &stores, &databases)?;
    let stats = table.stats();
    println!(
        "{source}: {} route(s); {} component(s) compiled, {} already in {}",
        table.len(),
        stats.compiled,
        stats.from_cache,
        dir.display()
    );
    Ok(())
}
