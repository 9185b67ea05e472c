//! `purge-directory`: delete a directory of a file system, and everything
//! in it, through a temporary NFS mount of the file system's root over the
//! mount target in this machine's zone (EFS has no API for a file
//! system's contents).
//!
//! The mount is the host's own: a private directory under the backend's
//! scratch dir, efs-utils' options, bounded in time (`storage::nfs`), and
//! always unmounted and removed again, also when the deletion fails. The
//! deletion walks by directory handles (openat/unlinkat with NOFOLLOW), so
//! a symlink planted on the server is removed, never followed out of the
//! file system, and it stops at other mounts instead of crossing into them.

use std::ffi::{CStr, CString};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rustix::fs::{AtFlags, CWD, Dir, FileType, Mode, OFlags};
use rustix::io::Errno;

use super::Efs;
use super::convert::life_cycle_state_name;
use crate::runtime::bindings::BackendError;
use crate::runtime::bindings::ballast::backend::efs::{LifeCycleState, MountTarget};
use crate::storage::{StorageError, nfs};

/// efs-utils' default mount options (what `mount -t efs` asks the kernel for).
pub const EFS_MOUNT_OPTIONS: &str =
    "nfsvers=4.1,rsize=1048576,wsize=1048576,hard,timeo=600,retrans=2,noresvport";

impl Efs {
    /// Delete `path` (absolute, normalized, not "/") of `file_system_id`
    /// and everything in it; answers how many entries were deleted (the
    /// directory itself included), 0 when it does not exist.
    pub async fn purge_directory(
        &self,
        file_system_id: &str,
        path: &str,
    ) -> Result<u64, BackendError> {
        let components = check_path(path)?;
        let zone = self.zone().await?;
        let target = self.mount_target_in(file_system_id, &zone).await?;
        let options: Vec<String> = EFS_MOUNT_OPTIONS.split(',').map(String::from).collect();
        let request = nfs::request(&target.ip_address, "/", &options, nfs::resolve)
            .map_err(|e| BackendError::Internal(format!("purge-directory: {e}")))?;
        let job = Purge {
            what: format!("{path} of {file_system_id}"),
            request,
            scratch: self.scratch_dir.clone(),
            components,
        };
        tokio::task::spawn_blocking(move || job.run())
            .await
            .map_err(|e| BackendError::Internal(format!("purge-directory: {e}")))?
    }

    /// This machine's zone, from its identity (metadata or config).
    async fn zone(&self) -> Result<String, BackendError> {
        self.machine.identity().await?.zone.ok_or_else(|| {
            BackendError::Internal(format!(
                "purge-directory: this host's zone is unknown (a static identity without a zone): \
                 set zone in [backends.{}.instance]; nothing was deleted",
                self.backend
            ))
        })
    }

    /// The file system's mount target in `zone`, which must be available.
    async fn mount_target_in(
        &self,
        file_system_id: &str,
        zone: &str,
    ) -> Result<MountTarget, BackendError> {
        let targets = self.describe_mount_targets(file_system_id).await?;
        match targets.into_iter().find(|t| t.availability_zone == zone) {
            Some(t) if t.life_cycle_state == LifeCycleState::Available => Ok(t),
            Some(t) => Err(BackendError::Conflict(format!(
                "purge-directory: the mount target {} of {file_system_id} in {zone} (this \
                 machine's zone) is {}, not available; nothing was deleted",
                t.mount_target_id,
                life_cycle_state_name(t.life_cycle_state)
            ))),
            None => Err(BackendError::Conflict(format!(
                "purge-directory: {file_system_id} has no mount target in {zone} (this machine's \
                 zone): create one there first; nothing was deleted"
            ))),
        }
    }
}

