//! End-to-end tests: the real `wasmroutes` binary serving real components,
//! spoken to over real sockets. One test binary, so the components and the
//! host are built once per run.

mod compile_cache;
mod cors;
mod deploy_manifests;
mod explain;
mod file_routing;
mod floor;
mod guest_failures;
mod hot_reload;
mod http_protocol;
mod js_build;
mod js_routes;
mod js_sql;
mod js_streaming;
mod kv;
mod many_hosts;
mod methods;
mod notes;
mod observability;
mod openapi;
mod outbound;
mod read_only_root;
mod reuse;
mod routing;
mod sample_routes;
mod sandbox;
mod scaffold;
mod settings_from_env;
mod sql;
mod startup;
mod streaming;
mod wasi_http;
mod wasi_http_streaming;
