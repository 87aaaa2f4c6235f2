//! File-based routing: a directory tree of `route.wasm` files read the way
//! Next.js reads `app/api`, into the same [`RoutesConfig`] that `routes.toml`
//! gives, so nothing after start-up knows which one it came from.
//!
//! Rules (README "File-based routing"):
//! - the directory's own name is the first URL segment: `--dir api/` and
//!   `--dir ./routes/api` both serve `/api/...`; `api/posts/[id]/route.wasm`
//!   serves `/api/posts/[id]`;
//! - folder names use the segment syntax of `routes.toml` (`[id]`,
//!   `[...slug]`, `[[...slug]]`); `(group)` folders are left out of the URL;
//!   folders starting with `_` or `.` are skipped with all they hold;
//! - a folder's component is its `route.wasm`, or a `route.js` / `route.ts`
//!   (also `.mjs`, `.mts`) that `wasmroutes build` turns into one under the
//!   tree's hidden `.wasmroutes/build/`, as Next.js reads `route.js`;
//! - a `route.toml` beside it holds that route's settings (the
//!   per-route keys of `routes.toml` minus `path`, `component` and `build`);
//! - the tree has a key-value store and a SQLite database, both `default`,
//!   with nothing to configure but the database's migrations, the `.sql`
//!   files of its `_migrations` folder;
//! - conflicts are checked by the same function as for `routes.toml`
//!   ([`crate::config::check_conflicts`]), naming both files.
//!
//! `walkdir` does the walk: it sorts each folder by name (so the route order
//! is the same on every machine) and stops on symlink loops.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Component, Path, PathBuf};

use crate::config::{ConfigError, DatabaseConfig, Location, RoutesConfig, StoreConfig, check_conflicts, tree_route};
use crate::routing::pattern::RoutePattern;

/// The component file of a route folder.
pub const ROUTE_WASM: &str = "route.wasm";
/// The route files wasmroutes builds into a component itself
/// ([`crate::js_toolchain`]), like Next.js's `route.js` / `route.ts`.
pub const ROUTE_SOURCES: [&str; 4] = ["route.js", "route.mjs", "route.ts", "route.mts"];
/// The optional settings file beside it.
pub const ROUTE_TOML: &str = "route.toml";

impl RoutesConfig {
    /// Reads the route tree under `dir`, interpolating `${VAR}` in its
    /// `route.toml` files from the process environment.
    pub fn from_dir(dir: &Path) -> Result<RoutesConfig, ConfigError> {
        Self::parse_dir(dir, &|name| std::env::var(name).ok())
    }

    /// Like [`RoutesConfig::from_dir`]; `lookup_env` resolves `${VAR}`.
    pub fn parse_dir(dir: &Path, lookup_env: &dyn Fn(&str) -> Option<String>) -> Result<RoutesConfig, ConfigError> {
        let metadata = std::fs::metadata(dir).map_err(|source| ConfigError::Read { path: dir.to_owned(), source })?;
        if !metadata.is_dir() {
            return Err(invalid(dir, "not a directory: `--dir` takes the folder that holds the route.wasm tree"));
        }
        let prefix = root_segment(dir)?;

        let mut routes = Vec::new();
        for (folder, files) in route_folders(dir)? {
            let toml = folder.join(ROUTE_TOML);
            let wasm = match files.components.as_slice() {
                [one] => folder.join(one),
                [] => {
                    return Err(invalid(
                        &toml,
                        "route.toml without a route.wasm (or route.js, route.ts) beside it: put the route's \
                         component here, or remove this file",
                    ));
                }
                [first, second, ..] => {
                    return Err(invalid(
                        &folder.join(second),
                        format!("a folder holds one route, but this one has both {first} and {second}; remove one"),
                    ));
                }
            };
            let pattern = folder_pattern(dir, prefix.as_deref(), &folder, &wasm)?;
            let text = if files.toml {
                let read = std::fs::read_to_string(&toml);
                Some(read.map_err(|source| ConfigError::Read { path: toml.clone(), source })?)
            } else {
                None
            };
            routes.push(tree_route(dir, pattern, wasm, text.as_deref().map(|t| (toml.as_path(), t)), lookup_env)?);
        }
        if routes.is_empty() {
            let example = dir.join("hello").join(ROUTE_WASM);
            let url = format!("{}/hello", prefix.map(|p| format!("/{p}")).unwrap_or_default());
            return Err(invalid(
                dir,
                format!(
                    "no routes: expected `{ROUTE_WASM}` (or `route.js`, `route.ts`) files in this tree, e.g. {} \
                     to serve {url} (folders starting with `_` or `.` are skipped)",
                    example.display()
                ),
            ));
        }
        check_conflicts(&routes)?;
        let stores = [(StoreConfig::DEFAULT.to_owned(), StoreConfig::implicit_default())].into();
        let default_database = DatabaseConfig::implicit_default(tree_migrations(dir)?);
        let databases = [(DatabaseConfig::DEFAULT.to_owned(), default_database)].into();
        Ok(RoutesConfig { file: dir.to_owned(), base_dir: dir.to_owned(), routes, stores, databases })
    }
}

