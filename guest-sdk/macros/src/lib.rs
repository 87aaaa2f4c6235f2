//! The `#[route]` attribute behind `wasmroutes_sdk::route`.
//!
//! It turns an `impl` block whose functions are named after HTTP methods into a
//! WebAssembly component that exports exactly those methods' handler
//! interfaces from the `wasmroutes:api` WIT package. The host reads the
//! component's exports to learn which methods a route has, so exporting only
//! what the author wrote is what makes `405` + `Allow` and automatic
//! `HEAD`/`OPTIONS` work without instantiating the guest.
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
    let block = parse_macro_input!(item as ItemImpl);
    match expand(&block) {
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
}

fn expand(block: &ItemImpl) -> syn::Result<TokenStream2> {
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
    let wit = inline_wit(&handlers);
    let guest_impls = handlers.iter().map(|h| guest_impl(self_ty, h));
    Ok(quote! {
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

            fn __into_wit_response(resp: impl ::wasmroutes_sdk::IntoResponse) -> __wit::Response {
                let (status, headers, body) = ::wasmroutes_sdk::__rt::response_into_parts(
                    ::wasmroutes_sdk::IntoResponse::into_response(resp),
                );
                __wit::Response { status, headers, body }
            }

            #(#guest_impls)*

            __wasmroutes_bindings::export!(#self_ty with_types_in __wasmroutes_bindings);
        };
    })
}

fn find_handlers(block: &ItemImpl) -> syn::Result<Vec<Handler>> {
    let mut handlers = Vec::new();
    for item in &block.items {
        let ImplItem::Fn(func) = item else { continue };
        let name = func.sig.ident.to_string();
        let Some(method) = METHODS.iter().find(|m| **m == name) else {
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
        handlers.push(Handler { method, takes_request });
    }
    handlers.sort_by_key(|h| METHODS.iter().position(|m| *m == h.method));
    Ok(handlers)
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
/// handlers written, plus the `wasmroutes:api` package nested in the same text.
fn inline_wit(handlers: &[Handler]) -> String {
    let (package_line, body) = split_package(API_WIT);
    let exports: String = handlers
        .iter()
        .map(|h| format!("  export wasmroutes:api/{}@{};\n", h.method, package_version(package_line)))
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
    let module = format_ident!("{}", handler.method);
    let func = syn::Ident::new(handler.method, Span::call_site());
    let call = if handler.takes_request {
        quote! { <#self_ty>::#func(__into_sdk_request(req)) }
    } else {
        quote! {{ let _ = req; <#self_ty>::#func() }}
    };
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
    use super::API_WIT;

    #[test]
    fn the_embedded_wit_is_the_hosts() {
        let host = concat!(env!("CARGO_MANIFEST_DIR"), "/../../wit/api.wit");
        let hosts = std::fs::read_to_string(host).expect("the repository's wit/api.wit");
        assert!(API_WIT == hosts, "guest-sdk/macros/wit/api.wit differs from wit/api.wit: copy wit/api.wit over it");
    }
}
