//! `GET /api/clock?count=&interval_ms=`: a streamed response, as server-sent
//! events: `count` `tick` events, one every `interval_ms`, each sent the
//! moment it happens (`curl -N localhost:3000/api/clock` shows them arrive).
//!
//! A browser's `EventSource` that lost the stream reconnects with the last
//! id it saw in `Last-Event-ID`; the clock then goes on after that tick, and
//! answers `204` (which stops the reconnecting) once every tick was sent.

use std::ops::RangeInclusive;
use std::time::Duration;

use wasmroutes_sdk::sse::Event;
use wasmroutes_sdk::{Error, Request, Response, Result, Streaming, route};

/// `count` when the client gives none.
pub const DEFAULT_COUNT: u32 = 10;

/// The `count`s the clock accepts: a stream has an end.
pub const COUNTS: RangeInclusive<u32> = 1..=1000;

/// `interval_ms` when the client gives none.
pub const DEFAULT_INTERVAL_MS: u32 = 100;

/// The `interval_ms` the clock accepts.
pub const INTERVALS_MS: RangeInclusive<u32> = 10..=10_000;

/// Parses query parameter `name`: missing or empty means `default`;
/// otherwise digits only, within `range`.
pub fn parse_param(raw: Option<&str>, name: &str, default: u32, range: RangeInclusive<u32>) -> Result<u32> {
    let value = match raw {
        None | Some("") => return Ok(default),
        Some(s) if s.bytes().all(|b| b.is_ascii_digit()) => s.parse::<u32>().ok(),
        Some(_) => None,
    };
    match value {
        Some(value) if range.contains(&value) => Ok(value),
        _ => Err(Error::bad_request(format!(
            "{name} must be an integer from {} to {}, got {:?}",
            range.start(),
            range.end(),
            raw.unwrap_or_default()
        ))),
    }
}

/// The `/api/clock` route.
pub struct Clock;

#[route]
impl Clock {
    /// Streams `count` server-sent events `tick` (id `i`, data
    /// `{"tick":i,"of":count}`), one every `interval_ms`.
    pub fn get(req: Request) -> Result<Streaming> {
        let count = parse_param(req.query("count"), "count", DEFAULT_COUNT, COUNTS)?;
        let interval_ms = parse_param(req.query("interval_ms"), "interval_ms", DEFAULT_INTERVAL_MS, INTERVALS_MS)?;
        let interval = Duration::from_millis(interval_ms.into());
        // An id the clock did not send is a fresh start.
        let first =
            req.header("last-event-id").and_then(|id| id.parse::<u32>().ok()).map_or(1, |last| last.saturating_add(1));
        if first > count {
            return Ok(Response::new().status(204).into());
        }
        Ok(Response::sse(move |events| {
            for tick in first..=count {
                if tick > first {
                    std::thread::sleep(interval);
                }
                let data = format!(r#"{{"tick":{tick},"of":{count}}}"#);
                events.send(Event::new().event("tick").id(tick.to_string()).data(data))?;
            }
            Ok(())
        }))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use wasmroutes_sdk::{Method, StreamError};

    use super::*;

    fn clock(pairs: &[(&str, &str)]) -> Result<Streaming> {
        let req = pairs.iter().fold(Request::builder(Method::Get, "/api/clock"), |b, (k, v)| b.query(k, v));
        Clock::get(req.build())
    }

    fn tick(tick: u32, of: u32) -> Vec<u8> {
        format!("event: tick\nid: {tick}\ndata: {{\"tick\":{tick},\"of\":{of}}}\n\n").into_bytes()
    }

    #[test]
    fn streams_server_sent_events() {
        let streaming = clock(&[]).unwrap();
        assert_eq!(streaming.status_code(), 200);
        assert_eq!(streaming.header_value("content-type"), Some("text/event-stream"));
        assert_eq!(streaming.header_value("cache-control"), Some("no-cache"));
        let mut chunks = streaming.chunks();
        assert_eq!(chunks.next(), Some(tick(1, DEFAULT_COUNT)));
        assert_eq!(chunks.next(), Some(tick(2, DEFAULT_COUNT)));
    }

    #[test]
    fn sends_count_ticks_then_ends() {
        let body = clock(&[("count", "3"), ("interval_ms", "10")]).unwrap().read_to_end().unwrap();
        assert_eq!(body, [tick(1, 3), tick(2, 3), tick(3, 3)].concat());
    }

    #[test]
    fn ticks_come_one_interval_apart() {
        let started = Instant::now();
        let chunks: Vec<_> = clock(&[("count", "3"), ("interval_ms", "50")]).unwrap().chunks().collect();
        assert_eq!(chunks.len(), 3);
        assert!(started.elapsed() >= Duration::from_millis(100), "{:?}", started.elapsed());
    }

    #[test]
    fn a_client_that_leaves_stops_the_clock() {
        let mut chunks = clock(&[("count", "1000"), ("interval_ms", "10")]).unwrap().chunks();
        assert_eq!(chunks.by_ref().take(3).collect::<Vec<_>>(), [tick(1, 1000), tick(2, 1000), tick(3, 1000)]);
        assert_eq!(chunks.close(), Err(StreamError::Closed));
    }

    #[test]
    fn a_reconnecting_client_goes_on_after_its_last_event() {
        let resumed = |last: &str| {
            let req = Request::builder(Method::Get, "/api/clock")
                .query("count", "10")
                .query("interval_ms", "10")
                .header("last-event-id", last);
            Clock::get(req.build()).unwrap()
        };
        assert_eq!(resumed("8").read_to_end().unwrap(), [tick(9, 10), tick(10, 10)].concat());
        assert_eq!(resumed("junk").chunks().next(), Some(tick(1, 10)));
        let done = resumed("10");
        assert_eq!(done.status_code(), 204);
        assert_eq!(done.read_to_end().unwrap(), b"");
    }

    #[test]
    fn bad_parameters_are_a_400() {
        for (name, bad) in [
            ("count", "0"),
            ("count", "1001"),
            ("count", "-1"),
            ("count", "ten"),
            ("count", "99999999999999999999"),
            ("interval_ms", "9"),
            ("interval_ms", "10001"),
            ("interval_ms", "1.5"),
        ] {
            let err = clock(&[(name, bad)]).unwrap_err();
            assert_eq!(err.status(), 400, "{name}={bad}");
            assert!(err.message().starts_with(name), "{}", err.message());
        }
        assert_eq!(clock(&[("count", ""), ("interval_ms", "")]).unwrap().chunks().next(), Some(tick(1, DEFAULT_COUNT)));
    }
}