/// The tree's `_migrations` folder, if it has one. A file of that name is
/// refused rather than read as "no migrations", which would serve a
/// database without the schema its routes expect.
fn tree_migrations(dir: &Path) -> Result<Option<PathBuf>, ConfigError> {
    let folder = dir.join(DatabaseConfig::TREE_MIGRATIONS);
    match std::fs::metadata(&folder) {
        Ok(metadata) if metadata.is_dir() => Ok(Some(folder)),
        Ok(_) => Err(invalid(
            &folder,
            "not a folder: `_migrations` holds the `.sql` migrations of the tree's `default` database; make it a \
             folder, or rename this file",
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ConfigError::Read { path: folder, source }),
    }
}

/// What a folder holds.
#[derive(Default)]
struct RouteFiles {
    /// `route.wasm` and route sources, in name order.
    components: Vec<&'static str>,
    toml: bool,
}

/// Every folder holding a component file or a `route.toml`, sorted by path,
/// skipping private (`_`) and hidden (`.`) folders.
fn route_folders(dir: &Path) -> Result<BTreeMap<PathBuf, RouteFiles>, ConfigError> {
    let walk = walkdir::WalkDir::new(dir)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !(e.file_type().is_dir() && is_skipped(e.file_name())));
    let mut folders: BTreeMap<PathBuf, RouteFiles> = BTreeMap::new();
    for entry in walk {
        let entry = entry.map_err(|e| ConfigError::Read {
            path: e.path().unwrap_or(dir).to_owned(),
            source: std::io::Error::from(e),
        })?;
        if !entry.file_type().is_file() {
            continue;
        }
        let name = entry.file_name();
        let component = std::iter::once(ROUTE_WASM).chain(ROUTE_SOURCES).find(|c| name == *c);
        let is_toml = name == ROUTE_TOML;
        if let (true, Some(folder)) = (component.is_some() || is_toml, entry.path().parent()) {
            let files = folders.entry(folder.to_owned()).or_default();
            files.components.extend(component);
            files.toml |= is_toml;
        }
    }
    Ok(folders)
}

/// Next.js private folders (`_lib`) and hidden ones (`.git`) hold no routes.
fn is_skipped(name: &OsStr) -> bool {
    name.to_str().is_some_and(|n| n.starts_with('_') || n.starts_with('.'))
}

/// The URL segment the tree's own directory contributes: its name, or none
/// for a `(group)`. `--dir .` has no name to use, so it is refused with the
/// spelling that works.
fn root_segment(dir: &Path) -> Result<Option<String>, ConfigError> {
    let Some(Component::Normal(name)) = dir.components().next_back() else {
        let hint = match std::fs::canonicalize(dir) {
            Ok(named) => match named.file_name() {
                Some(name) => {
                    format!("name it, e.g. `--dir {}` (serves /{}/...)", named.display(), name.to_string_lossy())
                }
                None => "give the path of a named folder, e.g. `--dir api`".to_owned(),
            },
            Err(_) => "give the path of a named folder, e.g. `--dir api`".to_owned(),
        };
        return Err(invalid(
            dir,
            format!(
                "`--dir {}` does not say the directory's name, which becomes the first URL segment \
                 (as `app/api` serves /api/... in Next.js): {hint}",
                dir.display()
            ),
        ));
    };
    if is_skipped(name) {
        return Err(invalid(
            dir,
            "a folder whose name starts with `_` or `.` is skipped, so it cannot be the root of a route tree; rename it",
        ));
    }
    folder_segment(dir, name)
}

