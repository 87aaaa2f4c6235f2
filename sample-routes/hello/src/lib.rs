//! `GET /api/hello`: the smallest route.

use wasmroutes_sdk::{Response, route};

/// The `/api/hello` route.
pub struct Hello;

#[route]
impl Hello {
    /// `{"message":"Hello from API!"}`
    pub fn get() -> Response {
        Response::json(&serde_json::json!({ "message": "Hello from API!" }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn says_hello() {
        let resp = Hello::get();
        assert_eq!(resp.status_code(), 200);
        assert_eq!(resp.body_bytes(), br#"{"message":"Hello from API!"}"#);
    }
}
