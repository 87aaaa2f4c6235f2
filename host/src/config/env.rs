//! `${VAR}` in `routes.toml` values, resolved from the host's environment.

pub(super) fn is_env_name(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Replaces each `${NAME}` with the host's value; an unset one is an error so
/// a missing secret is caught at start, not by the first request.
pub(super) fn interpolate(value: &str, lookup_env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}').ok_or_else(|| format!("unclosed `${{` in `{value}`"))?;
        let name = &after[..end];
        if !is_env_name(name) {
            return Err(format!("`${{{name}}}` is not a valid environment variable reference"));
        }
        let resolved = lookup_env(name)
            .ok_or_else(|| format!("environment variable `{name}` is not set (referenced as `${{{name}}}`)"))?;
        out.push_str(&resolved);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolation_rules() {
        let env = |name: &str| (name == "A").then(|| "1".to_owned());
        assert_eq!(interpolate("x${A}y${A}", &env).unwrap(), "x1y1");
        assert_eq!(interpolate("$A and $", &env).unwrap(), "$A and $");
        assert!(interpolate("${A", &env).unwrap_err().contains("unclosed"));
        assert!(interpolate("${B}", &env).unwrap_err().contains("`B` is not set"));
    }
}
