//! How a route's component is made from its sources: part of the manifest
//! (a `build` command, or a `route.js` that the JavaScript toolchain builds);
//! `build_routes.rs` runs it.

use std::fmt;
use std::path::{Path, PathBuf};

/// How a route's component is made from its sources.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum BuildStep {
    /// A shell command (`build` in routes.toml), run from the manifest's directory.
    Command(String),
    /// A JavaScript or TypeScript route file, built by the JS toolchain.
    JavaScript {
        /// The route file.
        source: PathBuf,
        /// The component it becomes.
        output: PathBuf,
        /// Compiled ahead of time (`aot = true`): weval specialises the
        /// engine's interpreter to the route's code.
        aot: bool,
    },
}

impl fmt::Display for BuildStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildStep::Command(command) => write!(f, "build command `{command}`"),
            BuildStep::JavaScript { source, output, aot } => {
                let kind = if *aot { "ahead-of-time JavaScript build" } else { "JavaScript build" };
                write!(f, "{kind} `{}` → `{}`", source.display(), output.display())
            }
        }
    }
}

/// Extensions of route files the JavaScript toolchain builds.
pub const JS_SOURCE_EXTENSIONS: [&str; 4] = ["js", "mjs", "ts", "mts"];

/// Whether `path` names a JavaScript or TypeScript route file.
pub fn is_js_source(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| JS_SOURCE_EXTENSIONS.contains(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_files_are_recognized_by_extension() {
        for yes in ["route.js", "a/route.mjs", "route.ts", "x.mts"] {
            assert!(is_js_source(Path::new(yes)), "{yes}");
        }
        for no in ["route.wasm", "route.json", "route", "route.tsx"] {
            assert!(!is_js_source(Path::new(no)), "{no}");
        }
    }
}
