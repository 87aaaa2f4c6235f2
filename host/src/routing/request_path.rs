//! Turns the raw request path into what the router matches: normalized, with
//! each segment percent-decoded exactly once.
//!
//! Rules (docs/behaviour.md, "Paths"): doubled and trailing slashes are
//! answered with a `308` to the collapsed path; `.` and `..` segments (also
//! spelled `%2e`) are resolved as RFC 3986 §5.2.4 says and never climb above
//! `/` (a final one leaves a trailing slash, so `/api/hello/..` is a `308` to
//! `/api`); a raw `\` separates segments as `/` does and is answered with a
//! `308` to the slash form (WHATWG URL parsing, which Next.js follows, reads
//! it so in http(s) paths; `%5C` stays a character of its segment); `%2F`
//! decodes to a `/` that stays inside its segment; `+` stays `+`; a malformed
//! `%` escape or a segment that does not decode to UTF-8 is a `400`.

/// What to do with a request path.
#[derive(Debug, PartialEq, Eq)]
pub enum PathOutcome {
    /// Route it.
    Route(RoutedPath),
    /// Redirect (`308`) to this normalized path (still percent-encoded).
    Redirect(String),
}

/// A normalized path, ready for the router.
#[derive(Debug, PartialEq, Eq)]
pub struct RoutedPath {
    /// The normalized path, still percent-encoded, e.g. `/api/posts/a%2Fb`.
    pub path: String,
    /// Each segment, percent-decoded once, e.g. `["api", "posts", "a/b"]`.
    pub segments: Vec<String>,
}

/// Why a path cannot be routed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    /// Not an absolute path (e.g. `OPTIONS *`).
    #[error("Request path must start with '/'")]
    NotAbsolute,
    /// `%` not followed by two hex digits.
    #[error("Malformed percent-encoding in request path")]
    MalformedPercent,
    /// A segment whose bytes are not UTF-8 once decoded.
    #[error("Request path is not valid UTF-8 once decoded")]
    InvalidUtf8,
}

/// Normalizes and decodes `raw` (the path part of the request target).
pub fn normalize(raw: &str) -> Result<PathOutcome, PathError> {
    let rest = raw.strip_prefix('/').ok_or(PathError::NotAbsolute)?;
    let mut has_empty_segment = false;
    let has_backslash = rest.contains('\\');
    // RFC 3986 §5.2.4: a final `.` or `..` leaves a trailing slash
    // (`/api/hello/..` is `/api/`), which is then redirected like any other.
    let mut ends_in_dot_segment = false;
    let mut encoded: Vec<&str> = Vec::new();
    let mut decoded: Vec<String> = Vec::new();
    if !rest.is_empty() {
        for part in rest.split(['/', '\\']) {
            if part.is_empty() {
                has_empty_segment = true;
                continue;
            }
            let text = decode_segment(part)?;
            ends_in_dot_segment = matches!(text.as_str(), "." | "..");
            match text.as_str() {
                "." => {}
                ".." => {
                    encoded.pop();
                    decoded.pop();
                }
                _ => {
                    encoded.push(part);
                    decoded.push(text);
                }
            }
        }
    }
    let path = format!("/{}", encoded.join("/"));
    if has_empty_segment || has_backslash || (ends_in_dot_segment && !encoded.is_empty()) {
        return Ok(PathOutcome::Redirect(path));
    }
    Ok(PathOutcome::Route(RoutedPath { path, segments: decoded }))
}

