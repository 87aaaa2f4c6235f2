//! The files of a new JavaScript route (`wasmroutes new --js`), rendered
//! from the templates in `host/templates/route-js/`: a Next.js App Router
//! `route.js` with a handler per method, its `node:test` tests, and the
//! `package.json` that makes both ES modules. Pure text in, text out.

use wasmroutes::routing::method::Method;
use wasmroutes::routing::pattern::Segment;

use super::route_template::{EXAMPLE_PARAM, EXAMPLE_SEGMENTS, MethodTemplates, RouteSpec, example_path, fill};

const ROUTE_JS: &str = include_str!("../../templates/route-js/route.js.tmpl");
const HANDLER_JSON: &str = include_str!("../../templates/route-js/handler_json.js.tmpl");
const HANDLER_HEAD: &str = include_str!("../../templates/route-js/handler_head.js.tmpl");
const HANDLER_OPTIONS: &str = include_str!("../../templates/route-js/handler_options.js.tmpl");
const ROUTE_TEST: &str = include_str!("../../templates/route-js/route.test.mjs.tmpl");
const TEST_JSON: &str = include_str!("../../templates/route-js/test_json.mjs.tmpl");
const TEST_HEAD: &str = include_str!("../../templates/route-js/test_head.mjs.tmpl");
const TEST_OPTIONS: &str = include_str!("../../templates/route-js/test_options.mjs.tmpl");
const PACKAGE_JSON: &str = include_str!("../../templates/route-js/package.json.tmpl");

/// The rendered route folder.
pub struct JsRouteFiles {
    /// `route.js`.
    pub route_js: String,
    /// `route.test.mjs`.
    pub route_test: String,
    /// `package.json`.
    pub package_json: String,
}

/// Renders every file of the route folder.
pub fn render(spec: &RouteSpec<'_>) -> JsRouteFiles {
    let methods = spec.methods.iter().map(Method::as_str).collect::<Vec<_>>().join(", ");
    let example = example_path(spec.pattern);
    let common = [
        ("methods", methods.clone()),
        ("path", spec.pattern.as_str().to_owned()),
        ("path_lit", js_string(spec.pattern.as_str())),
        ("example_url_lit", js_string(&format!("http://localhost{example}"))),
        ("example_params", example_params(spec)),
        ("allow_lit", js_string(&spec.methods.allowed().allow_header())),
    ];
    let common: Vec<(&str, &str)> = common.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let templates = MethodTemplates {
        head: [HANDLER_HEAD, TEST_HEAD],
        options: [HANDLER_OPTIONS, TEST_OPTIONS],
        separator: "", // each handler template starts with its blank line
    };
    let (handlers, tests) = templates.render(spec, &common, |method| json_handler(method, spec, &common));
    let exports = spec.methods.iter().map(Method::as_str).collect::<Vec<_>>().join(", ");
    let description = serde_json::Value::String(format!("{methods} {}", spec.pattern)).to_string();
    JsRouteFiles {
        route_js: fill(ROUTE_JS, &[common.as_slice(), &[("handlers", &handlers)]].concat()),
        route_test: fill(ROUTE_TEST, &[("exports", exports.as_str()), ("tests", &tests)]),
        package_json: fill(PACKAGE_JSON, &[("name", spec.name), ("description", &description)]),
    }
}

/// A handler that answers JSON naming the method, the path and every param
/// (and the request body for methods that carry one), plus its test.
fn json_handler(method: Method, spec: &RouteSpec<'_>, common: &[(&str, &str)]) -> (String, String) {
    let mut bindings = Vec::new();
    let mut fields = String::new();
    let mut asserts = String::new();
    for segment in spec.pattern.segments() {
        let (name, default, expected) = match segment {
            Segment::Static(_) => continue,
            Segment::Param(name) => (name, "", js_string(EXAMPLE_PARAM)),
            // Next.js leaves an optional catch-all that matched nothing out of `params`.
            Segment::OptionalCatchAll(name) => (name, " = []", example_list()),
            Segment::CatchAll(name) => (name, "", example_list()),
        };
        let var = variable(name);
        bindings.push(if &var == name { format!("{name}{default}") } else { format!("{name}: {var}{default}") });
        fields.push_str(&if &var == name { format!(", {name}") } else { format!(", {name}: {var}") });
        asserts.push_str(&format!("  assert.deepEqual(body.{name}, {expected});\n"));
    }
    let mut reads = String::new();
    if !bindings.is_empty() {
        reads.push_str(&format!("  const {{ {} }} = await params;\n", bindings.join(", ")));
    }
    let mut init = String::new();
    if matches!(method, Method::Post | Method::Put | Method::Patch) {
        // A body that is not JSON makes `request.json()` throw: a 500, as in Next.js.
        reads.push_str("  const body = await request.json();\n");
        fields.push_str(", body");
        init.push_str(", body: JSON.stringify({ hello: 'world' })");
        asserts.push_str("  assert.deepEqual(body.body, { hello: 'world' });\n");
    }
    let (status, code) = if method == Method::Post { (", { status: 201 }", "201") } else { ("", "200") };
    let own = [
        ("METHOD", method.as_str()),
        ("reads", &reads),
        ("fields", &fields),
        ("status", status),
        ("code", code),
        ("init", &init),
        ("asserts", &asserts),
    ];
    let values = [common, &own].concat();
    (fill(HANDLER_JSON, &values), fill(TEST_JSON, &values))
}

