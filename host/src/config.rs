//! `routes.toml`: the deployment manifest, parsed and validated with no I/O
//! beyond reading the file itself and the host environment for `${VAR}`.
//! The per-route keys are read by one function whichever file holds them: a
//! `[[route]]` table here, or a `route.toml` of a route tree ([`crate::route_dir`]).
//!
//! Every problem is reported as `file:line:column: message`, and nothing is
//! half-loaded: either every route is valid or the whole file is rejected.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use toml::Spanned;

use crate::build_routes::BuildStep;
use crate::js_toolchain;
use crate::limits::{Limits, parse_duration, parse_size};
use crate::outbound::{OutboundPolicy, OutboundRule};
use crate::pattern::RoutePattern;

/// A place in `routes.toml`, for error messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// The file (or folder).
    pub file: Arc<PathBuf>,
    /// 1-based line; 0 when the place is the whole file, as for a route
    /// whose source is its `route.wasm` in a route tree.
    pub line: usize,
    /// 1-based column; 0 with `line`.
    pub column: usize,
}

impl Location {
    /// A whole file or folder, shown as just its path.
    pub fn whole_file(path: &Path) -> Location {
        Location { file: Arc::new(path.to_owned()), line: 0, column: 0 }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            return write!(f, "{}", self.file.display());
        }
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// Why `routes.toml` was rejected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is readable but wrong.
    #[error("{at}: {message}")]
    Invalid {
        /// Where.
        at: Location,
        /// What is wrong and how to fix it.
        message: String,
    },
}

/// One `[[route]]` entry, validated.
#[derive(Clone, Debug)]
pub struct RouteConfig {
    /// The URL pattern.
    pub pattern: RoutePattern,
    /// The component file, resolved against the directory of `routes.toml`.
    pub component: PathBuf,
    /// What `wasmroutes build` runs to make `component`: the route's `build`
    /// command, or the JavaScript toolchain for a `route.js`/`route.ts`.
    pub build: Option<BuildStep>,
    /// Globs (relative to the manifest's directory) of the sources `build`
    /// reads: with `serve --watch`, a change to a matching file runs `build`.
    /// A JavaScript route always watches its route file.
    /// Each one is known to compile.
    pub watch: Vec<String>,
    /// Environment the guest sees, `${VAR}` already interpolated.
    pub env: Vec<(String, String)>,
    /// Resource limits.
    pub limits: Limits,
    /// Where the guest may send HTTP requests (default: nowhere).
    pub outbound: OutboundPolicy,
    /// Fresh instance per request (default), or reuse.
    pub isolation: Isolation,
    /// The key-value stores the guest may open (default: none). Each names
    /// a store of [`RoutesConfig::stores`].
    pub key_value_stores: Vec<String>,
    /// Where the entry starts, for later errors (missing component, …).
    pub at: Location,
}

/// How a route's requests get their instances.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isolation {
    /// A fresh instance for every request: nothing survives between requests.
    Fresh,
    /// One instance serves up to `max_requests` requests in sequence; state
    /// persists between them. Opt-in.
    Reuse {
        /// Requests an instance serves before it is replaced.
        max_requests: u32,
    },
}

impl Isolation {
    /// Requests a reused instance serves unless `max_requests_per_instance` says otherwise.
    pub const DEFAULT_MAX_REQUESTS: u32 = 1000;
}

/// A validated `routes.toml`.
#[derive(Clone, Debug)]
pub struct RoutesConfig {
    /// The file it came from (for a route tree: its directory).
    pub file: PathBuf,
    /// The directory relative paths and build commands are resolved against
    /// (for a route tree: the tree itself).
    pub base_dir: PathBuf,
    /// The routes in file order.
    pub routes: Vec<RouteConfig>,
    /// The key-value stores by name; always holds [`StoreConfig::DEFAULT`].
    pub stores: BTreeMap<String, StoreConfig>,
}

impl RoutesConfig {
    /// Where embedded stores live unless `--data-dir` says otherwise:
    /// `.wasmroutes/` beside `routes.toml` (beside the tree for `--dir`).
    pub fn default_data_dir(&self) -> PathBuf {
        let beside = if self.file == self.base_dir {
            self.base_dir.parent().map(Path::to_owned).unwrap_or_default()
        } else {
            self.base_dir.clone()
        };
        beside.join(".wasmroutes")
    }
}

/// One `[key_value_store.NAME]` table, or the implicit `default` store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreConfig {
    /// The name routes open it by.
    pub name: String,
    /// Where its data lives.
    pub backend: StoreBackend,
    /// Largest value a `set` may store, in bytes.
    pub max_value: u64,
}

impl StoreConfig {
    /// The store that exists without a table: embedded, default limits.
    pub const DEFAULT: &'static str = "default";

    /// `max_value` unless the table says otherwise.
    pub const DEFAULT_MAX_VALUE: u64 = 1 << 20;

