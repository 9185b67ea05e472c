//! The storage layer: everything that touches block devices and mounts on
//! this machine. It finds the device a backend's `block-source` names
//! (loop-attaching image files), verifies it is the one asked for, formats it
//! only when it is blank, mounts and unmounts it, and grows the filesystem
//! when the volume grew.
//!
//! One file per concern:
//! - `tools`     running the external programs (blkid, mkfs, losetup ...)
//! - `loopdev`   attaching, reusing, refreshing and detaching loop devices
//! - `discover`  block source → device, with the serial / by-id checks
//! - `probe`     what `blkid -p` says is on a device
//! - `format`    SafeFormat: the one place that decides whether mkfs runs
//! - `mount`     mount(2) / umount2(2) with allow-listed options
//! - `mountinfo` parsing `/proc/self/mountinfo`
//! - `grow`      filesystem growth (online; ext4 also unmounted)
//! - `nfs`       NFS 4 mounts (EFS): the mount(2) request, a bounded wait
//! - `objectfs`  the FUSE filesystem over S3
//!
//! Every function here blocks (it runs programs and system calls); the
//! volume manager calls them from `spawn_blocking`. This layer keeps no
//! state of its own: what is attached and mounted is read back from the
//! kernel each time.
//!
//! Never: run mkfs anywhere but `format::ensure_filesystem`, treat a failed
//! probe as "blank", lazily unmount, or detach a loop device that does not
//! back the image file we were handed.

mod discover;
mod format;
mod grow;
mod loopdev;
mod mount;
mod mountinfo;
pub mod nfs;
pub mod objectfs;
mod probe;
mod tools;

#[cfg(test)]
mod testutil;

use std::path::PathBuf;

pub use discover::{Device, Discovery, find_block, release};
pub use format::{Formatted, ensure_filesystem};
pub use grow::{grow_if_needed, grow_unmounted};
pub use mount::{mount, unmount, unmount_stale};
pub use mountinfo::{MountEntry, mounted_at, mounts};
pub use probe::{Probe, probe};
pub use tools::check_tools;

pub type Result<T> = std::result::Result<T, StorageError>;

/// What went wrong touching storage. Each message names the device or path
/// and says what was expected and what was found.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("cannot run {tool}: {source} (expected it on PATH or in /usr/sbin, /sbin)")]
    ToolMissing {
        tool: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("{tool} {args} failed with {status}, expected success: {stderr}")]
    ToolFailed {
        tool: &'static str,
        args: String,
        status: String,
        stderr: String,
    },
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no block device found for the volume: expected one of {tried}, found none")]
    DeviceNotFound { tried: String },
    #[error("{path} is not usable as a block device: expected a block device, found {found}")]
    NotABlockDevice { path: PathBuf, found: String },
    #[error(
        "device {device} reports serial {found:?}, expected {expected:?}: refusing to touch it (stale by-id link or wrong device)"
    )]
    SerialMismatch {
        device: PathBuf,
        expected: String,
        found: String,
    },
    #[error("image file {image} refused: expected a regular file inside {dir}, found {found}")]
    ImageRefused {
        image: PathBuf,
        dir: PathBuf,
        found: String,
    },
    #[error(
        "device hint {hint:?} refused: expected a kernel device name like \"xvdf\" or \"/dev/xvdf\""
    )]
    BadDeviceHint { hint: String },
    #[error(
        "refusing to format {device}: expected a blank device or a filesystem, found {found}; the device was not changed"
    )]
    SignaturePresent { device: PathBuf, found: String },
    #[error("{device} after mkfs: expected a {expected} filesystem, blkid found {found}")]
    FormatUnconfirmed {
        device: PathBuf,
        expected: String,
        found: String,
    },
    #[error("filesystem type {found:?} is not supported here: expected one of {expected}")]
    UnsupportedFs {
        found: String,
        expected: &'static str,
    },
    #[error("{kind} option {option:?} is not allowed: expected one of {allowed}")]
    OptionNotAllowed {
        kind: &'static str,
        option: String,
        allowed: &'static str,
    },
    #[error("cannot mount {device} at {target}: expected nothing mounted there, found {found}")]
    TargetOccupied {
        device: PathBuf,
        target: PathBuf,
        found: String,
    },
    #[error("mounting {device} ({fs_type}) at {target} failed: {source}")]
    MountFailed {
        device: PathBuf,
        target: PathBuf,
        fs_type: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "cannot grow the filesystem at {target}: expected {device} mounted there, found {found}"
    )]
    NotMounted {
        device: PathBuf,
        target: PathBuf,
        found: String,
    },
    #[error(
        "cannot grow the ext4 filesystem on {device} online: the kernel requires CAP_SYS_RESOURCE, which this process lacks; grant it (plugin config) or grow it unmounted (grow_unmounted)"
    )]
    OnlineResizeNotPermitted { device: PathBuf },
    #[error("cannot {action} {device}: expected it unmounted, found it mounted at {target}")]
    DeviceMounted {
        action: &'static str,
        device: PathBuf,
        target: PathBuf,
    },
    #[error(
        "refusing {device}: expected a disk nobody else uses, found it held by {holders} (device mapper, RAID or LVM)"
    )]
    DeviceHeld { device: PathBuf, holders: String },
    #[error(
        "cannot unmount {target}: it is busy (a process still has files open or its working directory there); expected it idle"
    )]
    Busy { target: PathBuf },
    #[error(
        "this kernel has no NFS client (no nfs4 in /proc/filesystems), so it cannot do `{request}`; load the nfs module (modprobe nfs) or run on a kernel built with CONFIG_NFS_V4"
    )]
    NoNfsClient { request: String },
    #[error("NFS export {export} is missing on the server: expected the directory to exist{hint}")]
    ExportMissing { export: String, hint: &'static str },
    #[error("unmounting {target} failed: {source}")]
    UnmountFailed {
        target: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot parse {what}: expected {expected}, found {found:?}")]
    Parse {
        what: &'static str,
        expected: &'static str,
        found: String,
    },
}

impl StorageError {
    fn io(what: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        StorageError::Io {
            what,
            path: path.into(),
            source,
        }
    }
}
