//! Next.js route patterns (`/api/posts/[id]`, `[...slug]`, `[[...slug]]`),
//! parsed once into segments. This is the one seam where Next.js syntax is
//! translated; the raw text is kept for messages.

use std::fmt;

/// One segment of a route pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    /// Matches exactly this (decoded) text.
    Static(String),
    /// `[name]`: any one segment.
    Param(String),
    /// `[...name]`: one or more segments; always last.
    CatchAll(String),
    /// `[[...name]]`: zero or more segments; always last.
    OptionalCatchAll(String),
}

/// A parsed route pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoutePattern {
    raw: String,
    segments: Vec<Segment>,
}

/// Why a pattern was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PatternError {
    /// The pattern does not start with `/`.
    #[error("route path `{0}` must start with `/`")]
    NoLeadingSlash(String),
    /// `//` or a trailing `/`.
    #[error("route path `{0}` has an empty segment (a doubled or trailing `/`)")]
    EmptySegment(String),
    /// A bracketed segment that is not `[name]`, `[...name]` or `[[...name]]`.
    #[error("route path `{pattern}`: segment `{segment}` is not `[name]`, `[...name]` or `[[...name]]`")]
    BadDynamicSegment {
        /// The whole pattern.
        pattern: String,
        /// The offending segment.
        segment: String,
    },
    /// A param name that is not an identifier.
    #[error("route path `{pattern}`: param name `{name}` must be letters, digits and `_`, not starting with a digit")]
    BadParamName {
        /// The whole pattern.
        pattern: String,
        /// The offending name.
        name: String,
    },
    /// The same param name twice in one pattern.
    #[error("route path `{pattern}` uses param `{name}` twice")]
    DuplicateParam {
        /// The whole pattern.
        pattern: String,
        /// The repeated name.
        name: String,
    },
    /// A catch-all that is not the last segment.
    #[error("route path `{pattern}`: catch-all `{segment}` must be the last segment")]
    CatchAllNotLast {
        /// The whole pattern.
        pattern: String,
        /// The catch-all segment.
        segment: String,
    },
    /// A static segment with characters that can never match a request.
    #[error(
        "route path `{pattern}`: segment `{segment}` may not contain `[`, `]`, `%`, `?`, `#`, whitespace, or be `.` or `..`"
    )]
    BadStaticSegment {
        /// The whole pattern.
        pattern: String,
        /// The offending segment.
        segment: String,
    },
}

impl RoutePattern {
    /// Parses a Next.js-style route path.
    pub fn parse(raw: &str) -> Result<RoutePattern, PatternError> {
        let rest = raw.strip_prefix('/').ok_or_else(|| PatternError::NoLeadingSlash(raw.to_owned()))?;
        let mut segments = Vec::new();
        if !rest.is_empty() {
            let parts: Vec<&str> = rest.split('/').collect();
            for (i, part) in parts.iter().enumerate() {
                let segment = parse_segment(raw, part)?;
                let is_catch_all = matches!(segment, Segment::CatchAll(_) | Segment::OptionalCatchAll(_));
                if is_catch_all && i + 1 != parts.len() {
                    return Err(PatternError::CatchAllNotLast { pattern: raw.to_owned(), segment: (*part).to_owned() });
                }
                if let Some(name) = param_name(&segment)
                    && segments.iter().filter_map(param_name).any(|n| n == name)
                {
                    return Err(PatternError::DuplicateParam { pattern: raw.to_owned(), name: name.to_owned() });
                }
                segments.push(segment);
            }
        }
        Ok(RoutePattern { raw: raw.to_owned(), segments })
    }

    /// The pattern as written in `routes.toml`.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The parsed segments.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Whether a path of decoded `segments` goes on below this pattern
    /// (`/api/posts/1/comments` below `/api/posts/[id]`), and if so how many
    /// segments the pattern covers. A pattern ending in a catch-all has
    /// nothing below it: it would have matched the path itself.
    pub fn covers_start_of(&self, segments: &[&str]) -> Option<usize> {
        if segments.len() <= self.segments.len() {
            return None;
        }
        let covered = self.segments.iter().zip(segments).all(|(pattern, segment)| match pattern {
            Segment::Static(text) => text == segment,
            Segment::Param(_) => !segment.is_empty(),
            Segment::CatchAll(_) | Segment::OptionalCatchAll(_) => false,
        });
        covered.then_some(self.segments.len())
    }
}

