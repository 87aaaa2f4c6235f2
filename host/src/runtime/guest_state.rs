//! What one store carries: the guest's WASI context (only what its route
//! declares), its resource table and its memory limiter.

use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::guest_output::GuestOutput;
use super::memory_limiter::MemoryLimiter;

/// The `T` of every `Store<T>`.
pub struct GuestState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: MemoryLimiter,
}

impl GuestState {
    /// State for one request: the route's env vars and nothing else (no
    /// args, no preopened directories, no network, no host env), stdout and
    /// stderr into the host log.
    pub fn new(env: &[(String, String)], memory_limit: u64, route: Arc<str>, request_id: Arc<str>) -> Self {
        let mut wasi = WasiCtxBuilder::new();
        wasi.envs(env)
            .stdout(GuestOutput::new("stdout", Arc::clone(&route), Arc::clone(&request_id)))
            .stderr(GuestOutput::new("stderr", route, request_id));
        GuestState { wasi: wasi.build(), table: ResourceTable::new(), limiter: MemoryLimiter::new(memory_limit) }
    }
}

impl WasiView for GuestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}
