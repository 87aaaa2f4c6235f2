//! `/api/tasks`: `GET` lists the tasks, `POST` creates one. Tasks live in
//! the key-value store `default`, so they outlive the request (the route's
//! `routes.toml` entry lists the store in `key_value_stores`).
//!
//! The store's layout and the task record are in the `tasks-model` crate,
//! shared with `/api/tasks/[id]` (the `tasks-id` crate).
//!
//! `GET` answers one page of the store's keys at a time:
//! `{"tasks":[…],"next_cursor":"…"}`, the tasks of that page in id order;
//! `GET /api/tasks?cursor=<next_cursor>` continues, and `next_cursor` is
//! `null` on the last page. A page of keys may hold no task at all (other
//! keys share the store) while `next_cursor` is still set: keep following
//! it until it is `null`. A store of its own for tasks would make every key
//! a task; `default` is used here to keep `routes.toml` short.

use serde::Serialize;
use serde_json::{Map, Value};
use tasks_model::{NEXT_ID_KEY, STORE, TASK_PREFIX, Task, done, task_key, title};
use wasmroutes_sdk::kv::{self, KvError, Store};
use wasmroutes_sdk::{Error, Request, Response, Result, route};

/// One page of `GET /api/tasks`.
#[derive(Serialize)]
struct TaskPage {
    tasks: Vec<Task>,
    next_cursor: Option<String>,
}

/// The `/api/tasks` route.
pub struct Tasks;

#[route]
impl Tasks {
    /// One page of tasks: `?cursor=` continues from a previous `next_cursor`.
    pub fn get(req: Request) -> Result {
        let store = Store::open(STORE)?;
        let cursor = req.query("cursor").filter(|c| !c.is_empty());
        let page = store.list_keys_page(cursor).map_err(|e| match e {
            // The cursor came from the client: a bad one is their mistake.
            KvError::Invalid(_) => Error::bad_request("Invalid cursor"),
            e => e.into(),
        })?;
        let keys: Vec<&String> = page.keys.iter().filter(|k| k.starts_with(TASK_PREFIX)).collect();
        let mut tasks = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(kv::MAX_BATCH) {
            // A task deleted since the listing reads as None: skip it.
            tasks.extend(store.get_many_json::<Task, _>(chunk)?.into_iter().flatten());
        }
        // Embedded stores list in key order already; Redis does not.
        tasks.sort_by_key(|t| t.id);
        Ok(Response::json(&TaskPage { tasks, next_cursor: page.cursor }))
    }

    /// Creates a task from `{"title": "…", "done": false}` (`done` optional):
    /// `201` with the task and its `Location`.
    pub fn post(req: Request) -> Result {
        let body: Map<String, Value> = req.json()?;
        let title = title(body.get("title").ok_or_else(|| Error::bad_request("title is required"))?)?;
        let done = body.get("done").map(done).transpose()?.unwrap_or(false);
        let store = Store::open(STORE)?;
        let id = store.increment(NEXT_ID_KEY, 1)?;
        let id = u64::try_from(id).ok().filter(|id| *id > 0).ok_or_else(|| {
            eprintln!("tasks: `{NEXT_ID_KEY}` gave id {id}; it must count up from 0");
            Error::internal("Internal server error")
        })?;
        let task = Task { id, title, done };
        store.set_json(&task_key(id), &task)?;
        Ok(Response::json(&task).status(201).header("location", format!("/api/tasks/{id}")))
    }
}

#[cfg(test)]
mod tests {
    use wasmroutes_sdk::Method;
    use wasmroutes_sdk::kv::testing;

    use tasks_model::MAX_TITLE_CHARS;

    use super::*;

    fn post(body: &str) -> Result {
        Tasks::post(Request::builder(Method::Post, "/api/tasks").body(body).build())
    }

    fn list(cursor: Option<&str>) -> Result {
        let mut req = Request::builder(Method::Get, "/api/tasks");
        if let Some(cursor) = cursor {
            req = req.query("cursor", cursor);
        }
        Tasks::get(req.build())
    }

