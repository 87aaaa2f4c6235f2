//! `wasmroutes new`: a route crate from a template, added to `routes.toml`.
//!
//! Everything that can be checked is checked before anything is written (the
//! name, the path, a clash with an existing route); the crate is removed
//! again if Cargo rejects it, and `routes.toml` is only appended to, never
//! rewritten, so the user's comments and layout stay as they were.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use wasmroutes::config::{ConfigError, RoutesConfig};
use wasmroutes::routing::method::{Method, MethodSet};
use wasmroutes::routing::pattern::RoutePattern;

use super::js_route_template;
use super::route_template::{self, Placement, RouteSpec};

/// Create a route from a template (a Rust crate, or with --js a route.js) and add it to
/// routes.toml.
///
/// The crate goes into ./NAME: it depends on wasmroutes-sdk and has a handler
/// and a native unit test per method; the handlers read the path's params.
/// Inside a Cargo workspace whose members include it (e.g. `sample-routes/*`)
/// it becomes a member; anywhere else it is its own workspace with a small
/// release profile, a rust-toolchain.toml (the SDK's minimum Rust, with the
/// wasm32-wasip2 target) and a .gitignore, so it builds wherever it is kept.
/// Either way it builds with `cargo build --release --target wasm32-wasip2`
/// and serves with no edits. With --js, ./NAME holds a Next.js route.js
/// instead, with `node:test` tests. The new `[[route]]` is appended to
/// routes.toml, which is otherwise left as it was; a path that clashes with
/// an existing route is refused.
#[derive(clap::Args)]
#[command(after_help = "Example:\n  wasmroutes new things-id --path '/api/things/[id]' --methods get,post")]
pub struct NewArgs {
    /// Package name of the new crate: lower-case letters, digits, `-` and `_`, starting with a letter.
    name: String,
    /// The route's URL pattern, Next.js style: `/api/things/[id]`, `[...slug]`, `[[...slug]]`.
    #[arg(long)]
    path: String,
    /// Handlers to generate, comma-separated: get, post, put, patch, delete, head, options.
    #[arg(long, value_delimiter = ',', default_value = "get", value_parser = parse_method)]
    methods: Vec<Method>,
    /// The manifest to add the route to; created if missing.
    #[arg(long, default_value = "routes.toml")]
    routes: PathBuf,
    /// The wasmroutes-sdk crate (the `guest-sdk/` folder) to depend on [default: the one this binary was built with].
    #[arg(long, conflicts_with = "js")]
    sdk: Option<PathBuf>,
    /// Write a JavaScript route instead of a Rust crate: ./NAME/route.js (a Next.js App Router
    /// route handler), its tests (`node --test`) and a package.json.
    #[arg(long)]
    js: bool,
}

fn parse_method(text: &str) -> Result<Method, String> {
    Method::from_interface_name(&text.trim().to_ascii_lowercase())
        .ok_or_else(|| format!("`{text}` is not one of get, post, put, patch, delete, head, options"))
}

/// Validates, writes the crate, appends the route, prints what to run next.
pub fn run(args: NewArgs) -> anyhow::Result<()> {
    validate_name(&args.name)?;
    let pattern = RoutePattern::parse(&args.path).map_err(|e| anyhow::anyhow!("--path: {e}"))?;
    let methods: MethodSet = args.methods.iter().copied().collect();
    let existing = match std::fs::read_to_string(&args.routes) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", args.routes.display())),
    };
    // The clash check uses a stand-in component; the real path is only known
    // once Cargo has placed the crate.
    refuse_conflicts(&args.routes, &existing, &pattern)?;

    let route_dir = std::env::current_dir()?.join(&args.name);
    if route_dir.exists() {
        bail!("{} already exists: pick another name, or remove it first", route_dir.display());
    }
    let routes_dir = absolute_dir_of(&args.routes)?;
    let spec = RouteSpec { name: &args.name, pattern: &pattern, methods };
    let made = if args.js {
        write_js_route(&route_dir, &spec).and_then(|()| {
            let entry = route_entry(&pattern, &relative(&route_dir.join("route.js"), &routes_dir), None, &[]);
            add_route(&args, &existing, &entry)?;
            Ok(Made::JavaScript)
        })
    } else {
        find_sdk(args.sdk.as_deref()).and_then(|sdk| {
            let placed = place_crate(&route_dir, &spec, &sdk)?;
            add_route(&args, &existing, &crate_entry(&args.name, &pattern, &route_dir, &routes_dir, &placed))?;
            Ok(Made::Crate(placed))
        })
    };
    match made {
        Ok(made) => {
            print_next_steps(&args, &made, &methods, &pattern);
            Ok(())
        }
        Err(e) => {
            // Nothing half-made: without its route, the folder goes too.
            let _ = std::fs::remove_dir_all(&route_dir);
            Err(e)
        }
    }
}

