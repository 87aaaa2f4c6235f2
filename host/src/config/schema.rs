//! What serde reads from `routes.toml` and `route.toml`, before any
//! validation: every value keeps its span, so later errors name a line.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileToml {
    #[serde(default)]
    pub(super) route: Vec<Spanned<RouteKeys>>,
    #[serde(default)]
    pub(super) key_value_store: BTreeMap<Spanned<String>, Spanned<StoreToml>>,
    #[serde(default)]
    pub(super) database: BTreeMap<Spanned<String>, Spanned<DatabaseToml>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DatabaseToml {
    #[serde(rename = "type")]
    pub(super) kind: Option<Spanned<String>>,
    pub(super) url: Option<Spanned<String>>,
    pub(super) migrations: Option<Spanned<String>>,
    pub(super) max_rows: Option<Spanned<u32>>,
    pub(super) max_result_size: Option<Spanned<String>>,
    pub(super) statement_timeout: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StoreToml {
    #[serde(rename = "type")]
    pub(super) kind: Option<Spanned<String>>,
    pub(super) url: Option<Spanned<String>>,
    pub(super) max_value: Option<Spanned<String>>,
}

/// The keys of one route: a `[[route]]` table of `routes.toml`, or a whole
/// `route.toml`. One struct for both (serde's `flatten` would lose the spans
/// and `deny_unknown_fields`); [`super::route::RouteSource`] says which keys are required
/// and which are forbidden.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RouteKeys {
    #[serde(default)]
    pub(super) path: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) component: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) build: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) watch: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) env: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    pub(super) limits: Option<LimitsToml>,
    #[serde(default)]
    pub(super) allowed_outbound_hosts: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) isolation: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) max_requests_per_instance: Option<Spanned<u32>>,
    #[serde(default)]
    pub(super) key_value_stores: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) cors: Option<Spanned<CorsToml>>,
    #[serde(default)]
    pub(super) aot: Option<Spanned<bool>>,
    #[serde(default)]
    pub(super) databases: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LimitsToml {
    pub(super) memory: Option<Spanned<String>>,
    pub(super) timeout: Option<Spanned<String>>,
    pub(super) max_body: Option<Spanned<String>>,
    pub(super) max_concurrency: Option<Spanned<u32>>,
    pub(super) stream_timeout: Option<Spanned<String>>,
    pub(super) stream_idle_timeout: Option<Spanned<String>>,
    pub(super) max_stream_bytes: Option<Spanned<String>>,
}

/// `cors = { origins = [...], headers = [...], max_age = "10m", credentials = true, expose = [...] }`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CorsToml {
    pub(super) origins: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    pub(super) headers: Vec<Spanned<String>>,
    pub(super) max_age: Option<Spanned<String>>,
    pub(super) credentials: Option<Spanned<bool>>,
    #[serde(default)]
    pub(super) expose: Vec<Spanned<String>>,
}
