//! One route's component, loaded once: compiled, linked, its exported
//! methods found from its type and type-checked, ready to instantiate.
//!
//! Two kinds of component can be a route: a `wasmroutes:api` component (one
//! export per HTTP method; the host routes methods) and a standard
//! `wasi:http/proxy` component (one `incoming-handler` that answers every
//! method itself, as built for `wasmtime serve` or Spin). The kind is read
//! from the component's type, never from configuration, and decided here,
//! once ([`ComponentKind`]); each kind has its executor
//! ([`super::executor`]), which runs a request in it. [`super::describe`]
//! reads the optional description, once at load.

use std::path::{Path, PathBuf};

use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, ComponentExportIndex, InstancePre, Resource};
use wasmtime_wasi_http::p2::bindings::ProxyPre;

use super::compile_cache::{CacheOutcome, ContentHash, content_hash};
use super::describe::{self, RouteDescription};
use super::engine::Sandbox;
use super::guest_state::GuestState;
use super::streaming::Responder;
use super::{GuestRequest, GuestResponse};
use crate::routing::method::{Method, MethodSet};

/// The WIT package whose interfaces are route handlers.
const API_PACKAGE: &str = "wasmroutes:api";

/// The optional export describing the handlers ([`super::describe`]).
const DESCRIBE: &str = "describe";

/// Versions of that package this host can call: 0.1.x (whole answers
/// only) and 0.2.x (which added the streaming handlers).
const API_VERSION_PREFIXES: [&str; 2] = ["0.1.", "0.2."];

/// The suffix of a streaming handler's interface (`get-streaming`).
const STREAMING_SUFFIX: &str = "-streaming";

/// The export that makes a component a `wasi:http/proxy` handler (any 0.2.x:
/// wasmtime links a 0.2.x import or export to the host's 0.2 version).
const INCOMING_HANDLER: &str = "wasi:http/incoming-handler@0.2.";

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
        "{} exports no handler: a route exports at least one of `{API_PACKAGE}/get@0.1.0`, `…/post`, `…/put`, `…/patch`, `…/delete`, `…/head`, `…/options` (build it with wasmroutes-sdk's #[route]), or `wasi:http/incoming-handler@0.2.x` (a wasi:http/proxy component); it exports: [{}]",
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
    /// Exports both kinds of handler: which one answers would be a guess.
    #[error("{} exports both `{API_PACKAGE}` handlers and `wasi:http/incoming-handler`; a route component is one or the other", path.display())]
    BothKinds {
        /// The file.
        path: PathBuf,
    },
    /// A `wasi:http/incoming-handler` export of the wrong shape.
    #[error("{}: its `wasi:http/incoming-handler` is not the wasi:http/proxy one: {message}", path.display())]
    WrongProxyType {
        /// The file.
        path: PathBuf,
        /// wasmtime's reason.
        message: String,
    },
    /// A `describe` export of the wrong shape.
    #[error("{}: its `{API_PACKAGE}/describe` export is not `describe: func() -> string`: {message}", path.display())]
    WrongDescribe {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
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
    kind: ComponentKind,
    /// What its `describe` export said, if it has one that answered.
    description: Option<RouteDescription>,
}

/// What the component exports, found at load: which executor runs it.
pub(crate) enum ComponentKind {
    /// `wasmroutes:api`: one handler per method it exports.
    Api(ApiExports),
    /// `wasi:http/proxy`: one `incoming-handler` for every method.
    WasiHttp(ProxyPre<GuestState>),
}

/// A `wasmroutes:api` component's handlers, ready to instantiate and call.
#[derive(Clone)]
pub(crate) struct ApiExports {
    pub(crate) pre: InstancePre<GuestState>,
    handlers: Handlers,
    methods: MethodSet,
}

impl ApiExports {
    /// The methods it has a handler for.
    pub(crate) fn methods(&self) -> MethodSet {
        self.methods
    }

    /// The handler for `method`, if it exports one.
    pub(crate) fn handler(&self, method: Method) -> Option<HandlerExport> {
        self.handlers[method as usize]
    }
}

/// One method's handler export.
#[derive(Clone, Copy, Debug)]
pub(crate) struct HandlerExport {
    pub(crate) index: ComponentExportIndex,
    /// `<method>-streaming`: `handle(req, responder)`, the answer written
    /// as it is produced; otherwise `handle(req) -> response`.
    pub(crate) streams: bool,
}

impl RouteComponent {
    /// Reads, compiles (or loads from the compile cache), links and checks
    /// the component at `path`. Blocking and CPU-heavy, and touches nothing
    /// shared but the engine: safe to run on several threads at once.
    pub fn load(sandbox: &Sandbox, path: &Path) -> Result<(RouteComponent, CacheOutcome), ComponentError> {
        let bytes = std::fs::read(path).map_err(|source| ComponentError::Read { path: path.to_owned(), source })?;
        Self::load_bytes(sandbox, path, &bytes, &content_hash(&bytes))
    }

