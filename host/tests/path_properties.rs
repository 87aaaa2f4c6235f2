//! Property tests of path normalization, decoding and routing: never panics,
//! normalization is idempotent, and a decoded param never escapes its segment.

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use proptest::prelude::*;
use wasmroutes::routing::pattern::RoutePattern;
use wasmroutes::routing::request_path::{PathOutcome, normalize};
use wasmroutes::routing::router::{ParamValue, Router};

fn router() -> Router<&'static str> {
    let mut r = Router::new();
    for p in ["/api/posts/[id]", "/api/posts/[id]/edit", "/api/docs/[...slug]", "/api/shop/[[...rest]]", "/api/hello"] {
        r.insert(RoutePattern::parse(p).expect("pattern"), p).expect("insert");
    }
    r
}

/// Raw request paths built from the characters that matter to normalization.
fn raw_path() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("/".to_owned()),
        Just(".".to_owned()),
        Just("..".to_owned()),
        Just("%2e".to_owned()),
        Just("%2F".to_owned()),
        Just("%".to_owned()),
        Just("%zz".to_owned()),
        Just("%C3%A9".to_owned()),
        Just("%FF".to_owned()),
        Just("+".to_owned()),
        "[a-zA-Z0-9_~-]{1,4}",
    ];
    prop::collection::vec(piece, 0..12).prop_map(|pieces| format!("/{}", pieces.concat()))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn normalize_never_panics_on_any_string(raw in "\\PC*") {
        let _ = normalize(&raw);
    }

    #[test]
    fn routed_paths_are_normal_and_stable(raw in raw_path()) {
        let Ok(outcome) = normalize(&raw) else { return Ok(()) };
        let path = match outcome {
            PathOutcome::Route(routed) => {
                prop_assert!(routed.segments.iter().all(|s| !s.is_empty() && s != "." && s != ".."));
                let parts = if routed.path == "/" { 0 } else { routed.path.split('/').count() - 1 };
                prop_assert_eq!(parts, routed.segments.len());
                routed.path
            }
            PathOutcome::Redirect(to) => to,
        };
        prop_assert!(!path.contains("//"));
        prop_assert!(path == "/" || !path.ends_with('/'));
        // Normalizing the result again routes it as it is: no redirect loop.
        match normalize(&path) {
            Ok(PathOutcome::Route(again)) => prop_assert_eq!(again.path, path),
            other => prop_assert!(false, "{path} normalized to {other:?}"),
        }
    }

    #[test]
    fn an_encoded_param_comes_back_whole(value in "\\PC{1,24}") {
        prop_assume!(value != "." && value != "..");
        let raw = format!("/api/posts/{}", utf8_percent_encode(&value, NON_ALPHANUMERIC));
        let Ok(PathOutcome::Route(routed)) = normalize(&raw) else {
            return Err(TestCaseError::fail(format!("{raw} did not route")));
        };
        let segments: Vec<&str> = routed.segments.iter().map(String::as_str).collect();
        let r = router();
        let found = r.lookup(&segments).expect("matches /api/posts/[id]");
        prop_assert_eq!(*found.value, "/api/posts/[id]");
        prop_assert_eq!(&found.params, &vec![("id".to_owned(), ParamValue::Single(value))]);
    }

    #[test]
    fn catch_all_segments_are_each_decoded_once(values in prop::collection::vec("\\PC{1,8}", 1..5)) {
        prop_assume!(values.iter().all(|v| v != "." && v != ".."));
        let encoded: Vec<String> = values.iter().map(|v| utf8_percent_encode(v, NON_ALPHANUMERIC).to_string()).collect();
        let raw = format!("/api/docs/{}", encoded.join("/"));
        let Ok(PathOutcome::Route(routed)) = normalize(&raw) else {
            return Err(TestCaseError::fail(format!("{raw} did not route")));
        };
        let segments: Vec<&str> = routed.segments.iter().map(String::as_str).collect();
        let r = router();
        let found = r.lookup(&segments).expect("matches the catch-all");
        prop_assert_eq!(&found.params, &vec![("slug".to_owned(), ParamValue::Segments(values))]);
    }
}