    /// The largest `max_value` a table may set: a value passes whole through
    /// the guest's memory and, for Redis, one command.
    pub const MAX_MAX_VALUE: u64 = 64 << 20;

    /// The store `default` is when `routes.toml` does not configure it.
    pub fn implicit_default() -> StoreConfig {
        StoreConfig {
            name: Self::DEFAULT.to_owned(),
            backend: StoreBackend::Embedded,
            max_value: Self::DEFAULT_MAX_VALUE,
        }
    }
}

/// A store's backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreBackend {
    /// A redb file under the data directory: durable, one host.
    Embedded,
    /// A Redis server, shared by every host that names it.
    Redis {
        /// `redis://[user:password@]host[:port][/db]`, `${VAR}` interpolated.
        url: String,
    },
}

impl StoreBackend {
    /// `"embedded"` or `"redis"`, as written in `type`.
    pub fn kind(&self) -> &'static str {
        match self {
            StoreBackend::Embedded => "embedded",
            StoreBackend::Redis { .. } => "redis",
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileToml {
    #[serde(default)]
    route: Vec<Spanned<RouteKeys>>,
    #[serde(default)]
    key_value_store: BTreeMap<Spanned<String>, Spanned<StoreToml>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StoreToml {
    #[serde(rename = "type")]
    kind: Option<Spanned<String>>,
    url: Option<Spanned<String>>,
    max_value: Option<Spanned<String>>,
}

/// The keys of one route: a `[[route]]` table of `routes.toml`, or a whole
/// `route.toml`. One struct for both (serde's `flatten` would lose the spans
/// and `deny_unknown_fields`); [`RouteSource`] says which keys are required
/// and which are forbidden.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RouteKeys {
    #[serde(default)]
    path: Option<Spanned<String>>,
    #[serde(default)]
    component: Option<Spanned<String>>,
    #[serde(default)]
    build: Option<Spanned<String>>,
    #[serde(default)]
    watch: Vec<Spanned<String>>,
    #[serde(default)]
    env: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    limits: Option<LimitsToml>,
    #[serde(default)]
    allowed_outbound_hosts: Vec<Spanned<String>>,
    #[serde(default)]
    isolation: Option<Spanned<String>>,
    #[serde(default)]
    max_requests_per_instance: Option<Spanned<u32>>,
    #[serde(default)]
    key_value_stores: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsToml {
    memory: Option<Spanned<String>>,
    timeout: Option<Spanned<String>>,
    max_body: Option<Spanned<String>>,
    max_concurrency: Option<Spanned<u32>>,
}

impl RoutesConfig {
    /// Reads and validates `path`, interpolating `${VAR}` from the process
    /// environment.
    pub fn load(path: &Path) -> Result<RoutesConfig, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        Self::parse(path, &text, &|name| std::env::var(name).ok())
    }

    /// Validates `text` as if read from `path`; `lookup_env` resolves `${VAR}`.
    pub fn parse(
        path: &Path,
        text: &str,
        lookup_env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<RoutesConfig, ConfigError> {
        let toml_text = TomlText::new(path, text);
        let parsed: FileToml = toml_text.deserialize()?;
        if parsed.route.is_empty() {
            return Err(toml_text.invalid(0..0, "no routes: add a `[[route]]` table with `path` and `component`"));
        }

        let base_dir = path.parent().map(Path::to_owned).unwrap_or_default();
        let stores = parse_stores(parsed.key_value_store, &toml_text, lookup_env)?;
        let mut routes = Vec::with_capacity(parsed.route.len());
        for entry in parsed.route {
            let span = entry.span();
            let stores_named = entry.get_ref().key_value_stores.clone();
            let source = RouteSource::Manifest { base_dir: &base_dir, at: toml_text.at(span.clone()), span };
            routes.push(route_from_keys(entry.into_inner(), source, &toml_text, lookup_env)?);
            if let Some(unknown) = stores_named.iter().find(|n| !stores.contains_key(n.get_ref())) {
                let configured: Vec<&str> = stores.keys().map(String::as_str).collect();
                return Err(toml_text.invalid(
                    unknown.span(),
                    format!(
                        "key_value_stores: no store `{}` is configured; add a `[key_value_store.{}]` table \
                         (configured: {})",
                        unknown.get_ref(),
                        unknown.get_ref(),
                        configured.join(", ")
                    ),
                ));
            }
        }
        Ok(RoutesConfig { file: path.to_owned(), base_dir, routes, stores })
    }
}

/// The route a route tree gives as `pattern` served by `component`, with
/// the settings of the `route.toml` beside it (`(path, text)`) if there is one.
pub(crate) fn tree_route(
    base_dir: &Path,
    pattern: RoutePattern,
    component: PathBuf,
    route_toml: Option<(&Path, &str)>,
    lookup_env: &dyn Fn(&str) -> Option<String>,
) -> Result<RouteConfig, ConfigError> {
    let (toml_text, keys) = match route_toml {
        Some((path, text)) => {
            let toml_text = TomlText::new(path, text);
            let keys = toml_text.deserialize().map_err(only_route_toml_keys_expected)?;
            (toml_text, keys)
        }
        None => (TomlText::new(&component, ""), RouteKeys::default()),
    };
    // A route tree has no place to configure stores: only the implicit
    // embedded `default` exists.
    if let Some(other) = keys.key_value_stores.iter().find(|n| n.get_ref() != StoreConfig::DEFAULT) {
        return Err(toml_text.invalid(
            other.span(),
            format!(
                "key_value_stores: a route tree (--dir) has only the `default` store, not `{}`; configure other \
                 stores in a routes.toml",
                other.get_ref()
            ),
        ));
    }
    let at = Location::whole_file(&component);
    route_from_keys(keys, RouteSource::Tree { base_dir, pattern, component, at }, &toml_text, lookup_env)
}

/// serde lists every field of [`RouteKeys`] after an unknown key; a
/// `route.toml` may hold only some of them, so list those instead.
fn only_route_toml_keys_expected(error: ConfigError) -> ConfigError {
    match error {
        ConfigError::Invalid { at, message } if message.starts_with("unknown field") => {
            let unknown = message.split_once(", expected").map_or(message.as_str(), |(head, _)| head);
            let message = format!(
                "{unknown}; a route.toml may hold `env`, `limits`, `allowed_outbound_hosts`, `isolation`, \
                 `max_requests_per_instance` and `key_value_stores`"
            );
            ConfigError::Invalid { at, message }
        }
        other => other,
    }
}

/// Where a route's URL pattern and component come from.
enum RouteSource<'a> {
    /// A `[[route]]` of `routes.toml`: its own `path`, `component` (relative
    /// to `base_dir`) and optional `build`.
    Manifest {
        /// The manifest's directory.
        base_dir: &'a Path,
        /// The entry, for later errors.
        at: Location,
        /// The entry's span, for a missing key.
        span: Range<usize>,
    },
    /// A `route.toml` of a route tree: the folders give the pattern and the
    /// `route.wasm` beside it is the component, so the file may not say either.
    Tree {
        /// The tree's directory.
        base_dir: &'a Path,
        /// From the folder names.
        pattern: RoutePattern,
        /// The `route.wasm` (or `route.js`, `route.ts`).
        component: PathBuf,
        /// The component file, for later errors.
        at: Location,
    },
}

/// The one place a route's keys become a [`RouteConfig`], whichever file they
/// came from, so both files accept exactly the same settings.
fn route_from_keys(
    keys: RouteKeys,
    source: RouteSource<'_>,
    toml_text: &TomlText<'_>,
    lookup_env: &dyn Fn(&str) -> Option<String>,
) -> Result<RouteConfig, ConfigError> {
    let invalid = |span: Range<usize>, message: String| toml_text.invalid(span, message);
    let (pattern, component, build, watch, at) = match source {
        RouteSource::Manifest { base_dir, at, span } => {
            let path = keys.path.ok_or_else(|| {
                invalid(span.clone(), "missing field `path`: give the URL pattern, e.g. \"/api/posts/[id]\"".into())
            })?;
            let component = keys.component.ok_or_else(|| {
                invalid(span, "missing field `component`: give the path of a .wasm file (or of a route.js)".into())
            })?;
            let pattern = RoutePattern::parse(path.get_ref()).map_err(|e| invalid(path.span(), e.to_string()))?;
            if component.get_ref().trim().is_empty() {
                return Err(invalid(component.span(), "`component` is empty: give the path of a .wasm file".into()));
            }
            let written = Path::new(component.get_ref());
            if js_toolchain::is_source(written) {
                if let Some(build) = &keys.build {
                    return Err(invalid(
                        build.span(),
                        "`build` is not used with a JavaScript component: wasmroutes builds route.js and route.ts \
                         files itself (`wasmroutes build`); remove `build`, or make `component` the .wasm your \
                         command writes"
                            .into(),
                    ));
                }
                let mut watch = parse_watch(&keys.watch, None, true).map_err(|(span, m)| invalid(span, m))?;
                let (output, step, glob) = javascript_build(base_dir, written);
                watch.insert(0, glob);
                (pattern, output, Some(step), watch, at)
            } else {
                let watch =
                    parse_watch(&keys.watch, keys.build.as_ref(), false).map_err(|(span, m)| invalid(span, m))?;
                let build = keys.build.map(|b| BuildStep::Command(b.into_inner()));
                (pattern, base_dir.join(written), build, watch, at)
            }
        }
        RouteSource::Tree { base_dir, pattern, component, at } => {
            let forbidden = [
                ("path", keys.path.as_ref()),
                ("component", keys.component.as_ref()),
                ("build", keys.build.as_ref()),
                ("watch", keys.watch.first()),
            ];
            if let Some((key, value)) = forbidden.iter().find_map(|(k, v)| v.map(|v| (k, v))) {
                let why = match *key {
                    "path" => "the folders give the URL path",
                    "component" => "the component is the `route.wasm` beside this file",
                    _ => {
                        "a route.js or route.ts is built by wasmroutes; build a route.wasm with your own tooling \
                         (`serve --watch` reloads a changed route.wasm)"
                    }
                };
                return Err(invalid(value.span(), format!("`{key}` is not allowed in route.toml: {why}; remove it")));
            }
            let relative = pathdiff::diff_paths(&component, base_dir).unwrap_or_else(|| component.clone());
            if js_toolchain::is_source(&component) {
                let (output, step, glob) = javascript_build(base_dir, &relative);
                (pattern, output, Some(step), vec![glob], at)
            } else {
                (pattern, component, None, Vec::new(), at)
            }
        }
    };

    let mut env = Vec::with_capacity(keys.env.len());
    for (name, value) in &keys.env {
        if !is_env_name(name) {
            return Err(invalid(value.span(), format!("`{name}` is not a valid environment variable name")));
        }
        let resolved = interpolate(value.get_ref(), lookup_env).map_err(|m| invalid(value.span(), m))?;
        env.push((name.clone(), resolved));
    }
    let limits = match keys.limits {
        Some(l) => parse_limits(l).map_err(|(span, m)| invalid(span, m))?,
        None => Limits::default(),
    };
    let outbound = keys
        .allowed_outbound_hosts
        .iter()
        .map(|h| OutboundRule::parse(h.get_ref()).map_err(|m| invalid(h.span(), m)))
        .collect::<Result<Vec<_>, _>>()?;
    let isolation = parse_isolation(keys.isolation.as_ref(), keys.max_requests_per_instance.as_ref())
        .map_err(|(span, m)| invalid(span, m))?;
    let mut key_value_stores: Vec<String> = Vec::with_capacity(keys.key_value_stores.len());
    for name in &keys.key_value_stores {
        check_store_name(name.get_ref()).map_err(|m| invalid(name.span(), format!("key_value_stores: {m}")))?;
        if key_value_stores.contains(name.get_ref()) {
            return Err(invalid(name.span(), format!("key_value_stores: `{}` is listed twice", name.get_ref())));
        }
        key_value_stores.push(name.get_ref().clone());
    }
    Ok(RouteConfig {
        pattern,
        component,
        build,
        watch,
        env,
        limits,
        outbound: OutboundPolicy::new(outbound),
        isolation,
        key_value_stores,
        at,
    })
}

/// The `[key_value_store.NAME]` tables, plus `default` if none configures it.
fn parse_stores(
    tables: BTreeMap<Spanned<String>, Spanned<StoreToml>>,
    toml_text: &TomlText<'_>,
    lookup_env: &dyn Fn(&str) -> Option<String>,
) -> Result<BTreeMap<String, StoreConfig>, ConfigError> {
    let mut stores = BTreeMap::new();
    for (name, table) in tables {
        let invalid = |span: Range<usize>, message: String| toml_text.invalid(span, message);
        let label = format!("key_value_store.{}", name.get_ref());
        check_store_name(name.get_ref()).map_err(|m| invalid(name.span(), format!("{label}: {m}")))?;
        let table_span = table.span();
        let table = table.into_inner();
        let kind = table.kind.ok_or_else(|| {
            invalid(table_span.clone(), format!("{label}: missing `type`: write type = \"embedded\" or \"redis\""))
        })?;
        let backend = match kind.get_ref().as_str() {
            "embedded" => {
                if let Some(url) = &table.url {
                    return Err(invalid(url.span(), format!("{label}: `url` is for type = \"redis\"; remove it")));
                }
                StoreBackend::Embedded
            }
            "redis" => {
                let url = table.url.ok_or_else(|| {
                    invalid(table_span.clone(), format!("{label}: missing `url`, e.g. url = \"${{REDIS_URL}}\""))
                })?;
                let resolved = interpolate(url.get_ref(), lookup_env).map_err(|m| invalid(url.span(), m))?;
                if !(resolved.starts_with("redis://") || resolved.starts_with("redis+unix://")) {
                    return Err(invalid(
                        url.span(),
                        format!(
                            "{label}: `url` must start with redis:// or redis+unix://, e.g. redis://127.0.0.1:6379/0"
                        ),
                    ));
                }
                StoreBackend::Redis { url: resolved }
            }
            other => {
                return Err(invalid(
                    kind.span(),
                    format!("{label}: type must be \"embedded\" or \"redis\", not {other:?}"),
                ));
            }
        };
        let max_value = match &table.max_value {
            None => StoreConfig::DEFAULT_MAX_VALUE,
            Some(v) => {
                let bytes =
                    parse_size(v.get_ref()).map_err(|m| invalid(v.span(), format!("{label}.max_value: {m}")))?;
                if bytes == 0 || bytes > StoreConfig::MAX_MAX_VALUE {
                    return Err(invalid(v.span(), format!("{label}.max_value must be between 1B and 64MiB")));
                }
                bytes
            }
        };
        stores.insert(name.get_ref().clone(), StoreConfig { name: name.into_inner(), backend, max_value });
    }
    stores.entry(StoreConfig::DEFAULT.to_owned()).or_insert_with(StoreConfig::implicit_default);
    Ok(stores)
}

/// Store names: what a route passes to `open`, and a file name for
/// embedded stores, so letters, digits, `_` and `-` only.
pub(crate) fn check_store_name(name: &str) -> Result<(), String> {
    let ok = (1..=64).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && !name.starts_with('-');
    if ok { Ok(()) } else { Err(format!("`{name}` is not a valid store name (1 to 64 letters, digits, `_` or `-`)")) }
}

/// A TOML file's text, to turn byte spans into `file:line:column`.
struct TomlText<'a> {
    file: Arc<PathBuf>,
    text: &'a str,
    /// Where each line starts, found once: every route records its location,
    /// and counting newlines from the top for each one made a 1,000-route
    /// file quadratic (3% of a 1,000-route start).
    line_starts: Vec<usize>,
}

impl<'a> TomlText<'a> {
    fn new(path: &Path, text: &'a str) -> Self {
        let line_starts = std::iter::once(0).chain(text.match_indices('\n').map(|(nl, _)| nl + 1)).collect();
        TomlText { file: Arc::new(path.to_owned()), text, line_starts }
    }

