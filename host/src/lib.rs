//! wasmroutes: serve HTTP API routes, Next.js-style, as sandboxed
//! WebAssembly components.
//!
//! The request path, one module per step:
//! [`server`] (hyper, socket; `dispatch` drives the rest) → [`routing`]:
//! `request_path` (normalize, decode) → `router` (trie lookup in the
//! [`route_table`]) → [`cors`] (a preflight answered here, CORS headers on
//! the way out) → [`runtime::executor`] (the route's executor, chosen at load
//! for its kind of component, picks the call for the method with
//! `routing::method`, translates the request, runs the guest in a fresh
//! wasmtime instance, translates its answer) → back through `server` as an
//! HTTP response.
//!
//! Start-up: [`config`] reads `routes.toml` (or `config::route_dir` reads a
//! tree of `route.wasm` folders; `config::manifest_source` picks which) and
//! checks it for conflicts; [`route_table`] loads every component, and gives
//! each route its context and executor, before the first request.
//! [`openapi`] describes the loaded table.
//! [`build_routes`] makes the components first (`wasmroutes build`): a
//! route's `build` command, or [`js_toolchain`] for a `route.js`/`route.ts`.
//!
//! `serve --watch`: [`watch`] runs the loop, one module per step: what to
//! watch and what a change asks for, debounced events, a route's build when
//! its sources change, and the reload that swaps the route table atomically.
//! [`observability`] holds the Prometheus metrics each route records into.
//!
//! The `wasmroutes` binary (`main.rs`, one module per subcommand under
//! `cli/`) is a thin layer over this library.

pub mod build_routes;
pub mod config;
pub mod cors;
pub mod js_toolchain;
pub mod kv;
pub mod limits;
pub mod load_progress;
pub mod observability;
pub mod openapi;
pub mod origin_pattern;
pub mod outbound;
pub mod route_table;
pub mod routing;
pub mod runtime;
pub mod server;
pub mod sql;
pub mod watch;
