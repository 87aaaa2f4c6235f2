//! The opt-in `Server-Timing` header (`serve --server-timing`): where a routed
//! request's time went, readable in a browser's network panel or with
//! `curl -i`.

use std::fmt::Write as _;
use std::time::Duration;

use http::HeaderValue;

use crate::runtime::CallTiming;

/// `instantiate;dur=…, handler;dur=…, total;dur=…` in milliseconds. The guest
/// phases are left out when no guest ran (e.g. a `405` or automatic `OPTIONS`).
pub fn header_value(guest: Option<CallTiming>, total: Duration) -> HeaderValue {
    let mut text = String::with_capacity(64);
    if let Some(guest) = guest {
        let _ = write!(text, "instantiate;dur={}, handler;dur={}, ", millis(guest.instantiate), millis(guest.handler));
    }
    let _ = write!(text, "total;dur={}", millis(total));
    // Only ASCII digits, letters and punctuation: always a valid value.
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("total"))
}

/// Milliseconds with microsecond precision, e.g. `0.042`.
fn millis(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guest_phases_then_total_in_milliseconds() {
        let guest = CallTiming { instantiate: Duration::from_micros(12), handler: Duration::from_micros(1500) };
        let value = header_value(Some(guest), Duration::from_micros(1600));
        assert_eq!(value, "instantiate;dur=0.012, handler;dur=1.500, total;dur=1.600");
    }

    #[test]
    fn without_a_guest_only_total() {
        assert_eq!(header_value(None, Duration::from_millis(2)), "total;dur=2.000");
    }
}
