//! A debounced watcher over the directories a [`WatchPlan`] lists, which
//! reports each burst of changes once ([`FileEvents`]).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use notify::event::{AccessKind, AccessMode};
use notify::{EventKind, RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};

use super::plan::WatchPlan;

/// What the watcher reports after a burst of events.
#[derive(Debug)]
pub enum FileEvents {
    /// These paths changed.
    Paths(Vec<PathBuf>),
    /// Events were lost (the OS queue overflowed): anything may have changed.
    Rescan,
}

/// Why the watcher could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot watch files: {0}")]
pub struct WatchError(#[from] notify::Error);

enum Signal {
    Files(DebounceEventResult),
    Stop,
}

/// A debounced watcher over a [`WatchPlan`]'s directories.
pub struct FileWatcher {
    debouncer: Debouncer<RecommendedWatcher, RecommendedCache>,
    watched: BTreeMap<PathBuf, RecursiveMode>,
    signals: mpsc::Receiver<Signal>,
    stop: mpsc::Sender<Signal>,
}

/// Ends a [`FileWatcher::next_changes`] loop from another thread.
#[derive(Clone)]
pub struct StopWatching(mpsc::Sender<Signal>);

impl StopWatching {
    /// Makes the watcher's next (or current) wait return `None`.
    pub fn stop(&self) {
        let _ = self.0.send(Signal::Stop);
    }
}

impl FileWatcher {
    /// A watcher that reports a path once no event for it came for `debounce`.
    pub fn new(debounce: Duration) -> Result<FileWatcher, WatchError> {
        let (stop, signals) = mpsc::channel();
        let events = stop.clone();
        let debouncer = new_debouncer(debounce, None, move |result| {
            let _ = events.send(Signal::Files(result));
        })?;
        Ok(FileWatcher { debouncer, watched: BTreeMap::new(), signals, stop })
    }

    /// A handle that ends the watch loop.
    pub fn stopper(&self) -> StopWatching {
        StopWatching(self.stop.clone())
    }

    /// Watches exactly the plan's directories: starts on new ones, stops on
    /// ones no longer needed. A directory that cannot be watched (it does not
    /// exist yet) is logged and skipped.
    pub fn watch(&mut self, plan: &WatchPlan) {
        let wanted = plan.directories();
        let stale: Vec<PathBuf> =
            self.watched.iter().filter(|(dir, mode)| wanted.get(*dir) != Some(*mode)).map(|(d, _)| d.clone()).collect();
        for dir in stale {
            let _ = self.debouncer.unwatch(&dir);
            self.watched.remove(&dir);
        }
        for (dir, mode) in wanted {
            if self.watched.contains_key(&dir) {
                continue;
            }
            match self.debouncer.watch(&dir, mode) {
                Ok(()) => {
                    self.watched.insert(dir, mode);
                }
                Err(e) => tracing::warn!("cannot watch {}: {e}; changes there are not seen", dir.display()),
            }
        }
    }

    /// Waits for the next burst of changes, merged with any already queued;
    /// `None` once stopped.
    pub fn next_changes(&self) -> Option<FileEvents> {
        let mut paths = Vec::new();
        let mut rescan = false;
        let mut signal = self.signals.recv().ok()?;
        loop {
            match signal {
                Signal::Stop => return None,
                Signal::Files(Ok(events)) => {
                    for event in events {
                        rescan |= event.need_rescan();
                        if is_change(&event.kind) {
                            paths.extend(event.event.paths);
                        }
                    }
                }
                Signal::Files(Err(errors)) => {
                    for e in errors {
                        tracing::warn!("file watcher: {e}");
                    }
                }
            }
            match self.signals.try_recv() {
                Ok(next) => signal = next,
                Err(_) if rescan => return Some(FileEvents::Rescan),
                Err(_) if paths.is_empty() => signal = self.signals.recv().ok()?,
                Err(_) => return Some(FileEvents::Paths(paths)),
            }
        }
    }
}

/// Whether an event can mean new content. Opening or reading a file is not
/// (the host reads components itself on every reload), closing it after
/// writing is.
fn is_change(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) | EventKind::Other => false,
        EventKind::Any | EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reading_a_file_is_not_a_change() {
        use notify::event::{CreateKind, ModifyKind};
        assert!(!is_change(&EventKind::Access(AccessKind::Open(AccessMode::Any))));
        assert!(!is_change(&EventKind::Access(AccessKind::Close(AccessMode::Read))));
        assert!(is_change(&EventKind::Access(AccessKind::Close(AccessMode::Write))));
        assert!(is_change(&EventKind::Create(CreateKind::File)));
        assert!(is_change(&EventKind::Modify(ModifyKind::Any)));
    }
}