/// What `new` made.
enum Made {
    /// A Rust crate, placed by Cargo.
    Crate(Placed),
    /// A folder with a route.js.
    JavaScript,
}

/// The `[[route]]` for a placed crate: its component in Cargo's target
/// dir, the build command, and the files `serve --watch` rebuilds on.
fn crate_entry(name: &str, pattern: &RoutePattern, crate_dir: &Path, routes_dir: &Path, placed: &Placed) -> String {
    let lib_name = name.replace('-', "_");
    let component = placed.target_dir.join("wasm32-wasip2").join("release").join(format!("{lib_name}.wasm"));
    // From inside the crate, so that the crate's own rust-toolchain.toml (or
    // its workspace's) chooses the compiler: rustup looks for it from the
    // current directory, not from `--manifest-path`.
    let crate_rel = relative(crate_dir, routes_dir);
    let build = format!("cd {} && cargo build --release --target wasm32-wasip2", shell_word(&crate_rel));
    // Globs are relative to routes.toml; a crate elsewhere on disk gets none.
    let watch = match crate_rel.as_str() {
        rel if Path::new(rel).is_relative() && !rel.is_empty() => {
            vec![format!("{rel}/src/**/*.rs"), format!("{rel}/Cargo.toml")]
        }
        _ => Vec::new(),
    };
    route_entry(pattern, &relative(&component, routes_dir), Some(&build), &watch)
}

/// Appends `entry` to `routes.toml`.
fn add_route(args: &NewArgs, existing: &str, entry: &str) -> anyhow::Result<()> {
    let updated = append_entry(existing, entry);
    // The file as it will be must still parse: refuse before writing if not.
    parse_for_check(&args.routes, &updated)?;
    std::fs::write(&args.routes, &updated).with_context(|| format!("cannot write {}", args.routes.display()))
}

