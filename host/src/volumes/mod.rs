//! The volume manager: what Docker's Create/Mount/Unmount/Remove/Get mean
//! on this host, for one backend. It owns the per-volume locks, the mount
//! refcounts by Docker mount ID (persisted, reconciled at start) and the
//! attach → find device → format if blank → mount flow and its undo.
//! It never touches a device itself: `storage` does, under its rules.

mod locks;
mod nfs;
mod object;
pub mod state;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use locks::NameLocks;
use state::{Mounted, StateFile};

use crate::config::PluginConfig;
use crate::names::{self, InvalidName};
use crate::runtime::bindings::{
    AttachOptions, BackendError, BlockSource, MountSource, Scope, Volume,
};
use crate::runtime::{Backend, CallError};
use crate::storage::{self, Device, Discovery, StorageError};

/// Docker is handed this directory of the mounted filesystem, not its root,
/// so `lost+found` never shows in a container (REX-Ray does the same).
const DATA_DIR: &str = "data";

#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    #[error(transparent)]
    InvalidName(#[from] InvalidName),
    #[error(transparent)]
    Backend(#[from] CallError),
    #[error("volume {name}: {source}")]
    Storage { name: String, source: StorageError },
    #[error("volume {name}: {what}: {source}")]
    Io {
        name: String,
        what: &'static str,
        source: std::io::Error,
    },
    #[error("volume {name} is mounted for {count} container(s) on this host; stop them first")]
    InUse { name: String, count: usize },
    #[error("saving mount state: {0}")]
    State(std::io::Error),
}

/// A volume as Docker's Get and List show it.
#[derive(Debug, Clone, PartialEq)]
pub struct VolumeView {
    pub name: String,
    /// Set while it is mounted on this host.
    pub mountpoint: Option<PathBuf>,
    pub status: Vec<(String, String)>,
}

/// What `resize` did.
#[derive(Debug)]
pub struct Resized {
    /// The backend's answer after the resize.
    pub volume: Volume,
    pub filesystem: FsGrowth,
}

/// When the filesystem takes the new size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsGrowth {
    /// It was mounted here and grew now.
    Online,
    /// Not mounted here, or online growth refused: the next mount grows it.
    AtNextMount,
}

pub struct VolumeManager {
    driver: String,
    backend: Arc<Backend>,
    mount_root: PathBuf,
    discovery: Discovery,
    state: StateFile,
    locks: NameLocks,
    /// The backend's last answer per volume, for when it cannot answer now.
    known: Mutex<HashMap<String, Vec<(String, String)>>>,
    /// FUSE sessions of the object volumes mounted by this process.
    objects: object::Sessions,
    /// Where object volumes keep their staging files, one directory each.
    staging_root: PathBuf,
}

impl VolumeManager {
    /// A manager for `backend` served as `driver`, keeping its mount state in `state_path`.
    pub fn new(
        driver: &str,
        backend: Arc<Backend>,
        plugin: &PluginConfig,
        state_path: &Path,
    ) -> std::io::Result<Self> {
        Ok(VolumeManager {
            driver: driver.to_string(),
            backend,
            mount_root: plugin.mount_root.clone(),
            discovery: Discovery {
                by_id_dir: plugin.by_id_dir.clone(),
            },
            state: StateFile::open(state_path)?,
            locks: NameLocks::default(),
            known: Mutex::new(HashMap::new()),
            objects: object::Sessions::default(),
            staging_root: state_path
                .parent()
                .unwrap_or(Path::new("."))
                .join("staging"),
        })
    }

    /// dockerd activated the plugin: a new dockerd process, a new session
    /// (see `state` on why mount IDs care).
    pub fn activated(&self) -> Result<(), VolumeError> {
        self.state
            .update(|s| s.session += 1)
            .map_err(VolumeError::State)
    }

    pub fn driver(&self) -> &str {
        &self.driver
    }

    pub fn scope(&self) -> Scope {
        self.backend.info().scope
    }

    pub async fn create(
        &self,
        name: &str,
        options: &[(String, String)],
    ) -> Result<(), VolumeError> {
        names::check("volume", name)?;
        let _lock = self.locks.lock(name).await;
        let volume = self.backend.create(name, options).await?;
        self.remember(name, volume.status);
        Ok(())
    }

    pub async fn remove(&self, name: &str) -> Result<(), VolumeError> {
        names::check("volume", name)?;
        let _lock = self.locks.lock(name).await;
        if let Some(mounted) = self.state.mounted(name) {
            return Err(VolumeError::InUse {
                name: name.into(),
                count: mounted.ids.len(),
            });
        }
        self.backend.remove(name, false).await?;
        self.known.lock().unwrap().remove(name);
        Ok(())
    }

