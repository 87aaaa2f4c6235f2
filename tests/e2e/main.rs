//! End-to-end tests: the real `wasmroutes` binary serving real components,
//! spoken to over real sockets. One test binary, so the components and the
//! host are built once per run.

mod compile_cache;
mod explain;
mod guest_failures;
mod http_protocol;
mod methods;
mod outbound;
mod reuse;
mod routing;
mod sample_routes;
mod sandbox;
mod scaffold;
mod startup;
