//! `serve --watch`: the loop that ties the watcher to builds and reloads.
//! It runs on its own thread, so reading and compiling components never
//! happens on the threads that serve requests; the swap itself is one atomic
//! pointer store.
//!
//! One module per step of the loop: [`plan`] (which paths matter and what a
//! change to each asks for), [`file_watcher`] (debounced events),
//! [`rebuild`] (a route's build step when its sources change) and
//! [`reload`] (load what changed, swap the route table).

pub mod file_watcher;
pub mod plan;
pub mod rebuild;
pub mod reload;

use std::sync::Arc;
use std::time::Duration;

use self::file_watcher::{FileWatcher, StopWatching, WatchError};
use self::plan::WatchPlan;
use self::rebuild::Rebuilder;
use self::reload::reload_logged;
use crate::config::RoutesConfig;
use crate::config::manifest_source::ManifestSource;
use crate::server::ServerState;

/// How long a path must be quiet before its change is acted on: long enough
/// to fold an editor's or cargo's several writes into one event, short
/// enough to feel instant.
pub const DEBOUNCE: Duration = Duration::from_millis(200);

/// The running watch loop; dropping it stops the loop (a build already
/// running finishes on its own).
pub struct HotReload {
    stop: StopWatching,
}

impl Drop for HotReload {
    fn drop(&mut self) {
        self.stop.stop();
    }
}

/// Starts watching what `source` and its current `config` name. `runtime` is
/// the tokio runtime the server runs on (a reload links components on it).
pub fn start(
    state: Arc<ServerState>,
    source: ManifestSource,
    config: &RoutesConfig,
    runtime: tokio::runtime::Handle,
) -> Result<HotReload, WatchError> {
    let mut watcher = FileWatcher::new(DEBOUNCE)?;
    let plan = WatchPlan::new(&[source.watch_root()], config);
    watcher.watch(&plan);
    let stop = watcher.stopper();
    std::thread::Builder::new()
        .name("wasmroutes-watch".into())
        .spawn(move || watch_loop(&state, &source, watcher, plan, &runtime))
        .map_err(|e| WatchError::from(notify::Error::io(e)))?;
    Ok(HotReload { stop })
}

fn watch_loop(
    state: &ServerState,
    source: &ManifestSource,
    mut watcher: FileWatcher,
    mut plan: WatchPlan,
    runtime: &tokio::runtime::Handle,
) {
    let builds = Rebuilder::default();
    while let Some(changed) = watcher.next_changes() {
        let changes = plan.classify(&changed);
        for job in changes.builds {
            builds.trigger(job);
        }
        if !changes.reload {
            continue;
        }
        // Whether or not the new version loads, watch what it names: a
        // component that is missing now is noticed when it appears.
        // A store a new route lists is opened now; a Redis one spawns its
        // connection task on the host's runtime.
        let entered = runtime.enter();
        let reloaded = reload_logged(state, source);
        drop(entered);
        if let Some(config) = reloaded {
            plan = WatchPlan::new(&[source.watch_root()], &config);
            watcher.watch(&plan);
        }
    }
}
