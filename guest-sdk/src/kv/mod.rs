//! Key-value stores: data that outlives a request.
//!
//! Each request runs in a fresh instance, so anything a route must remember
//! goes to a store the host keeps: an embedded database file under
//! `.wasmroutes/` beside `routes.toml` by default, or a Redis server shared by
//! several hosts. A route opens only the stores its `routes.toml` entry lists:
//!
//! ```toml
//! [[route]]
//! path = "/api/notes/[name]"
//! component = "../target/wasm32-wasip2/release/notes.wasm"
//! key_value_stores = ["default"]
//! ```
//!
//! Keys are strings of 1 to [`MAX_KEY_BYTES`] bytes, values are bytes
//! ([`Store::get_json`]/[`Store::set_json`] store JSON), and every call is
//! one atomic operation on the store. Underneath is the standard
//! `wasi:keyvalue@0.2.0-draft2`, so a component written against it without
//! this SDK works too.
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use wasmroutes_sdk::kv::Store;
//! use wasmroutes_sdk::{Error, Request, Response, Result, route};
//!
//! #[derive(Serialize, Deserialize)]
//! struct Note { text: String, edits: u32 }
//!
//! #[derive(Deserialize)]
//! struct NewText { text: String }
//!
//! struct Notes;
//!
//! #[route]
//! impl Notes {
//!     /// The note, and how often notes were read (a counter).
//!     fn get(req: Request) -> Result {
//!         let store = Store::open("default")?;
//!         let key = format!("note:{}", req.param("name")?);
//!         let note: Note = store.get_json(&key)?.ok_or_else(|| Error::not_found("No such note"))?;
//!         let reads = store.increment("reads", 1)?;
//!         Ok(Response::json(&note).header("x-reads", reads.to_string()))
//!     }
//!
//!     /// Creates or replaces the note.
//!     fn put(req: Request) -> Result {
//!         let body: NewText = req.json()?;
//!         let store = Store::open("default")?;
//!         let note = Note { text: body.text, edits: 0 };
//!         store.set_json(&format!("note:{}", req.param("name")?), &note)?;
//!         Ok(Response::json(&note))
//!     }
//!
//!     /// Edits an existing note: a compare-and-swap, so two concurrent
//!     /// edits both count.
//!     fn patch(req: Request) -> Result {
//!         let body: NewText = req.json()?;
//!         let store = Store::open("default")?;
//!         let key = format!("note:{}", req.param("name")?);
//!         let note = store.update_json(&key, |old: Option<Note>| {
//!             // None: the note does not exist; leave the store alone.
//!             old.map(|note| Note { text: body.text.clone(), edits: note.edits + 1 })
//!         })?;
//!         let note = note.ok_or_else(|| Error::not_found("No such note"))?;
//!         Ok(Response::json(&note))
//!     }
//! }
//!
//! // Natively the store is in memory, so handlers are tested without a host.
//! use wasmroutes_sdk::Method;
//! let req = |method, body: &str| {
//!     Request::builder(method, "/api/notes/todo").param("name", "todo").body(body).build()
//! };
//! assert_eq!(Notes::get(req(Method::Get, "")).unwrap_err().status(), 404);
//! assert_eq!(Notes::patch(req(Method::Patch, r#"{"text":"b"}"#)).unwrap_err().status(), 404);
//! Notes::put(req(Method::Put, r#"{"text":"a"}"#))?;
//! Notes::patch(req(Method::Patch, r#"{"text":"b"}"#))?;
//! let resp = Notes::get(req(Method::Get, ""))?;
//! assert_eq!(resp.body_bytes(), br#"{"text":"b","edits":1}"#);
//! assert_eq!(resp.header_value("x-reads"), Some("1"));
//! # Ok::<(), Error>(())
//! ```
//!
//! # Listing keys, and laying out data
//!
//! [`Store::list_keys_page`] returns one page of keys (up to 1000) and a
//! cursor for the next; [`Store::keys`] walks every page. `wasi:keyvalue`
//! has no prefix filter, so `keys(prefix)` reads **every key of the store**
//! and filters in the route: give each kind of data a store of its own
//! (`users`, `sessions`, …) rather than one store of prefixed keys when a
//! route must list one kind. Embedded stores list keys in key order (so
//! zero-padded numbers list in numeric order); a Redis store lists them in
//! no particular order.
//!
//! # Updates
//!
//! [`Store::update`] and [`Store::update_json`] change a value based on its
//! current one without losing concurrent writes: they read the value, call
//! the closure, and write its result only if the value has not changed
//! meanwhile (`wasi:keyvalue`'s compare-and-swap); if it has, they read it
//! again and call the closure again, up to [`UPDATE_ATTEMPTS`] times, then
//! fail with [`KvError::Conflict`] (a `409`). The closure may run more than
//! once, so it should not have side effects; returning `None` from it writes
//! nothing. For counters, [`Store::increment`] is one call and never
//! conflicts.
//!
//! # Errors and HTTP statuses
//!
//! Every call returns [`KvError`], which `?` in a handler turns into an
//! [`Error`](crate::Error) response:
//!
//! | [`KvError`] | Status | The client sees | stderr |
//! |---|---|---|---|
//! | `InvalidKey` (empty, or over [`MAX_KEY_BYTES`]) | `400` | what is wrong with the key | — |
//! | `Conflict` ([`Store::update`] gave up) | `409` | that the update conflicted | — |
//! | `Limit` (value over the store's `max_value`, batch over [`MAX_BATCH`]) | `413` | the limit | — |
//! | `Unavailable` (backend down or slow) | `503`, `Retry-After: 1` | that storage is unavailable | the detail |
//! | `NoSuchStore`, `AccessDenied` (a deployment error) | `500` | `Internal server error` | the store, and that the route must list it in `key_value_stores` |
//! | `Invalid` (e.g. `increment` of a non-number, an unknown cursor) | `500` | `Internal server error` | the detail |
//! | `Json` (a stored value is not the expected JSON) | `500` | `Internal server error` | the detail |
//! | `Other` | `500` | `Internal server error` | the detail |
//!
//! `Invalid` is a `500` because the SDK cannot tell whose mistake it is: a
//! route that passes client input where `Invalid` can result (a cursor from
//! the query string, say) should match it and answer `400` itself. The host
//! tags each stderr line with the route and request id.
//!
//! # Testing
//!
//! Outside `wasm32` (in `cargo test`), a [`Store`] is an in-memory map that
//! belongs to the current thread, with the host's semantics: each `#[test]`
//! starts with empty stores, and [`testing`] seeds, inspects and breaks them.

