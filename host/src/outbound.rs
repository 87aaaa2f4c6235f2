//! Which outbound HTTP requests a route may make: its `allowed_outbound_hosts`
//! patterns, deny by default. Pure data; the runtime asks it before any
//! request leaves the machine.
//!
//! A pattern is `scheme://host[:port]`: `scheme` is `http` or `https`;
//! `host` is a name, an IP address, or `*.suffix` for any subdomain of
//! `suffix`; `port` is a number or `*`, and defaults to the scheme's port.

use std::fmt;

/// One allowed destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboundRule {
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

/// A route's outbound allow-list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OutboundPolicy {
    rules: Vec<OutboundRule>,
}

impl OutboundRule {
    /// Parses `scheme://host[:port]`.
    pub fn parse(raw: &str) -> Result<OutboundRule, String> {
        let bad = |why: &str| format!("allowed_outbound_hosts entry `{raw}`: {why}");
        let (scheme, rest) = raw.split_once("://").ok_or_else(|| bad("write it as scheme://host[:port]"))?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "http" => 80,
            "https" => 443,
            _ => return Err(bad("the scheme must be http or https")),
        };
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
        Ok(OutboundRule { raw: raw.to_owned(), scheme, host, port })
    }

    fn allows(&self, scheme: &str, host: &str, port: u16) -> bool {
        let host_ok = match &self.host {
            HostPattern::Exact(h) => h == host,
            HostPattern::Subdomains(suffix) => host.ends_with(suffix.as_str()) && host.len() > suffix.len(),
        };
        let port_ok = match self.port {
            PortPattern::Exact(p) => p == port,
            PortPattern::Any => true,
        };
        self.scheme == scheme && host_ok && port_ok
    }
}

impl fmt::Display for OutboundRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl OutboundPolicy {
    /// A policy allowing exactly `rules`.
    pub fn new(rules: Vec<OutboundRule>) -> Self {
        OutboundPolicy { rules }
    }

    /// Whether nothing is allowed (the default).
    pub fn is_deny_all(&self) -> bool {
        self.rules.is_empty()
    }

    /// Whether a request to `scheme://host:port` may leave the machine.
    /// `port` is the explicit port or the scheme's default.
    pub fn allows(&self, scheme: &str, host: &str, port: u16) -> bool {
        let scheme = scheme.to_ascii_lowercase();
        let host = host.to_ascii_lowercase();
        self.rules.iter().any(|r| r.allows(&scheme, &host, port))
    }

    /// Whether `uri` may be requested.
    pub fn allows_uri(&self, uri: &http::Uri) -> bool {
        let (Some(scheme), Some(host)) = (uri.scheme_str(), uri.host()) else { return false };
        let default_port = match scheme {
            "http" => 80,
            "https" => 443,
            _ => return false,
        };
        self.allows(scheme, host, uri.port_u16().unwrap_or(default_port))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(rules: &[&str]) -> OutboundPolicy {
        OutboundPolicy::new(rules.iter().map(|r| OutboundRule::parse(r).unwrap()).collect())
    }

    fn allows(p: &OutboundPolicy, uri: &str) -> bool {
        p.allows_uri(&uri.parse().unwrap())
    }

    #[test]
    fn deny_by_default() {
        let p = OutboundPolicy::default();
        assert!(p.is_deny_all());
        assert!(!allows(&p, "http://127.0.0.1/"));
    }

    #[test]
    fn matches_scheme_host_and_port() {
        let p = policy(&[
            "https://api.example.com",
            "http://127.0.0.1:8080",
            "http://localhost:*",
            "https://*.svc.test",
            "http://[::1]:9000",
        ]);
        let cases = [
            ("https://api.example.com/v1", true),
            ("https://API.example.com:443/v1", true),
            ("http://api.example.com/", false),
            ("https://api.example.com:8443/", false),
            ("https://evil.com/?https://api.example.com", false),
            ("http://127.0.0.1:8080/x", true),
            ("http://127.0.0.1:8081/x", false),
            ("http://127.0.0.1/x", false),
            ("http://localhost:1234/", true),
            ("http://[::1]:9000/", true),
            ("https://a.svc.test/", true),
            ("https://a.b.svc.test/", true),
            ("https://svc.test/", false),
            ("https://evilsvc.test/", false),
        ];
        for (uri, expected) in cases {
            assert_eq!(allows(&p, uri), expected, "{uri}");
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
            let err = OutboundRule::parse(raw).unwrap_err();
            assert!(err.contains(why) && err.contains(raw), "{raw}: {err}");
        }
    }
}
