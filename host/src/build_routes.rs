//! `wasmroutes build`: runs each route's build step, like Spin's
//! `[component.build]`, so source to deployable is one command. A step is
//! the route's own `build` command, or, for a route whose component is a
//! `route.js`/`route.ts`, the JavaScript toolchain ([`crate::js_toolchain`]).

use std::path::Path;
use std::process::Command;

use crate::config::{BuildStep, RoutesConfig};

/// The process that performs `step` from `base_dir` (the manifest's
/// directory, or the route tree). For JavaScript this may first install
/// the toolchain, and a Rust build for [`WASM_TARGET`] is refused when its
/// toolchain lacks the target, which is why it can fail before anything runs.
pub fn command(step: &BuildStep, base_dir: &Path) -> Result<Command, String> {
    let mut cmd = match step {
        BuildStep::Command(command) => match missing_wasm_target(command, base_dir) {
            Some(missing) => return Err(missing),
            None => shell(command),
        },
        BuildStep::JavaScript { source, output, aot } => {
            if let Some(folder) = output.parent() {
                std::fs::create_dir_all(folder).map_err(|e| format!("cannot create {}: {e}", folder.display()))?;
            }
            // The paths are relative to where wasmroutes runs, and the
            // command runs in `base_dir`: hand it absolute ones.
            let absolute = |p: &Path| std::path::absolute(p).map_err(|e| format!("{}: {e}", p.display()));
            crate::js_toolchain::build_command(&absolute(source)?, &absolute(output)?, *aot)
                .map_err(|e| e.to_string())?
        }
    };
    cmd.current_dir(if base_dir.as_os_str().is_empty() { Path::new(".") } else { base_dir });
    Ok(cmd)
}

/// A build step that failed.
#[derive(Debug, thiserror::Error)]
#[error("{at}: route `{route}`: {step} {outcome}")]
pub struct BuildError {
    /// The route's entry in `routes.toml` (or its file in a route tree).
    pub at: crate::config::Location,
    /// The route pattern.
    pub route: String,
    /// The step (boxed: a route's build step is larger than the rest).
    pub step: Box<BuildStep>,
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
            step: Box::new(step.clone()),
            outcome,
        };
        let mut command = command(step, &config.base_dir).map_err(failed)?;
        let status = command.status().map_err(|e| failed(format!("could not start: {e}")))?;
        if !status.success() {
            return Err(failed(format!("failed with {status}")));
        }
        done.push(step);
    }
    Ok(done.len())
}

/// The Rust target a route component is compiled for.
pub const WASM_TARGET: &str = "wasm32-wasip2";

/// Why a build command that compiles for [`WASM_TARGET`] cannot: its Rust
/// toolchain lacks the target. Said before the build runs, with the one
/// command that adds the target, rather than as the compiler's "can't find
/// crate for `core`". `None` when the target is there, or when this cannot
/// be told (no `rustc`): then the build itself says what is wrong.
fn missing_wasm_target(command: &str, base_dir: &Path) -> Option<String> {
    if !command.contains(WASM_TARGET) {
        return None;
    }
    // The toolchain is the one rustup picks in the directory the compiler
    // runs in: the command's leading `cd DIR &&`, if any, counts.
    let dir = leading_cd(command).map_or_else(|| base_dir.to_owned(), |d| base_dir.join(d));
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let output = Command::new(rustc)
        .args(["--print", "sysroot", "--print", "target-libdir", "--target", WASM_TARGET])
        .current_dir(if dir.as_os_str().is_empty() { Path::new(".") } else { &dir })
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    missing_from(&String::from_utf8(output.stdout).ok()?)
}

/// What [`missing_wasm_target`] says, from what `rustc --print sysroot
/// --print target-libdir --target …` printed.
fn missing_from(printed: &str) -> Option<String> {
    let mut lines = printed.lines();
    let (sysroot, libdir) = (Path::new(lines.next()?), Path::new(lines.next()?));
    if libdir.is_dir() {
        return None;
    }
    let add = match sysroot.parent().and_then(Path::file_name).zip(sysroot.file_name()) {
        Some((parent, toolchain)) if parent == "toolchains" => {
            format!("rustup target add {WASM_TARGET} --toolchain {}", toolchain.to_string_lossy())
        }
        _ => format!("rustup target add {WASM_TARGET}"),
    };
    Some(format!(
        "needs the Rust target `{WASM_TARGET}`, which the toolchain at {} does not have; add it with `{add}`",
        sysroot.display()
    ))
}

/// `DIR` of a command that starts `cd DIR && …` (DIR unquoted or in single quotes).
fn leading_cd(command: &str) -> Option<String> {
    let rest = command.trim_start().strip_prefix("cd ")?.trim_start();
    let (dir, after) = match rest.strip_prefix('\'') {
        Some(quoted) => {
            let end = quoted.find('\'')?;
            (quoted[..end].to_owned(), &quoted[end + 1..])
        }
        None => {
            let end = rest.find(char::is_whitespace)?;
            (rest[..end].to_owned(), &rest[end..])
        }
    };
    after.trim_start().starts_with("&&").then_some(dir)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_leading_cd_names_the_directory_the_compiler_runs_in() {
        assert_eq!(leading_cd("cd greet && cargo build").as_deref(), Some("greet"));
        assert_eq!(leading_cd("cd 'my route' && cargo build").as_deref(), Some("my route"));
        assert_eq!(leading_cd("cargo build --manifest-path x/Cargo.toml"), None);
        assert_eq!(leading_cd("cd greet; cargo build"), None);
    }

    #[test]
    fn a_toolchain_without_the_wasm_target_is_named_with_the_command_that_adds_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let sysroot = dir.path().join("toolchains/1.85.0-x86_64-unknown-linux-gnu");
        let libdir = sysroot.join("lib/rustlib/wasm32-wasip2/lib");
        let printed = format!("{}\n{}\n", sysroot.display(), libdir.display());
        let said = missing_from(&printed).expect("the target is missing");
        assert!(said.contains("rustup target add wasm32-wasip2 --toolchain 1.85.0-x86_64-unknown-linux-gnu"), "{said}");
        let elsewhere = format!("/usr\n{}\n", libdir.display());
        assert!(missing_from(&elsewhere).expect("missing").ends_with("`rustup target add wasm32-wasip2`"));
        std::fs::create_dir_all(&libdir).expect("install the target");
        assert_eq!(missing_from(&printed), None);
        assert_eq!(missing_wasm_target("npm run build", dir.path()), None, "only builds for the target are checked");
    }
}