mod error;
#[cfg(target_arch = "wasm32")]
mod host;
#[cfg(not(target_arch = "wasm32"))]
mod memory;

use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use error::KvError;
#[cfg(target_arch = "wasm32")]
use host as imp;
#[cfg(not(target_arch = "wasm32"))]
use memory as imp;
#[cfg(not(target_arch = "wasm32"))]
pub use memory::testing;

/// Longest key, in bytes of UTF-8; longer (or empty) keys are
/// [`KvError::InvalidKey`] before the store is called.
pub const MAX_KEY_BYTES: usize = 256;

/// Most keys in one [`Store::get_many`], [`Store::set_many`] or
/// [`Store::delete_many`] call; more is [`KvError::Limit`].
pub const MAX_BATCH: usize = 1000;

/// How often [`Store::update`] tries its compare-and-swap before it fails
/// with [`KvError::Conflict`].
pub const UPDATE_ATTEMPTS: u32 = 16;

/// What a backend (the host or the in-memory store) reports, before the
/// store's name is attached.
pub(crate) enum RawError {
    // The in-memory store passes injected failures on as `Kv`.
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    NoSuchStore,
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    AccessDenied,
    /// The host's `other(string)`: a kind, `: `, the reason.
    Text(String),
    /// An error injected with `testing::fail`, passed on as is.
    #[cfg_attr(target_arch = "wasm32", allow(dead_code))]
    Kv(KvError),
}

