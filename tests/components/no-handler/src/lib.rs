//! A valid component that exports something, but no `wasmroutes:api` handler:
//! the host must refuse to load it, naming what it does export.

#![allow(unsafe_code, missing_docs)] // wit-bindgen's generated glue

wit_bindgen::generate!({
    inline: "package test:no-handler; world plain { export greet: func() -> string; }",
    world: "test:no-handler/plain",
});

struct Plain;

impl Guest for Plain {
    fn greet() -> String {
        "hi".into()
    }
}

export!(Plain);
