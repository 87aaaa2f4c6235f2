//! One route's component, loaded once: compiled, linked, its exported
//! methods found from its type and type-checked, ready to instantiate.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use wasmtime::Store;
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, ComponentExportIndex, InstancePre};

use super::compile_cache::{CacheOutcome, ContentHash, content_hash};
use super::engine::Runtime;
use super::guest_state::GuestState;
use super::{GuestRequest, GuestResponse};
use crate::method::{Method, MethodSet};

/// The WIT package whose interfaces are route handlers.
const API_PACKAGE: &str = "wasmroutes:api";

/// Versions of that package this host can call (semver-compatible with 0.1.0).
const API_VERSION_PREFIX: &str = "0.1.";

/// Why a component cannot serve as a route.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ComponentError {
    /// The file could not be read.
    #[error("cannot read component {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Not a valid WebAssembly component.
    #[error("{} is not a valid WebAssembly component: {message}", path.display())]
    Compile {
        /// The file.
        path: PathBuf,
        /// wasmtime's reason.
        message: String,
    },
    /// Imports something the host does not provide.
    #[error("{} cannot be linked: {message} (routes may import WASI p2 only)", path.display())]
    Link {
        /// The file.
        path: PathBuf,
        /// wasmtime's reason.
        message: String,
    },
    /// Exports no `wasmroutes:api` handler.
    #[error(
        "{} exports no handler: a route exports at least one of `{API_PACKAGE}/get@0.1.0`, `…/post`, `…/put`, `…/patch`, `…/delete`, `…/head`, `…/options` (build it with wasmroutes-sdk's #[route]); it exports: [{}]",
        path.display(),
        exports.join(", ")
    )]
    NoHandlers {
        /// The file.
        path: PathBuf,
        /// What it does export.
        exports: Vec<String>,
    },
    /// Exports a handler interface this host does not know.
    #[error("{} exports `{export}`, which this host cannot call (it speaks {API_PACKAGE}@0.1.x with get, post, put, patch, delete, head, options)", path.display())]
    UnsupportedExport {
        /// The file.
        path: PathBuf,
        /// The export name.
        export: String,
    },
    /// A handler whose signature is not `handle: func(req: request) -> response`.
    #[error("{}: the {method} handler has the wrong type: {message}", path.display())]
    WrongType {
        /// The file.
        path: PathBuf,
        /// Which handler.
        method: Method,
        /// What is wrong.
        message: String,
    },
}

/// A loaded route component.
pub struct RouteComponent {
    path: PathBuf,
    pub(crate) pre: InstancePre<GuestState>,
    handlers: [Option<ComponentExportIndex>; Method::ALL.len()],
    methods: MethodSet,
}

impl RouteComponent {
    /// Reads, compiles and checks the component at `path`.
    pub async fn load(runtime: &Runtime, path: &Path) -> Result<RouteComponent, ComponentError> {
        let (component, _) = Self::compile(runtime, path)?;
        Self::link(runtime, path, component).await
    }

    /// Reads and compiles (or loads from the compile cache) the component at
    /// `path`. Blocking and CPU-heavy: safe to run on several threads.
    pub fn compile(runtime: &Runtime, path: &Path) -> Result<(Component, CacheOutcome), ComponentError> {
        let bytes = std::fs::read(path).map_err(|source| ComponentError::Read { path: path.to_owned(), source })?;
        Self::compile_bytes(runtime, path, &bytes, &content_hash(&bytes))
    }

    /// Compiles (or loads from the compile cache) `bytes`, read from `path`,
    /// whose [`content_hash`] is `hash`. Blocking and CPU-heavy: safe to run
    /// on several threads.
    pub fn compile_bytes(
        runtime: &Runtime,
        path: &Path,
        bytes: &[u8],
        hash: &ContentHash,
    ) -> Result<(Component, CacheOutcome), ComponentError> {
        let compiled = match &runtime.cache {
            Some(cache) => cache.load(&runtime.engine, bytes, hash),
            None => Component::new(&runtime.engine, bytes).map(|c| (c, CacheOutcome::Disabled)),
        };
        compiled.map_err(|e| ComponentError::Compile { path: path.to_owned(), message: format!("{e:#}") })
    }

