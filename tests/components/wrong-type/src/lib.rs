//! Exports `wasmroutes:api/get@0.1.0` with a `handle` of the wrong type: the
//! host must refuse to load it at start, not fail on the first request.

#![allow(unsafe_code, missing_docs)] // wit-bindgen's generated glue

wit_bindgen::generate!({
    inline: "
        package test:wrong;
        world route { export wasmroutes:api/get@0.1.0; }
        package wasmroutes:api@0.1.0 {
            interface get { handle: func(n: u32) -> u32; }
        }
    ",
    world: "test:wrong/route",
});

struct Wrong;

impl exports::wasmroutes::api::get::Guest for Wrong {
    fn handle(n: u32) -> u32 {
        n
    }
}

export!(Wrong);
