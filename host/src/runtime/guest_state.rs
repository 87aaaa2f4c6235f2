//! What one store carries: the guest's WASI context (only what its route
//! declares), its `wasi:http` context with the route's outbound policy, the
//! key-value stores and SQL databases it may open, its resource table and
//! its memory limiter.

use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime::{Engine, Store, UpdateDeadline};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::guest_output::GuestOutput;
use super::keyvalue::{KvContext, KvView};
use super::memory_limiter::MemoryLimiter;
use super::outbound_hooks::OutboundHooks;
use super::route_context::RouteContext;
use super::sql::{SqlContext, SqlView};
use super::streaming::StreamingView;

/// The `T` of every `Store<T>`.
pub struct GuestState {
    /// Built on the guest's first WASI call: many handlers never make one,
    /// and building it (streams, clocks, three seeded RNGs) is a measurable
    /// part of a fresh instance's cost.
    wasi: Option<WasiCtx>,
    env: Arc<[(String, String)]>,
    stdout: GuestOutput,
    stderr: GuestOutput,
    http: WasiHttpCtx,
    hooks: OutboundHooks,
    kv: KvContext,
    sql: SqlContext,
    table: ResourceTable,
    pub(crate) limiter: MemoryLimiter,
}

impl GuestState {
    /// State for one request of the route `ctx` describes: its env vars and
    /// nothing else (no args, no preopened directories, no sockets, no host
    /// env), outbound HTTP only where the route allows it, only the
    /// key-value stores it declares, stdout and stderr into the host log.
    fn new(ctx: &RouteContext, request_id: Arc<str>) -> Self {
        let route = &ctx.name;
        let stdout =
            GuestOutput::new("stdout", Arc::clone(route), Arc::clone(&request_id), Arc::clone(&ctx.log_budget));
        let stderr =
            GuestOutput::new("stderr", Arc::clone(route), Arc::clone(&request_id), Arc::clone(&ctx.log_budget));
        GuestState {
            wasi: None,
            env: Arc::clone(&ctx.env),
            stdout,
            stderr,
            http: WasiHttpCtx::new(),
            kv: KvContext::new(Arc::clone(&ctx.kv_stores), Arc::clone(route), Arc::clone(&request_id)),
            sql: SqlContext::new(Arc::clone(&ctx.databases), Arc::clone(route), Arc::clone(&request_id)),
            hooks: OutboundHooks::new(Arc::clone(&ctx.outbound), Arc::clone(route), request_id),
            table: ResourceTable::new(),
            limiter: MemoryLimiter::new(ctx.limits.memory),
        }
    }
}

/// A store for one instance of a route's component, under the route's
/// limits, for the request `request_id`.
pub(crate) fn new_store(engine: &Engine, ctx: &RouteContext, request_id: Arc<str>) -> Store<GuestState> {
    let mut store = Store::new(engine, GuestState::new(ctx, request_id));
    store.limiter(|s| &mut s.limiter);
    // On every epoch tick a running guest yields to tokio: other requests
    // on this worker keep flowing, and the route's timeout gets to fire.
    // A plain `Yield` is not enough: tokio polls I/O only every 61 task
    // polls, so the yield must go through the scheduler.
    store.epoch_deadline_callback(|_| Ok(UpdateDeadline::YieldCustom(1, Box::pin(tokio::task::yield_now()))));
    store
}

impl GuestState {
    /// Re-tags a reused instance for its next request: its log lines and
    /// outbound requests carry the new request id.
    pub fn begin_request(&mut self, request_id: Arc<str>) {
        self.stdout.next_request(Arc::clone(&request_id));
        self.stderr.next_request(Arc::clone(&request_id));
        self.kv.set_request_id(Arc::clone(&request_id));
        self.sql.set_request_id(Arc::clone(&request_id));
        self.hooks.set_request_id(request_id);
    }

    /// Ends the current request's guest output (see
    /// [`GuestOutput::end_request`]).
    pub fn end_request(&self) {
        self.stdout.end_request();
        self.stderr.end_request();
    }

    /// Ends a reused instance's request: a database transaction the
    /// handler left open is rolled back before the instance waits for its
    /// next request (a fresh instance's end with its store).
    pub async fn finish_reused_request(&mut self) {
        self.sql.end_request().await;
    }
}

impl GuestState {
    /// What the `wasi:keyvalue` host functions work on.
    pub(crate) fn keyvalue(&mut self) -> KvView<'_> {
        KvView::new(&mut self.kv, &mut self.table)
    }

    /// What the `wasmroutes:sql` host functions work on.
    pub(crate) fn sql(&mut self) -> SqlView<'_> {
        SqlView::new(&mut self.sql, &mut self.table)
    }

    /// What a streaming handler's `responder` and `body-writer` work on.
    pub(crate) fn streaming(&mut self) -> StreamingView<'_> {
        StreamingView::new(&mut self.table)
    }

    /// The instance's resource table (where a streaming handler's
    /// `responder` is put before the call).
    pub(crate) fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }
}

impl WasiView for GuestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        let ctx = self.wasi.get_or_insert_with(|| {
            WasiCtxBuilder::new().envs(&self.env).stdout(self.stdout.clone()).stderr(self.stderr.clone()).build()
        });
        WasiCtxView { ctx, table: &mut self.table }
    }
}

impl WasiHttpView for GuestState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.hooks }
    }
}
