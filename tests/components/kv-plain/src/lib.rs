//! A route written against the standard `wasi:keyvalue@0.2.0-draft2` and
//! the `wasmroutes:api` WIT directly, with `wit_bindgen` and no
//! `wasmroutes-sdk`: what a component from another toolchain looks like to
//! the host. It imports `wasi:keyvalue/{store,atomics,batch}` and exports the
//! `get` and `post` handlers. End-to-end tests rely on the behaviour below.
//!
//! Every request works on the store named by `?store=` (default
//! `default`), opened with `store::open`. Keys and values are passed to the
//! host unchecked (an empty or over-long `key=` reaches the host as is).
//!
//! | Request | Calls | Answer |
//! |---|---|---|
//! | `POST ?key=K`, body B | `bucket.set(K, B)` | `204`, no body, no headers |
//! | `GET ?key=K` (or `op=get`) | `bucket.get(K)` | `200` with the value's bytes (`application/octet-stream`), or `404` `not found` |
//! | `GET ?op=exists&key=K` | `bucket.exists(K)` | `200` `true` or `false` |
//! | `GET ?op=delete&key=K` | `bucket.delete(K)` | `204` (also for a key that was not set) |
//! | `GET ?op=incr&key=K&delta=D` | `atomics::increment(K, D)` (`delta` defaults to 1) | `200` with the new value as text |
//! | `GET ?op=cas&key=K&value=V` | `cas::new(K)`, `cas.current()`, `atomics::swap(cas, V)`, once | `200` `swapped`, or `409` `conflict` on `cas-failed` |
//! | `GET ?op=cas&key=K&value=V&interfere=W` | as above, but `bucket.set(K, W)` between `current` and `swap` (a concurrent writer), so the host must answer `cas-failed` | `409` `conflict` (or `200` `swapped` if the host failed to notice) |
//! | `GET ?op=casincr&key=K` | `cas::new(K)`, `cas.current()` read as a decimal number (missing: 0), `atomics::swap(cas, n + 1)`, once | `200` with `n + 1`, or `409` `conflict` on `cas-failed` |
//! | `GET ?op=cas-hoard&key=K&n=N` | `cas::new(K)` N times, keeping every one open | `200` with N, or the store error of the first refused |
//! | `GET ?op=list` (`&cursor=C`) | `bucket.list-keys(C)` | `200` JSON `{"cursor":"…"\|null,"keys":[…]}` |
//! | `GET ?op=many&keys=a,b` | `batch::get-many([a, b])` | `200` JSON array in key order: `{"key":"a","value":"<UTF-8, lossy>"}` or `null` per key |
//! | `GET ?op=delete-many&keys=a,b` | `batch::delete-many([a, b])` | `204` |
//!
//! `keys=` is split on `,` (an empty `keys=` is an empty list). Text answers
//! are `text/plain; charset=utf-8`, JSON answers `application/json`.
//!
//! A store error from any call answers `500` with a text body naming the
//! `wasi:keyvalue` error case: `no-such-store`, `access-denied`, or
//! `other(<text>)` with the host's text, e.g. `other(limit: a key is 1 to 256
//! bytes; this one is empty)`. (The host answers `access-denied` for a store
//! the route does not list even when no such store exists.) A missing or malformed query parameter
//! (`key=`, `value=`, `delta=`) or an unknown `op=` is `400` with a text body.

// Only a component: natively the crate is empty (a host library exporting
// `wasmroutes:api/get@0.2.0#handle` would not even link).
#![cfg(target_arch = "wasm32")]

#[allow(unsafe_code, missing_docs, clippy::all)] // wit-bindgen's generated glue
mod bindings {
    wit_bindgen::generate!({
        // `wit/` is the `wasmroutes:api` package; `wit/deps/keyvalue` is
        // picked up as its dependency.
        path: "../../../wit",
        inline: "
            package test:kv-plain;
            world kv-plain {
                import wasi:keyvalue/store@0.2.0-draft2;
                import wasi:keyvalue/atomics@0.2.0-draft2;
                import wasi:keyvalue/batch@0.2.0-draft2;
                export wasmroutes:api/get@0.2.0;
                export wasmroutes:api/post@0.2.0;
            }
        ",
        world: "test:kv-plain/kv-plain",
        generate_all,
    });
}

use bindings::exports::wasmroutes::api::{get, post};
use bindings::wasi::keyvalue::{atomics, batch, store};
use bindings::wasmroutes::api::types::{Request, Response};

/// The exported route.
struct KvPlain;

// The export glue wit-bindgen generates is `unsafe` by nature.
#[allow(unsafe_code)]
const _: () = {
    bindings::export!(KvPlain with_types_in bindings);
};

impl get::Guest for KvPlain {
    fn handle(req: Request) -> Response {
        answer(handle_get(&req))
    }
}

impl post::Guest for KvPlain {
    fn handle(req: Request) -> Response {
        answer(handle_post(req))
    }
}

/// A handler's early exit: already the response to send.
type Outcome = Result<Response, Response>;

fn handle_post(req: Request) -> Outcome {
    let key = required(&req, "key")?.to_owned();
    let bucket = open(&req)?;
    bucket.set(&key, &req.body).map_err(store_error)?;
    Ok(no_content())
}