    /// [`RouteComponent::load`] for `bytes` already read from `path`, whose
    /// [`content_hash`] is `hash`.
    pub fn load_bytes(
        sandbox: &Sandbox,
        path: &Path,
        bytes: &[u8],
        hash: &ContentHash,
    ) -> Result<(RouteComponent, CacheOutcome), ComponentError> {
        let (component, outcome) = Self::compile_bytes(sandbox, path, bytes, hash)?;
        Ok((Self::link(sandbox, path, component)?, outcome))
    }

    /// Compiles (or loads from the compile cache) `bytes`, read from `path`,
    /// whose [`content_hash`] is `hash`. Blocking and CPU-heavy: safe to run
    /// on several threads.
    fn compile_bytes(
        sandbox: &Sandbox,
        path: &Path,
        bytes: &[u8],
        hash: &ContentHash,
    ) -> Result<(Component, CacheOutcome), ComponentError> {
        let compiled = match &sandbox.cache {
            Some(cache) => cache.load(&sandbox.engine, bytes, hash),
            None => Component::new(&sandbox.engine, bytes).map(|c| (c, CacheOutcome::Disabled)),
        };
        compiled.map_err(|e| ComponentError::Compile { path: path.to_owned(), message: format!("{e:#}") })
    }

    /// Links a compiled component, finds its handlers and type-checks them.
    fn link(sandbox: &Sandbox, path: &Path, component: Component) -> Result<RouteComponent, ComponentError> {
        let pre = sandbox
            .linker
            .instantiate_pre(&component)
            .map_err(|e| ComponentError::Link { path: path.to_owned(), message: format!("{e:#}") })?;
        let names: Vec<String> =
            pre.component().component_type().exports(&sandbox.engine).map(|(name, _)| name.to_owned()).collect();
        let is_wasi_http = names.iter().any(|name| name.starts_with(INCOMING_HANDLER));
        let mut describe = None;
        let kind = if is_wasi_http {
            if names.iter().any(|name| name.starts_with(API_PACKAGE)) {
                return Err(ComponentError::BothKinds { path: path.to_owned() });
            }
            let proxy = ProxyPre::new(pre.clone())
                .map_err(|e| ComponentError::WrongProxyType { path: path.to_owned(), message: format!("{e:#}") })?;
            ComponentKind::WasiHttp(proxy)
        } else {
            let (handlers, methods, describe_index) = find_handlers(sandbox, &pre, path)?;
            describe = describe_index;
            ComponentKind::Api(ApiExports { pre: pre.clone(), handlers, methods })
        };
        // What the first instantiation would otherwise do on a request: set
        // up the copy-on-write image of the initial linear memory (for a
        // cached artifact, a mapping of the file; cheap).
        component
            .initialize_copy_on_write_image()
            .map_err(|e| ComponentError::Link { path: path.to_owned(), message: format!("{e:#}") })?;
        // Called once, here; nothing keeps the export afterwards.
        let description = describe.and_then(|index| match describe::read(&pre, path, sandbox, &index) {
            Ok(description) => Some(description),
            Err(why) => {
                tracing::warn!(
                    component = %path.display(),
                    "its `describe` export gave no usable description ({why}); the OpenAPI document describes \
                     it from its exports alone"
                );
                None
            }
        });
        Ok(RouteComponent { path: path.to_owned(), kind, description })
    }

    /// What the component's `describe` export says about its handlers.
    pub fn description(&self) -> Option<&RouteDescription> {
        self.description.as_ref()
    }

    /// The methods this component exports handlers for (a `wasi:http/proxy`
    /// component: all of them).
    pub fn methods(&self) -> MethodSet {
        match &self.kind {
            ComponentKind::Api(exports) => exports.methods,
            ComponentKind::WasiHttp(_) => MethodSet::all(),
        }
    }

    /// The methods as people read them: the `Allow` list, or `ANY (wasi:http)`.
    pub fn methods_label(&self) -> String {
        match &self.kind {
            ComponentKind::Api(exports) => exports.methods.allowed().allow_header(),
            ComponentKind::WasiHttp(_) => "ANY (wasi:http)".to_owned(),
        }
    }

    /// Whether it is a `wasi:http/proxy` component, which answers every
    /// method (and any other) itself.
    pub fn is_wasi_http(&self) -> bool {
        matches!(self.kind, ComponentKind::WasiHttp(_))
    }

    /// Its kind, for the executor that runs it.
    pub(crate) fn kind(&self) -> &ComponentKind {
        &self.kind
    }

