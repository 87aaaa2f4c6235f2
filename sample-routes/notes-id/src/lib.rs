//! `/api/notes/[id]`: `GET`, `PATCH` and `DELETE` one note of the SQL
//! database `default`, as `/api/notes` (the `notes` crate) creates them
//! (the note and its checks are in the `notes-model` crate).
//!
//! - `GET` → `200` with the note.
//! - `PATCH` with `{"title": "…"}` and/or `{"body": "…"}` (checked as for
//!   `POST /api/notes`; other fields are ignored, but one of the two is
//!   required) → `200` with the changed note, its `updatedAt` now. One
//!   `update … returning`, so the change and the answer are one statement.
//! - `DELETE` → `204` with an empty body.
//!
//! A note that does not exist is `404 {"error":"Note not found"}`; an id
//! that is not a positive integer is a `400`; a title another note has
//! (ignoring ASCII case) is a `409`.

use notes_model::{COLUMNS, DATABASE, Note, json_object, now, title, title_taken_or};
use wasmroutes_sdk::sql::{Db, Value};
use wasmroutes_sdk::{Error, Request, Response, Result, route};

fn not_found() -> Error {
    Error::not_found("Note not found")
}

/// The `[id]` segment: ASCII digits only, a positive `i64`.
fn note_id(req: &Request) -> Result<i64, Error> {
    let raw = req.param("id")?;
    let invalid = || Error::bad_request("Note id must be a positive integer");
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    raw.parse::<i64>().ok().filter(|id| *id > 0).ok_or_else(invalid)
}

/// The `update` of a `PATCH` and its parameters: the fields sent (title
/// first, then body, checked in that order), then the time, then the id.
fn update(req: &Request, id: i64) -> Result<(String, Vec<Value>), Error> {
    let fields = json_object(req)?;
    let mut sets = Vec::new();
    let mut params = Vec::new();
    if fields.contains_key("title") {
        params.push(Value::Text(title(fields.get("title"))?));
        sets.push(format!("title = ${}", params.len()));
    }
    if let Some(body) = fields.get("body") {
        params.push(Value::Text(notes_model::body(body)?));
        sets.push(format!("body = ${}", params.len()));
    }
    if params.is_empty() {
        return Err(Error::unprocessable("Nothing to update: send `title` and/or `body`"));
    }
    params.push(Value::Text(now()));
    sets.push(format!("updated_at = ${}", params.len()));
    params.push(Value::Integer(id));
    let sql = format!("update notes set {} where id = ${} returning {COLUMNS}", sets.join(", "), params.len());
    Ok((sql, params))
}

/// The `/api/notes/[id]` route.
pub struct NoteById;

#[route]
impl NoteById {
    /// The note.
    pub fn get(req: Request) -> Result {
        let id = note_id(&req)?;
        let note: Option<Note> =
            Db::open(DATABASE)?.query_opt(&format!("select {COLUMNS} from notes where id = $1"), (id,))?;
        Ok(Response::json(&note.ok_or_else(not_found)?))
    }

    /// Changes `title` and/or `body`: `200` with the changed note.
    pub fn patch(req: Request) -> Result {
        let id = note_id(&req)?;
        let (sql, params) = update(&req, id)?;
        let note: Option<Note> = Db::open(DATABASE)?.query_opt(&sql, params).map_err(title_taken_or)?;
        Ok(Response::json(&note.ok_or_else(not_found)?))
    }