fn handle_get(req: &Request) -> Outcome {
    let op = query(req, "op").unwrap_or("get");
    let bucket = open(req)?;
    match op {
        "get" => match bucket.get(required(req, "key")?).map_err(store_error)? {
            Some(value) => Ok(Response {
                status: 200,
                headers: vec![("content-type".into(), "application/octet-stream".into())],
                body: value,
            }),
            None => Ok(text(404, "not found")),
        },
        "exists" => Ok(text(200, &bucket.exists(required(req, "key")?).map_err(store_error)?.to_string())),
        "delete" => {
            bucket.delete(required(req, "key")?).map_err(store_error)?;
            Ok(no_content())
        }
        "incr" => {
            let key = required(req, "key")?;
            let delta = match query(req, "delta") {
                None => 1,
                Some(d) => d.parse::<i64>().map_err(|_| text(400, "delta must be an integer"))?,
            };
            let new = atomics::increment(&bucket, key, delta).map_err(store_error)?;
            Ok(text(200, &new.to_string()))
        }
        "cas" => {
            let key = required(req, "key")?;
            let value = required(req, "value")?;
            let cas = atomics::Cas::new(&bucket, key).map_err(store_error)?;
            cas.current().map_err(store_error)?;
            if let Some(theirs) = query(req, "interfere") {
                bucket.set(key, theirs.as_bytes()).map_err(store_error)?;
            }
            match atomics::swap(cas, value.as_bytes()) {
                Ok(()) => Ok(text(200, "swapped")),
                Err(atomics::CasError::CasFailed(_)) => Ok(text(409, "conflict")),
                Err(atomics::CasError::StoreError(e)) => Err(store_error(e)),
            }
        }
        "casincr" => {
            // Read-modify-write: the decimal number at `key` (missing: 0)
            // plus one, written only if nobody wrote in between.
            let key = required(req, "key")?;
            let cas = atomics::Cas::new(&bucket, key).map_err(store_error)?;
            let current = cas.current().map_err(store_error)?;
            let n: i64 = match current {
                None => 0,
                Some(bytes) => String::from_utf8_lossy(&bytes).parse().map_err(|_| text(400, "not a number"))?,
            };
            match atomics::swap(cas, (n + 1).to_string().as_bytes()) {
                Ok(()) => Ok(text(200, &(n + 1).to_string())),
                Err(atomics::CasError::CasFailed(_)) => Ok(text(409, "conflict")),
                Err(atomics::CasError::StoreError(e)) => Err(store_error(e)),
            }
        }
        "cas-hoard" => {
            // Keeps `n` compare-and-swaps of `key` open at once (a guest
            // trying to make the host hold many copies of a value).
            let key = required(req, "key")?;
            let n: usize = required(req, "n")?.parse().map_err(|_| text(400, "n must be a number"))?;
            let mut open = Vec::with_capacity(n);
            for _ in 0..n {
                open.push(atomics::Cas::new(&bucket, key).map_err(store_error)?);
            }
            Ok(text(200, &open.len().to_string()))
        }
        "list" => {
            let page = bucket.list_keys(query(req, "cursor")).map_err(store_error)?;
            Ok(json(&serde_json::json!({ "keys": page.keys, "cursor": page.cursor })))
        }
        "many" => {
            let keys = key_list(req);
            let found = batch::get_many(&bucket, &keys).map_err(store_error)?;
            let found: Vec<serde_json::Value> = found
                .into_iter()
                .map(|pair| match pair {
                    Some((key, value)) => {
                        serde_json::json!({ "key": key, "value": String::from_utf8_lossy(&value) })
                    }
                    None => serde_json::Value::Null,
                })
                .collect();
            Ok(json(&serde_json::Value::Array(found)))
        }
        "delete-many" => {
            batch::delete_many(&bucket, &key_list(req)).map_err(store_error)?;
            Ok(no_content())
        }
        other => Err(text(400, &format!("unknown op `{other}`"))),
    }
}

fn open(req: &Request) -> Result<store::Bucket, Response> {
    store::open(query(req, "store").unwrap_or("default")).map_err(store_error)
}

/// `500` naming the error case, e.g. `access-denied` or `other(limit: …)`.
fn store_error(err: store::Error) -> Response {
    let body = match err {
        store::Error::NoSuchStore => "no-such-store".to_owned(),
        store::Error::AccessDenied => "access-denied".to_owned(),
        store::Error::Other(text) => format!("other({text})"),
    };
    text(500, &body)
}

/// The first value of query parameter `name`.
fn query<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn required<'a>(req: &'a Request, name: &str) -> Result<&'a str, Response> {
    query(req, name).ok_or_else(|| text(400, &format!("missing query parameter `{name}`")))
}

/// `keys=a,b` → `["a", "b"]`; an empty or missing `keys=` is no keys.
fn key_list(req: &Request) -> Vec<String> {
    match query(req, "keys") {
        None | Some("") => Vec::new(),
        Some(keys) => keys.split(',').map(str::to_owned).collect(),
    }
}

fn no_content() -> Response {
    Response { status: 204, headers: Vec::new(), body: Vec::new() }
}

fn text(status: u16, body: &str) -> Response {
    Response {
        status,
        headers: vec![("content-type".into(), "text/plain; charset=utf-8".into())],
        body: body.as_bytes().to_vec(),
    }
}

fn json(value: &serde_json::Value) -> Response {
    Response {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into())],
        body: value.to_string().into_bytes(),
    }
}

fn answer(outcome: Outcome) -> Response {
    outcome.unwrap_or_else(|err| err)
}
