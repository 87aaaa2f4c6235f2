//! Every store of a deployment, each opened when the first route that
//! lists it is loaded and kept for the host's whole life: `serve --watch`
//! reloads swap routes, never stores (a store whose configuration changed
//! needs a restart, and a reload that tries says so). A store no route
//! uses is never opened, so a deployment without key-value routes writes
//! nothing to disk. Each route gets a [`RouteStores`]: only the stores its
//! `key_value_stores` lists, so anything else is denied.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use super::embedded::{EmbeddedBackend, EmbeddedOpenError};
use super::redis::RedisBackend;
use super::store::{Store, StoreLimits};
use crate::config::{StoreBackend, StoreConfig};

/// How long `/readyz` waits for one store to answer.
const PING_TIMEOUT: Duration = Duration::from_secs(1);

/// Why the stores could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoresError {
    /// An embedded store's file cannot be opened (or another process holds it).
    #[error("key-value store `{store}`: {source}")]
    Embedded {
        /// The store.
        store: String,
        /// Why.
        source: EmbeddedOpenError,
    },
    /// A Redis store's configuration is unusable (a bad URL; an unreachable
    /// server is not an error: the store starts unavailable and reconnects).
    #[error("key-value store `{store}`: {message}")]
    Redis {
        /// The store.
        store: String,
        /// Why.
        message: String,
    },
    /// A route lists a store the configuration does not have.
    #[error("key-value store `{0}` is not configured; add a `[key_value_store.{0}]` table")]
    Unconfigured(String),
    /// `routes.toml` no longer configures the stores this host opened.
    #[error("key-value stores changed ({0}); stores are opened once, restart `wasmroutes serve` to apply the change")]
    Changed(String),
}

/// The state of one store, for `/readyz` and the start-up line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreHealth {
    /// The store's name.
    pub name: String,
    /// `"embedded"` or `"redis"`.
    pub kind: &'static str,
    /// `None` when it answered; else why not.
    pub error: Option<String>,
}

/// The configured stores, and the ones open so far.
pub struct Stores {
    configs: BTreeMap<String, StoreConfig>,
    /// Where embedded stores live; `None`: never open anything.
    data_dir: Option<PathBuf>,
    open: Mutex<BTreeMap<String, Arc<Store>>>,
}

impl Stores {
    /// The stores of `configs`, opened as routes need them: embedded ones
    /// under `data_dir`, Redis ones connecting in the background. Use from
    /// inside a tokio runtime.
    pub fn new(configs: &BTreeMap<String, StoreConfig>, data_dir: &Path) -> Stores {
        Stores { configs: configs.clone(), data_dir: Some(data_dir.to_owned()), open: Mutex::default() }
    }

    /// The configuration without opening anything: for commands that load
    /// routes without serving them (`check`, `routes`), so they neither
    /// take an embedded store's lock from a running server nor connect to
    /// Redis. Routes loaded with it can open no store.
    pub fn unopened(configs: &BTreeMap<String, StoreConfig>) -> Stores {
        Stores { configs: configs.clone(), data_dir: None, open: Mutex::default() }
    }

    /// Opens one store (what `wasmroutes kv` does).
    pub fn open_one(config: &StoreConfig, data_dir: &Path) -> Result<Store, StoresError> {
        let limits = StoreLimits { max_value: config.max_value };
        let backend: Arc<dyn super::Backend> = match &config.backend {
            StoreBackend::Embedded => {
                let path = Self::embedded_path(data_dir, &config.name);
                let backend = EmbeddedBackend::open(&path)
                    .map_err(|source| StoresError::Embedded { store: config.name.clone(), source })?;
                Arc::new(backend)
            }
            StoreBackend::Redis { url } => {
                let backend = RedisBackend::new(&config.name, url)
                    .map_err(|e| StoresError::Redis { store: config.name.clone(), message: e.to_string() })?;
                Arc::new(backend)
            }
        };
        Ok(Store::new(&config.name, config.backend.kind(), limits, backend))
    }

    /// The file of the embedded store `name` under `data_dir`.
    pub fn embedded_path(data_dir: &Path, name: &str) -> PathBuf {
        data_dir.join("kv").join(format!("{name}.redb"))
    }

    /// Whether `configs` is what these stores were opened with; a reload
    /// calls it before it loads anything.
    pub fn check_unchanged(&self, configs: &BTreeMap<String, StoreConfig>) -> Result<(), StoresError> {
        match crate::config::named_changes(&self.configs, configs) {
            None => Ok(()),
            Some(changes) => Err(StoresError::Changed(changes)),
        }
    }

