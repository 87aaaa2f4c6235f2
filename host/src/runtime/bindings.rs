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
    exports: { default: async },
});