    /// Links a compiled component, finds its handlers and type-checks them.
    pub async fn link(runtime: &Runtime, path: &Path, component: Component) -> Result<RouteComponent, ComponentError> {
        let pre = runtime
            .linker
            .instantiate_pre(&component)
            .map_err(|e| ComponentError::Link { path: path.to_owned(), message: format!("{e:#}") })?;
        let (handlers, methods) = find_handlers(runtime, &component, path)?;
        let loaded = RouteComponent { path: path.to_owned(), pre, handlers, methods };
        loaded.type_check(runtime).await?;
        Ok(loaded)
    }

    /// The methods this component exports handlers for.
    pub fn methods(&self) -> MethodSet {
        self.methods
    }

    /// The file it was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn handler(&self, method: Method) -> Option<&ComponentExportIndex> {
        self.handlers[method as usize].as_ref()
    }

    /// Instantiates once in a throwaway store and looks every handler up with
    /// its typed signature, so a wrong signature fails at start rather than on
    /// the first request. Instantiation runs no guest code.
    async fn type_check(&self, runtime: &Runtime) -> Result<(), ComponentError> {
        let state = GuestState::new(&[], u64::MAX, Arc::default(), Arc::default(), Arc::from("(load)"), Arc::from("-"));
        let mut store = Store::new(&runtime.engine, state);
        store.limiter(|s| &mut s.limiter);
        store.epoch_deadline_trap();
        store.set_epoch_deadline(u64::MAX / 2);
        let instance = self
            .pre
            .instantiate_async(&mut store)
            .await
            .map_err(|e| ComponentError::Link { path: self.path.clone(), message: format!("{e:#}") })?;
        for method in self.methods.iter() {
            let Some(index) = self.handler(method) else { continue };
            instance.get_typed_func::<(&GuestRequest,), (GuestResponse,)>(&mut store, index).map_err(|e| {
                ComponentError::WrongType { path: self.path.clone(), method, message: format!("{e:#}") }
            })?;
        }
        Ok(())
    }
}

type Handlers = [Option<ComponentExportIndex>; Method::ALL.len()];

/// Reads the component's exports: every `wasmroutes:api/<method>@0.1.x`
/// instance with a `handle` function is a handler.
fn find_handlers(
    runtime: &Runtime,
    component: &Component,
    path: &Path,
) -> Result<(Handlers, MethodSet), ComponentError> {
    let engine = &runtime.engine;
    let mut handlers: Handlers = Default::default();
    let mut methods = MethodSet::default();
    let mut seen = Vec::new();
    let ty = component.component_type();
    for (name, export) in ty.exports(engine) {
        seen.push(name.to_owned());
        let Some(rest) = name.strip_prefix(API_PACKAGE).and_then(|r| r.strip_prefix('/')) else { continue };
        let unsupported = || ComponentError::UnsupportedExport { path: path.to_owned(), export: name.to_owned() };
        let (interface, version) = rest.split_once('@').ok_or_else(unsupported)?;
        let method = Method::from_interface_name(interface).ok_or_else(unsupported)?;
        if !version.starts_with(API_VERSION_PREFIX) {
            return Err(unsupported());
        }
        let wrong_type =
            |message: &str| ComponentError::WrongType { path: path.to_owned(), method, message: message.to_owned() };
        let ComponentItem::ComponentInstance(instance) = export.ty else {
            return Err(wrong_type("expected an exported interface instance"));
        };
        match instance.get_export(engine, "handle").map(|e| e.ty) {
            Some(ComponentItem::ComponentFunc(_)) => {}
            _ => return Err(wrong_type("the interface has no `handle` function")),
        }
        let index = component
            .get_export_index(None, name)
            .and_then(|i| component.get_export_index(Some(&i), "handle"))
            .ok_or_else(|| wrong_type("`handle` cannot be looked up"))?;
        handlers[method as usize] = Some(index);
        methods.insert(method);
    }
    if methods.is_empty() {
        return Err(ComponentError::NoHandlers { path: path.to_owned(), exports: seen });
    }
    Ok((handlers, methods))
}
