//! The loaded deployment: every route of `routes.toml` with its compiled
//! component, its context (limits, env, grants) and the executor for its
//! kind, in a router ready for lookups.
//!
//! Loading is all-or-nothing: conflicts are found before anything is
//! compiled, and one bad component rejects the whole table.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use rayon::iter::{IntoParallelRefIterator, ParallelIterator};
use tokio::sync::Semaphore;

use crate::config::BuildStep;
use crate::config::{ConfigError, Isolation, Location, RouteConfig, RoutesConfig};
use crate::cors::CorsPolicy;
use crate::kv::{Stores, StoresError};
use crate::limits::Limits;
use crate::load_progress::LoadProgress;
use crate::observability::{self, RouteMetrics};
use crate::routing::pattern::RoutePattern;
use crate::routing::router::{Candidate, Match, Router};
use crate::runtime::executor::ReuseUnsupported;
use crate::runtime::{
    CacheOutcome, ComponentError, ContentHash, Executor, RouteComponent, RouteContext, Sandbox, content_hash,
};
use crate::sql::{Databases, DatabasesError};

/// One servable route.
pub struct Route {
    /// The compiled component (shared if several routes use one file).
    pub component: Arc<RouteComponent>,
    /// Runs its requests, in fresh or reused instances as its isolation
    /// says, under its context (name, env, limits, grants).
    pub executor: Executor,
    /// Permits for requests in flight (`limits.max_concurrency`).
    pub in_flight: Arc<Semaphore>,
    /// The route's metric handles.
    pub metrics: RouteMetrics,
    /// Which browser origins may call it (`cors`), if any.
    pub cors: Option<Arc<CorsPolicy>>,
}

impl Route {
    /// The pattern as written, as log lines name the route.
    pub fn name(&self) -> &str {
        &self.executor.context().name
    }

    /// Its resource limits.
    pub fn limits(&self) -> &Limits {
        &self.executor.context().limits
    }
}

