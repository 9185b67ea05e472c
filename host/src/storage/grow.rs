//! Filesystem growth after a volume grew: online for a mounted filesystem
//! (ext4 via resize2fs, xfs via xfs_growfs), and offline for an unmounted
//! ext4 (e2fsck, then resize2fs) where online resize is not permitted.
//!
//! Owns: refreshing a loop device's size from its (grown) image file, running
//! the filesystem's own grow tool, and telling whether anything grew.
//!
//! Never: shrink, grow an ext4 offline while it is mounted anywhere, run
//! e2fsck in any mode but preen (`-p`: only safe fixes), or grow a
//! filesystem mounted from another device than the one handed in.

use std::path::Path;

use super::discover::{Device, mount_of};
use super::mountinfo::mounted_at;
use super::probe::device_size;
use super::{Result, StorageError, loopdev, tools};

/// Grow the filesystem mounted at `target` to fill `device`. Returns whether
/// it grew.
pub fn grow_if_needed(device: &Device, target: &Path, fs_type: &str) -> Result<bool> {
    require_mounted(device, target)?;
    if device.loop_of.is_some() {
        loopdev::refresh(&device.path)?;
    }
    let before = size_bytes(target)?;
    match fs_type {
        // resize2fs grows a mounted ext3/ext4 online (the kernel does it and
        // wants CAP_SYS_RESOURCE); with nothing to do it says so, exits 0.
        "ext4" | "ext3" => {
            tools::run("resize2fs", &[device.path.as_os_str()]).map_err(|e| {
                if has_cap_sys_resource() {
                    e
                } else {
                    StorageError::OnlineResizeNotPermitted {
                        device: device.path.clone(),
                    }
                }
            })?;
        }
        // xfs_growfs takes the mount point, not the device; -d: data section.
        "xfs" => {
            tools::run("xfs_growfs", &["-d".as_ref(), target.as_os_str()])?;
        }
        other => {
            tracing::warn!(target = %target.display(), fs_type = other, "growing this filesystem type is not supported; left as is");
            return Ok(false);
        }
    }
    let after = size_bytes(target)?;
    if after > before {
        tracing::info!(target = %target.display(), before, after, "filesystem grew");
    }
    Ok(after > before)
}

/// Offline growth (and its full e2fsck) runs only when the device exceeds
/// the filesystem by at least this much. mke2fs leaves off a last block
/// group too small to hold its own metadata (a few MiB at most) and
/// resize2fs would not use it either: without this margin such a device
/// would be checked on every mount for nothing. Volumes grow by MiB or GiB.
const MIN_OFFLINE_GROWTH: u64 = 8 << 20;

/// Grow an unmounted ext3/ext4 filesystem to fill `device` (call it before
/// mounting). Other types return Ok(false): xfs grows only while mounted.
/// Runs e2fsck only when the device is larger than the filesystem.
pub fn grow_unmounted(device: &Device, fs_type: &str) -> Result<bool> {
    if !matches!(fs_type, "ext4" | "ext3") {
        return Ok(false);
    }
    require_unmounted(&device.path)?;
    if device.loop_of.is_some() {
        loopdev::refresh(&device.path)?;
    }
    let (blocks, block_size) = ext_geometry(&device.path)?;
    if device_size(&device.path)? < (blocks * block_size).saturating_add(MIN_OFFLINE_GROWTH) {
        return Ok(false);
    }
    // resize2fs refuses a filesystem not checked since it was last mounted.
    // Exit 0: clean, 1: safe fixes made; anything else needs a person.
    let dev = device.path.as_os_str();
    let fsck = tools::output("e2fsck", &["-f".as_ref(), "-p".as_ref(), dev])?;
    if !matches!(fsck.status.code(), Some(0 | 1)) {
        return Err(tools::failed(
            "e2fsck",
            &["-f".as_ref(), "-p".as_ref(), dev],
            &fsck,
        ));
    }
    tools::run("resize2fs", &[dev])?;
    let (after, _) = ext_geometry(&device.path)?;
    tracing::info!(device = %device.path.display(), before = blocks, after, "filesystem grew (unmounted)");
    Ok(after > blocks)
}

fn require_mounted(device: &Device, target: &Path) -> Result<()> {
    let not_mounted = |found: String| StorageError::NotMounted {
        device: device.path.clone(),
        target: target.to_path_buf(),
        found,
    };
    let entry = mounted_at(target)?.ok_or_else(|| not_mounted("nothing mounted".into()))?;
    let dev = device
        .path
        .canonicalize()
        .map_err(|e| StorageError::io("resolving device", &device.path, e))?;
    if Path::new(&entry.source) == dev {
        Ok(())
    } else {
        Err(not_mounted(format!("{} mounted", entry.source)))
    }
}

/// Refuse when `device` is mounted anywhere.
fn require_unmounted(device: &Path) -> Result<()> {
    match mount_of(device)? {
        Some(target) => Err(StorageError::DeviceMounted {
            action: "grow unmounted",
            device: device.to_path_buf(),
            target,
        }),
        None => Ok(()),
    }
}

/// Block count and block size from the ext superblock (`dumpe2fs -h`).
fn ext_geometry(device: &Path) -> Result<(u64, u64)> {
    let text = tools::run("dumpe2fs", &["-h".as_ref(), device.as_os_str()])?;
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    match (field("Block count:"), field("Block size:")) {
        (Some(count), Some(size)) if size > 0 => Ok((count, size)),
        _ => Err(StorageError::Parse {
            what: "dumpe2fs -h output",
            expected: "\"Block count:\" and \"Block size:\" lines",
            found: text.lines().take(3).collect::<Vec<_>>().join(" / "),
        }),
    }
}