/// Writes ./NAME/route.js, its tests and package.json.
fn write_js_route(dir: &Path, spec: &RouteSpec<'_>) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let files = js_route_template::render(spec);
    for (name, text) in
        [("route.js", &files.route_js), ("route.test.mjs", &files.route_test), ("package.json", &files.package_json)]
    {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// Cargo's rules for a package name, plus names that would clash with the
/// crates a route depends on.
fn validate_name(name: &str) -> anyhow::Result<()> {
    let well_formed = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !well_formed {
        bail!(
            "`{name}` is not a valid route name: use lower-case letters, digits, `-` and `_`, starting with a letter \
             (e.g. `things-id`)"
        );
    }
    let lib_name = name.replace('-', "_");
    const TAKEN: &[&str] = &["test", "std", "core", "alloc", "proc_macro", "wasmroutes_sdk", "serde_json"];
    if route_template::is_rust_keyword(&lib_name) || TAKEN.contains(&lib_name.as_str()) {
        bail!("`{name}` cannot be a route name: Cargo or Rust reserve it; pick another, e.g. `{name}-route`");
    }
    Ok(())
}

/// Refuses `pattern` if it clashes with a route already in `routes_toml`,
/// naming that route and its line, by the router's own rules.
fn refuse_conflicts(routes_toml: &Path, existing: &str, pattern: &RoutePattern) -> anyhow::Result<()> {
    let with_new = append_entry(existing, &route_entry(pattern, "new-route.wasm", None, &[]));
    // Parsing runs `config::check_conflicts`, the check `serve` runs; only
    // the wording is `new`'s own, since the new entry is not in the file yet.
    match parse_ignoring_env(routes_toml, &with_new) {
        Err(ConfigError::Conflict { conflict, other, .. }) => {
            let at = other.map(|at| format!(" ({at})")).unwrap_or_default();
            bail!(
                "cannot add `{pattern}`: it conflicts with route `{}`{at}: {}; pick another --path or remove that route",
                conflict.with,
                conflict.reason
            )
        }
        result => result.map(drop).map_err(|e| fix_first(routes_toml, e)),
    }
}

/// Parses manifest text as `serve` would, except that `${VAR}` references
/// need not be set: their values do not matter for adding a route.
fn parse_for_check(routes_toml: &Path, text: &str) -> anyhow::Result<RoutesConfig> {
    parse_ignoring_env(routes_toml, text).map_err(|e| fix_first(routes_toml, e))
}

fn parse_ignoring_env(routes_toml: &Path, text: &str) -> Result<RoutesConfig, ConfigError> {
    RoutesConfig::parse(routes_toml, text, &|_| Some(String::new()))
}

fn fix_first(routes_toml: &Path, error: ConfigError) -> anyhow::Error {
    anyhow::anyhow!("{error}\n(fix {} first, then run `wasmroutes new` again)", routes_toml.display())
}

/// One `[[route]]` table, with every value quoted as TOML.
fn route_entry(pattern: &RoutePattern, component: &str, build: Option<&str>, watch: &[String]) -> String {
    let mut entry = format!(
        "[[route]]\npath = {}\ncomponent = {}\n",
        route_template::toml_string(pattern.as_str()),
        route_template::toml_string(component),
    );
    if let Some(build) = build {
        entry.push_str(&format!("build = {}\n", route_template::toml_string(build)));
    }
    if !watch.is_empty() {
        let globs: Vec<String> = watch.iter().map(|g| route_template::toml_string(g)).collect();
        entry.push_str(&format!("watch = [{}]\n", globs.join(", ")));
    }
    entry
}

/// The user's text untouched, then a blank line and the new entry.
fn append_entry(existing: &str, entry: &str) -> String {
    let mut text = existing.to_owned();
    if !text.is_empty() {
        if !text.ends_with('\n') {
            text.push('\n');
        }
        text.push('\n');
    }
    text.push_str(entry);
    text
}

/// The SDK to depend on: `--sdk`, or the `guest-sdk/` this binary was built beside.
fn find_sdk(given: Option<&Path>) -> anyhow::Result<PathBuf> {
    let built_beside = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("guest-sdk");
    let sdk = given.map_or(built_beside, Path::to_owned);
    let canonical = sdk.canonicalize().ok().filter(|p| p.join("Cargo.toml").is_file());
    canonical.with_context(|| {
        format!(
            "wasmroutes-sdk not found at {}: pass --sdk <path to the guest-sdk folder of a wasmroutes checkout>",
            sdk.display()
        )
    })
}

/// Where the crate ended up, as Cargo sees it.
struct Placed {
    /// Whether it is a member of an enclosing workspace.
    member_of: Option<PathBuf>,
    /// Cargo's target directory for it.
    target_dir: PathBuf,
}

/// Writes the crate as a workspace member first; if no enclosing workspace
/// claims it, rewrites it as its own workspace. Cargo decides, via
/// `cargo metadata`, which also reports the target directory.
fn place_crate(crate_dir: &Path, spec: &RouteSpec<'_>, sdk: &Path) -> anyhow::Result<Placed> {
    std::fs::create_dir_all(crate_dir.join("src")).with_context(|| format!("cannot create {}", crate_dir.display()))?;
    let sdk_relative = relative(sdk, crate_dir);
    write_crate(crate_dir, &route_template::render(spec, &Placement::Member { sdk: &sdk_relative }))?;
    match cargo_metadata(crate_dir) {
        Ok(meta) if !same_dir(&meta.workspace_root, crate_dir) => {
            // A workspace that already has a wasmroutes-sdk (this repository,
            // or a clone of it) must keep exactly one: depend on that one.
            if let Some(workspace_sdk) = meta.workspace_sdk.filter(|ws| !same_dir(ws, sdk)) {
                let sdk_relative = relative(&workspace_sdk, crate_dir);
                write_crate(crate_dir, &route_template::render(spec, &Placement::Member { sdk: &sdk_relative }))?;
            }
            return Ok(Placed { member_of: Some(meta.workspace_root), target_dir: meta.target_dir });
        }
        Ok(_) => {} // no enclosing workspace
        // Inside a workspace whose `members` leave it out: it becomes its own.
        Err(e) if e.to_string().contains("believes it's in a workspace when it's not") => {}
        // Anything else (say, a package of that name already in the
        // workspace) must not be papered over with a nested workspace, which
        // would break the enclosing one.
        Err(e) => return Err(e),
    }
    let sdk_absolute = sdk.display().to_string();
    let files = route_template::render(spec, &Placement::Standalone { sdk: &sdk_absolute });
    write_crate(crate_dir, &files)?;
    let meta = cargo_metadata(crate_dir)?;
    Ok(Placed { member_of: None, target_dir: meta.target_dir })
}

fn same_dir(a: &Path, b: &Path) -> bool {
    matches!((a.canonicalize(), b.canonicalize()), (Ok(a), Ok(b)) if a == b)
}

fn write_crate(crate_dir: &Path, files: &route_template::RouteFiles) -> anyhow::Result<()> {
    let write = |name: &str, text: &str| {
        let path = crate_dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))
    };
    write("Cargo.toml", &files.cargo_toml)?;
    write("build.rs", files.build_rs)?;
    write("src/lib.rs", &files.lib_rs)?;
    for (name, text) in &files.workspace_files {
        write(name, text)?;
    }
    Ok(())
}

