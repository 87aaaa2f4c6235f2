//! The files of a new route crate, rendered from the templates in
//! `host/templates/route/` (real files, so they are easy to read and edit).
//! Pure text in, text out: `new.rs` decides where they go.

use wasmroutes::routing::method::{Method, MethodSet};
use wasmroutes::routing::pattern::{RoutePattern, Segment};

const CARGO_TOML: &str = include_str!("../../templates/route/Cargo.toml.tmpl");
const STANDALONE_TOML: &str = include_str!("../../templates/route/standalone.toml.tmpl");
const RUST_TOOLCHAIN: &str = include_str!("../../templates/route/rust-toolchain.toml.tmpl");
const GITIGNORE: &str = include_str!("../../templates/route/gitignore.tmpl");
/// The SDK's manifest, for the minimum Rust it declares: the one place that
/// number is written.
const SDK_CARGO_TOML: &str = include_str!("../../../guest-sdk/Cargo.toml");
const BUILD_RS: &str = include_str!("../../templates/route/build.rs");
const LIB_RS: &str = include_str!("../../templates/route/lib.rs.tmpl");
const HANDLER_JSON: &str = include_str!("../../templates/route/handler_json.rs.tmpl");
const HANDLER_HEAD: &str = include_str!("../../templates/route/handler_head.rs.tmpl");
const HANDLER_OPTIONS: &str = include_str!("../../templates/route/handler_options.rs.tmpl");
const TEST_JSON: &str = include_str!("../../templates/route/test_json.rs.tmpl");
const TEST_HEAD: &str = include_str!("../../templates/route/test_head.rs.tmpl");
const TEST_OPTIONS: &str = include_str!("../../templates/route/test_options.rs.tmpl");

/// What the crate is made from.
pub struct RouteSpec<'a> {
    /// The package name (already validated).
    pub name: &'a str,
    /// The route path.
    pub pattern: &'a RoutePattern,
    /// The handlers to write.
    pub methods: MethodSet,
}

/// The rendered crate.
pub struct RouteFiles {
    /// `Cargo.toml`.
    pub cargo_toml: String,
    /// `build.rs`.
    pub build_rs: &'static str,
    /// `src/lib.rs`.
    pub lib_rs: String,
    /// What a crate that is its own workspace needs to build anywhere
    /// (`rust-toolchain.toml`, `.gitignore`), by file name; none for a member.
    pub workspace_files: Vec<(&'static str, String)>,
}

/// How the crate finds the SDK and whether it is its own workspace.
pub enum Placement<'a> {
    /// A member of an enclosing workspace (which owns the release profile).
    Member {
        /// Path of `guest-sdk/`, relative to the crate.
        sdk: &'a str,
    },
    /// Its own workspace root, with a size-oriented release profile.
    Standalone {
        /// Path of `guest-sdk/`, absolute.
        sdk: &'a str,
    },
}

