//! `/api/tasks/[id]`: `GET`, `PATCH` and `DELETE` one task of the key-value
//! store `default`, as `/api/tasks` (the `tasks` crate) creates them: the
//! task with id N is the JSON `{"id":N,"title":"…","done":false}` at key
//! `task:{N:020}` (the layout and the record are in the `tasks-model`
//! crate, shared with the `tasks` crate).
//!
//! - `GET` → `200` with the task.
//! - `PATCH` with `{"done": bool}` and/or `{"title": string}` (trimmed, 1 to
//!   200 characters; other fields are ignored, but at least one of the two
//!   is required) → `200` with the updated task. The change is a
//!   compare-and-swap ([`Store::update_json`]), so concurrent `PATCH`es of
//!   different fields both land.
//! - `DELETE` → `204` with an empty body.
//!
//! A task that does not exist is `404 {"error":"Task not found"}`; an id that
//! is not a positive integer is `400`.

use serde_json::{Map, Value};
use tasks_model::{STORE, Task, done, task_key, title};
use wasmroutes_sdk::kv::Store;
use wasmroutes_sdk::{Error, Request, Response, Result, route};

/// What a `PATCH` changes.
#[derive(Debug, Default)]
struct Changes {
    title: Option<String>,
    done: Option<bool>,
}

fn not_found() -> Error {
    Error::not_found("Task not found")
}

/// The `[id]` segment: a positive decimal integer (digits only).
fn task_id(req: &Request) -> Result<u64, Error> {
    let raw = req.param("id")?;
    let invalid = || Error::bad_request("Task id must be a positive integer");
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    raw.parse::<u64>().ok().filter(|id| *id > 0).ok_or_else(invalid)
}

fn changes(req: &Request) -> Result<Changes, Error> {
    let body: Map<String, Value> = req.json()?;
    let changes =
        Changes { title: body.get("title").map(title).transpose()?, done: body.get("done").map(done).transpose()? };
    if changes.title.is_none() && changes.done.is_none() {
        return Err(Error::bad_request("Nothing to update: send `title` and/or `done`"));
    }
    Ok(changes)
}

/// The `/api/tasks/[id]` route.
pub struct TaskById;

#[route]
impl TaskById {
    /// The task.
    pub fn get(req: Request) -> Result {
        let id = task_id(&req)?;
        let task: Task = Store::open(STORE)?.get_json(&task_key(id))?.ok_or_else(not_found)?;
        Ok(Response::json(&task))
    }

    /// Changes `title` and/or `done`; `200` with the updated task.
    pub fn patch(req: Request) -> Result {
        let id = task_id(&req)?;
        let changes = changes(&req)?;
        let store = Store::open(STORE)?;
        let task = store.update_json(&task_key(id), |old: Option<Task>| {
            // A missing task stays missing: no write.
            let mut task = old?;
            if let Some(title) = &changes.title {
                task.title.clone_from(title);
            }
            if let Some(done) = changes.done {
                task.done = done;
            }
            Some(task)
        })?;
        Ok(Response::json(&task.ok_or_else(not_found)?))
    }

    /// Deletes the task: `204`, empty body.
    pub fn delete(req: Request) -> Result {
        let id = task_id(&req)?;
        let store = Store::open(STORE)?;
        let key = task_key(id);
        // Two calls: a concurrent DELETE in between makes both answer 204,
        // which is what deleting twice should look like anyway.
        if !store.exists(&key)? {
            return Err(not_found());
        }
        store.delete(&key)?;
        Ok(Response::new().status(204))
    }
}

#[cfg(test)]
mod tests {
    use wasmroutes_sdk::Method;
    use wasmroutes_sdk::kv::{KvError, testing};

    use tasks_model::MAX_TITLE_CHARS;

    use super::*;

    fn req(method: Method, id: &str, body: &str) -> Request {
        Request::builder(method, format!("/api/tasks/{id}")).param("id", id).body(body).build()
    }

    fn seed(id: u64, title: &str, done: bool) {
        let task = Task { id, title: title.into(), done };
        testing::seed(STORE, [(task_key(id), serde_json::to_vec(&task).unwrap())]);
    }

