//! `GET /api/posts/[id]`: one post, by the `id` path segment.

use schemars::JsonSchema;
use serde::Serialize;
use wasmroutes_sdk::{Request, Response, Result, route};

/// A post as the tutorial returns it; `id` stays the string from the path.
#[derive(Serialize, JsonSchema)]
pub struct Post {
    id: String,
    title: String,
    content: &'static str,
}

/// The `/api/posts/[id]` route.
pub struct PostById;

#[route]
impl PostById {
    /// The post named by `[id]`.
    #[schema(response = Post)]
    pub fn get(req: Request) -> Result {
        let id = req.param("id")?;
        let post = Post { id: id.to_owned(), title: format!("Post {id}"), content: "Post content here..." };
        Ok(Response::json(&post))
    }
}

#[cfg(test)]
mod tests {
    use wasmroutes_sdk::Method;

    use super::*;

    #[test]
    fn echoes_the_id_as_a_string() {
        let req = Request::builder(Method::Get, "/api/posts/42").param("id", "42").build();
        let resp = PostById::get(req).unwrap();
        assert_eq!(resp.body_bytes(), br#"{"id":"42","title":"Post 42","content":"Post content here..."}"#);
    }
}
