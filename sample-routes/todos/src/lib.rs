//! `/api/todos`: `GET` lists, `POST` creates, `DELETE` clears.
//!
//! Each request runs in a fresh instance, so there is no list to keep between
//! requests: like the tutorial, the answers are made up on the spot.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use wasmroutes_sdk::{Request, Response, Result, route};

/// A todo item.
#[derive(Serialize)]
pub struct Todo {
    id: u128,
    #[serde(skip_serializing_if = "Option::is_none")]
    task: Option<Value>,
    done: bool,
}

/// The body of a `POST`.
#[derive(Deserialize)]
pub struct NewTodo {
    task: Option<Value>,
}

fn now_millis() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or_default()
}

/// The `/api/todos` route.
pub struct Todos;

#[route]
impl Todos {
    /// The list of todos.
    pub fn get() -> Response {
        Response::json(&[Todo { id: 1, task: Some("Learn Next.js".into()), done: false }])
    }

    /// Creates a todo: `201` with the new item.
    pub fn post(req: Request) -> Result {
        let body: NewTodo = req.json()?;
        Ok(Response::json(&Todo { id: now_millis(), task: body.task, done: false }).status(201))
    }

    /// Deletes every todo.
    pub fn delete() -> Response {
        Response::json(&serde_json::json!({ "message": "All todos deleted" }))
    }
}

#[cfg(test)]
mod tests {
    use wasmroutes_sdk::Method;

    use super::*;

    #[test]
    fn lists_one_todo() {
        assert_eq!(Todos::get().body_bytes(), br#"[{"id":1,"task":"Learn Next.js","done":false}]"#);
    }

    #[test]
    fn creates_a_todo() {
        let req = Request::builder(Method::Post, "/api/todos").body(r#"{"task":"Ship it"}"#).build();
        let resp = Todos::post(req).unwrap();
        assert_eq!(resp.status_code(), 201);
        let json = resp.json_body().unwrap();
        assert_eq!((json["task"].as_str(), json["done"].as_bool()), (Some("Ship it"), Some(false)));
    }

    #[test]
    fn deletes_all() {
        assert_eq!(Todos::delete().body_bytes(), br#"{"message":"All todos deleted"}"#);
    }
}
