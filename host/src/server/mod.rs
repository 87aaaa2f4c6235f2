//! The HTTP side: accept connections (HTTP/1.1 and h2c), hand each request
//! to `dispatch::handle`, shut down gracefully. [`admin`] serves the
//! metrics and health endpoints on their own address.

pub mod admin;
mod dispatch;
pub mod host_error;
mod request_id;
mod server_timing;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

pub use host_error::HostError;

use crate::kv::Stores;
use crate::route_table::RouteTable;
use crate::runtime::Sandbox;
use crate::sql::Databases;

/// Connection-level settings.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// How long a client may take to send its request headers (slowloris
    /// defence): after that the connection is closed.
    pub header_read_timeout: Duration,
    /// Largest request head (request line + headers) over HTTP/1.1; larger
    /// gets `431`.
    pub max_header_bytes: usize,
    /// How long in-flight requests get to finish after a shutdown signal.
    pub shutdown_grace: Duration,
    /// Add a `Server-Timing` header to routed responses.
    pub server_timing: bool,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            header_read_timeout: Duration::from_secs(10),
            max_header_bytes: 64 * 1024,
            shutdown_grace: Duration::from_secs(10),
            server_timing: false,
        }
    }
}

/// What the server holds for every request: the wasmtime sandbox, the
/// key-value stores and the route table.
pub struct ServerState {
    /// Engine, linker, epoch ticker.
    pub sandbox: Sandbox,
    /// Every configured key-value store, open for the host's whole life
    /// (reloads keep them).
    pub stores: Arc<Stores>,
    /// Every configured SQL database, open for the host's whole life
    /// (reloads keep them).
    pub databases: Arc<Databases>,
    /// The loaded routes. Swapped whole by a reload; each request takes one
    /// snapshot ([`ServerState::routes`]) when it starts and keeps it to the end, so
    /// requests in flight finish on the table they began with.
    table: ArcSwap<RouteTable>,
}

impl ServerState {
    /// A server serving `table`, whose routes use `stores` and `databases`.
    pub fn new(sandbox: Sandbox, stores: Arc<Stores>, databases: Arc<Databases>, table: RouteTable) -> ServerState {
        ServerState { sandbox, stores, databases, table: ArcSwap::from_pointee(table) }
    }

    /// The current route table, for one request (or one report).
    pub fn routes(&self) -> Arc<RouteTable> {
        self.table.load_full()
    }

    /// Makes `table` the one new requests get; returns the one it replaces.
    pub fn replace_routes(&self, table: RouteTable) -> Arc<RouteTable> {
        self.table.swap(Arc::new(table))
    }
}

/// Serves `state` on `listener` until `shutdown` resolves, then stops
/// accepting and waits up to `options.shutdown_grace` for open connections.
pub async fn serve(
    listener: TcpListener,
    state: Arc<ServerState>,
    options: ServeOptions,
    shutdown: impl Future<Output = ()>,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_read_timeout)
        .max_buf_size(options.max_header_bytes.max(8192));
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(options.max_header_bytes).unwrap_or(u32::MAX));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Usually EMFILE or a reset during accept: keep serving.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Responses are small and written whole; don't let Nagle delay them.
        let _ = stream.set_nodelay(true);
        let state = Arc::clone(&state);
        let server_timing = options.server_timing;
        let service = service_fn(move |req| {
            let state = Arc::clone(&state);
            async move { Ok::<_, Infallible>(dispatch::handle(state, req, server_timing).await) }
        });
        let conn = builder.serve_connection(TokioIo::new(stream), service).into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(peer = %peer, "connection ended with error: {e}");
            }
        });
    }
    drop(listener);
    let grace = options.shutdown_grace;
    tracing::info!("shutting down: no new connections; waiting up to {grace:?} for in-flight requests");
    if tokio::time::timeout(grace, graceful.shutdown()).await.is_err() {
        tracing::warn!("grace period over; closing remaining connections");
    }
}

/// Binds `addr`.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}
