//! The loaded deployment: every route of `routes.toml` with its compiled
//! component, limits and env, in a router ready for lookups.
//!
//! Loading is all-or-nothing: conflicts are found before anything is
//! compiled, and one bad component rejects the whole table.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::config::{ConfigError, Isolation, Location, RouteConfig, RoutesConfig};
use crate::limits::Limits;
use crate::observability::{self, RouteMetrics};
use crate::outbound::OutboundPolicy;
use crate::pattern::RoutePattern;
use crate::router::{Candidate, Match, RouteConflict, Router};
use crate::runtime::{
    CacheOutcome, ComponentError, ContentHash, LogBudget, ReusePool, RouteComponent, Runtime, content_hash,
};

/// One servable route.
pub struct Route {
    /// The pattern as written, shared with log lines and guest output tags.
    pub name: Arc<str>,
    /// The compiled component (shared if several routes use one file).
    pub component: Arc<RouteComponent>,
    /// Environment the guest sees.
    pub env: Vec<(String, String)>,
    /// Resource limits.
    pub limits: Limits,
    /// Where the guest may send HTTP requests.
    pub outbound: Arc<OutboundPolicy>,
    /// The route's allowance of guest log lines, shared by its requests.
    pub log_budget: Arc<LogBudget>,
    /// Idle instances, for a route with `isolation = "reuse"`.
    pub reuse: Option<ReusePool>,
    /// Permits for requests in flight (`limits.max_concurrency`).
    pub in_flight: Arc<Semaphore>,
    /// The route's metric handles.
    pub metrics: RouteMetrics,
}

/// Why a deployment could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// `routes.toml` itself is wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Two routes clash.
    #[error("{at}: {conflict}")]
    Conflict {
        /// The later route's entry.
        at: Location,
        /// The clash.
        conflict: RouteConflict,
    },
    /// A route asks for more memory than the running engine was sized for.
    #[error(
        "{at}: route `{route}`: limits.memory = {} is more than this server was started with ({}); restart `wasmroutes serve` to apply it",
        crate::limits::format_size(*asked),
        crate::limits::format_size(*engine)
    )]
    MemoryOverEngine {
        /// The route's entry.
        at: Location,
        /// The route pattern.
        route: String,
        /// Bytes the route asks for.
        asked: u64,
        /// Bytes each instance slot of the engine has.
        engine: u64,
    },
    /// A route's component cannot be used.
    #[error("{at}: route `{route}`: {source}")]
    Component {
        /// The route's entry.
        at: Location,
        /// The route pattern.
        route: String,
        /// What is wrong with the component.
        source: ComponentError,
    },
}

/// All routes, ready to serve.
pub struct RouteTable {
    router: Router<Route>,
    /// Every component by file, with the content it was loaded from, so a
    /// reload can keep what did not change.
    components: HashMap<PathBuf, LoadedComponent>,
    stats: LoadStats,
}

#[derive(Clone)]
struct LoadedComponent {
    hash: ContentHash,
    component: Arc<RouteComponent>,
}

/// How the components were loaded: compiled, from the compile cache, or
/// kept from the previous table on a reload.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoadStats {
    /// Compiled with Cranelift.
    pub compiled: usize,
    /// Loaded from the compile cache.
    pub from_cache: usize,
    /// Same file, same content as in the previous table: reused as is.
    pub unchanged: usize,
}

type Compiled = Result<(wasmtime::component::Component, CacheOutcome), ComponentError>;

/// A component file that needs compiling, read once so that what is hashed
/// is exactly what is compiled.
struct CompileJob<'c> {
    route: &'c RouteConfig,
    bytes: Vec<u8>,
    hash: ContentHash,
}

/// Compiles the jobs' components on all cores; results in input order.
fn compile_all(runtime: &Runtime, jobs: &[CompileJob<'_>]) -> Vec<Compiled> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(jobs.len().max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut results: Vec<Option<Compiled>> = (0..jobs.len()).map(|_| None).collect();
    let slots = std::sync::Mutex::new(&mut results);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(job) = jobs.get(i) else { break };
                    let result = RouteComponent::compile_bytes(runtime, &job.route.component, &job.bytes, &job.hash);
                    if let Ok(mut slots) = slots.lock() {
                        slots[i] = Some(result);
                    }
                }
            });
        }
    });
    results
        .into_iter()
        .zip(jobs)
        .map(|(r, job)| {
            r.unwrap_or_else(|| {
                Err(ComponentError::Compile {
                    path: job.route.component.clone(),
                    message: "compile thread failed".into(),
                })
            })
        })
        .collect()
}

impl RouteTable {
    /// Checks the routes for conflicts, then loads every component.
    pub async fn load(config: &RoutesConfig, runtime: &Runtime) -> Result<RouteTable, LoadError> {
        Self::load_reusing(config, runtime, None).await
    }

