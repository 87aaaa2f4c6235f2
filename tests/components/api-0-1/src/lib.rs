//! A route built against `wasmroutes:api@0.1.0`, the package before
//! streaming handlers existed (its definition is inlined here, as it was):
//! a host that speaks 0.2 must serve it unchanged. `GET` answers `200`
//! `api 0.1: <path>`.

#![allow(unsafe_code, missing_docs)] // wit-bindgen's generated glue

wit_bindgen::generate!({
    inline: "
        package test:api-0-1;
        world route { export wasmroutes:api/get@0.1.0; }
        package wasmroutes:api@0.1.0 {
            interface types {
                enum method { get, post, put, patch, delete, head, options }
                variant param-value { single(string), segments(list<string>) }
                record request {
                    method: method,
                    path: string,
                    params: list<tuple<string, param-value>>,
                    query: list<tuple<string, string>>,
                    headers: list<tuple<string, string>>,
                    body: list<u8>,
                }
                record response { status: u16, headers: list<tuple<string, string>>, body: list<u8> }
            }
            interface get {
                use types.{request, response};
                handle: func(req: request) -> response;
            }
        }
    ",
    world: "test:api-0-1/route",
    generate_all,
});

struct Legacy;

impl exports::wasmroutes::api::get::Guest for Legacy {
    fn handle(req: wasmroutes::api::types::Request) -> wasmroutes::api::types::Response {
        wasmroutes::api::types::Response {
            status: 200,
            headers: vec![("content-type".into(), "text/plain".into())],
            body: format!("api 0.1: {}", req.path).into_bytes(),
        }
    }
}

export!(Legacy);
