//! The store outside `wasm32`: an in-memory map per store name, private to
//! the thread, so `cargo test` of a route needs no host and each `#[test]`
//! (its own thread) starts empty. It behaves like the host's stores: values
//! over [`MAX_VALUE_BYTES`] are a limit error, counters are decimal text,
//! compare-and-swap compares values, pages hold up to [`PAGE_SIZE`] keys in
//! key order with the page's last key as the cursor.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;

use super::{KvError, RawError};

/// Largest value the in-memory store takes: the host's default `max_value`.
pub const MAX_VALUE_BYTES: usize = 1 << 20;

/// Keys in one page of `list_keys_page`, as on the host.
pub const PAGE_SIZE: usize = 1000;

#[derive(Default)]
struct MemStore {
    data: BTreeMap<String, Vec<u8>>,
    failure: Option<KvError>,
}

thread_local! {
    static STORES: RefCell<HashMap<String, MemStore>> = RefCell::new(HashMap::new());
}

/// Runs `f` on store `name` (created empty on first use), unless a failure
/// was injected with `testing::fail` (a `Conflict` only fails swaps).
fn with<T>(name: &str, f: impl FnOnce(&mut MemStore) -> Result<T, RawError>) -> Result<T, RawError> {
    STORES.with_borrow_mut(|stores| {
        let store = stores.entry(name.to_owned()).or_default();
        match &store.failure {
            Some(KvError::Conflict(_)) | None => f(store),
            Some(err) => Err(RawError::Kv(err.clone())),
        }
    })
}

fn check_value(store: &str, key: &str, value: &[u8]) -> Result<(), RawError> {
    if value.len() > MAX_VALUE_BYTES {
        return Err(RawError::Text(format!(
            "limit: the value for `{}` is {} bytes; store `{store}` takes at most 1 MiB (max_value)",
            super::shown(key),
            value.len()
        )));
    }
    Ok(())
}

/// An open in-memory store.
pub(super) struct Bucket {
    name: String,
}

/// A compare-and-swap in progress.
pub(super) struct Cas {
    store: String,
    key: String,
    current: Option<Vec<u8>>,
}

/// Opens store `name`; only an injected `NoSuchStore` or `AccessDenied`
/// fails here (the errors the host gives `open`), others fail the calls.
pub(super) fn open(name: &str) -> Result<Bucket, RawError> {
    STORES.with_borrow_mut(|stores| match &stores.entry(name.to_owned()).or_default().failure {
        Some(err @ (KvError::NoSuchStore(_) | KvError::AccessDenied(_))) => Err(RawError::Kv(err.clone())),
        _ => Ok(Bucket { name: name.to_owned() }),
    })
}

impl Bucket {
    pub(super) fn get(&self, key: &str) -> Result<Option<Vec<u8>>, RawError> {
        with(&self.name, |s| Ok(s.data.get(key).cloned()))
    }

    pub(super) fn set(&self, key: &str, value: &[u8]) -> Result<(), RawError> {
        with(&self.name, |s| {
            check_value(&self.name, key, value)?;
            s.data.insert(key.to_owned(), value.to_vec());
            Ok(())
        })
    }

    pub(super) fn delete(&self, key: &str) -> Result<(), RawError> {
        with(&self.name, |s| {
            s.data.remove(key);
            Ok(())
        })
    }

    pub(super) fn exists(&self, key: &str) -> Result<bool, RawError> {
        with(&self.name, |s| Ok(s.data.contains_key(key)))
    }

    pub(super) fn list_keys(&self, cursor: Option<&str>) -> Result<(Vec<String>, Option<String>), RawError> {
        with(&self.name, |s| {
            let start = cursor.map_or(Bound::Unbounded, Bound::Excluded);
            let mut rest = s.data.range::<str, _>((start, Bound::Unbounded)).map(|(k, _)| k);
            let keys: Vec<String> = rest.by_ref().take(PAGE_SIZE).cloned().collect();
            let cursor = if rest.next().is_some() { keys.last().cloned() } else { None };
            Ok((keys, cursor))
        })
    }

    pub(super) fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, RawError> {
        with(&self.name, |s| Ok(keys.iter().map(|k| s.data.get(k).cloned()).collect()))
    }

    pub(super) fn set_many(&self, entries: &[(String, Vec<u8>)]) -> Result<(), RawError> {
        with(&self.name, |s| {
            for (key, value) in entries {
                check_value(&self.name, key, value)?;
            }
            s.data.extend(entries.iter().cloned());
            Ok(())
        })
    }

    pub(super) fn delete_many(&self, keys: &[String]) -> Result<(), RawError> {
        with(&self.name, |s| {
            for key in keys {
                s.data.remove(key);
            }
            Ok(())
        })
    }

    pub(super) fn increment(&self, key: &str, delta: i64) -> Result<i64, RawError> {
        with(&self.name, |s| {
            let old = match s.data.get(key) {
                None => 0,
                Some(bytes) => {
                    std::str::from_utf8(bytes).ok().and_then(|t| t.parse::<i64>().ok()).ok_or_else(|| {
                        RawError::Text(format!(
                            "invalid: the value of `{}` is not a decimal integer; increment needs one",
                            super::shown(key)
                        ))
                    })?
                }
            };
            let new = old.checked_add(delta).ok_or_else(|| {
                RawError::Text(format!("invalid: adding {delta} to `{}` ({old}) overflows", super::shown(key)))
            })?;
            s.data.insert(key.to_owned(), new.to_string().into_bytes());
            Ok(new)
        })
    }