/// Whether this process holds CAP_SYS_RESOURCE (bit 24 of CapEff), which
/// the kernel wants for an online ext4 resize.
pub(crate) fn has_cap_sys_resource() -> bool {
    const CAP_SYS_RESOURCE: u32 = 24;
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .is_some_and(|caps| caps & (1 << CAP_SYS_RESOURCE) != 0)
}

/// Total size of the filesystem at `target`, as statvfs reports it.
fn size_bytes(target: &Path) -> Result<u64> {
    let st =
        rustix::fs::statvfs(target).map_err(|e| StorageError::io("statvfs", target, e.into()))?;
    Ok(st.f_blocks * st.f_frsize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::testutil::{LoopGuard, Scratch, require_loop};
    use crate::storage::{ensure_filesystem, mount, unmount};

    /// A formatted `from` MiB image, mounted, whose file then grows to `to` MiB.
    fn grown_volume(
        scratch: &Scratch,
        fs_type: &str,
        from: u64,
        to: u64,
    ) -> (LoopGuard, crate::storage::testutil::MountGuard) {
        let dev = scratch.loop_image("grow.img", from);
        ensure_filesystem(&dev.path, fs_type, &[]).unwrap();
        let mnt = scratch.mount_point("mnt");
        mount(&dev.path, &mnt, fs_type, &[], false).unwrap();
        assert!(
            !grow_if_needed(&dev, &mnt, fs_type).unwrap(),
            "nothing to grow yet"
        );
        std::fs::OpenOptions::new()
            .write(true)
            .open(dev.loop_of.as_ref().unwrap())
            .unwrap()
            .set_len(to << 20)
            .unwrap();
        (dev, mnt)
    }

    fn assert_grew_by_most_of(before: u64, after: u64, mib: u64) {
        assert!(after > before + (mib << 20) / 2, "{before} -> {after}");
    }

    #[test]
    fn xfs_grows_online_with_its_image() {
        let Some(scratch) = require_loop("xfs_grows_online_with_its_image") else {
            return;
        };
        let (dev, mnt) = grown_volume(&scratch, "xfs", 400, 600);
        let before = size_bytes(&mnt).unwrap();
        assert!(grow_if_needed(&dev, &mnt, "xfs").unwrap());
        assert_grew_by_most_of(before, size_bytes(&mnt).unwrap(), 200);
        assert!(!grow_if_needed(&dev, &mnt, "xfs").unwrap(), "grown already");
        unmount(&mnt).unwrap();
    }

    #[test]
    fn ext4_grows_online_with_its_image() {
        let Some(scratch) = require_loop("ext4_grows_online_with_its_image") else {
            return;
        };
        let (dev, mnt) = grown_volume(&scratch, "ext4", 64, 128);
        let before = size_bytes(&mnt).unwrap();
        if !has_cap_sys_resource() {
            // The kernel refuses online ext4 resize without CAP_SYS_RESOURCE;
            // the error must say so. (`ext4_grows_unmounted...` covers growth.)
            let err = grow_if_needed(&dev, &mnt, "ext4").unwrap_err();
            assert!(
                matches!(err, StorageError::OnlineResizeNotPermitted { .. }),
                "{err}"
            );
            eprintln!(
                "SKIPPED the online part of ext4_grows_online_with_its_image: no CAP_SYS_RESOURCE here"
            );
            unmount(&mnt).unwrap();
            return;
        }
        assert!(grow_if_needed(&dev, &mnt, "ext4").unwrap());
        assert_grew_by_most_of(before, size_bytes(&mnt).unwrap(), 64);
        assert!(
            !grow_if_needed(&dev, &mnt, "ext4").unwrap(),
            "grown already"
        );
        unmount(&mnt).unwrap();
    }

    #[test]
    fn ext4_grows_unmounted_after_it_was_mounted() {
        let Some(scratch) = require_loop("ext4_grows_unmounted_after_it_was_mounted") else {
            return;
        };
        let (dev, mnt) = grown_volume(&scratch, "ext4", 64, 128);
        std::fs::write(mnt.join("keep.txt"), b"still here").unwrap();
        let before = size_bytes(&mnt).unwrap();
        let err = grow_unmounted(&dev, "ext4").unwrap_err();
        assert!(matches!(err, StorageError::DeviceMounted { .. }), "{err}");
        unmount(&mnt).unwrap();

        assert!(grow_unmounted(&dev, "ext4").unwrap());
        assert!(!grow_unmounted(&dev, "ext4").unwrap(), "grown already");
        assert!(
            !grow_unmounted(&dev, "xfs").unwrap(),
            "xfs grows mounted only"
        );
        mount(&dev.path, &mnt, "ext4", &[], false).unwrap();
        assert_grew_by_most_of(before, size_bytes(&mnt).unwrap(), 64);
        assert_eq!(std::fs::read(mnt.join("keep.txt")).unwrap(), b"still here");
        unmount(&mnt).unwrap();
    }

    #[test]
    fn an_unmounted_filesystem_is_not_grown_online() {
        let Some(scratch) = require_loop("an_unmounted_filesystem_is_not_grown_online") else {
            return;
        };
        let dev = scratch.loop_image("idle.img", 32);
        let err = grow_if_needed(&dev, &scratch.path().join("mnt"), "ext4").unwrap_err();
        assert!(matches!(err, StorageError::NotMounted { .. }), "{err}");
    }
}
