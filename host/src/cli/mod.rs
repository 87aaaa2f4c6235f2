//! The binary's subcommands, one module each. Every module owns its clap
//! arguments (`…Args`) and a `run` function; `main.rs` only dispatches.

pub mod build;
pub mod cache;
pub mod check;
pub mod db;
pub mod error_report;
pub mod js_route_template;
pub mod kv;
pub mod load;
pub mod logging;
pub mod new;
pub mod openapi;
pub mod precompile;
pub mod route_match;
pub mod route_template;
pub mod routes;
pub mod serve;
