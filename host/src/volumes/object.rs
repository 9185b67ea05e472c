//! Object volumes (S3): the backend's `object` mount source becomes a FUSE
//! session of `storage::objectfs`, served by this process. The sessions
//! live here, by volume name; the mount state file records them like any
//! other mount (no device: `fs_type` says it is an object mount).
//!
//! The host reaches the store with the backend's own `s3` client: its
//! credentials go only to the endpoint the config names, so a source that
//! asks for another endpoint is refused.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::VolumeError;
use super::state::Mounted;
use crate::capabilities::s3::S3;
use crate::runtime::CallError;
use crate::runtime::bindings::{BackendError, ObjectSource};
use crate::storage::objectfs::{self, ObjectFsConfig, ObjectMount};
use crate::storage::{self, Device, StorageError};

/// What an object mount records as its filesystem type (the kernel shows
/// the same in /proc/self/mountinfo).
pub const FS_TYPE: &str = "fuse.ballast";

/// The FUSE sessions this process serves.
#[derive(Default)]
pub struct Sessions {
    live: Mutex<HashMap<String, ObjectMount>>,
}

impl Sessions {
    fn insert(&self, name: &str, mount: ObjectMount) {
        self.live.lock().unwrap().insert(name.to_string(), mount);
    }

    fn take(&self, name: &str) -> Option<ObjectMount> {
        self.live.lock().unwrap().remove(name)
    }
}

pub fn is_object(mounted: &Mounted) -> bool {
    mounted.fs_type == FS_TYPE
}

/// Mount `source` for volume `name` at `mountpoint`, with staging files
/// under `staging`.
pub async fn mount(
    sessions: &Sessions,
    s3: Option<&S3>,
    name: &str,
    source: ObjectSource,
    mountpoint: &Path,
    staging: &Path,
) -> Result<Mounted, VolumeError> {
    let s3 =
        s3.ok_or_else(|| refused("the backend answered an object source but has no s3 grant"))?;
    check_endpoint(s3, &source)?;
    let config = ObjectFsConfig::new(&source.bucket, &source.prefix, staging, &source.options)
        .map_err(|e| CallError::Backend(BackendError::InvalidArgument(e)))?;
    let client = s3.client().await.clone();
    let runtime = tokio::runtime::Handle::current();
    let target = mountpoint.to_owned();
    let volume = name.to_string();
    let url = object_url(&format!("{}/{}", source.bucket, source.prefix));
    let device = url.clone();
    let session = tokio::task::spawn_blocking(move || {
        create_dir(&volume, &target)?;
        objectfs::mount(client, runtime, config, &target).map_err(|source| {
            storage_error(
                &volume,
                StorageError::MountFailed {
                    device,
                    target: target.clone(),
                    fs_type: FS_TYPE.into(),
                    source,
                },
            )
        })
    })
    .await
    .expect("object mount does not panic")?;
    sessions.insert(name, session);
    tracing::info!(volume = name, bucket = %source.bucket, prefix = %source.prefix, "object filesystem mounted");
    Ok(Mounted {
        ids: Default::default(),
        mountpoint: mountpoint.to_owned(),
        device: Device {
            path: url,
            loop_of: None,
        },
        fs_type: FS_TYPE.into(),
    })
}

/// End the session of `name` (flushing what it holds), or — when this
/// process has none, after a restart — unmount what the old one left.
pub async fn unmount(
    sessions: &Sessions,
    name: &str,
    mounted: &Mounted,
) -> Result<(), VolumeError> {
    let session = sessions.take(name);
    let target = mounted.mountpoint.clone();
    let volume = name.to_string();
    tokio::task::spawn_blocking(move || match session {
        Some(session) => session.unmount().map_err(|source| {
            storage_error(&volume, StorageError::UnmountFailed { target, source })
        }),
        None => storage::unmount_stale(&target).map_err(|e| storage_error(&volume, e)),
    })
    .await
    .expect("object unmount does not panic")
}

/// After a restart the old process's FUSE mount is dead (ENOTCONN): take it
/// down so that the volume can be mounted again by this process.
pub async fn clear_stale(name: &str, mounted: &Mounted) -> Result<(), VolumeError> {
    let target = mounted.mountpoint.clone();
    let volume = name.to_string();
    tokio::task::spawn_blocking(move || {
        storage::unmount_stale(&target).map_err(|e| storage_error(&volume, e))
    })
    .await
    .expect("stale unmount does not panic")
}

/// The host's credentials go only where its config says: a source naming
/// another endpoint is refused.
fn check_endpoint(s3: &S3, source: &ObjectSource) -> Result<(), VolumeError> {
    let configured = s3.settings().endpoint.as_deref().map(normalise);
    let asked = source.endpoint.as_deref().map(normalise);
    match (asked, configured) {
        (None, _) => Ok(()),
        (Some(asked), Some(configured)) if asked == configured => Ok(()),
        (Some(asked), configured) => Err(refused(&format!(
            "the backend asked for S3 endpoint {asked} but its s3 capability is configured for {}; the host sends its credentials only there",
            configured.unwrap_or_else(|| "AWS's own endpoint".into())
        ))),
    }
}

fn normalise(url: &str) -> String {
    url.trim().trim_end_matches('/').to_ascii_lowercase()
}

fn refused(why: &str) -> VolumeError {
    CallError::Backend(BackendError::PermissionDenied(why.into())).into()
}

fn create_dir(name: &str, dir: &Path) -> Result<(), VolumeError> {
    std::fs::create_dir_all(dir).map_err(|source| VolumeError::Io {
        name: name.into(),
        what: "creating the mountpoint",
        source,
    })
}

fn storage_error(name: &str, source: StorageError) -> VolumeError {
    VolumeError::Storage {
        name: name.into(),
        source,
    }
}

/// How an object mount names its "device" in state and status.
fn object_url(bucket_and_prefix: &str) -> PathBuf {
    PathBuf::from(format!("s3://{bucket_and_prefix}"))
}
