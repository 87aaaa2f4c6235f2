//! Everything wasmtime: the engine, loading a route component once, and
//! running one request in a fresh instance of it.
//!
//! Load time does the expensive work (compile, link, find the exported
//! methods, type-check them, build an `InstancePre`); request time only makes a
//! `Store`, instantiates, calls one handler and converts the answer.

mod bindings;
mod compile_cache;
mod component;
mod describe;
mod engine;
mod guest_output;
mod guest_state;
mod invoke;
mod keyvalue;
mod memory_limiter;
mod outbound_hooks;
mod proxy;
mod reuse;

pub use bindings::wasmroutes::api::types::{
    Method as WitMethod, ParamValue as WitParamValue, Request as GuestRequest, Response as GuestResponse,
};
pub use compile_cache::{CacheOutcome, CompileCache, ContentHash, content_hash};
pub use component::{ComponentError, RouteComponent};
pub use describe::{HandlerDescription, RouteDescription};
pub use engine::{EngineConfig, Sandbox};
pub use guest_output::LogBudget;
pub use invoke::{CallTiming, GuestError, Invocation};
pub use reuse::ReusePool;