    fn deserialize<T: serde::de::DeserializeOwned>(&self) -> Result<T, ConfigError> {
        toml::from_str(self.text).map_err(|e| ConfigError::Invalid {
            at: self.at(e.span().unwrap_or(0..0)),
            message: e.message().trim_end().to_owned(),
        })
    }

    fn at(&self, span: Range<usize>) -> Location {
        let offset = span.start.min(self.text.len());
        // `line_starts[0]` is 0, so at least one start is <= offset.
        let line = self.line_starts.partition_point(|&start| start <= offset);
        let column = offset - self.line_starts[line - 1] + 1;
        Location { file: Arc::clone(&self.file), line, column }
    }

    fn invalid(&self, span: Range<usize>, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid { at: self.at(span), message: message.into() }
    }
}

fn parse_limits(l: LimitsToml) -> Result<Limits, (Range<usize>, String)> {
    let mut limits = Limits::default();
    if let Some(v) = l.memory {
        limits.memory = parse_size(v.get_ref()).map_err(|m| (v.span(), format!("limits.memory: {m}")))?;
        if limits.memory < 2 * 1024 * 1024 {
            return Err((v.span(), "limits.memory must be at least 2MiB (a Rust guest starts at about 1.1MiB)".into()));
        }
    }
    if let Some(v) = l.timeout {
        limits.timeout = parse_duration(v.get_ref()).map_err(|m| (v.span(), format!("limits.timeout: {m}")))?;
        if limits.timeout.is_zero() {
            return Err((v.span(), "limits.timeout must be more than zero".into()));
        }
    }
    if let Some(v) = l.max_body {
        limits.max_body = parse_size(v.get_ref()).map_err(|m| (v.span(), format!("limits.max_body: {m}")))?;
    }
    if let Some(v) = l.max_concurrency {
        limits.max_concurrency = *v.get_ref();
        if limits.max_concurrency == 0 {
            return Err((v.span(), "limits.max_concurrency must be at least 1".into()));
        }
    }
    Ok(limits)
}

/// Where wasmroutes builds a JavaScript route file, `written` relative to
/// `base_dir`: its component goes to `.wasmroutes/build/` beside the
/// manifest (inside a route tree, where the leading `.` keeps it from being
/// read as a route), named after the source so two routes never share one;
/// and the watch glob that rebuilds it when the file is saved.
fn javascript_build(base_dir: &Path, written: &Path) -> (PathBuf, BuildStep, String) {
    let mut output = base_dir.join(".wasmroutes").join("build");
    let mut glob_parts = Vec::new();
    for part in written.components() {
        match part {
            std::path::Component::Normal(name) => {
                output.push(name);
                glob_parts.push(globset::escape(&name.to_string_lossy()));
            }
            std::path::Component::ParentDir => {
                output.push("__");
                glob_parts.push("..".to_owned());
            }
            std::path::Component::CurDir | std::path::Component::RootDir | std::path::Component::Prefix(_) => {}
        }
    }
    output.as_mut_os_string().push(".wasm");
    let glob = if written.is_absolute() { format!("/{}", glob_parts.join("/")) } else { glob_parts.join("/") };
    (output.clone(), BuildStep::JavaScript { source: base_dir.join(written), output }, glob)
}

/// Checks a route's `watch` globs: each must compile, be relative (to the
/// manifest's directory) and come with a `build` command to run.
fn parse_watch(
    globs: &[Spanned<String>],
    build: Option<&Spanned<String>>,
    built_by_wasmroutes: bool,
) -> Result<Vec<String>, (Range<usize>, String)> {
    if let (Some(first), None, false) = (globs.first(), build, built_by_wasmroutes) {
        return Err((first.span(), "`watch` needs a `build` command to run when a watched file changes".into()));
    }
    globs
        .iter()
        .map(|glob| {
            let text = glob.get_ref();
            if text.trim().is_empty() {
                return Err((glob.span(), "watch: empty glob; write e.g. \"hello/src/**/*.rs\"".into()));
            }
            if Path::new(text).is_absolute() {
                return Err((glob.span(), format!("watch: `{text}` is absolute; write it relative to routes.toml")));
            }
            globset::Glob::new(text)
                .map_err(|e| (glob.span(), format!("watch: `{text}` is not a valid glob: {}", e.kind())))?;
            Ok(text.clone())
        })
        .collect()
}

fn parse_isolation(
    mode: Option<&Spanned<String>>,
    max_requests: Option<&Spanned<u32>>,
) -> Result<Isolation, (Range<usize>, String)> {
    let reuse = match mode {
        None => false,
        Some(m) if m.get_ref() == "fresh" => false,
        Some(m) if m.get_ref() == "reuse" => true,
        Some(m) => return Err((m.span(), format!("isolation must be \"fresh\" or \"reuse\", not {:?}", m.get_ref()))),
    };
    match (reuse, max_requests) {
        (false, Some(n)) => Err((n.span(), "max_requests_per_instance needs isolation = \"reuse\"".into())),
        (false, None) => Ok(Isolation::Fresh),
        (true, Some(n)) if *n.get_ref() == 0 => Err((n.span(), "max_requests_per_instance must be at least 1".into())),
        (true, n) => Ok(Isolation::Reuse { max_requests: n.map_or(Isolation::DEFAULT_MAX_REQUESTS, |n| *n.get_ref()) }),
    }
}

fn is_env_name(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Replaces each `${NAME}` with the host's value; an unset one is an error so
/// a missing secret is caught at start, not by the first request.
fn interpolate(value: &str, lookup_env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}').ok_or_else(|| format!("unclosed `${{` in `{value}`"))?;
        let name = &after[..end];
        if !is_env_name(name) {
            return Err(format!("`${{{name}}}` is not a valid environment variable reference"));
        }
        let resolved = lookup_env(name)
            .ok_or_else(|| format!("environment variable `{name}` is not set (referenced as `${{{name}}}`)"))?;
        out.push_str(&resolved);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<RoutesConfig, ConfigError> {
        let env = |name: &str| (name == "API_KEY").then(|| "s3cret".to_owned());
        RoutesConfig::parse(Path::new("deploy/routes.toml"), text, &env)
    }

    fn error(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn toml_text_turns_offsets_into_lines_and_columns() {
        let text = TomlText::new(Path::new("r.toml"), "ab\ncd\n\nef");
        let at = |offset: usize| {
            let l = text.at(offset..offset);
            (l.line, l.column)
        };
        assert_eq!(at(0), (1, 1));
        assert_eq!(at(2), (1, 3), "the newline itself ends line 1");
        assert_eq!(at(3), (2, 1));
        assert_eq!(at(6), (3, 1), "an empty line");
        assert_eq!(at(8), (4, 2));
        assert_eq!(at(99), (4, 3), "past the end: the end of the text");
    }

    #[test]
    fn parses_routes_with_env_and_limits() {
        let cfg = parse(
            r#"
[[route]]
path = "/api/posts/[id]"
component = "target/posts_id.wasm"
build = "cargo build"
watch = ["posts/src/**/*.rs", "posts/Cargo.toml"]
env = { API_KEY = "${API_KEY}", MODE = "demo-${API_KEY}-x" }
limits = { memory = "32MiB", timeout = "2s", max_body = "10KB", max_concurrency = 4 }
allowed_outbound_hosts = ["https://api.example.com"]
isolation = "reuse"
max_requests_per_instance = 50

[[route]]
path = "/api/hello"
component = "hello.wasm"
"#,
        )
        .unwrap();
        assert_eq!(cfg.routes.len(), 2);
        let r = &cfg.routes[0];
        assert_eq!(r.pattern.as_str(), "/api/posts/[id]");
        assert_eq!(r.component, Path::new("deploy/target/posts_id.wasm"));
        assert_eq!(r.build, Some(BuildStep::Command("cargo build".into())));
        assert_eq!(r.watch, ["posts/src/**/*.rs", "posts/Cargo.toml"]);
        assert_eq!(r.env, [("API_KEY".into(), "s3cret".into()), ("MODE".into(), "demo-s3cret-x".into())]);
        assert_eq!(r.limits.memory, 32 << 20);
        assert_eq!(r.limits.timeout, std::time::Duration::from_secs(2));
        assert_eq!(r.limits.max_body, 10_000);
        assert_eq!(r.limits.max_concurrency, 4);
        assert!(r.outbound.allows("https", "api.example.com", 443));
        assert_eq!(r.isolation, Isolation::Reuse { max_requests: 50 });
        assert_eq!(cfg.routes[1].isolation, Isolation::Fresh);
        assert_eq!(r.at.line, 2);
        assert_eq!(cfg.routes[1].limits, Limits::default());
        assert!(cfg.routes[1].outbound.is_deny_all(), "no outbound HTTP unless declared");
        assert_eq!(cfg.routes[1].at.line, 13);
    }

    #[test]
    fn a_javascript_component_is_built_by_wasmroutes_and_watched() {
        let cfg = parse(
            r#"
[[route]]
path = "/api/posts/[id]"
component = "app/api/posts/[id]/route.ts"
watch = ["lib/**/*.js"]
"#,
        )
        .unwrap();
        let r = &cfg.routes[0];
        let output = Path::new("deploy/.wasmroutes/build/app/api/posts/[id]/route.ts.wasm");
        assert_eq!(r.component, output);
        let source = PathBuf::from("deploy/app/api/posts/[id]/route.ts");
        assert_eq!(r.build, Some(BuildStep::JavaScript { source, output: output.to_owned() }));
        assert_eq!(r.watch, ["app/api/posts/[[]id[]]/route.ts", "lib/**/*.js"], "the route file first, escaped");
        let glob = globset::Glob::new(&r.watch[0]).unwrap().compile_matcher();
        assert!(glob.is_match("app/api/posts/[id]/route.ts"));
        assert!(!glob.is_match("app/api/posts/i/route.ts"));

        let outside = parse("[[route]]\npath = \"/a\"\ncomponent = \"../src/./a/route.mjs\"\n").unwrap();
        assert_eq!(outside.routes[0].component, Path::new("deploy/.wasmroutes/build/__/src/a/route.mjs.wasm"));
        assert_eq!(outside.routes[0].watch, ["../src/a/route.mjs"]);
    }

    #[test]
    fn a_javascript_component_refuses_a_build_command() {
        let err = error("[[route]]\npath = \"/a\"\ncomponent = \"a/route.js\"\nbuild = \"make\"\n");
        assert!(err.starts_with("deploy/routes.toml:4:9: `build` is not used with a JavaScript component"), "{err}");
    }

    #[test]
    fn errors_name_file_line_and_problem() {
        let cases = [
            (
                "[[route]]\npath = \"/a\"\ncomponent = \"a.wasm\"\nmethod = \"GET\"\n",
                "deploy/routes.toml:4:",
                "unknown field `method`",
            ),
            ("[[route]]\npath = \"/a\"\n", "deploy/routes.toml:1:", "missing field `component`"),
            ("\n[[route]]\ncomponent = \"a.wasm\"\n", "deploy/routes.toml:2:", "missing field `path`"),
            ("[[route]]\npath = \"/a/[id\"\ncomponent = \"a.wasm\"\n", "deploy/routes.toml:2:8", "is not `[name]`"),
            (
                "[[route]]\npath = \"/a\"\ncomponent = \"a.wasm\"\nenv = { K = \"${NOPE}\" }\n",
                "deploy/routes.toml:4:",
                "`NOPE` is not set",
            ),
            (
                "[[route]]\npath = \"/a\"\ncomponent = \"a.wasm\"\nlimits = { memory = \"lots\" }\n",
                "deploy/routes.toml:4:",
                "limits.memory",
            ),
            (
                "[[route]]\npath = \"/a\"\ncomponent = \"a.wasm\"\nlimits = { timeout = \"0s\" }\n",
                "deploy/routes.toml:4:",
                "more than zero",
            ),
            ("[[route]\n", "deploy/routes.toml:1:", ""),
            (
                "[[route]]\npath = \"/a\"\ncomponent = \"a.wasm\"\nisolation = \"pooled\"\n",
                "deploy/routes.toml:4:",
                "\"fresh\" or \"reuse\"",
            ),
            (
                "[[route]]\npath = \"/a\"\ncomponent = \"a.wasm\"\nmax_requests_per_instance = 5\n",
                "deploy/routes.toml:4:",
                "needs isolation",
            ),
            (
                "[[route]]\npath = \"/a\"\ncomponent = \"a.wasm\"\nallowed_outbound_hosts = [\"api.x\"]\n",
                "deploy/routes.toml:4:",
                "scheme://host",
            ),
            ("", "deploy/routes.toml:1:1", "no routes"),
            (
                "[[route]]\npath = \"/a\"\ncomponent = \"a.wasm\"\nwatch = [\"src/**\"]\n",
                "deploy/routes.toml:4:",
                "`watch` needs a `build` command",
            ),
            (
                "[[route]]\npath = \"/a\"\ncomponent = \"a.wasm\"\nbuild = \"make\"\nwatch = [\"src/*.rs\", \"src/[a.rs\"]\n",
                "deploy/routes.toml:5:22",
                "not a valid glob",
            ),
            (
                "[[route]]\npath = \"/a\"\ncomponent = \"a.wasm\"\nbuild = \"make\"\nwatch = [\"/src/*.rs\"]\n",
                "deploy/routes.toml:5:",
                "relative to routes.toml",
            ),
        ];
        for (text, at, message) in cases {
            let err = error(text);
            assert!(err.starts_with(at), "{text:?}: {err}");
            assert!(err.contains(message), "{text:?}: {err}");
        }
    }

    #[test]
    fn key_value_stores_are_configured_once_and_declared_per_route() {
        let cfg = parse(
            r#"
[key_value_store.sessions]
type = "redis"
url = "redis://:${API_KEY}@127.0.0.1:6379/2"
max_value = "64KiB"

[[route]]
path = "/a"
component = "a.wasm"
key_value_stores = ["default", "sessions"]

[[route]]
path = "/b"
component = "b.wasm"
"#,
        )
        .unwrap();
        assert_eq!(cfg.stores.len(), 2, "`default` exists without a table");
        assert_eq!(cfg.stores["default"], StoreConfig::implicit_default());
        let sessions = &cfg.stores["sessions"];
        assert_eq!(sessions.backend, StoreBackend::Redis { url: "redis://:s3cret@127.0.0.1:6379/2".into() });
        assert_eq!(sessions.max_value, 64 << 10);
        assert_eq!(cfg.routes[0].key_value_stores, ["default", "sessions"]);
        assert!(cfg.routes[1].key_value_stores.is_empty(), "no store unless declared");
        assert_eq!(cfg.default_data_dir(), Path::new("deploy/.wasmroutes"));
    }

    #[test]
    fn store_errors_name_file_line_and_problem() {
        let route = "[[route]]\npath = \"/a\"\ncomponent = \"a.wasm\"\n";
        let cases = [
            (
                format!("{route}key_value_stores = [\"nope\"]\n"),
                "deploy/routes.toml:4:21",
                "no store `nope` is configured",
            ),
            (format!("{route}key_value_stores = [\"a b\"]\n"), "deploy/routes.toml:4:", "not a valid store name"),
            (
                format!("{route}key_value_stores = [\"default\", \"default\"]\n"),
                "deploy/routes.toml:4:",
                "listed twice",
            ),
            (
                format!("[key_value_store.x]\ntype = \"memcached\"\n{route}"),
                "deploy/routes.toml:2:8",
                "\"embedded\" or \"redis\"",
            ),
            (format!("[key_value_store.x]\ntype = \"redis\"\n{route}"), "deploy/routes.toml:", "missing `url`"),
            (
                format!("[key_value_store.x]\ntype = \"redis\"\nurl = \"http://x\"\n{route}"),
                "deploy/routes.toml:3:",
                "redis://",
            ),
            (
                format!("[key_value_store.x]\ntype = \"redis\"\nurl = \"${{NOPE}}\"\n{route}"),
                "deploy/routes.toml:3:",
                "`NOPE` is not set",
            ),
            (
                format!("[key_value_store.x]\ntype = \"embedded\"\nurl = \"redis://x\"\n{route}"),
                "deploy/routes.toml:3:",
                "remove it",
            ),
            (format!("[key_value_store.x]\n{route}"), "deploy/routes.toml:", "missing `type`"),
            (
                format!("[key_value_store.x]\ntype = \"embedded\"\nmax_value = \"1GiB\"\n{route}"),
                "deploy/routes.toml:3:",
                "between 1B and 64MiB",
            ),
            (
                format!("[key_value_store.x]\ntype = \"embedded\"\nttl = \"1s\"\n{route}"),
                "deploy/routes.toml:3:",
                "unknown field `ttl`",
            ),
        ];
        for (text, at, message) in cases {
            let err = error(&text);
            assert!(err.starts_with(at), "{text:?}: {err}");
            assert!(err.contains(message), "{text:?}: {err}");
        }
    }

    #[test]
    fn interpolation_rules() {
        let env = |name: &str| (name == "A").then(|| "1".to_owned());
        assert_eq!(interpolate("x${A}y${A}", &env).unwrap(), "x1y1");
        assert_eq!(interpolate("$A and $", &env).unwrap(), "$A and $");
        assert!(interpolate("${A", &env).unwrap_err().contains("unclosed"));
        assert!(interpolate("${B}", &env).unwrap_err().contains("`B` is not set"));
    }
}
