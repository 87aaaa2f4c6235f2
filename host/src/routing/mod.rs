//! From a request path to the route that answers it, and which of its
//! exports: pure functions and data (no I/O, no tokio, no wasmtime), so the
//! rules are unit- and property-tested on their own.
//!
//! [`request_path`] normalizes and decodes the path, [`router`] finds the
//! route in a segment trie of [`pattern`]s, and [`method`] picks the export
//! (or the host's own `HEAD`/`OPTIONS`/`405`).

pub mod method;
pub mod pattern;
pub mod request_path;
pub mod router;
