//! What `/api/tasks` and `/api/tasks/[id]` (the `tasks` and `tasks-id`
//! routes) share: the task record, where it lives in the key-value store,
//! and how a client's fields are checked.
//!
//! Layout of the store `default`:
//!
//! - `next-task-id`: a counter (`Store::increment`); each `POST` takes the
//!   next id from it, so two concurrent `POST`s never get the same id.
//! - `task:{id:020}`, e.g. `task:00000000000000000042`: the task as JSON,
//!   `{"id":42,"title":"…","done":false}`. Ids are zero-padded so that key
//!   order is id order.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use wasmroutes_sdk::Error;

/// The store tasks live in.
pub const STORE: &str = "default";

/// The counter the ids come from.
pub const NEXT_ID_KEY: &str = "next-task-id";

/// What every task key starts with.
pub const TASK_PREFIX: &str = "task:";

/// Longest title, in characters.
pub const MAX_TITLE_CHARS: usize = 200;

/// The key of task `id`: zero-padded, so key order is id order.
pub fn task_key(id: u64) -> String {
    format!("{TASK_PREFIX}{id:020}")
}

/// A task as stored and as sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    /// Positive, from [`NEXT_ID_KEY`].
    pub id: u64,
    /// Trimmed, 1 to [`MAX_TITLE_CHARS`] characters.
    pub title: String,
    /// Whether it is done.
    pub done: bool,
}

/// A title from a JSON body: a string, trimmed, 1 to [`MAX_TITLE_CHARS`]
/// characters; anything else is a `400`.
pub fn title(value: &Value) -> Result<String, Error> {
    let Value::String(text) = value else {
        return Err(Error::bad_request("title must be a string"));
    };
    let text = text.trim();
    if text.is_empty() {
        return Err(Error::bad_request("title must not be empty"));
    }
    if text.chars().count() > MAX_TITLE_CHARS {
        return Err(Error::bad_request(format!("title must be at most {MAX_TITLE_CHARS} characters")));
    }
    Ok(text.to_owned())
}

/// `done` from a JSON body: `true` or `false`; anything else is a `400`.
pub fn done(value: &Value) -> Result<bool, Error> {
    match value {
        Value::Bool(done) => Ok(*done),
        _ => Err(Error::bad_request("done must be true or false")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn keys_sort_in_id_order() {
        assert_eq!(task_key(42), "task:00000000000000000042");
        assert!(task_key(9) < task_key(10));
    }

    #[test]
    fn titles_are_trimmed_strings_of_1_to_200_characters() {
        assert_eq!(title(&json!("  Ship  ")).unwrap(), "Ship");
        assert_eq!(title(&json!("é".repeat(200))).unwrap().chars().count(), 200, "characters, not bytes");
        for bad in [json!(""), json!("   "), json!(5), json!(null), json!("x".repeat(201))] {
            assert_eq!(title(&bad).unwrap_err().status(), 400, "{bad}");
        }
        assert!(done(&json!(true)).unwrap());
        assert_eq!(done(&json!("yes")).unwrap_err().status(), 400);
    }
}
