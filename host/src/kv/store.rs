//! One configured store: its name, its limits, its backend. Every call is
//! checked against the limits here, before the backend sees it, so guests
//! and the `wasmroutes kv` command get the same clear errors whichever
//! backend holds the data, and nothing is ever truncated.

use std::sync::Arc;

use super::backend::{Backend, KeyPage, KvError};

/// The limits a store enforces (documented in the README, "Key-value stores").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreLimits {
    /// Largest value, in bytes (`max_value`; default 1 MiB).
    pub max_value: u64,
}

/// The key and batch limits are the guest contract: the SDK checks them
/// before a call (`wasmroutes_sdk::kv::{MAX_KEY_BYTES, MAX_BATCH}`, in a
/// crate that cannot depend on the host), the host enforces them; a unit
/// test holds the two equal.
impl StoreLimits {
    /// Keys are 1 to this many bytes of UTF-8.
    pub const MAX_KEY_BYTES: usize = 256;
    /// Keys in one `list-keys` page.
    pub const LIST_PAGE: usize = 1000;
    /// Keys in one batch call (`get-many`, `set-many`, `delete-many`).
    pub const MAX_BATCH: usize = 1000;
}

/// A store, ready for calls.
pub struct Store {
    name: Arc<str>,
    kind: &'static str,
    limits: StoreLimits,
    backend: Arc<dyn Backend>,
}

impl Store {
    /// `backend` under `name`, enforcing `limits`; `kind` is `"embedded"` or
    /// `"redis"`, for messages.
    pub fn new(name: &str, kind: &'static str, limits: StoreLimits, backend: Arc<dyn Backend>) -> Store {
        Store { name: Arc::from(name), kind, limits, backend }
    }

    /// The name routes open it by.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `"embedded"` or `"redis"`.
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// Its limits.
    pub fn limits(&self) -> StoreLimits {
        self.limits
    }

    /// The value of `key`.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        check_key(key)?;
        self.backend.get(key).await
    }

    /// Whether `key` is set.
    pub async fn exists(&self, key: &str) -> Result<bool, KvError> {
        check_key(key)?;
        self.backend.exists(key).await
    }

    /// Sets `key` to `value`; durable when it returns `Ok`.
    pub async fn set(&self, key: String, value: Vec<u8>) -> Result<(), KvError> {
        check_key(&key)?;
        self.check_value(&key, &value)?;
        self.backend.set(key, value).await
    }

    /// Removes `key`.
    pub async fn delete(&self, key: String) -> Result<(), KvError> {
        check_key(&key)?;
        self.backend.delete(key).await
    }

    /// Adds `delta` to the integer at `key`; returns the new value.
    pub async fn increment(&self, key: String, delta: i64) -> Result<i64, KvError> {
        check_key(&key)?;
        self.backend.increment(key, delta).await
    }

    /// Sets `key` to `value` if it still holds `expected`; `Ok(false)` if not.
    pub async fn compare_and_swap(
        &self,
        key: String,
        expected: Option<Vec<u8>>,
        value: Vec<u8>,
    ) -> Result<bool, KvError> {
        check_key(&key)?;
        self.check_value(&key, &value)?;
        self.backend.compare_and_swap(key, expected, value).await
    }

    /// One page (at most [`StoreLimits::LIST_PAGE`] keys) of the keys
    /// starting with `prefix`.
    pub async fn list_keys(&self, prefix: Option<&str>, cursor: Option<&str>) -> Result<KeyPage, KvError> {
        if let Some(prefix) = prefix
            && prefix.len() > StoreLimits::MAX_KEY_BYTES
        {
            return Err(KvError::Limit(format!(
                "prefix is {} bytes; keys are at most {} bytes",
                prefix.len(),
                StoreLimits::MAX_KEY_BYTES
            )));
        }
        self.backend.list_keys(prefix, cursor, StoreLimits::LIST_PAGE).await
    }

    /// The values of `keys`, in order.
    pub async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, KvError> {
        check_batch(keys.len())?;
        keys.iter().try_for_each(|k| check_key(k))?;
        self.backend.get_many(keys).await
    }

    /// Sets every pair, all or none.
    pub async fn set_many(&self, entries: Vec<(String, Vec<u8>)>) -> Result<(), KvError> {
        check_batch(entries.len())?;
        for (key, value) in &entries {
            check_key(key)?;
            self.check_value(key, value)?;
        }
        self.backend.set_many(entries).await
    }

    /// Removes every key, all or none.
    pub async fn delete_many(&self, keys: Vec<String>) -> Result<(), KvError> {
        check_batch(keys.len())?;
        keys.iter().try_for_each(|k| check_key(k))?;
        self.backend.delete_many(keys).await
    }

    /// Whether the backend answers.
    pub async fn ping(&self) -> Result<(), KvError> {
        self.backend.ping().await
    }

    fn check_value(&self, key: &str, value: &[u8]) -> Result<(), KvError> {
        if value.len() as u64 > self.limits.max_value {
            return Err(KvError::Limit(format!(
                "the value for `{}` is {} bytes; store `{}` takes at most {} (max_value)",
                shown(key),
                value.len(),
                self.name,
                crate::limits::format_size(self.limits.max_value)
            )));
        }
        Ok(())
    }
}