/// `path`'s components: it must be absolute and normalized (no empty,
/// `.` or `..` components, no trailing slash) and not the root.
fn check_path(path: &str) -> Result<Vec<CString>, BackendError> {
    let invalid = |why: &str| {
        BackendError::InvalidArgument(format!(
            "purge-directory: path {path:?} {why}; expected an absolute, normalized path below \
             the root, e.g. \"/ballast/pgdata\""
        ))
    };
    let Some(relative) = path.strip_prefix('/') else {
        return Err(invalid("is not absolute"));
    };
    if relative.is_empty() {
        return Err(invalid("is the file system's root"));
    }
    relative
        .split('/')
        .map(|part| match part {
            "" | "." => Err(invalid("is not normalized")),
            ".." => Err(invalid("contains ..")),
            part => CString::new(part).map_err(|_| invalid("contains a NUL byte")),
        })
        .collect()
}

/// One purge, as the blocking thread runs it.
struct Purge {
    /// "/ballast/pgdata of fs-1", for messages.
    what: String,
    request: nfs::NfsRequest,
    scratch: PathBuf,
    components: Vec<CString>,
}

impl Purge {
    /// Mount, delete, unmount, remove the mount directory.
    fn run(self) -> Result<u64, BackendError> {
        let dir = self.fresh_dir()?;
        if let Err(e) = nfs::mount(&self.request, &dir, nfs::MOUNT_TIMEOUT) {
            let _ = std::fs::remove_dir(&dir);
            return Err(self.mount_error(e));
        }
        let removed = remove_tree(&dir, &self.components);
        let unmounted = nfs::unmount(&dir, nfs::MOUNT_TIMEOUT);
        if unmounted.is_ok() {
            let _ = std::fs::remove_dir(&dir);
        }
        let deleted = removed.map_err(|failed| self.removal_error(failed))?;
        unmounted.map_err(|e| {
            BackendError::Internal(format!(
                "purge-directory: deleted {deleted} entries of {}, but the temporary mount at {} \
                 is left: {e}",
                self.what,
                dir.display()
            ))
        })?;
        tracing::info!(what = %self.what, deleted, "purge-directory: done");
        Ok(deleted)
    }

    /// A new directory only this host (root, mode 0700) uses.
    fn fresh_dir(&self) -> Result<PathBuf, BackendError> {
        use std::os::unix::fs::DirBuilderExt;
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let failed = |e: std::io::Error, at: &Path| {
            BackendError::Internal(format!(
                "purge-directory: creating a mount directory at {}: {e}; nothing was deleted",
                at.display()
            ))
        };
        std::fs::create_dir_all(&self.scratch).map_err(|e| failed(e, &self.scratch))?;
        loop {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let dir = self
                .scratch
                .join(format!("purge-{}-{n}", std::process::id()));
            match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => return Ok(dir),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(failed(e, &dir)),
            }
        }
    }

    fn mount_error(&self, e: StorageError) -> BackendError {
        let what = &self.what;
        match e {
            StorageError::NoNfsClient { .. } => BackendError::Internal(format!(
                "purge-directory: this host's kernel has no NFS client (no nfs4 in \
                 /proc/filesystems), so it cannot mount the file system to delete {what}; nothing \
                 was deleted ({e})"
            )),
            // The server did not answer or refused: the network, a
            // security group, or EFS itself; worth another try later.
            e => BackendError::Unavailable(format!(
                "purge-directory: mounting the file system to delete {what} failed: {e}; nothing \
                 was deleted"
            )),
        }
    }

    fn removal_error(&self, failed: Failed) -> BackendError {
        let text = format!(
            "purge-directory: deleting {}: {} (deleted {} entries before that)",
            self.what, failed.error, failed.deleted
        );
        match failed.error {
            TreeError::NotADirectory(_) => BackendError::InvalidArgument(text),
            TreeError::OtherMount(_) => BackendError::Conflict(text),
            TreeError::Io(_, e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                BackendError::PermissionDenied(text)
            }
            TreeError::Io(..) => BackendError::Internal(text),
        }
    }
}

/// Why a deletion stopped.
#[derive(Debug, thiserror::Error)]
enum TreeError {
    #[error("{0} is not a directory (a symlink is never followed)")]
    NotADirectory(String),
    #[error("{0} is the mount point of another filesystem; not crossing into it")]
    OtherMount(String),
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
}

/// A deletion that stopped, and how far it got.
#[derive(Debug)]
struct Failed {
    deleted: u64,
    error: TreeError,
}

