//! On-disk cache of compiled modules, so a restart loads a backend in
//! well under a millisecond instead of compiling it again.
//!
//! Key: SHA-256 of the component bytes plus wasmtime's compatibility hash
//! of the engine (version, target, settings). An artifact that fails to
//! load is recompiled and replaced. Only the host writes this directory
//! (mode 0700): loading an artifact trusts it like native code.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::fsutil;

/// Whether a load compiled the module or found it cached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    Hit,
    Compiled,
}

pub struct ModuleCache {
    dir: Option<PathBuf>,
}

impl ModuleCache {
    /// A cache in `dir`; `None` compiles every time.
    pub fn new(dir: Option<PathBuf>) -> ModuleCache {
        ModuleCache { dir }
    }

    /// Compile `bytes`, or load the artifact compiled earlier.
    pub fn load(
        &self,
        engine: &Engine,
        bytes: &[u8],
    ) -> wasmtime::Result<(Component, CacheOutcome)> {
        let Some(dir) = &self.dir else {
            return Ok((Component::new(engine, bytes)?, CacheOutcome::Compiled));
        };
        let path = dir.join(format!("{}.cwasm", cache_key(engine, bytes)));
        if path.exists() {
            // SAFETY: the artifact was written by this host into its private
            // cache directory, keyed by engine compatibility; wasmtime still
            // checks the header and refuses a mismatched artifact.
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(component) => return Ok((component, CacheOutcome::Hit)),
                Err(err) => {
                    tracing::warn!(path = %path.display(), "cached module unusable, recompiling: {err}")
                }
            }
        }
        let component = Component::new(engine, bytes)?;
        if let Err(err) = store(dir, &path, &component) {
            tracing::warn!(path = %path.display(), "could not cache the compiled module: {err}");
        }
        Ok((component, CacheOutcome::Compiled))
    }
}

fn store(dir: &Path, path: &Path, component: &Component) -> wasmtime::Result<()> {
    fsutil::create_private_dir(dir)?;
    fsutil::write_atomic(path, &component.serialize()?)?;
    Ok(())
}

fn cache_key(engine: &Engine, bytes: &[u8]) -> String {
    let mut hasher = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    format!(
        "{}-{:016x}",
        hex::encode(Sha256::digest(bytes)),
        hasher.finish()
    )
}
