//! Host capabilities the guests import, one file each.

/// A capability a backend may be granted, by its WIT interface name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Capability {
    Log,
    Kv,
    Instance,
    LocalDisk,
    Ec2,
    S3,
    Efs,
    Http,
}

impl Capability {
    pub const ALL: [Capability; 8] = [
        Capability::Log,
        Capability::Kv,
        Capability::Instance,
        Capability::LocalDisk,
        Capability::Ec2,
        Capability::S3,
        Capability::Efs,
        Capability::Http,
    ];

    /// The WIT interface name, which is also the name used in config.
    pub fn name(self) -> &'static str {
        match self {
            Capability::Log => "log",
            Capability::Kv => "kv",
            Capability::Instance => "instance",
            Capability::LocalDisk => "local-disk",
            Capability::Ec2 => "ec2",
            Capability::S3 => "s3",
            Capability::Efs => "efs",
            Capability::Http => "http",
        }
    }

    pub fn from_name(name: &str) -> Option<Capability> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }

    pub fn known_names() -> String {
        Self::ALL.map(Capability::name).join(", ")
    }
}

pub mod aws;
pub mod ec2;
pub mod efs;
pub mod http;
pub mod instance;
pub mod kv;
pub mod local_disk;
pub mod log;
pub mod s3;

use std::path::Path;
use std::sync::Arc;

use wasmtime::component::{HasSelf, Linker};

use crate::config::BackendConfig;
use crate::runtime::bindings::BackendError;
use crate::runtime::bindings::ballast::backend as wit;
use crate::runtime::store::HostState;

/// What the capabilities of one backend work with. Shared by every call to
/// that backend; a capability that is not granted is `None` and its
/// interface is not linked.
pub struct CapabilityContext {
    pub backend: String,
    pub granted: Vec<Capability>,
    pub kv: Option<Arc<kv::KvStore>>,
    pub local_disk: Option<Arc<local_disk::LocalDisk>>,
    pub instance: Option<Arc<instance::Source>>,
    pub ec2: Option<Arc<ec2::Ec2>>,
    pub s3: Option<Arc<s3::S3>>,
    pub efs: Option<Arc<efs::Efs>>,
    pub http: Option<Arc<http::Http>>,
}

impl CapabilityContext {
    /// Set up the granted capabilities of backend `name`, keeping its files
    /// under `dir`.
    pub fn new(
        name: &str,
        config: &BackendConfig,
        dir: &Path,
    ) -> anyhow::Result<CapabilityContext> {
        let granted = config.granted()?;
        let has = |c| granted.contains(&c);
        Ok(CapabilityContext {
            backend: name.to_string(),
            kv: has(Capability::Kv)
                .then(|| kv::KvStore::open(&dir.join("kv")))
                .transpose()?
                .map(Arc::new),
            local_disk: has(Capability::LocalDisk)
                .then(|| local_disk::LocalDisk::open(&dir.join("images"), config.max_image_gib))
                .transpose()?
                .map(Arc::new),
            instance: has(Capability::Instance)
                .then(|| instance::Source::new(&config.instance))
                .transpose()?
                .map(Arc::new),
            ec2: has(Capability::Ec2)
                .then(|| ec2::Ec2::from_config(name, config))
                .transpose()
                .map_err(|e| anyhow::anyhow!("ec2: {e}"))?
                .map(Arc::new),
            s3: has(Capability::S3)
                .then(|| s3::S3::from_config(name, config))
                .transpose()
                .map_err(|e| anyhow::anyhow!("s3: {e}"))?
                .map(Arc::new),
            efs: has(Capability::Efs)
                .then(|| {
                    efs::Efs::from_config(name, config)
                        .map(|efs| efs.with_scratch_dir(dir.join("efs")))
                })
                .transpose()
                .map_err(|e| anyhow::anyhow!("efs: {e}"))?
                .map(Arc::new),
            http: has(Capability::Http)
                .then(|| http::Http::from_config(name, config))
                .transpose()
                .map_err(|e| anyhow::anyhow!("http: {e}"))?
                .map(Arc::new),
            granted,
        })
    }
}

/// Link WASI (with nothing granted in the context) and the granted capabilities.
pub fn link(linker: &mut Linker<HostState>, granted: &[Capability]) -> wasmtime::Result<()> {
    wasmtime_wasi::p2::add_to_linker_async(linker)?;
    wit::types::add_to_linker::<_, HasSelf<_>>(linker, |s| s)?;
    for cap in granted {
        match cap {
            Capability::Log => wit::log::add_to_linker::<_, HasSelf<_>>(linker, |s| s)?,
            Capability::Kv => wit::kv::add_to_linker::<_, HasSelf<_>>(linker, |s| s)?,
            Capability::Instance => wit::instance::add_to_linker::<_, HasSelf<_>>(linker, |s| s)?,
            Capability::LocalDisk => {
                wit::local_disk::add_to_linker::<_, HasSelf<_>>(linker, |s| s)?
            }
            Capability::Ec2 => wit::ec2::add_to_linker::<_, HasSelf<_>>(linker, |s| s)?,
            Capability::S3 => wit::s3::add_to_linker::<_, HasSelf<_>>(linker, |s| s)?,
            Capability::Efs => wit::efs::add_to_linker::<_, HasSelf<_>>(linker, |s| s)?,
            Capability::Http => wit::http::add_to_linker::<_, HasSelf<_>>(linker, |s| s)?,
        }
    }
    Ok(())
}

impl wit::types::Host for HostState {}

/// The context of a granted capability.
fn granted<T>(context: &Option<Arc<T>>, cap: Capability) -> wasmtime::Result<Arc<T>> {
    context.clone().ok_or_else(|| not_granted(cap))
}

/// A capability reached without a grant: cannot happen through linking,
/// so it is a host bug and traps.
fn not_granted(cap: Capability) -> wasmtime::Error {
    wasmtime::format_err!("capability {} called without a grant", cap.name())
}

/// Run blocking file work off the async threads; a panic there is a bug.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, BackendError> + Send + 'static,
) -> wasmtime::Result<Result<T, BackendError>> {
    Ok(tokio::task::spawn_blocking(work).await?)
}
