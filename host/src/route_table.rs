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
use crate::outbound::OutboundPolicy;
use crate::pattern::RoutePattern;
use crate::router::{Match, RouteConflict, Router};
use crate::runtime::{CacheOutcome, ComponentError, LogBudget, ReusePool, RouteComponent, Runtime};

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
    stats: LoadStats,
}

/// How many components were compiled and how many came from the cache.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoadStats {
    /// Compiled with Cranelift.
    pub compiled: usize,
    /// Loaded from the compile cache.
    pub from_cache: usize,
}

type Compiled = Result<(RouteComponent, CacheOutcome), ComponentError>;

/// Loads `routes`' components on all cores (read, compile or fetch from the
/// compile cache, link, type-check); results in input order.
fn compile_all(runtime: &Runtime, routes: &[&RouteConfig]) -> Vec<Compiled> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(routes.len().max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut results: Vec<Option<Compiled>> = (0..routes.len()).map(|_| None).collect();
    let slots = std::sync::Mutex::new(&mut results);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(route) = routes.get(i) else { break };
                    let result = RouteComponent::load(runtime, &route.component);
                    if let Ok(mut slots) = slots.lock() {
                        slots[i] = Some(result);
                    }
                }
            });
        }
    });
    results
        .into_iter()
        .zip(routes)
        .map(|(r, route)| {
            r.unwrap_or_else(|| {
                Err(ComponentError::Compile { path: route.component.clone(), message: "compile thread failed".into() })
            })
        })
        .collect()
}

impl RouteTable {
    /// Checks the routes for conflicts, then loads every component.
    pub async fn load(config: &RoutesConfig, runtime: &Runtime) -> Result<RouteTable, LoadError> {
        // Conflicts first: they are cheap to find and need no compilation.
        let mut check = Router::new();
        for route in &config.routes {
            check
                .insert(route.pattern.clone(), ())
                .map_err(|conflict| LoadError::Conflict { at: route.at.clone(), conflict })?;
        }

        // Load every distinct component in parallel; report the first
        // failure in file order.
        let mut seen = std::collections::HashSet::new();
        let unique: Vec<&RouteConfig> = config.routes.iter().filter(|r| seen.insert(&r.component)).collect();
        let compiled = compile_all(runtime, &unique);
        let mut components: HashMap<PathBuf, Arc<RouteComponent>> = HashMap::new();
        let mut stats = LoadStats::default();
        for (route, result) in unique.iter().zip(compiled) {
            let component_error =
                |source| LoadError::Component { at: route.at.clone(), route: route.pattern.to_string(), source };
            let (component, outcome) = result.map_err(component_error)?;
            match outcome {
                CacheOutcome::Hit => stats.from_cache += 1,
                CacheOutcome::Miss | CacheOutcome::Disabled => stats.compiled += 1,
            }
            components.insert(route.component.clone(), Arc::new(component));
        }

        let mut router = Router::new();
        for route in &config.routes {
            let Some(component) = components.get(&route.component).map(Arc::clone) else { continue };
            let entry = Route {
                name: Arc::from(route.pattern.as_str()),
                component,
                env: route.env.clone(),
                limits: route.limits,
                outbound: Arc::new(route.outbound.clone()),
                log_budget: Arc::default(),
                reuse: match route.isolation {
                    Isolation::Fresh => None,
                    Isolation::Reuse { max_requests } => Some(ReusePool::new(max_requests)),
                },
                in_flight: Arc::new(Semaphore::new(route.limits.max_concurrency as usize)),
            };
            router
                .insert(route.pattern.clone(), entry)
                .map_err(|conflict| LoadError::Conflict { at: route.at.clone(), conflict })?;
        }
        Ok(RouteTable { router, stats })
    }

    /// How the components were loaded.
    pub fn stats(&self) -> LoadStats {
        self.stats
    }

    /// Finds the route for decoded path segments.
    pub fn lookup<'r>(&'r self, segments: &[&str]) -> Option<Match<'r, Route>> {
        self.router.lookup(segments)
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
