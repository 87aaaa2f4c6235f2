//! The host side of `wasi:keyvalue@0.2.0-draft2` for guests: `open` checks
//! the route's `key_value_stores` (deny by default), every other call goes
//! to the [`KvStore`], which enforces the limits and reaches the backend.
//!
//! Calls are async: a guest waiting on a store (a group commit's fsync, a
//! Redis round trip) parks its fiber and frees the tokio worker. They run
//! inside the request's timeout like the rest of the handler, so a slow
//! store cannot hold a request past its route's `timeout`.

use std::sync::Arc;

use wasmtime::component::{HasData, Linker, Resource, ResourceTable};

use super::bindings::keyvalue::wasi::keyvalue::{atomics, batch, store as wasi_store};
use super::guest_state::GuestState;
use crate::kv::{KvError, RouteStores, Store as KvStore};

/// An open store, as the guest's `bucket` resource.
pub struct BucketHandle {
    store: Arc<KvStore>,
}

/// A compare-and-swap in progress: the key and the value read when it began.
pub struct CasHandle {
    store: Arc<KvStore>,
    key: String,
    current: Option<Vec<u8>>,
}

/// Bytes of values one instance may hold in open `cas` resources. Each
/// holds a copy of the value it read, outside the guest's memory limit, so
/// without a bound a loop of `cas::new` on a large value would grow the
/// host (the resource table alone allows a million entries).
const CAS_BUDGET: usize = crate::config::StoreConfig::MAX_MAX_VALUE as usize;

/// What one request's key-value calls need: the stores its route declared,
/// who is asking (for the log), and what its open `cas` resources hold.
pub struct KvContext {
    stores: Arc<RouteStores>,
    route: Arc<str>,
    request_id: Arc<str>,
    /// Bytes of values held by this instance's open `cas` resources.
    cas_bytes: usize,
}

impl KvContext {
    /// The context for a request of `route`.
    pub fn new(stores: Arc<RouteStores>, route: Arc<str>, request_id: Arc<str>) -> KvContext {
        KvContext { stores, route, request_id, cas_bytes: 0 }
    }

    /// A reused instance's next request.
    pub fn set_request_id(&mut self, request_id: Arc<str>) {
        self.request_id = request_id;
    }
}

/// The borrow of a store's data that the generated `Host` traits are
/// implemented on.
pub struct KvView<'a> {
    ctx: &'a mut KvContext,
    table: &'a mut ResourceTable,
}

impl<'a> KvView<'a> {
    /// A view of `ctx` and the store's resource table.
    pub fn new(ctx: &'a mut KvContext, table: &'a mut ResourceTable) -> Self {
        KvView { ctx, table }
    }
}

/// Marker for [`HasData`]: the linker hands host functions a [`KvView`].
struct Kv;

impl HasData for Kv {
    type Data<'a> = KvView<'a>;
}

/// Adds `wasi:keyvalue/{store,atomics,batch}` to the linker.
pub fn add_to_linker(linker: &mut Linker<GuestState>) -> wasmtime::Result<()> {
    wasi_store::add_to_linker::<GuestState, Kv>(linker, GuestState::keyvalue)?;
    atomics::add_to_linker::<GuestState, Kv>(linker, GuestState::keyvalue)?;
    batch::add_to_linker::<GuestState, Kv>(linker, GuestState::keyvalue)?;
    Ok(())
}

/// The guest's error for a store failure: the kind stays readable at the
/// start of `other` (`unavailable: …`), which is how the SDK picks a status.
fn guest_error(err: KvError) -> wasi_store::Error {
    wasi_store::Error::Other(err.to_string())
}

impl KvView<'_> {
    fn store(&self, bucket: &Resource<BucketHandle>) -> wasmtime::Result<Arc<KvStore>> {
        Ok(Arc::clone(&self.table.get(bucket)?.store))
    }

    /// Keeps `cas` in the table, counting the value it holds.
    fn push_cas(&mut self, cas: CasHandle) -> wasmtime::Result<Resource<CasHandle>> {
        let held = cas.held();
        let resource = self.table.push(cas)?;
        self.ctx.cas_bytes += held;
        Ok(resource)
    }

    /// Takes `cas` out of the table.
    fn take_cas(&mut self, cas: Resource<CasHandle>) -> wasmtime::Result<CasHandle> {
        let cas = self.table.delete(cas)?;
        self.ctx.cas_bytes = self.ctx.cas_bytes.saturating_sub(cas.held());
        Ok(cas)
    }
}

impl CasHandle {
    fn held(&self) -> usize {
        self.current.as_ref().map_or(0, Vec::len)
    }
}

impl wasi_store::Host for KvView<'_> {
    async fn open(
        &mut self,
        identifier: String,
    ) -> wasmtime::Result<Result<Resource<BucketHandle>, wasi_store::Error>> {
        let Some(store) = self.ctx.stores.open(&identifier) else {
            // A deployment error, not the client's: the route's code and its
            // `key_value_stores` disagree.
            tracing::error!(
                request_id = %self.ctx.request_id,
                route = %self.ctx.route,
                store = %identifier,
                "key-value store access denied: the route does not list it in key_value_stores"
            );
            return Ok(Err(wasi_store::Error::AccessDenied));
        };
        let bucket = self.table.push(BucketHandle { store: Arc::clone(store) })?;
        Ok(Ok(bucket))
    }
}