    /// Mount for Docker mount `id`; the first user attaches and mounts, later
    /// ones (and a repeated `id`) just get the path.
    pub async fn mount(&self, name: &str, id: &str) -> Result<PathBuf, VolumeError> {
        names::check("volume", name)?;
        let _lock = self.locks.lock(name).await;
        let existing = self.state.mounted(name);
        let first = existing.is_none();
        let mounted = match existing {
            Some(mounted) => mounted,
            None => self.mount_first(name).await?,
        };
        let data = docker_path(&mounted);
        let recorded = self.state.update(|s| {
            s.mounted.entry(name.to_string()).or_insert(mounted.clone());
            s.add_use(name, id);
        });
        if let Err(err) = recorded {
            // A mount the state file does not know of would never be
            // unmounted: undo it rather than hand it to Docker.
            if first && let Err(undo) = self.unmount_last(name, mounted).await {
                tracing::error!(volume = name, "undoing an unrecorded mount failed: {undo}");
            }
            return Err(VolumeError::State(err));
        }
        tracing::info!(volume = name, id, "mounted");
        Ok(data)
    }

    /// Release Docker mount `id`; the last one unmounts and detaches.
    pub async fn unmount(&self, name: &str, id: &str) -> Result<(), VolumeError> {
        names::check("volume", name)?;
        let _lock = self.locks.lock(name).await;
        let Some(mounted) = self.state.mounted(name) else {
            tracing::info!(
                volume = name,
                id,
                "unmount of a volume not mounted here: nothing to do"
            );
            return Ok(());
        };
        let remaining = self
            .state
            .update(|s| s.drop_use(name, id))
            .map_err(VolumeError::State)?;
        if remaining > 0 {
            return Ok(());
        }
        self.unmount_last(name, mounted).await
    }

    /// Grow the volume to `size_bytes` through the backend, then its
    /// filesystem if it is mounted here (online growth may be refused
    /// without CAP_SYS_RESOURCE: then the next mount grows it).
    pub async fn resize(&self, name: &str, size_bytes: u64) -> Result<Resized, VolumeError> {
        names::check("volume", name)?;
        let _lock = self.locks.lock(name).await;
        let volume = self.backend.resize(name, size_bytes).await?;
        self.remember(name, volume.status.clone());
        let Some(mounted) = self.state.mounted(name) else {
            return Ok(Resized {
                volume,
                filesystem: FsGrowth::AtNextMount,
            });
        };
        let grown = tokio::task::spawn_blocking(move || {
            storage::grow_if_needed(&mounted.device, &mounted.mountpoint, &mounted.fs_type)
        })
        .await
        .expect("grow does not panic");
        let filesystem = match grown {
            Ok(_) => FsGrowth::Online,
            Err(StorageError::OnlineResizeNotPermitted { .. }) => {
                tracing::warn!(
                    volume = name,
                    "online growth not permitted here; the filesystem grows at the next mount"
                );
                FsGrowth::AtNextMount
            }
            Err(source) => return Err(storage_error(name)(source)),
        };
        Ok(Resized { volume, filesystem })
    }

    /// Where the volume is mounted for Docker, if it is.
    pub async fn path(&self, name: &str) -> Result<Option<PathBuf>, VolumeError> {
        names::check("volume", name)?;
        Ok(self.state.mounted(name).map(|m| docker_path(&m)))
    }

    /// The backend's view, or — when it fails — the last one it gave or the
    /// mount state: a transient error must never read as "no such volume".
    pub async fn get(&self, name: &str) -> Result<Option<VolumeView>, VolumeError> {
        names::check("volume", name)?;
        match self.backend.get(name).await {
            Ok(Some(volume)) => {
                self.remember(name, volume.status.clone());
                Ok(Some(self.view(name, volume.status)))
            }
            Ok(None) => {
                self.known.lock().unwrap().remove(name);
                Ok(None)
            }
            Err(err) => self.last_known(name).map(Some).ok_or(err.into()),
        }
    }

    pub async fn list(&self) -> Result<Vec<VolumeView>, VolumeError> {
        match self.backend.list().await {
            Ok(volumes) => Ok(volumes
                .into_iter()
                .map(|v| {
                    self.remember(&v.name, v.status.clone());
                    self.view(&v.name, v.status)
                })
                .collect()),
            Err(err) => {
                let known: Vec<String> = self.known.lock().unwrap().keys().cloned().collect();
                if known.is_empty() {
                    return Err(err.into());
                }
                tracing::warn!(driver = %self.driver, "list failed, answering from the last known volumes: {err}");
                Ok(known.iter().filter_map(|n| self.last_known(n)).collect())
            }
        }
    }

