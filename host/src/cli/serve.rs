//! `wasmroutes serve`: load every route, then serve HTTP until a signal.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use wasmroutes::kv::Stores;
use wasmroutes::limits::Limits;
use wasmroutes::observability;
use wasmroutes::server::admin::Admin;
use wasmroutes::server::{self, ServeOptions, ServerState};
use wasmroutes::sql::Databases;
use wasmroutes::watch;

use super::logging;

/// Load every route of ROUTES_TOML (or a --dir route tree) and serve them over HTTP.
#[derive(clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    manifest: super::load::ManifestArgs,
    /// Address to listen on.
    #[arg(long, env = "WASMROUTES_ADDR", default_value = "127.0.0.1:3000")]
    addr: SocketAddr,
    /// Close a connection whose request headers take longer than this.
    #[arg(long, env = "WASMROUTES_HEADER_READ_TIMEOUT", default_value = "10s", value_parser = duration)]
    header_read_timeout: Duration,
    /// On SIGINT/SIGTERM, how long in-flight requests get to finish.
    #[arg(long, env = "WASMROUTES_SHUTDOWN_GRACE", default_value = "10s", value_parser = duration)]
    shutdown_grace: Duration,
    #[command(flatten)]
    cache: super::load::CacheArgs,
    /// Reload when ROUTES_TOML or a component changes (only changed components
    /// are compiled; a broken change keeps the running version), and run a
    /// route's `build` when a file matching its `watch` globs changes.
    #[arg(long)]
    watch: bool,
    /// Serve Prometheus `/metrics`, `/healthz` and `/readyz` on this address (off unless given).
    #[arg(long, env = "WASMROUTES_ADMIN_ADDR", value_name = "ADDR")]
    admin_addr: Option<SocketAddr>,
    /// Add a `Server-Timing` header (instantiate, handler, total; in ms) to routed responses.
    #[arg(long)]
    server_timing: bool,
    /// Where embedded key-value stores keep their files [default: .wasmroutes/ beside ROUTES_TOML, or beside the --dir tree].
    #[arg(long, env = "WASMROUTES_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

fn duration(text: &str) -> Result<Duration, String> {
    wasmroutes::limits::parse_duration(text)
}

/// Builds the tokio runtime and serves until SIGINT/SIGTERM.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(serve(args))
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let options = ServeOptions {
        header_read_timeout: args.header_read_timeout,
        shutdown_grace: args.shutdown_grace,
        server_timing: args.server_timing,
        ..ServeOptions::default()
    };
    // Up before the routes load, so `/readyz` can say "not yet".
    let admin = match args.admin_addr {
        Some(addr) => Some(start_admin(addr)?),
        None => None,
    };
    let cache = args.cache.cache();
    let source = args.manifest.source();
    let config = source.read()?;
    // The engine's memory slots are sized once; with --watch they are at
    // least the default limit, so a reload that adds a route with default
    // limits never needs a restart.
    let min_memory = if args.watch { Limits::DEFAULT_MEMORY } else { 0 };
    let data_dir = args.data_dir.unwrap_or_else(|| config.default_data_dir());
    let stores = Arc::new(Stores::new(&config.stores, &data_dir));
    let databases = Arc::new(Databases::new(&config.databases, &data_dir));
    let (sandbox, table) = {
        let (config, stores, databases) = (config.clone(), Arc::clone(&stores), Arc::clone(&databases));
        tokio::task::spawn_blocking(move || super::load::load_config(&config, cache, min_memory, &stores, &databases))
            .await
            .context("loading the routes")??
    };
    report_stores(&stores, &data_dir).await;
    let addr = args.addr;
    let listener = server::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    if logging::is_json() {
        for (pattern, route) in table.iter() {
            let methods = route.component.methods_label();
            tracing::info!(target: "wasmroutes::serve", route = %pattern, %methods, component = %route.component.path().display(), "route");
        }
    } else {
        eprint!("{}", table.summary());
    }
    let stats = table.stats();
    logging::announce(&format!(
        "{} route(s) from {} loaded in {} ms ({} compiled, {} from cache); listening on http://{local}",
        table.len(),
        source,
        started.elapsed().as_millis(),
        stats.compiled,
        stats.from_cache,
    ));
    let state = Arc::new(ServerState::new(sandbox, Arc::clone(&stores), databases, table));
    if let Some(admin) = &admin {
        admin.set_stores(stores);
        admin.set_databases(Arc::clone(&state.databases));
        let serving = Arc::clone(&state);
        admin.set_openapi(Box::new(move || {
            wasmroutes::openapi::document(&serving.routes(), super::openapi::DEFAULT_TITLE).to_string()
        }));
        admin.set_ready(true);
    }
    let _hot_reload = if args.watch {
        let handle = tokio::runtime::Handle::current();
        let what = source.to_string();
        let watching = watch::start(Arc::clone(&state), source, &config, handle)?;
        logging::announce(&format!("watching {what} and its components for changes"));
        Some(watching)
    } else {
        None
    };
    let shutdown = async {
        shutdown_signal().await;
        if let Some(admin) = &admin {
            admin.set_ready(false);
        }
    };
    server::serve(listener, state, options, shutdown).await;
    logging::announce("stopped");
    Ok(())
}

/// One line per store the routes use. A Redis store that does not answer
/// does not stop the start: its routes answer `503` until it does (the
/// backend reconnects by itself), every other route serves, and `/readyz`
/// says which store is down.
async fn report_stores(stores: &Stores, data_dir: &std::path::Path) {
    for health in stores.health().await {
        // The file of an embedded store; a Redis store's server is in the
        // backend's own "connected to" line (never the URL: it may hold a password).
        let place = match health.kind {
            "embedded" => format!(", {}", Stores::embedded_path(data_dir, &health.name).display()),
            _ => String::new(),
        };
        match &health.error {
            None => logging::announce(&format!("key-value store `{}` ({}{place}) ready", health.name, health.kind)),
            Some(error) => tracing::warn!(
                store = %health.name,
                "key-value store `{}` ({}) is not answering, starting without it: its routes answer 503 until it does ({error})",
                health.name,
                health.kind
            ),
        }
    }
}

/// Installs the metrics recorder and serves the admin endpoints on `addr`.
fn start_admin(addr: SocketAddr) -> anyhow::Result<Arc<Admin>> {
    let metrics = observability::install()?;
    let listener =
        std::net::TcpListener::bind(addr).with_context(|| format!("cannot listen on {addr} (--admin-addr)"))?;
    let local = listener.local_addr()?;
    let admin = Arc::new(Admin::new(metrics));
    server::admin::spawn(listener, Arc::clone(&admin)).context("starting the admin endpoints")?;
    logging::announce(&format!("admin endpoints /metrics, /healthz, /readyz, /openapi.json on http://{local}"));
    Ok(admin)
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
