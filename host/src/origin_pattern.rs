//! `scheme://host[:port]` patterns, shared by the two places a route names
//! other sites: `allowed_outbound_hosts` (where its guest may send requests)
//! and `cors.origins` (which browser origins may call it).
//!
//! `scheme` is `http` or `https`; `host` is a name, an IP address, or
//! `*.suffix` for any subdomain of `suffix` (never `suffix` itself); `port`
//! is a number or `*`, and defaults to the scheme's port.

use std::fmt;

/// One `scheme://host[:port]` pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OriginPattern {
    raw: String,
    scheme: String,
    host: HostPattern,
    port: PortPattern,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum HostPattern {
    Exact(String),
    /// `*.example.com`: stored as `.example.com`.
    Subdomains(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PortPattern {
    Exact(u16),
    Any,
}

/// The port `scheme` uses when a URL names none.
pub fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

impl OriginPattern {
    /// Parses `scheme://host[:port]`; the error says what is wrong, for the
    /// caller to prefix with the key it came from.
    pub fn parse(raw: &str) -> Result<OriginPattern, String> {
        let bad = |why: &str| format!("`{raw}`: {why}");
        let (scheme, rest) = raw.split_once("://").ok_or_else(|| bad("write it as scheme://host[:port]"))?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = default_port(&scheme).ok_or_else(|| bad("the scheme must be http or https"))?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains(['/', '?', '#', '@']) {
            return Err(bad("give only scheme, host and port (no path, query or user)"));
        }
        // `[::1]:8080` keeps its brackets, as `http::Uri::host` does.
        let (host, port) = match rest.find(']') {
            Some(end) if rest.starts_with('[') => (&rest[..=end], rest[end + 1..].strip_prefix(':')),
            _ => match rest.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (rest, None),
            },
        };
        let port = match port {
            None => PortPattern::Exact(default_port),
            Some("*") => PortPattern::Any,
            Some(p) => PortPattern::Exact(p.parse().map_err(|_| bad("the port must be a number or *"))?),
        };
        let host = host.to_ascii_lowercase();
        if host.is_empty() {
            return Err(bad("the host is empty"));
        }
        let host = match host.strip_prefix("*.") {
            Some(suffix) if !suffix.is_empty() && !suffix.contains('*') => {
                HostPattern::Subdomains(format!(".{suffix}"))
            }
            _ if host.contains('*') => return Err(bad("a wildcard is allowed only as a leading `*.`")),
            _ => HostPattern::Exact(host),
        };
        Ok(OriginPattern { raw: raw.to_owned(), scheme, host, port })
    }

    /// Whether `origin` matches.
    pub fn matches(&self, origin: &Origin) -> bool {
        let host_ok = match &self.host {
            HostPattern::Exact(h) => *h == origin.host,
            HostPattern::Subdomains(suffix) => {
                origin.host.ends_with(suffix.as_str()) && origin.host.len() > suffix.len()
            }
        };
        let port_ok = match self.port {
            PortPattern::Exact(p) => p == origin.port,
            PortPattern::Any => true,
        };
        self.scheme == origin.scheme && host_ok && port_ok
    }
}

/// The `scheme://host:port` of a URL or an origin, lower-cased and with the
/// port filled in: what patterns are matched against, made once per URL
/// however many patterns there are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    scheme: String,
    host: String,
    port: u16,
}

impl Origin {
    /// `scheme`, `host` and `port` (explicit, or the scheme's default).
    pub fn new(scheme: &str, host: &str, port: u16) -> Origin {
        Origin { scheme: scheme.to_ascii_lowercase(), host: host.to_ascii_lowercase(), port }
    }

    /// The origin of `uri` (any path). `None` for anything that has none
    /// this host understands, such as the origin `null` or an `ftp:` URL.
    pub fn of(uri: &http::Uri) -> Option<Origin> {
        let (scheme, host) = (uri.scheme_str()?.to_ascii_lowercase(), uri.host()?);
        let port = uri.port_u16().or_else(|| default_port(&scheme))?;
        Some(Origin { host: host.to_ascii_lowercase(), scheme, port })
    }
}

impl fmt::Display for OriginPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, uri: &str) -> bool {
        Origin::of(&uri.parse().unwrap()).is_some_and(|o| OriginPattern::parse(pattern).unwrap().matches(&o))
    }

    #[test]
    fn matches_scheme_host_and_port() {
        let cases = [
            ("https://api.example.com", "https://api.example.com/v1", true),
            ("https://api.example.com", "https://API.example.com:443/v1", true),
            ("https://api.example.com", "http://api.example.com/", false),
            ("https://api.example.com", "https://api.example.com:8443/", false),
            ("https://api.example.com", "https://evil.com/?https://api.example.com", false),
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080/x", true),
            ("http://127.0.0.1:8080", "http://127.0.0.1:8081/x", false),
            ("http://127.0.0.1:8080", "http://127.0.0.1/x", false),
            ("http://localhost:*", "http://localhost:1234/", true),
            ("http://[::1]:9000", "http://[::1]:9000/", true),
            ("https://*.svc.test", "https://a.svc.test/", true),
            ("https://*.svc.test", "https://a.b.svc.test/", true),
            ("https://*.svc.test", "https://svc.test/", false),
            ("https://*.svc.test", "https://evilsvc.test/", false),
            ("https://*.svc.test", "https://a.svc.test.evil.com", false),
            ("https://app.test:443", "https://app.test", true),
        ];
        for (pattern, uri, expected) in cases {
            assert_eq!(matches(pattern, uri), expected, "{pattern} vs {uri}");
        }
    }

    #[test]
    fn rejects_bad_patterns() {
        for (raw, why) in [
            ("api.example.com", "scheme://host"),
            ("ftp://x", "http or https"),
            ("https://x/path", "no path"),
            ("https://x:port", "number or *"),
            ("https://a*.x", "leading `*.`"),
            ("https://", "host is empty"),
        ] {
            let err = OriginPattern::parse(raw).unwrap_err();
            assert!(err.contains(why) && err.contains(raw), "{raw}: {err}");
        }
    }
}
