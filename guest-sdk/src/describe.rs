//! The route's description for the host's OpenAPI document: the optional
//! `wasmroutes:api/describe` export that `#[route]` writes when a handler
//! carries `#[schema(..)]` (feature `schema`).
//!
//! ```
//! use schemars::JsonSchema;
//! use serde::{Deserialize, Serialize};
//! use wasmroutes_sdk::{Request, Response, Result, route};
//!
//! #[derive(Deserialize, JsonSchema)]
//! struct NewUser { name: String }
//!
//! #[derive(Serialize, JsonSchema)]
//! struct User { id: u64, name: String }
//!
//! struct Users;
//!
//! #[route]
//! impl Users {
//!     /// Creates a user.
//!     #[schema(request = NewUser, response = User, status = 201)]
//!     fn post(req: Request) -> Result {
//!         let body: NewUser = req.json()?;
//!         Ok(Response::json(&User { id: 1, name: body.name }).status(201))
//!     }
//! }
//! ```
//!
//! The host calls the export once when it loads the component, never on a
//! request, so describing a route costs requests nothing. The schemas come
//! from `schemars` derives on the types the handler already uses: the
//! document cannot drift from the code.

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, SchemaGenerator};
use serde_json::{Map, Value, json};

/// Where the host puts named schemas; `$ref`s point there.
const DEFINITIONS_PATH: &str = "/components/schemas";

/// A description being written: one generator for all handlers, so a type
/// two handlers use is one named schema.
pub struct Description {
    generator: SchemaGenerator,
    handlers: Map<String, Value>,
}

impl Default for Description {
    fn default() -> Self {
        let settings = SchemaSettings::draft2020_12().with(|s| s.definitions_path = DEFINITIONS_PATH.into());
        Description { generator: settings.into_generator(), handlers: Map::new() }
    }
}

/// What one handler says about itself.
#[derive(Default)]
pub struct HandlerDoc {
    /// The first paragraph of its doc comment.
    pub summary: Option<&'static str>,
    /// The rest of its doc comment.
    pub description: Option<&'static str>,
    /// JSON Schema of the request body.
    pub request: Option<Value>,
    /// JSON Schema of the success response body.
    pub response: Option<Value>,
    /// The status of `response` (default 200).
    pub status: Option<u16>,
}

impl Description {
    /// The JSON Schema of `T`: a `$ref` for a named type, whose schema is
    /// kept for [`Description::into_json`].
    pub fn schema<T: JsonSchema + ?Sized>(&mut self) -> Value {
        self.generator.subschema_for::<T>().to_value()
    }

    /// Adds the handler of `method` (`"get"`, `"post"`, …).
    pub fn handler(&mut self, method: &str, doc: HandlerDoc) {
        let mut entry = Map::new();
        let fields = [
            ("summary", doc.summary.map(Value::from)),
            ("description", doc.description.map(Value::from)),
            ("request", doc.request),
            ("response", doc.response),
            ("status", doc.status.map(Value::from)),
        ];
        for (key, value) in fields {
            if let Some(value) = value {
                entry.insert(key.to_owned(), value);
            }
        }
        self.handlers.insert(method.to_owned(), Value::Object(entry));
    }

    /// The text the `describe` export returns.
    pub fn into_json(mut self) -> String {
        let schemas = self.generator.take_definitions(true);
        json!({ "handlers": self.handlers, "schemas": schemas }).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(JsonSchema)]
    #[allow(dead_code)]
    struct Address {
        city: String,
    }

    #[derive(JsonSchema)]
    #[allow(dead_code)]
    struct User {
        name: String,
        home: Address,
    }

    #[test]
    fn named_types_are_refs_into_the_hosts_components() {
        let mut d = Description::default();
        let response = d.schema::<User>();
        let request = d.schema::<Vec<Address>>();
        assert_eq!(response, json!({ "$ref": "#/components/schemas/User" }));
        d.handler(
            "post",
            HandlerDoc {
                summary: Some("Create"),
                response: Some(response),
                request: Some(request),
                status: Some(201),
                ..HandlerDoc::default()
            },
        );
        let out: Value = serde_json::from_str(&d.into_json()).unwrap();
        assert_eq!(out["handlers"]["post"]["status"], 201);
        assert_eq!(out["handlers"]["post"]["request"]["items"]["$ref"], "#/components/schemas/Address");
        assert_eq!(out["schemas"]["User"]["properties"]["home"]["$ref"], "#/components/schemas/Address");
        assert_eq!(out["schemas"]["Address"]["required"], json!(["city"]));
        assert!(out["handlers"]["post"].get("description").is_none(), "absent, not null");
    }
}
