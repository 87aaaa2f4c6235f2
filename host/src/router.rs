//! The route table as a pure data structure: a trie over path segments.
//!
//! Precedence is Next.js's, decided segment by segment from the left: a static
//! segment beats `[name]`, which beats `[...name]`, which beats
//! `[[...name]]`. When a more specific branch dead-ends deeper down, lookup
//! backtracks and tries the next kind, so `/a/[x]/c` still answers `/a/b/c`
//! beside `/a/b/d`. Lookup walks only the trie nodes the path reaches; it never
//! scans the list of routes.
//!
//! We use our own trie rather than `matchit` because the matching unit here is
//! a *decoded* segment (so `%2F` can never split a param), optional catch-alls
//! are first-class, and conflicts follow Next.js's rules rather than matchit's.
//! Nothing here knows about tokio, hyper or wasmtime.

use std::collections::HashMap;

use crate::pattern::{RoutePattern, Segment};

/// Two patterns that cannot live in one table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("route `{route}` conflicts with route `{with}`: {reason}")]
pub struct RouteConflict {
    /// The pattern being inserted.
    pub route: String,
    /// The pattern already in the table.
    pub with: String,
    /// Why they clash.
    pub reason: &'static str,
}

/// A dynamic value captured by a match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParamValue {
    /// From `[name]`.
    Single(String),
    /// From `[...name]` or `[[...name]]`.
    Segments(Vec<String>),
}

/// A successful lookup.
#[derive(Debug)]
pub struct Match<'r, T> {
    /// The value stored for the route.
    pub value: &'r T,
    /// The route's pattern.
    pub pattern: &'r RoutePattern,
    /// Captured params, in pattern order.
    pub params: Vec<(String, ParamValue)>,
}

/// Maps decoded path segments to values.
#[derive(Debug)]
pub struct Router<T> {
    root: Node,
    routes: Vec<(RoutePattern, T)>,
}

type RouteId = usize;

#[derive(Debug, Default)]
struct Node {
    statics: HashMap<String, Node>,
    param: Option<ParamChild>,
    catch_all: Option<Terminal>,
    optional_catch_all: Option<Terminal>,
    route: Option<RouteId>,
}

#[derive(Debug)]
struct ParamChild {
    name: String,
    /// The first route that introduced this param, for conflict messages.
    introduced_by: RouteId,
    node: Box<Node>,
}

#[derive(Debug, Clone)]
struct Terminal {
    name: String,
    route: RouteId,
}

impl<T> Default for Router<T> {
    fn default() -> Self {
        Router { root: Node::default(), routes: Vec::new() }
    }
}

impl<T> Router<T> {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of routes.
    pub fn len(&self) -> usize {
        self.routes.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// Routes in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&RoutePattern, &T)> {
        self.routes.iter().map(|(p, v)| (p, v))
    }