/// The `params` object the tests pass: every param with its example value.
fn example_params(spec: &RouteSpec<'_>) -> String {
    let entries: Vec<String> = spec
        .pattern
        .segments()
        .iter()
        .filter_map(|segment| match segment {
            Segment::Static(_) => None,
            Segment::Param(name) => Some(format!("{name}: {}", js_string(EXAMPLE_PARAM))),
            Segment::CatchAll(name) | Segment::OptionalCatchAll(name) => Some(format!("{name}: {}", example_list())),
        })
        .collect();
    if entries.is_empty() { "{}".to_owned() } else { format!("{{ {} }}", entries.join(", ")) }
}

fn example_list() -> String {
    format!("[{}]", EXAMPLE_SEGMENTS.map(js_string).join(", "))
}

/// A local variable for a param: its name, unless JavaScript reserves it
/// (a param may be called `delete`; a variable may not).
fn variable(param: &str) -> String {
    if JS_RESERVED.contains(&param) { format!("{param}_") } else { param.to_owned() }
}

/// Words an identifier may not be in a module (strict mode).
const JS_RESERVED: &[&str] = &[
    "await",
    "break",
    "case",
    "catch",
    "class",
    "const",
    "continue",
    "debugger",
    "default",
    "delete",
    "do",
    "else",
    "enum",
    "export",
    "extends",
    "false",
    "finally",
    "for",
    "function",
    "if",
    "implements",
    "import",
    "in",
    "instanceof",
    "interface",
    "let",
    "new",
    "null",
    "package",
    "private",
    "protected",
    "public",
    "return",
    "static",
    "super",
    "switch",
    "this",
    "throw",
    "true",
    "try",
    "typeof",
    "var",
    "void",
    "while",
    "with",
    "yield",
    "arguments",
    "eval",
    "request",
    "params",
    "body",
];

/// `text` as a JavaScript string literal (JSON's quoting is valid JavaScript).
fn js_string(text: &str) -> String {
    serde_json::Value::String(text.to_owned()).to_string()
}

#[cfg(test)]
mod tests {
    use wasmroutes::routing::pattern::RoutePattern;

    use super::*;

    fn files(path: &str, methods: &[Method]) -> JsRouteFiles {
        let pattern = RoutePattern::parse(path).expect("pattern");
        render(&RouteSpec { name: "things-id", pattern: &pattern, methods: methods.iter().copied().collect() })
    }

    #[test]
    fn every_placeholder_is_filled() {
        let files = files("/api/things/[id]/[...rest]", &Method::ALL);
        for text in [&files.route_js, &files.route_test, &files.package_json] {
            assert!(!text.contains("{{"), "unfilled placeholder in:\n{text}");
        }
        let package: serde_json::Value = serde_json::from_str(&files.package_json).expect("valid JSON");
        assert_eq!(package["type"], "module");
    }

    #[test]
    fn handlers_read_the_params_and_each_method_gets_a_test() {
        let files = files("/api/things/[id]/[[...delete]]", &[Method::Get, Method::Post]);
        let js = &files.route_js;
        assert!(js.contains("export async function GET(request, { params })"), "{js}");
        assert!(js.contains("const { id, delete: delete_ = [] } = await params;"), "{js}");
        assert!(js.contains("pathname, id, delete: delete_ }"), "{js}");
        assert!(js.contains("const body = await request.json();") && js.contains("{ status: 201 }"), "{js}");
        assert!(!js.contains("function PUT"), "only the asked-for methods: {js}");
        let test = &files.route_test;
        assert!(test.contains("import { GET, POST } from './route.js';"), "{test}");
        assert!(test.contains(r#"params({ id: "42", delete: ["a", "b"] })"#), "{test}");
        assert!(test.contains(r#"new Request("http://localhost/api/things/42/a/b""#), "{test}");
    }

    #[test]
    fn odd_characters_in_a_path_stay_inside_string_literals() {
        let js = files(r#"/a"b\c"#, &[Method::Head]).route_js;
        assert!(js.contains(r#"'x-route': "/a\"b\\c""#), "{js}");
    }
}
