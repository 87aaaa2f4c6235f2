//! `GET /api/user/[id]`: look a user up in a (simulated) database.

use serde::Serialize;
use wasmroutes_sdk::{Error, Request, Response, Result, route};

/// A user record.
#[derive(Serialize, Debug, PartialEq)]
pub struct User {
    id: String,
    name: &'static str,
    email: &'static str,
}

/// Why the simulated database failed.
#[derive(Debug)]
pub struct DbError(&'static str);

/// The simulated database: `boom` makes it fail, as a real one might.
pub fn find_user(id: &str) -> std::result::Result<Option<User>, DbError> {
    let (name, email) = match id {
        "1" => ("Alice", "alice@example.com"),
        "2" => ("Bob", "bob@example.com"),
        "boom" => return Err(DbError("connection reset")),
        _ => return Ok(None),
    };
    Ok(Some(User { id: id.to_owned(), name, email }))
}

/// The `/api/user/[id]` route.
pub struct UserById;

#[route]
impl UserById {
    /// The user named by `[id]`, 404 if there is none, 500 if the database fails.
    pub fn get(req: Request) -> Result {
        let id = req.param("id")?;
        match find_user(id) {
            Ok(Some(user)) => Ok(Response::json(&user)),
            Ok(None) => Err(Error::not_found("User not found")),
            Err(DbError(why)) => {
                // Details go to the host log, never to the client.
                eprintln!("database error looking up user {id:?}: {why}");
                Err(Error::internal("Internal server error"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use wasmroutes_sdk::{IntoResponse, Method};

    use super::*;

    fn get(id: &str) -> Response {
        UserById::get(Request::builder(Method::Get, "/api/user/x").param("id", id).build()).into_response()
    }

    #[test]
    fn finds_alice_and_bob() {
        assert_eq!(get("1").body_bytes(), br#"{"id":"1","name":"Alice","email":"alice@example.com"}"#);
        assert_eq!(get("2").body_bytes(), br#"{"id":"2","name":"Bob","email":"bob@example.com"}"#);
    }

    #[test]
    fn unknown_user_is_404_and_db_failure_is_500() {
        let missing = get("3");
        assert_eq!((missing.status_code(), missing.body_bytes()), (404, &br#"{"error":"User not found"}"#[..]));
        let boom = get("boom");
        assert_eq!((boom.status_code(), boom.body_bytes()), (500, &br#"{"error":"Internal server error"}"#[..]));
    }
}
