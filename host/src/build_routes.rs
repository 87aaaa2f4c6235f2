//! `wasmroutes build`: runs each route's `build` command, like Spin's
//! `[component.build]`, so source to deployable is one command.

use std::path::Path;
use std::process::Command;

use crate::config::RoutesConfig;

/// A build command that failed.
#[derive(Debug, thiserror::Error)]
#[error("{at}: route `{route}`: build command `{command}` {outcome}")]
pub struct BuildError {
    /// The route's entry in `routes.toml`.
    pub at: crate::config::Location,
    /// The route pattern.
    pub route: String,
    /// The command.
    pub command: String,
    /// How it failed.
    pub outcome: String,
}

/// Runs every distinct `build` command once, in file order, from the
/// directory of `routes.toml`. Stops at the first failure.
pub fn build_all(config: &RoutesConfig) -> Result<usize, BuildError> {
    let mut done: Vec<&str> = Vec::new();
    for route in &config.routes {
        let Some(command) = route.build.as_deref() else { continue };
        if done.contains(&command) {
            continue;
        }
        tracing::info!(route = %route.pattern, "building: {command}");
        let failed = |outcome: String| BuildError {
            at: route.at.clone(),
            route: route.pattern.to_string(),
            command: command.to_owned(),
            outcome,
        };
        let status =
            build_command(command, &config.base_dir).status().map_err(|e| failed(format!("could not start: {e}")))?;
        if !status.success() {
            return Err(failed(format!("failed with {status}")));
        }
        done.push(command);
    }
    Ok(done.len())
}

/// A route's `build` command, ready to run from `base_dir` (the manifest's
/// directory) the way `wasmroutes build` runs it.
pub fn build_command(command: &str, base_dir: &Path) -> Command {
    let mut cmd = shell(command);
    cmd.current_dir(if base_dir.as_os_str().is_empty() { Path::new(".") } else { base_dir });
    cmd
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
