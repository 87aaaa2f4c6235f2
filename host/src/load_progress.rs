//! Progress of loading a deployment's components, so a start-up or reload
//! that compiles hundreds of them is never silent: one `info` line a second
//! while it lasts (nothing for a quick load), and one `debug` line per
//! component.

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How often a long load reports.
const REPORT_EVERY: Duration = Duration::from_secs(1);

/// Counts finished components; shared by the loading threads.
pub struct LoadProgress {
    total: usize,
    done: AtomicUsize,
    /// When the last `info` line was written (or the load started).
    last_report: Mutex<Instant>,
    every: Duration,
}

impl LoadProgress {
    /// Progress over `total` components, starting now.
    pub fn new(total: usize) -> Self {
        Self::reporting_every(total, REPORT_EVERY)
    }

    fn reporting_every(total: usize, every: Duration) -> Self {
        LoadProgress { total, done: AtomicUsize::new(0), last_report: Mutex::new(Instant::now()), every }
    }

    /// Records that the component at `path` is loaded (`how`: compiled,
    /// from cache, unchanged, failed) and writes a progress line if one is due.
    pub fn finished(&self, path: &Path, how: &str) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::debug!("loaded component {done}/{}: {} ({how})", self.total, path.display());
        if let Some(done) = self.due(Instant::now()) {
            tracing::info!("loading components: {done}/{} done", self.total);
        }
    }

    /// The count to report if a line is due at `now`. Threads that find the
    /// lock taken skip: another one is reporting.
    fn due(&self, now: Instant) -> Option<usize> {
        let mut last = self.last_report.try_lock().ok()?;
        let done = self.done.load(Ordering::Relaxed);
        if now.duration_since(*last) < self.every || done >= self.total {
            return None;
        }
        *last = now;
        Some(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_only_when_due_and_never_the_final_count() {
        let progress = LoadProgress::reporting_every(3, Duration::from_secs(60));
        progress.finished(Path::new("a.wasm"), "compiled");
        assert_eq!(progress.due(Instant::now()), None, "a quick load stays quiet");

        let progress = LoadProgress::reporting_every(3, Duration::ZERO);
        progress.done.store(1, Ordering::Relaxed);
        assert_eq!(progress.due(Instant::now()), Some(1));
        progress.done.store(3, Ordering::Relaxed);
        assert_eq!(progress.due(Instant::now()), None, "the caller reports completion itself");
    }
}