/// The URL segment of one folder name: `None` for a `(group)`.
fn folder_segment(folder: &Path, name: &OsStr) -> Result<Option<String>, ConfigError> {
    let Some(name) = name.to_str() else {
        return Err(invalid(folder, "folder name is not UTF-8, so it cannot be a URL segment; rename it"));
    };
    if let Some(group) = name.strip_prefix('(') {
        let valid_group = group.strip_suffix(')').is_some_and(|g| !g.is_empty() && !g.contains(['(', ')']));
        if !valid_group {
            return Err(invalid(
                folder,
                format!("folder `{name}` is not a route group: write `(name)` to leave a folder out of the URL"),
            ));
        }
        return Ok(None);
    }
    if name.starts_with('@') {
        return Err(invalid(
            folder,
            format!(
                "folder `{name}`: `@slot` folders (Next.js parallel routes) are for pages, not API routes; rename it"
            ),
        ));
    }
    RoutePattern::parse(&format!("/{name}")).map_err(|e| {
        invalid(folder, format!("folder name `{name}` is not a valid URL segment ({e}); rename the folder"))
    })?;
    Ok(Some(name.to_owned()))
}

/// The URL pattern of the route in `folder`, a folder of the tree at `root`.
fn folder_pattern(root: &Path, prefix: Option<&str>, folder: &Path, wasm: &Path) -> Result<RoutePattern, ConfigError> {
    let relative = folder.strip_prefix(root).unwrap_or(folder);
    let mut segments: Vec<String> = prefix.map(str::to_owned).into_iter().collect();
    let mut walked = root.to_owned();
    for component in relative.components() {
        let name = component.as_os_str();
        walked.push(name);
        segments.extend(folder_segment(&walked, name)?);
    }
    let raw = format!("/{}", segments.join("/"));
    RoutePattern::parse(&raw).map_err(|e| invalid(wasm, format!("{e}; rename or move the folders")))
}