/// Renders every file of the crate.
pub fn render(spec: &RouteSpec<'_>, placement: &Placement<'_>) -> RouteFiles {
    let methods = spec.methods.iter().map(Method::as_str).collect::<Vec<_>>().join(", ");
    let (sdk, standalone, workspace_files) = match placement {
        Placement::Member { sdk } => (*sdk, "", Vec::new()),
        Placement::Standalone { sdk } => {
            let toolchain = fill(RUST_TOOLCHAIN, &[("rust_version", &sdk_rust_version())]);
            (*sdk, STANDALONE_TOML, vec![("rust-toolchain.toml", toolchain), (".gitignore", GITIGNORE.to_owned())])
        }
    };
    let description = format!("{methods} {}", spec.pattern);
    let mut cargo_toml = fill(
        CARGO_TOML,
        &[("name", spec.name), ("description", &toml_string(&description)), ("sdk", &toml_string(sdk))],
    );
    cargo_toml.push_str(standalone);

    let type_name = type_name(spec.name);
    let example = example_path(spec.pattern);
    let allow = spec.methods.allowed().allow_header();
    let common = [
        ("methods", methods.clone()),
        ("path", spec.pattern.as_str().to_owned()),
        ("path_lit", format!("{:?}", spec.pattern.as_str())),
        ("example_path_lit", format!("{example:?}")),
        ("allow_lit", format!("{allow:?}")),
        ("type_name", type_name.clone()),
    ];
    let common: Vec<(&str, &str)> = common.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let templates =
        MethodTemplates { head: [HANDLER_HEAD, TEST_HEAD], options: [HANDLER_OPTIONS, TEST_OPTIONS], separator: "\n" };
    let (handlers, tests) = templates.render(spec, &common, |method| json_handler(method, spec.pattern, &common));
    let lib_rs = fill(LIB_RS, &[common.as_slice(), &[("handlers", &handlers), ("tests", &tests)]].concat());
    RouteFiles { cargo_toml, build_rs: BUILD_RS, lib_rs, workspace_files }
}

/// The lowest Rust wasmroutes-sdk builds with: its `rust-version`, which
/// is also a channel rustup installs (`1.89` is the newest 1.89.x).
pub fn sdk_rust_version() -> String {
    let manifest: toml::Table = toml::from_str(SDK_CARGO_TOML).unwrap_or_default();
    let declared = manifest.get("package").and_then(|p| p.get("rust-version")).and_then(|v| v.as_str());
    // Compiled in, not input: the unit tests below fail if it ever is not there.
    declared.expect("guest-sdk/Cargo.toml declares its own `rust-version`").to_owned()
}

