//! The `#[route]` attribute behind `wasmroutes_sdk::route`.
//!
//! It turns an `impl` block whose functions are named after HTTP methods into a
//! WebAssembly component that exports exactly those methods' handler
//! interfaces from the `wasmroutes:api` WIT package. The host reads the
//! component's exports to learn which methods a route has, so exporting only
//! what the author wrote is what makes `405` + `Allow` and automatic
//! `HEAD`/`OPTIONS` work without instantiating the guest.
//!
//! A handler whose return type is spelled `Streaming` (or `Result<Streaming,
//! …>`) streams: the component exports `<method>-streaming` for it instead of
//! `<method>`, and the generated export sends the status and headers, then
//! runs the body closure against the host's `body-writer`. The macro sees
//! only syntax, so the return type's name is what decides.
//!
//! A handler may carry `#[schema(request = T, response = U, status = 201)]`
//! (wasmroutes-sdk feature `schema`). Then the component also exports
//! `wasmroutes:api/describe`, which returns every handler's doc comment and
//! body schemas for the host's OpenAPI document. Without any `#[schema]` the
//! component is exactly what it was: no extra export, nothing run at load.
//!
//! The WIT package is embedded here from this crate's own `wit/api.wit` (so
//! the crate packages and publishes on its own), which a test keeps identical
//! to the repository's `wit/api.wit`, the file the host binds to. A route
//! crate depends on `wasmroutes-sdk` and nothing else.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote};
use syn::{FnArg, ImplItem, ItemImpl, Type, parse_macro_input, spanned::Spanned};

/// The WIT package every route component implements: a copy of the host's
/// `wit/api.wit`, checked by `the_embedded_wit_is_the_hosts`.
const API_WIT: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/wit/api.wit"));

/// Handler names the macro recognizes, in the order the WIT declares them.
const METHODS: [&str; 7] = ["get", "post", "put", "patch", "delete", "head", "options"];

