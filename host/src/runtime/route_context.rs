//! What a route gives every instance of its component, built once when the
//! route is loaded (in the spirit of wasmtime's `*Ctx` types): its name, env,
//! limits, outbound policy, key-value stores, databases and log allowance. A request
//! adds only its id ([`super::guest_state::new_store`]).

use std::sync::Arc;

use super::guest_output::LogBudget;
use crate::kv::RouteStores;
use crate::limits::Limits;
use crate::outbound::OutboundPolicy;
use crate::sql::RouteDatabases;

/// One route's grants and limits, shared by all its requests.
pub struct RouteContext {
    /// The route pattern as written, for log lines and guest output tags.
    pub name: Arc<str>,
    /// Environment the guest sees.
    pub env: Arc<[(String, String)]>,
    /// Resource limits.
    pub limits: Limits,
    /// Where the guest may send HTTP requests.
    pub outbound: Arc<OutboundPolicy>,
    /// The key-value stores the guest may open.
    pub kv_stores: Arc<RouteStores>,
    /// The SQL databases the guest may open.
    pub databases: Arc<RouteDatabases>,
    /// The route's allowance of guest log lines, shared by its requests
    /// (and kept across a reload that keeps the route).
    pub log_budget: Arc<LogBudget>,
}

impl RouteContext {
    /// A context that grants nothing (no env, no stores, no outbound HTTP)
    /// under the default limits, named `name`: for calls the host makes by
    /// itself, such as reading a component's description.
    pub fn ungranted(name: &str) -> RouteContext {
        RouteContext {
            name: Arc::from(name),
            env: Arc::from([]),
            limits: Limits::default(),
            outbound: Arc::new(OutboundPolicy::default()),
            kv_stores: Arc::new(RouteStores::default()),
            databases: Arc::new(RouteDatabases::default()),
            log_budget: Arc::new(LogBudget::default()),
        }
    }
}