/// An open key-value store.
pub struct Store {
    name: String,
    bucket: imp::Bucket,
}

/// One page of keys from [`Store::list_keys_page`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyPage {
    /// The keys of this page (possibly none, even when more pages follow).
    pub keys: Vec<String>,
    /// Pass this to [`Store::list_keys_page`] for the next page; `None` on
    /// the last page.
    pub cursor: Option<String>,
}

impl Store {
    /// Opens the store named `name` (`"default"` exists on every host). The
    /// route must list it in its `key_value_stores`.
    pub fn open(name: &str) -> Result<Store, KvError> {
        match imp::open(name) {
            Ok(bucket) => Ok(Store { name: name.to_owned(), bucket }),
            Err(raw) => Err(to_kv_error(raw, name)),
        }
    }

    /// The name it was opened by.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn err(&self, raw: RawError) -> KvError {
        to_kv_error(raw, &self.name)
    }

    /// The value of `key`, or `None` if it is not set.
    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        check_key(key)?;
        self.bucket.get(key).map_err(|e| self.err(e))
    }

    /// Sets `key` to `value`, replacing any value it had.
    pub fn set(&self, key: &str, value: impl AsRef<[u8]>) -> Result<(), KvError> {
        check_key(key)?;
        self.bucket.set(key, value.as_ref()).map_err(|e| self.err(e))
    }

    /// Removes `key`; removing a key that is not set succeeds.
    pub fn delete(&self, key: &str) -> Result<(), KvError> {
        check_key(key)?;
        self.bucket.delete(key).map_err(|e| self.err(e))
    }

    /// Whether `key` is set.
    pub fn exists(&self, key: &str) -> Result<bool, KvError> {
        check_key(key)?;
        self.bucket.exists(key).map_err(|e| self.err(e))
    }

    /// The value of `key` parsed as JSON, or `None` if it is not set. A value
    /// that is not JSON of type `T` is [`KvError::Json`].
    pub fn get_json<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, KvError> {
        self.get(key)?.map(|bytes| from_json(key, &bytes)).transpose()
    }

    /// Sets `key` to `value` serialized as JSON.
    pub fn set_json<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<(), KvError> {
        self.set(key, to_json(key, value)?)
    }

    /// Adds `delta` to the integer at `key` and returns the new value, in one
    /// atomic call. A key that is not set counts as 0; the value is stored as
    /// decimal text (`get` reads it as e.g. `b"42"`). A value that is not a
    /// decimal integer, or a result that overflows `i64`, is
    /// [`KvError::Invalid`] and changes nothing.
    pub fn increment(&self, key: &str, delta: i64) -> Result<i64, KvError> {
        check_key(key)?;
        self.bucket.increment(key, delta).map_err(|e| self.err(e))
    }

    /// The values of `keys` in the same order (`None` for a key that is not
    /// set), in one call. At most [`MAX_BATCH`] keys.
    pub fn get_many<K: AsRef<str>>(&self, keys: &[K]) -> Result<Vec<Option<Vec<u8>>>, KvError> {
        let keys = checked_keys(keys)?;
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        self.bucket.get_many(&keys).map_err(|e| self.err(e))
    }

    /// [`Store::get_many`], each value parsed as JSON.
    pub fn get_many_json<T: DeserializeOwned, K: AsRef<str>>(&self, keys: &[K]) -> Result<Vec<Option<T>>, KvError> {
        let values = self.get_many(keys)?;
        keys.iter().zip(values).map(|(key, value)| value.map(|v| from_json(key.as_ref(), &v)).transpose()).collect()
    }

    /// Sets every `(key, value)` pair, all or none, in one call. At most
    /// [`MAX_BATCH`] pairs.
    pub fn set_many<K: AsRef<str>, V: AsRef<[u8]>>(&self, entries: &[(K, V)]) -> Result<(), KvError> {
        check_batch(entries.len())?;
        let entries = entries
            .iter()
            .map(|(k, v)| check_key(k.as_ref()).map(|()| (k.as_ref().to_owned(), v.as_ref().to_vec())))
            .collect::<Result<Vec<_>, _>>()?;
        if entries.is_empty() {
            return Ok(());
        }
        self.bucket.set_many(&entries).map_err(|e| self.err(e))
    }

    /// Removes every key in `keys`, all or none, in one call. At most
    /// [`MAX_BATCH`] keys.
    pub fn delete_many<K: AsRef<str>>(&self, keys: &[K]) -> Result<(), KvError> {
        let keys = checked_keys(keys)?;
        if keys.is_empty() {
            return Ok(());
        }
        self.bucket.delete_many(&keys).map_err(|e| self.err(e))
    }

    /// One page of the store's keys: from the start (`cursor` `None`) or
    /// from the `cursor` of the previous page. A page holds up to 1000 keys
    /// and may hold fewer, even none, while [`KeyPage::cursor`] says more
    /// follow. A cursor the store did not return may be [`KvError::Invalid`].
    pub fn list_keys_page(&self, cursor: Option<&str>) -> Result<KeyPage, KvError> {
        let (keys, cursor) = self.bucket.list_keys(cursor).map_err(|e| self.err(e))?;
        Ok(KeyPage { keys, cursor })
    }

    /// Every key starting with `prefix` (`""`: every key), walking all pages
    /// of [`Store::list_keys_page`] as the iterator is consumed.
    ///
    /// The filter runs in the route: `wasi:keyvalue` cannot list by prefix,
    /// so this reads every key of the store. Keep each kind of data you list
    /// in a store of its own (see the [module docs](self#listing-keys-and-laying-out-data)).
    /// After an error the iterator yields that error and ends.
    pub fn keys(&self, prefix: &str) -> Keys<'_> {
        Keys { store: self, prefix: prefix.to_owned(), page: Vec::new().into_iter(), cursor: None, done: false }
    }

    /// Replaces the value of `key` with `f(current value)`, atomically:
    /// written only if the value did not change since it was read, else read
    /// and tried again, up to [`UPDATE_ATTEMPTS`] times, then
    /// [`KvError::Conflict`]. `f` gets `None` when the key is not set and
    /// returns `None` to leave the store as it is (no write).
    ///
    /// Returns the value written, or `None` when `f` chose not to write. `f`
    /// may be called several times: keep it free of side effects.
    pub fn update<F>(&self, key: &str, mut f: F) -> Result<Option<Vec<u8>>, KvError>
    where
        F: FnMut(Option<&[u8]>) -> Option<Vec<u8>>,
    {
        self.update_with(key, |old| Ok(f(old).map(|new| (new, ())))).map(|written| written.map(|(bytes, ())| bytes))
    }

    /// [`Store::update`] of a JSON value: `f` gets the current value parsed
    /// (`None` if not set) and returns the new value, or `None` to write
    /// nothing. Returns the value written. A stored value that is not JSON of
    /// type `T` is [`KvError::Json`], with nothing written.
    pub fn update_json<T, F>(&self, key: &str, mut f: F) -> Result<Option<T>, KvError>
    where
        T: Serialize + DeserializeOwned,
        F: FnMut(Option<T>) -> Option<T>,
    {
        self.update_with(key, |old| {
            let old = old.map(|bytes| from_json(key, bytes)).transpose()?;
            f(old).map(|new| Ok((to_json(key, &new)?, new))).transpose()
        })
        .map(|written| written.map(|(_, value)| value))
    }

    /// The compare-and-swap loop behind `update` and `update_json`: `f`
    /// returns the bytes to write and what to hand back to the caller.
    fn update_with<R>(
        &self,
        key: &str,
        mut f: impl FnMut(Option<&[u8]>) -> Result<Option<(Vec<u8>, R)>, KvError>,
    ) -> Result<Option<(Vec<u8>, R)>, KvError> {
        check_key(key)?;
        for _ in 0..UPDATE_ATTEMPTS {
            let (cas, current) = self.bucket.cas_begin(key).map_err(|e| self.err(e))?;
            let Some((new, out)) = f(current.as_deref())? else {
                return Ok(None);
            };
            if imp::cas_swap(cas, &new).map_err(|e| self.err(e))? {
                return Ok(Some((new, out)));
            }
        }
        Err(KvError::Conflict(format!("`{}` kept changing; gave up after {UPDATE_ATTEMPTS} attempts", shown(key))))
    }
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store").field("name", &self.name).finish_non_exhaustive()
    }
}