    /// Deletes the note: `204`, empty body.
    pub fn delete(req: Request) -> Result {
        let id = note_id(&req)?;
        let done = Db::open(DATABASE)?.execute("delete from notes where id = $1", (id,))?;
        if done.rows_affected == 0 {
            return Err(not_found());
        }
        Ok(Response::new().status(204))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use wasmroutes_sdk::Method;
    use wasmroutes_sdk::sql::{SqlError, testing};

    use super::*;

    const MIGRATIONS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../migrations/notes");

    /// When the seeded notes were made: long before any test runs.
    const THEN: &str = "2020-01-02T03:04:05.678Z";

    /// The notes database with notes 1 (`Groceries`) and 2 (`Work`).
    fn database() {
        testing::database(DATABASE).migrations(MIGRATIONS).execute_batch(&format!(
            "insert into notes (title, body, created_at, updated_at) values \
             ('Groceries', 'milk', '{THEN}', '{THEN}'), ('Work', '', '{THEN}', '{THEN}')"
        ));
    }

    fn req(method: Method, id: &str, body: &str) -> Request {
        Request::builder(method, format!("/api/notes/{id}")).param("id", id).body(body).build()
    }

    fn patch(id: &str, body: &str) -> Result {
        NoteById::patch(req(Method::Patch, id, body))
    }

    fn error(result: Result) -> (u16, String) {
        let err = result.unwrap_err();
        (err.status(), err.message().to_owned())
    }

    fn stored(id: i64) -> Option<(String, String, String, String)> {
        Db::open(DATABASE)
            .unwrap()
            .query_opt("select title, body, created_at, updated_at from notes where id = $1", (id,))
            .unwrap()
    }

    #[test]
    fn gets_a_note() {
        database();
        let resp = NoteById::get(req(Method::Get, "1", "")).unwrap();
        assert_eq!(resp.status_code(), 200);
        let expected =
            format!(r#"{{"id":1,"title":"Groceries","body":"milk","createdAt":"{THEN}","updatedAt":"{THEN}"}}"#);
        assert_eq!(resp.body_bytes(), expected.as_bytes());
        // Leading zeros name the same note.
        assert_eq!(NoteById::get(req(Method::Get, "001", "")).unwrap().body_bytes(), expected.as_bytes());
    }

    #[test]
    fn a_missing_note_is_a_404_for_every_method() {
        database();
        for result in [
            NoteById::get(req(Method::Get, "3", "")),
            patch("3", r#"{"title":"x"}"#),
            NoteById::delete(req(Method::Delete, "3", "")),
        ] {
            assert_eq!(Response::from(result.unwrap_err()).body_bytes(), br#"{"error":"Note not found"}"#);
        }
        assert_eq!(error(NoteById::get(req(Method::Get, "9223372036854775807", ""))).0, 404);
    }

    #[test]
    fn an_id_that_is_not_a_positive_integer_is_a_400() {
        database();
        let invalid = (400, "Note id must be a positive integer".to_owned());
        for id in ["abc", "0", "000", "-1", "+1", "1.5", " 1", "1e3", "", "9223372036854775808"] {
            assert_eq!(error(NoteById::get(req(Method::Get, id, ""))), invalid, "{id:?}");
            assert_eq!(error(NoteById::delete(req(Method::Delete, id, ""))), invalid, "{id:?}");
            assert_eq!(error(patch(id, "not even JSON")), invalid, "the id is checked first: {id:?}");
        }
    }

    #[test]
    fn patches_title_body_or_both_and_the_update_time() {
        database();
        let resp = patch("1", r#"{"title":"  Shopping  ","ignored":1}"#).unwrap();
        assert_eq!(resp.status_code(), 200);
        let note = resp.json_body().unwrap();
        assert_eq!(
            (note["id"].clone(), note["title"].clone(), note["body"].clone()),
            (json!(1), json!("Shopping"), json!("milk"))
        );
        assert_eq!(note["createdAt"], THEN);
        let updated = note["updatedAt"].as_str().unwrap().to_owned();
        assert!(updated.as_str() > THEN && updated.ends_with('Z'), "{updated}");

        let note = patch("1", r#"{"body":" eggs "}"#).unwrap().json_body().unwrap();
        assert_eq!((note["title"].clone(), note["body"].clone()), (json!("Shopping"), json!(" eggs ")));
        let note = patch("1", r#"{"title":"Both","body":""}"#).unwrap().json_body().unwrap();
        assert_eq!((note["title"].clone(), note["body"].clone()), (json!("Both"), json!("")));
        let (title, body, created, updated) = stored(1).unwrap();
        assert_eq!((title.as_str(), body.as_str(), created.as_str()), ("Both", "", THEN));
        assert_eq!(note["updatedAt"], updated.as_str());
        assert_eq!(stored(2).unwrap().0, "Work", "the other note is untouched");
    }

    #[test]
    fn a_patch_to_another_notes_title_is_a_409_but_its_own_in_other_case_is_not() {
        database();
        let resp = Response::from(patch("2", r#"{"title":"groceries"}"#).unwrap_err());
        assert_eq!(
            (resp.status_code(), resp.body_bytes()),
            (409, &br#"{"error":"A note with this title already exists"}"#[..])
        );
        assert_eq!(stored(2).unwrap().0, "Work");
        let note = patch("1", r#"{"title":"GROCERIES"}"#).unwrap().json_body().unwrap();
        assert_eq!(note["title"], "GROCERIES");
    }

    #[test]
    fn a_bad_patch_is_a_400_or_422_and_changes_nothing() {
        database();
        assert_eq!(error(patch("1", "")), (400, "Request body is empty; expected JSON".into()));
        assert_eq!(error(patch("1", "{")).0, 400);
        assert_eq!(error(patch("1", "[1]")), (400, "Send a JSON object".into()));
        let long_body = json!({ "body": "b".repeat(10_001) }).to_string();
        let cases = [
            ("{}", "Nothing to update: send `title` and/or `body`"),
            (r#"{"other":1}"#, "Nothing to update: send `title` and/or `body`"),
            (r#"{"title":null}"#, "title must be a string"),
            (r#"{"title":""}"#, "title must not be empty"),
            (r#"{"title":"ok","body":false}"#, "body must be a string"),
            (long_body.as_str(), "body must be at most 10000 characters"),
            (r#"{"title":7,"body":7}"#, "title must be a string"),
        ];
        for (body, message) in cases {
            assert_eq!(error(patch("1", body)), (422, message.to_owned()), "{body}");
        }
        // Checked before the note is looked up: a bad patch of a missing
        // note is a 422 too.
        assert_eq!(error(patch("3", "{}")).0, 422);
        assert_eq!(stored(1).unwrap(), ("Groceries".into(), "milk".into(), THEN.into(), THEN.into()));
    }

    #[test]
    fn deletes_with_204_and_an_empty_body() {
        database();
        let resp = NoteById::delete(req(Method::Delete, "1", "")).unwrap();
        assert_eq!(resp.status_code(), 204);
        assert!(resp.body_bytes().is_empty());
        assert_eq!(error(NoteById::get(req(Method::Get, "1", ""))).0, 404);
        assert_eq!(error(NoteById::delete(req(Method::Delete, "1", ""))).0, 404);
        assert!(stored(2).is_some(), "only that note");
    }

    #[test]
    fn a_database_that_is_down_is_a_503_and_a_slow_one_a_504() {
        database();
        testing::fail(DATABASE, SqlError::Unavailable("busy".into()));
        let err = NoteById::get(req(Method::Get, "1", "")).unwrap_err();
        assert_eq!((err.status(), err.header_value("retry-after")), (503, Some("1")));
        testing::fail(DATABASE, SqlError::Timeout("5s".into()));
        assert_eq!(error(patch("1", r#"{"body":"x"}"#)), (504, "The database took too long to answer".into()));
    }
}