/// A language's templates for the handlers whose code does not depend on the
/// path (`HEAD`, `OPTIONS`: handler, then test), and what goes between two handlers.
pub struct MethodTemplates {
    /// `HEAD`'s handler and test.
    pub head: [&'static str; 2],
    /// `OPTIONS`'s handler and test.
    pub options: [&'static str; 2],
    /// Between two handlers.
    pub separator: &'static str,
}

impl MethodTemplates {
    /// Every handler of `spec` and every test, in method order; `json`
    /// renders the methods that answer JSON.
    pub fn render(
        &self,
        spec: &RouteSpec<'_>,
        common: &[(&str, &str)],
        json: impl Fn(Method) -> (String, String),
    ) -> (String, String) {
        let mut handlers = String::new();
        let mut tests = String::new();
        for method in spec.methods.iter() {
            let (handler, test) = match method {
                Method::Head => (fill(self.head[0], common), fill(self.head[1], common)),
                Method::Options => (fill(self.options[0], common), fill(self.options[1], common)),
                _ => json(method),
            };
            if !handlers.is_empty() {
                handlers.push_str(self.separator);
            }
            handlers.push_str(&handler);
            tests.push_str(&test);
        }
        (handlers, tests)
    }
}

/// A handler that answers JSON naming the method, the path and every param
/// (and the request body for methods that carry one), plus its unit test.
fn json_handler(method: Method, pattern: &RoutePattern, common: &[(&str, &str)]) -> (String, String) {
    let mut reads = String::new();
    let mut fields = String::new();
    let mut builder = String::new();
    let mut asserts = String::new();
    for segment in pattern.segments() {
        match segment {
            Segment::Static(_) => {}
            Segment::Param(name) => {
                let var = variable(name);
                reads.push_str(&format!("        let {var} = req.param(\"{name}\")?;\n"));
                fields.push_str(&format!("            \"{name}\": {var},\n"));
                builder.push_str(&format!("\n            .param(\"{name}\", \"{EXAMPLE_PARAM}\")"));
                asserts.push_str(&format!("        assert_eq!(body[\"{name}\"], \"{EXAMPLE_PARAM}\");\n"));
            }
            Segment::CatchAll(name) | Segment::OptionalCatchAll(name) => {
                let var = variable(name);
                let list = EXAMPLE_SEGMENTS.map(|s| format!("\"{s}\"")).join(", ");
                reads.push_str(&format!("        let {var} = req.segments(\"{name}\")?;\n"));
                fields.push_str(&format!("            \"{name}\": {var},\n"));
                builder.push_str(&format!("\n            .segments(\"{name}\", &[{list}])"));
                asserts.push_str(&format!("        assert_eq!(body[\"{name}\"], serde_json::json!([{list}]));\n"));
            }
        }
    }
    let carries_body = matches!(method, Method::Post | Method::Put | Method::Patch);
    if carries_body {
        reads.push_str("        let body: serde_json::Value = req.json()?;\n");
        fields.push_str("            \"body\": body,\n");
        builder.push_str("\n            .body(r#\"{\"hello\":\"world\"}\"#)");
        asserts.push_str("        assert_eq!(body[\"body\"][\"hello\"], \"world\");\n");
    }
    let (status, code) = if method == Method::Post { (".status(201)", "201") } else { ("", "200") };
    if !builder.is_empty() {
        builder.push_str("\n            ");
    }
    let variant = variant(method);
    let own = [
        ("METHOD", method.as_str()),
        ("method", method.interface_name()),
        ("Variant", variant),
        ("reads", &reads),
        ("fields", &fields),
        ("status", status),
        ("code", code),
        ("builder", &builder),
        ("asserts", &asserts),
    ];
    let values = [common, &own].concat();
    (fill(HANDLER_JSON, &values), fill(TEST_JSON, &values))
}

/// The value a `[name]` gets in the generated test and the suggested `curl`.
pub const EXAMPLE_PARAM: &str = "42";
/// The segments a catch-all gets in the generated test and the suggested `curl`.
pub const EXAMPLE_SEGMENTS: [&str; 2] = ["a", "b"];

/// A path the route answers, e.g. `/api/things/42` for `/api/things/[id]`.
pub fn example_path(pattern: &RoutePattern) -> String {
    let parts: Vec<String> = pattern
        .segments()
        .iter()
        .map(|s| match s {
            Segment::Static(text) => text.clone(),
            Segment::Param(_) => EXAMPLE_PARAM.to_owned(),
            Segment::CatchAll(_) | Segment::OptionalCatchAll(_) => EXAMPLE_SEGMENTS.join("/"),
        })
        .collect();
    format!("/{}", parts.join("/"))
}

/// `things-id` → `ThingsIdRoute` (the suffix keeps clear of the SDK's
/// `Request`, `Response`, `Result` and `Method`).
fn type_name(crate_name: &str) -> String {
    let mut out = String::new();
    for word in crate_name.split(['-', '_']).filter(|w| !w.is_empty()) {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            out.push_str(chars.as_str());
        }
    }
    out.push_str("Route");
    out
}

/// A local variable for a param: its name, unless that is a Rust keyword.
fn variable(param: &str) -> String {
    if param == "_" || RUST_KEYWORDS.contains(&param) { format!("{param}_") } else { param.to_owned() }
}

/// Words a param may be named but a variable may not.
const RUST_KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern", "false", "fn",
    "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return", "self",
    "static", "struct", "super", "trait", "true", "type", "unsafe", "use", "where", "while", "abstract", "become",
    "Self", "box", "do", "final", "macro", "override", "priv", "typeof", "unsized", "virtual", "yield", "try",
];

/// Whether `name` is a keyword Cargo refuses as a package name.
pub fn is_rust_keyword(name: &str) -> bool {
    RUST_KEYWORDS.contains(&name)
}

fn variant(method: Method) -> &'static str {
    match method {
        Method::Get => "Get",
        Method::Head => "Head",
        Method::Post => "Post",
        Method::Put => "Put",
        Method::Patch => "Patch",
        Method::Delete => "Delete",
        Method::Options => "Options",
    }
}

