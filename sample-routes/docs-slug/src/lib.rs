//! `GET /api/docs/[...slug]`: a catch-all of one or more segments.

use wasmroutes_sdk::{Request, Response, Result, route};

/// The `/api/docs/[...slug]` route.
pub struct Docs;

#[route]
impl Docs {
    /// Echoes the decoded segments: `/api/docs/a/b%2Fc` → `{"slug":["a","b/c"]}`.
    pub fn get(req: Request) -> Result {
        Ok(Response::json(&serde_json::json!({ "slug": req.segments("slug")? })))
    }
}

#[cfg(test)]
mod tests {
    use wasmroutes_sdk::Method;

    use super::*;

    #[test]
    fn echoes_segments() {
        let req = Request::builder(Method::Get, "/api/docs/a/b").segments("slug", &["a", "b"]).build();
        assert_eq!(Docs::get(req).unwrap().body_bytes(), br#"{"slug":["a","b"]}"#);
    }
}
