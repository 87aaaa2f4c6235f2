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
use std::ops::ControlFlow;

use crate::routing::pattern::{RoutePattern, Segment};

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
                    let (same, other) = if optional {
                        (&node.optional_catch_all, &node.catch_all)
                    } else {
                        (&node.catch_all, &node.optional_catch_all)
                    };
                    if let Some(t) = same {
                        return Err(conflict(t.route, "the same path twice"));
                    }
                    if let Some(t) = other {
                        return Err(conflict(t.route, "a catch-all and an optional catch-all at the same place"));
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
        let mut found = None;
        let _ = walk(&self.root, segments, 0, &mut params, &mut |step, _| match step {
            Step::Matched(id) => {
                found = Some(id);
                ControlFlow::Break(())
            }
            Step::PathContinues { .. } => ControlFlow::Continue(()),
        });
        let id = found?;
        let (pattern, value) = &self.routes[id];
        Some(Match { value, pattern, params })
    }

    /// Like [`Router::lookup`], but keeps walking after the winner and
    /// records every route the trie reaches, in the order it tries them:
    /// the first [`Candidate::Matches`] is what `lookup` returns.
    pub fn explain<'r>(&'r self, segments: &[&str]) -> Vec<Candidate<'r, T>> {
        let mut candidates = Vec::new();
        let mut params = Vec::new();
        let _ = walk(&self.root, segments, 0, &mut params, &mut |step, params| {
            let candidate = match step {
                Step::Matched(id) => {
                    let (pattern, value) = &self.routes[id];
                    Candidate::Matches(Match { value, pattern, params: params.to_vec() })
                }
                Step::PathContinues { route, consumed } => {
                    let (pattern, value) = &self.routes[route];
                    Candidate::PathContinues { pattern, value, consumed }
                }
            };
            candidates.push(candidate);
            ControlFlow::Continue(())
        });
        candidates
    }

    /// Routes in precedence order: the order a depth-first walk of the trie
    /// meets them, so of two routes that match one path the earlier wins.
    /// At each position: a route ending there, then static segments (sorted),
    /// then `[name]`, `[...name]`, `[[...name]]`.
    pub fn in_precedence_order(&self) -> Vec<(&RoutePattern, &T)> {
        let mut ids = Vec::with_capacity(self.routes.len());
        collect_in_order(&self.root, &mut ids);
        ids.into_iter().map(|id| (&self.routes[id].0, &self.routes[id].1)).collect()
    }
}

/// A route the trie reached while explaining a lookup.
#[derive(Debug)]
pub enum Candidate<'r, T> {
    /// The route matches the whole path (the first one wins).
    Matches(Match<'r, T>),
    /// The route's pattern ends after `consumed` segments, but the path goes on.
    PathContinues {
        /// The route's pattern.
        pattern: &'r RoutePattern,
        /// The value stored for the route.
        value: &'r T,
        /// How many path segments the pattern accounted for.
        consumed: usize,
    },
}

/// What the walk reports to its visitor.
enum Step {
    /// This route matches; the params so far are its params.
    Matched(RouteId),
    /// This route ends here, after `consumed` segments, but the path goes on.
    PathContinues { route: RouteId, consumed: usize },
}

/// The one matching algorithm: depth-first in precedence order (static,
/// `[name]`, `[...name]`, `[[...name]]` at each position), reporting each
/// reached route to `visit`, which decides whether to keep going: `lookup`
/// stops at the first match, `explain` walks on to show the rest. On a
/// break, `params` is left holding the params of the route that broke it.
fn walk<F>(
    node: &Node,
    segments: &[&str],
    depth: usize,
    params: &mut Vec<(String, ParamValue)>,
    visit: &mut F,
) -> ControlFlow<()>
where
    F: FnMut(Step, &[(String, ParamValue)]) -> ControlFlow<()>,
{
    let Some((first, rest)) = segments.split_first() else {
        if let Some(route) = node.route {
            visit(Step::Matched(route), params)?;
        }
        if let Some(t) = &node.optional_catch_all {
            params.push((t.name.clone(), ParamValue::Segments(Vec::new())));
            visit(Step::Matched(t.route), params)?;
            params.pop();
        }
        return ControlFlow::Continue(());
    };
    if let Some(route) = node.route {
        visit(Step::PathContinues { route, consumed: depth }, params)?;
    }
    if let Some(child) = node.statics.get(*first) {
        walk(child, rest, depth + 1, params, visit)?;
    }
    if let Some(child) = &node.param {
        params.push((child.name.clone(), ParamValue::Single((*first).to_owned())));
        walk(&child.node, rest, depth + 1, params, visit)?;
        params.pop();
    }
    for t in [&node.catch_all, &node.optional_catch_all].into_iter().flatten() {
        params.push((t.name.clone(), ParamValue::Segments(segments.iter().map(|s| (*s).to_owned()).collect())));
        visit(Step::Matched(t.route), params)?;
        params.pop();
    }
    ControlFlow::Continue(())
}