/// Why a deployment could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// `routes.toml` itself is wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
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
    /// The stores `routes.toml` configures are not the ones this host
    /// opened (only a restart opens stores).
    #[error("{}: {source}", file.display())]
    Stores {
        /// The manifest.
        file: PathBuf,
        /// What changed.
        source: StoresError,
    },
    /// A database a route lists cannot be opened or migrated, or
    /// `routes.toml` no longer configures the databases this host opened.
    #[error("{}: {source}", file.display())]
    Databases {
        /// The manifest.
        file: PathBuf,
        /// Why.
        source: DatabasesError,
    },
    /// `isolation = "reuse"` on a `wasi:http/proxy` component.
    #[error("{at}: route `{route}`: {source}")]
    ProxyReuse {
        /// The route's entry.
        at: Location,
        /// The route pattern.
        route: String,
        /// Why not.
        source: ReuseUnsupported,
    },
    /// A route's component does not exist yet, and the route says how to
    /// make it.
    #[error(
        "{at}: route `{route}`: {} does not exist yet: run `wasmroutes build` first (it runs the route's {step})",
        component.display()
    )]
    NotBuilt {
        /// The route's entry.
        at: Location,
        /// The route pattern.
        route: String,
        /// The missing file.
        component: PathBuf,
        /// What makes it (boxed: the rarest error need not size every `Result`).
        step: Box<BuildStep>,
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
    /// The routes with `cors`, in the router's precedence order, for
    /// [`RouteTable::cors_for_unmatched`]: made once here, since 404s can be
    /// many and most deployments have no CORS at all.
    with_cors: Vec<(RoutePattern, Arc<CorsPolicy>)>,
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

/// What loading one component file came to.
enum Loaded {
    /// Same content as in the previous table: reused as is.
    Unchanged(LoadedComponent),
    /// Compiled or fetched from the compile cache, then linked.
    New(LoadedComponent, CacheOutcome),
}

/// Reads, hashes and loads every file in `routes` (one route per distinct
/// component) on all cores, reusing `previous` components whose content is
/// unchanged. Results in input order.
fn load_all(
    sandbox: &Sandbox,
    routes: &[&RouteConfig],
    previous: Option<&HashMap<PathBuf, LoadedComponent>>,
) -> Vec<Result<Loaded, ComponentError>> {
    let load_one = |route: &RouteConfig| -> Result<Loaded, ComponentError> {
        let path = &route.component;
        // Read once, so that what is hashed is exactly what is compiled.
        let bytes = std::fs::read(path).map_err(|source| ComponentError::Read { path: path.clone(), source })?;
        let hash = content_hash(&bytes);
        if let Some(kept) = previous.and_then(|p| p.get(path)).filter(|c| c.hash == hash) {
            return Ok(Loaded::Unchanged(kept.clone()));
        }
        let (component, outcome) = RouteComponent::load_bytes(sandbox, path, &bytes, &hash)?;
        Ok(Loaded::New(LoadedComponent { hash, component: Arc::new(component) }, outcome))
    };
    let progress = LoadProgress::new(routes.len());
    let load_and_count = |route: &RouteConfig| {
        let result = load_one(route);
        let how = match &result {
            Ok(Loaded::Unchanged(_)) => "unchanged",
            Ok(Loaded::New(_, CacheOutcome::Hit)) => "from cache",
            Ok(Loaded::New(_, _)) => "compiled",
            Err(_) => "failed",
        };
        progress.finished(&route.component, how);
        result
    };
    // rayon's indexed collect keeps input order, so the first failure
    // reported is the first in the file.
    routes.par_iter().map(|route| load_and_count(route)).collect()
}

impl RouteTable {
    /// Checks the routes for conflicts, then loads every component. Each
    /// route gets the `stores` its `key_value_stores` lists.
    ///
    /// Blocking work (reading and compiling on every core): an async caller
    /// runs it through `spawn_blocking`. Opening a Redis store spawns its
    /// connection task, so a caller outside tokio enters a runtime first.
    pub fn load(
        config: &RoutesConfig,
        sandbox: &Sandbox,
        stores: &Stores,
        databases: &Databases,
    ) -> Result<RouteTable, LoadError> {
        Self::load_reusing(config, sandbox, stores, databases, None)
    }

    /// Like [`RouteTable::load`], but a component whose file has the same
    /// content as in `previous` is taken from it instead of being compiled and
    /// linked again, so a reload costs only what changed. Blocking, like
    /// [`RouteTable::load`].
    pub fn load_reusing(
        config: &RoutesConfig,
        sandbox: &Sandbox,
        stores: &Stores,
        databases: &Databases,
        previous: Option<&RouteTable>,
    ) -> Result<RouteTable, LoadError> {
        stores
            .check_unchanged(&config.stores)
            .map_err(|source| LoadError::Stores { file: config.file.clone(), source })?;
        databases
            .check_unchanged(&config.databases)
            .map_err(|source| LoadError::Databases { file: config.file.clone(), source })?;
        // Conflicts were refused when the config was parsed
        // (`config::check_conflicts`); the router below would still refuse one.
        for route in &config.routes {
            // The pooling allocator's slots were sized when the engine was
            // built; only a new engine (a restart) can give a route more.
            if route.limits.memory > sandbox.max_memory() {
                return Err(LoadError::MemoryOverEngine {
                    at: route.at.clone(),
                    route: route.pattern.to_string(),
                    asked: route.limits.memory,
                    engine: sandbox.max_memory(),
                });
            }
        }

        // Load every distinct component in parallel (keeping the unchanged
        // ones); report the first failure in file order.
        let mut seen = std::collections::HashSet::new();
        let unique: Vec<&RouteConfig> = config.routes.iter().filter(|r| seen.insert(&r.component)).collect();
        let loaded = load_all(sandbox, &unique, previous.map(|p| &p.components));
        let mut components: HashMap<PathBuf, LoadedComponent> = HashMap::new();
        let mut stats = LoadStats::default();
        for (route, result) in unique.iter().zip(loaded) {
            let loaded = result.map_err(|source| match (source, &route.build) {
                (ComponentError::Read { path, source }, Some(step))
                    if source.kind() == std::io::ErrorKind::NotFound =>
                {
                    LoadError::NotBuilt {
                        at: route.at.clone(),
                        route: route.pattern.to_string(),
                        component: path,
                        step: Box::new(step.clone()),
                    }
                }
                (source, _) => LoadError::Component { at: route.at.clone(), route: route.pattern.to_string(), source },
            })?;
            let component = match loaded {
                Loaded::Unchanged(kept) => {
                    stats.unchanged += 1;
                    kept
                }
                Loaded::New(component, CacheOutcome::Hit) => {
                    stats.from_cache += 1;
                    observability::compile_cache_hit();
                    component
                }
                Loaded::New(component, CacheOutcome::Miss) => {
                    stats.compiled += 1;
                    observability::compile_cache_miss();
                    component
                }
                Loaded::New(component, CacheOutcome::Disabled) => {
                    stats.compiled += 1;
                    component
                }
            };
            components.insert(route.component.clone(), component);
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
                .filter(|r| r.limits().max_concurrency == route.limits.max_concurrency);
            let context = RouteContext {
                name: Arc::from(route.pattern.as_str()),
                env: Arc::from(route.env.as_slice()),
                limits: route.limits,
                outbound: Arc::new(route.outbound.clone()),
                kv_stores: stores
                    .for_route(&route.key_value_stores)
                    .map_err(|source| LoadError::Stores { file: config.file.clone(), source })?,
                databases: databases
                    .for_route(&route.databases)
                    .map_err(|source| LoadError::Databases { file: config.file.clone(), source })?,
                log_budget: before.map_or_else(Arc::default, |r| Arc::clone(&r.executor.context().log_budget)),
            };
            let reuse = match route.isolation {
                Isolation::Fresh => None,
                Isolation::Reuse { max_requests } => Some(max_requests),
            };
            let executor = Executor::new(&component, context, reuse).map_err(|source| LoadError::ProxyReuse {
                at: route.at.clone(),
                route: route.pattern.to_string(),
                source,
            })?;
            let entry = Route {
                component,
                executor,
                in_flight: before.map_or_else(
                    || Arc::new(Semaphore::new(route.limits.max_concurrency as usize)),
                    |r| Arc::clone(&r.in_flight),
                ),
                metrics: RouteMetrics::new(route.pattern.as_str()),
                cors: route.cors.clone().map(Arc::new),
            };
            router.insert(route.pattern.clone(), entry).map_err(|conflict| ConfigError::Conflict {
                at: route.at.clone(),
                other: None,
                conflict,
            })?;
        }
        let with_cors = router
            .in_precedence_order()
            .into_iter()
            .filter_map(|(pattern, route)| Some((pattern.clone(), Arc::clone(route.cors.as_ref()?))))
            .collect();
        // After the load, so that what it compiled counts as recently used
        // and every component the table holds is spared.
        sandbox.trim_cache(components.values().map(|c| &c.hash));
        Ok(RouteTable { router, components, stats, with_cors })
    }

    /// How the components were loaded.
    pub fn stats(&self) -> LoadStats {
        self.stats
    }

    /// Finds the route for decoded path segments.
    pub fn lookup<'r>(&'r self, segments: &[&str]) -> Option<Match<'r, Route>> {
        self.router.lookup(segments)
    }

    /// The CORS policy a `404` for decoded path `segments` answers with:
    /// that of the deepest route with CORS the path goes on below
    /// (`/api/posts/1/x` below `/api/posts/[id]`), so that a browser page
    /// sees the 404 instead of a CORS failure. The router's precedence
    /// breaks ties. Runs only for unmatched paths.
    pub fn cors_for_unmatched(&self, segments: &[&str]) -> Option<&CorsPolicy> {
        let mut deepest: Option<(usize, &CorsPolicy)> = None;
        for (pattern, cors) in &self.with_cors {
            let Some(depth) = pattern.covers_start_of(segments) else { continue };
            if deepest.is_none_or(|(best, _)| depth > best) {
                deepest = Some((depth, cors));
            }
        }
        deepest.map(|(_, cors)| cors)
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
    pub fn summary(&self) -> String {
        let rows: Vec<(String, String, String)> = self
            .iter()
            .map(|(pattern, route)| {
                let methods = route.component.methods_label();
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