struct Metadata {
    workspace_root: PathBuf,
    target_dir: PathBuf,
    /// The folder of the workspace's own `wasmroutes-sdk` package, if it has one.
    workspace_sdk: Option<PathBuf>,
}

/// Asks Cargo (without resolving dependencies) which workspace the crate is
/// in and where it builds to; `CARGO_TARGET_DIR` and `.cargo/config.toml` count.
fn cargo_metadata(crate_dir: &Path) -> anyhow::Result<Metadata> {
    let output = Command::new("cargo")
        .args(["metadata", "--no-deps", "--format-version", "1", "--manifest-path"])
        .arg(crate_dir.join("Cargo.toml"))
        .current_dir(crate_dir)
        .output()
        .context("cannot run `cargo metadata` (is cargo on PATH?)")?;
    if !output.status.success() {
        bail!("Cargo rejected the new crate:\n{}", String::from_utf8_lossy(&output.stderr).trim_end());
    }
    let json: serde_json::Value =
        serde_json::from_slice(&output.stdout).context("`cargo metadata` printed something other than JSON")?;
    let path = |key: &str| {
        json.get(key)
            .and_then(|v| v.as_str())
            .map(PathBuf::from)
            .with_context(|| format!("`cargo metadata` has no {key}"))
    };
    let workspace_sdk = json
        .get("packages")
        .and_then(|p| p.as_array())
        .into_iter()
        .flatten()
        .find(|p| p.get("name").and_then(|n| n.as_str()) == Some("wasmroutes-sdk"))
        .and_then(|p| p.get("manifest_path")?.as_str())
        .and_then(|manifest| Path::new(manifest).parent().map(Path::to_owned));
    Ok(Metadata { workspace_root: path("workspace_root")?, target_dir: path("target_directory")?, workspace_sdk })
}

/// The absolute directory a file is (or will be) in.
fn absolute_dir_of(file: &Path) -> anyhow::Result<PathBuf> {
    let dir = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    dir.canonicalize().with_context(|| format!("the folder of {} does not exist", file.display()))
}

/// `path` relative to `base` (both absolute), for files that move together;
/// absolute when they share nothing but `/` (say, `/tmp/x` and `/home/me/sdk`).
/// `pathdiff` because `..` steps are easy to get wrong by hand.
fn relative(path: &Path, base: &Path) -> String {
    let top = |p: &Path| p.components().nth(1).map(|c| c.as_os_str().to_owned());
    let related = top(path).is_some() && top(path) == top(base);
    let shown = if related { pathdiff::diff_paths(path, base) } else { None };
    shown.unwrap_or_else(|| path.to_owned()).display().to_string()
}