    /// Adds a route. Rejects, naming the other route: the same path twice,
    /// two param names at one position, a catch-all beside an optional
    /// catch-all, and an optional catch-all beside the bare path it also
    /// matches (`/shop` with `/shop/[[...slug]]`).
    pub fn insert(&mut self, pattern: RoutePattern, value: T) -> Result<(), RouteConflict> {
        let id = self.routes.len();
        let names: Vec<&str> = self.routes.iter().map(|(p, _)| p.as_str()).collect();
        let conflict = |with: RouteId, reason| RouteConflict {
            route: pattern.as_str().to_owned(),
            with: names[with].to_owned(),
            reason,
        };
        let mut node = &mut self.root;
        let last = pattern.segments().len();
        for (i, segment) in pattern.segments().iter().enumerate() {
            match segment {
                Segment::Static(s) => node = node.statics.entry(s.clone()).or_default(),
                Segment::Param(name) => {
                    let child = node.param.get_or_insert_with(|| ParamChild {
                        name: name.clone(),
                        introduced_by: id,
                        node: Box::default(),
                    });
                    if child.name != *name {
                        return Err(conflict(child.introduced_by, "two different param names at the same position"));
                    }
                    node = &mut child.node;
                }
                Segment::CatchAll(name) | Segment::OptionalCatchAll(name) => {
                    debug_assert_eq!(i + 1, last, "the pattern parser keeps catch-alls last");
                    let optional = matches!(segment, Segment::OptionalCatchAll(_));
                    if let Some(t) = &node.catch_all {
                        let reason = if optional {
                            "a catch-all and an optional catch-all at the same place"
                        } else {
                            "the same path twice"
                        };
                        return Err(conflict(t.route, reason));
                    }
                    if let Some(t) = &node.optional_catch_all {
                        let reason = if optional {
                            "the same path twice"
                        } else {
                            "a catch-all and an optional catch-all at the same place"
                        };
                        return Err(conflict(t.route, reason));
                    }
                    if optional && let Some(route) = node.route {
                        return Err(conflict(route, "an optional catch-all also matches the path without it"));
                    }
                    let terminal = Some(Terminal { name: name.clone(), route: id });
                    if optional {
                        node.optional_catch_all = terminal;
                    } else {
                        node.catch_all = terminal;
                    }
                    self.routes.push((pattern, value));
                    return Ok(());
                }
            }
        }
        if let Some(route) = node.route {
            return Err(conflict(route, "the same path twice"));
        }
        if let Some(t) = &node.optional_catch_all {
            return Err(conflict(t.route, "an optional catch-all also matches the path without it"));
        }
        node.route = Some(id);
        self.routes.push((pattern, value));
        Ok(())
    }

    /// Finds the route for already-normalized, percent-decoded segments.
    pub fn lookup<'r>(&'r self, segments: &[&str]) -> Option<Match<'r, T>> {
        let mut params = Vec::new();
        let id = find(&self.root, segments, &mut params)?;
        let (pattern, value) = &self.routes[id];
        Some(Match { value, pattern, params })
    }
}

