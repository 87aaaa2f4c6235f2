//! File watching for `serve --watch`: which paths matter for the current
//! deployment ([`WatchPlan`]), and a debounced watcher over them
//! ([`FileWatcher`]) that reports each burst of changes once.
//!
//! Directories are watched rather than files: editors and cargo replace a
//! file by writing a new one and renaming it (or unlinking and hard-linking
//! it), which would silently end a watch on the old file's inode. Events for
//! other files in those directories are filtered out by [`WatchPlan::classify`].

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use globset::{GlobBuilder, GlobMatcher};
use notify::event::{AccessKind, AccessMode};
use notify::{EventKind, RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};

use crate::build_routes::BuildStep;
use crate::config::{Location, RoutesConfig};

/// What a deployment is read from, beyond its components: a file (such as
/// `routes.toml`) or a whole tree (such as a `serve --dir` directory).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WatchRoot {
    /// A change to this file means "read the deployment again".
    File(PathBuf),
    /// A change anywhere under this directory means "read it again".
    Tree(PathBuf),
}

/// A route's build step, as a watched source change runs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildJob {
    /// What to run.
    pub step: BuildStep,
    /// Where it runs (the manifest's directory).
    pub base_dir: PathBuf,
    /// The route it builds, for log lines.
    pub route: String,
    /// The route's entry, for error lines.
    pub at: Location,
}

/// One `watch` glob, split at its last literal directory so it can be
/// watched there and matched against paths relative to it.
#[derive(Debug)]
struct WatchGlob {
    root: PathBuf,
    mode: RecursiveMode,
    matcher: GlobMatcher,
}

#[derive(Debug)]
struct BuildTrigger {
    job: BuildJob,
    globs: Vec<WatchGlob>,
}

/// Which paths matter for one deployment, and what a change to each means.
#[derive(Debug, Default)]
pub struct WatchPlan {
    reload_files: HashSet<PathBuf>,
    reload_trees: Vec<PathBuf>,
    builds: Vec<BuildTrigger>,
}

/// What a burst of file changes asks for.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// The deployment or a component changed: read and load it again.
    pub reload: bool,
    /// Sources of these routes changed: run their `build` (once per command).
    pub builds: Vec<BuildJob>,
}

/// What the watcher reports.
#[derive(Debug)]
pub enum Changed {
    /// These paths changed.
    Paths(Vec<PathBuf>),
    /// Events were lost (the OS queue overflowed): anything may have changed.
    Rescan,
}

impl WatchPlan {
    /// The plan for `config`, read from `roots`: those roots and every
    /// component trigger a reload; a file matching a route's `watch` globs
    /// triggers its `build`.
    pub fn new(roots: &[WatchRoot], config: &RoutesConfig) -> WatchPlan {
        let mut plan = WatchPlan::default();
        for root in roots {
            match root {
                WatchRoot::File(file) => plan.reload_files.insert(resolve(file)),
                WatchRoot::Tree(dir) => {
                    plan.reload_trees.push(resolve(dir));
                    true
                }
            };
        }
        for route in &config.routes {
            plan.reload_files.insert(resolve(&route.component));
            let Some(step) = &route.build else { continue };
            let globs: Vec<WatchGlob> =
                route.watch.iter().filter_map(|glob| watch_glob(&config.base_dir, glob, &route.at)).collect();
            if globs.is_empty() {
                continue;
            }
            let job = BuildJob {
                step: step.clone(),
                base_dir: config.base_dir.clone(),
                route: route.pattern.to_string(),
                at: route.at.clone(),
            };
            plan.builds.push(BuildTrigger { job, globs });
        }
        plan
    }

    /// The directories to watch, and how deep.
    pub fn directories(&self) -> BTreeMap<PathBuf, RecursiveMode> {
        let mut dirs = BTreeMap::new();
        let mut add = |dir: PathBuf, mode: RecursiveMode| {
            let entry = dirs.entry(dir).or_insert(mode);
            if mode == RecursiveMode::Recursive {
                *entry = RecursiveMode::Recursive;
            }
        };
        for file in &self.reload_files {
            if let Some(parent) = file.parent() {
                add(parent.to_owned(), RecursiveMode::NonRecursive);
            }
        }
        for tree in &self.reload_trees {
            add(tree.clone(), RecursiveMode::Recursive);
        }
        for glob in self.builds.iter().flat_map(|b| &b.globs) {
            add(glob.root.clone(), glob.mode);
        }
        dirs
    }

    /// What the changed `paths` ask for. Paths nobody asked about (a `.d`
    /// file beside a component, an editor's swap file) ask for nothing.
    pub fn classify(&self, changed: &Changed) -> Changes {
        let paths = match changed {
            Changed::Rescan => return Changes { reload: true, builds: Vec::new() },
            Changed::Paths(paths) => paths,
        };
        let mut changes = Changes::default();
        for path in paths {
            if self.reload_files.contains(path) || self.reload_trees.iter().any(|t| path.starts_with(t)) {
                changes.reload = true;
            }
            for trigger in &self.builds {
                let matches = trigger
                    .globs
                    .iter()
                    .any(|g| path.strip_prefix(&g.root).is_ok_and(|relative| g.matcher.is_match(relative)));
                let already =
                    changes.builds.iter().any(|b| b.step == trigger.job.step && b.base_dir == trigger.job.base_dir);
                if matches && !already {
                    changes.builds.push(trigger.job.clone());
                }
            }
        }
        changes
    }
}

