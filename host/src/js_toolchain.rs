//! The toolchain that turns a JavaScript route file (`route.js`, `route.ts`)
//! into a component: `guest-js/` of this repository (componentize-js, our
//! shim, `build.mjs`) and the WIT it builds against.
//!
//! The binary carries those files, so an installed `wasmroutes` builds
//! JavaScript routes without a checkout: on first use they are written to
//! `<cache>/js-toolchain/<content hash>/` with the repository's layout and
//! `npm ci` installs the pinned packages there, once per toolchain version.
//! The directory is filled under a temporary name and renamed into place, so
//! two builds starting together never see half a toolchain.
//!
//! `WASMROUTES_JS_TOOLCHAIN=<a guest-js folder with node_modules>` uses that
//! folder instead (for work on guest-js itself).

use std::path::{Path, PathBuf};
use std::process::Command;

/// Env var naming a `guest-js` folder to build with instead of the embedded one.
pub const TOOLCHAIN_ENV: &str = "WASMROUTES_JS_TOOLCHAIN";

/// Env var naming the weval binary an `aot = true` route is built with;
/// without it, `weval` on `PATH`.
pub const WEVAL_ENV: &str = "WASMROUTES_WEVAL";

/// The weval release componentize-js's AOT engine and its inline-cache file
/// are made for (its npm package `@bytecodealliance/weval` pins the same).
pub const WEVAL_VERSION: &str = "0.5.0";

/// One file of the toolchain, by its path in the repository.
struct Embedded {
    path: &'static str,
    contents: &'static [u8],
}

macro_rules! embed {
    ($($path:literal),* $(,)?) => {
        &[$(Embedded { path: $path, contents: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../", $path)) }),*]
    };
}

/// Everything `guest-js/build.mjs` reads at run time (a unit test checks
/// that no file of `guest-js/` or `wit/` is missing here).
const FILES: &[Embedded] = embed!(
    "guest-js/build.mjs",
    "guest-js/reproducible.mjs",
    "guest-js/shim.js",
    "guest-js/streams.js",
    "guest-js/next-server.js",
    "guest-js/next-headers.js",
    "guest-js/kv.js",
    "guest-js/sql.js",
    "guest-js/package.json",
    "guest-js/package-lock.json",
    "guest-js/wit/cli-environment.wit",
    "wit/api.wit",
    "wit/deps/keyvalue/atomic.wit",
    "wit/deps/keyvalue/batch.wit",
    "wit/deps/keyvalue/store.wit",
    "wit/deps/keyvalue/world.wit",
    "wit/deps/sql/sql.wit",
);

/// Why a JavaScript route cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum ToolchainError {
    /// No cache directory to install into.
    #[error("no cache directory for the JavaScript toolchain: set HOME, XDG_CACHE_HOME or {TOOLCHAIN_ENV}")]
    NoCacheDir,
    /// `WASMROUTES_JS_TOOLCHAIN` names a folder without `build.mjs`.
    #[error("{TOOLCHAIN_ENV}={}: no build.mjs there; point it at a guest-js folder", .0.display())]
    NotAToolchain(PathBuf),
    /// Writing the files failed.
    #[error("cannot write the JavaScript toolchain to {}: {source}", path.display())]
    Write {
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// An `aot = true` route, and no weval to build it with.
    #[error(
        "needs weval {WEVAL_VERSION} for `aot = true`: {where_looked}; install it with \
         `cargo install weval --version {WEVAL_VERSION} --locked`, or set {WEVAL_ENV} to its path"
    )]
    NoWeval {
        /// Where it was looked for.
        where_looked: String,
    },
    /// `npm ci` could not run or failed.
    #[error(
        "cannot install the JavaScript toolchain (componentize-js) with `npm ci` in {}: {outcome}; \
         JavaScript routes need Node.js 18 or newer and npm on PATH, and the npm registry the first time",
        dir.display()
    )]
    Install {
        /// Where it ran.
        dir: PathBuf,
        /// How it failed.
        outcome: String,
    },
}

/// The `guest-js` folder to build with, installing the embedded toolchain
/// into the cache first if it is not there yet.
pub fn guest_js_dir() -> Result<PathBuf, ToolchainError> {
    if let Some(dir) = std::env::var_os(TOOLCHAIN_ENV).filter(|d| !d.is_empty()).map(PathBuf::from) {
        return if dir.join("build.mjs").is_file() { Ok(dir) } else { Err(ToolchainError::NotAToolchain(dir)) };
    }
    let root = crate::runtime::CompileCache::default_dir().ok_or(ToolchainError::NoCacheDir)?;
    install(&root.join("js-toolchain"))
}

/// The command that builds `source` into the component `output`, ahead of
/// time when `aot`.
pub fn build_command(source: &Path, output: &Path, aot: bool) -> Result<Command, ToolchainError> {
    let weval = if aot { Some(weval()?) } else { None };
    let mut command = Command::new("node");
    command.arg(guest_js_dir()?.join("build.mjs"));
    if let Some(weval) = weval {
        command.arg("--aot").arg(weval);
    }
    command.arg(source).arg(output);
    Ok(command)
}

