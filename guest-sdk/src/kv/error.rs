//! [`KvError`]: why a key-value call failed, and the HTTP answer it becomes.

use std::fmt;

use crate::Error;

/// Why a key-value call failed.
///
/// With `?` in a handler it becomes an [`Error`] (see the [module
/// docs](crate::kv#errors-and-http-statuses) for the table of statuses).
/// Errors that are the deployment's or the route's fault rather than the
/// client's are answered with a generic `500` and described on stderr, which
/// the host logs with the route and request id.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KvError {
    /// The store with this name is not configured on this host.
    NoSuchStore(String),
    /// The route may not open the store with this name: `routes.toml` must
    /// list it in the route's `key_value_stores`.
    AccessDenied(String),
    /// The store's backend is down or too slow; the same call may succeed
    /// later.
    Unavailable(String),
    /// Over one of the store's limits: a value larger than its `max_value`,
    /// more than [`MAX_BATCH`](super::MAX_BATCH) keys in one batch call.
    Limit(String),
    /// The operation does not apply: `increment` of a value that is not a
    /// decimal integer or that would overflow, a cursor the store never
    /// returned.
    Invalid(String),
    /// A key that is empty or longer than [`MAX_KEY_BYTES`](super::MAX_KEY_BYTES),
    /// found by the SDK before the store is called.
    InvalidKey(String),
    /// [`Store::update`](super::Store::update) lost the compare-and-swap race
    /// [`UPDATE_ATTEMPTS`](super::UPDATE_ATTEMPTS) times in a row.
    Conflict(String),
    /// A stored value is not the JSON the caller expected, or a value could
    /// not be serialized.
    Json(String),
    /// Anything else the store reported.
    Other(String),
}

impl KvError {
    /// Reads the text of the host's `other(string)` error: `unavailable: …`,
    /// `limit: …`, `invalid: …` or `error: …` (text without a known kind is
    /// [`KvError::Other`] whole).
    pub(crate) fn from_host_text(text: String) -> KvError {
        match text.split_once(": ") {
            Some(("unavailable", rest)) => KvError::Unavailable(rest.to_owned()),
            Some(("limit", rest)) => KvError::Limit(rest.to_owned()),
            Some(("invalid", rest)) => KvError::Invalid(rest.to_owned()),
            Some(("error", rest)) => KvError::Other(rest.to_owned()),
            _ => KvError::Other(text),
        }
    }
}

impl fmt::Display for KvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KvError::NoSuchStore(name) => write!(f, "no key-value store `{name}` is configured on this host"),
            KvError::AccessDenied(name) => {
                write!(f, "the route may not open key-value store `{name}`: list it in the route's `key_value_stores`")
            }
            KvError::Unavailable(m) => write!(f, "key-value store unavailable: {m}"),
            KvError::Limit(m) => write!(f, "over a key-value store limit: {m}"),
            KvError::Invalid(m) => write!(f, "invalid key-value operation: {m}"),
            KvError::InvalidKey(m) => write!(f, "invalid key: {m}"),
            KvError::Conflict(m) => write!(f, "key-value conflict: {m}"),
            KvError::Json(m) => write!(f, "key-value JSON: {m}"),
            KvError::Other(m) => write!(f, "key-value store error: {m}"),
        }
    }
}

impl std::error::Error for KvError {}

/// What the client sees when the failure is not theirs to fix.
const GENERIC: &str = "Internal server error";

/// `Retry-After` seconds of a `503` for an unavailable store.
const RETRY_AFTER_SECS: u32 = 1;