    #[test]
    fn creates_tasks_with_increasing_ids() {
        let resp = post(r#"{"title":"  Write docs  ","extra":1}"#).unwrap();
        assert_eq!(resp.status_code(), 201);
        assert_eq!(resp.header_value("location"), Some("/api/tasks/1"));
        assert_eq!(resp.body_bytes(), br#"{"id":1,"title":"Write docs","done":false}"#);
        let resp = post(r#"{"title":"Ship","done":true}"#).unwrap();
        assert_eq!(resp.header_value("location"), Some("/api/tasks/2"));
        assert_eq!(resp.body_bytes(), br#"{"id":2,"title":"Ship","done":true}"#);

        let stored = testing::dump(STORE);
        assert_eq!(stored[NEXT_ID_KEY], b"2");
        assert_eq!(stored["task:00000000000000000002"], br#"{"id":2,"title":"Ship","done":true}"#);
    }

    #[test]
    fn rejects_bad_bodies_with_400() {
        let long = format!(r#"{{"title":"{}"}}"#, "é".repeat(MAX_TITLE_CHARS + 1));
        for body in [
            "",
            "{",
            "[]",
            r#""title""#,
            "{}",
            r#"{"title":null}"#,
            r#"{"title":5}"#,
            r#"{"title":"   "}"#,
            long.as_str(),
            r#"{"title":"ok","done":"yes"}"#,
        ] {
            let err = post(body).unwrap_err();
            assert_eq!(err.status(), 400, "{body}");
        }
        assert!(testing::dump(STORE).is_empty(), "nothing is written for a bad request");
        let max = format!(r#"{{"title":"{}"}}"#, "é".repeat(MAX_TITLE_CHARS));
        assert_eq!(post(&max).unwrap().status_code(), 201);
    }

    #[test]
    fn lists_tasks_in_id_order() {
        let empty = list(None).unwrap();
        assert_eq!(empty.body_bytes(), br#"{"tasks":[],"next_cursor":null}"#);
        for title in ["a", "b", "c"] {
            post(&format!(r#"{{"title":"{title}"}}"#)).unwrap();
        }
        let json = list(None).unwrap().json_body().unwrap();
        let titles: Vec<&str> =
            json["tasks"].as_array().unwrap().iter().map(|t| t["title"].as_str().unwrap()).collect();
        assert_eq!(titles, ["a", "b", "c"]);
        assert_eq!(json["tasks"][2], serde_json::json!({"id":3,"title":"c","done":false}));
        assert!(json["next_cursor"].is_null());
        // An empty `?cursor=` starts from the beginning.
        assert_eq!(list(Some("")).unwrap().json_body().unwrap(), json);
    }

    #[test]
    fn pages_through_more_than_a_store_page() {
        for i in 1..=1001 {
            post(&format!(r#"{{"title":"t{i}"}}"#)).unwrap();
        }
        let mut ids = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let json = list(cursor.as_deref()).unwrap().json_body().unwrap();
            pages += 1;
            ids.extend(json["tasks"].as_array().unwrap().iter().map(|t| t["id"].as_u64().unwrap()));
            match json["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        assert_eq!(pages, 2);
        assert_eq!(ids, (1..=1001).collect::<Vec<u64>>());
    }

    #[test]
    fn a_page_may_hold_no_tasks_and_still_have_a_cursor() {
        // Keys that sort before `task:` fill the first page.
        testing::seed(STORE, (0..testing::PAGE_SIZE).map(|i| (format!("a:{i:04}"), "x")));
        post(r#"{"title":"last"}"#).unwrap();
        let first = list(None).unwrap().json_body().unwrap();
        assert_eq!(first["tasks"], serde_json::json!([]));
        let cursor = first["next_cursor"].as_str().unwrap();
        let second = list(Some(cursor)).unwrap().json_body().unwrap();
        assert_eq!(second["tasks"][0]["title"], "last");
        assert!(second["next_cursor"].is_null());
    }

    #[test]
    fn a_cursor_the_store_rejects_is_a_400() {
        testing::fail(STORE, KvError::Invalid("unknown cursor".into()));
        assert_eq!(list(Some("bogus")).unwrap_err().status(), 400);
    }

    #[test]
    fn an_unavailable_store_is_a_503_with_retry_after() {
        testing::fail(STORE, KvError::Unavailable("redis down".into()));
        for err in [list(None).unwrap_err(), post(r#"{"title":"x"}"#).unwrap_err()] {
            assert_eq!(err.status(), 503);
            assert_eq!(err.header_value("retry-after"), Some("1"));
        }
    }

    #[test]
    fn a_corrupt_task_is_a_500() {
        testing::seed(STORE, [(task_key(1), "not json")]);
        assert_eq!(list(None).unwrap_err().status(), 500);
    }
}
