//! `GET /api/shop/[[...slug]]`: an optional catch-all of zero or more segments.

use wasmroutes_sdk::{Request, Response, Result, route};

/// The `/api/shop/[[...slug]]` route.
pub struct Shop;

#[route]
impl Shop {
    /// Echoes the decoded segments; `/api/shop` gives `{"slug":[]}`.
    pub fn get(req: Request) -> Result {
        Ok(Response::json(&serde_json::json!({ "slug": req.segments("slug")? })))
    }
}

#[cfg(test)]
mod tests {
    use wasmroutes_sdk::Method;

    use super::*;

    #[test]
    fn echoes_zero_or_more_segments() {
        let none = Request::builder(Method::Get, "/api/shop").segments("slug", &[]).build();
        assert_eq!(Shop::get(none).unwrap().body_bytes(), br#"{"slug":[]}"#);
        let two = Request::builder(Method::Get, "/api/shop/a/b").segments("slug", &["a", "b"]).build();
        assert_eq!(Shop::get(two).unwrap().body_bytes(), br#"{"slug":["a","b"]}"#);
    }
}
