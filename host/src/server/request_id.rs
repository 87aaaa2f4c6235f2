//! Request ids: the client's own if it sent a sane one (so a request can be
//! followed across services), otherwise one of ours — short, unique per
//! process, unpredictable across restarts.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use http::HeaderMap;

/// The header that carries the id, both ways and to the guest.
pub use crate::runtime::executor::REQUEST_ID_HEADER as HEADER;

/// Longest client id kept; longer ones would bloat every log line.
const MAX_CLIENT_ID_LEN: usize = 128;

/// The request's id: the client's `x-request-id` if sane, else a new one.
pub fn for_request(headers: &HeaderMap) -> String {
    match headers.get(HEADER).and_then(|v| v.to_str().ok()) {
        Some(id) if is_sane(id) => id.to_owned(),
        _ => next(),
    }
}

/// 1–128 characters of `[A-Za-z0-9._:-]`: safe in a log line, a JSON string
/// and a header, and cannot forge log fields or inject anything.
fn is_sane(id: &str) -> bool {
    (1..=MAX_CLIENT_ID_LEN).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// A new id, e.g. `3f9a0c1e7b2d4a65`.
pub fn next() -> String {
    static SEED: OnceLock<RandomState> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    // A keyed hash of a counter: unique within the process (the hash of
    // distinct u64s under one key practically never collides) and not
    // guessable from outside.
    let hash = SEED.get_or_init(RandomState::new).hash_one(n);
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    #[test]
    fn ids_are_distinct_hex() {
        let ids: std::collections::HashSet<String> = (0..1000).map(|_| super::next()).collect();
        assert_eq!(ids.len(), 1000);
        assert!(ids.iter().all(|id| id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit())));
    }

    fn with_client_id(value: &[u8]) -> String {
        let mut headers = HeaderMap::new();
        headers.insert(HEADER, HeaderValue::from_bytes(value).expect("header value"));
        for_request(&headers)
    }

    #[test]
    fn a_sane_client_id_is_kept() {
        for id in ["a", "req-42", "2026-11-26T09:00:00.123Z", "svc.api_v2:abc-DEF", &"x".repeat(128)] {
            assert_eq!(with_client_id(id.as_bytes()), id);
        }
    }

    #[test]
    fn an_insane_client_id_is_replaced() {
        let too_long = "x".repeat(129);
        for id in [&b""[..], b"has space", b"quote\"", b"tab\there", b"caf\xc3\xa9", b"a/b", too_long.as_bytes()] {
            let got = with_client_id(id);
            assert_ne!(got.as_bytes(), id);
            assert_eq!(got.len(), 16, "replaced by a generated id: {got}");
        }
        assert_eq!(for_request(&HeaderMap::new()).len(), 16, "none sent: generated");
    }
}
