//! One route's metric handles, registered when the route is loaded. Recording
//! a request is then a few atomic operations: no label formatting, no map
//! lookup on the request path.

use std::sync::OnceLock;
use std::time::Duration;

use http::StatusCode;
use metrics::{Counter, Gauge, Histogram, counter, gauge, histogram};

use super::names;
use crate::runtime::GuestError;
use crate::runtime::response_body::StreamEnd;

/// The `route` label of requests that matched no route (404s, bad paths,
/// redirects to the normalized path).
pub const UNMATCHED_ROUTE: &str = "(unmatched)";

/// Status classes counted, in order: index = status / 100 - 2.
const STATUS_CLASSES: [&str; 4] = ["2xx", "3xx", "4xx", "5xx"];

/// How a stream may end, in the order of [`StreamMetrics`]'s counters.
const STREAM_ENDS: [&str; 3] = ["complete", "cut", "client_gone"];

/// A route's metrics.
pub struct RouteMetrics {
    responses: [Counter; STATUS_CLASSES.len()],
    duration: Histogram,
    traps: Counter,
    timeouts: Counter,
    memory_limit_hits: Counter,
    in_flight: Gauge,
    streams: StreamMetrics,
}

/// A route's stream counters; cloned into a stream, which counts itself
/// when it ends.
#[derive(Clone)]
pub struct StreamMetrics {
    ends: [Counter; STREAM_ENDS.len()],
    bytes: Counter,
}

impl StreamMetrics {
    /// Counts a stream that ended `end` after `bytes`.
    pub fn record(&self, end: &StreamEnd, bytes: u64) {
        let index = STREAM_ENDS.iter().position(|e| *e == end.as_str()).unwrap_or(1);
        self.ends[index].increment(1);
        self.bytes.increment(bytes);
    }
}

impl RouteMetrics {
    /// Registers the metrics of the route `route` (its pattern as written)
    /// with the installed recorder, each at zero.
    pub fn new(route: &str) -> Self {
        let route = route.to_owned();
        RouteMetrics {
            responses: STATUS_CLASSES
                .map(|class| counter!(names::REQUESTS, "route" => route.clone(), "status" => class)),
            duration: histogram!(names::REQUEST_DURATION, "route" => route.clone()),
            traps: counter!(names::GUEST_TRAPS, "route" => route.clone()),
            timeouts: counter!(names::GUEST_TIMEOUTS, "route" => route.clone()),
            memory_limit_hits: counter!(names::GUEST_MEMORY_LIMIT_HITS, "route" => route.clone()),
            in_flight: gauge!(names::INSTANCES_IN_FLIGHT, "route" => route.clone()),
            streams: StreamMetrics {
                ends: STREAM_ENDS.map(|end| counter!(names::STREAMS, "route" => route.clone(), "end" => end)),
                bytes: counter!(names::STREAM_BYTES, "route" => route),
            },
        }
    }

    /// The metrics of requests no route matched: responses and latency
    /// only, as no guest runs for them.
    pub fn unmatched() -> &'static RouteMetrics {
        static UNMATCHED: OnceLock<RouteMetrics> = OnceLock::new();
        UNMATCHED.get_or_init(|| {
            let route = UNMATCHED_ROUTE;
            RouteMetrics {
                responses: STATUS_CLASSES.map(|class| counter!(names::REQUESTS, "route" => route, "status" => class)),
                duration: histogram!(names::REQUEST_DURATION, "route" => route),
                traps: Counter::noop(),
                timeouts: Counter::noop(),
                memory_limit_hits: Counter::noop(),
                in_flight: Gauge::noop(),
                streams: StreamMetrics { ends: STREAM_ENDS.map(|_| Counter::noop()), bytes: Counter::noop() },
            }
        })
    }

    /// Counts a response and its latency.
    pub fn record_response(&self, status: StatusCode, elapsed: Duration) {
        let class = usize::from(status.as_u16() / 100).wrapping_sub(2);
        if let Some(counter) = self.responses.get(class) {
            counter.increment(1);
        }
        self.duration.record(elapsed.as_secs_f64());
    }

    /// Counts a guest failure by kind. The one place failures are classified
    /// for metrics.
    pub fn record_guest_error(&self, err: &GuestError) {
        match err {
            GuestError::Trap(_) => self.traps.increment(1),
            GuestError::Timeout(_) => self.timeouts.increment(1),
            GuestError::MemoryLimit(_) => self.memory_limit_hits.increment(1),
            // Not the guest's doing: no pool slot free, or a host bug. The
            // response counter (5xx) still sees them.
            _ => {}
        }
    }

    /// The route's stream counters.
    pub fn streams(&self) -> StreamMetrics {
        self.streams.clone()
    }

    /// Marks a guest instance as running until the returned guard is dropped
    /// (also when the request is cancelled mid-call).
    pub fn instance_started(&self) -> InFlight {
        self.in_flight.increment(1.0);
        InFlight(self.in_flight.clone())
    }
}

