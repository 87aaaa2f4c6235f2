//! A component's optional `wasmroutes:api/describe` export: what its
//! handlers take and give, for the OpenAPI document ([`crate::openapi`]).
//!
//! Read once when the component is loaded, in a fresh instance under the
//! default limits with nothing granted (no env, no stores, no outbound
//! HTTP), never on a request. A description that cannot be had (a trap, a
//! timeout, JSON that is not the expected shape) is logged and left out: the
//! route still serves, and its document falls back to what the exports say.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Map, Value};
use wasmtime::component::{ComponentExportIndex, InstancePre};

use super::engine::Sandbox;
use super::guest_error::{GuestError, classify};
use super::guest_state::{GuestState, new_store};
use super::route_context::RouteContext;
use crate::routing::method::Method;

/// How long `describe` may run: it builds a few schemas, nothing more.
const DESCRIBE_TIMEOUT: Duration = Duration::from_secs(2);

/// What a component says about its handlers.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RouteDescription {
    handlers: BTreeMap<Method, HandlerDescription>,
    /// Named JSON Schemas the handlers' `$ref`s point to
    /// (`#/components/schemas/<Name>`).
    pub schemas: Map<String, Value>,
}

/// One handler's description.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandlerDescription {
    /// One line (the first paragraph of the handler's doc comment).
    pub summary: Option<String>,
    /// The rest of the doc comment.
    pub description: Option<String>,
    /// JSON Schema of the request body.
    pub request: Option<Value>,
    /// JSON Schema of the success response body.
    pub response: Option<Value>,
    /// The status `response` goes with (default 200).
    pub status: Option<u16>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DescriptionJson {
    #[serde(default)]
    handlers: BTreeMap<String, HandlerDescription>,
    #[serde(default)]
    schemas: Map<String, Value>,
}

impl RouteDescription {
    /// The description of the `method` handler, if the component gave one.
    pub fn handler(&self, method: Method) -> Option<&HandlerDescription> {
        self.handlers.get(&method)
    }

    /// Parses and checks what `describe` returned.
    pub fn parse(text: &str) -> Result<RouteDescription, String> {
        let value: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        if !value.is_object() {
            return Err("not the expected JSON: the description is an object".to_owned());
        }
        let parsed: DescriptionJson =
            serde_json::from_value(value).map_err(|e| format!("not the expected JSON: {e}"))?;
        let mut handlers = BTreeMap::new();
        for (name, handler) in parsed.handlers {
            let method = Method::from_interface_name(&name).ok_or_else(|| format!("`{name}` is not a method"))?;
            if let Some(status) = handler.status.filter(|s| !(200..=599).contains(s)) {
                return Err(format!("{name}: status {status} is not 200–599"));
            }
            for schema in [&handler.request, &handler.response].into_iter().flatten() {
                if !(schema.is_object() || schema.is_boolean()) {
                    return Err(format!("{name}: a schema is a JSON object or boolean"));
                }
            }
            handlers.insert(method, handler);
        }
        // The names become keys of `components.schemas`, which OpenAPI
        // restricts to these characters.
        let bad_name = |n: &String| n.is_empty() || !n.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
        if let Some(name) = parsed.schemas.keys().find(|n| bad_name(n)) {
            return Err(format!("schema name `{name}` may hold only letters, digits, `.`, `_` and `-`"));
        }
        Ok(RouteDescription { handlers, schemas: parsed.schemas })
    }
}

/// Calls the `describe` export (at `index`) of the component at `path` once, in its own
/// instance, and parses the answer. Blocking: it runs the call on a
/// thread of its own with a small tokio runtime for the timeout, so it
/// works from any thread, inside a runtime or not.
pub(super) fn read(
    pre: &InstancePre<GuestState>,
    path: &Path,
    sandbox: &Sandbox,
    index: &ComponentExportIndex,
) -> Result<RouteDescription, String> {
    let text = std::thread::scope(|scope| {
        let call = scope.spawn(|| {
            let tokio = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .map_err(|e| format!("cannot start a runtime to call it: {e}"))?;
            tokio.block_on(call_describe(pre, path, sandbox, index)).map_err(|e| e.to_string())
        });
        call.join().unwrap_or_else(|_| Err("the call panicked".to_owned()))
    })?;
    RouteDescription::parse(&text)
}

async fn call_describe(
    pre: &InstancePre<GuestState>,
    path: &Path,
    sandbox: &Sandbox,
    index: &ComponentExportIndex,
) -> Result<String, GuestError> {
    let ctx = RouteContext::ungranted(&path.display().to_string());
    let mut store = new_store(&sandbox.engine, &ctx, Arc::from("describe"));
    store.set_epoch_deadline(1);
    let call = async {
        let instance = pre.instantiate_async(&mut store).await.map_err(|e| classify(e, GuestError::Instantiate))?;
        let func = instance
            .get_typed_func::<(), (String,)>(&mut store, index)
            .map_err(|e| GuestError::Trap(format!("{e:#}")))?;
        let (text,) = func.call_async(&mut store, ()).await.map_err(|e| classify(e, GuestError::Trap))?;
        Ok(text)
    };
    tokio::time::timeout(DESCRIBE_TIMEOUT, call).await.unwrap_or(Err(GuestError::Timeout(DESCRIBE_TIMEOUT)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_handlers_and_schemas() {
        let text = r##"{
            "handlers": {"post": {"summary": "Create", "request": {"$ref": "#/components/schemas/New"},
                                  "response": {"type": "object"}, "status": 201}},
            "schemas": {"New": {"type": "object"}}
        }"##;
        let d = RouteDescription::parse(text).unwrap();
        let post = d.handler(Method::Post).unwrap();
        assert_eq!((post.summary.as_deref(), post.status), (Some("Create"), Some(201)));
        assert!(d.handler(Method::Get).is_none());
        assert_eq!(d.schemas.len(), 1);
        assert_eq!(RouteDescription::parse("{}").unwrap(), RouteDescription::default());
    }

    #[test]
    fn refuses_what_would_make_the_document_invalid() {
        for (text, why) in [
            ("[]", "expected JSON"),
            (r#"{"handlers": {"trace": {}}}"#, "not a method"),
            (r#"{"handlers": {"get": {"status": 99}}}"#, "200–599"),
            (r#"{"handlers": {"get": {"request": 3}}}"#, "object or boolean"),
            (r#"{"handlers": {"get": {"examples": []}}}"#, "unknown field"),
            (r#"{"schemas": {"a b": {}}}"#, "schema name `a b`"),
        ] {
            let err = RouteDescription::parse(text).unwrap_err();
            assert!(err.contains(why), "{text}: {err}");
        }
    }
}
