//! A route written against the `wasmroutes:sql` and `wasmroutes:api` WIT
//! directly, with `wit_bindgen` and no SDK: what the end-to-end tests of
//! SQL databases drive. It imports `wasmroutes:sql/types` and exports `get`
//! and `post`. Every request opens the database named by `?db=` (default
//! `main`).
//!
//! | Request | Calls | Answer |
//! |---|---|---|
//! | `POST` body T | `execute("INSERT INTO notes (title) VALUES ($1)", [T])` | `201` JSON `{"id":…,"rows":1}` |
//! | `GET` (or `op=list`) | `query("SELECT id, title FROM notes ORDER BY id")` | `200` JSON `[{"id":…,"title":…}]` |
//! | `GET ?op=run&sql=S` | `execute(S, [])` | `200` JSON `{"rows":…}` |
//! | `GET ?op=select&sql=S` | `query(S, [])` | `200` JSON `{"columns":[…],"rows":[[…]]}` (blobs as byte arrays) |
//! | `GET ?op=tx&title=T&end=E` | `begin`, insert T, then E: `commit`, `rollback`, `leave` (return 200 with the transaction open), `trap` (panic with it open) | `200` `done` |
//! | `GET ?op=tx-twice` | `begin` twice | the second's error |
//! | `GET ?op=increment&lock=L` | `begin`, `SELECT n FROM counter WHERE id = 1 L`, `UPDATE counter SET n = $1 WHERE id = 1` with n + 1, `commit` (L: `FOR UPDATE` on PostgreSQL, empty on SQLite, whose transactions hold the writer) | `200` the new n |
//! | `GET ?op=connections&n=N` | `open` N times, keeping each | `200` N, or the first refusal's error |
//!
//! A database error answers with a status by its kind (`constraint` 409,
//! `invalid-statement` 400, `unavailable` 503, `timeout` 504,
//! `limit-exceeded` 413, the rest 500) and a text body
//! `<kind>: <message>` (`constraint: unique: <message>`).

// Only a component: natively the crate is empty.
#![cfg(target_arch = "wasm32")]

#[allow(unsafe_code, missing_docs, clippy::all)] // wit-bindgen's generated glue
mod bindings {
    wit_bindgen::generate!({
        // `wit/` is the `wasmroutes:api` package; `wit/deps/sql` is
        // picked up as its dependency.
        path: "../../../wit",
        inline: "
            package test:sql-plain;
            world sql-plain {
                import wasmroutes:sql/types@0.1.0;
                export wasmroutes:api/get@0.2.0;
                export wasmroutes:api/post@0.2.0;
            }
        ",
        world: "test:sql-plain/sql-plain",
        generate_all,
    });
}

use bindings::exports::wasmroutes::api::{get, post};
use bindings::wasmroutes::api::types::{Request, Response};
use bindings::wasmroutes::sql::types::{Connection, ConstraintKind, Error, Value};
use serde_json::json;

/// The exported route.
struct SqlPlain;

// The export glue wit-bindgen generates is `unsafe` by nature.
#[allow(unsafe_code)]
const _: () = {
    bindings::export!(SqlPlain with_types_in bindings);
};

/// A handler's early exit: already the response to send.
type Outcome = Result<Response, Response>;

impl post::Guest for SqlPlain {
    fn handle(req: Request) -> Response {
        let run = || -> Outcome {
            let db = open(&req)?;
            let title = String::from_utf8_lossy(&req.body).into_owned();
            let done = db.execute("INSERT INTO notes (title) VALUES ($1)", &[Value::Text(title)]).map_err(db_error)?;
            let body = json!({ "id": done.last_insert_id, "rows": done.rows_affected });
            Ok(with_status(201, &body))
        };
        run().unwrap_or_else(|e| e)
    }
}

impl get::Guest for SqlPlain {
    fn handle(req: Request) -> Response {
        handle_get(&req).unwrap_or_else(|e| e)
    }
}