/// An instance in flight; see [`RouteMetrics::instance_started`]. Owned,
/// so a streaming instance can carry it past its response.
pub struct InFlight(Gauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

/// A component came from the compile cache.
pub fn compile_cache_hit() {
    counter!(names::COMPILE_CACHE_HITS).increment(1);
}

/// A component was compiled and stored in the cache.
pub fn compile_cache_miss() {
    counter!(names::COMPILE_CACHE_MISSES).increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records with a recorder of its own (not the global one) and renders.
    fn rendered(record: impl FnOnce()) -> String {
        let recorder = super::super::prometheus::builder().expect("builder").build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            super::super::prometheus::describe();
            record();
        });
        handle.render()
    }

    #[test]
    fn responses_are_counted_by_status_class_with_a_latency_histogram() {
        let text = rendered(|| {
            let m = RouteMetrics::new("/api/posts/[id]");
            m.record_response(StatusCode::OK, Duration::from_micros(50));
            m.record_response(StatusCode::CREATED, Duration::from_millis(2));
            m.record_response(StatusCode::NOT_FOUND, Duration::from_millis(1));
        });
        assert!(text.contains(r#"wasmroutes_requests_total{route="/api/posts/[id]",status="2xx"} 2"#), "{text}");
        assert!(text.contains(r#"wasmroutes_requests_total{route="/api/posts/[id]",status="4xx"} 1"#), "{text}");
        assert!(text.contains(r#"wasmroutes_requests_total{route="/api/posts/[id]",status="5xx"} 0"#), "{text}");
        assert!(text.contains("# TYPE wasmroutes_request_duration_seconds histogram"), "{text}");
        assert!(
            text.contains(r#"wasmroutes_request_duration_seconds_bucket{route="/api/posts/[id]",le="0.0001"} 1"#),
            "{text}"
        );
        assert!(text.contains(r#"wasmroutes_request_duration_seconds_count{route="/api/posts/[id]"} 3"#), "{text}");
    }

    #[test]
    fn guest_failures_are_counted_by_kind_and_in_flight_returns_to_zero() {
        let text = rendered(|| {
            let m = RouteMetrics::new("/hostile");
            m.record_guest_error(&GuestError::Trap("unreachable".into()));
            m.record_guest_error(&GuestError::Timeout(Duration::from_secs(1)));
            m.record_guest_error(&GuestError::Timeout(Duration::from_secs(1)));
            m.record_guest_error(&GuestError::Instantiate("busy".into()));
            let guard = m.instance_started();
            drop(guard);
        });
        assert!(text.contains(r#"wasmroutes_guest_traps_total{route="/hostile"} 1"#), "{text}");
        assert!(text.contains(r#"wasmroutes_guest_timeouts_total{route="/hostile"} 2"#), "{text}");
        assert!(text.contains(r#"wasmroutes_guest_memory_limit_hits_total{route="/hostile"} 0"#), "{text}");
        assert!(text.contains(r#"wasmroutes_instances_in_flight{route="/hostile"} 0"#), "{text}");
    }
}