impl From<KvError> for Error {
    /// See the [module docs](crate::kv#errors-and-http-statuses). Logs to
    /// stderr what the client is not told.
    fn from(err: KvError) -> Error {
        match err {
            KvError::NoSuchStore(ref name) => {
                eprintln!(
                    "wasmroutes-sdk: deployment error: no key-value store `{name}` is configured on this host; \
                     configure it in routes.toml and list it in this route's `key_value_stores`"
                );
                Error::internal(GENERIC)
            }
            KvError::AccessDenied(ref name) => {
                eprintln!(
                    "wasmroutes-sdk: deployment error: this route may not open key-value store `{name}`; \
                     the route must list it in `key_value_stores` in routes.toml"
                );
                Error::internal(GENERIC)
            }
            KvError::Unavailable(_) => {
                eprintln!("wasmroutes-sdk: {err}");
                Error::unavailable("Storage is temporarily unavailable; try again shortly", RETRY_AFTER_SECS)
            }
            KvError::Limit(m) => Error::new(413, format!("Too large to store: {m}")),
            KvError::InvalidKey(m) => Error::bad_request(format!("Invalid key: {m}")),
            KvError::Conflict(m) => Error::conflict(format!("Conflicting update: {m}")),
            KvError::Invalid(_) | KvError::Json(_) | KvError::Other(_) => {
                eprintln!("wasmroutes-sdk: {err}");
                Error::internal(GENERIC)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Response;

    #[test]
    fn host_text_kinds_are_parsed() {
        assert_eq!(
            KvError::from_host_text("unavailable: redis down".into()),
            KvError::Unavailable("redis down".into())
        );
        assert_eq!(KvError::from_host_text("limit: too big".into()), KvError::Limit("too big".into()));
        assert_eq!(KvError::from_host_text("invalid: not a number".into()), KvError::Invalid("not a number".into()));
        assert_eq!(KvError::from_host_text("error: disk".into()), KvError::Other("disk".into()));
        assert_eq!(KvError::from_host_text("weird".into()), KvError::Other("weird".into()));
        // The kind is a prefix, not a substring.
        assert_eq!(KvError::from_host_text("x limit: y".into()), KvError::Other("x limit: y".into()));
    }

    fn answer(err: KvError) -> Response {
        Response::from(Error::from(err))
    }

    #[test]
    fn statuses() {
        let cases = [
            (KvError::NoSuchStore("s".into()), 500),
            (KvError::AccessDenied("s".into()), 500),
            (KvError::Unavailable("down".into()), 503),
            (KvError::Limit("big".into()), 413),
            (KvError::Invalid("nan".into()), 500),
            (KvError::InvalidKey("empty".into()), 400),
            (KvError::Conflict("busy".into()), 409),
            (KvError::Json("bad".into()), 500),
            (KvError::Other("disk".into()), 500),
        ];
        for (err, status) in cases {
            assert_eq!(answer(err.clone()).status_code(), status, "{err:?}");
        }
    }

    #[test]
    fn unavailable_asks_to_retry() {
        let resp = answer(KvError::Unavailable("redis://secret@host down".into()));
        assert_eq!(resp.header_value("retry-after"), Some("1"));
        assert!(!String::from_utf8_lossy(resp.body_bytes()).contains("secret"));
    }

    #[test]
    fn server_side_failures_hide_their_detail() {
        for err in [
            KvError::NoSuchStore("private-store".into()),
            KvError::AccessDenied("private-store".into()),
            KvError::Invalid("private detail".into()),
            KvError::Json("private detail".into()),
            KvError::Other("private detail".into()),
        ] {
            let resp = answer(err);
            assert_eq!(resp.body_bytes(), br#"{"error":"Internal server error"}"#);
        }
    }

    #[test]
    fn client_side_failures_say_what_is_wrong() {
        let body = answer(KvError::InvalidKey("a key is 1 to 256 bytes; this one is 300".into())).json_body().unwrap();
        assert_eq!(body["error"], "Invalid key: a key is 1 to 256 bytes; this one is 300");
        let body = answer(KvError::Limit("the value is 2 MiB".into())).json_body().unwrap();
        assert_eq!(body["error"], "Too large to store: the value is 2 MiB");
    }

    #[test]
    fn display_names_the_store() {
        assert!(KvError::AccessDenied("sessions".into()).to_string().contains("`sessions`"));
        assert!(KvError::AccessDenied("sessions".into()).to_string().contains("key_value_stores"));
    }
}