impl wasi_store::HostBucket for KvView<'_> {
    async fn get(
        &mut self,
        bucket: Resource<BucketHandle>,
        key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, wasi_store::Error>> {
        let store = self.store(&bucket)?;
        Ok(store.get(&key).await.map_err(guest_error))
    }

    async fn set(
        &mut self,
        bucket: Resource<BucketHandle>,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), wasi_store::Error>> {
        let store = self.store(&bucket)?;
        Ok(store.set(key, value).await.map_err(guest_error))
    }

    async fn delete(
        &mut self,
        bucket: Resource<BucketHandle>,
        key: String,
    ) -> wasmtime::Result<Result<(), wasi_store::Error>> {
        let store = self.store(&bucket)?;
        Ok(store.delete(key).await.map_err(guest_error))
    }

    async fn exists(
        &mut self,
        bucket: Resource<BucketHandle>,
        key: String,
    ) -> wasmtime::Result<Result<bool, wasi_store::Error>> {
        let store = self.store(&bucket)?;
        Ok(store.exists(&key).await.map_err(guest_error))
    }

    async fn list_keys(
        &mut self,
        bucket: Resource<BucketHandle>,
        cursor: Option<String>,
    ) -> wasmtime::Result<Result<wasi_store::KeyResponse, wasi_store::Error>> {
        let store = self.store(&bucket)?;
        let page = store.list_keys(None, cursor.as_deref()).await.map_err(guest_error);
        Ok(page.map(|page| wasi_store::KeyResponse { keys: page.keys, cursor: page.cursor }))
    }

    async fn drop(&mut self, bucket: Resource<BucketHandle>) -> wasmtime::Result<()> {
        self.table.delete(bucket)?;
        Ok(())
    }
}

impl atomics::Host for KvView<'_> {
    async fn increment(
        &mut self,
        bucket: Resource<BucketHandle>,
        key: String,
        delta: i64,
    ) -> wasmtime::Result<Result<i64, wasi_store::Error>> {
        let store = self.store(&bucket)?;
        Ok(store.increment(key, delta).await.map_err(guest_error))
    }

    async fn swap(
        &mut self,
        cas: Resource<CasHandle>,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), atomics::CasError>> {
        let CasHandle { store, key, current } = self.take_cas(cas)?;
        match store.compare_and_swap(key.clone(), current, value).await {
            Ok(true) => Ok(Ok(())),
            // Someone else wrote first: hand back a `cas` holding the value
            // now stored, so the guest can decide again from it.
            Ok(false) => match store.get(&key).await {
                Ok(current) => {
                    let again = self.push_cas(CasHandle { store, key, current })?;
                    Ok(Err(atomics::CasError::CasFailed(again)))
                }
                Err(e) => Ok(Err(atomics::CasError::StoreError(guest_error(e)))),
            },
            Err(e) => Ok(Err(atomics::CasError::StoreError(guest_error(e)))),
        }
    }
}

impl atomics::HostCas for KvView<'_> {
    async fn new(
        &mut self,
        bucket: Resource<BucketHandle>,
        key: String,
    ) -> wasmtime::Result<Result<Resource<CasHandle>, wasi_store::Error>> {
        let store = self.store(&bucket)?;
        let current = match store.get(&key).await {
            Ok(current) => current,
            Err(e) => return Ok(Err(guest_error(e))),
        };
        let held = current.as_ref().map_or(0, Vec::len);
        if self.ctx.cas_bytes.saturating_add(held) > CAS_BUDGET {
            return Ok(Err(guest_error(KvError::Limit(format!(
                "open compare-and-swaps would hold more than {}; drop or swap the ones open first",
                crate::limits::format_size(CAS_BUDGET as u64)
            )))));
        }
        Ok(Ok(self.push_cas(CasHandle { store, key, current })?))
    }

    async fn current(
        &mut self,
        cas: Resource<CasHandle>,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, wasi_store::Error>> {
        Ok(Ok(self.table.get(&cas)?.current.clone()))
    }

    async fn drop(&mut self, cas: Resource<CasHandle>) -> wasmtime::Result<()> {
        self.take_cas(cas)?;
        Ok(())
    }
}

impl batch::Host for KvView<'_> {
    async fn get_many(
        &mut self,
        bucket: Resource<BucketHandle>,
        keys: Vec<String>,
    ) -> wasmtime::Result<Result<Vec<Option<(String, Vec<u8>)>>, wasi_store::Error>> {
        let store = self.store(&bucket)?;
        let values = store.get_many(&keys).await.map_err(guest_error);
        Ok(values.map(|values| keys.into_iter().zip(values).map(|(k, v)| v.map(|v| (k, v))).collect()))
    }

    async fn set_many(
        &mut self,
        bucket: Resource<BucketHandle>,
        key_values: Vec<(String, Vec<u8>)>,
    ) -> wasmtime::Result<Result<(), wasi_store::Error>> {
        let store = self.store(&bucket)?;
        Ok(store.set_many(key_values).await.map_err(guest_error))
    }

    async fn delete_many(
        &mut self,
        bucket: Resource<BucketHandle>,
        keys: Vec<String>,
    ) -> wasmtime::Result<Result<(), wasi_store::Error>> {
        let store = self.store(&bucket)?;
        Ok(store.delete_many(keys).await.map_err(guest_error))
    }
}