/// The weval binary: [`WEVAL_ENV`], or `weval` on `PATH`. Looked up here,
/// not left to componentize-js, which would download one.
fn weval() -> Result<PathBuf, ToolchainError> {
    if let Some(path) = std::env::var_os(WEVAL_ENV).filter(|p| !p.is_empty()).map(PathBuf::from) {
        return if path.is_file() {
            Ok(path)
        } else {
            Err(ToolchainError::NoWeval { where_looked: format!("{WEVAL_ENV}={} is not a file", path.display()) })
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    find_in_path("weval", &path)
        .ok_or_else(|| ToolchainError::NoWeval { where_looked: format!("no `weval` on PATH and no {WEVAL_ENV}") })
}

/// The first file named `name` in the folders of `path` (a `PATH` value).
fn find_in_path(name: &str, path: &std::ffi::OsStr) -> Option<PathBuf> {
    std::env::split_paths(path).map(|dir| dir.join(name)).find(|candidate| candidate.is_file())
}

/// `<parent>/<hash>/guest-js`, written and `npm ci`-ed unless it already is.
fn install(parent: &Path) -> Result<PathBuf, ToolchainError> {
    let dir = parent.join(version());
    let guest_js = dir.join("guest-js");
    if dir.join(INSTALLED).is_file() {
        return Ok(guest_js);
    }
    let write_err = |path: &Path| {
        let path = path.to_owned();
        move |source| ToolchainError::Write { path, source }
    };
    std::fs::create_dir_all(parent).map_err(write_err(parent))?;
    let staging = tempfile::Builder::new().prefix(".installing-").tempdir_in(parent).map_err(write_err(parent))?;
    for file in FILES {
        let path = staging.path().join(file.path);
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder).map_err(write_err(folder))?;
        }
        std::fs::write(&path, file.contents).map_err(write_err(&path))?;
    }
    let npm_dir = staging.path().join("guest-js");
    tracing::info!("installing the JavaScript toolchain (componentize-js) into {} (once)", dir.display());
    let failed = |outcome: String| ToolchainError::Install { dir: dir.clone(), outcome };
    let output = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"])
        .current_dir(&npm_dir)
        .output()
        .map_err(|e| failed(format!("could not start npm: {e}")))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(failed(format!("{} ({})", output.status, stderr.trim())));
    }
    std::fs::write(staging.path().join(INSTALLED), b"").map_err(write_err(staging.path()))?;
    match std::fs::rename(staging.path(), &dir) {
        Ok(()) => {
            // Renamed away: nothing left for the TempDir to remove.
            let _ = staging.keep();
        }
        // Another build installed the same version meanwhile; ours goes
        // when `staging` drops.
        Err(_) if dir.join(INSTALLED).is_file() => {}
        Err(source) => return Err(ToolchainError::Write { path: dir, source }),
    }
    Ok(guest_js)
}

/// Marks a complete install (written last, before the rename).
const INSTALLED: &str = ".installed";

/// Names the toolchain by its content, so a new binary with a changed shim
/// or lock file installs beside the old one instead of using it.
fn version() -> String {
    let mut hasher = blake3::Hasher::new();
    for file in FILES {
        hasher.update(file.path.as_bytes()).update(&[0]).update(&(file.contents.len() as u64).to_le_bytes());
        hasher.update(file.contents);
    }
    hasher.finalize().to_hex()[..16].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The repository's files the toolchain is made of: every module and
    /// manifest of guest-js (not its node_modules) and every WIT file.
    fn repository_files() -> Vec<String> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut found = Vec::new();
        for top in ["guest-js", "wit"] {
            let walk = walkdir::WalkDir::new(root.join(top))
                .into_iter()
                .filter_entry(|e| e.file_name() != "node_modules" && e.file_name() != ".package-lock.json.installed");
            for entry in walk {
                let entry = entry.expect("readable repository");
                let keep = ["js", "mjs", "json", "wit"].iter().any(|e| entry.path().extension() == Some(e.as_ref()));
                if entry.file_type().is_file() && keep {
                    let relative = entry.path().strip_prefix(&root).expect("under the root");
                    found.push(relative.to_str().expect("UTF-8 paths").to_owned());
                }
            }
        }
        found.sort();
        found
    }

    #[test]
    fn every_toolchain_file_is_embedded() {
        let mut embedded: Vec<&str> = FILES.iter().map(|f| f.path).collect();
        embedded.sort_unstable();
        assert_eq!(embedded, repository_files(), "update FILES in js_toolchain.rs to match guest-js/ and wit/");
    }

    #[test]
    fn weval_is_found_in_the_first_folder_of_path_that_has_it() {
        let (a, b) = (tempfile::tempdir().expect("temp dir"), tempfile::tempdir().expect("temp dir"));
        let path = std::env::join_paths([a.path(), b.path()]).expect("a PATH");
        assert_eq!(find_in_path("weval", &path), None);
        std::fs::write(b.path().join("weval"), b"").expect("write");
        assert_eq!(find_in_path("weval", &path), Some(b.path().join("weval")));
        std::fs::create_dir(a.path().join("weval")).expect("a folder of that name");
        assert_eq!(find_in_path("weval", &path), Some(b.path().join("weval")), "a folder is not the binary");
    }

    #[test]
    fn setup_installs_the_weval_release_componentize_js_is_made_for() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let lock: serde_json::Value =
            serde_json::from_slice(&std::fs::read(root.join("guest-js/package-lock.json")).expect("the lock file"))
                .expect("JSON");
        let pinned = &lock["packages"]["node_modules/@bytecodealliance/weval"]["version"];
        assert_eq!(pinned.as_str(), Some(WEVAL_VERSION), "componentize-js's weval moved: update WEVAL_VERSION");
        let setup = std::fs::read_to_string(root.join("scripts/setup.sh")).expect("setup.sh");
        assert!(setup.contains(&format!("local version={WEVAL_VERSION}\n")), "scripts/setup.sh installs another weval");
    }

    #[test]
    fn the_version_is_stable_and_short() {
        assert_eq!(version(), version());
        assert_eq!(version().len(), 16);
    }
}
