//! HTTP methods a route can export, and the set of them a route has.
//!
//! Method dispatch is data (like axum's `MethodRouter`): each route knows at
//! load time which handlers its component exports, so `405` + `Allow`,
//! automatic `HEAD` and `OPTIONS` are answered without touching the guest.

use std::fmt;

/// A method a route component may export a handler for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Method {
    /// `GET`
    Get,
    /// `HEAD`
    Head,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `PATCH`
    Patch,
    /// `DELETE`
    Delete,
    /// `OPTIONS`
    Options,
}

impl Method {
    /// Every method, in the order `Allow` lists them.
    pub const ALL: [Method; 7] =
        [Method::Get, Method::Head, Method::Post, Method::Put, Method::Patch, Method::Delete, Method::Options];

    /// The name on the wire, e.g. `"GET"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
        }
    }

    /// The name of the WIT interface that handles this method (`get`, …).
    pub fn interface_name(self) -> &'static str {
        match self {
            Method::Get => "get",
            Method::Head => "head",
            Method::Post => "post",
            Method::Put => "put",
            Method::Patch => "patch",
            Method::Delete => "delete",
            Method::Options => "options",
        }
    }

    /// The method for a WIT interface name.
    pub fn from_interface_name(name: &str) -> Option<Method> {
        Method::ALL.into_iter().find(|m| m.interface_name() == name)
    }

    /// The method of an HTTP request, if it is one a route can handle.
    pub fn from_http(method: &http::Method) -> Option<Method> {
        Method::ALL.into_iter().find(|m| m.as_str() == method.as_str())
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of methods (a bitset; cheap to copy).
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct MethodSet(u8);

impl MethodSet {
    /// Every method (a `wasi:http/proxy` route: the component answers all).
    pub fn all() -> MethodSet {
        Method::ALL.into_iter().collect()
    }

    /// Adds `method`.
    pub fn insert(&mut self, method: Method) {
        self.0 |= method.bit();
    }

    /// Whether `method` is in the set.
    pub fn contains(self, method: Method) -> bool {
        self.0 & method.bit() != 0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The methods in `Allow` order.
    pub fn iter(self) -> impl Iterator<Item = Method> {
        Method::ALL.into_iter().filter(move |m| self.contains(*m))
    }

    /// The methods a client may use on a route exporting `self`: the exported
    /// ones, `HEAD` when `GET` is exported, and always `OPTIONS`.
    pub fn allowed(self) -> MethodSet {
        let mut allowed = self;
        if self.contains(Method::Get) {
            allowed.insert(Method::Head);
        }
        allowed.insert(Method::Options);
        allowed
    }

    /// The value of an `Allow` header for this set, e.g. `GET, HEAD, OPTIONS`.
    pub fn allow_header(self) -> String {
        self.iter().map(Method::as_str).collect::<Vec<_>>().join(", ")
    }
}

/// How the host answers a request method on a route, decided from the
/// route's exports alone (no guest is instantiated to decide).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MethodAnswer {
    /// Call this export; `strip_body` for a `HEAD` served by `get`.
    Call {
        /// The handler to call.
        export: Method,
        /// Send the export's status and headers but no body.
        strip_body: bool,
    },
    /// `OPTIONS` without an `options` export: `204` with this `Allow`.
    Options(MethodSet),
    /// `405` with this `Allow`.
    NotAllowed(MethodSet),
}

impl MethodSet {
    /// What a request with `method` (`None`: one no route can export, like
    /// `TRACE`) gets from a route exporting `self`: its own export, `get`
    /// for a `HEAD`, the host's `OPTIONS`, or `405`.
    pub fn answer(self, method: Option<Method>) -> MethodAnswer {
        match method {
            Some(m) if self.contains(m) => MethodAnswer::Call { export: m, strip_body: false },
            Some(Method::Head) if self.contains(Method::Get) => {
                MethodAnswer::Call { export: Method::Get, strip_body: true }
            }
            Some(Method::Options) => MethodAnswer::Options(self.allowed()),
            _ => MethodAnswer::NotAllowed(self.allowed()),
        }
    }
}

impl FromIterator<Method> for MethodSet {
    fn from_iter<I: IntoIterator<Item = Method>>(iter: I) -> Self {
        let mut set = MethodSet::default();
        for m in iter {
            set.insert(m);
        }
        set
    }
}

impl fmt::Debug for MethodSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_adds_head_for_get_and_always_options() {
        let exported: MethodSet = [Method::Post, Method::Get].into_iter().collect();
        assert_eq!(exported.allowed().allow_header(), "GET, HEAD, POST, OPTIONS");
        let post_only: MethodSet = [Method::Post].into_iter().collect();
        assert_eq!(post_only.allowed().allow_header(), "POST, OPTIONS");
    }

    #[test]
    fn answer_calls_the_export_or_falls_back_like_the_server() {
        let get_post: MethodSet = [Method::Get, Method::Post].into_iter().collect();
        let call = |export, strip_body| MethodAnswer::Call { export, strip_body };
        assert_eq!(get_post.answer(Some(Method::Post)), call(Method::Post, false));
        assert_eq!(get_post.answer(Some(Method::Head)), call(Method::Get, true));
        assert_eq!(get_post.answer(Some(Method::Options)), MethodAnswer::Options(get_post.allowed()));
        assert_eq!(get_post.answer(Some(Method::Delete)), MethodAnswer::NotAllowed(get_post.allowed()));
        assert_eq!(get_post.answer(None), MethodAnswer::NotAllowed(get_post.allowed()));
        let with_head: MethodSet = [Method::Get, Method::Head, Method::Options].into_iter().collect();
        assert_eq!(with_head.answer(Some(Method::Head)), call(Method::Head, false));
        assert_eq!(with_head.answer(Some(Method::Options)), call(Method::Options, false));
        let post_only: MethodSet = [Method::Post].into_iter().collect();
        assert_eq!(post_only.answer(Some(Method::Head)), MethodAnswer::NotAllowed(post_only.allowed()));
    }

    #[test]
    fn http_methods_map_case_sensitively() {
        assert_eq!(Method::from_http(&http::Method::DELETE), Some(Method::Delete));
        let lower = http::Method::from_bytes(b"get").unwrap();
        assert_eq!(Method::from_http(&lower), None);
        assert_eq!(Method::from_http(&http::Method::TRACE), None);
    }

    #[test]
    fn interface_names_round_trip() {
        for m in Method::ALL {
            assert_eq!(Method::from_interface_name(m.interface_name()), Some(m));
        }
    }
}