/// One directory being emptied: its handle, the entries left to delete,
/// and its name in its parent (none for the directory asked for).
struct Level {
    fd: OwnedFd,
    path: String,
    left: Vec<CString>,
    name: Option<CString>,
}

/// Delete the directory `components` below `root` and everything in it,
/// staying on `root`'s filesystem. Answers how many entries went (the
/// directory included); 0 when it does not exist.
fn remove_tree(root: &Path, components: &[CString]) -> Result<u64, Failed> {
    let fail = |deleted, error| Failed { deleted, error };
    let (last, parents) = components
        .split_last()
        .ok_or_else(|| fail(0, TreeError::NotADirectory("/".into())))?;
    let root_fd = open_dir(CWD, root).map_err(|e| fail(0, io(root.display(), e.into())))?;
    let device = device_of(&root_fd, "/").map_err(|e| fail(0, e))?;
    let mut parent = root_fd;
    let mut path = String::new();
    for name in parents {
        path = format!("{path}/{}", name.to_string_lossy());
        match enter(&parent, name, &path, device) {
            Ok(Some(fd)) => parent = fd,
            Ok(None) => return Ok(0),
            Err(e) => return Err(fail(0, e)),
        }
    }
    path = format!("{path}/{}", last.to_string_lossy());
    let top = match enter(&parent, last, &path, device) {
        Ok(Some(fd)) => fd,
        Ok(None) => return Ok(0),
        Err(e) => return Err(fail(0, e)),
    };
    let mut deleted = 0;
    let mut stack = vec![level(top, path, None).map_err(|e| fail(0, e))?];
    // Depth-first without recursion: one open handle per level.
    while let Some(current) = stack.last_mut() {
        let Some(name) = current.left.pop() else {
            let done = stack.pop().expect("a level");
            let dir_fd = stack.last().map_or(&parent, |l| &l.fd);
            let name = done.name.as_deref().unwrap_or(last);
            drop(done.fd);
            rustix::fs::unlinkat(dir_fd, name, AtFlags::REMOVEDIR)
                .map_err(|e| fail(deleted, io(&done.path, e.into())))?;
            deleted += 1;
            continue;
        };
        let path = format!("{}/{}", current.path, name.to_string_lossy());
        let stat = rustix::fs::statat(&current.fd, &name, AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| fail(deleted, io(&path, e.into())))?;
        if FileType::from_raw_mode(stat.st_mode) == FileType::Directory {
            let fd = enter(&current.fd, &name, &path, device)
                .map_err(|e| fail(deleted, e))?
                .ok_or_else(|| fail(deleted, io(&path, std::io::ErrorKind::NotFound.into())))?;
            stack.push(level(fd, path, Some(name)).map_err(|e| fail(deleted, e))?);
        } else {
            rustix::fs::unlinkat(&current.fd, &name, AtFlags::empty())
                .map_err(|e| fail(deleted, io(&path, e.into())))?;
            deleted += 1;
        }
    }
    Ok(deleted)
}

/// Open the directory `name` in `parent`, on `device` only; `None` when it
/// does not exist.
fn enter(
    parent: &OwnedFd,
    name: &CStr,
    path: &str,
    device: u64,
) -> Result<Option<OwnedFd>, TreeError> {
    match open_dir(parent, name) {
        Ok(fd) if device_of(&fd, path)? == device => Ok(Some(fd)),
        Ok(_) => Err(TreeError::OtherMount(path.into())),
        Err(Errno::NOENT) => Ok(None),
        // ENOTDIR: a file; ELOOP: a symlink (O_NOFOLLOW refuses it).
        Err(e) if e == Errno::NOTDIR || e == Errno::LOOP => {
            Err(TreeError::NotADirectory(path.into()))
        }
        Err(e) => Err(io(path, e.into())),
    }
}

fn level(fd: OwnedFd, path: String, name: Option<CString>) -> Result<Level, TreeError> {
    let mut left = Vec::new();
    let entries = Dir::read_from(&fd).map_err(|e| io(&path, e.into()))?;
    for entry in entries {
        let entry = entry.map_err(|e| io(&path, e.into()))?;
        let entry_name = entry.file_name();
        if entry_name != c"." && entry_name != c".." {
            left.push(entry_name.to_owned());
        }
    }
    Ok(Level {
        fd,
        path,
        left,
        name,
    })
}

