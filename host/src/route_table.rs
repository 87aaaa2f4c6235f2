//! The loaded deployment: every route of `routes.toml` with its compiled
//! component, limits and env, in a router ready for lookups.
//!
//! Loading is all-or-nothing: conflicts are found before anything is
//! compiled, and one bad component rejects the whole table.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::config::{ConfigError, Isolation, Location, RoutesConfig};
use crate::limits::Limits;
use crate::outbound::OutboundPolicy;
use crate::pattern::RoutePattern;
use crate::router::{Match, RouteConflict, Router};
use crate::runtime::{ComponentError, LogBudget, ReusePool, RouteComponent, Runtime};

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

        let mut components: HashMap<PathBuf, Arc<RouteComponent>> = HashMap::new();
        let mut router = Router::new();
        for route in &config.routes {
            let component = match components.get(&route.component) {
                Some(c) => Arc::clone(c),
                None => {
                    let loaded = RouteComponent::load(runtime, &route.component).await.map_err(|source| {
                        LoadError::Component { at: route.at.clone(), route: route.pattern.to_string(), source }
                    })?;
                    let loaded = Arc::new(loaded);
                    components.insert(route.component.clone(), Arc::clone(&loaded));
                    loaded
                }
            };
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
        Ok(RouteTable { router })
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
