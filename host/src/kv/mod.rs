//! Key-value stores for routes: the host side of the standard
//! `wasi:keyvalue@0.2.0-draft2` (`wit/deps/keyvalue`).
//!
//! - [`backend`]: the trait every storage implements, and its errors.
//! - [`embedded`]: the durable default, a redb file per store with group
//!   commit (one transaction and one fsync for all concurrent writers).
//! - [`redis`]: a Redis server shared by many hosts.
//! - [`store`]: one configured store, enforcing its limits in front of
//!   its backend; what guests (through `runtime::keyvalue`) and the
//!   `wasmroutes kv` command both use.
//! - [`stores`]: every store of a deployment, opened once at start and kept
//!   across reloads, and the subset each route may open.

pub mod backend;
pub mod embedded;
pub mod redis;
pub mod store;
pub mod stores;

pub use backend::{Backend, KeyPage, KvError};
pub use store::{Store, StoreLimits};
pub use stores::{RouteStores, StoreHealth, Stores, StoresError};