    /// Like [`RouteTable::load`], but a component whose file has the same
    /// content as in `previous` is taken from it instead of being compiled and
    /// linked again, so a reload costs only what changed. Blocking while it
    /// compiles: run it off the request path.
    pub async fn load_reusing(
        config: &RoutesConfig,
        runtime: &Runtime,
        previous: Option<&RouteTable>,
    ) -> Result<RouteTable, LoadError> {
        // Conflicts first: they are cheap to find and need no compilation.
        let mut check = Router::new();
        for route in &config.routes {
            check
                .insert(route.pattern.clone(), ())
                .map_err(|conflict| LoadError::Conflict { at: route.at.clone(), conflict })?;
            // The pooling allocator's slots were sized when the engine was
            // built; only a new engine (a restart) can give a route more.
            if route.limits.memory > runtime.max_memory() {
                return Err(LoadError::MemoryOverEngine {
                    at: route.at.clone(),
                    route: route.pattern.to_string(),
                    asked: route.limits.memory,
                    engine: runtime.max_memory(),
                });
            }
        }

        // Read every distinct component; keep the unchanged ones, compile the
        // rest in parallel (or load them from the compile cache), then link
        // and type-check them in file order.
        let mut seen = std::collections::HashSet::new();
        let mut components: HashMap<PathBuf, LoadedComponent> = HashMap::new();
        let mut stats = LoadStats::default();
        let mut jobs = Vec::new();
        for route in config.routes.iter().filter(|r| seen.insert(&r.component)) {
            let bytes = std::fs::read(&route.component).map_err(|source| LoadError::Component {
                at: route.at.clone(),
                route: route.pattern.to_string(),
                source: ComponentError::Read { path: route.component.clone(), source },
            })?;
            let hash = content_hash(&bytes);
            let kept = previous.and_then(|p| p.components.get(&route.component)).filter(|c| c.hash == hash);
            match kept {
                Some(kept) => {
                    stats.unchanged += 1;
                    components.insert(route.component.clone(), kept.clone());
                }
                None => jobs.push(CompileJob { route, bytes, hash }),
            }
        }
        let compiled = compile_all(runtime, &jobs);
        for (job, result) in jobs.iter().zip(compiled) {
            let route = job.route;
            let component_error =
                |source| LoadError::Component { at: route.at.clone(), route: route.pattern.to_string(), source };
            let (component, outcome) = result.map_err(component_error)?;
            match outcome {
                CacheOutcome::Hit => {
                    stats.from_cache += 1;
                    observability::compile_cache_hit();
                }
                CacheOutcome::Miss => {
                    stats.compiled += 1;
                    observability::compile_cache_miss();
                }
                CacheOutcome::Disabled => stats.compiled += 1,
            }
            let loaded = RouteComponent::link(runtime, &route.component, component).await.map_err(component_error)?;
            components.insert(route.component.clone(), LoadedComponent { hash: job.hash, component: Arc::new(loaded) });
        }

        // A route that keeps its path and concurrency limit keeps its
        // in-flight count and log allowance, so a reload cannot briefly
        // double what a route may run at once.
        let carried: HashMap<&str, &Route> = previous
            .map(|p| p.router.iter().map(|(pattern, route)| (pattern.as_str(), route)).collect())
            .unwrap_or_default();
        let mut router = Router::new();
        for route in &config.routes {
            let Some(component) = components.get(&route.component).map(|c| Arc::clone(&c.component)) else {
                continue;
            };
            let before = carried
                .get(route.pattern.as_str())
                .filter(|r| r.limits.max_concurrency == route.limits.max_concurrency);
            let entry = Route {
                name: Arc::from(route.pattern.as_str()),
                component,
                env: route.env.clone(),
                limits: route.limits,
                outbound: Arc::new(route.outbound.clone()),
                log_budget: before.map_or_else(Arc::default, |r| Arc::clone(&r.log_budget)),
                reuse: match route.isolation {
                    Isolation::Fresh => None,
                    Isolation::Reuse { max_requests } => Some(ReusePool::new(max_requests)),
                },
                in_flight: before.map_or_else(
                    || Arc::new(Semaphore::new(route.limits.max_concurrency as usize)),
                    |r| Arc::clone(&r.in_flight),
                ),
                metrics: RouteMetrics::new(route.pattern.as_str()),
            };
            router
                .insert(route.pattern.clone(), entry)
                .map_err(|conflict| LoadError::Conflict { at: route.at.clone(), conflict })?;
        }
        Ok(RouteTable { router, components, stats })
    }

    /// How the components were loaded.
    pub fn stats(&self) -> LoadStats {
        self.stats
    }

    /// Finds the route for decoded path segments.
    pub fn lookup<'r>(&'r self, segments: &[&str]) -> Option<Match<'r, Route>> {
        self.router.lookup(segments)
    }

    /// Every route the router reaches for decoded path segments, in the
    /// order it tries them; the first match is what [`RouteTable::lookup`] finds.
    pub fn explain<'r>(&'r self, segments: &[&str]) -> Vec<Candidate<'r, Route>> {
        self.router.explain(segments)
    }

    /// Routes in the order the router prefers them (see [`Router::in_precedence_order`]).
    pub fn in_precedence_order(&self) -> Vec<(&RoutePattern, &Route)> {
        self.router.in_precedence_order()
    }

    /// Routes in file order.
    pub fn iter(&self) -> impl Iterator<Item = (&RoutePattern, &Route)> {
        self.router.iter()
    }

    /// Number of routes.
    pub fn len(&self) -> usize {
        self.router.len()
    }

    /// Whether there are no routes.
    pub fn is_empty(&self) -> bool {
        self.router.is_empty()
    }

    /// The route table as text: path, methods, component — for start-up.
    pub fn describe(&self) -> String {
        let rows: Vec<(String, String, String)> = self
            .iter()
            .map(|(pattern, route)| {
                let methods = route.component.methods().allowed().allow_header();
                (pattern.to_string(), methods, route.component.path().display().to_string())
            })
            .collect();
        let w0 = rows.iter().map(|r| r.0.len()).max().unwrap_or(0).max("PATH".len());
        let w1 = rows.iter().map(|r| r.1.len()).max().unwrap_or(0).max("METHODS".len());
        let mut out = format!("{:w0$}  {:w1$}  COMPONENT\n", "PATH", "METHODS");
        for (p, m, c) in rows {
            out.push_str(&format!("{p:w0$}  {m:w1$}  {c}\n"));
        }
        out
    }
}
