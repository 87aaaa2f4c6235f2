//! Hot reload: read the deployment again, load it on top of the running
//! table (every component whose file kept its content is reused, not
//! compiled), and swap the new table in whole. A reload that fails at any
//! step leaves the running table serving, untouched.

use std::fmt;
use std::time::{Duration, Instant};

use crate::config::RoutesConfig;
use crate::config::manifest_source::ManifestSource;
use crate::route_table::{LoadError, LoadStats, RouteTable};
use crate::server::ServerState;

/// What a successful reload did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReloadReport {
    /// Routes now served.
    pub routes: usize,
    /// From reading the deployment to the swap.
    pub took: Duration,
    /// How each component was loaded.
    pub stats: LoadStats,
}

impl fmt::Display for ReloadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let LoadStats { compiled, from_cache, unchanged } = self.stats;
        write!(
            f,
            "reloaded {} route(s) in {} ms ({compiled} compiled, {from_cache} from cache, {unchanged} unchanged)",
            self.routes,
            self.took.as_millis()
        )
    }
}

/// Loads `config` reusing the unchanged components of `host`'s current table,
/// then makes it the table new requests get. Requests already running keep
/// the table they started with. Blocking (it compiles what changed): the
/// watcher calls it on its own thread, inside the runtime's context for
/// stores that connect. A failed load (conflict, component, memory) leaves
/// the running table as is.
pub fn reload(state: &ServerState, config: &RoutesConfig) -> Result<ReloadReport, LoadError> {
    let started = Instant::now();
    let current = state.routes();
    let table = RouteTable::load_reusing(config, &state.sandbox, &state.stores, &state.databases, Some(&current))?;
    let report = ReloadReport { routes: table.len(), took: started.elapsed(), stats: table.stats() };
    state.replace_routes(table);
    Ok(report)
}

/// Reads `source` and reloads it into `host`, logging the outcome: the
/// report line, or the error (with its `file:line:column`) and the fact that
/// the previous version is still serving. Returns the configuration read, if
/// it was valid, so the caller can watch what it names.
pub fn reload_logged(state: &ServerState, source: &ManifestSource) -> Option<RoutesConfig> {
    let config = match source.read() {
        Ok(config) => config,
        Err(e) => {
            tracing::error!("reload failed, still serving the previous version: {e}");
            return None;
        }
    };
    match reload(state, &config) {
        Ok(report) => tracing::info!("{report}"),
        Err(e) => tracing::error!("reload failed, still serving the previous version: {e}"),
    }
    Some(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_line_counts_every_kind_of_load() {
        let report = ReloadReport {
            routes: 9,
            took: Duration::from_millis(45),
            stats: LoadStats { compiled: 1, from_cache: 0, unchanged: 8 },
        };
        assert_eq!(report.to_string(), "reloaded 9 route(s) in 45 ms (1 compiled, 0 from cache, 8 unchanged)");
    }
}
