//! Prometheus metrics: the exporter (installed only with `serve
//! --admin-addr`) and the per-route handles the request path records into.
//!
//! Built on the `metrics` facade: with no recorder installed every handle is
//! a no-op, so `check` and a `serve` without an admin address pay nothing.
//! Handles are registered once per route at load, so a request only does a few
//! atomic adds, never a label lookup.

mod prometheus;
mod route_metrics;

pub use prometheus::{MetricsError, install, spawn_upkeep};
pub use route_metrics::{InFlight, RouteMetrics, StreamMetrics, compile_cache_hit, compile_cache_miss};

/// The metric names, with their units (Prometheus naming conventions).
pub mod names {
    /// Counter `{route, status}`: responses by status class (`2xx`…`5xx`).
    pub const REQUESTS: &str = "wasmroutes_requests_total";
    /// Histogram `{route}`: time from request received to response ready.
    pub const REQUEST_DURATION: &str = "wasmroutes_request_duration_seconds";
    /// Counter `{route}`: guest traps (including panics and stack overflow).
    pub const GUEST_TRAPS: &str = "wasmroutes_guest_traps_total";
    /// Counter `{route}`: guests stopped at their time limit.
    pub const GUEST_TIMEOUTS: &str = "wasmroutes_guest_timeouts_total";
    /// Counter `{route}`: guests stopped at their memory limit.
    pub const GUEST_MEMORY_LIMIT_HITS: &str = "wasmroutes_guest_memory_limit_hits_total";
    /// Gauge `{route}`: guest instances running a request right now.
    pub const INSTANCES_IN_FLIGHT: &str = "wasmroutes_instances_in_flight";
    /// Counter `{route, end}`: streamed answers by how they ended
    /// (`complete`, `cut`, `client_gone`).
    pub const STREAMS: &str = "wasmroutes_streams_total";
    /// Counter `{route}`: body bytes of streamed answers.
    pub const STREAM_BYTES: &str = "wasmroutes_stream_bytes_total";
    /// Counter: components loaded from the compile cache.
    pub const COMPILE_CACHE_HITS: &str = "wasmroutes_compile_cache_hits_total";
    /// Counter: components compiled because the cache had no entry (or was off).
    pub const COMPILE_CACHE_MISSES: &str = "wasmroutes_compile_cache_misses_total";
}