fn check_key(key: &str) -> Result<(), KvError> {
    if key.is_empty() {
        return Err(KvError::Limit(format!("a key is 1 to {} bytes; this one is empty", StoreLimits::MAX_KEY_BYTES)));
    }
    if key.len() > StoreLimits::MAX_KEY_BYTES {
        return Err(KvError::Limit(format!(
            "key `{}` is {} bytes; a key is at most {} bytes",
            shown(key),
            key.len(),
            StoreLimits::MAX_KEY_BYTES
        )));
    }
    Ok(())
}

fn check_batch(len: usize) -> Result<(), KvError> {
    if len > StoreLimits::MAX_BATCH {
        return Err(KvError::Limit(format!("{len} keys in one batch; at most {} per call", StoreLimits::MAX_BATCH)));
    }
    Ok(())
}

/// A key short enough for an error message.
fn shown(key: &str) -> String {
    match key.char_indices().nth(40) {
        Some((end, _)) => format!("{}…", &key[..end]),
        None => key.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::embedded::EmbeddedBackend;

    #[test]
    fn the_sdk_checks_the_limits_the_host_enforces() {
        assert_eq!(StoreLimits::MAX_KEY_BYTES, wasmroutes_sdk::kv::MAX_KEY_BYTES);
        assert_eq!(StoreLimits::MAX_BATCH, wasmroutes_sdk::kv::MAX_BATCH);
    }

    fn store(dir: &tempfile::TempDir, max_value: u64) -> Store {
        let backend = EmbeddedBackend::open(&dir.path().join("s.redb")).expect("open");
        Store::new("s", "embedded", StoreLimits { max_value }, Arc::new(backend))
    }

    fn is_limit<T: std::fmt::Debug>(result: Result<T, KvError>) -> String {
        match result {
            Err(KvError::Limit(message)) => message,
            other => panic!("expected a limit error, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn keys_values_and_batches_over_the_limits_are_refused_whole() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = store(&dir, 1024);
        assert!(is_limit(store.get("").await).contains("empty"));
        let long = "k".repeat(StoreLimits::MAX_KEY_BYTES + 1);
        assert!(is_limit(store.set(long.clone(), b"v".to_vec()).await).contains("257 bytes"));
        // 256 bytes of UTF-8, not 256 characters: 86 three-byte characters are 258 bytes.
        assert!(is_limit(store.exists(&"€".repeat(86)).await).contains("258 bytes"));
        store.set("k".repeat(StoreLimits::MAX_KEY_BYTES), b"v".to_vec()).await.expect("256 bytes is a key");

        store.set("big".into(), vec![1; 1024]).await.expect("exactly max_value");
        let message = is_limit(store.set("big".into(), vec![2; 1025]).await);
        assert!(message.contains("1025 bytes") && message.contains("1KiB"), "{message}");
        is_limit(store.compare_and_swap("big".into(), Some(vec![1; 1024]), vec![3; 1025]).await);
        assert_eq!(store.get("big").await.expect("get"), Some(vec![1; 1024]), "unchanged");

        let too_many: Vec<String> = (0..=StoreLimits::MAX_BATCH).map(|i| format!("k{i}")).collect();
        assert!(is_limit(store.get_many(&too_many).await).contains("1001 keys"));
        let entries = too_many.iter().map(|k| (k.clone(), b"v".to_vec())).collect();
        is_limit(store.set_many(entries).await);
        let one_too_big = vec![("a".to_owned(), b"v".to_vec()), ("b".to_owned(), vec![0; 1025])];
        is_limit(store.set_many(one_too_big).await);
        assert_eq!(store.get("a").await.expect("get"), None, "a refused batch writes nothing");
        is_limit(store.list_keys(Some(&long), None).await);
    }
}