/// The keys of a store with a prefix, from [`Store::keys`].
#[must_use = "an iterator does nothing until consumed"]
pub struct Keys<'a> {
    store: &'a Store,
    prefix: String,
    page: std::vec::IntoIter<String>,
    cursor: Option<String>,
    done: bool,
}

impl Iterator for Keys<'_> {
    type Item = Result<String, KvError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(key) = self.page.by_ref().find(|k| k.starts_with(&self.prefix)) {
                return Some(Ok(key));
            }
            if self.done {
                return None;
            }
            match self.store.list_keys_page(self.cursor.as_deref()) {
                Ok(page) => {
                    self.page = page.keys.into_iter();
                    match page.cursor {
                        // A cursor that does not move would loop forever.
                        Some(next) if self.cursor.as_deref() == Some(next.as_str()) => {
                            self.done = true;
                            return Some(Err(KvError::Other(format!(
                                "store `{}` returned cursor `{}` twice",
                                self.store.name,
                                shown(&next)
                            ))));
                        }
                        Some(next) => self.cursor = Some(next),
                        None => self.done = true,
                    }
                }
                Err(err) => {
                    self.done = true;
                    return Some(Err(err));
                }
            }
        }
    }
}

impl fmt::Debug for Keys<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keys").field("store", &self.store.name).field("prefix", &self.prefix).finish_non_exhaustive()
    }
}