/// Exports each function of the annotated `impl` block that is named after an
/// HTTP method (`get`, `post`, `put`, `patch`, `delete`, `head`, `options`) as
/// that method's handler. See the `wasmroutes-sdk` crate docs for an example.
#[proc_macro_attribute]
pub fn route(attr: TokenStream, item: TokenStream) -> TokenStream {
    if !attr.is_empty() {
        let err = syn::Error::new(
            TokenStream2::from(attr).span(),
            "#[route] takes no arguments; name the functions after HTTP methods instead",
        );
        return err.to_compile_error().into();
    }
    let mut block = parse_macro_input!(item as ItemImpl);
    match expand(&mut block) {
        Ok(exports) => quote! { #block #exports }.into(),
        Err(err) => {
            let err = err.to_compile_error();
            quote! { #block #err }.into()
        }
    }
}

/// One handler found in the impl block.
struct Handler {
    method: &'static str,
    takes_request: bool,
    /// Returns `Streaming`: exported as `<method>-streaming`.
    streams: bool,
    /// Its doc comment, line by line.
    doc: Vec<String>,
    /// Its `#[schema(..)]`, if any.
    schema: Option<Schema>,
}

/// `#[schema(request = T, response = U, status = N)]`, every part optional.
#[derive(Default)]
struct Schema {
    request: Option<Type>,
    response: Option<Type>,
    status: Option<u16>,
}

fn expand(block: &mut ItemImpl) -> syn::Result<TokenStream2> {
    if !block.generics.params.is_empty() {
        return Err(syn::Error::new(block.generics.span(), "#[route] needs a plain type without generics"));
    }
    let handlers = find_handlers(block)?;
    if handlers.is_empty() {
        return Err(syn::Error::new(
            block.self_ty.span(),
            "#[route] found no handler: name at least one function `get`, `post`, `put`, \
             `patch`, `delete`, `head` or `options`",
        ));
    }

    let self_ty = &block.self_ty;
    let described = handlers.iter().any(|h| h.schema.is_some());
    let wit = inline_wit(&handlers, described);
    let guest_impls = handlers.iter().map(|h| guest_impl(self_ty, h));
    // Only the glue some handler uses, so a route crate builds without
    // dead-code warnings.
    let whole_glue = handlers.iter().any(|h| !h.streams).then(whole_glue);
    let stream_glue = handlers.iter().any(|h| h.streams).then(stream_glue);
    let describe_impl = described.then(|| describe_impl(self_ty, &handlers));
    let require_feature = described.then(|| quote! { ::wasmroutes_sdk::__require_schema_feature!(); });
    Ok(quote! {
        #require_feature
        #[cfg(target_arch = "wasm32")]
        // The generated ABI glue is `unsafe` by nature; route code stays safe.
        #[allow(unsafe_code)]
        const _: () = {
            #[allow(missing_docs, clippy::all, unsafe_code)]
            mod __wasmroutes_bindings {
                ::wasmroutes_sdk::__rt::wit_bindgen::generate!({
                    inline: #wit,
                    world: "wasmroutes:guest/route",
                    runtime_path: "::wasmroutes_sdk::__rt::wit_bindgen::rt",
                    generate_all,
                });
            }
            use __wasmroutes_bindings::wasmroutes::api::types as __wit;

            fn __into_sdk_request(req: __wit::Request) -> ::wasmroutes_sdk::Request {
                use ::wasmroutes_sdk::{Method, ParamValue};
                let method = match req.method {
                    __wit::Method::Get => Method::Get,
                    __wit::Method::Post => Method::Post,
                    __wit::Method::Put => Method::Put,
                    __wit::Method::Patch => Method::Patch,
                    __wit::Method::Delete => Method::Delete,
                    __wit::Method::Head => Method::Head,
                    __wit::Method::Options => Method::Options,
                };
                let params = req
                    .params
                    .into_iter()
                    .map(|(name, value)| {
                        let value = match value {
                            __wit::ParamValue::Single(v) => ParamValue::Single(v),
                            __wit::ParamValue::Segments(v) => ParamValue::Segments(v),
                        };
                        (name, value)
                    })
                    .collect();
                ::wasmroutes_sdk::__rt::request_from_parts(
                    method, req.path, params, req.query, req.headers, req.body,
                )
            }

            #whole_glue
            #stream_glue
            #(#guest_impls)*
            #describe_impl

            __wasmroutes_bindings::export!(#self_ty with_types_in __wasmroutes_bindings);
        };
    })
}

/// Turns what a whole handler returns into the WIT `response`.
fn whole_glue() -> TokenStream2 {
    quote! {
        fn __into_wit_response(resp: impl ::wasmroutes_sdk::IntoResponse) -> __wit::Response {
            let (status, headers, body) = ::wasmroutes_sdk::__rt::response_into_parts(
                ::wasmroutes_sdk::IntoResponse::into_response(resp),
            );
            __wit::Response { status, headers, body }
        }
    }
}

/// The SDK's body writer on top of the host's `body-writer` resource, which
/// only exists in the bindings generated here.
fn stream_glue() -> TokenStream2 {
    quote! {
        fn __into_sdk_stream_error(err: __wit::StreamError) -> ::wasmroutes_sdk::StreamError {
            match err {
                __wit::StreamError::Closed => ::wasmroutes_sdk::StreamError::Closed,
                __wit::StreamError::TimedOut(why) => ::wasmroutes_sdk::StreamError::TimedOut(why),
                __wit::StreamError::TooLarge(why) => ::wasmroutes_sdk::StreamError::TooLarge(why),
                __wit::StreamError::Invalid(why) => ::wasmroutes_sdk::StreamError::Invalid(why),
            }
        }

        struct __HostBody(__wit::BodyWriter);

        impl ::wasmroutes_sdk::__rt::BodySink for __HostBody {
            fn write(&mut self, chunk: &[u8]) -> ::core::result::Result<(), ::wasmroutes_sdk::StreamError> {
                self.0.write(chunk).map_err(__into_sdk_stream_error)
            }
            fn flush(&mut self) -> ::core::result::Result<(), ::wasmroutes_sdk::StreamError> {
                self.0.flush().map_err(__into_sdk_stream_error)
            }
            fn finish(self: ::std::boxed::Box<Self>) -> ::core::result::Result<(), ::wasmroutes_sdk::StreamError> {
                __wit::BodyWriter::finish(self.0).map_err(__into_sdk_stream_error)
            }
        }

        fn __serve_stream(streaming: impl ::wasmroutes_sdk::__rt::IntoStreaming, res: __wit::Responder) {
            ::wasmroutes_sdk::__rt::serve_stream(
                ::wasmroutes_sdk::__rt::IntoStreaming::into_streaming(streaming),
                move |status, headers| {
                    let body = __wit::Responder::start(res, status, &headers).map_err(__into_sdk_stream_error)?;
                    ::core::result::Result::Ok(::std::boxed::Box::new(__HostBody(body)))
                },
            )
        }
    }
}

/// Finds the handlers, and takes their `#[schema(..)]` attributes off the
/// functions (they are the macro's, not the compiler's).
fn find_handlers(block: &mut ItemImpl) -> syn::Result<Vec<Handler>> {
    let mut handlers = Vec::new();
    for item in &mut block.items {
        let ImplItem::Fn(func) = item else { continue };
        let schema = take_schema_attr(&mut func.attrs)?;
        let name = func.sig.ident.to_string();
        let Some(method) = METHODS.iter().find(|m| **m == name) else {
            if let Some((span, _)) = schema {
                return Err(syn::Error::new(span, "#[schema] goes on a handler (`get`, `post`, …)"));
            }
            if METHODS.contains(&name.to_ascii_lowercase().as_str()) {
                return Err(syn::Error::new(
                    func.sig.ident.span(),
                    format!("handlers are lower-case: rename `{name}` to `{}`", name.to_ascii_lowercase()),
                ));
            }
            continue;
        };
        if let Some(receiver) = func.sig.receiver() {
            return Err(syn::Error::new(
                receiver.span(),
                "a handler is an associated function: remove `self` (each request gets a fresh instance)",
            ));
        }
        if func.sig.asyncness.is_some() {
            return Err(syn::Error::new(func.sig.asyncness.span(), "handlers are not async"));
        }
        let takes_request = match func.sig.inputs.len() {
            0 => false,
            1 => {
                check_request_arg(&func.sig.inputs[0])?;
                true
            }
            _ => {
                return Err(syn::Error::new(
                    func.sig.inputs.span(),
                    "a handler takes one argument, `req: Request`, or none",
                ));
            }
        };
        let streams = returns_streaming(&func.sig.output);
        if let (true, syn::ReturnType::Type(_, output)) = (streams, &func.sig.output)
            && matches!(*method, "head" | "options")
        {
            let why = if *method == "head" {
                "without a `head` handler, a HEAD request to a streaming `get` gets its status and headers"
            } else {
                "without an `options` handler, the host answers OPTIONS by itself"
            };
            return Err(syn::Error::new(
                output.span(),
                format!("`{method}` cannot stream: return a whole `Response` ({why})"),
            ));
        }
        let doc = doc_lines(&func.attrs);
        handlers.push(Handler { method, takes_request, streams, doc, schema: schema.map(|(_, s)| s) });
    }
    handlers.sort_by_key(|h| METHODS.iter().position(|m| *m == h.method));
    Ok(handlers)
}

/// Whether a handler returning `output` streams: its type is `Streaming` or
/// `Result<Streaming, …>`, by the last segment of the path.
fn returns_streaming(output: &syn::ReturnType) -> bool {
    match output {
        syn::ReturnType::Default => false,
        syn::ReturnType::Type(_, ty) => is_streaming(ty),
    }
}

fn is_streaming(ty: &Type) -> bool {
    match ty {
        Type::Paren(inner) => is_streaming(&inner.elem),
        Type::Group(inner) => is_streaming(&inner.elem),
        Type::Path(path) => {
            let Some(last) = path.path.segments.last() else { return false };
            if last.ident == "Streaming" {
                return true;
            }
            if last.ident != "Result" {
                return false;
            }
            let syn::PathArguments::AngleBracketed(args) = &last.arguments else { return false };
            matches!(args.args.first(), Some(syn::GenericArgument::Type(ok)) if is_streaming(ok))
        }
        _ => false,
    }
}

/// Removes `#[schema(..)]` from `attrs` and parses it.
fn take_schema_attr(attrs: &mut Vec<syn::Attribute>) -> syn::Result<Option<(Span, Schema)>> {
    let Some(at) = attrs.iter().position(|a| a.path().is_ident("schema")) else { return Ok(None) };
    let attr = attrs.remove(at);
    if let Some(again) = attrs.iter().find(|a| a.path().is_ident("schema")) {
        return Err(syn::Error::new(again.span(), "one #[schema(..)] per handler"));
    }
    let mut schema = Schema::default();
    attr.parse_nested_meta(|meta| {
        if meta.path.is_ident("request") {
            schema.request = Some(meta.value()?.parse()?);
        } else if meta.path.is_ident("response") {
            schema.response = Some(meta.value()?.parse()?);
        } else if meta.path.is_ident("status") {
            let lit: syn::LitInt = meta.value()?.parse()?;
            let status: u16 = lit.base10_parse()?;
            if !(200..=599).contains(&status) {
                return Err(syn::Error::new(lit.span(), "status is 200–599"));
            }
            schema.status = Some(status);
        } else {
            return Err(meta.error("expected `request = Type`, `response = Type` or `status = 201`"));
        }
        Ok(())
    })?;
    Ok(Some((attr.span(), schema)))
}

/// The lines of a doc comment (`///`), without the leading space.
fn doc_lines(attrs: &[syn::Attribute]) -> Vec<String> {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(text), .. }) => Some(text.value()),
                _ => None,
            },
            _ => None,
        })
        .map(|line| line.strip_prefix(' ').map(str::to_owned).unwrap_or(line))
        .collect()
}