fn find(node: &Node, segments: &[&str], params: &mut Vec<(String, ParamValue)>) -> Option<RouteId> {
    let Some((first, rest)) = segments.split_first() else {
        if let Some(route) = node.route {
            return Some(route);
        }
        let t = node.optional_catch_all.as_ref()?;
        params.push((t.name.clone(), ParamValue::Segments(Vec::new())));
        return Some(t.route);
    };
    if let Some(child) = node.statics.get(*first)
        && let Some(id) = find(child, rest, params)
    {
        return Some(id);
    }
    if let Some(child) = &node.param {
        params.push((child.name.clone(), ParamValue::Single((*first).to_owned())));
        if let Some(id) = find(&child.node, rest, params) {
            return Some(id);
        }
        params.pop();
    }
    let t = node.catch_all.as_ref().or(node.optional_catch_all.as_ref())?;
    params.push((t.name.clone(), ParamValue::Segments(segments.iter().map(|s| (*s).to_owned()).collect())));
    Some(t.route)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router(patterns: &[&str]) -> Router<usize> {
        let mut r = Router::new();
        for (i, p) in patterns.iter().enumerate() {
            r.insert(RoutePattern::parse(p).unwrap(), i).unwrap();
        }
        r
    }

    fn single(name: &str, v: &str) -> (String, ParamValue) {
        (name.into(), ParamValue::Single(v.into()))
    }

    fn segs(name: &str, v: &[&str]) -> (String, ParamValue) {
        (name.into(), ParamValue::Segments(v.iter().map(|s| s.to_string()).collect()))
    }

    type Params = Vec<(String, ParamValue)>;
    type Found = Option<(String, Params)>;

    fn lookup(r: &Router<usize>, path: &str) -> Found {
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        r.lookup(&segments).map(|m| (m.pattern.as_str().to_owned(), m.params))
    }

    #[test]
    fn precedence_static_then_param_then_catch_all_then_optional() {
        let r = router(&["/p/[[...rest]]", "/p/[id]", "/p/new", "/q/[...all]", "/q/[id]"]);
        assert_eq!(lookup(&r, "/p/new"), Some(("/p/new".into(), vec![])));
        assert_eq!(lookup(&r, "/p/9"), Some(("/p/[id]".into(), vec![single("id", "9")])));
        assert_eq!(lookup(&r, "/p/a/b"), Some(("/p/[[...rest]]".into(), vec![segs("rest", &["a", "b"])])));
        assert_eq!(lookup(&r, "/p"), Some(("/p/[[...rest]]".into(), vec![segs("rest", &[])])));
        assert_eq!(lookup(&r, "/q/9"), Some(("/q/[id]".into(), vec![single("id", "9")])));
        assert_eq!(lookup(&r, "/q/9/x"), Some(("/q/[...all]".into(), vec![segs("all", &["9", "x"])])));
        assert_eq!(lookup(&r, "/q"), None);
    }

    #[test]
    fn matches_table() {
        let r =
            router(&["/api/hello", "/api/posts/[id]", "/api/posts/[id]/comments/[cid]", "/api/docs/[...slug]", "/"]);
        let cases: Vec<(&str, Option<(&str, Params)>)> = vec![
            ("/", Some(("/", vec![]))),
            ("/api/hello", Some(("/api/hello", vec![]))),
            ("/api/hello/x", None),
            ("/api/Hello", None),
            ("/api/posts/42", Some(("/api/posts/[id]", vec![single("id", "42")]))),
            ("/api/posts", None),
            (
                "/api/posts/1/comments/2",
                Some(("/api/posts/[id]/comments/[cid]", vec![single("id", "1"), single("cid", "2")])),
            ),
            ("/api/docs", None),
            ("/api/docs/a", Some(("/api/docs/[...slug]", vec![segs("slug", &["a"])]))),
            ("/api/docs/a/b/c", Some(("/api/docs/[...slug]", vec![segs("slug", &["a", "b", "c"])]))),
        ];
        for (path, expected) in cases {
            let expected = expected.map(|(p, params)| (p.to_owned(), params));
            assert_eq!(lookup(&r, path), expected, "{path}");
        }
    }

    #[test]
    fn backtracks_when_static_branch_dead_ends() {
        let r = router(&["/a/b/d", "/a/[x]/c", "/a/[...rest]"]);
        assert_eq!(lookup(&r, "/a/b/d").unwrap().0, "/a/b/d");
        assert_eq!(lookup(&r, "/a/b/c"), Some(("/a/[x]/c".into(), vec![single("x", "b")])));
        assert_eq!(lookup(&r, "/a/b/e"), Some(("/a/[...rest]".into(), vec![segs("rest", &["b", "e"])])));
    }

    #[test]
    fn params_are_matched_per_decoded_segment() {
        let r = router(&["/api/posts/[id]", "/api/a/b"]);
        // A decoded `/` inside one segment stays inside the param.
        assert_eq!(r.lookup(&["api", "posts", "a/b"]).unwrap().params, vec![single("id", "a/b")]);
        assert!(r.lookup(&["api", "a/b"]).is_none());
    }

    #[test]
    fn insert_conflicts_name_the_other_route() {
        let cases: [(&[&str], &str, &str, &str); 6] = [
            (&["/api/hello"], "/api/hello", "/api/hello", "same path"),
            (&["/api/posts/[id]"], "/api/posts/[slug]/edit", "/api/posts/[id]", "two different param names"),
            (&["/api/docs/[...slug]"], "/api/docs/[[...slug]]", "/api/docs/[...slug]", "catch-all and an optional"),
            (&["/api/docs/[[...slug]]"], "/api/docs/[...rest]", "/api/docs/[[...slug]]", "catch-all and an optional"),
            (&["/api/shop"], "/api/shop/[[...slug]]", "/api/shop", "also matches the path"),
            (&["/api/shop/[[...slug]]"], "/api/shop", "/api/shop/[[...slug]]", "also matches the path"),
        ];
        for (existing, new, with, reason) in cases {
            let mut r = router(existing);
            let err = r.insert(RoutePattern::parse(new).unwrap(), 99).unwrap_err();
            assert_eq!((err.route.as_str(), err.with.as_str()), (new, with));
            assert!(err.to_string().contains(reason), "{err}");
        }
    }

    #[test]
    fn compatible_routes_insert() {
        router(&["/a/[id]", "/a/[id]/b", "/a/[...rest]", "/a/x", "/b/[[...all]]", "/b/x/[y]"]);
    }
}
