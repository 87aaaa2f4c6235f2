//! Rust types generated from `wit/api.wit`, the same file the guest SDK
//! embeds, so host and guests cannot drift apart.
//!
//! The `any-route` world exports every method; the host never instantiates it
//! as such. Each component exports only some methods, found at load time by
//! `RouteComponent::load`, which then calls them by export index.

#![allow(missing_docs)]

wasmtime::component::bindgen!({
    path: "../wit",
    world: "wasmroutes:api/any-route",
    imports: { default: async | trappable },
    exports: { default: async },
    with: {
        "wasmroutes:api/types.responder": crate::runtime::streaming::Responder,
        "wasmroutes:api/types.body-writer": crate::runtime::streaming::BodyWriter,
    },
});

/// `wasi:keyvalue@0.2.0-draft2` (`wit/deps/keyvalue`), imported by routes
/// that use key-value stores; implemented in `runtime::keyvalue`.
pub mod keyvalue {
    #![allow(missing_docs)]

    wasmtime::component::bindgen!({
        path: "../wit/deps/keyvalue",
        world: "wasi:keyvalue/imports",
        imports: { default: async | trappable },
        with: {
            "wasi:keyvalue/store.bucket": crate::runtime::keyvalue::BucketHandle,
            "wasi:keyvalue/atomics.cas": crate::runtime::keyvalue::CasHandle,
        },
    });
}

/// `wasmroutes:sql@0.1.0` (`wit/deps/sql`), imported by routes that use SQL
/// databases; implemented in `runtime::sql`.
pub mod sql {
    #![allow(missing_docs)]

    wasmtime::component::bindgen!({
        path: "../wit/deps/sql",
        world: "wasmroutes:sql/imports",
        imports: { default: async | trappable },
        with: {
            "wasmroutes:sql/types.connection": crate::runtime::sql::ConnectionHandle,
        },
    });
}
