//! mount(2) and umount2(2) of block filesystems, with the mount options a
//! backend may ask for checked against an allow-list.
//!
//! Owns: creating the mount point, refusing to stack a mount over another
//! one (mounting the same device again is a no-op), flushing before unmount,
//! and telling "busy" apart from other failures.
//!
//! Never: lazy-unmount (MNT_DETACH hides a busy volume while it still
//! writes), mount over something else, or pass options that are not on the
//! allow-list.

use std::ffi::CString;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::Path;
use std::time::Duration;

use rustix::io::Errno;
use rustix::mount::{MountFlags, UnmountFlags};

use super::mountinfo::{MountEntry, mounted_at, mounts};
use super::{Result, StorageError};

/// Filesystems `mount` accepts: what we create, plus what an existing
/// volume may already hold.
const MOUNTABLE: &[&str] = &["ext4", "xfs", "ext3", "ext2", "btrfs"];
const ALLOWED_HELP: &str = "noatime, nodiratime, relatime, ro, rw, defaults, discard, nosuid, nodev, noexec, sync, data=ordered|journal|writeback (ext3/ext4)";

/// Mount `device` at `target` (created 0755 if missing).
pub fn mount(
    device: &Path,
    target: &Path,
    fs_type: &str,
    options: &[String],
    read_only: bool,
) -> Result<()> {
    if !MOUNTABLE.contains(&fs_type) {
        return Err(StorageError::UnsupportedFs {
            found: fs_type.into(),
            expected: "ext4, xfs, ext3, ext2, btrfs",
        });
    }
    let (flags, data) = mount_options(fs_type, options, read_only)?;
    // The last component must be a real directory: a symlink planted there
    // would have us mount over whatever it points at.
    if target
        .symlink_metadata()
        .is_ok_and(|m| m.file_type().is_symlink())
    {
        return Err(StorageError::TargetOccupied {
            device: device.to_path_buf(),
            target: target.to_path_buf(),
            found: "a symbolic link, expected a directory".into(),
        });
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(target)
        .map_err(|e| StorageError::io("creating mount point", target, e))?;
    let target = target
        .canonicalize()
        .map_err(|e| StorageError::io("resolving mount point", target, e))?;

    if let Some(existing) = mounted_at(&target)? {
        if is_same_device(device, &existing) {
            tracing::debug!(device = %device.display(), target = %target.display(), "already mounted");
            return Ok(());
        }
        return Err(StorageError::TargetOccupied {
            device: device.to_path_buf(),
            target,
            found: format!(
                "{} ({}, {})",
                existing.source, existing.fs_type, existing.major_minor
            ),
        });
    }

    // The device must not be in use elsewhere on this machine: that is how a
    // device name pointing at the host's own disk (or another volume's
    // device) is caught before a container gets it.
    if let Some(elsewhere) = mounts()?.into_iter().find(|m| is_same_device(device, m)) {
        return Err(StorageError::DeviceMounted {
            action: "mount",
            device: device.to_path_buf(),
            target: elsewhere.target,
        });
    }

    rustix::mount::mount(device, &target, fs_type, flags, data.as_deref()).map_err(|e| {
        StorageError::MountFailed {
            device: device.to_path_buf(),
            target: target.clone(),
            fs_type: fs_type.into(),
            source: e.into(),
        }
    })?;
    tracing::info!(device = %device.display(), target = %target.display(), fs_type, ?options, read_only, "mounted");
    Ok(())
}

/// Flush and unmount whatever is mounted at `target`. Not mounted → Ok.
pub fn unmount(target: &Path) -> Result<()> {
    let Some(entry) = mounted_at(target)? else {
        return Ok(());
    };
    let target = entry.target.as_path();
    // syncfs first: umount flushes too, but cannot report a write error.
    // The directory handle is closed again before umount (it would keep the
    // mount busy).
    let dir = std::fs::File::open(target).map_err(|e| StorageError::io("opening", target, e))?;
    rustix::fs::syncfs(&dir)
        .map_err(|e| StorageError::io("flushing (syncfs)", target, e.into()))?;
    drop(dir);

    match unmount_retrying_busy(target) {
        Ok(()) => {
            tracing::info!(target = %target.display(), source = %entry.source, "unmounted");
            Ok(())
        }
        Err(Errno::BUSY) => Err(StorageError::Busy {
            target: target.to_path_buf(),
        }),
        // Someone unmounted it between our look and our call: nothing left to do.
        Err(Errno::INVAL) if mounted_at(target)?.is_none() => Ok(()),
        Err(e) => Err(StorageError::UnmountFailed {
            target: target.to_path_buf(),
            source: e.into(),
        }),
    }
}

/// Unmount a filesystem whose server is gone (a FUSE mount left by a host
/// process that exited): no syncfs, which would fail with ENOTCONN; there
/// is nothing left to flush. Still not lazy: busy is an error.
pub fn unmount_stale(target: &Path) -> Result<()> {
    if mounted_at(target)?.is_none() {
        return Ok(());
    }
    match unmount_retrying_busy(target) {
        Ok(()) | Err(Errno::INVAL) => Ok(()),
        Err(Errno::BUSY) => Err(StorageError::Busy {
            target: target.to_path_buf(),
        }),
        Err(e) => Err(StorageError::UnmountFailed {
            target: target.to_path_buf(),
            source: e.into(),
        }),
    }
}

/// How long a busy unmount is retried. A process the host forks at the same
/// moment (mkfs for another volume) holds copies of our descriptors, such as
/// the one syncfs used, until it execs: a busy answer can last that long
/// without anyone using the volume.
struct BusyBackoff;

impl BusyBackoff {
    const ATTEMPTS: u32 = 20;
    const PAUSE: Duration = Duration::from_millis(50);
}

/// umount2(target, UMOUNT_NOFOLLOW), retrying EBUSY per `BusyBackoff`.
fn unmount_retrying_busy(target: &Path) -> rustix::io::Result<()> {
    let mut attempt = 1;
    loop {
        match rustix::mount::unmount(target, UnmountFlags::NOFOLLOW) {
            Err(Errno::BUSY) if attempt < BusyBackoff::ATTEMPTS => {
                attempt += 1;
                std::thread::sleep(BusyBackoff::PAUSE);
            }
            result => return result,
        }
    }
}

/// Whether `existing` is a mount of `device`: same major:minor (robust to
/// the device being named through a link), or the same source path.
fn is_same_device(device: &Path, existing: &MountEntry) -> bool {
    let by_number = device.metadata().is_ok_and(|m| {
        let rdev = m.rdev();
        existing.major_minor == format!("{}:{}", rustix::fs::major(rdev), rustix::fs::minor(rdev))
    });
    let by_path = device.canonicalize().ok().as_deref() == Some(Path::new(&existing.source));
    by_number || by_path
}

/// The generic options that are mount flags, by name.
const FLAGS: &[(&str, MountFlags)] = &[
    ("ro", MountFlags::RDONLY),
    ("noatime", MountFlags::NOATIME),
    ("nodiratime", MountFlags::NODIRATIME),
    ("relatime", MountFlags::RELATIME),
    ("nosuid", MountFlags::NOSUID),
    ("nodev", MountFlags::NODEV),
    ("noexec", MountFlags::NOEXEC),
];

/// Apply a generic option that is a mount flag ("ro", "noatime" ...) to
/// `flags`; false when `option` is not one of them.
pub(super) fn apply_flag(flags: &mut MountFlags, option: &str) -> bool {
    match option {
        "" | "defaults" => {}
        "rw" => *flags -= MountFlags::RDONLY,
        _ => match FLAGS.iter().find(|(name, _)| *name == option) {
            Some((_, flag)) => *flags |= *flag,
            None => return false,
        },
    }
    true
}

/// The names of the flags set in `flags`, in `FLAGS` order.
pub(super) fn flag_names(flags: MountFlags) -> Vec<String> {
    FLAGS
        .iter()
        .filter(|(_, flag)| flags.contains(*flag))
        .map(|(name, _)| name.to_string())
        .collect()
}

/// Turn the allow-listed option words into mount flags and the
/// filesystem-specific data string.
fn mount_options(
    fs_type: &str,
    options: &[String],
    read_only: bool,
) -> Result<(MountFlags, Option<CString>)> {
    let mut flags = MountFlags::empty();
    let mut data = Vec::new();
    for option in options.iter().flat_map(|o| o.split(',')).map(str::trim) {
        if apply_flag(&mut flags, option) {
            continue;
        }
        match option {
            "sync" => flags |= MountFlags::SYNCHRONOUS,
            "discard" => data.push(option),
            "data=ordered" | "data=journal" | "data=writeback"
                if matches!(fs_type, "ext4" | "ext3") =>
            {
                data.push(option)
            }
            other => {
                return Err(StorageError::OptionNotAllowed {
                    kind: "mount",
                    option: other.into(),
                    allowed: ALLOWED_HELP,
                });
            }
        }
    }
    if read_only {
        flags |= MountFlags::RDONLY;
    }
    let data = (!data.is_empty())
        .then(|| CString::new(data.join(",")).expect("allow-listed options hold no NUL"));
    Ok((flags, data))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::ensure_filesystem;
    use crate::storage::testutil::require_loop;

    fn opts(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn mount_options_are_checked_against_the_allow_list() {
        let (flags, data) = mount_options(
            "ext4",
            &opts(&["noatime,nodev", "discard", "data=journal", "rw"]),
            true,
        )
        .unwrap();
        assert_eq!(
            flags,
            MountFlags::NOATIME | MountFlags::NODEV | MountFlags::RDONLY
        );
        assert_eq!(data.unwrap().to_str().unwrap(), "discard,data=journal");
        let (flags, data) = mount_options("xfs", &opts(&["ro", "defaults"]), false).unwrap();
        assert_eq!((flags, data), (MountFlags::RDONLY, None));
        for (fs, bad) in [
            ("ext4", "uid=0"),
            ("ext4", "suid"),
            ("ext4", "errors=continue"),
            ("xfs", "data=journal"),
            ("ext4", "bind"),
            ("ext4", "x-mount.mkdir"),
        ] {
            let err = mount_options(fs, &opts(&[bad]), false).unwrap_err();
            assert!(
                matches!(err, StorageError::OptionNotAllowed { .. }),
                "{fs} {bad}: {err}"
            );
        }
        // Checked before anything is created or mounted.
        let target = Path::new("/nonexistent-ballast-dir/t");
        let err = mount(
            Path::new("/dev/null"),
            target,
            "ext4",
            &opts(&["remount"]),
            false,
        )
        .unwrap_err();
        assert!(
            matches!(err, StorageError::OptionNotAllowed { .. }),
            "{err}"
        );
        assert!(!target.parent().unwrap().exists());
        let err = mount(Path::new("/dev/null"), target, "tmpfs", &[], false).unwrap_err();
        assert!(matches!(err, StorageError::UnsupportedFs { .. }), "{err}");
    }

    #[test]
    fn a_symlink_as_mount_point_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("vol");
        std::os::unix::fs::symlink("/etc", &target).unwrap();
        let err = mount(Path::new("/dev/null"), &target, "ext4", &[], false).unwrap_err();
        assert!(matches!(err, StorageError::TargetOccupied { .. }), "{err}");
        assert!(err.to_string().contains("symbolic link"), "{err}");
    }

    #[test]
    fn unmounting_what_is_not_mounted_is_ok() {
        let dir = tempfile::tempdir().unwrap();
        unmount(dir.path()).unwrap();
        unmount(&dir.path().join("never-created")).unwrap();
    }

    #[test]
    fn mounting_twice_is_harmless_and_shows_in_mountinfo() {
        let Some(scratch) = require_loop("mounting_twice_is_harmless_and_shows_in_mountinfo")
        else {
            return;
        };
        let dev = scratch.loop_image("twice.img", 32);
        ensure_filesystem(&dev.path, "ext4", &[]).unwrap();
        // A space in the path: mountinfo escapes it as \040.
        let mnt = scratch.mount_point("my volume/data");
        mount(&dev.path, &mnt, "ext4", &opts(&["noatime"]), false).unwrap();
        mount(&dev.path, &mnt, "ext4", &opts(&["noatime"]), false).unwrap();
        let entry = mounted_at(&mnt).unwrap().expect("mounted");
        assert_eq!(entry.target, mnt.canonicalize().unwrap());
        assert_eq!(entry.source, dev.path.to_string_lossy());
        assert_eq!(entry.fs_type, "ext4");
        let mode = std::fs::metadata(mnt.parent().unwrap())
            .unwrap()
            .permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o755
        );
        let stacked = crate::storage::mounts()
            .unwrap()
            .into_iter()
            .filter(|m| m.target == entry.target)
            .count();
        assert_eq!(stacked, 1, "the second mount must not stack");
        unmount(&mnt).unwrap();
        unmount(&mnt).unwrap();
        assert_eq!(mounted_at(&mnt).unwrap(), None);
    }

    #[test]
    fn no_mount_over_a_mount_and_no_device_mounted_twice() {
        let Some(scratch) = require_loop("no_mount_over_a_mount_and_no_device_mounted_twice")
        else {
            return;
        };
        let first = scratch.loop_image("first.img", 32);
        let second = scratch.loop_image("second.img", 32);
        ensure_filesystem(&first.path, "ext4", &[]).unwrap();
        ensure_filesystem(&second.path, "ext4", &[]).unwrap();
        let mnt = scratch.mount_point("mnt");
        mount(&first.path, &mnt, "ext4", &[], false).unwrap();
        let err = mount(&second.path, &mnt, "ext4", &[], false).unwrap_err();
        assert!(matches!(err, StorageError::TargetOccupied { .. }), "{err}");
        assert!(
            err.to_string().contains(&*first.path.to_string_lossy()),
            "{err}"
        );
        // Nor is a device that is mounted somewhere else mounted again.
        let other = scratch.mount_point("other");
        let err = mount(&first.path, &other, "ext4", &[], false).unwrap_err();
        assert!(matches!(err, StorageError::DeviceMounted { .. }), "{err}");
        assert_eq!(mounted_at(&other).unwrap(), None);
        unmount(&mnt).unwrap();
    }

    #[test]
    fn a_read_only_mount_refuses_writes_and_a_busy_one_is_not_unmounted() {
        let Some(scratch) =
            require_loop("a_read_only_mount_refuses_writes_and_a_busy_one_is_not_unmounted")
        else {
            return;
        };
        let dev = scratch.loop_image("ro.img", 32);
        ensure_filesystem(&dev.path, "ext4", &[]).unwrap();
        let mnt = scratch.mount_point("mnt");
        mount(&dev.path, &mnt, "ext4", &[], true).unwrap();
        let err = std::fs::write(mnt.join("x"), b"x").unwrap_err();
        assert_eq!(err.raw_os_error(), Some(Errno::ROFS.raw_os_error()));
        unmount(&mnt).unwrap();

        mount(&dev.path, &mnt, "ext4", &[], false).unwrap();
        let open = std::fs::File::create(mnt.join("open")).unwrap();
        let err = unmount(&mnt).unwrap_err();
        assert!(matches!(err, StorageError::Busy { .. }), "{err}");
        assert!(
            mounted_at(&mnt).unwrap().is_some(),
            "a busy volume stays mounted"
        );
        drop(open);
        unmount(&mnt).unwrap();
    }

    #[test]
    fn a_bad_superblock_is_a_mount_error_naming_the_device() {
        let Some(scratch) = require_loop("a_bad_superblock_is_a_mount_error_naming_the_device")
        else {
            return;
        };
        let dev = scratch.loop_image("blank.img", 8);
        let mnt = scratch.mount_point("mnt");
        let err = mount(&dev.path, &mnt, "ext4", &[], false).unwrap_err();
        assert!(matches!(err, StorageError::MountFailed { .. }), "{err}");
        assert!(
            err.to_string().contains(&*dev.path.to_string_lossy()),
            "{err}"
        );
    }
}