fn handle_get(req: &Request) -> Outcome {
    let op = query(req, "op").unwrap_or("list");
    if op == "connections" {
        let n: usize = required(req, "n")?.parse().map_err(|_| text(400, "n must be a number"))?;
        let mut held = Vec::new();
        for _ in 0..n {
            held.push(open(req)?);
        }
        return Ok(text(200, &held.len().to_string()));
    }
    let db = open(req)?;
    match op {
        "list" => {
            let rows = db.query("SELECT id, title FROM notes ORDER BY id", &[]).map_err(db_error)?;
            let notes: Vec<_> =
                rows.rows.iter().map(|r| json!({ "id": to_json(&r[0]), "title": to_json(&r[1]) })).collect();
            Ok(with_status(200, &json!(notes)))
        }
        "run" => {
            let done = db.execute(required(req, "sql")?, &[]).map_err(db_error)?;
            Ok(with_status(200, &json!({ "rows": done.rows_affected })))
        }
        "select" => {
            let rows = db.query(required(req, "sql")?, &[]).map_err(db_error)?;
            let values: Vec<Vec<_>> = rows.rows.iter().map(|r| r.iter().map(to_json).collect()).collect();
            Ok(with_status(200, &json!({ "columns": rows.columns, "rows": values })))
        }
        "tx" => {
            let title = required(req, "title")?;
            db.begin().map_err(db_error)?;
            db.execute("INSERT INTO notes (title) VALUES ($1)", &[Value::Text(title.to_owned())]).map_err(db_error)?;
            match required(req, "end")? {
                "commit" => db.commit().map_err(db_error)?,
                "rollback" => db.rollback().map_err(db_error)?,
                "leave" => {
                    // The transaction stays open past the handler: the
                    // host must roll it back. Keep the connection alive
                    // past the return, as a careless route would.
                    std::mem::forget(db);
                    return Ok(text(200, "done"));
                }
                "trap" => panic!("trapping with a transaction open"),
                other => return Err(text(400, &format!("unknown end `{other}`"))),
            }
            Ok(text(200, "done"))
        }
        "increment" => {
            // A read, then a write of what was read: only the transaction
            // (and its lock) keeps concurrent requests from losing updates.
            db.begin().map_err(db_error)?;
            let select = format!("SELECT n FROM counter WHERE id = 1 {}", query(req, "lock").unwrap_or(""));
            let rows = db.query(&select, &[]).map_err(db_error)?;
            let Some(Value::Integer(n)) = rows.rows.first().and_then(|r| r.first()) else {
                return Err(text(500, "no counter row"));
            };
            let next = n + 1;
            db.execute("UPDATE counter SET n = $1 WHERE id = 1", &[Value::Integer(next)]).map_err(db_error)?;
            db.commit().map_err(db_error)?;
            Ok(text(200, &next.to_string()))
        }
        "tx-twice" => {
            db.begin().map_err(db_error)?;
            db.begin().map_err(db_error)?;
            Ok(text(200, "two transactions"))
        }
        other => Err(text(400, &format!("unknown op `{other}`"))),
    }
}

fn open(req: &Request) -> Result<Connection, Response> {
    Connection::open(query(req, "db").unwrap_or("main")).map_err(db_error)
}

fn db_error(err: Error) -> Response {
    let (status, body) = match err {
        Error::NoSuchDatabase(m) => (500, format!("no-such-database: {m}")),
        Error::AccessDenied(m) => (500, format!("access-denied: {m}")),
        Error::InvalidStatement(m) => (400, format!("invalid-statement: {m}")),
        Error::Constraint(c) => {
            let kind = match c.kind {
                ConstraintKind::Unique => "unique",
                ConstraintKind::ForeignKey => "foreign-key",
                ConstraintKind::NotNull => "not-null",
                ConstraintKind::Check => "check",
                ConstraintKind::Other => "other",
            };
            (409, format!("constraint: {kind}: {}", c.message))
        }
        Error::Unavailable(m) => (503, format!("unavailable: {m}")),
        Error::Timeout(m) => (504, format!("timeout: {m}")),
        Error::LimitExceeded(m) => (413, format!("limit-exceeded: {m}")),
        Error::Internal(m) => (500, format!("internal: {m}")),
    };
    text(status, &body)
}

fn to_json(value: &Value) -> serde_json::Value {
    match value {
        Value::Null => serde_json::Value::Null,
        Value::Integer(i) => json!(i),
        Value::Real(r) => json!(r),
        Value::Text(t) => json!(t),
        Value::Blob(b) => json!(b),
        Value::Boolean(b) => json!(b),
    }
}

fn query<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn required<'a>(req: &'a Request, name: &str) -> Result<&'a str, Response> {
    query(req, name).ok_or_else(|| text(400, &format!("missing query parameter `{name}`")))
}

fn text(status: u16, body: &str) -> Response {
    Response {
        status,
        headers: vec![("content-type".into(), "text/plain; charset=utf-8".into())],
        body: body.as_bytes().to_vec(),
    }
}

fn with_status(status: u16, value: &serde_json::Value) -> Response {
    Response {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: value.to_string().into_bytes(),
    }
}
