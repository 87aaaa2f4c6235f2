//! Which paths matter for the current deployment, and what a change to
//! each asks for: a reload, or a route's build ([`WatchPlan`]).
//!
//! Directories are watched rather than files: editors and cargo replace a
//! file by writing a new one and renaming it (or unlinking and hard-linking
//! it), which would silently end a watch on the old file's inode. Events for
//! other files in those directories are filtered out by [`WatchPlan::classify`]
//! (the [`FileWatcher`](super::file_watcher::FileWatcher) watches the
//! directories the plan lists).

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use globset::{GlobBuilder, GlobMatcher};
use notify::RecursiveMode;

use super::file_watcher::FileEvents;

use crate::config::manifest_source::WatchRoot;
use crate::config::{BuildStep, Location, RoutesConfig};

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

/// What a burst of file changes asks the watch loop to do.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct WatchActions {
    /// The deployment or a component changed: read and load it again.
    pub reload: bool,
    /// Sources of these routes changed: run their `build` (once per command).
    pub builds: Vec<BuildJob>,
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
    pub fn classify(&self, changed: &FileEvents) -> WatchActions {
        let paths = match changed {
            FileEvents::Rescan => return WatchActions { reload: true, builds: Vec::new() },
            FileEvents::Paths(paths) => paths,
        };
        let mut changes = WatchActions::default();
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
        let classify = |paths: &[&str]| plan.classify(&FileEvents::Paths(paths.iter().map(|p| dir.join(p)).collect()));

        assert_eq!(classify(&["routes.toml"]), WatchActions { reload: true, builds: vec![] });
        assert_eq!(classify(&["out/other.wasm"]), WatchActions { reload: true, builds: vec![] });
        assert_eq!(classify(&["out/hello.d", "routes.toml.swp", "hello/src/lib.txt"]), WatchActions::default());
        let built = classify(&["hello/src/nested/deep.rs", "hello/src/lib.rs"]);
        assert!(!built.reload);
        assert_eq!(built.builds.len(), 1, "one build per command: {built:?}");
        assert_eq!(built.builds[0].route, "/hello");
        assert_eq!(built.builds[0].step, BuildStep::Command("make hello".into()));
        assert_eq!(classify(&["hello/Cargo.toml"]).builds.len(), 1);
        assert!(classify(&["hello/Cargo.lock"]).builds.is_empty());
        assert!(plan.classify(&FileEvents::Rescan).reload);

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
        let changes = plan.classify(&FileEvents::Paths(vec![dir.join("hello/src/lib.rs"), dir.join("out/a.wasm")]));
        assert!(changes.reload);
        assert_eq!(changes.builds.len(), 1);
        let nested = plan.classify(&FileEvents::Paths(vec![dir.join("hello/src/nested/x.rs")]));
        assert!(nested.builds.is_empty(), "`*` does not cross directories");
        assert!(plan.classify(&FileEvents::Paths(vec![dir.join("deploy/anything/route.toml")])).reload, "a tree root");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