/// Replaces each `{{key}}` with its value.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = template.to_owned();
    for (key, value) in values {
        out = out.replace(&format!("{{{{{key}}}}}"), value);
    }
    out
}

/// `text` as a quoted TOML string.
pub fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec_files(path: &str, methods: &[Method], standalone: bool) -> RouteFiles {
        let pattern = RoutePattern::parse(path).expect("pattern");
        let spec = RouteSpec { name: "things-id", pattern: &pattern, methods: methods.iter().copied().collect() };
        let placement =
            if standalone { Placement::Standalone { sdk: "/sdk" } } else { Placement::Member { sdk: "../sdk" } };
        render(&spec, &placement)
    }

    #[test]
    fn every_placeholder_is_filled() {
        let files = spec_files("/api/things/[id]/[...rest]", &Method::ALL, true);
        for text in [&files.cargo_toml, &files.lib_rs] {
            assert!(!text.contains("{{"), "unfilled placeholder in:\n{text}");
        }
    }

    #[test]
    fn handlers_read_the_params_and_each_method_gets_a_test() {
        let files = spec_files("/api/things/[id]/[[...type]]", &[Method::Get, Method::Post], false);
        let lib = &files.lib_rs;
        assert!(lib.contains("pub struct ThingsIdRoute;"), "{lib}");
        assert!(lib.contains(r#"let id = req.param("id")?;"#), "{lib}");
        assert!(lib.contains(r#"let type_ = req.segments("type")?;"#), "{lib}");
        assert!(lib.contains("pub fn get(req: Request)") && lib.contains("pub fn post(req: Request)"), "{lib}");
        assert!(lib.contains("fn get_answers_with_json()") && lib.contains("fn post_answers_with_json()"), "{lib}");
        assert!(lib.contains(r#"Request::builder(Method::Get, "/api/things/42/a/b")"#), "{lib}");
        assert!(!lib.contains("pub fn delete"), "only the asked-for methods: {lib}");
    }

    #[test]
    fn only_a_standalone_crate_is_its_own_workspace_with_a_release_profile() {
        let member = spec_files("/x", &[Method::Get], false).cargo_toml;
        assert!(member.contains(r#"wasmroutes-sdk = { path = "../sdk" }"#), "{member}");
        assert!(!member.contains("[workspace]") && !member.contains("[profile"), "{member}");
        let standalone = spec_files("/x", &[Method::Get], true).cargo_toml;
        assert!(standalone.contains("\n[workspace]\n") && standalone.contains("[profile.release]"), "{standalone}");
        let parsed: toml::Table = toml::from_str(&standalone).expect("valid TOML");
        assert_eq!(parsed["package"]["description"].as_str(), Some("GET /x"));
    }

    #[test]
    fn a_standalone_crate_pins_the_sdks_minimum_rust_with_the_wasm_target() {
        let version = sdk_rust_version();
        assert!(version.starts_with("1."), "{version}");
        let files = spec_files("/x", &[Method::Get], true);
        let names: Vec<&str> = files.workspace_files.iter().map(|(name, _)| *name).collect();
        assert_eq!(names, ["rust-toolchain.toml", ".gitignore"]);
        let toolchain: toml::Table = toml::from_str(&files.workspace_files[0].1).expect("valid TOML");
        assert_eq!(toolchain["toolchain"]["channel"].as_str(), Some(version.as_str()));
        assert_eq!(toolchain["toolchain"]["targets"][0].as_str(), Some("wasm32-wasip2"));
        assert!(spec_files("/x", &[Method::Get], false).workspace_files.is_empty(), "a member uses its workspace's");
    }

    #[test]
    fn odd_characters_in_a_path_stay_inside_string_literals() {
        let lib = spec_files(r#"/a"b\c"#, &[Method::Head], false).lib_rs;
        assert!(lib.contains(r#""x-route", "/a\"b\\c""#), "{lib}");
    }
}