    pub(super) fn cas_begin(&self, key: &str) -> Result<(Cas, Option<Vec<u8>>), RawError> {
        let current = self.get(key)?;
        Ok((Cas { store: self.name.clone(), key: key.to_owned(), current: current.clone() }, current))
    }
}

/// Writes `value` if the key still holds what `cas` read; `Ok(false)` if not.
pub(super) fn cas_swap(cas: Cas, value: &[u8]) -> Result<bool, RawError> {
    STORES.with_borrow_mut(|stores| {
        let store = stores.entry(cas.store.clone()).or_default();
        match &store.failure {
            None => {}
            Some(KvError::Conflict(_)) => return Ok(false),
            Some(err) => return Err(RawError::Kv(err.clone())),
        }
        check_value(&cas.store, &cas.key, value)?;
        if store.data.get(&cas.key) != cas.current.as_ref() {
            return Ok(false);
        }
        store.data.insert(cas.key, value.to_vec());
        Ok(true)
    })
}

/// Helpers for native tests of routes that use [`kv`](crate::kv).
///
/// Outside `wasm32`, [`Store`](crate::kv::Store) is an in-memory map per
/// store name that belongs to the current thread. Each `#[test]` runs on a
/// thread of its own, so tests start with empty stores and never see each
/// other's data; these helpers fill, inspect and break a store of the
/// current thread.
///
/// Any store name opens (the host would refuse names `routes.toml` does not
/// configure or the route does not list: inject that with [`fail`](crate::kv::testing::fail)). Values
/// over [`MAX_VALUE_BYTES`] (the host's default `max_value`) are refused with
/// [`KvError::Limit`], and a page of keys holds up to [`PAGE_SIZE`] keys in
/// key order.
///
/// ```
/// use wasmroutes_sdk::kv::{self, KvError, Store, testing};
///
/// testing::seed("default", [("greeting", "hello")]);
/// let store = Store::open("default")?;
/// assert_eq!(store.get("greeting")?.as_deref(), Some(&b"hello"[..]));
///
/// testing::fail("default", KvError::Unavailable("redis is down".into()));
/// assert!(matches!(store.get("greeting"), Err(KvError::Unavailable(_))));
/// testing::recover("default");
///
/// testing::clear("default");
/// assert!(testing::dump("default").is_empty());
/// # Ok::<(), KvError>(())
/// ```
pub mod testing {
    use std::collections::BTreeMap;

    use super::STORES;
    use crate::kv::KvError;

    pub use super::{MAX_VALUE_BYTES, PAGE_SIZE};

    /// Sets each `(key, value)` in store `name` of this thread (no key checks).
    pub fn seed<K: AsRef<str>, V: AsRef<[u8]>>(name: &str, entries: impl IntoIterator<Item = (K, V)>) {
        STORES.with_borrow_mut(|stores| {
            let store = stores.entry(name.to_owned()).or_default();
            for (k, v) in entries {
                store.data.insert(k.as_ref().to_owned(), v.as_ref().to_vec());
            }
        });
    }

    /// Everything store `name` of this thread holds, in key order.
    pub fn dump(name: &str) -> BTreeMap<String, Vec<u8>> {
        STORES.with_borrow(|stores| stores.get(name).map(|s| s.data.clone()).unwrap_or_default())
    }

    /// Empties store `name` of this thread and forgets any injected failure.
    pub fn clear(name: &str) {
        STORES.with_borrow_mut(|stores| stores.remove(name));
    }

    /// Empties every store of this thread.
    pub fn clear_all() {
        STORES.with_borrow_mut(|stores| stores.clear());
    }

    /// Makes every call on store `name` fail with `error` until [`recover`],
    /// to test how a route answers an unavailable or forbidden store.
    /// [`Store::open`] fails only for [`KvError::NoSuchStore`] and
    /// [`KvError::AccessDenied`], as on the host, where other errors come
    /// from the calls on an open store. [`KvError::Conflict`] is special:
    /// only the compare-and-swap fails (every time), so [`Store::update`]
    /// gives up with `Conflict` after [`UPDATE_ATTEMPTS`] tries while other
    /// calls work.
    ///
    /// [`Store::open`]: crate::kv::Store::open
    /// [`Store::update`]: crate::kv::Store::update
    /// [`UPDATE_ATTEMPTS`]: crate::kv::UPDATE_ATTEMPTS
    pub fn fail(name: &str, error: KvError) {
        STORES.with_borrow_mut(|stores| stores.entry(name.to_owned()).or_default().failure = Some(error));
    }

    /// Undoes [`fail`]: calls on store `name` work again, its data intact.
    pub fn recover(name: &str) {
        STORES.with_borrow_mut(|stores| {
            if let Some(store) = stores.get_mut(name) {
                store.failure = None;
            }
        });
    }
}