    /// At start: keep mounts that are still there (so a later Unmount works
    /// after a crash), forget the ones that vanished (a reboot).
    pub async fn reconcile(&self) -> Result<(), VolumeError> {
        let mounts = storage::mounts().map_err(|source| VolumeError::Storage {
            name: "*".into(),
            source,
        })?;
        let state = self.state.read();
        for (name, mounted) in &state.mounted {
            let present = mounts.iter().any(|m| m.target == mounted.mountpoint);
            if present && object::is_object(mounted) {
                self.remount_object(name, mounted).await?;
                continue;
            }
            if present {
                tracing::info!(volume = %name, ids = mounted.ids.len(), "still mounted from before the restart");
                continue;
            }
            tracing::warn!(volume = %name, "recorded as mounted but not mounted any more; forgetting it");
            let device = mounted.device.clone();
            let _ = tokio::task::spawn_blocking(move || storage::release(&device)).await;
            if let Err(err) = self.backend.detach(name).await {
                tracing::warn!(volume = %name, "detach after a vanished mount failed: {err}");
            }
            self.state
                .update(|s| s.mounted.remove(name))
                .map_err(VolumeError::State)?;
        }
        Ok(())
    }

    /// An object volume's FUSE session ended with the old process: take
    /// its dead mount down and serve the volume again, keeping its IDs.
    /// Containers that still hold the old mount need restarting (the
    /// kernel cannot hand them the new session).
    async fn remount_object(&self, name: &str, old: &Mounted) -> Result<(), VolumeError> {
        let remounted = match object::clear_stale(name, old).await {
            Ok(()) => self.mount_first(name).await,
            Err(err) => Err(err),
        };
        match remounted {
            Ok(fresh) => {
                tracing::info!(volume = %name, ids = old.ids.len(), "object volume served again after the restart");
                let ids = old.ids.clone();
                self.state
                    .update(|s| s.mounted.insert(name.to_string(), Mounted { ids, ..fresh }))
                    .map_err(VolumeError::State)?;
            }
            Err(err) => {
                tracing::warn!(volume = %name, "cannot serve the object volume again after the restart; forgetting it: {err}");
                self.state
                    .update(|s| s.mounted.remove(name))
                    .map_err(VolumeError::State)?;
            }
        }
        Ok(())
    }

    async fn mount_first(&self, name: &str) -> Result<Mounted, VolumeError> {
        let options = AttachOptions {
            preempt: false,
            read_only: false,
        };
        let source = self.backend.attach(name, options).await?;
        let prepared = match source {
            MountSource::Block(block) => self.prepare_block(name, block).await,
            MountSource::Nfs(source) => {
                let mountpoint = self.mount_root.join(name);
                let scratch = self.staging_root.with_file_name("nfs-root").join(name);
                nfs::mount(name, source, &mountpoint, &scratch).await
            }
            MountSource::Object(source) => {
                let s3 = self.backend.capabilities().s3.clone();
                let mountpoint = self.mount_root.join(name);
                let staging = self.staging_root.join(name);
                object::mount(
                    &self.objects,
                    s3.as_deref(),
                    name,
                    source,
                    &mountpoint,
                    &staging,
                )
                .await
            }
        };
        if prepared.is_err()
            && let Err(err) = self.backend.detach(name).await
        {
            tracing::warn!(
                volume = name,
                "detach after a failed mount failed too: {err}"
            );
        }
        prepared
    }

    /// Find the device, format it only if blank, mount it, grow it, make the
    /// data directory; on any failure undo what was done, in reverse.
    async fn prepare_block(&self, name: &str, block: BlockSource) -> Result<Mounted, VolumeError> {
        let image_dir = self
            .backend
            .capabilities()
            .local_disk
            .as_ref()
            .map(|d| d.dir().to_owned());
        if block.image_file.is_some() && image_dir.is_none() {
            let refused = BackendError::PermissionDenied(
                "the backend named an image file but has no local-disk grant".into(),
            );
            return Err(CallError::Backend(refused).into());
        }
        let image_dir = image_dir.unwrap_or_default();
        let discovery = self.discovery.clone();
        let mountpoint = self.mount_root.join(name);
        let volume = name.to_string();
        tokio::task::spawn_blocking(move || {
            prepare_block(&volume, &block, &image_dir, &discovery, &mountpoint)
        })
        .await
        .expect("prepare_block does not panic")
    }

