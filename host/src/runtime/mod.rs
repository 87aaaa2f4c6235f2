//! Everything wasmtime: the engine, loading a route component once, and
//! running one request in it.
//!
//! Load time does the expensive work (compile, link, find the exported
//! methods, type-check them, decide the kind of component, build an
//! `InstancePre`); request time is an [`executor`]'s: make a `Store` from the
//! route's [`RouteContext`], instantiate, call the guest, convert the answer.

mod bindings;
mod compile_cache;
mod component;
mod describe;
mod engine;
pub mod executor;
mod guest_call;
mod guest_error;
mod guest_output;
mod guest_state;
mod keyvalue;
mod memory_limiter;
mod outbound_hooks;
pub mod pool_tuning;
pub mod request_body;
pub mod response_body;
mod route_context;
mod sql;
mod streaming;

use bindings::wasmroutes::api::types::{
    Method as WitMethod, ParamValue as WitParamValue, Request as GuestRequest, Response as GuestResponse,
};
pub use compile_cache::{CacheOutcome, CompileCache, ContentHash, content_hash};
pub use component::{ComponentError, RouteComponent};
pub use describe::{HandlerDescription, RouteDescription};
pub use engine::{EngineConfig, Sandbox};
pub use executor::{CallTiming, Executor};
pub use guest_error::GuestError;
pub use guest_output::LogBudget;
pub use pool_tuning::PoolTuning;
pub use route_context::RouteContext;
