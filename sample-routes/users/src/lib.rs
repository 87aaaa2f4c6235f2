//! `POST /api/users`: create a user from a JSON body.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use wasmroutes_sdk::{Request, Response, Result, route};

/// The body the client sends. Fields are echoed as given (any JSON value);
/// a missing field is missing from the answer, as with the tutorial's
/// `{ id: Date.now(), name, email }`.
#[derive(Deserialize, JsonSchema)]
pub struct NewUser {
    name: Option<Value>,
    email: Option<Value>,
}

/// The user as created.
#[derive(Serialize, JsonSchema)]
pub struct User {
    id: u128,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<Value>,
}

/// Milliseconds since the Unix epoch, like JavaScript's `Date.now()`.
pub fn now_millis() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or_default()
}

/// The `/api/users` route.
pub struct Users;

#[route]
impl Users {
    /// Creates a user: `201` with the new user.
    #[schema(request = NewUser, response = User, status = 201)]
    pub fn post(req: Request) -> Result {
        let body: NewUser = req.json()?;
        let user = User { id: now_millis(), name: body.name, email: body.email };
        Ok(Response::json(&user).status(201))
    }
}

#[cfg(test)]
mod tests {
    use wasmroutes_sdk::Method;

    use super::*;

    fn post(body: &str) -> Result {
        Users::post(Request::builder(Method::Post, "/api/users").body(body).build())
    }

    #[test]
    fn creates_user_with_timestamp_id() {
        let before = now_millis();
        let resp = post(r#"{"name":"Ada","email":"ada@example.com"}"#).unwrap();
        assert_eq!(resp.status_code(), 201);
        let json = resp.json_body().unwrap();
        assert!(json["id"].as_u64().unwrap() as u128 >= before);
        assert_eq!(json["name"], "Ada");
        assert_eq!(json["email"], "ada@example.com");
        // Key order as in the tutorial: id, name, email.
        let text = String::from_utf8(resp.body_bytes().to_vec()).unwrap();
        assert!(text.starts_with(r#"{"id":"#), "{text}");
        assert!(text.ends_with(r#","name":"Ada","email":"ada@example.com"}"#), "{text}");
    }

    #[test]
    fn missing_field_is_missing_from_answer() {
        let json = post(r#"{"name":"Ada"}"#).unwrap().json_body().unwrap();
        assert!(json.get("email").is_none());
    }

    #[test]
    fn invalid_json_is_a_400() {
        assert_eq!(post("{nope").unwrap_err().status(), 400);
    }
}
