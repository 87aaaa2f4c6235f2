//! One route's keys become a [`RouteConfig`]: the same function for a
//! `[[route]]` table of `routes.toml` and a `route.toml` of a route tree.

use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::Spanned;

use super::build_step::{BuildStep, is_js_source};
use super::cors::parse_cors;
use super::databases::check_database_name;
use super::env::{interpolate, is_env_name};
use super::location::{ConfigError, Location, TomlText};
use super::schema::{LimitsToml, RouteKeys};
use super::stores::check_store_name;
use super::{DatabaseConfig, Isolation, RouteConfig, StoreConfig};
use crate::limits::{Limits, parse_duration, parse_size};
use crate::outbound::{OutboundPolicy, OutboundRule};
use crate::routing::pattern::RoutePattern;

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
    // A route tree has no place to configure stores or databases: only the
    // implicit embedded `default` store and SQLite `default` database exist.
    if let Some(other) = keys.databases.iter().find(|n| n.get_ref() != DatabaseConfig::DEFAULT) {
        return Err(toml_text.invalid(
            other.span(),
            format!(
                "databases: a route tree (--dir) has only the `default` database, not `{}`; configure other \
                 databases in a routes.toml",
                other.get_ref()
            ),
        ));
    }
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
                 `max_requests_per_instance`, `key_value_stores`, `databases`, `cors` and `aot`"
            );
            ConfigError::Invalid { at, message }
        }
        other => other,
    }
}

/// Where a route's URL pattern and component come from.
pub(super) enum RouteSource<'a> {
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
pub(super) fn route_from_keys(
    keys: RouteKeys,
    source: RouteSource<'_>,
    toml_text: &TomlText<'_>,
    lookup_env: &dyn Fn(&str) -> Option<String>,
) -> Result<RouteConfig, ConfigError> {
    let invalid = |span: Range<usize>, message: String| toml_text.invalid(span, message);
    let aot = keys.aot.as_ref().is_some_and(|a| *a.get_ref());
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
            if is_js_source(written) {
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
                let (output, step, glob) = javascript_build(base_dir, written, aot);
                watch.insert(0, glob);
                (pattern, output, Some(step), watch, at)
            } else {
                if let Some(aot) = &keys.aot {
                    return Err(invalid(aot.span(), AOT_NEEDS_JAVASCRIPT.into()));
                }
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
            if is_js_source(&component) {
                let (output, step, glob) = javascript_build(base_dir, &relative, aot);
                (pattern, output, Some(step), vec![glob], at)
            } else if let Some(aot) = &keys.aot {
                return Err(invalid(aot.span(), AOT_NEEDS_JAVASCRIPT.into()));
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
    let mut databases: Vec<String> = Vec::with_capacity(keys.databases.len());
    for name in &keys.databases {
        check_database_name(name.get_ref()).map_err(|m| invalid(name.span(), format!("databases: {m}")))?;
        if databases.contains(name.get_ref()) {
            return Err(invalid(name.span(), format!("databases: `{}` is listed twice", name.get_ref())));
        }
        databases.push(name.get_ref().clone());
    }
    let cors = keys.cors.map(parse_cors).transpose().map_err(|(span, m)| invalid(span, m))?;
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
        databases,
        cors,
        at,
    })
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
    for (value, name, target) in [
        (l.stream_timeout, "stream_timeout", &mut limits.stream_timeout),
        (l.stream_idle_timeout, "stream_idle_timeout", &mut limits.stream_idle_timeout),
    ] {
        if let Some(v) = value {
            *target = parse_duration(v.get_ref()).map_err(|m| (v.span(), format!("limits.{name}: {m}")))?;
            if target.is_zero() {
                return Err((v.span(), format!("limits.{name} must be more than zero")));
            }
        }
    }
    if let Some(v) = l.max_stream_bytes {
        limits.max_stream_bytes =
            parse_size(v.get_ref()).map_err(|m| (v.span(), format!("limits.max_stream_bytes: {m}")))?;
    }
    Ok(limits)
}

/// Where wasmroutes builds a JavaScript route file, `written` relative to
/// `base_dir`: its component goes to `.wasmroutes/build/` beside the
/// manifest (inside a route tree, where the leading `.` keeps it from being
/// read as a route), named after the source so two routes never share one;
/// and the watch glob that rebuilds it when the file is saved.
fn javascript_build(base_dir: &Path, written: &Path, aot: bool) -> (PathBuf, BuildStep, String) {
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
    // Its own file, so a route built both ways never overwrites the other.
    output.as_mut_os_string().push(if aot { ".aot.wasm" } else { ".wasm" });
    let glob = if written.is_absolute() { format!("/{}", glob_parts.join("/")) } else { glob_parts.join("/") };
    (output.clone(), BuildStep::JavaScript { source: base_dir.join(written), output, aot }, glob)
}

/// Why `aot` is refused on a route whose component is not JavaScript.
const AOT_NEEDS_JAVASCRIPT: &str = "`aot` applies to a route.js or route.ts (its JavaScript is compiled ahead of time); \
     this route's component is already WebAssembly: remove `aot`";

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