/// Compiles one `watch` glob (already validated by `config`) relative to
/// `base_dir`: `hello/src/**/*.rs` is watched in `hello/src`, recursively.
fn watch_glob(base_dir: &Path, glob: &str, at: &Location) -> Option<WatchGlob> {
    let parts: Vec<&str> = glob.split('/').collect();
    let literal = parts
        .iter()
        .take(parts.len().saturating_sub(1))
        .take_while(|part| !part.contains(['*', '?', '[', ']', '{', '}', '\\']))
        .count();
    let root = resolve(&base_dir.join(parts[..literal].join("/")));
    let rest = parts[literal..].join("/");
    let mode =
        if rest.contains('/') || rest.contains("**") { RecursiveMode::Recursive } else { RecursiveMode::NonRecursive };
    // `*` stays inside one directory and `**` crosses them, as in .gitignore.
    match GlobBuilder::new(&rest).literal_separator(true).build() {
        Ok(compiled) => Some(WatchGlob { root, mode, matcher: compiled.compile_matcher() }),
        Err(e) => {
            tracing::warn!("{at}: watch glob `{glob}` is not usable: {e}");
            None
        }
    }
}

/// `path` made absolute with its directory resolved (symlinks, `..`), the way
/// the watcher spells the paths it reports. A file need not exist; its
/// directory should.
fn resolve(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    if let Ok(resolved) = absolute.canonicalize() {
        return resolved;
    }
    match (absolute.parent(), absolute.file_name()) {
        (Some(parent), Some(name)) => parent.canonicalize().map_or(absolute.clone(), |p| p.join(name)),
        _ => absolute,
    }
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
    pub fn next_changes(&self) -> Option<Changed> {
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
                Err(_) if rescan => return Some(Changed::Rescan),
                Err(_) if paths.is_empty() => signal = self.signals.recv().ok()?,
                Err(_) => return Some(Changed::Paths(paths)),
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

    fn config(dir: &Path, text: &str) -> RoutesConfig {
        RoutesConfig::parse(&dir.join("routes.toml"), text, &|_| None).unwrap()
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("wasmroutes-watch-{name}-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("hello/src/nested")).unwrap();
        std::fs::create_dir_all(dir.join("out")).unwrap();
        dir.canonicalize().unwrap()
    }

    #[test]
    fn sorts_changes_into_reloads_and_builds() {
        let dir = temp_dir("classify");
        let cfg = config(
            &dir,
            r#"
[[route]]
path = "/hello"
component = "out/hello.wasm"
build = "make hello"
watch = ["hello/src/**/*.rs", "hello/Cargo.toml"]

[[route]]
path = "/again"
component = "out/hello.wasm"
build = "make hello"
watch = ["hello/src/*.rs"]

[[route]]
path = "/other"
component = "out/other.wasm"
"#,
        );
        let plan = WatchPlan::new(&[WatchRoot::File(dir.join("routes.toml"))], &cfg);
        let classify = |paths: &[&str]| plan.classify(&Changed::Paths(paths.iter().map(|p| dir.join(p)).collect()));

        assert_eq!(classify(&["routes.toml"]), Changes { reload: true, builds: vec![] });
        assert_eq!(classify(&["out/other.wasm"]), Changes { reload: true, builds: vec![] });
        assert_eq!(classify(&["out/hello.d", "routes.toml.swp", "hello/src/lib.txt"]), Changes::default());
        let built = classify(&["hello/src/nested/deep.rs", "hello/src/lib.rs"]);
        assert!(!built.reload);
        assert_eq!(built.builds.len(), 1, "one build per command: {built:?}");
        assert_eq!(built.builds[0].route, "/hello");
        assert_eq!(built.builds[0].step, BuildStep::Command("make hello".into()));
        assert_eq!(classify(&["hello/Cargo.toml"]).builds.len(), 1);
        assert!(classify(&["hello/Cargo.lock"]).builds.is_empty());
        assert!(plan.classify(&Changed::Rescan).reload);

        let dirs = plan.directories();
        assert_eq!(dirs.get(&dir), Some(&RecursiveMode::NonRecursive), "routes.toml's directory");
        assert_eq!(dirs.get(&dir.join("out")), Some(&RecursiveMode::NonRecursive));
        assert_eq!(dirs.get(&dir.join("hello/src")), Some(&RecursiveMode::Recursive), "`**` needs depth");
        assert_eq!(dirs.get(&dir.join("hello")), Some(&RecursiveMode::NonRecursive));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn globs_may_reach_outside_the_manifest_directory() {
        let dir = temp_dir("outside");
        std::fs::create_dir_all(dir.join("deploy")).unwrap();
        let cfg = config(
            &dir.join("deploy"),
            "[[route]]\npath = \"/a\"\ncomponent = \"../out/a.wasm\"\nbuild = \"make\"\nwatch = [\"../hello/src/*.rs\"]\n",
        );
        let plan = WatchPlan::new(&[WatchRoot::Tree(dir.join("deploy"))], &cfg);
        let changes = plan.classify(&Changed::Paths(vec![dir.join("hello/src/lib.rs"), dir.join("out/a.wasm")]));
        assert!(changes.reload);
        assert_eq!(changes.builds.len(), 1);
        let nested = plan.classify(&Changed::Paths(vec![dir.join("hello/src/nested/x.rs")]));
        assert!(nested.builds.is_empty(), "`*` does not cross directories");
        assert!(plan.classify(&Changed::Paths(vec![dir.join("deploy/anything/route.toml")])).reload, "a tree root");
        std::fs::remove_dir_all(dir).unwrap();
    }

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