impl fmt::Display for RoutePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

fn param_name(segment: &Segment) -> Option<&str> {
    match segment {
        Segment::Static(_) => None,
        Segment::Param(n) | Segment::CatchAll(n) | Segment::OptionalCatchAll(n) => Some(n),
    }
}

fn parse_segment(pattern: &str, part: &str) -> Result<Segment, PatternError> {
    if part.is_empty() {
        return Err(PatternError::EmptySegment(pattern.to_owned()));
    }
    if !part.starts_with('[') {
        let bad = part == "." || part == ".." || part.chars().any(|c| "[]%?#".contains(c) || c.is_whitespace());
        if bad {
            return Err(PatternError::BadStaticSegment { pattern: pattern.to_owned(), segment: part.to_owned() });
        }
        return Ok(Segment::Static(part.to_owned()));
    }
    let bad_segment = || PatternError::BadDynamicSegment { pattern: pattern.to_owned(), segment: part.to_owned() };
    let (segment, name) = if let Some(inner) = part.strip_prefix("[[...").and_then(|p| p.strip_suffix("]]")) {
        (Segment::OptionalCatchAll(inner.to_owned()), inner)
    } else if let Some(inner) = part.strip_prefix("[...").and_then(|p| p.strip_suffix(']')) {
        (Segment::CatchAll(inner.to_owned()), inner)
    } else if let Some(inner) = part.strip_prefix('[').and_then(|p| p.strip_suffix(']')) {
        (Segment::Param(inner.to_owned()), inner)
    } else {
        return Err(bad_segment());
    };
    if name.contains(['[', ']']) || name.starts_with('.') {
        return Err(bad_segment());
    }
    let valid_name = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid_name {
        return Err(PatternError::BadParamName { pattern: pattern.to_owned(), name: name.to_owned() });
    }
    Ok(segment)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Segment::*;

    fn segs(raw: &str) -> Vec<Segment> {
        RoutePattern::parse(raw).unwrap().segments().to_vec()
    }

    #[test]
    fn parses_every_segment_kind() {
        assert_eq!(segs("/"), vec![]);
        assert_eq!(segs("/api/hello"), vec![Static("api".into()), Static("hello".into())]);
        assert_eq!(segs("/api/posts/[id]"), vec![Static("api".into()), Static("posts".into()), Param("id".into())]);
        assert_eq!(segs("/docs/[...slug]"), vec![Static("docs".into()), CatchAll("slug".into())]);
        assert_eq!(segs("/shop/[[...slug]]"), vec![Static("shop".into()), OptionalCatchAll("slug".into())]);
    }

    #[test]
    fn paths_below_a_pattern() {
        let covers = |raw: &str, path: &[&str]| RoutePattern::parse(raw).unwrap().covers_start_of(path);
        assert_eq!(covers("/api/posts/[id]", &["api", "posts", "1", "comments"]), Some(3));
        assert_eq!(covers("/api/posts/[id]", &["api", "posts", "1"]), None, "the route itself");
        assert_eq!(covers("/api/posts/[id]", &["api", "users", "1", "x"]), None);
        assert_eq!(covers("/", &["anything"]), Some(0));
        assert_eq!(covers("/docs/[...slug]", &["docs", "a", "b"]), None);
    }

    #[test]
    fn rejects_bad_patterns_with_a_reason() {
        let cases = [
            ("api/hello", "must start with `/`"),
            ("/api//hello", "empty segment"),
            ("/api/hello/", "empty segment"),
            ("/api/[id", "is not `[name]`"),
            ("/api/[...]", "param name"),
            ("/api/[1d]", "param name"),
            ("/api/[a-b]", "param name"),
            ("/api/[[id]]", "is not `[name]`"),
            ("/api/[...slug]/edit", "must be the last segment"),
            ("/api/[[...slug]]/x", "must be the last segment"),
            ("/api/[id]/[id]", "twice"),
            ("/api/a%2Fb", "may not contain"),
            ("/api/..", "may not contain"),
        ];
        for (raw, reason) in cases {
            let err = RoutePattern::parse(raw).unwrap_err().to_string();
            assert!(err.contains(reason), "{raw}: {err}");
            assert!(err.contains(raw), "error names the pattern: {err}");
        }
    }
}
