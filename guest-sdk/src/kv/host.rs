//! The store on `wasm32`: calls into the host's `wasi:keyvalue@0.2.0-draft2`.
//! Only the functions a route reaches are linked, so a route that never
//! touches `kv` imports nothing from `wasi:keyvalue`, and one that does
//! imports only the interfaces it uses.

use super::RawError;

// The generated ABI glue is `unsafe` by nature; the SDK's own code stays safe.
#[allow(missing_docs, dead_code, unsafe_code, clippy::all)]
mod bindings {
    wit_bindgen::generate!({
        path: "../wit/deps/keyvalue",
        world: "wasi:keyvalue/imports@0.2.0-draft2",
    });
}

use bindings::wasi::keyvalue::{atomics, batch, store};

impl From<store::Error> for RawError {
    fn from(err: store::Error) -> RawError {
        match err {
            store::Error::NoSuchStore => RawError::NoSuchStore,
            store::Error::AccessDenied => RawError::AccessDenied,
            store::Error::Other(text) => RawError::Text(text),
        }
    }
}

/// An open store: the host's `bucket`.
pub(super) struct Bucket(store::Bucket);

/// A compare-and-swap in progress: the host's `cas`.
pub(super) struct Cas(atomics::Cas);

pub(super) fn open(name: &str) -> Result<Bucket, RawError> {
    Ok(Bucket(store::open(name)?))
}

impl Bucket {
    pub(super) fn get(&self, key: &str) -> Result<Option<Vec<u8>>, RawError> {
        Ok(self.0.get(key)?)
    }

    pub(super) fn set(&self, key: &str, value: &[u8]) -> Result<(), RawError> {
        Ok(self.0.set(key, value)?)
    }

    pub(super) fn delete(&self, key: &str) -> Result<(), RawError> {
        Ok(self.0.delete(key)?)
    }

    pub(super) fn exists(&self, key: &str) -> Result<bool, RawError> {
        Ok(self.0.exists(key)?)
    }

    pub(super) fn list_keys(&self, cursor: Option<&str>) -> Result<(Vec<String>, Option<String>), RawError> {
        let page = self.0.list_keys(cursor)?;
        Ok((page.keys, page.cursor))
    }

    pub(super) fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, RawError> {
        let found = batch::get_many(&self.0, keys)?;
        Ok(found.into_iter().map(|pair| pair.map(|(_, value)| value)).collect())
    }

    pub(super) fn set_many(&self, entries: &[(String, Vec<u8>)]) -> Result<(), RawError> {
        Ok(batch::set_many(&self.0, entries)?)
    }

    pub(super) fn delete_many(&self, keys: &[String]) -> Result<(), RawError> {
        Ok(batch::delete_many(&self.0, keys)?)
    }

    pub(super) fn increment(&self, key: &str, delta: i64) -> Result<i64, RawError> {
        Ok(atomics::increment(&self.0, key, delta)?)
    }

    pub(super) fn cas_begin(&self, key: &str) -> Result<(Cas, Option<Vec<u8>>), RawError> {
        let cas = atomics::Cas::new(&self.0, key)?;
        let current = cas.current()?;
        Ok((Cas(cas), current))
    }
}

/// Writes `value` if the key still holds what `cas` read; `Ok(false)` if not.
pub(super) fn cas_swap(cas: Cas, value: &[u8]) -> Result<bool, RawError> {
    match atomics::swap(cas.0, value) {
        Ok(()) => Ok(true),
        // The `cas` handed back is dropped: a retry reads the value afresh.
        Err(atomics::CasError::CasFailed(_)) => Ok(false),
        Err(atomics::CasError::StoreError(err)) => Err(err.into()),
    }
}
