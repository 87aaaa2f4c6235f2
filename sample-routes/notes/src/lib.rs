//! `/api/notes`: `GET` lists notes, `POST` creates one. Notes live in the
//! SQL database `default` (the route's `routes.toml` entry lists it in
//! `databases`; the note and its checks are in the `notes-model` crate,
//! shared with `/api/notes/[id]`).
//!
//! `GET /api/notes?q=&sort=&cursor=&limit=` answers one page,
//! `{"notes":[…],"nextCursor":"…"}`, `nextCursor` `null` on the last page:
//!
//! - `q` keeps the notes whose title or body contains it, ignoring ASCII
//!   case (`%`, `_` and `\` in it match themselves);
//! - `sort` is `newest` (the default: id descending), `oldest` (id
//!   ascending) or `title` (lowercased title ascending);
//! - `limit` is 1 to 100 notes a page (default 20);
//! - `cursor` is a previous page's `nextCursor` (the last note's id, or for
//!   `title` the lowercase hex of the UTF-8 of its lowercased title):
//!   keyset pagination, so a page never skips or repeats notes when others
//!   are added meanwhile.
//!
//! An empty `q`, `sort`, `cursor` or `limit` counts as absent. Anything else
//! that is wrong is a `400`.
//!
//! `POST` with `{"title": "…", "body": "…"}` (`body` optional) answers `201`
//! with the note and its `Location`; a title another note has (ignoring
//! ASCII case) is a `409`.

use notes_model::{COLUMNS, DATABASE, Note, json_object, now, title, title_taken_or};
use serde::{Deserialize, Serialize};
use wasmroutes_sdk::sql::{Db, Value};
use wasmroutes_sdk::{Error, Request, Response, Result, route};

/// Notes a page holds unless `limit` says otherwise.
const DEFAULT_LIMIT: i64 = 20;

/// The most notes a page may hold.
const MAX_LIMIT: i64 = 100;

/// The order of a listing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sort {
    Newest,
    Oldest,
    Title,
}

/// Where a page starts: after the note the previous page ended with, in
/// the listing's order.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Cursor {
    /// Ids below this one (`newest`).
    IdBelow(i64),
    /// Ids above this one (`oldest`).
    IdAbove(i64),
    /// Lowercased titles after this one (`title`).
    TitleAfter(String),
}

/// What `GET` was asked for.
#[derive(Debug, PartialEq, Eq)]
struct Listing {
    q: Option<String>,
    sort: Sort,
    limit: i64,
    cursor: Option<Cursor>,
}

/// A query value, or `None` when absent or empty.
fn given<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.query(name).filter(|v| !v.is_empty())
}

/// Reads the query string, checking `sort`, then `limit`, then `cursor`.
fn listing(req: &Request) -> Result<Listing, Error> {
    let sort = match given(req, "sort") {
        None | Some("newest") => Sort::Newest,
        Some("oldest") => Sort::Oldest,
        Some("title") => Sort::Title,
        Some(_) => return Err(Error::bad_request("sort must be one of newest, oldest, title")),
    };
    let limit = match given(req, "limit") {
        None => DEFAULT_LIMIT,
        Some(text) => digits(text)
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| Error::bad_request(format!("limit must be an integer from 1 to {MAX_LIMIT}")))?,
    };
    let cursor = match given(req, "cursor") {
        None => None,
        Some(text) => {
            // An id cursor is a note's id: positive.
            let id = || digits(text).filter(|id| *id > 0);
            let cursor = match sort {
                Sort::Newest => id().map(Cursor::IdBelow),
                Sort::Oldest => id().map(Cursor::IdAbove),
                Sort::Title => from_hex(text).map(Cursor::TitleAfter),
            };
            Some(cursor.ok_or_else(|| Error::bad_request("Invalid cursor"))?)
        }
    };
    Ok(Listing { q: given(req, "q").map(str::to_owned), sort, limit, cursor })
}