    #[test]
    fn gets_a_task() {
        seed(7, "Write docs", false);
        let resp = TaskById::get(req(Method::Get, "7", "")).unwrap();
        assert_eq!(resp.status_code(), 200);
        assert_eq!(resp.body_bytes(), br#"{"id":7,"title":"Write docs","done":false}"#);
        // Leading zeros name the same task.
        assert_eq!(TaskById::get(req(Method::Get, "007", "")).unwrap().body_bytes(), resp.body_bytes());
    }

    #[test]
    fn a_missing_task_is_a_404_for_every_method() {
        for err in [
            TaskById::get(req(Method::Get, "1", "")).unwrap_err(),
            TaskById::patch(req(Method::Patch, "1", r#"{"done":true}"#)).unwrap_err(),
            TaskById::delete(req(Method::Delete, "1", "")).unwrap_err(),
        ] {
            assert_eq!(Response::from(err).body_bytes(), br#"{"error":"Task not found"}"#);
        }
        assert_eq!(TaskById::get(req(Method::Get, "1", "")).unwrap_err().status(), 404);
        assert!(testing::dump(STORE).is_empty(), "PATCH of a missing task writes nothing");
    }

    #[test]
    fn an_id_that_is_not_a_positive_integer_is_a_400() {
        for id in ["abc", "0", "000", "-1", "+1", "1.5", " 1", "1e3", "", "99999999999999999999999"] {
            let err = TaskById::get(req(Method::Get, id, "")).unwrap_err();
            assert_eq!(err.status(), 400, "{id:?}");
            assert_eq!(TaskById::delete(req(Method::Delete, id, "")).unwrap_err().status(), 400);
            assert_eq!(TaskById::patch(req(Method::Patch, id, r#"{"done":true}"#)).unwrap_err().status(), 400);
        }
    }

    #[test]
    fn patches_done_and_title() {
        seed(3, "Draft", false);
        let resp = TaskById::patch(req(Method::Patch, "3", r#"{"done":true,"ignored":1}"#)).unwrap();
        assert_eq!(resp.status_code(), 200);
        assert_eq!(resp.body_bytes(), br#"{"id":3,"title":"Draft","done":true}"#);
        let resp = TaskById::patch(req(Method::Patch, "3", r#"{"title":"  Final  "}"#)).unwrap();
        assert_eq!(resp.body_bytes(), br#"{"id":3,"title":"Final","done":true}"#);
        let resp = TaskById::patch(req(Method::Patch, "3", r#"{"title":"Both","done":false}"#)).unwrap();
        assert_eq!(resp.body_bytes(), br#"{"id":3,"title":"Both","done":false}"#);
        assert_eq!(testing::dump(STORE)[&task_key(3)], br#"{"id":3,"title":"Both","done":false}"#);
    }

    #[test]
    fn a_bad_patch_is_a_400_and_changes_nothing() {
        seed(3, "Draft", false);
        let long = format!(r#"{{"title":"{}"}}"#, "x".repeat(MAX_TITLE_CHARS + 1));
        for body in [
            "",
            "{",
            "[]",
            "{}",
            r#"{"other":1}"#,
            r#"{"title":""}"#,
            r#"{"title":"  "}"#,
            r#"{"title":1}"#,
            r#"{"title":null}"#,
            long.as_str(),
            r#"{"done":"true"}"#,
            r#"{"done":null}"#,
            r#"{"title":"ok","done":1}"#,
        ] {
            assert_eq!(TaskById::patch(req(Method::Patch, "3", body)).unwrap_err().status(), 400, "{body}");
        }
        assert_eq!(testing::dump(STORE)[&task_key(3)], br#"{"id":3,"title":"Draft","done":false}"#);
    }

    #[test]
    fn deletes_with_204_and_an_empty_body() {
        seed(5, "Gone soon", false);
        seed(6, "Stays", false);
        let resp = TaskById::delete(req(Method::Delete, "5", "")).unwrap();
        assert_eq!(resp.status_code(), 204);
        assert!(resp.body_bytes().is_empty());
        assert_eq!(TaskById::get(req(Method::Get, "5", "")).unwrap_err().status(), 404);
        assert_eq!(TaskById::delete(req(Method::Delete, "5", "")).unwrap_err().status(), 404);
        assert_eq!(TaskById::get(req(Method::Get, "6", "")).unwrap().status_code(), 200);
    }

    #[test]
    fn a_patch_that_keeps_conflicting_is_a_409() {
        seed(3, "Draft", false);
        testing::fail(STORE, KvError::Conflict("busy".into()));
        assert_eq!(TaskById::patch(req(Method::Patch, "3", r#"{"done":true}"#)).unwrap_err().status(), 409);
    }

    #[test]
    fn a_store_the_route_may_not_open_is_a_500() {
        testing::fail(STORE, KvError::AccessDenied(STORE.into()));
        let resp = Response::from(TaskById::get(req(Method::Get, "1", "")).unwrap_err());
        assert_eq!(resp.status_code(), 500);
        assert_eq!(resp.body_bytes(), br#"{"error":"Internal server error"}"#);
    }
}