    async fn unmount_last(&self, name: &str, mounted: Mounted) -> Result<(), VolumeError> {
        if object::is_object(&mounted) {
            object::unmount(&self.objects, name, &mounted).await?;
        } else if nfs::is_nfs(&mounted) {
            nfs::unmount(name, &mounted).await?;
        } else {
            let volume = name.to_string();
            tokio::task::spawn_blocking(move || {
                storage::unmount(&mounted.mountpoint)
                    .and_then(|()| storage::release(&mounted.device))
                    .map_err(|source| VolumeError::Storage {
                        name: volume,
                        source,
                    })
            })
            .await
            .expect("unmount does not panic")?;
        }
        self.state
            .update(|s| s.mounted.remove(name))
            .map_err(VolumeError::State)?;
        // Unmounted here; a failed detach leaves the volume attached to this
        // machine, which the next attach treats as done.
        if let Err(err) = self.backend.detach(name).await {
            tracing::warn!(volume = name, "unmounted, but detach failed: {err}");
        }
        tracing::info!(volume = name, "unmounted");
        Ok(())
    }

    fn remember(&self, name: &str, status: Vec<(String, String)>) {
        self.known.lock().unwrap().insert(name.to_string(), status);
    }

    fn last_known(&self, name: &str) -> Option<VolumeView> {
        let status = self.known.lock().unwrap().get(name).cloned();
        let mounted = self.state.with(|s| s.mounted.contains_key(name));
        match status {
            Some(status) => Some(self.view(name, status)),
            None if mounted => Some(self.view(name, vec![])),
            None => None,
        }
    }

    /// The backend's status plus what this host knows (device, mountpoint).
    fn view(&self, name: &str, mut status: Vec<(String, String)>) -> VolumeView {
        let mounted = self.state.mounted(name);
        if let Some(m) = &mounted {
            status.push(("device".into(), m.device.path.display().to_string()));
            status.push(("mountpoint".into(), m.mountpoint.display().to_string()));
            status.push(("mounts".into(), m.ids.len().to_string()));
        }
        VolumeView {
            name: name.to_string(),
            mountpoint: mounted.as_ref().map(docker_path),
            status,
        }
    }
}

/// The directory Docker gets: the `data` directory of a block filesystem,
/// the root of an object volume (a `data` directory there would be a key
/// prefix every object carries) or of an NFS export (shared with other
/// hosts, and with whatever the export already holds).
fn docker_path(mounted: &Mounted) -> PathBuf {
    if object::is_object(mounted) || nfs::is_nfs(mounted) {
        mounted.mountpoint.clone()
    } else {
        mounted.mountpoint.join(DATA_DIR)
    }
}

/// Wraps a storage failure with the volume it happened to.
fn storage_error(name: &str) -> impl Fn(StorageError) -> VolumeError + Copy + '_ {
    move |source| VolumeError::Storage {
        name: name.into(),
        source,
    }
}

/// The blocking half of a first mount.
fn prepare_block(
    name: &str,
    block: &BlockSource,
    image_dir: &Path,
    discovery: &Discovery,
    mountpoint: &Path,
) -> Result<Mounted, VolumeError> {
    let storage_err = storage_error(name);
    let device = storage::find_block(block, image_dir, discovery).map_err(storage_err)?;
    let mounted = format_and_mount(name, block, &device, mountpoint);
    if mounted.is_err()
        && let Err(err) = storage::release(&device)
    {
        tracing::warn!(
            volume = name,
            "releasing the device after a failed mount failed too: {err}"
        );
    }
    let fs_type = mounted?;
    Ok(Mounted {
        ids: Default::default(),
        mountpoint: mountpoint.to_owned(),
        device,
        fs_type,
    })
}

fn format_and_mount(
    name: &str,
    block: &BlockSource,
    device: &Device,
    mountpoint: &Path,
) -> Result<String, VolumeError> {
    let storage_err = storage_error(name);
    let (formatted, fs_type) =
        storage::ensure_filesystem(&device.path, &block.fs_type, &block.mkfs_options)
            .map_err(storage_err)?;
    tracing::info!(volume = name, device = %device.path.display(), ?formatted, %fs_type, "filesystem ready");
    // Grow before mounting when the volume grew: online ext4 growth needs
    // CAP_SYS_RESOURCE, which a host (or plugin) may not have.
    storage::grow_unmounted(device, &fs_type).map_err(storage_err)?;
    storage::mount(
        &device.path,
        mountpoint,
        &fs_type,
        &block.mount_options,
        false,
    )
    .map_err(storage_err)?;
    let finish = storage::grow_if_needed(device, mountpoint, &fs_type)
        .map_err(storage_err)
        .and_then(|_| {
            std::fs::create_dir_all(mountpoint.join(DATA_DIR)).map_err(|source| VolumeError::Io {
                name: name.into(),
                what: "creating the data directory",
                source,
            })
        });
    if let Err(err) = finish {
        let _ = storage::unmount(mountpoint);
        return Err(err);
    }
    Ok(fs_type)
}