/// Percent-decodes one segment, strictly: every `%` starts a valid escape.
fn decode_segment(part: &str) -> Result<String, PathError> {
    let bytes = part.as_bytes();
    let mut i = 0;
    while let Some(offset) = bytes[i..].iter().position(|b| *b == b'%') {
        let at = i + offset;
        let escape = bytes.get(at + 1..at + 3).ok_or(PathError::MalformedPercent)?;
        if !escape.iter().all(u8::is_ascii_hexdigit) {
            return Err(PathError::MalformedPercent);
        }
        i = at + 3;
    }
    percent_encoding::percent_decode(bytes)
        .decode_utf8()
        .map(|cow| cow.into_owned())
        .map_err(|_| PathError::InvalidUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(raw: &str) -> (String, Vec<String>) {
        match normalize(raw) {
            Ok(PathOutcome::Route(p)) => (p.path, p.segments),
            other => panic!("{raw}: expected a route, got {other:?}"),
        }
    }

    fn redirect(raw: &str) -> String {
        match normalize(raw) {
            Ok(PathOutcome::Redirect(to)) => to,
            other => panic!("{raw}: expected a redirect, got {other:?}"),
        }
    }

    #[test]
    fn plain_paths_route_as_they_are() {
        assert_eq!(route("/"), ("/".into(), vec![]));
        assert_eq!(route("/api/hello"), ("/api/hello".into(), vec!["api".into(), "hello".into()]));
    }

    #[test]
    fn trailing_and_doubled_slashes_redirect_to_collapsed_path() {
        assert_eq!(redirect("/api/hello/"), "/api/hello");
        assert_eq!(redirect("//api/hello"), "/api/hello");
        assert_eq!(redirect("/api//hello"), "/api/hello");
        assert_eq!(redirect("/api/hello//"), "/api/hello");
        assert_eq!(redirect("//"), "/");
    }

    #[test]
    fn dot_segments_resolve_and_never_climb_above_root() {
        assert_eq!(route("/api/./hello").0, "/api/hello");
        assert_eq!(route("/api/x/../hello").0, "/api/hello");
        assert_eq!(route("/api/x/%2e%2E/hello").0, "/api/hello");
        assert_eq!(route("/api/%2e/hello").0, "/api/hello");
        assert_eq!(route("/../../api/hello").0, "/api/hello");
        assert_eq!(route("/api/..").0, "/");
        assert_eq!(route("/..").0, "/");
        assert_eq!(redirect("/api/x/../hello/"), "/api/hello");
    }

    #[test]
    fn a_final_dot_segment_leaves_a_trailing_slash_which_redirects() {
        // RFC 3986 §5.2.4: `/api/hello/..` is `/api/`, `/api/posts/.` is `/api/posts/`.
        assert_eq!(redirect("/api/hello/.."), "/api");
        assert_eq!(redirect("/api/posts/.."), "/api");
        assert_eq!(redirect("/api/posts/%2E%2e"), "/api");
        assert_eq!(redirect("/api/posts/."), "/api/posts");
        assert_eq!(redirect("/api/a/b/../.."), "/api");
    }

    #[test]
    fn backslashes_separate_segments_and_redirect_to_the_slash_form() {
        assert_eq!(redirect("/api\\hello"), "/api/hello");
        assert_eq!(redirect("/\\api\\hello"), "/api/hello");
        assert_eq!(redirect("/api\\\\hello\\"), "/api/hello");
        assert_eq!(redirect("/api\\x\\..\\hello"), "/api/hello");
        assert_eq!(route("/api/a%5Cb").1, ["api", "a\\b"], "an escaped backslash is a character");
    }

    #[test]
    fn segments_decode_once_and_keep_encoded_slash_inside() {
        let (path, segs) = route("/api/posts/a%2Fb");
        assert_eq!(path, "/api/posts/a%2Fb");
        assert_eq!(segs, ["api", "posts", "a/b"]);
        assert_eq!(route("/x/%2541").1, ["x", "%41"], "decoded exactly once");
        assert_eq!(route("/x/a+b").1, ["x", "a+b"], "plus stays plus");
        assert_eq!(route("/x/caf%C3%A9").1, ["x", "café"]);
        assert_eq!(route("/x/..%2F").1, ["x", "../"], "a decoded slash is not a dot segment");
    }

    #[test]
    fn malformed_escapes_and_bad_utf8_are_errors() {
        assert_eq!(normalize("/x/%zz"), Err(PathError::MalformedPercent));
        assert_eq!(normalize("/x/%4"), Err(PathError::MalformedPercent));
        assert_eq!(normalize("/x/%"), Err(PathError::MalformedPercent));
        assert_eq!(normalize("/x/%FF"), Err(PathError::InvalidUtf8));
        assert_eq!(normalize("/x/%C3"), Err(PathError::InvalidUtf8));
        assert_eq!(normalize("*"), Err(PathError::NotAbsolute));
    }
}