    /// The file it was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

type Handlers = [Option<HandlerExport>; Method::ALL.len()];

/// Reads the component's exports: every `wasmroutes:api/<method>@0.1.x`
/// instance with a `handle` function is a handler; `wasmroutes:api/describe`
/// is the optional description.
///
/// Each `handle` is type-checked against the host's `bindgen!` types here,
/// from the component's type alone, so a wrong signature fails at load rather
/// than on the first request. This is the check `get_typed_func` makes on an
/// instance (and the one wasmtime's own `bindgen!` code makes on an
/// `InstancePre`); it replaced a throwaway instantiation per component, which
/// cost a pool slot, a memory-image mapping and a fiber stack each at start.
fn find_handlers(
    sandbox: &Sandbox,
    pre: &InstancePre<GuestState>,
    path: &Path,
) -> Result<(Handlers, MethodSet, Option<ComponentExportIndex>), ComponentError> {
    let component = pre.component();
    let instance_type = pre.instance_type();
    let mut handlers: Handlers = Default::default();
    let mut methods = MethodSet::default();
    let mut describe = None;
    let mut seen = Vec::new();
    let ty = component.component_type();
    for (name, _) in ty.exports(&sandbox.engine) {
        seen.push(name.to_owned());
        let Some(rest) = name.strip_prefix(API_PACKAGE).and_then(|r| r.strip_prefix('/')) else { continue };
        let unsupported = || ComponentError::UnsupportedExport { path: path.to_owned(), export: name.to_owned() };
        let (interface, version) = rest.split_once('@').ok_or_else(unsupported)?;
        if !API_VERSION_PREFIXES.iter().any(|prefix| version.starts_with(prefix)) {
            return Err(unsupported());
        }
        if interface == DESCRIBE {
            describe = Some(find_describe(pre, name, path)?);
            continue;
        }
        let (interface, streams) = match interface.strip_suffix(STREAMING_SUFFIX) {
            Some(method) => (method, true),
            None => (interface, false),
        };
        let method = Method::from_interface_name(interface).ok_or_else(unsupported)?;
        // `HEAD` is `GET`'s head, and `OPTIONS` has nothing to stream.
        if streams && matches!(method, Method::Head | Method::Options) {
            return Err(unsupported());
        }
        let wrong_type = |message: String| ComponentError::WrongType { path: path.to_owned(), method, message };
        let (func, index) = exported_func(component, name, "handle").map_err(wrong_type)?;
        let typed = if streams {
            func.typecheck::<(&GuestRequest, Resource<Responder>), ()>(&instance_type).map_err(|e| {
                format!("`handle` is not `func(req: request, res: responder)` of {API_PACKAGE}@0.2: {e:#}")
            })
        } else {
            func.typecheck::<(&GuestRequest,), (GuestResponse,)>(&instance_type)
                .map_err(|e| format!("`handle` is not `func(req: request) -> response` of {API_PACKAGE}: {e:#}"))
        };
        typed.map_err(wrong_type)?;
        if handlers[method as usize].is_some() {
            return Err(wrong_type(format!(
                "it exports both `{name}` and `{name}{STREAMING_SUFFIX}`: a method answers whole or streams, not both",
                name = method.interface_name()
            )));
        }
        handlers[method as usize] = Some(HandlerExport { index, streams });
        methods.insert(method);
    }
    if methods.is_empty() {
        return Err(ComponentError::NoHandlers { path: path.to_owned(), exports: seen });
    }
    Ok((handlers, methods, describe))
}

/// The `describe` function of the `describe` export `name`, type-checked.
fn find_describe(
    pre: &InstancePre<GuestState>,
    name: &str,
    path: &Path,
) -> Result<ComponentExportIndex, ComponentError> {
    let wrong = |message: String| ComponentError::WrongDescribe { path: path.to_owned(), message };
    let (func, index) = exported_func(pre.component(), name, DESCRIBE).map_err(wrong)?;
    func.typecheck::<(), (String,)>(&pre.instance_type())
        .map_err(|e| wrong(format!("`describe` is not `func() -> string`: {e:#}")))?;
    Ok(index)
}

/// Function `func` of the exported interface `interface`, and its index;
/// the error says which of the two is missing.
fn exported_func(
    component: &Component,
    interface: &str,
    func: &str,
) -> Result<(wasmtime::component::types::ComponentFunc, ComponentExportIndex), String> {
    let instance = match component.get_export(None, interface) {
        Some((ComponentItem::ComponentInstance(_), index)) => index,
        _ => return Err("expected an exported interface instance".to_owned()),
    };
    match component.get_export(Some(&instance), func) {
        Some((ComponentItem::ComponentFunc(found), index)) => Ok((found, index)),
        _ => Err(format!("the interface has no `{func}` function")),
    }
}
