//! Builds that `serve --watch` runs when a route's sources change: each on
//! its own thread (never on the async runtime), at most one at a time per
//! command. A change during a build queues exactly one more run of it, so a
//! burst of saves costs at most two builds and the last one sees every save.
//!
//! A build does not reload anything itself: it writes the component, and the
//! watcher sees that like any other component change.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::plan::BuildJob;
use crate::build_routes;
use crate::config::BuildStep;

/// Most output kept from a failed build, per stream (its end: where
/// compilers put the error summary).
const MAX_FAILURE_OUTPUT: usize = 16 * 1024;

/// Runs `build` commands in the background, one at a time per command.
#[derive(Clone, Default)]
pub struct Rebuilder {
    /// Commands running now, with whether another run is queued.
    running: Arc<Mutex<HashMap<(BuildStep, PathBuf), bool>>>,
}

impl Rebuilder {
    /// Runs `job` now, or once more after its current run.
    pub fn trigger(&self, job: BuildJob) {
        let key = (job.step.clone(), job.base_dir.clone());
        {
            let Ok(mut running) = self.running.lock() else { return };
            if let Some(queued) = running.get_mut(&key) {
                *queued = true;
                return;
            }
            running.insert(key.clone(), false);
        }
        let running = Arc::clone(&self.running);
        let cleanup = key.clone();
        let spawned = std::thread::Builder::new().name("wasmroutes-build".into()).spawn(move || {
            loop {
                run(&job);
                let Ok(mut running) = running.lock() else { return };
                match running.get_mut(&key) {
                    Some(queued) if *queued => *queued = false,
                    _ => {
                        running.remove(&key);
                        return;
                    }
                }
            }
        });
        if let Err(e) = spawned {
            tracing::error!("cannot start a build thread: {e}");
            if let Ok(mut running) = self.running.lock() {
                running.remove(&cleanup);
            }
        }
    }
}

/// Runs one build and logs the outcome; a failure shows the command's output.
fn run(job: &BuildJob) {
    let started = Instant::now();
    tracing::info!(route = %job.route, "sources changed; running {}", job.step);
    let output =
        match build_routes::command(&job.step, &job.base_dir).and_then(|mut c| c.output().map_err(|e| e.to_string())) {
            Ok(output) => output,
            Err(e) => {
                tracing::error!("{}: route `{}`: {} could not start: {e}", job.at, job.route, job.step);
                return;
            }
        };
    if output.status.success() {
        tracing::info!(route = %job.route, "built in {} ms", started.elapsed().as_millis());
        return;
    }
    let mut shown = String::new();
    for stream in [&output.stdout, &output.stderr] {
        let text = String::from_utf8_lossy(tail(stream, MAX_FAILURE_OUTPUT));
        let text = text.trim_end();
        if !text.is_empty() {
            shown.push('\n');
            shown.push_str(text);
        }
    }
    tracing::error!(
        "{}: route `{}`: {} failed with {}; still serving the previous version. Its output:{shown}",
        job.at,
        job.route,
        job.step,
        output.status
    );
}

fn tail(bytes: &[u8], max: usize) -> &[u8] {
    &bytes[bytes.len().saturating_sub(max)..]
}
