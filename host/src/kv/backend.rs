//! What every key-value backend implements: the operations of
//! `wasi:keyvalue` on one store, already validated against the store's
//! limits (see [`super::store::Store`]), so a backend only stores.
//!
//! One backend value serves one store; values are opaque bytes, except for
//! [`Backend::increment`], which keeps the value as decimal text (what Redis
//! `INCRBY` does), so both backends agree on what a counter looks like.

use async_trait::async_trait;

/// Why a backend operation failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KvError {
    /// The backend cannot be reached or did not answer in time; the same
    /// call may succeed later (the SDK answers `503` with `Retry-After`).
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// The call is over one of the store's limits (key length, value size).
    #[error("limit: {0}")]
    Limit(String),
    /// The call does not apply to what is stored, or its arguments are
    /// wrong: `increment` of a value that is not an integer, an overflow, a
    /// cursor this backend never returned.
    #[error("invalid: {0}")]
    Invalid(String),
    /// Anything else the backend reports (I/O, a corrupt file, …).
    #[error("error: {0}")]
    Backend(String),
}

/// One page of keys.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyPage {
    /// The keys of this page.
    pub keys: Vec<String>,
    /// Where the next page starts; `None` on the last page.
    pub cursor: Option<String>,
}

/// A store's storage. Every method is one atomic operation; a write
/// (`set`, `set_many`, `delete`, `delete_many`, `increment`,
/// `compare_and_swap`) that returns `Ok` is durable on the backend's terms
/// (embedded: on disk; Redis: acknowledged by the server).
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// The value of `key`.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError>;

    /// The values of `keys`, in order.
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, KvError>;

    /// Whether `key` is set.
    async fn exists(&self, key: &str) -> Result<bool, KvError>;

    /// Sets `key` to `value`.
    async fn set(&self, key: String, value: Vec<u8>) -> Result<(), KvError>;

    /// Sets every pair, all or none.
    async fn set_many(&self, entries: Vec<(String, Vec<u8>)>) -> Result<(), KvError>;

    /// Removes `key` (a missing key is not an error).
    async fn delete(&self, key: String) -> Result<(), KvError>;

    /// Removes every key, all or none.
    async fn delete_many(&self, keys: Vec<String>) -> Result<(), KvError>;

    /// Adds `delta` to the decimal integer at `key` (missing: 0) and returns
    /// the new value. A value that is not a decimal `i64`, or a result that
    /// overflows, is [`KvError::Invalid`] and changes nothing.
    async fn increment(&self, key: String, delta: i64) -> Result<i64, KvError>;

    /// Sets `key` to `value` if its value is still `expected` (`None`: the
    /// key must not be set). `Ok(false)`: it was not, and nothing changed.
    async fn compare_and_swap(&self, key: String, expected: Option<Vec<u8>>, value: Vec<u8>) -> Result<bool, KvError>;

    /// Up to `limit` keys starting with `prefix` (all keys: `None`), from
    /// the start (`cursor` `None`) or from where a previous page's cursor
    /// says. Every key that exists for the whole listing is returned; a
    /// page may hold fewer than `limit` keys even when more follow.
    async fn list_keys(&self, prefix: Option<&str>, cursor: Option<&str>, limit: usize) -> Result<KeyPage, KvError>;

    /// Checks that the backend answers (for `/readyz`).
    async fn ping(&self) -> Result<(), KvError>;
}
