//! Where a deployment's routes are declared: a `routes.toml` file or a
//! directory tree of `route.wasm` folders. Everything that loads (or
//! reloads) a deployment goes through [`ManifestSource::read`], so the two
//! sources behave the same everywhere.

use std::fmt;
use std::path::{Path, PathBuf};

use super::{ConfigError, RoutesConfig};

/// What a deployment is read from, beyond its components: a file (such as
/// `routes.toml`) or a whole tree (such as a `serve --dir` directory).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WatchRoot {
    /// A change to this file means "read the deployment again".
    File(PathBuf),
    /// A change anywhere under this directory means "read it again".
    Tree(PathBuf),
}

/// The routes' declaration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ManifestSource {
    /// A `routes.toml`.
    File(PathBuf),
    /// A route tree (`--dir`), see [`super::route_dir`].
    Dir(PathBuf),
}

impl ManifestSource {
    /// `--dir` when given, else the `routes.toml` path.
    pub fn new(routes_toml: PathBuf, dir: Option<PathBuf>) -> ManifestSource {
        dir.map_or(ManifestSource::File(routes_toml), ManifestSource::Dir)
    }

    /// Reads and validates the routes.
    pub fn read(&self) -> Result<RoutesConfig, ConfigError> {
        match self {
            ManifestSource::File(path) => RoutesConfig::load(path),
            ManifestSource::Dir(dir) => RoutesConfig::from_dir(dir),
        }
    }

    /// The file or directory as given.
    pub fn path(&self) -> &Path {
        match self {
            ManifestSource::File(path) | ManifestSource::Dir(path) => path,
        }
    }

    /// What changes the declaration itself: the file, or the whole tree (a
    /// new folder is a new route). Component files a `routes.toml` points at
    /// are listed in its [`RoutesConfig`], not here.
    pub fn watch_root(&self) -> WatchRoot {
        match self {
            ManifestSource::File(path) => WatchRoot::File(path.clone()),
            ManifestSource::Dir(dir) => WatchRoot::Tree(dir.clone()),
        }
    }
}

impl fmt::Display for ManifestSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path().display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dir_wins_over_the_default_file_and_is_watched_recursively() {
        let file = ManifestSource::new("routes.toml".into(), None);
        assert_eq!(file, ManifestSource::File("routes.toml".into()));
        assert_eq!(file.watch_root(), WatchRoot::File("routes.toml".into()));
        let dir = ManifestSource::new("routes.toml".into(), Some("api".into()));
        assert_eq!(dir.watch_root(), WatchRoot::Tree("api".into()));
        assert_eq!(dir.to_string(), "api");
    }

    #[test]
    fn read_uses_the_matching_loader() {
        let temp = tempfile::tempdir().expect("temp dir");
        let api = temp.path().join("api");
        std::fs::create_dir_all(api.join("hello")).expect("mkdir");
        std::fs::write(api.join("hello/route.wasm"), "").expect("write");
        let config = ManifestSource::Dir(api).read().expect("tree");
        assert_eq!(config.routes[0].pattern.as_str(), "/api/hello");

        let toml = temp.path().join("routes.toml");
        std::fs::write(&toml, "[[route]]\npath = \"/x\"\ncomponent = \"x.wasm\"\n").expect("write");
        let config = ManifestSource::File(toml).read().expect("file");
        assert_eq!(config.routes[0].pattern.as_str(), "/x");
    }
}
