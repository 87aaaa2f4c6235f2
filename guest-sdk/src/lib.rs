//! Write HTTP API routes for the wasmroutes host, the way Next.js route
//! handlers read: one function per HTTP method, typed request in, JSON out.
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use wasmroutes_sdk::{Request, Response, Result, route};
//!
//! #[derive(Deserialize)]
//! struct NewUser { name: String, email: String }
//!
//! #[derive(Serialize)]
//! struct User { id: u64, name: String, email: String }
//!
//! struct Users;
//!
//! #[route]
//! impl Users {
//!     fn post(req: Request) -> Result {
//!         let body: NewUser = req.json()?;
//!         let user = User { id: 1, name: body.name, email: body.email };
//!         Ok(Response::json(&user).status(201))
//!     }
//! }
//! # let req = Request::builder(wasmroutes_sdk::Method::Post, "/api/users")
//! #     .body(r#"{"name":"Ada","email":"ada@example.com"}"#).build();
//! # assert_eq!(Users::post(req).unwrap().status_code(), 201);
//! ```
//!
//! `#[route]` exports only the handlers written (`get`, `post`, `put`,
//! `patch`, `delete`, `head`, `options`), so the host answers other methods with
//! `405` and an `Allow` header, `HEAD` from `get`, and `OPTIONS` by itself.
//! Outside `wasm32` the macro exports nothing, so handlers are plain functions
//! that native unit tests call directly.
//!
//! Environment variables declared for the route in `routes.toml` are read with
//! [`std::env::var`]; nothing else from the host's environment is visible.
//! Outbound HTTP goes through [`fetch`], to the hosts the route's
//! `allowed_outbound_hosts` lists and nowhere else. Data that outlives a
//! request goes to the key-value stores of [`kv`], those the route's
//! `key_value_stores` lists; relational data to the SQL databases of `sql`
//! (Cargo feature `sql`), those the route's `databases` lists.
//!
//! With the `schema` feature, `#[schema(request = T, response = U)]` on a
//! handler puts its body schemas (from `schemars` derives) and its doc
//! comment into the host's OpenAPI document; see [`describe`].
//!
//! A handler that returns [`Streaming`] (or `Result<Streaming>`) streams:
//! the status and headers go out first, then the body while its closure
//! writes it, at the pace the client reads. [`Response::stream`] takes the
//! closure; [`Response::sse`] sends server-sent events ([`sse`]). Outside
//! `wasm32` a test reads such a body chunk by chunk with
//! [`Streaming::chunks`], and may stop reading, as a client that goes away
//! does:
//!
//! ```
//! use std::time::Duration;
//! use wasmroutes_sdk::sse::Event;
//! use wasmroutes_sdk::{Response, StreamError, Streaming, route};
//!
//! struct Ticker;
//!
//! #[route]
//! impl Ticker {
//!     /// A `tick` event every second, until the client leaves.
//!     fn get() -> Streaming {
//!         Response::sse(|events| {
//!             for n in 1.. {
//!                 events.send(Event::new().event("tick").id(n.to_string()).data(n.to_string()))?;
//!                 std::thread::sleep(Duration::from_millis(10));
//!             }
//!             Ok(())
//!         })
//!     }
//! }
//!
//! let streaming = Ticker::get();
//! assert_eq!(streaming.header_value("content-type"), Some("text/event-stream"));
//! let mut chunks = streaming.chunks();
//! assert_eq!(chunks.next().unwrap(), b"event: tick\nid: 1\ndata: 1\n\n");
//! assert_eq!(chunks.next().unwrap(), b"event: tick\nid: 2\ndata: 2\n\n");
//! // Hanging up: the handler's next `send` fails, and its `?` ends it.
//! assert_eq!(chunks.close(), Err(StreamError::Closed));
//! ```

#[cfg(feature = "schema")]
pub mod describe;
mod error;
pub mod fetch;
pub mod kv;
mod method;
mod request;
mod response;
#[cfg(feature = "sql")]
pub mod sql;
pub mod sse;
mod stream;

pub use error::Error;
pub use method::Method;
pub use request::{ParamValue, Request, RequestBuilder};
pub use response::{IntoResponse, Response};
#[cfg(not(target_arch = "wasm32"))]
pub use stream::Chunks;
pub use stream::{BodyWriter, StreamError, Streaming};
pub use wasmroutes_sdk_macros::route;

/// What a handler returns: a response, or an [`Error`] that becomes a JSON
/// error response with the error's status.
pub type Result<T = Response, E = Error> = std::result::Result<T, E>;

/// Stops a build that uses `#[schema(..)]` without the `schema` feature,
/// saying how to turn it on. Used by the code `#[route]` generates.
#[doc(hidden)]
#[cfg(not(feature = "schema"))]
#[macro_export]
macro_rules! __require_schema_feature {
    () => {
        compile_error!(
            "#[schema(..)] needs wasmroutes-sdk's `schema` feature: \
             wasmroutes-sdk = { version = \"..\", features = [\"schema\"] }, and schemars = \"1\" for the derives"
        );
    };
}

/// With the `schema` feature, `#[schema(..)]` needs nothing more.
#[doc(hidden)]
#[cfg(feature = "schema")]
#[macro_export]
macro_rules! __require_schema_feature {
    () => {};
}

/// Glue used by the code `#[route]` generates. Not a stable API.
#[doc(hidden)]
pub mod __rt {
    pub use wit_bindgen;

    pub use crate::stream::{BodySink, IntoStreaming, serve as serve_stream};
    use crate::{Method, ParamValue, Request, Response};

    /// Builds the SDK request from the fields of the WIT record.
    pub fn request_from_parts(
        method: Method,
        path: String,
        params: Vec<(String, ParamValue)>,
        query: Vec<(String, String)>,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> Request {
        Request::from_parts(method, path, params, query, headers, body)
    }

    /// Splits a response into the fields of the WIT record.
    pub fn response_into_parts(resp: Response) -> (u16, Vec<(String, String)>, Vec<u8>) {
        resp.into_parts()
    }
}
