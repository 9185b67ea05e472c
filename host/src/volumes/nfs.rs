//! NFS volumes (EFS): the backend's `nfs` mount source becomes a kernel
//! NFS 4 mount at the volume's mountpoint, which Docker gets as it is (the
//! export is the volume's root; there is no `lost+found` to hide).
//!
//! The mount lives in the kernel, not in this process: after a host restart
//! it is still there and is kept, like a block mount. The state file
//! records it with the source as its "device" and `nfs4` as its type.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use super::VolumeError;
use super::state::Mounted;
use crate::runtime::CallError;
use crate::runtime::bindings::{BackendError, NfsSource};
use crate::storage::nfs::{self, Mkdir, NfsRequest};
use crate::storage::{Device, StorageError};

/// What an NFS mount records as its filesystem type (as the kernel shows it).
pub const FS_TYPE: &str = "nfs4";

pub fn is_nfs(mounted: &Mounted) -> bool {
    mounted.fs_type == FS_TYPE
}

/// Mount `source` for volume `name` at `mountpoint`. When the export path
/// is missing and the source asks for it (`ballast-mkdir`), the host
/// creates it through a temporary mount of the server's root at `scratch`,
/// then mounts again.
pub async fn mount(
    name: &str,
    source: NfsSource,
    mountpoint: &Path,
    scratch: &Path,
) -> Result<Mounted, VolumeError> {
    let (options, mkdir) = nfs::host_options(&source.options).map_err(invalid)?;
    let request = nfs::request(&source.server, &source.export_path, &options, nfs::resolve)
        .map_err(invalid)?;
    let volume = name.to_string();
    let (target, scratch) = (mountpoint.to_owned(), scratch.to_owned());
    let root = mkdir
        .map(|m| {
            Ok::<_, VolumeError>((
                m,
                nfs::request(&source.server, "/", &options, nfs::resolve).map_err(invalid)?,
            ))
        })
        .transpose()?;
    let export = source.export_path.clone();
    tokio::task::spawn_blocking(move || {
        mount_blocking(&volume, &request, &export, root, &target, &scratch)
    })
    .await
    .expect("NFS mount does not panic")?;
    tracing::info!(volume = name, source = %format!("{}:{}", source.server, source.export_path), "NFS volume mounted");
    Ok(Mounted {
        ids: Default::default(),
        mountpoint: mountpoint.to_owned(),
        device: Device {
            path: PathBuf::from(request_source(&source)),
            loop_of: None,
        },
        fs_type: FS_TYPE.into(),
    })
}

fn mount_blocking(
    name: &str,
    request: &NfsRequest,
    export: &str,
    root: Option<(Mkdir, NfsRequest)>,
    target: &Path,
    scratch: &Path,
) -> Result<(), VolumeError> {
    let storage_err = super::storage_error(name);
    std::fs::create_dir_all(target).map_err(|source| VolumeError::Io {
        name: name.into(),
        what: "creating the mountpoint",
        source,
    })?;
    match nfs::mount(request, target, nfs::MOUNT_TIMEOUT) {
        Err(StorageError::MountFailed { source, .. }) if source.kind() == ErrorKind::NotFound => {
            let Some((mkdir, root)) = root else {
                return Err(storage_err(StorageError::ExportMissing {
                    export: request.source.clone(),
                    hint: " (the backend did not ask the host to create it)",
                }));
            };
            nfs::ensure_export(&root, export, &mkdir, scratch).map_err(storage_err)?;
            nfs::mount(request, target, nfs::MOUNT_TIMEOUT).map_err(storage_err)
        }
        done => done.map_err(storage_err),
    }
}

/// Unmount an NFS volume (bounded: a server that stopped answering does not
/// hang the request for ever).
pub async fn unmount(name: &str, mounted: &Mounted) -> Result<(), VolumeError> {
    let target = mounted.mountpoint.clone();
    let volume = name.to_string();
    tokio::task::spawn_blocking(move || {
        nfs::unmount(&target, nfs::MOUNT_TIMEOUT).map_err(super::storage_error(&volume))
    })
    .await
    .expect("NFS unmount does not panic")
}

/// `server:/export`, as the state file and status name the "device".
fn request_source(source: &NfsSource) -> String {
    format!("{}:{}", source.server, source.export_path)
}

/// A source the host cannot mount as asked: the backend's input is wrong.
fn invalid(err: StorageError) -> VolumeError {
    CallError::Backend(BackendError::InvalidArgument(format!(
        "nfs mount source refused: {err}"
    )))
    .into()
}