fn to_kv_error(raw: RawError, store: &str) -> KvError {
    match raw {
        RawError::NoSuchStore => KvError::NoSuchStore(store.to_owned()),
        RawError::AccessDenied => KvError::AccessDenied(store.to_owned()),
        RawError::Text(text) => KvError::from_host_text(text),
        RawError::Kv(err) => err,
    }
}

fn check_key(key: &str) -> Result<(), KvError> {
    if key.is_empty() {
        return Err(KvError::InvalidKey(format!("a key is 1 to {MAX_KEY_BYTES} bytes; this one is empty")));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(KvError::InvalidKey(format!(
            "a key is 1 to {MAX_KEY_BYTES} bytes; `{}` is {} bytes",
            shown(key),
            key.len()
        )));
    }
    Ok(())
}

fn check_batch(len: usize) -> Result<(), KvError> {
    if len > MAX_BATCH {
        return Err(KvError::Limit(format!("{len} keys in one batch; at most {MAX_BATCH} per call")));
    }
    Ok(())
}

fn checked_keys<K: AsRef<str>>(keys: &[K]) -> Result<Vec<String>, KvError> {
    check_batch(keys.len())?;
    keys.iter().map(|k| check_key(k.as_ref()).map(|()| k.as_ref().to_owned())).collect()
}

fn from_json<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T, KvError> {
    serde_json::from_slice(bytes).map_err(|e| {
        KvError::Json(format!("the value of `{}` is not a {}: {e}", shown(key), std::any::type_name::<T>()))
    })
}

fn to_json<T: Serialize + ?Sized>(key: &str, value: &T) -> Result<Vec<u8>, KvError> {
    serde_json::to_vec(value)
        .map_err(|e| KvError::Json(format!("cannot serialize the value for `{}`: {e}", shown(key))))
}

/// A key short enough for a message: its first 40 characters.
pub(crate) fn shown(key: &str) -> String {
    match key.char_indices().nth(40) {
        Some((end, _)) => format!("{}…", &key[..end]),
        None => key.to_owned(),
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;
