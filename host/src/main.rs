//! The `wasmroutes` command line: `build` and `serve`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;
use wasmroutes::config::RoutesConfig;
use wasmroutes::route_table::RouteTable;
use wasmroutes::runtime::{CompileCache, EngineConfig, Runtime};
use wasmroutes::server::{self, Host, ServeOptions};

/// Serve HTTP API routes as sandboxed WebAssembly components.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the `build` command of every route in ROUTES_TOML.
    Build {
        /// The deployment manifest.
        #[arg(default_value = "routes.toml")]
        routes_toml: PathBuf,
    },
    /// Validate ROUTES_TOML and every component (exports, handler types,
    /// conflicts, env references) without serving; exit 0 if all is well.
    Check {
        /// The deployment manifest.
        #[arg(default_value = "routes.toml")]
        routes_toml: PathBuf,
    },
    /// Load every route of ROUTES_TOML and serve them over HTTP.
    Serve {
        /// The deployment manifest.
        #[arg(default_value = "routes.toml")]
        routes_toml: PathBuf,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:3000")]
        addr: SocketAddr,
        /// Close a connection whose request headers take longer than this.
        #[arg(long, default_value = "10s", value_parser = duration)]
        header_read_timeout: Duration,
        /// On SIGINT/SIGTERM, how long in-flight requests get to finish.
        #[arg(long, default_value = "10s", value_parser = duration)]
        shutdown_grace: Duration,
        /// Where compiled components are cached [default: $XDG_CACHE_HOME/wasmroutes or ~/.cache/wasmroutes].
        #[arg(long)]
        cache_dir: Option<PathBuf>,
        /// Always compile; neither read nor write the compile cache.
        #[arg(long, conflicts_with = "cache_dir")]
        no_cache: bool,
    },
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Build { routes_toml } => build(&routes_toml),
        Command::Check { routes_toml } => {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(check(&routes_toml))
        }
        Command::Serve { routes_toml, addr, header_read_timeout, shutdown_grace, cache_dir, no_cache } => {
            let options = ServeOptions { header_read_timeout, shutdown_grace, ..ServeOptions::default() };
            let cache = match (no_cache, cache_dir) {
                (true, _) => None,
                (false, Some(dir)) => Some(CompileCache::new(dir)),
                (false, None) => CompileCache::default_dir().map(CompileCache::new),
            };
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            runtime.block_on(serve(routes_toml, addr, options, cache))
        }
    }
}

fn build(routes_toml: &std::path::Path) -> anyhow::Result<()> {
    let config = RoutesConfig::load(routes_toml)?;
    let built = wasmroutes::build_routes::build_all(&config)?;
    eprintln!("built {built} route command(s) from {}", routes_toml.display());
    Ok(())
}

/// Reads `routes_toml`, starts wasmtime sized for its routes, and loads every
/// component: all that `serve` does before it listens.
async fn load(routes_toml: &std::path::Path, cache: Option<CompileCache>) -> anyhow::Result<(Runtime, RouteTable)> {
    let config = RoutesConfig::load(routes_toml)?;
    let max_memory = config.routes.iter().map(|r| r.limits.memory).max().unwrap_or_default();
    let engine_config = EngineConfig { max_memory, cache, ..EngineConfig::default() };
    let runtime = Runtime::new(&engine_config).map_err(anyhow::Error::from).context("starting wasmtime")?;
    let table = RouteTable::load(&config, &runtime).await?;
    Ok((runtime, table))
}

/// Loads exactly what `serve` would, prints the route table, serves nothing.
async fn check(routes_toml: &std::path::Path) -> anyhow::Result<()> {
    // No compile cache: a check must not depend on (or fill) a cache.
    let (_, table) = load(routes_toml, None).await?;
    print!("{}", table.describe());
    println!("{}: {} route(s) OK", routes_toml.display(), table.len());
    Ok(())
}

fn duration(text: &str) -> Result<Duration, String> {
    wasmroutes::limits::parse_duration(text)
}

async fn serve(
    routes_toml: PathBuf,
    addr: SocketAddr,
    options: ServeOptions,
    cache: Option<CompileCache>,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let (runtime, table) = load(&routes_toml, cache).await?;
    let listener = server::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    eprint!("{}", table.describe());
    let stats = table.stats();
    eprintln!(
        "wasmroutes: {} route(s) from {} loaded in {} ms ({} compiled, {} from cache); listening on http://{local}",
        table.len(),
        routes_toml.display(),
        started.elapsed().as_millis(),
        stats.compiled,
        stats.from_cache,
    );
    let host = Arc::new(Host { runtime, table });
    server::serve(listener, host, options, shutdown_signal()).await;
    eprintln!("wasmroutes: stopped");
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
}