fn open_dir(parent: impl AsFd, name: impl rustix::path::Arg) -> Result<OwnedFd, Errno> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    rustix::fs::openat(parent, name, flags, Mode::empty())
}

fn device_of(fd: &OwnedFd, path: &str) -> Result<u64, TreeError> {
    rustix::fs::fstat(fd)
        .map(|s| s.st_dev)
        .map_err(|e| io(path, e.into()))
}

fn io(path: impl std::fmt::Display, e: std::io::Error) -> TreeError {
    TreeError::Io(path.to_string(), e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn components(path: &str) -> Vec<CString> {
        check_path(path).unwrap()
    }

    #[test]
    fn paths_must_be_absolute_normalized_and_below_the_root() {
        assert_eq!(components("/ballast/pgdata"), [c"ballast", c"pgdata"]);
        for bad in [
            "", "/", "ballast", "/a//b", "/a/", "/a/./b", "/a/../b", "/..", "/a\0b",
        ] {
            let err = check_path(bad).unwrap_err();
            assert!(
                matches!(err, BackendError::InvalidArgument(_)),
                "{bad:?}: {err:?}"
            );
        }
    }

    #[test]
    fn a_tree_is_deleted_and_counted_and_its_siblings_stay() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("ballast/pgdata");
        std::fs::create_dir_all(dir.join("a/b/c")).unwrap();
        std::fs::write(dir.join("a/b/c/file"), "x").unwrap();
        std::fs::write(dir.join("top"), "x").unwrap();
        std::fs::create_dir(root.path().join("ballast/other")).unwrap();
        // pgdata, a, b, c, file, top
        assert_eq!(
            remove_tree(root.path(), &components("/ballast/pgdata")).unwrap(),
            6
        );
        assert!(!dir.exists());
        assert!(root.path().join("ballast/other").is_dir());
        assert_eq!(
            remove_tree(root.path(), &components("/ballast/pgdata")).unwrap(),
            0
        );
        assert_eq!(
            remove_tree(root.path(), &components("/missing/x")).unwrap(),
            0
        );
    }

    #[test]
    fn another_filesystem_mounted_inside_is_not_entered() {
        use rustix::mount::{MountFlags, UnmountFlags};
        let root = tempfile::tempdir().unwrap();
        let inner = root.path().join("vol/inner");
        std::fs::create_dir_all(&inner).unwrap();
        if let Err(e) = rustix::mount::mount("tmpfs", &inner, "tmpfs", MountFlags::empty(), None) {
            eprintln!(
                "SKIPPED another_filesystem_mounted_inside_is_not_entered: mounting tmpfs: {e} (needs root)"
            );
            return;
        }
        std::fs::write(inner.join("theirs"), "keep").unwrap();
        let result = remove_tree(root.path(), &components("/vol"));
        let kept = inner.join("theirs").exists();
        rustix::mount::unmount(&inner, UnmountFlags::DETACH).unwrap();
        let err = result.unwrap_err();
        assert!(
            matches!(&err.error, TreeError::OtherMount(p) if p == "/vol/inner"),
            "{err:?}"
        );
        assert!(kept, "the other filesystem's files stay");
    }

    #[test]
    fn symlinks_are_removed_never_followed() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("precious"), "keep").unwrap();
        let dir = root.path().join("vol");
        std::fs::create_dir(&dir).unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.join("link")).unwrap();
        assert_eq!(remove_tree(root.path(), &components("/vol")).unwrap(), 2);
        assert!(outside.path().join("precious").exists());

        // A symlink on the way (or as the directory itself) is refused.
        std::os::unix::fs::symlink(outside.path(), root.path().join("hop")).unwrap();
        for path in ["/hop/x", "/hop"] {
            let err = remove_tree(root.path(), &components(path)).unwrap_err();
            assert!(
                matches!(err.error, TreeError::NotADirectory(_)),
                "{path}: {err:?}"
            );
        }
        assert!(outside.path().join("precious").exists());
    }
}
