//! `wasmroutes routes --match`: how one request would be routed and
//! answered, told step by step with the server's own pieces —
//! `request_path::normalize`, the router's explain walk, and
//! `MethodSet::answer` — so the explanation cannot drift from what `serve` does.

use std::fmt::Write as _;

use wasmroutes::route_table::{Route, RouteTable};
use wasmroutes::routing::method::{Method, MethodAnswer};
use wasmroutes::routing::pattern::{RoutePattern, Segment};
use wasmroutes::routing::request_path::{self, PathOutcome};
use wasmroutes::routing::router::{Candidate, Match, ParamValue};

/// The explanation for `method target`, as text.
pub fn explain(table: &RouteTable, method: &http::Method, target: &str) -> String {
    let mut out = String::new();
    explain_into(&mut out, table, method, target, true);
    out
}

fn explain_into(out: &mut String, table: &RouteTable, method: &http::Method, target: &str, follow_redirect: bool) {
    let target = strip_origin(target);
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (target, None),
    };
    let _ = writeln!(out, "{method} {target}");
    let routed = match request_path::normalize(path) {
        Err(e) => {
            line(out, "answer", &format!("400 Bad Request: {e}"));
            return;
        }
        Ok(PathOutcome::Redirect(to)) => {
            let location = query.map_or_else(|| to.clone(), |q| format!("{to}?{q}"));
            line(out, "answer", &format!("308 Permanent Redirect to {location} (doubled or trailing `/` collapsed)"));
            if follow_redirect {
                out.push('\n');
                explain_into(out, table, method, &location, false);
            }
            return;
        }
        Ok(PathOutcome::Route(routed)) => routed,
    };
    if routed.path != path {
        line(out, "resolved", &format!("{} (`.` and `..` segments)", routed.path));
    }
    let segments: Vec<&str> = routed.segments.iter().map(String::as_str).collect();
    let shown: Vec<String> = segments.iter().map(|s| format!("{s:?}")).collect();
    line(out, "segments", &if shown.is_empty() { "none (the root path)".to_owned() } else { shown.join(" / ") });

    let candidates = table.explain(&segments);
    let winner = candidates.iter().find_map(|c| match c {
        Candidate::Matches(m) => Some(m),
        Candidate::PathContinues { .. } => None,
    });
    if candidates.is_empty() {
        line(out, "considered", "none: no route's static segments lead to this path");
    } else {
        line(out, "considered", "in the order the router tries them:");
        let width = candidates.iter().map(|c| candidate_pattern(c).as_str().chars().count()).max().unwrap_or(0);
        for candidate in &candidates {
            let pattern = candidate_pattern(candidate).as_str();
            let _ = writeln!(out, "    {pattern:width$}  {}", describe_candidate(candidate, winner));
        }
    }
    let reached: std::collections::HashSet<&str> = candidates.iter().map(|c| candidate_pattern(c).as_str()).collect();
    let unreached = table.len() - reached.len();
    if unreached > 0 {
        let other = if reached.is_empty() { "" } else { " other" };
        let why = "a static segment differs, or the path is too short";
        line(out, "not reached", &format!("{unreached}{other} route(s): {why}"));
    }
    let Some(found) = winner else {
        line(out, "answer", r#"404 Not Found {"error":"Not found"}"#);
        return;
    };
    line(out, "route", &format!("{} → {}", found.pattern, found.value.component.path().display()));
    line(out, "params", &params_text(&found.params));
    line(out, "answer", &answer_text(found.value, method));
}

/// `http://host:port/p?q` → `/p?q`, so a copied URL works too.
fn strip_origin(target: &str) -> &str {
    for scheme in ["http://", "https://"] {
        if let Some(rest) = target.strip_prefix(scheme) {
            return rest.find('/').map_or("/", |i| &rest[i..]);
        }
    }
    target
}

fn line(out: &mut String, label: &str, text: &str) {
    let _ = writeln!(out, "  {label:<12}{text}");
}

