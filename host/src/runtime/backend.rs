//! A loaded backend: its checked, compiled module (`InstancePre`, built
//! once), its capabilities, its settings; and the driver calls, each in a
//! fresh instance bounded by memory, CPU and wall-clock. A trap, panic,
//! endless loop or memory bomb fails that call only.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::Linker;
use wasmtime::{Engine, Store, Trap};

use super::bindings::{
    AttachOptions, Backend as Guest, BackendError, BackendInfo, BackendPre, MountSource, Volume,
};
use super::cache::{CacheOutcome, ModuleCache};
use super::inspect::{self, ModuleError, ModuleInfo};
use super::store::{self, CpuBudgetExceeded, HostState, MemoryLimitExceeded, StoreLimits};
use crate::capabilities::{self, CapabilityContext};
use crate::config::{BackendConfig, RuntimeLimits};

/// Why loading a backend failed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("backend {backend:?}: reading module {path}: {source}")]
    Read {
        backend: String,
        path: String,
        source: std::io::Error,
    },
    #[error("backend {backend:?}: {source}")]
    Module {
        backend: String,
        source: ModuleError,
    },
    #[error("backend {backend:?}: {message}")]
    Setup { backend: String, message: String },
    /// The cause is in the message, not chained as a source: printed as a
    /// chain it would show twice.
    #[error("backend {backend:?} refused its settings: {cause}")]
    Init { backend: String, cause: CallError },
}

/// Why a driver call failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The backend answered with an error of the contract.
    #[error("{}", describe(.0))]
    Backend(BackendError),
    #[error("backend {backend:?} {op}: {cause}; the call was stopped")]
    Cpu {
        backend: String,
        op: &'static str,
        cause: CpuBudgetExceeded,
    },
    #[error("backend {backend:?} {op}: {cause}; the call was stopped")]
    Memory {
        backend: String,
        op: &'static str,
        cause: MemoryLimitExceeded,
    },
    #[error("backend {backend:?} {op}: no answer within {secs} s; the call was stopped")]
    Timeout {
        backend: String,
        op: &'static str,
        secs: u64,
    },
    /// The guest trapped or panicked; `detail` holds the trap and whatever
    /// it printed (a panic message).
    #[error("backend {backend:?} {op} crashed: {detail}")]
    Crashed {
        backend: String,
        op: &'static str,
        detail: String,
    },
}

impl CallError {
    /// For a call the host stopped, what stopped it; `None` for the
    /// backend's own answers.
    pub fn guest_failure_kind(&self) -> Option<&'static str> {
        match self {
            CallError::Backend(_) => None,
            CallError::Cpu { .. } => Some("cpu"),
            CallError::Memory { .. } => Some("memory"),
            CallError::Timeout { .. } => Some("timeout"),
            CallError::Crashed { .. } => Some("trap"),
        }
    }
}

/// "invalid argument: size must be ..." and so on.
pub fn describe(e: &BackendError) -> String {
    let (kind, msg) = match e {
        BackendError::NotFound(m) => ("not found", m),
        BackendError::AlreadyExists(m) => ("already exists", m),
        BackendError::InvalidArgument(m) => ("invalid argument", m),
        BackendError::Conflict(m) => ("conflict", m),
        BackendError::Unavailable(m) => ("unavailable, retry later", m),
        BackendError::PermissionDenied(m) => ("permission denied", m),
        BackendError::Internal(m) => ("internal error", m),
    };
    format!("{kind}: {msg}")
}

/// One driver call: a fresh instance, `init`, then the operation, all
/// under one wall-clock deadline.
macro_rules! call {
    ($self:ident, $op:literal, |$driver:ident, $store:ident| $call:expr) => {{
        let deadline =
            tokio::time::Instant::now() + Duration::from_secs($self.limits.call_timeout_secs);
        let (mut store, instance, _) = $self.instantiate($op, deadline).await?;
        let result = $self
            .bounded($op, deadline, async {
                let $driver = instance.ballast_backend_driver();
                let $store = &mut store;
                $call.await
            })
            .await;
        $self.settle($op, result, &store)
    }};
}

pub struct Backend {
    name: String,
    engine: Engine,
    pre: BackendPre<HostState>,
    caps: Arc<CapabilityContext>,
    settings: Vec<(String, String)>,
    limits: RuntimeLimits,
    info: BackendInfo,
    module: ModuleInfo,
    cache_outcome: CacheOutcome,
}