/// A decimal integer of ASCII digits only (no sign, no spaces) that fits
/// an `i64`.
fn digits(text: &str) -> Option<i64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Text from its UTF-8 bytes in lowercase hex, as [`to_hex`] writes it.
fn from_hex(text: &str) -> Option<String> {
    if !text.len().is_multiple_of(2) || !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let bytes = (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    String::from_utf8(bytes).ok()
}

/// The lowercase hex of `text`'s UTF-8 bytes: a title cursor says nothing
/// a URL would need to escape.
fn to_hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

/// `q` as a `like` pattern: contains `q`, with `\`, `%` and `_` in it
/// matching themselves (escaped with `\`).
fn contains_pattern(q: &str) -> String {
    let mut pattern = String::with_capacity(q.len() + 2);
    pattern.push('%');
    for c in q.chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// A note as the listing reads it: with the key a title cursor holds.
#[derive(Deserialize)]
struct Listed {
    id: i64,
    title: String,
    body: String,
    created_at: String,
    updated_at: String,
    title_key: String,
}

/// One page of `GET /api/notes`.
#[derive(Serialize)]
struct Page {
    notes: Vec<Note>,
    #[serde(rename = "nextCursor")]
    next_cursor: Option<String>,
}

/// The statement and parameters of a listing: one more row than `limit`
/// tells whether another page follows. Parameters are numbered in the
/// order they appear (SQLite numbers `$N` by first appearance).
fn statement(listing: &Listing) -> (String, Vec<Value>) {
    let mut params = Vec::new();
    let mut conditions = Vec::new();
    if let Some(q) = &listing.q {
        params.push(Value::Text(contains_pattern(q)));
        let n = params.len();
        conditions
            .push(format!("(lower(title) like lower(${n}) escape '\\' or lower(body) like lower(${n}) escape '\\')"));
    }
    if let Some(cursor) = &listing.cursor {
        let (condition, value) = match cursor {
            Cursor::IdBelow(id) => ("id <", Value::Integer(*id)),
            Cursor::IdAbove(id) => ("id >", Value::Integer(*id)),
            Cursor::TitleAfter(key) => ("lower(title) >", Value::Text(key.clone())),
        };
        params.push(value);
        conditions.push(format!("{condition} ${}", params.len()));
    }
    let order = match listing.sort {
        Sort::Newest => "id desc",
        Sort::Oldest => "id asc",
        Sort::Title => "lower(title) asc",
    };
    params.push(Value::Integer(listing.limit + 1));
    let filter = if conditions.is_empty() { String::new() } else { format!(" where {}", conditions.join(" and ")) };
    let sql = format!(
        "select {COLUMNS}, lower(title) as title_key from notes{filter} order by {order} limit ${}",
        params.len()
    );
    (sql, params)
}

/// The `/api/notes` route.
pub struct Notes;

#[route]
impl Notes {
    /// One page of notes; see the crate docs for `q`, `sort`, `cursor` and `limit`.
    pub fn get(req: Request) -> Result {
        let listing = listing(&req)?;
        let (sql, params) = statement(&listing);
        let mut rows: Vec<Listed> = Db::open(DATABASE)?.query(&sql, params)?;
        let more = rows.len() as i64 > listing.limit;
        rows.truncate(listing.limit as usize);
        let next_cursor = match rows.last() {
            Some(last) if more => Some(match listing.sort {
                Sort::Newest | Sort::Oldest => last.id.to_string(),
                Sort::Title => to_hex(&last.title_key),
            }),
            _ => None,
        };
        let notes = rows
            .into_iter()
            .map(|r| Note {
                id: r.id,
                title: r.title,
                body: r.body,
                created_at: r.created_at,
                updated_at: r.updated_at,
            })
            .collect();
        Ok(Response::json(&Page { notes, next_cursor }))
    }

    /// Creates a note from `{"title": "…", "body": "…"}`: `201` with the
    /// note and its `Location`.
    pub fn post(req: Request) -> Result {
        let fields = json_object(&req)?;
        let title = title(fields.get("title"))?;
        let body = fields.get("body").map(notes_model::body).transpose()?.unwrap_or_default();
        let created = now();
        let note: Note = Db::open(DATABASE)?
            .query_one(
                &format!(
                    "insert into notes (title, body, created_at, updated_at) values ($1, $2, $3, $3) returning {COLUMNS}"
                ),
                (&title, &body, &created),
            )
            .map_err(title_taken_or)?;
        let location = format!("/api/notes/{}", note.id);
        Ok(Response::json(&note).status(201).header("location", location))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use wasmroutes_sdk::Method;
    use wasmroutes_sdk::sql::{SqlError, testing};

    use super::*;

    const MIGRATIONS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../migrations/notes");

    fn database() {
        testing::database(DATABASE).migrations(MIGRATIONS);
    }

    fn post(body: &str) -> Result {
        Notes::post(Request::builder(Method::Post, "/api/notes").body(body).build())
    }

    fn created(title: &str, body: &str) -> serde_json::Value {
        let resp = post(&json!({ "title": title, "body": body }).to_string()).unwrap();
        assert_eq!(resp.status_code(), 201);
        resp.json_body().unwrap()
    }

    fn list(query: &[(&str, &str)]) -> Result {
        let mut req = Request::builder(Method::Get, "/api/notes");
        for (name, value) in query {
            req = req.query(name, value);
        }
        Notes::get(req.build())
    }

    fn page(query: &[(&str, &str)]) -> (Vec<String>, Option<String>) {
        let json = list(query).unwrap().json_body().unwrap();
        let titles =
            json["notes"].as_array().unwrap().iter().map(|n| n["title"].as_str().unwrap().to_owned()).collect();
        (titles, json["nextCursor"].as_str().map(str::to_owned))
    }

    fn error(result: Result) -> (u16, String) {
        let err = result.unwrap_err();
        (err.status(), err.message().to_owned())
    }

    fn stored() -> Vec<(i64, String, String)> {
        Db::open(DATABASE).unwrap().query("select id, title, body from notes order by id", ()).unwrap()
    }

    #[test]
    fn creates_a_note_with_201_location_and_both_times() {
        database();
        let resp = post(r#"{"title":"  Groceries  ","body":" milk ","extra":true}"#).unwrap();
        assert_eq!(resp.status_code(), 201);
        assert_eq!(resp.header_value("location"), Some("/api/notes/1"));
        let note = resp.json_body().unwrap();
        let at = note["createdAt"].as_str().unwrap();
        assert_eq!(note["updatedAt"], at);
        let body = String::from_utf8(resp.body_bytes().to_vec()).unwrap();
        assert_eq!(
            body,
            format!(r#"{{"id":1,"title":"Groceries","body":" milk ","createdAt":"{at}","updatedAt":"{at}"}}"#)
        );
        let second = post(r#"{"title":"No body"}"#).unwrap();
        assert_eq!(second.header_value("location"), Some("/api/notes/2"));
        assert_eq!(second.json_body().unwrap()["body"], "");
        assert_eq!(stored(), [(1, "Groceries".into(), " milk ".into()), (2, "No body".into(), String::new())]);
    }

    #[test]
    fn a_bad_body_is_a_400_or_422_and_writes_nothing() {
        database();
        assert_eq!(error(post("")), (400, "Request body is empty; expected JSON".into()));
        let (status, message) = error(post("{"));
        assert!(status == 400 && message.starts_with("Invalid JSON body: "), "{message}");
        for body in ["[]", r#""title""#, "null", "5"] {
            assert_eq!(error(post(body)), (400, "Send a JSON object".into()), "{body}");
        }
        let long_title = json!({ "title": "t".repeat(201) }).to_string();
        let long_body = json!({ "title": "t", "body": "b".repeat(10_001) }).to_string();
        let cases = [
            ("{}", "title must be a string"),
            (r#"{"title":null}"#, "title must be a string"),
            (r#"{"title":5}"#, "title must be a string"),
            (r#"{"title":" \n "}"#, "title must not be empty"),
            (long_title.as_str(), "title must be at most 200 characters"),
            (r#"{"title":"ok","body":5}"#, "body must be a string"),
            (r#"{"title":"ok","body":null}"#, "body must be a string"),
            (long_body.as_str(), "body must be at most 10000 characters"),
            // The title is checked first.
            (r#"{"title":"","body":5}"#, "title must not be empty"),
        ];
        for (body, message) in cases {
            assert_eq!(error(post(body)), (422, message.to_owned()), "{body}");
        }
        assert!(stored().is_empty(), "nothing is written for a bad request");
        let at_most = json!({ "title": "é".repeat(200), "body": "ü".repeat(10_000) }).to_string();
        assert_eq!(post(&at_most).unwrap().status_code(), 201);
    }

    #[test]
    fn a_title_another_note_has_is_a_409_ignoring_ascii_case() {
        database();
        created("Groceries", "");
        let resp = Response::from(post(r#"{"title":"  GROCERIES "}"#).unwrap_err());
        assert_eq!(resp.status_code(), 409);
        assert_eq!(resp.body_bytes(), br#"{"error":"A note with this title already exists"}"#);
        assert_eq!(stored().len(), 1);
    }

    #[test]
    fn an_empty_database_lists_no_notes() {
        database();
        assert_eq!(list(&[]).unwrap().body_bytes(), br#"{"notes":[],"nextCursor":null}"#);
    }

    /// Seven notes, created in this order (ids 1 to 7).
    const SEVEN: [&str; 7] = ["delta", "Alpha", "golf", "charlie", "Echo", "bravo", "foxtrot"];

    /// Every page of a listing with `limit=3`: titles per page, and each
    /// page's `nextCursor`.
    fn pages(sort: &str) -> Vec<(Vec<String>, Option<String>)> {
        let mut pages = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut query = vec![("sort", sort), ("limit", "3")];
            if let Some(c) = &cursor {
                query.push(("cursor", c));
            }
            let (titles, next) = page(&query);
            pages.push((titles, next.clone()));
            match next {
                Some(next) => cursor = Some(next),
                None => return pages,
            }
        }
    }

    fn owned(titles: &[&str]) -> Vec<String> {
        titles.iter().map(|t| (*t).to_owned()).collect()
    }

    #[test]
    fn pages_through_every_sort_with_keyset_cursors() {
        database();
        for title in SEVEN {
            created(title, "");
        }
        let newest = pages("newest");
        assert_eq!(
            newest,
            [
                (owned(&["foxtrot", "bravo", "Echo"]), Some("5".into())),
                (owned(&["charlie", "golf", "Alpha"]), Some("2".into())),
                (owned(&["delta"]), None),
            ]
        );
        assert_eq!(pages(""), newest, "newest is the default");
        assert_eq!(
            pages("oldest"),
            [
                (owned(&["delta", "Alpha", "golf"]), Some("3".into())),
                (owned(&["charlie", "Echo", "bravo"]), Some("6".into())),
                (owned(&["foxtrot"]), None),
            ]
        );
        // Title order ignores ASCII case; the cursor is the hex of the last
        // note's lowercased title ("charlie", "foxtrot").
        assert_eq!(
            pages("title"),
            [
                (owned(&["Alpha", "bravo", "charlie"]), Some("636861726c6965".into())),
                (owned(&["delta", "Echo", "foxtrot"]), Some("666f7874726f74".into())),
                (owned(&["golf"]), None),
            ]
        );
        // A page that ends exactly with the last note has no next page.
        assert_eq!(page(&[("limit", "7")]).1, None);
        assert_eq!(page(&[("limit", "6")]).1.as_deref(), Some("2"));
        // The default page holds 20 notes, the largest 100.
        assert_eq!(page(&[]).0.len(), 7);
        assert_eq!(page(&[("limit", "100")]).0.len(), 7);
    }

    #[test]
    fn a_title_cursor_holds_unicode_titles() {
        database();
        for title in ["Zürich", "zebra", "Ärger"] {
            created(title, "");
        }
        // SQLite's lower() folds ASCII only; bytes order the rest.
        let (first, cursor) = page(&[("sort", "title"), ("limit", "1")]);
        assert_eq!((first, cursor.as_deref()), (owned(&["zebra"]), Some("7a65627261")));
        let (second, cursor) = page(&[("sort", "title"), ("limit", "1"), ("cursor", "7a65627261")]);
        assert_eq!(second, ["Zürich"]);
        assert_eq!(cursor.as_deref(), Some("7ac3bc72696368"), "the UTF-8 bytes of `zürich`");
        let (third, cursor) = page(&[("sort", "title"), ("cursor", "7ac3bc72696368")]);
        assert_eq!((third, cursor), (owned(&["Ärger"]), None));
    }

    #[test]
    fn q_matches_title_or_body_ignoring_ascii_case_with_wildcards_taken_literally() {
        database();
        created("100% done", "");
        created("100 percent", "of nothing");
        created("snake_case", "");
        created("snakeXcase", "");
        created("back\\slash", "");
        created("Shopping", "Buy MILK");
        let search = |q: &str| page(&[("q", q), ("sort", "oldest")]).0;
        assert_eq!(search("%"), ["100% done"]);
        assert_eq!(search("0%"), ["100% done"]);
        assert_eq!(search("_"), ["snake_case"]);
        assert_eq!(search("e_c"), ["snake_case"]);
        assert_eq!(search("\\"), ["back\\slash"]);
        assert_eq!(search("milk"), ["Shopping"], "the body, any ASCII case");
        assert_eq!(search("SHOP"), ["Shopping"]);
        assert_eq!(search("NOTHING"), ["100 percent"]);
        assert_eq!(search("100"), ["100% done", "100 percent"]);
        assert!(search("absent").is_empty());
        assert_eq!(search("").len(), 6, "an empty q is no filter");
        // A search pages like any listing.
        let (first, cursor) = page(&[("q", "a"), ("limit", "2"), ("sort", "title")]);
        assert_eq!(first, ["back\\slash", "snake_case"]);
        let cursor = cursor.unwrap();
        let (rest, next) = page(&[("q", "a"), ("limit", "2"), ("sort", "title"), ("cursor", &cursor)]);
        assert_eq!((rest, next), (owned(&["snakeXcase"]), None));
    }

    #[test]
    fn bad_sorts_limits_and_cursors_are_400s() {
        database();
        let sort = (400, "sort must be one of newest, oldest, title".to_owned());
        for bad in ["NEWEST", "random", " title"] {
            assert_eq!(error(list(&[("sort", bad)])), sort, "{bad}");
        }
        let limit = (400, "limit must be an integer from 1 to 100".to_owned());
        for bad in ["0", "101", "-1", "+5", "1.5", "abc", " 5", "99999999999999999999"] {
            assert_eq!(error(list(&[("limit", bad)])), limit, "{bad}");
        }
        let cursor = (400, "Invalid cursor".to_owned());
        for (sort, bad) in [
            ("newest", "abc"),
            ("newest", "-1"),
            ("newest", "0"),
            ("oldest", "1.0"),
            ("oldest", "99999999999999999999"),
            ("title", "abc"),
            ("title", "ZZ"),
            ("title", "6A"),
            ("title", "ff"),
        ] {
            assert_eq!(error(list(&[("sort", sort), ("cursor", bad)])), cursor, "{sort} {bad}");
        }
        // Sort is checked before limit, limit before cursor.
        assert_eq!(error(list(&[("sort", "x"), ("limit", "0"), ("cursor", "x")])), sort);
        assert_eq!(error(list(&[("limit", "0"), ("cursor", "x")])), limit);
        // Empty values are absent values.
        for name in ["q", "sort", "limit", "cursor"] {
            assert_eq!(list(&[(name, "")]).unwrap().status_code(), 200, "{name}");
        }
    }

    #[test]
    fn an_unavailable_database_is_a_503_with_retry_after() {
        database();
        testing::fail(DATABASE, SqlError::Unavailable("busy".into()));
        for err in [list(&[]).unwrap_err(), post(r#"{"title":"x"}"#).unwrap_err()] {
            assert_eq!((err.status(), err.header_value("retry-after")), (503, Some("1")));
        }
    }

    #[test]
    fn a_database_the_route_may_not_open_is_a_500() {
        database();
        testing::fail(DATABASE, SqlError::AccessDenied(DATABASE.into()));
        let resp = Response::from(list(&[]).unwrap_err());
        assert_eq!((resp.status_code(), resp.body_bytes()), (500, &br#"{"error":"Internal server error"}"#[..]));
    }

    #[test]
    fn statements_number_their_parameters_in_order() {
        let listing =
            Listing { q: Some("a".into()), sort: Sort::Title, limit: 5, cursor: Some(Cursor::TitleAfter("m".into())) };
        let (sql, params) = statement(&listing);
        assert_eq!(
            sql,
            "select id, title, body, created_at, updated_at, lower(title) as title_key from notes \
             where (lower(title) like lower($1) escape '\\' or lower(body) like lower($1) escape '\\') \
             and lower(title) > $2 order by lower(title) asc limit $3"
        );
        assert_eq!(params, [Value::Text("%a%".into()), Value::Text("m".into()), Value::Integer(6)]);
        let plain = Listing { q: None, sort: Sort::Newest, limit: 20, cursor: None };
        assert_eq!(
            statement(&plain).0,
            "select id, title, body, created_at, updated_at, lower(title) as title_key from notes \
             order by id desc limit $1"
        );
        assert_eq!(contains_pattern(r"50%_a\b"), r"%50\%\_a\\b%");
    }
}
