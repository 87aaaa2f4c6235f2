//! `GET /api/posts`: a fixed list of posts.

use serde::Serialize;
use wasmroutes_sdk::{Response, route};

/// One post in the list.
#[derive(Serialize)]
pub struct PostSummary {
    id: u32,
    title: &'static str,
}

const POSTS: [PostSummary; 2] =
    [PostSummary { id: 1, title: "First Post" }, PostSummary { id: 2, title: "Second Post" }];

/// The `/api/posts` route.
pub struct Posts;

#[route]
impl Posts {
    /// Every post.
    pub fn get() -> Response {
        Response::json(&POSTS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_both_posts_in_order() {
        assert_eq!(Posts::get().body_bytes(), br#"[{"id":1,"title":"First Post"},{"id":2,"title":"Second Post"}]"#);
    }
}
