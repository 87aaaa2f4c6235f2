//! The one wasmtime `Engine` and `Linker` the host shares between all routes,
//! and the epoch ticker that lets the host interrupt a busy guest.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::component::Linker;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::compile_cache::{CompileCache, ContentHash};
use super::guest_state::GuestState;
use super::pool_tuning::PoolTuning;

/// How often the epoch advances. Every tick a running guest yields to tokio,
/// so other requests keep flowing and a timeout is noticed within one tick.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Host-wide settings for the engine.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Largest linear memory any route may use (the pool reserves this much
    /// address space per slot).
    pub max_memory: u64,
    /// Instances alive at once across all routes (pool slots).
    pub max_instances: u32,
    /// Where compiled components are cached (`None`: always compile).
    pub cache: Option<CompileCache>,
    /// How pool slots are reset between instances.
    pub pool: PoolTuning,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            max_memory: crate::limits::Limits::DEFAULT_MEMORY,
            max_instances: 1000,
            cache: CompileCache::default_dir().map(CompileCache::new),
            pool: PoolTuning::default(),
        }
    }
}

/// What every guest runs in: the shared engine, the linker holding the
/// imports a route may have, and the epoch ticker that interrupts a busy
/// guest. (Not `Runtime`, which a reader takes for tokio's.)
pub struct Sandbox {
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<GuestState>,
    pub(crate) cache: Option<CompileCache>,
    max_memory: u64,
    _ticker: EpochTicker,
}

impl Sandbox {
    /// Builds the engine (pooling allocator, epoch interruption) and a linker
    /// with WASI p2 and `wasi:http`. Guests get no files, sockets or host env: `GuestState`
    /// builds each store's WASI context from the route's declarations only.
    pub fn new(config: &EngineConfig) -> wasmtime::Result<Sandbox> {
        let mut pool = PoolingAllocationConfig::new();
        pool.total_component_instances(config.max_instances)
            .total_core_instances(config.max_instances.saturating_mul(4))
            .total_memories(config.max_instances.saturating_mul(2))
            .total_tables(config.max_instances.saturating_mul(2))
            .total_stacks(config.max_instances)
            .max_memory_size(usize::try_from(config.max_memory).unwrap_or(usize::MAX));
        // Resetting a pool slot is the largest per-request cost after the
        // socket: keeping the first pages resident and resetting them in place
        // avoids the page faults that `madvise`d-away slots cost the next
        // request. RSS grows by at most the window per slot in use. The
        // measurements: bench/README.md, "Pool slots".
        let tuning = &config.pool;
        pool.pagemap_scan(if tuning.pagemap_scan { wasmtime::Enabled::Yes } else { wasmtime::Enabled::No })
            .linear_memory_keep_resident(tuning.memory_keep_resident)
            .table_keep_resident(tuning.table_keep_resident)
            .async_stack_keep_resident(tuning.stack_keep_resident)
            .decommit_batch_size(tuning.decommit_batch_size);

        let mut wasm = Config::new();
        wasm.epoch_interruption(true)
            .table_lazy_init(tuning.table_lazy_init)
            .memory_guaranteed_dense_image_size(tuning.dense_image_size)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        // `WASMROUTES_PERFMAP=1`: write /tmp/perf-PID.map, so `perf report`
        // names guest functions instead of bare addresses (bench/README.md,
        // "Where a JavaScript request's time goes").
        if std::env::var_os("WASMROUTES_PERFMAP").is_some_and(|v| v == "1") {
            wasm.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        let engine = Engine::new(&wasm)?;

        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        // Every request the guest makes goes through `OutboundHooks`, which
        // refuses what the route's `allowed_outbound_hosts` does not list.
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        // Key-value stores: `open` refuses what the route's
        // `key_value_stores` does not list.
        super::keyvalue::add_to_linker(&mut linker)?;
        // SQL databases: `open` refuses what the route's `databases` does not list.
        super::sql::add_to_linker(&mut linker)?;
        super::streaming::add_to_linker(&mut linker)?;

        let ticker = EpochTicker::start(engine.clone());
        Ok(Sandbox { engine, linker, cache: config.cache.clone(), max_memory: config.max_memory, _ticker: ticker })
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The largest linear memory the engine was sized for: a route may not
    /// ask for more without a restart.
    pub fn max_memory(&self) -> u64 {
        self.max_memory
    }

    /// Keeps the compile cache (if any) within its size cap, sparing the
    /// entries of the components in `in_use`.
    pub fn trim_cache<'a>(&self, in_use: impl IntoIterator<Item = &'a ContentHash>) {
        if let Some(cache) = &self.cache {
            cache.trim(&self.engine, in_use);
        }
    }
}

/// A thread that advances the engine's epoch every [`EPOCH_TICK`] until dropped.
struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    fn start(engine: Engine) -> EpochTicker {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("wasmroutes-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .ok();
        EpochTicker { stop, thread }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