fn collect_in_order(node: &Node, ids: &mut Vec<RouteId>) {
    ids.extend(node.route);
    let mut statics: Vec<(&String, &Node)> = node.statics.iter().collect();
    statics.sort_by_key(|(text, _)| *text);
    for (_, child) in statics {
        collect_in_order(child, ids);
    }
    if let Some(child) = &node.param {
        collect_in_order(&child.node, ids);
    }
    ids.extend(node.catch_all.as_ref().map(|t| t.route));
    ids.extend(node.optional_catch_all.as_ref().map(|t| t.route));
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

    fn explained(r: &Router<usize>, path: &str) -> Vec<String> {
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        r.explain(&segments)
            .into_iter()
            .map(|c| match c {
                Candidate::Matches(m) => format!("match {} {:?}", m.pattern, m.params),
                Candidate::PathContinues { pattern, consumed, .. } => format!("ends {pattern} after {consumed}"),
            })
            .collect()
    }

    #[test]
    fn explain_lists_every_reached_route_in_the_order_lookup_tries_them() {
        let r = router(&["/p/[[...rest]]", "/p/[id]", "/p/new", "/q", "/q/[...all]"]);
        assert_eq!(
            explained(&r, "/p/new"),
            [
                "match /p/new []",
                r#"match /p/[id] [("id", Single("new"))]"#,
                r#"match /p/[[...rest]] [("rest", Segments(["new"]))]"#,
            ]
        );
        assert_eq!(explained(&r, "/q"), ["match /q []"]);
        assert_eq!(explained(&r, "/r"), Vec::<String>::new());
        assert_eq!(
            explained(&r, "/q/a/b"),
            ["ends /q after 1", r#"match /q/[...all] [("all", Segments(["a", "b"]))]"#]
        );
    }

    #[test]
    fn explain_agrees_with_lookup_on_the_winner() {
        let r = router(&["/a/b/d", "/a/[x]/c", "/a/[...rest]", "/a/[x]", "/"]);
        for path in ["/a/b/d", "/a/b/c", "/a/b/e", "/a/b", "/a", "/", "/z"] {
            let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
            let first_match = r.explain(&segments).into_iter().find_map(|c| match c {
                Candidate::Matches(m) => Some((m.pattern.as_str().to_owned(), m.params)),
                Candidate::PathContinues { .. } => None,
            });
            assert_eq!(first_match, lookup(&r, path), "{path}");
        }
    }

    #[test]
    fn lookup_leaves_no_params_of_a_dead_end_behind() {
        let r = router(&["/a/[x]/c", "/a/[...rest]"]);
        assert_eq!(lookup(&r, "/a/b/e"), Some(("/a/[...rest]".into(), vec![segs("rest", &["b", "e"])])));
    }

    #[test]
    fn precedence_order_is_static_then_param_then_catch_all_then_optional() {
        let r = router(&["/b/[[...all]]", "/a/[...rest]", "/a/[id]/x", "/a/[id]", "/a/new", "/a", "/"]);
        let order: Vec<&str> = r.in_precedence_order().into_iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(order, ["/", "/a", "/a/new", "/a/[id]", "/a/[id]/x", "/a/[...rest]", "/b/[[...all]]"]);
    }
}
