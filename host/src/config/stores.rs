//! The `[key_value_store.NAME]` tables of `routes.toml`.

use std::collections::BTreeMap;
use std::ops::Range;

use toml::Spanned;

use super::env::interpolate;
use super::location::{ConfigError, TomlText};
use super::schema::StoreToml;
use super::{StoreBackend, StoreConfig};
use crate::limits::parse_size;

/// The `[key_value_store.NAME]` tables, plus `default` if none configures it.
pub(super) fn parse_stores(
    tables: BTreeMap<Spanned<String>, Spanned<StoreToml>>,
    toml_text: &TomlText<'_>,
    lookup_env: &dyn Fn(&str) -> Option<String>,
) -> Result<BTreeMap<String, StoreConfig>, ConfigError> {
    let mut stores = BTreeMap::new();
    for (name, table) in tables {
        let invalid = |span: Range<usize>, message: String| toml_text.invalid(span, message);
        let label = format!("key_value_store.{}", name.get_ref());
        check_store_name(name.get_ref()).map_err(|m| invalid(name.span(), format!("{label}: {m}")))?;
        let table_span = table.span();
        let table = table.into_inner();
        let kind = table.kind.ok_or_else(|| {
            invalid(table_span.clone(), format!("{label}: missing `type`: write type = \"embedded\" or \"redis\""))
        })?;
        let backend = match kind.get_ref().as_str() {
            "embedded" => {
                if let Some(url) = &table.url {
                    return Err(invalid(url.span(), format!("{label}: `url` is for type = \"redis\"; remove it")));
                }
                StoreBackend::Embedded
            }
            "redis" => {
                let url = table.url.ok_or_else(|| {
                    invalid(table_span.clone(), format!("{label}: missing `url`, e.g. url = \"${{REDIS_URL}}\""))
                })?;
                let resolved = interpolate(url.get_ref(), lookup_env).map_err(|m| invalid(url.span(), m))?;
                if !(resolved.starts_with("redis://") || resolved.starts_with("redis+unix://")) {
                    return Err(invalid(
                        url.span(),
                        format!(
                            "{label}: `url` must start with redis:// or redis+unix://, e.g. redis://127.0.0.1:6379/0"
                        ),
                    ));
                }
                StoreBackend::Redis { url: resolved }
            }
            other => {
                return Err(invalid(
                    kind.span(),
                    format!("{label}: type must be \"embedded\" or \"redis\", not {other:?}"),
                ));
            }
        };
        let max_value = match &table.max_value {
            None => StoreConfig::DEFAULT_MAX_VALUE,
            Some(v) => {
                let bytes =
                    parse_size(v.get_ref()).map_err(|m| invalid(v.span(), format!("{label}.max_value: {m}")))?;
                if bytes == 0 || bytes > StoreConfig::MAX_MAX_VALUE {
                    return Err(invalid(v.span(), format!("{label}.max_value must be between 1B and 64MiB")));
                }
                bytes
            }
        };
        stores.insert(name.get_ref().clone(), StoreConfig { name: name.into_inner(), backend, max_value });
    }
    stores.entry(StoreConfig::DEFAULT.to_owned()).or_insert_with(StoreConfig::implicit_default);
    Ok(stores)
}

/// Store names: what a route passes to `open`, and a file name for
/// embedded stores, so letters, digits, `_` and `-` only.
pub(super) fn check_store_name(name: &str) -> Result<(), String> {
    let ok = (1..=64).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && !name.starts_with('-');
    if ok { Ok(()) } else { Err(format!("`{name}` is not a valid store name (1 to 64 letters, digits, `_` or `-`)")) }
}
