//! Which outbound HTTP requests a route may make: its `allowed_outbound_hosts`
//! patterns, deny by default. Pure data; the runtime asks it before any
//! request leaves the machine.
//!
//! A pattern is `scheme://host[:port]` ([`crate::origin_pattern`], the
//! syntax `cors.origins` uses too).

use std::fmt;

use crate::origin_pattern::{Origin, OriginPattern};

/// One allowed destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboundRule(OriginPattern);

/// A route's outbound allow-list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OutboundPolicy {
    rules: Vec<OutboundRule>,
}

impl OutboundRule {
    /// Parses `scheme://host[:port]` ([`crate::origin_pattern`]).
    pub fn parse(raw: &str) -> Result<OutboundRule, String> {
        OriginPattern::parse(raw).map(OutboundRule).map_err(|why| format!("allowed_outbound_hosts entry {why}"))
    }
}

impl fmt::Display for OutboundRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
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
        let origin = Origin::new(scheme, host, port);
        self.rules.iter().any(|r| r.0.matches(&origin))
    }

    /// Whether `uri` may be requested.
    pub fn allows_uri(&self, uri: &http::Uri) -> bool {
        Origin::of(uri).is_some_and(|origin| self.rules.iter().any(|r| r.0.matches(&origin)))
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
    fn any_rule_allows() {
        let p = policy(&["https://api.example.com", "http://localhost:*"]);
        assert!(allows(&p, "https://api.example.com/v1"));
        assert!(allows(&p, "http://localhost:1234/"));
        assert!(!allows(&p, "http://api.example.com/"), "the scheme is part of the rule");
        assert!(!allows(&p, "ftp://localhost/"));
    }

    #[test]
    fn errors_name_the_key() {
        let err = OutboundRule::parse("ftp://x").unwrap_err();
        assert!(err.starts_with("allowed_outbound_hosts entry `ftp://x`: ") && err.contains("http or https"), "{err}");
    }
}
