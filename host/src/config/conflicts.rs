//! The one overlap check, by the router's own rules: `serve`, `check`,
//! `--dir` and `wasmroutes new` all refuse the same pairs of routes with the
//! same message, naming where both are defined.

use super::RouteConfig;
use super::location::ConfigError;
use crate::routing::router::Router;

/// Refuses the first route (in order) that clashes with an earlier one.
pub fn check_conflicts(routes: &[RouteConfig]) -> Result<(), ConfigError> {
    let mut router: Router<usize> = Router::new();
    for (index, route) in routes.iter().enumerate() {
        router.insert(route.pattern.clone(), index).map_err(|conflict| {
            let earlier = router.iter().find(|(pattern, _)| pattern.as_str() == conflict.with).map(|(_, &i)| i);
            ConfigError::Conflict { at: route.at.clone(), other: earlier.map(|i| routes[i].at.clone()), conflict }
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::RoutesConfig;

    #[test]
    fn names_both_entries_and_the_reason() {
        let text = "[[route]]\npath = \"/a/[x]\"\ncomponent = \"a.wasm\"\n\n[[route]]\npath = \"/a/[y]\"\ncomponent = \"b.wasm\"\n";
        // Parsing runs the check, so a clashing manifest never parses.
        let err = RoutesConfig::parse(Path::new("r.toml"), text, &|_| None).expect_err("clash").to_string();
        assert!(err.starts_with("r.toml:5:1: route `/a/[y]` conflicts with route `/a/[x]`: "), "{err}");
        assert!(err.contains("param names"), "{err}");
        assert!(err.ends_with("; rename or remove one of the two (`/a/[x]` is at r.toml:1:1)"), "{err}");
        let (first, _) = text.split_at(text.find("\n\n").expect("two entries"));
        let one = RoutesConfig::parse(Path::new("r.toml"), first, &|_| None).expect("one route parses");
        assert!(check_conflicts(&one.routes).is_ok());
    }
}
