//! What `/api/notes` and `/api/notes/[id]` (the `notes` and `notes-id`
//! routes) share: the note, how it is read from the database, and how a
//! client's fields are checked.
//!
//! Notes live in the SQL database `default`, in the table that
//! `sample-routes/migrations/notes/0001_create_notes.sql` creates: an id the
//! database assigns, a title unique regardless of ASCII case (a unique index
//! on `lower(title)`), a body, and the times of creation and last change as
//! RFC 3339 text. The statements are portable SQL (`$1` parameters,
//! `returning`), so the same routes can run on PostgreSQL.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use wasmroutes_sdk::sql::SqlError;
use wasmroutes_sdk::{Error, Request};

/// The database notes live in.
pub const DATABASE: &str = "default";

/// Longest title, in characters (Unicode scalar values), after trimming.
pub const MAX_TITLE_CHARS: usize = 200;

/// Longest body, in characters (Unicode scalar values).
pub const MAX_BODY_CHARS: usize = 10_000;

/// The columns of a note, in the order of its JSON: `select {COLUMNS} from notes`.
pub const COLUMNS: &str = "id, title, body, created_at, updated_at";

/// A note, as stored and as sent:
/// `{"id":1,"title":"…","body":"…","createdAt":"…","updatedAt":"…"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    /// Positive, assigned by the database.
    pub id: i64,
    /// Trimmed, 1 to [`MAX_TITLE_CHARS`] characters, unique ignoring ASCII case.
    pub title: String,
    /// Up to [`MAX_BODY_CHARS`] characters, possibly empty.
    pub body: String,
    /// When it was created ([`now`]'s format).
    #[serde(rename(serialize = "createdAt"))]
    pub created_at: String,
    /// When it last changed.
    #[serde(rename(serialize = "updatedAt"))]
    pub updated_at: String,
}

/// The current time as the notes store it: UTC, RFC 3339 with milliseconds,
/// the shape of JavaScript's `new Date().toISOString()`
/// (`2026-12-07T03:04:05.678Z`).
pub fn now() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

/// The request body as a JSON object: the SDK's own `400` for a body that
/// is not JSON, and `400 Send a JSON object` for JSON that is not an object.
pub fn json_object(req: &Request) -> Result<Map<String, Value>, Error> {
    match req.json::<Value>()? {
        Value::Object(fields) => Ok(fields),
        _ => Err(Error::bad_request("Send a JSON object")),
    }
}

/// A title from a JSON body: a string, trimmed, 1 to [`MAX_TITLE_CHARS`]
/// characters; anything else is a `422`. A missing title (`None`) is not a
/// string either.
pub fn title(value: Option<&Value>) -> Result<String, Error> {
    let Some(Value::String(text)) = value else {
        return Err(Error::unprocessable("title must be a string"));
    };
    let text = text.trim();
    if text.is_empty() {
        return Err(Error::unprocessable("title must not be empty"));
    }
    if text.chars().count() > MAX_TITLE_CHARS {
        return Err(Error::unprocessable(format!("title must be at most {MAX_TITLE_CHARS} characters")));
    }
    Ok(text.to_owned())
}

/// A body from a JSON body: a string of up to [`MAX_BODY_CHARS`]
/// characters, kept as sent (not trimmed); anything else is a `422`.
pub fn body(value: &Value) -> Result<String, Error> {
    let Value::String(text) = value else {
        return Err(Error::unprocessable("body must be a string"));
    };
    if text.chars().count() > MAX_BODY_CHARS {
        return Err(Error::unprocessable(format!("body must be at most {MAX_BODY_CHARS} characters")));
    }
    Ok(text.clone())
}

/// A database error of a write that sets a title: a unique violation is
/// the client's `409` (another note has the title); the rest as the SDK
/// maps them.
pub fn title_taken_or(err: SqlError) -> Error {
    if err.is_unique_violation() { Error::conflict("A note with this title already exists") } else { err.into() }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_note_is_sent_with_camel_case_times_in_column_order() {
        let note = Note {
            id: 1,
            title: "Groceries".into(),
            body: "milk".into(),
            created_at: "2026-12-07T03:04:05.678Z".into(),
            updated_at: "2026-12-07T03:04:05.678Z".into(),
        };
        assert_eq!(
            serde_json::to_string(&note).unwrap(),
            r#"{"id":1,"title":"Groceries","body":"milk","createdAt":"2026-12-07T03:04:05.678Z","updatedAt":"2026-12-07T03:04:05.678Z"}"#
        );
    }

    #[test]
    fn now_has_the_shape_of_to_iso_string() {
        let now = now();
        let shape: String = now.chars().map(|c| if c.is_ascii_digit() { 'd' } else { c }).collect();
        assert_eq!(shape, "dddd-dd-ddTdd:dd:dd.dddZ", "{now}");
    }

    #[test]
    fn titles_are_trimmed_strings_of_1_to_200_characters() {
        assert_eq!(title(Some(&json!("  Ship  "))).unwrap(), "Ship");
        assert_eq!(title(Some(&json!("é".repeat(200)))).unwrap().chars().count(), 200, "characters, not bytes");
        let cases = [
            (None, "title must be a string"),
            (Some(json!(5)), "title must be a string"),
            (Some(json!(null)), "title must be a string"),
            (Some(json!("   ")), "title must not be empty"),
            (Some(json!("x".repeat(201))), "title must be at most 200 characters"),
        ];
        for (value, message) in cases {
            let err = title(value.as_ref()).unwrap_err();
            assert_eq!((err.status(), err.message()), (422, message), "{value:?}");
        }
    }

    #[test]
    fn bodies_are_strings_of_up_to_10000_characters_kept_as_sent() {
        assert_eq!(body(&json!("  two spaces  ")).unwrap(), "  two spaces  ");
        assert_eq!(body(&json!("")).unwrap(), "");
        assert_eq!(body(&json!("ü".repeat(10_000))).unwrap().chars().count(), 10_000);
        let err = body(&json!("x".repeat(10_001))).unwrap_err();
        assert_eq!((err.status(), err.message()), (422, "body must be at most 10000 characters"));
        let err = body(&json!(["no"])).unwrap_err();
        assert_eq!((err.status(), err.message()), (422, "body must be a string"));
    }

    #[test]
    fn only_a_unique_violation_is_a_taken_title() {
        use wasmroutes_sdk::sql::ConstraintKind;
        let unique = SqlError::Constraint { kind: ConstraintKind::Unique, message: "notes.title".into() };
        assert_eq!(title_taken_or(unique).message(), "A note with this title already exists");
        let check = SqlError::Constraint { kind: ConstraintKind::Check, message: "x".into() };
        assert_eq!(title_taken_or(check).message(), "Conflict: a check constraint refused the change");
        assert_eq!(title_taken_or(SqlError::Unavailable("busy".into())).status(), 503);
    }
}