fn candidate_pattern<'r>(candidate: &Candidate<'r, Route>) -> &'r RoutePattern {
    match candidate {
        Candidate::Matches(m) => m.pattern,
        Candidate::PathContinues { pattern, .. } => pattern,
    }
}

/// Why a reached route won or lost.
fn describe_candidate(candidate: &Candidate<'_, Route>, winner: Option<&Match<'_, Route>>) -> String {
    match candidate {
        Candidate::PathContinues { consumed, .. } => format!("no: it ends after segment {consumed}, the path goes on"),
        Candidate::Matches(m) => match winner {
            Some(w) if std::ptr::eq(w.pattern, m.pattern) => "WINS".to_owned(),
            Some(w) => format!("also matches, but {}", why_it_loses(w.pattern, m.pattern)),
            None => "matches".to_owned(),
        },
    }
}

/// Where the winner's pattern first beats the loser's: the router decides
/// at the first segment where they differ, static > `[name]` > `[...name]` >
/// `[[...name]]`.
fn why_it_loses(winner: &RoutePattern, loser: &RoutePattern) -> String {
    let pairs = winner.segments().iter().zip(loser.segments()).enumerate();
    for (i, (w, l)) in pairs {
        if w != l {
            return format!("loses at segment {}: {} beats {}", i + 1, segment_text(w), segment_text(l));
        }
    }
    format!("`{winner}` is tried first")
}

fn segment_text(segment: &Segment) -> String {
    match segment {
        Segment::Static(s) => format!("static `{s}`"),
        Segment::Param(n) => format!("`[{n}]`"),
        Segment::CatchAll(n) => format!("`[...{n}]`"),
        Segment::OptionalCatchAll(n) => format!("`[[...{n}]]`"),
    }
}

fn params_text(params: &[(String, ParamValue)]) -> String {
    if params.is_empty() {
        return "none".to_owned();
    }
    let shown: Vec<String> = params
        .iter()
        .map(|(name, value)| match value {
            ParamValue::Single(v) => format!("{name} = {v:?}"),
            ParamValue::Segments(v) => format!("{name} = {v:?}"),
        })
        .collect();
    shown.join(", ")
}

/// What the method gets, by the same rule the server applies.
fn answer_text(route: &Route, method: &http::Method) -> String {
    if route.component.is_wasi_http() {
        return format!("the wasi:http component's incoming-handler answers {method} (it gets every method)");
    }
    let exported = route.component.methods();
    let exports = exported.iter().map(Method::as_str).collect::<Vec<_>>().join(", ");
    match exported.answer(Method::from_http(method)) {
        MethodAnswer::Call { export, strip_body: false } => {
            format!("the component's `{}` handler is called; its response is sent", export.interface_name())
        }
        MethodAnswer::Call { export, strip_body: true } => format!(
            "automatic HEAD: the component's `{}` handler is called; its status and headers are sent, not its body",
            export.interface_name()
        ),
        MethodAnswer::Options(allowed) => format!(
            "204 No Content, Allow: {} (automatic OPTIONS: the component exports no `options` handler)",
            allowed.allow_header()
        ),
        MethodAnswer::NotAllowed(allowed) => {
            format!("405 Method Not Allowed, Allow: {} (the component exports {exports})", allowed.allow_header())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copied_url_is_reduced_to_its_path_and_query() {
        assert_eq!(strip_origin("http://localhost:3000/api/x?q=1"), "/api/x?q=1");
        assert_eq!(strip_origin("https://example.com"), "/");
        assert_eq!(strip_origin("/api/x"), "/api/x");
    }

    #[test]
    fn the_loser_is_told_where_it_lost() {
        let w = RoutePattern::parse("/p/new").expect("pattern");
        let l = RoutePattern::parse("/p/[id]").expect("pattern");
        assert_eq!(why_it_loses(&w, &l), "loses at segment 2: static `new` beats `[id]`");
    }
}