/// Quotes a path for the `build` shell command if it needs it.
fn shell_word(word: &str) -> String {
    let plain = word.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+".contains(c));
    if plain { word.to_owned() } else { format!("'{}'", word.replace('\'', r"'\''")) }
}

fn print_next_steps(args: &NewArgs, made: &Made, methods: &MethodSet, pattern: &RoutePattern) {
    let name = &args.name;
    let methods = methods.iter().map(Method::as_str).collect::<Vec<_>>().join(", ");
    println!("created ./{name}: {methods} {pattern}");
    match made {
        Made::Crate(Placed { member_of: Some(root), .. }) => {
            println!("  a member of the workspace at {}", root.display())
        }
        Made::Crate(Placed { member_of: None, .. }) => {
            println!("  its own Cargo workspace, built with Rust {}", route_template::sdk_rust_version())
        }
        Made::JavaScript => println!("  a Next.js route handler (route.js) with its tests"),
    }
    println!("added `{pattern}` to {}", args.routes.display());
    let routes = shell_word(&args.routes.display().to_string());
    let example = route_template::example_path(pattern);
    let dir = shell_word(name);
    println!("next:");
    match made {
        Made::Crate(_) => println!("  (cd {dir} && cargo test)   # its native unit tests"),
        Made::JavaScript => println!("  (cd {dir} && node --test route.test.mjs)   # its tests, in Node.js"),
    }
    println!("  wasmroutes build {routes}   # runs every route's `build` command");
    println!("  wasmroutes serve {routes}");
    println!("  curl -s localhost:3000{example}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_cargo_rules() {
        for good in ["things", "things-id", "a1_b"] {
            assert!(validate_name(good).is_ok(), "{good}");
        }
        for bad in ["", "Things", "1things", "-x", "th ings", "a/b", "fn", "test", "serde-json"] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn appending_keeps_the_users_text_byte_for_byte() {
        let user = "# my routes\n[[route]]\npath = \"/a\"   # keep me\ncomponent = \"a.wasm\"";
        let out = append_entry(user, "[[route]]\n");
        assert!(out.starts_with(user));
        assert_eq!(&out[user.len()..], "\n\n[[route]]\n");
        assert_eq!(append_entry("", "[[route]]\n"), "[[route]]\n");
    }

    #[test]
    fn conflicts_name_the_existing_route_and_its_line() {
        let existing = "[[route]]\npath = \"/api/things/[slug]\"\ncomponent = \"a.wasm\"\n";
        let pattern = RoutePattern::parse("/api/things/[id]").expect("pattern");
        let err = refuse_conflicts(Path::new("routes.toml"), existing, &pattern).unwrap_err().to_string();
        assert!(err.contains("`/api/things/[slug]` (routes.toml:1:1)"), "{err}");
        assert!(err.contains("two different param names"), "{err}");
        let fine = RoutePattern::parse("/api/things/[slug]/more").expect("pattern");
        assert!(refuse_conflicts(Path::new("routes.toml"), existing, &fine).is_ok());
    }

    #[test]
    fn a_broken_manifest_is_reported_not_appended_to() {
        let pattern = RoutePattern::parse("/x").expect("pattern");
        let err = refuse_conflicts(Path::new("routes.toml"), "[[route]\n", &pattern).unwrap_err().to_string();
        assert!(err.contains("routes.toml:1:") && err.contains("fix routes.toml first"), "{err}");
    }

    #[test]
    fn paths_are_relative_within_a_tree_and_absolute_across_trees() {
        let base = Path::new("/work/repo/sample-routes");
        assert_eq!(relative(Path::new("/work/repo/target/x.wasm"), base), "../target/x.wasm");
        assert_eq!(relative(Path::new("/tmp/t/x.wasm"), base), "/tmp/t/x.wasm");
    }

    #[test]
    fn build_paths_are_quoted_only_when_needed() {
        assert_eq!(shell_word("../x/Cargo.toml"), "../x/Cargo.toml");
        assert_eq!(shell_word("my dir/Cargo.toml"), "'my dir/Cargo.toml'");
    }
}