/// A doc comment as OpenAPI's `summary` (its first paragraph, on one line)
/// and `description` (the rest).
fn summary_and_description(doc: &[String]) -> (Option<String>, Option<String>) {
    let text = doc.join("\n");
    let text = text.trim();
    let (first, rest) = text.split_once("\n\n").unwrap_or((text, ""));
    let summary = first.split_whitespace().collect::<Vec<_>>().join(" ");
    let rest = rest.trim();
    ((!summary.is_empty()).then_some(summary), (!rest.is_empty()).then(|| rest.to_owned()))
}

/// The `describe` export: every handler's doc comment and schemas.
fn describe_impl(self_ty: &Type, handlers: &[Handler]) -> TokenStream2 {
    let entries = handlers.iter().map(|h| {
        let method = h.method;
        let (summary, description) = summary_and_description(&h.doc);
        let summary = option_tokens(summary.map(|s| quote! { #s }));
        let description = option_tokens(description.map(|d| quote! { #d }));
        let schema = h.schema.as_ref();
        let request = option_tokens(schema.and_then(|s| s.request.as_ref()).map(|t| quote! { __d.schema::<#t>() }));
        let response = option_tokens(schema.and_then(|s| s.response.as_ref()).map(|t| quote! { __d.schema::<#t>() }));
        let status = option_tokens(schema.and_then(|s| s.status).map(|n| quote! { #n }));
        quote! {
            let request = #request;
            let response = #response;
            __d.handler(#method, ::wasmroutes_sdk::describe::HandlerDoc {
                summary: #summary,
                description: #description,
                request,
                response,
                status: #status,
            });
        }
    });
    quote! {
        impl __wasmroutes_bindings::exports::wasmroutes::api::describe::Guest for #self_ty {
            fn describe() -> ::std::string::String {
                let mut __d = ::wasmroutes_sdk::describe::Description::default();
                #(#entries)*
                __d.into_json()
            }
        }
    }
}

fn option_tokens(value: Option<TokenStream2>) -> TokenStream2 {
    match value {
        Some(v) => quote! { ::core::option::Option::Some(#v) },
        None => quote! { ::core::option::Option::None },
    }
}

fn check_request_arg(arg: &FnArg) -> syn::Result<()> {
    if let FnArg::Typed(pat) = arg
        && matches!(&*pat.ty, Type::Path(_))
    {
        return Ok(());
    }
    Err(syn::Error::new(arg.span(), "a handler's argument is `req: Request` (owned)"))
}

/// The WIT a route crate is built against: a world exporting exactly the
/// handlers written (and `describe` when `described`), plus the
/// `wasmroutes:api` package nested in the same text.
fn inline_wit(handlers: &[Handler], described: bool) -> String {
    let (package_line, body) = split_package(API_WIT);
    let version = package_version(package_line);
    let exports: String = handlers
        .iter()
        .map(|h| if h.streams { format!("{}-streaming", h.method) } else { h.method.to_owned() })
        .chain(described.then(|| "describe".to_owned()))
        .map(|interface| format!("  export wasmroutes:api/{interface}@{version};\n"))
        .collect();
    format!("package wasmroutes:guest;\nworld route {{\n{exports}}}\n{package_line} {{\n{body}\n}}\n",)
}

/// Splits `package a:b@v;` off the WIT file so the rest can be nested.
fn split_package(wit: &str) -> (&str, &str) {
    let start = wit
        .lines()
        .find(|line| line.starts_with("package "))
        .map(|line| line.as_ptr() as usize - wit.as_ptr() as usize)
        .expect("wit/api.wit declares its package on a line of its own");
    let end = start + wit[start..].find(';').expect("package line ends with `;`");
    (&wit[start..end], &wit[end + 1..])
}

fn package_version(package_line: &str) -> &str {
    package_line.rsplit('@').next().unwrap_or_default()
}

fn guest_impl(self_ty: &Type, handler: &Handler) -> TokenStream2 {
    let func = syn::Ident::new(handler.method, Span::call_site());
    let call = if handler.takes_request {
        quote! { <#self_ty>::#func(__into_sdk_request(req)) }
    } else {
        quote! {{ let _ = req; <#self_ty>::#func() }}
    };
    if handler.streams {
        let module = format_ident!("{}_streaming", handler.method);
        return quote! {
            impl __wasmroutes_bindings::exports::wasmroutes::api::#module::Guest for #self_ty {
                fn handle(req: __wit::Request, res: __wit::Responder) {
                    __serve_stream(#call, res)
                }
            }
        };
    }
    let module = format_ident!("{}", handler.method);
    quote! {
        impl __wasmroutes_bindings::exports::wasmroutes::api::#module::Guest for #self_ty {
            fn handle(req: __wit::Request) -> __wit::Response {
                __into_wit_response(#call)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{API_WIT, expand, find_handlers, inline_wit, returns_streaming, summary_and_description};

    fn returns(sig: &str) -> bool {
        let func: syn::TraitItemFn = syn::parse_str(&format!("fn get() -> {sig};")).expect("a signature");
        returns_streaming(&func.sig.output)
    }

    #[test]
    fn a_handler_streams_when_it_returns_streaming() {
        for streams in ["Streaming", "wasmroutes_sdk::Streaming", "Result<Streaming>", "Result<Streaming, Error>"] {
            assert!(returns(streams), "{streams}");
        }
        assert!(returns("std::result::Result<(Streaming), MyError>"));
        for whole in
            ["Response", "Result", "Result<Response>", "Result<Response, Streaming>", "Error", "Vec<Streaming>"]
        {
            assert!(!returns(whole), "{whole}");
        }
    }

    #[test]
    fn a_streaming_handler_exports_the_streaming_interface() {
        let mut block: syn::ItemImpl = syn::parse_quote! {
            impl Clock {
                fn get(req: Request) -> Result<Streaming> { Ok(Response::sse(|events| events.comment("tick"))) }
                fn post() -> Response { Response::json(&"posted") }
            }
        };
        let handlers = find_handlers(&mut block).expect("handlers");
        let wit = inline_wit(&handlers, false);
        let version = API_WIT.lines().find_map(|l| l.strip_prefix("package wasmroutes:api@")).expect("a version");
        let version = version.trim_end_matches(';');
        assert!(wit.contains(&format!("export wasmroutes:api/get-streaming@{version};")), "{wit}");
        assert!(wit.contains(&format!("export wasmroutes:api/post@{version};")), "{wit}");
        assert!(!wit.contains("export wasmroutes:api/get@"), "{wit}");
    }

    #[test]
    fn head_and_options_cannot_stream() {
        for method in ["head", "options"] {
            let method = syn::Ident::new(method, proc_macro2::Span::call_site());
            let mut block: syn::ItemImpl = syn::parse_quote! {
                impl Clock {
                    fn #method() -> Streaming { Response::stream(|body| body.write(b"never")) }
                }
            };
            let err = expand(&mut block).expect_err("a compile error").to_string();
            assert!(err.contains(&format!("`{method}` cannot stream")), "{err}");
        }
    }

    #[test]
    fn doc_comments_become_summary_and_description() {
        let doc = |lines: &[&str]| lines.iter().map(|l| (*l).to_owned()).collect::<Vec<_>>();
        let (summary, description) = summary_and_description(&doc(&["Creates a", "user.", "", "Fields as given."]));
        assert_eq!(summary.as_deref(), Some("Creates a user."));
        assert_eq!(description.as_deref(), Some("Fields as given."));
        assert_eq!(summary_and_description(&[]), (None, None));
    }

    #[test]
    fn the_embedded_wit_is_the_hosts() {
        let host = concat!(env!("CARGO_MANIFEST_DIR"), "/../../wit/api.wit");
        let hosts = std::fs::read_to_string(host).expect("the repository's wit/api.wit");
        assert!(API_WIT == hosts, "guest-sdk/macros/wit/api.wit differs from wit/api.wit: copy wit/api.wit over it");
    }
}
