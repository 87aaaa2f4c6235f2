//! The Prometheus exporter: one global recorder, rendered on demand by the
//! admin endpoint.

use std::time::Duration;

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};

use super::names;

/// Latency buckets in seconds: a fresh instance answers in tens of
/// microseconds, a slow handler may run for its whole time limit.
const DURATION_BUCKETS: &[f64] =
    &[0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// How often recorded histogram samples are folded into their buckets, so
/// memory stays bounded even when nobody scrapes.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// The recorder could not be installed.
#[derive(Debug, thiserror::Error)]
#[error("cannot install the Prometheus metrics recorder: {0}")]
pub struct MetricsError(#[from] BuildError);

/// The exporter's configuration: buckets for the latency histogram (without
/// them it would render a summary, which cannot be aggregated across hosts).
pub(crate) fn builder() -> Result<PrometheusBuilder, BuildError> {
    PrometheusBuilder::new().set_buckets_for_metric(Matcher::Full(names::REQUEST_DURATION.to_owned()), DURATION_BUCKETS)
}

/// Installs the process-wide recorder and describes every metric. Call it
/// before routes are loaded: handles registered earlier stay no-ops.
pub fn install() -> Result<PrometheusHandle, MetricsError> {
    let handle = builder()?.install_recorder()?;
    describe();
    // Registered now so they render as 0 before the first load.
    let _ = metrics::counter!(names::COMPILE_CACHE_HITS);
    let _ = metrics::counter!(names::COMPILE_CACHE_MISSES);
    Ok(handle)
}

/// `# HELP` and `# TYPE` text for every metric.
pub(crate) fn describe() {
    describe_counter!(names::REQUESTS, Unit::Count, "Responses by route and status class (2xx, 3xx, 4xx, 5xx).");
    describe_histogram!(
        names::REQUEST_DURATION,
        Unit::Seconds,
        "Time from request received to response ready, by route."
    );
    describe_counter!(names::GUEST_TRAPS, Unit::Count, "Guest traps (including panics), by route.");
    describe_counter!(names::GUEST_TIMEOUTS, Unit::Count, "Guests stopped at their time limit, by route.");
    describe_counter!(names::GUEST_MEMORY_LIMIT_HITS, Unit::Count, "Guests stopped at their memory limit, by route.");
    describe_gauge!(names::INSTANCES_IN_FLIGHT, Unit::Count, "Guest instances running a request now, by route.");
    describe_counter!(names::STREAMS, Unit::Count, "Streamed answers by how they ended, by route.");
    describe_counter!(names::STREAM_BYTES, Unit::Bytes, "Body bytes of streamed answers, by route.");
    describe_counter!(names::COMPILE_CACHE_HITS, Unit::Count, "Components loaded from the compile cache.");
    describe_counter!(names::COMPILE_CACHE_MISSES, Unit::Count, "Components compiled because the cache had no entry.");
}

/// Runs the exporter's upkeep in the background for as long as the tokio
/// runtime lives.
pub fn spawn_upkeep(handle: PrometheusHandle) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(UPKEEP_INTERVAL);
        loop {
            tick.tick().await;
            handle.run_upkeep();
        }
    });
}