    /// The stores a route may open: the ones it lists, opened now if no
    /// route opened them before. `routes.toml` was validated against the
    /// same configuration, so every name is configured; one that is not is
    /// an error, never a store quietly left out.
    pub fn for_route(&self, names: &[String]) -> Result<Arc<RouteStores>, StoresError> {
        let Some(data_dir) = &self.data_dir else { return Ok(Arc::default()) };
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let mut allowed = Vec::with_capacity(names.len());
        for name in names {
            let config = self.configs.get(name).ok_or_else(|| StoresError::Unconfigured(name.clone()))?;
            let store = match open.get(name) {
                Some(store) => Arc::clone(store),
                None => {
                    let store = Arc::new(Self::open_one(config, data_dir)?);
                    open.insert(name.clone(), Arc::clone(&store));
                    store
                }
            };
            allowed.push(store);
        }
        Ok(Arc::new(RouteStores { allowed }))
    }

    /// The stores opened so far.
    pub fn opened(&self) -> Vec<Arc<Store>> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner).values().map(Arc::clone).collect()
    }

    /// Asks every store whether it answers, all at once, each within
    /// `PING_TIMEOUT`.
    pub async fn health(&self) -> Vec<StoreHealth> {
        let checks: Vec<_> = self
            .opened()
            .into_iter()
            .map(|store| {
                tokio::spawn(async move {
                    let error = match tokio::time::timeout(PING_TIMEOUT, store.ping()).await {
                        Ok(Ok(())) => None,
                        Ok(Err(e)) => Some(e.to_string()),
                        Err(_) => Some(format!("unavailable: no answer within {PING_TIMEOUT:?}")),
                    };
                    StoreHealth { name: store.name().to_owned(), kind: store.kind(), error }
                })
            })
            .collect();
        let mut health = Vec::with_capacity(checks.len());
        for check in checks {
            if let Ok(h) = check.await {
                health.push(h);
            }
        }
        health
    }
}

/// The stores one route may open.
#[derive(Default)]
pub struct RouteStores {
    allowed: Vec<Arc<Store>>,
}

impl RouteStores {
    /// The store `name`, if the route declared it.
    pub fn open(&self, name: &str) -> Option<&Arc<Store>> {
        self.allowed.iter().find(|s| s.name() == name)
    }

    /// The names the route declared.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.allowed.iter().map(|s| s.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn configs() -> BTreeMap<String, StoreConfig> {
        [(StoreConfig::DEFAULT.to_owned(), StoreConfig::implicit_default())].into()
    }

    #[test]
    fn stores_open_when_a_route_lists_them_and_only_then() {
        let dir = tempfile::tempdir().expect("temp dir");
        let stores = Stores::new(&configs(), dir.path());
        assert!(stores.for_route(&[]).expect("no stores").names().next().is_none());
        assert!(!Stores::embedded_path(dir.path(), "default").exists(), "nothing opened yet");
        let route = stores.for_route(&["default".to_owned()]).expect("open");
        assert!(route.open("default").is_some() && route.open("other").is_none());
        assert!(Stores::embedded_path(dir.path(), "default").is_file());
        let again = stores.for_route(&["default".to_owned()]).expect("already open");
        assert!(Arc::ptr_eq(route.open("default").expect("a"), again.open("default").expect("b")), "opened once");
        let err = stores.for_route(&["nope".to_owned()]).err().expect("an unconfigured store is an error");
        assert!(err.to_string().contains("`nope` is not configured"), "{err}");
    }

    #[test]
    fn unopened_stores_touch_nothing_and_a_changed_configuration_is_named() {
        let dir = tempfile::tempdir().expect("temp dir");
        let stores = Stores::unopened(&configs());
        assert!(stores.for_route(&["default".to_owned()]).expect("nothing to open").names().next().is_none());
        assert!(std::fs::read_dir(dir.path()).expect("dir").next().is_none());
        stores.check_unchanged(&configs()).expect("same configuration");
        let mut changed = configs();
        changed.get_mut("default").expect("default").max_value = 10;
        changed.insert("x".into(), StoreConfig { name: "x".into(), ..StoreConfig::implicit_default() });
        let err = stores.check_unchanged(&changed).expect_err("changed").to_string();
        assert!(err.contains("`default` changed") && err.contains("`x` added") && err.contains("restart"), "{err}");
    }
}
