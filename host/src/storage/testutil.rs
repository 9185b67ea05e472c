//! Test helpers for the storage layer: a scratch directory, sparse images,
//! and guards that undo what a test did (unmount, detach the loop device it
//! attached, remove the directory) even when the test panics.
//!
//! Never: touch a loop device or mount the test did not create itself.

use std::ffi::OsStr;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use super::{Device, loopdev, mounted_at};

/// A temporary directory for images, by-id links, fake sysfs and mount points.
pub struct Scratch {
    dir: tempfile::TempDir,
}

/// Returns a scratch directory when this machine can run loop-device tests,
/// else prints why the test is skipped and returns None.
pub fn require_loop(test: &str) -> Option<Scratch> {
    // /dev/loop-control is root-only: opening it read-write checks both
    // "loop devices exist" and "we may attach them".
    match OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/loop-control")
    {
        Ok(_) => Some(Scratch {
            dir: tempfile::Builder::new()
                .prefix("ballast-storage-")
                .tempdir()
                .unwrap(),
        }),
        Err(e) => {
            eprintln!("SKIPPED {test}: needs root and /dev/loop-control ({e})");
            None
        }
    }
}

impl Scratch {
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A sparse image file of `mib` MiB.
    pub fn image(&self, name: &str, mib: u64) -> PathBuf {
        let path = self.path().join(name);
        File::create(&path).unwrap().set_len(mib << 20).unwrap();
        path
    }

    /// A sparse image attached to a loop device, detached again on drop.
    pub fn loop_image(&self, name: &str, mib: u64) -> LoopGuard {
        let image = self.image(name, mib).canonicalize().unwrap();
        let path = loopdev::attach(&image).unwrap();
        LoopGuard(Device {
            path,
            loop_of: Some(image),
        })
    }

    /// A directory to mount on, unmounted on drop.
    pub fn mount_point(&self, name: &str) -> MountGuard {
        MountGuard(self.path().join(name))
    }
}

/// Detaches the loop device on drop, through the code under test's own
/// `release` (which only detaches a device that still backs our image).
pub struct LoopGuard(pub Device);

impl std::ops::Deref for LoopGuard {
    type Target = Device;
    fn deref(&self) -> &Device {
        &self.0
    }
}

impl Drop for LoopGuard {
    fn drop(&mut self) {
        if let Err(e) = super::release(&self.0) {
            eprintln!("cleanup: could not detach {}: {e}", self.0.path.display());
        }
    }
}

/// Unmounts whatever a test mounted at this path, on drop. Cleanup only:
/// a lazy unmount is fine here so a failed test never leaves a mount.
pub struct MountGuard(pub PathBuf);

impl std::ops::Deref for MountGuard {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for MountGuard {
    fn drop(&mut self) {
        while let Ok(Some(_)) = mounted_at(&self.0) {
            if let Err(e) = rustix::mount::unmount(&self.0, rustix::mount::UnmountFlags::DETACH) {
                eprintln!("cleanup: could not unmount {}: {e}", self.0.display());
                return;
            }
        }
    }
}

/// Run a tool a test needs for its setup; panics when it fails.
pub fn sh(tool: &'static str, args: &[&OsStr]) -> String {
    super::tools::run(tool, args).unwrap_or_else(|e| panic!("{e}"))
}

/// The bytes of a whole (small) file, to prove a device was not written.
pub fn read_all(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{ensure_filesystem, mount};

    #[test]
    fn guards_clean_up_after_a_failing_test() {
        let Some(scratch) = require_loop("guards_clean_up_after_a_failing_test") else {
            return;
        };
        let image = scratch.image("fail.img", 32).canonicalize().unwrap();
        let target = scratch.path().join("mnt");
        let failing = std::panic::catch_unwind(|| {
            let dev = LoopGuard(Device {
                path: loopdev::attach(&image).unwrap(),
                loop_of: Some(image.clone()),
            });
            let mnt = MountGuard(target.clone());
            ensure_filesystem(&dev.path, "ext4", &[]).unwrap();
            mount(&dev.path, &mnt, "ext4", &[], false).unwrap();
            let _busy = File::create(mnt.join("held-open")).unwrap();
            panic!("a test failing while its volume is mounted and busy");
        });
        assert!(failing.is_err());
        assert_eq!(mounted_at(&target).unwrap(), None);
        assert_eq!(loopdev::backing_loop(&image).unwrap(), None);
    }
}