/// Everything `Backend::load` needs from the host.
pub struct LoadContext<'a> {
    pub engine: &'a Engine,
    pub cache: &'a ModuleCache,
    pub limits: &'a RuntimeLimits,
    /// The backend's own state directory (kv, images).
    pub state_dir: &'a Path,
}

impl Backend {
    /// Check, compile (or load from cache), link and `init` a backend, so a
    /// bad module or bad settings fail at start, not at the first request.
    pub async fn load(
        name: &str,
        config: &BackendConfig,
        ctx: LoadContext<'_>,
    ) -> Result<Backend, LoadError> {
        let setup = |message: String| LoadError::Setup {
            backend: name.into(),
            message,
        };
        let bytes = module_bytes(name, &config.module)?;
        let module = inspect::inspect(&bytes).map_err(|source| LoadError::Module {
            backend: name.into(),
            source,
        })?;
        let granted = config.granted().map_err(|e| setup(e.to_string()))?;
        module.check(&granted).map_err(|source| LoadError::Module {
            backend: name.into(),
            source,
        })?;

        let (component, cache_outcome) = ctx
            .cache
            .load(ctx.engine, &bytes)
            .map_err(|e| setup(format!("compiling module: {e:#}")))?;
        let mut linker = Linker::new(ctx.engine);
        capabilities::link(&mut linker, &granted).map_err(|e| setup(format!("linking: {e:#}")))?;
        let pre = linker
            .instantiate_pre(&component)
            .and_then(BackendPre::new)
            .map_err(|e| setup(format!("linking module: {e:#}")))?;
        let caps = CapabilityContext::new(name, config, ctx.state_dir).map_err(|e| {
            setup(format!(
                "setting up capabilities in {}: {e:#}",
                ctx.state_dir.display()
            ))
        })?;

        let mut backend = Backend {
            name: name.to_string(),
            engine: ctx.engine.clone(),
            pre,
            caps: Arc::new(caps),
            settings: guest_settings(&config.settings),
            limits: ctx.limits.clone(),
            info: placeholder_info(),
            module,
            cache_outcome,
        };
        let deadline =
            tokio::time::Instant::now() + Duration::from_secs(ctx.limits.call_timeout_secs);
        let (_, _, info) = backend
            .instantiate("init", deadline)
            .await
            .map_err(|cause| LoadError::Init {
                backend: name.into(),
                cause,
            })?;
        backend.info = info;
        tracing::info!(backend = name, kind = ?backend.info.kind, version = %backend.info.version, cache = ?cache_outcome, "backend loaded");
        Ok(backend)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn info(&self) -> &BackendInfo {
        &self.info
    }

    pub fn module(&self) -> &ModuleInfo {
        &self.module
    }

    pub fn cache_outcome(&self) -> CacheOutcome {
        self.cache_outcome
    }

    pub fn capabilities(&self) -> &CapabilityContext {
        &self.caps
    }

    pub async fn create(
        &self,
        name: &str,
        options: &[(String, String)],
    ) -> Result<Volume, CallError> {
        let options = options.to_vec();
        call!(self, "create", |d, s| d.call_create(s, name, &options))
    }

    pub async fn get(&self, name: &str) -> Result<Option<Volume>, CallError> {
        call!(self, "get", |d, s| d.call_get(s, name))
    }

    pub async fn list(&self) -> Result<Vec<Volume>, CallError> {
        call!(self, "list", |d, s| d.call_list(s))
    }

    pub async fn remove(&self, name: &str, force: bool) -> Result<(), CallError> {
        call!(self, "remove", |d, s| d.call_remove(s, name, force))
    }

    pub async fn resize(&self, name: &str, size_bytes: u64) -> Result<Volume, CallError> {
        call!(self, "resize", |d, s| d.call_resize(s, name, size_bytes))
    }

    pub async fn attach(
        &self,
        name: &str,
        options: AttachOptions,
    ) -> Result<MountSource, CallError> {
        call!(self, "attach", |d, s| d.call_attach(s, name, options))
    }

    pub async fn detach(&self, name: &str) -> Result<(), CallError> {
        call!(self, "detach", |d, s| d.call_detach(s, name))
    }

    /// A fresh store and instance, with `init(settings)` already called.
    async fn instantiate(
        &self,
        op: &'static str,
        deadline: tokio::time::Instant,
    ) -> Result<(Store<HostState>, Guest, BackendInfo), CallError> {
        let limits = StoreLimits {
            memory_bytes: (self.limits.memory_limit_mib * 1024 * 1024) as usize,
            cpu_ms: self.limits.cpu_limit_ms,
        };
        let mut store = store::new_store(&self.engine, self.caps.clone(), limits);
        let result = self
            .bounded(op, deadline, async {
                let instance = self.pre.instantiate_async(&mut store).await?;
                let info = instance
                    .ballast_backend_driver()
                    .call_init(&mut store, &self.settings)
                    .await?;
                Ok(info.map(|info| (instance, info)))
            })
            .await;
        let (instance, info) = self.settle(op, result, &store)?;
        Ok((store, instance, info))
    }

    /// Run a guest future until the call's deadline.
    async fn bounded<T>(
        &self,
        op: &'static str,
        deadline: tokio::time::Instant,
        fut: impl Future<Output = wasmtime::Result<Result<T, BackendError>>>,
    ) -> Result<wasmtime::Result<Result<T, BackendError>>, CallError> {
        let secs = self.limits.call_timeout_secs;
        tokio::time::timeout_at(deadline, fut)
            .await
            .map_err(|_| CallError::Timeout {
                backend: self.name.clone(),
                op,
                secs,
            })
    }

    /// Turn what the guest did into the call's outcome.
    fn settle<T>(
        &self,
        op: &'static str,
        result: Result<wasmtime::Result<Result<T, BackendError>>, CallError>,
        store: &Store<HostState>,
    ) -> Result<T, CallError> {
        let outcome = match result {
            Ok(Ok(answer)) => answer.map_err(CallError::Backend),
            Ok(Err(trap)) => Err(self.classify(op, trap, &store.data().output.text())),
            Err(timeout) => Err(timeout),
        };
        if let Some(kind) = outcome
            .as_ref()
            .err()
            .and_then(CallError::guest_failure_kind)
        {
            crate::metrics::record_guest_failure(&self.name, kind);
            tracing::warn!(backend = %self.name, op, kind, "guest call stopped: {}", outcome.as_ref().err().unwrap());
        }
        outcome
    }

    fn classify(&self, op: &'static str, err: wasmtime::Error, output: &str) -> CallError {
        let backend = self.name.clone();
        if let Some(cause) = err.downcast_ref::<CpuBudgetExceeded>() {
            return CallError::Cpu {
                backend,
                op,
                cause: CpuBudgetExceeded { ms: cause.ms },
            };
        }
        if let Some(cause) = err.downcast_ref::<MemoryLimitExceeded>() {
            let cause = MemoryLimitExceeded {
                asked_mib: cause.asked_mib,
                limit_mib: cause.limit_mib,
            };
            return CallError::Memory { backend, op, cause };
        }
        let trap = match err.downcast_ref::<Trap>() {
            Some(trap) => trap.to_string(),
            None => format!("{err:#}"),
        };
        // A Rust panic prints its message, then traps with `unreachable`.
        let detail = match last_lines(output, 3) {
            printed if printed.is_empty() => trap,
            printed => format!("{trap}; it printed: {printed}"),
        };
        CallError::Crashed {
            backend,
            op,
            detail,
        }
    }
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}

/// The settings a guest's `init` sees: all but credentials, which only
/// the host's capabilities use.
fn guest_settings(settings: &BTreeMap<String, String>) -> Vec<(String, String)> {
    settings
        .iter()
        .filter(|(k, _)| !capabilities::aws::is_secret_setting(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn module_bytes(backend: &str, module: &str) -> Result<Vec<u8>, LoadError> {
    if let Some(found) = super::builtin::lookup(module) {
        return found
            .map(<[u8]>::to_vec)
            .map_err(|message| LoadError::Setup {
                backend: backend.into(),
                message,
            });
    }
    std::fs::read(module).map_err(|source| LoadError::Read {
        backend: backend.into(),
        path: module.into(),
        source,
    })
}

fn placeholder_info() -> BackendInfo {
    use super::bindings::{Scope, VolumeKind};
    BackendInfo {
        name: String::new(),
        version: String::new(),
        kind: VolumeKind::Block,
        scope: Scope::Local,
        description: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_reach_the_guest() {
        let settings: BTreeMap<String, String> = [
            ("EBS_REGION", "eu-west-1"),
            ("EBS_ACCESSKEY", "AKIDEXAMPLE"),
            ("ebs_secretkey", "secret"),
            ("access_key", "AKID2"),
            ("Secret_Key", "secret2"),
            ("default_size", "1GiB"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let seen = guest_settings(&settings);
        let keys: Vec<&str> = seen.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["EBS_REGION", "default_size"]);
        assert!(!seen.iter().any(|(_, v)| v.contains("secret")));
    }
}
