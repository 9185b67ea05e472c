//! The host's backends: one engine and module cache shared by all, each
//! backend loaded and checked at start.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{Context, bail};

use crate::config::Config;
use crate::fsutil;
use crate::runtime::cache::ModuleCache;
use crate::runtime::{Backend, LoadContext, engine};

pub struct Host {
    pub config: Config,
    pub backends: BTreeMap<String, Arc<Backend>>,
}

impl Host {
    /// Load every configured backend (or only `only`), failing on the first
    /// that cannot load.
    pub async fn load(config: Config, only: Option<&str>) -> anyhow::Result<Host> {
        let engine = engine::new_engine()
            .map_err(|e| anyhow::anyhow!("starting the WebAssembly engine: {e}"))?;
        let cache = ModuleCache::new(Some(config.cache_dir()));
        fsutil::create_private_dir(&config.data_dir)
            .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
        let mut backends = BTreeMap::new();
        for (name, backend_config) in &config.backends {
            if only.is_some_and(|o| o != name) {
                continue;
            }
            let state_dir = config.backend_dir(name);
            let ctx = LoadContext {
                engine: &engine,
                cache: &cache,
                limits: &config.runtime,
                state_dir: &state_dir,
            };
            backends.insert(
                name.clone(),
                Arc::new(Backend::load(name, backend_config, ctx).await?),
            );
        }
        Ok(Host { config, backends })
    }

    /// The loaded backend called `name`, or the only one when no name is given.
    pub fn backend(&self, name: Option<&str>) -> anyhow::Result<&Arc<Backend>> {
        let name = Self::pick(&self.config, name)?;
        self.backends
            .get(&name)
            .with_context(|| format!("backend {name:?} is not loaded"))
    }

    /// Which backend a command means, before loading: `--backend` or the only one.
    pub fn pick(config: &Config, name: Option<&str>) -> anyhow::Result<String> {
        let known = config
            .backends
            .keys()
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        match name {
            Some(n) if config.backends.contains_key(n) => Ok(n.to_string()),
            Some(n) => bail!("no backend {n:?}; configured: {known}"),
            None if config.backends.len() == 1 => {
                Ok(config.backends.keys().next().unwrap().clone())
            }
            None => bail!("several backends are configured ({known}); choose one with --backend"),
        }
    }
}
