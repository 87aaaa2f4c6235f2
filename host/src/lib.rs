//! wasmroutes: serve HTTP API routes, Next.js-style, as sandboxed
//! WebAssembly components.
//!
//! The request path, one module per step:
//! [`server`] (hyper, socket) → [`request_path`] (normalize, decode) →
//! [`router`] (trie lookup) → [`method`] (which export answers) →
//! [`runtime`] (fresh wasmtime instance, one handler call) → back through
//! `server` as an HTTP response.
//!
//! Start-up: [`config`] reads `routes.toml`, [`route_table`] checks it for
//! conflicts and loads every component before the first request.
//! [`observability`] holds the Prometheus metrics each route records into.
//!
//! The `wasmroutes` binary (`main.rs`, one module per subcommand under
//! `cli/`) is a thin layer over this library.

pub mod build_routes;
pub mod config;
pub mod limits;
pub mod method;
pub mod observability;
pub mod outbound;
pub mod pattern;
pub mod request_path;
pub mod route_table;
pub mod router;
pub mod runtime;
pub mod server;
