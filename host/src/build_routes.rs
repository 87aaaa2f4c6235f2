//! `wasmroutes build`: runs each route's build step, like Spin's
//! `[component.build]`, so source to deployable is one command. A step is
//! the route's own `build` command, or, for a route whose component is a
//! `route.js`/`route.ts`, the JavaScript toolchain ([`crate::js_toolchain`]).

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::config::RoutesConfig;

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
    },
}

impl fmt::Display for BuildStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildStep::Command(command) => write!(f, "build command `{command}`"),
            BuildStep::JavaScript { source, output } => {
                write!(f, "JavaScript build `{}` → `{}`", source.display(), output.display())
            }
        }
    }
}

impl BuildStep {
    /// The process that performs this step from `base_dir` (the manifest's
    /// directory, or the route tree). For JavaScript this may first install
    /// the toolchain, which is why it can fail before anything runs.
    pub fn command(&self, base_dir: &Path) -> Result<Command, String> {
        let mut cmd = match self {
            BuildStep::Command(command) => shell(command),
            BuildStep::JavaScript { source, output } => {
                if let Some(folder) = output.parent() {
                    std::fs::create_dir_all(folder).map_err(|e| format!("cannot create {}: {e}", folder.display()))?;
                }
                // The paths are relative to where wasmroutes runs, and the
                // command runs in `base_dir`: hand it absolute ones.
                let absolute = |p: &Path| std::path::absolute(p).map_err(|e| format!("{}: {e}", p.display()));
                crate::js_toolchain::build_command(&absolute(source)?, &absolute(output)?).map_err(|e| e.to_string())?
            }
        };
        cmd.current_dir(if base_dir.as_os_str().is_empty() { Path::new(".") } else { base_dir });
        Ok(cmd)
    }
}

/// A build step that failed.
#[derive(Debug, thiserror::Error)]
#[error("{at}: route `{route}`: {step} {outcome}")]
pub struct BuildError {
    /// The route's entry in `routes.toml` (or its file in a route tree).
    pub at: crate::config::Location,
    /// The route pattern.
    pub route: String,
    /// The step.
    pub step: BuildStep,
    /// How it failed.
    pub outcome: String,
}

/// Runs every distinct build step once, in file order. Stops at the first
/// failure.
pub fn build_all(config: &RoutesConfig) -> Result<usize, BuildError> {
    let mut done: Vec<&BuildStep> = Vec::new();
    for route in &config.routes {
        let Some(step) = route.build.as_ref() else { continue };
        if done.contains(&step) {
            continue;
        }
        tracing::info!(route = %route.pattern, "running {step}");
        let failed = |outcome: String| BuildError {
            at: route.at.clone(),
            route: route.pattern.to_string(),
            step: step.clone(),
            outcome,
        };
        let mut command = step.command(&config.base_dir).map_err(failed)?;
        let status = command.status().map_err(|e| failed(format!("could not start: {e}")))?;
        if !status.success() {
            return Err(failed(format!("failed with {status}")));
        }
        done.push(step);
    }
    Ok(done.len())
}

#[cfg(unix)]
fn shell(command: &str) -> Command {
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(command);
    cmd
}

#[cfg(windows)]
fn shell(command: &str) -> Command {
    let mut cmd = Command::new("cmd");
    cmd.arg("/C").arg(command);
    cmd
}