fn invalid(path: &Path, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { at: Location::whole_file(path), message: message.into() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::BuildStep;
    use crate::config::Isolation;

    /// A tree in a temp dir: `files` are paths under `root` (the tree's own
    /// folder, e.g. `api`) with their contents.
    fn tree(root: &str, files: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf) {
        let temp = tempfile::tempdir().expect("temp dir");
        let dir = temp.path().join(root);
        std::fs::create_dir_all(&dir).expect("mkdir");
        for (path, contents) in files {
            let file = dir.join(path);
            std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
            std::fs::write(&file, contents).expect("write");
        }
        (temp, dir)
    }

    fn env(name: &str) -> Option<String> {
        (name == "API_KEY").then(|| "s3cret".to_owned())
    }

    fn patterns(dir: &Path) -> Vec<String> {
        let config = RoutesConfig::parse_dir(dir, &env).expect("valid tree");
        config.routes.iter().map(|r| r.pattern.to_string()).collect()
    }

    fn error(dir: &Path) -> String {
        RoutesConfig::parse_dir(dir, &env).expect_err("invalid tree").to_string()
    }

    #[test]
    fn maps_folders_to_patterns_in_sorted_order() {
        let (_temp, dir) = tree(
            "api",
            &[
                ("route.wasm", ""),
                ("posts/route.wasm", ""),
                ("posts/[id]/route.wasm", ""),
                ("posts/[id]/comments/route.wasm", ""),
                ("docs/[...slug]/route.wasm", ""),
                ("shop/[[...slug]]/route.wasm", ""),
                ("(admin)/users/route.wasm", ""),
                ("_lib/secret/route.wasm", ""),
                (".cache/route.wasm", ""),
                ("posts/README.md", "colocated files are ignored"),
                ("posts/[id]/src/lib.rs", "so are folders without routes"),
            ],
        );
        assert_eq!(
            patterns(&dir),
            [
                "/api",
                "/api/users",
                "/api/docs/[...slug]",
                "/api/posts",
                "/api/posts/[id]",
                "/api/posts/[id]/comments",
                "/api/shop/[[...slug]]",
            ]
        );
        let config = RoutesConfig::parse_dir(&dir, &env).expect("valid tree");
        let route = &config.routes[4];
        assert_eq!(route.component, dir.join("posts/[id]/route.wasm"));
        assert_eq!(route.at.to_string(), dir.join("posts/[id]/route.wasm").display().to_string());
        assert_eq!(config.base_dir, dir);
    }

    #[test]
    fn the_directory_name_is_the_first_segment_however_it_is_written() {
        let (temp, dir) = tree("api", &[("hello/route.wasm", "")]);
        assert_eq!(patterns(&dir), ["/api/hello"]);
        let with_slash = PathBuf::from(format!("{}/", dir.display()));
        assert_eq!(patterns(&with_slash), ["/api/hello"]);
        assert_eq!(patterns(&temp.path().join("./api/.")), ["/api/hello"]);

        let (_temp, grouped) = tree("(site)", &[("hello/route.wasm", "")]);
        assert_eq!(patterns(&grouped), ["/hello"], "a (group) root serves at /");
    }

    #[test]
    fn a_dir_without_a_name_is_refused_with_a_hint() {
        let (_temp, dir) = tree("api", &[("x/route.wasm", "")]);
        let err = error(&dir.join("x/.."));
        assert!(err.contains("does not say the directory's name"), "{err}");
        let canonical = std::fs::canonicalize(&dir).expect("canonical");
        assert!(err.contains(&format!("`--dir {}`", canonical.display())), "{err}");

        let (_temp, private) = tree("_api", &[("x/route.wasm", "")]);
        assert!(error(&private).contains("starts with `_` or `.` is skipped"));
        assert!(error(&dir.join("missing")).contains("cannot read"));
    }

    #[test]
    fn route_toml_carries_the_route_settings() {
        let (_temp, dir) = tree(
            "api",
            &[
                ("env/route.wasm", ""),
                (
                    "env/route.toml",
                    "env = { KEY = \"${API_KEY}\" }\nlimits = { timeout = \"2s\" }\n\
                     allowed_outbound_hosts = [\"https://api.example.com\"]\nisolation = \"reuse\"\n\
                     max_requests_per_instance = 5\nkey_value_stores = [\"default\"]\ndatabases = [\"default\"]\n",
                ),
                ("plain/route.wasm", ""),
            ],
        );
        let config = RoutesConfig::parse_dir(&dir, &env).expect("valid tree");
        let (configured, plain) = (&config.routes[0], &config.routes[1]);
        assert_eq!(configured.env, [("KEY".to_owned(), "s3cret".to_owned())]);
        assert_eq!(configured.limits.timeout, std::time::Duration::from_secs(2));
        assert!(configured.outbound.allows("https", "api.example.com", 443));
        assert_eq!(configured.isolation, Isolation::Reuse { max_requests: 5 });
        assert_eq!(configured.key_value_stores, ["default"]);
        assert_eq!(configured.databases, ["default"]);
        assert!(plain.key_value_stores.is_empty() && plain.databases.is_empty());
        assert_eq!(config.stores.keys().collect::<Vec<_>>(), ["default"], "a tree has the implicit store only");
        assert_eq!(config.databases.keys().collect::<Vec<_>>(), ["default"], "and the implicit database only");
        assert_eq!(config.default_data_dir(), dir.parent().expect("tree in a temp dir").join(".wasmroutes"));
        assert!(configured.build.is_none());
        assert!(plain.env.is_empty() && plain.outbound.is_deny_all());
        assert_eq!(plain.isolation, Isolation::Fresh);
        assert_eq!(plain.limits, crate::limits::Limits::default());
    }

    #[test]
    fn a_route_js_or_route_ts_is_a_route_built_into_the_hidden_build_folder() {
        let (_temp, dir) = tree(
            "api",
            &[
                ("hello/route.js", ""),
                ("posts/[id]/route.ts", ""),
                ("posts/[id]/route.toml", "env = { A = \"1\" }\n"),
                (".wasmroutes/build/hello/route.js.wasm", ""),
            ],
        );
        let config = RoutesConfig::parse_dir(&dir, &env).expect("valid tree");
        assert_eq!(patterns(&dir), ["/api/hello", "/api/posts/[id]"], "the build folder is not a route");
        let post = &config.routes[1];
        assert_eq!(post.component, dir.join(".wasmroutes/build/posts/[id]/route.ts.wasm"));
        let source = dir.join("posts/[id]/route.ts");
        let step = BuildStep::JavaScript { source, output: post.component.clone(), aot: false };
        assert_eq!(post.build, Some(step));
        assert_eq!(post.watch, ["posts/[[]id[]]/route.ts"]);
        assert_eq!(post.env, [("A".to_owned(), "1".to_owned())]);
        assert_eq!(post.at.to_string(), dir.join("posts/[id]/route.ts").display().to_string());
    }

    #[test]
    fn a_route_toml_may_ask_for_an_ahead_of_time_build_of_its_route_js_only() {
        let (_temp, dir) = tree("api", &[("fib/route.js", ""), ("fib/route.toml", "aot = true\n")]);
        let config = RoutesConfig::parse_dir(&dir, &env).expect("valid tree");
        assert_eq!(config.routes[0].component, dir.join(".wasmroutes/build/fib/route.js.aot.wasm"));
        assert!(matches!(config.routes[0].build, Some(BuildStep::JavaScript { aot: true, .. })));

        let (_temp, dir) = tree("api", &[("w/route.wasm", ""), ("w/route.toml", "aot = true\n")]);
        assert!(error(&dir).contains("`aot` applies to a route.js or route.ts"), "{}", error(&dir));
    }

    #[test]
    fn a_tree_has_a_default_sqlite_database_migrated_from_its_migrations_folder() {
        let (_temp, dir) = tree(
            "api",
            &[
                ("notes/route.wasm", ""),
                ("notes/route.toml", "databases = [\"default\"]\n"),
                ("plain/route.wasm", ""),
                ("_migrations/0001_notes.sql", "CREATE TABLE notes (id INTEGER PRIMARY KEY);"),
                ("_migrations/route.wasm", "a private folder holds no route"),
            ],
        );
        let config = RoutesConfig::parse_dir(&dir, &env).expect("valid tree");
        assert_eq!(patterns(&dir), ["/api/notes", "/api/plain"]);
        assert_eq!(config.routes[0].databases, ["default"]);
        assert!(config.routes[1].databases.is_empty(), "no database unless declared");
        let manifest = "[database.default]\ntype = \"sqlite\"\nmigrations = \"_migrations\"\n\n\
                        [[route]]\npath = \"/x\"\ncomponent = \"x.wasm\"\n";
        let from_manifest = RoutesConfig::parse(&dir.join("routes.toml"), manifest, &env).expect("valid manifest");
        assert_eq!(config.databases, from_manifest.databases, "as routes.toml beside the tree would configure it");
        assert_eq!(config.databases["default"].migrations, Some(dir.join("_migrations")));

        let (_temp, bare) =
            tree("api", &[("notes/route.wasm", ""), ("notes/route.toml", "databases = [\"default\"]\n")]);
        let without = RoutesConfig::parse_dir(&bare, &env).expect("valid tree");
        let default = &without.databases["default"];
        assert_eq!((default.backend.kind(), default.migrations.as_ref()), ("sqlite", None), "no folder: no migrations");
        std::fs::create_dir(bare.join("_migrations")).expect("mkdir");
        let with = RoutesConfig::parse_dir(&bare, &env).expect("valid tree");
        let changes = crate::config::named_changes(&without.databases, &with.databases);
        assert_eq!(changes.as_deref(), Some("`default` changed"), "a reload that adds the folder needs a restart");

        let (_temp, file) = tree("api", &[("x/route.wasm", ""), ("_migrations", "")]);
        let err = error(&file);
        assert!(err.starts_with(&format!("{}: not a folder", file.join("_migrations").display())), "{err}");
    }

    #[test]
    fn a_folder_with_two_components_is_refused() {
        let (_temp, dir) = tree("api", &[("hello/route.js", ""), ("hello/route.wasm", "")]);
        let err = error(&dir);
        assert!(err.contains("has both route.js and route.wasm; remove one"), "{err}");
    }

    #[test]
    fn bad_route_toml_is_refused_naming_its_file_line_and_column() {
        let cases = [
            ("limits = { memory = \"lots\" }\n", "route.toml:1:", "limits.memory"),
            ("\n\nmethods = [\"GET\"]\n", "route.toml:3:1", "unknown field `methods`; a route.toml may hold `env`"),
            ("path = \"/elsewhere\"\n", "route.toml:1:", "`path` is not allowed in route.toml"),
            ("component = \"x.wasm\"\n", "route.toml:1:", "`component` is not allowed"),
            ("build = \"make\"\n", "route.toml:1:", "`build` is not allowed"),
            ("env = { K = \"${NOPE}\" }\n", "route.toml:1:", "`NOPE` is not set"),
            ("isolation = [", "route.toml:1:", ""),
            (
                "key_value_stores = [\"default\", \"sessions\"]\n",
                "route.toml:1:32",
                "a route tree (--dir) has only the `default` store, not `sessions`",
            ),
            (
                "databases = [\"default\", \"main\"]\n",
                "route.toml:1:25",
                "databases: a route tree (--dir) has only the `default` database, not `main`; configure other \
                 databases in a routes.toml",
            ),
            ("\ndatabases = [\"default\", \"default\"]\n", "route.toml:2:25", "`default` is listed twice"),
        ];
        for (text, at, message) in cases {
            let (_temp, dir) = tree("api", &[("x/route.wasm", ""), ("x/route.toml", text)]);
            let err = error(&dir);
            let file = dir.join("x").join(at);
            assert!(err.starts_with(&file.display().to_string()), "{text:?}: {err}");
            assert!(err.contains(message), "{text:?}: {err}");
        }
    }

    #[test]
    fn conflicts_name_both_route_files() {
        let cases = [
            (["posts/[id]/route.wasm", "posts/[slug]/route.wasm"], "param names"),
            (["(a)/x/route.wasm", "(b)/x/route.wasm"], "the same path twice"),
            (["shop/route.wasm", "shop/[[...slug]]/route.wasm"], "optional catch-all"),
            (["docs/[...a]/route.wasm", "docs/[[...a]]/route.wasm"], "catch-all"),
        ];
        for ([first, second], reason) in cases {
            let (_temp, dir) = tree("api", &[(first, ""), (second, "")]);
            let err = error(&dir);
            for file in [first, second] {
                assert!(err.contains(&dir.join(file).display().to_string()), "names {file}: {err}");
            }
            assert!(err.contains(reason), "{err}");
        }
    }

    #[test]
    fn bad_folders_are_refused_naming_the_folder() {
        let cases = [
            ("posts/[id/route.wasm", "posts/[id", "not a valid URL segment"),
            ("posts/[1d]/route.wasm", "posts/[1d]", "param name"),
            ("a b/route.wasm", "a b", "not a valid URL segment"),
            ("(.)x/route.wasm", "(.)x", "not a route group"),
            ("()/route.wasm", "()", "not a route group"),
            ("@slot/route.wasm", "@slot", "parallel routes"),
            ("docs/[...slug]/edit/route.wasm", "docs/[...slug]/edit/route.wasm", "must be the last segment"),
            ("[id]/x/[id]/route.wasm", "[id]/x/[id]/route.wasm", "twice"),
        ];
        for (file, named, reason) in cases {
            let (_temp, dir) = tree("api", &[(file, "")]);
            let err = error(&dir);
            assert!(err.starts_with(&format!("{}: ", dir.join(named).display())), "{file}: {err}");
            assert!(err.contains(reason), "{file}: {err}");
        }
    }

    #[test]
    fn a_tree_without_routes_or_with_a_lone_route_toml_is_refused() {
        let (_temp, dir) = tree("api", &[("_private/route.wasm", ""), ("notes.txt", "")]);
        let err = error(&dir);
        assert!(err.contains("no routes: expected `route.wasm`"), "{err}");
        assert!(err.contains("/api/hello"), "{err}");

        let (_temp, dir) = tree("api", &[("a/route.wasm", ""), ("b/route.toml", "")]);
        let err = error(&dir);
        assert!(err.starts_with(&dir.join("b/route.toml").display().to_string()), "{err}");
        assert!(err.contains("without a route.wasm"), "{err}");

        let (_temp, dir) = tree("api", &[("file", "")]);
        assert!(error(&dir.join("file")).contains("not a directory"));
    }
}
