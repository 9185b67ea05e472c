//! From a backend's `block-source` to a device node on this machine, and the
//! check that it is the device asked for.
//!
//! Owns the search order (image file → by-id links → a device whose serial
//! matches → the kernel name hint), the confinement of image files to the
//! backend's image directory, and the serial check that catches stale by-id
//! links and recycled device names.
//!
//! Never: write to a device, or return a device whose reported serial
//! differs from the one the backend expects.

use std::ffi::OsStr;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::mountinfo::mounts;
use super::{Result, StorageError, loopdev};
use crate::runtime::bindings::BlockSource;

/// Where the host looks for devices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovery {
    /// Directory of stable device links; the cloud simulator serves its own.
    pub by_id_dir: PathBuf,
}

impl Default for Discovery {
    fn default() -> Self {
        Discovery {
            by_id_dir: PathBuf::from("/dev/disk/by-id"),
        }
    }
}

/// A block device ready for format/mount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    pub path: PathBuf,
    /// Set when the host loop-attached an image file for it.
    pub loop_of: Option<PathBuf>,
}

/// The kernel's views this module reads. Tests point them at temporary
/// directories to play devices with serials.
pub(crate) struct Roots<'a> {
    pub dev: &'a Path,
    pub sys_block: &'a Path,
}

/// Find (or, for an image file, loop-attach) the device a block source names.
pub fn find_block(source: &BlockSource, image_dir: &Path, discovery: &Discovery) -> Result<Device> {
    let system = Roots {
        dev: Path::new("/dev"),
        sys_block: Path::new("/sys/class/block"),
    };
    find_block_in(source, image_dir, discovery, &system)
}

pub(crate) fn find_block_in(
    source: &BlockSource,
    image_dir: &Path,
    discovery: &Discovery,
    roots: &Roots,
) -> Result<Device> {
    if let Some(image) = &source.image_file {
        let image = confine_image(Path::new(image), image_dir)?;
        let path = loopdev::attach(&image)?;
        return Ok(Device {
            path,
            loop_of: Some(image),
        });
    }
    let mut tried = Vec::new();
    let mut found = None;
    if let Some((path, link)) = by_id(&source.by_id, &discovery.by_id_dir, &mut tried) {
        verify_gce_link(&path, link, roots.sys_block)?;
        found = Some(path);
    }
    if found.is_none() {
        found = by_serial(source.serial.as_deref(), roots, &mut tried);
    }
    if found.is_none() {
        found = by_hint(source.device_hint.as_deref(), roots.dev, &mut tried)?;
    }
    let Some(path) = found else {
        let tried = if tried.is_empty() {
            "(the block source named no device)".to_string()
        } else {
            tried.join(", ")
        };
        return Err(StorageError::DeviceNotFound { tried });
    };
    if let Some(expected) = &source.serial {
        verify_serial(&path, expected, roots.sys_block)?;
    }
    verify_unheld(&path, roots.sys_block)?;
    Ok(Device {
        path,
        loop_of: None,
    })
}

/// Undo what `find_block` did: detach the loop device if we attached one.
/// Idempotent. Refused while the device is mounted: the kernel would detach
/// it only later, and an image deleted meanwhile would take the writes with it.
pub fn release(device: &Device) -> Result<()> {
    let Some(image) = &device.loop_of else {
        return Ok(());
    };
    if let Some(mounted) = mount_of(&device.path)? {
        return Err(StorageError::DeviceMounted {
            action: "release",
            device: device.path.clone(),
            target: mounted,
        });
    }
    loopdev::detach(&device.path, image)
}

/// Where `device` is mounted, if anywhere (matched by major:minor; a device
/// node that is gone is mounted nowhere).
pub(crate) fn mount_of(device: &Path) -> Result<Option<PathBuf>> {
    let Ok(meta) = device.metadata() else {
        return Ok(None);
    };
    let rdev = meta.rdev();
    let number = format!("{}:{}", rustix::fs::major(rdev), rustix::fs::minor(rdev));
    Ok(mounts()?
        .into_iter()
        .find(|m| m.major_minor == number)
        .map(|m| m.target))
}

/// Resolve `image` (relative paths are taken inside `dir`) and refuse it
/// unless it is a regular file strictly inside `dir` once every symlink and
/// `..` is resolved.
fn confine_image(image: &Path, dir: &Path) -> Result<PathBuf> {
    let dir = dir
        .canonicalize()
        .map_err(|e| StorageError::io("resolving image directory", dir, e))?;
    let refuse = |found: String| StorageError::ImageRefused {
        image: image.to_path_buf(),
        dir: dir.clone(),
        found,
    };
    let resolved = dir
        .join(image)
        .canonicalize()
        .map_err(|e| refuse(format!("a path that cannot be resolved ({e})")))?;
    if !resolved.starts_with(&dir) || resolved == dir {
        return Err(refuse(format!("a path outside it: {}", resolved.display())));
    }
    let meta = resolved
        .metadata()
        .map_err(|e| StorageError::io("reading image file", &resolved, e))?;
    if !meta.is_file() {
        return Err(refuse(format!(
            "{} (not a regular file)",
            resolved.display()
        )));
    }
    Ok(resolved)
}

/// The first by-id link that resolves to a block device, and its name.
fn by_id<'a>(
    names: &'a [String],
    dir: &Path,
    tried: &mut Vec<String>,
) -> Option<(PathBuf, &'a str)> {
    names.iter().find_map(|name| {
        let link = dir.join(name);
        tried.push(link.display().to_string());
        // A name with '/' or ".." could leave the directory: not a link name.
        if name.is_empty() || name.contains('/') || name == ".." || name == "." {
            return None;
        }
        block_device(&link).ok().map(|path| (path, name.as_str()))
    })
}

/// The device name in a GCE persistent disk's by-id link name, if it is one.
fn gce_device_name(link: &str) -> Option<&str> {
    link.strip_prefix("google-")
        .or_else(|| link.strip_prefix("scsi-0Google_PersistentDisk_"))
}

/// GCE's udev rules name a persistent disk's links after its device name,
/// which the disk reports as its SCSI serial (VPD page 0x80). A device
/// behind such a link that reports another name is not the disk the link
/// claims (a stale link); one that reports none passes.
fn verify_gce_link(device: &Path, link: &str, sys_block: &Path) -> Result<()> {
    let (Some(expected), Some(name)) = (gce_device_name(link), device.file_name()) else {
        return Ok(());
    };
    match scsi_unit_serial(sys_block, name) {
        Some(found) if found != expected => Err(StorageError::SerialMismatch {
            device: device.to_path_buf(),
            expected: expected.into(),
            found,
        }),
        _ => Ok(()),
    }
}

/// The serial in a SCSI disk's VPD page 0x80 (`device/vpd_pg80`: a 4-byte
/// header, then the serial), trimmed; None when there is none.
fn scsi_unit_serial(sys_block: &Path, name: &OsStr) -> Option<String> {
    let page = std::fs::read(sys_block.join(name).join("device/vpd_pg80")).ok()?;
    let serial = String::from_utf8_lossy(page.get(4..)?)
        .trim_matches(|c: char| c.is_whitespace() || c == '\0')
        .to_string();
    (!serial.is_empty()).then_some(serial)
}

/// A whole disk whose reported serial matches (by-id links are missing in
/// some containers; the NVMe serial is still in sysfs).
fn by_serial(serial: Option<&str>, roots: &Roots, tried: &mut Vec<String>) -> Option<PathBuf> {
    let serial = serial?;
    tried.push(format!(
        "a device with serial {serial:?} under {}",
        roots.sys_block.display()
    ));
    let mut names: Vec<_> = std::fs::read_dir(roots.sys_block)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.file_name()))
        .collect();
    names.sort();
    names.into_iter().find_map(|name| {
        let is_partition = roots.sys_block.join(&name).join("partition").exists();
        let matches = !is_partition
            && read_serial(roots.sys_block, &name).is_some_and(|found| same_serial(&found, serial));
        matches
            .then(|| block_device(&roots.dev.join(&name)).ok())
            .flatten()
    })
}

/// `/dev/<hint>`, accepting "xvdf", "/dev/xvdf" and the xvdX ↔ sdX renaming
/// the kernel does on some instance types.
fn by_hint(hint: Option<&str>, dev: &Path, tried: &mut Vec<String>) -> Result<Option<PathBuf>> {
    let Some(hint) = hint else { return Ok(None) };
    let name = hint.strip_prefix("/dev/").unwrap_or(hint);
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(StorageError::BadDeviceHint { hint: hint.into() });
    }
    let mut names = vec![name.to_string()];
    if let Some(rest) = name.strip_prefix("xvd") {
        names.push(format!("sd{rest}"));
    } else if let Some(rest) = name.strip_prefix("sd") {
        names.push(format!("xvd{rest}"));
    }
    Ok(names.into_iter().find_map(|n| {
        let path = dev.join(n);
        tried.push(path.display().to_string());
        block_device(&path).ok()
    }))
}

/// Resolve links and require a block device.
fn block_device(path: &Path) -> Result<PathBuf> {
    let resolved = path
        .canonicalize()
        .map_err(|e| StorageError::io("resolving device", path, e))?;
    let meta = resolved
        .metadata()
        .map_err(|e| StorageError::io("reading device", &resolved, e))?;
    if meta.file_type().is_block_device() {
        Ok(resolved)
    } else {
        Err(StorageError::NotABlockDevice {
            path: resolved,
            found: "another kind of file".into(),
        })
    }
}

/// Refuse `device` when it reports a serial other than `expected`. A device
/// that reports none (Xen, loop) passes: there is nothing to compare.
fn verify_serial(device: &Path, expected: &str, sys_block: &Path) -> Result<()> {
    let Some(name) = device.file_name() else {
        return Ok(());
    };
    match read_serial(sys_block, name) {
        Some(found) if !same_serial(&found, expected) => Err(StorageError::SerialMismatch {
            device: device.to_path_buf(),
            expected: expected.into(),
            found,
        }),
        _ => Ok(()),
    }
}

/// Refuse a disk that device mapper, md or LVM has claimed: its blocks
/// belong to another layer of this machine, whatever blkid sees.
fn verify_unheld(device: &Path, sys_block: &Path) -> Result<()> {
    let Some(name) = device.file_name() else {
        return Ok(());
    };
    let holders: Vec<String> = std::fs::read_dir(sys_block.join(name).join("holders"))
        .map(|dir| {
            dir.filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
                .collect()
        })
        .unwrap_or_default();
    if holders.is_empty() {
        Ok(())
    } else {
        Err(StorageError::DeviceHeld {
            device: device.to_path_buf(),
            holders: holders.join(", "),
        })
    }
}

/// The serial a device reports in sysfs (virtio: `serial`; NVMe and SCSI
/// controllers: `device/serial`), trimmed; None when it reports none.
///
/// A loop device reports none, so its backing file's name (without the
/// extension) stands in: the cloud simulator backs volume `vol-0abc` with
/// `vol-0abc.img`, which lets the serial check run on simulated disks too.
/// Local images are never checked (their block sources name no serial).
fn read_serial(sys_block: &Path, name: &OsStr) -> Option<String> {
    let reported = ["serial", "device/serial"].iter().find_map(|rel| {
        let text = std::fs::read_to_string(sys_block.join(name).join(rel)).ok()?;
        let text = text.trim();
        (!text.is_empty()).then(|| text.to_string())
    });
    reported.or_else(|| {
        let backing =
            std::fs::read_to_string(sys_block.join(name).join("loop/backing_file")).ok()?;
        let stem = Path::new(backing.trim_end()).file_stem()?.to_str()?;
        (!stem.is_empty()).then(|| stem.to_string())
    })
}

/// Serials compare trimmed; EBS volume ids ("vol-0abc") show up in the NVMe
/// serial without the dash ("vol0abc").
fn same_serial(found: &str, expected: &str) -> bool {
    fn norm(s: &str) -> String {
        let s = s.trim();
        match s.strip_prefix("vol-") {
            Some(rest) => format!("vol{rest}"),
            None => s.to_string(),
        }
    }
    norm(found) == norm(expected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::testutil::{Scratch, require_loop};
    use std::os::unix::fs::symlink;

    fn source() -> BlockSource {
        BlockSource {
            serial: None,
            by_id: Vec::new(),
            device_hint: None,
            image_file: None,
            fs_type: "ext4".into(),
            mkfs_options: Vec::new(),
            mount_options: Vec::new(),
        }
    }

    fn image_source(image: impl Into<String>) -> BlockSource {
        BlockSource {
            image_file: Some(image.into()),
            ..source()
        }
    }

    #[test]
    fn ebs_serials_compare_with_or_without_the_dash() {
        assert!(same_serial("vol0123abcd  ", "vol-0123abcd"));
        assert!(same_serial("vol-0123abcd", "vol0123abcd"));
        assert!(same_serial(" disk-1\n", "disk-1"));
        assert!(!same_serial("vol0123abcd", "vol-0123abce"));
        assert!(!same_serial("vol0123", "vol-01234"));
    }

    #[test]
    fn images_outside_the_image_dir_are_refused() {
        let root = tempfile::tempdir().unwrap();
        let images = root.path().join("images");
        std::fs::create_dir_all(images.join("sub")).unwrap();
        let outside = root.path().join("outside.img");
        std::fs::write(&outside, b"not yours").unwrap();
        symlink(&outside, images.join("link.img")).unwrap();
        symlink(root.path(), images.join("up")).unwrap();
        let refused = [
            outside.display().to_string(),
            images.join("../outside.img").display().to_string(),
            "../outside.img".into(),
            "link.img".into(),
            "up/outside.img".into(),
            images.display().to_string(),
            "sub".into(),
            "missing.img".into(),
        ];
        for image in refused {
            let err =
                find_block(&image_source(&image), &images, &Discovery::default()).unwrap_err();
            assert!(
                matches!(err, StorageError::ImageRefused { .. }),
                "{image}: expected refusal, got {err}"
            );
        }
    }

    #[test]
    fn nothing_found_lists_what_was_tried() {
        let dir = tempfile::tempdir().unwrap();
        let discovery = Discovery {
            by_id_dir: dir.path().into(),
        };
        symlink("/dev/ballast-gone", dir.path().join("nvme-stale")).unwrap();
        let src = BlockSource {
            by_id: vec!["nvme-stale".into(), "../../etc/passwd".into()],
            device_hint: Some("xvdzz".into()),
            ..source()
        };
        let err = find_block(&src, dir.path(), &discovery).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, StorageError::DeviceNotFound { .. }), "{text}");
        assert!(
            text.contains("nvme-stale") && text.contains("/dev/sdzz"),
            "{text}"
        );
        for hint in ["../loop0", "/dev/disk/by-id/x", ""] {
            let src = BlockSource {
                device_hint: Some(hint.into()),
                ..source()
            };
            let err = find_block(&src, dir.path(), &discovery).unwrap_err();
            assert!(
                matches!(err, StorageError::BadDeviceHint { .. }),
                "{hint}: {err}"
            );
        }
    }

    #[test]
    fn an_image_is_attached_once_and_released_idempotently() {
        let Some(scratch) = require_loop("an_image_is_attached_once_and_released_idempotently")
        else {
            return;
        };
        let image = scratch.image("vol.img", 16);
        let src = image_source("vol.img");
        let first = find_block(&src, scratch.path(), &Discovery::default()).unwrap();
        let guard = crate::storage::testutil::LoopGuard(first.clone());
        let second = find_block(&src, scratch.path(), &Discovery::default()).unwrap();
        assert_eq!(first, second);
        assert_eq!(
            first.loop_of.as_deref(),
            Some(image.canonicalize().unwrap().as_path())
        );
        release(&first).unwrap();
        assert_eq!(loopdev::backing_loop(&image).unwrap(), None);
        release(&first).unwrap();
        drop(guard);
    }

    #[test]
    fn release_waits_for_unmount_and_detaches_even_a_deleted_image() {
        let Some(scratch) =
            require_loop("release_waits_for_unmount_and_detaches_even_a_deleted_image")
        else {
            return;
        };
        let image = scratch.image("gone.img", 32).canonicalize().unwrap();
        let dev = find_block(
            &image_source("gone.img"),
            scratch.path(),
            &Discovery::default(),
        )
        .unwrap();
        let _guard = crate::storage::testutil::LoopGuard(dev.clone());
        crate::storage::ensure_filesystem(&dev.path, "ext4", &[]).unwrap();
        let mnt = scratch.mount_point("mnt");
        crate::storage::mount(&dev.path, &mnt, "ext4", &[], false).unwrap();
        let err = release(&dev).unwrap_err();
        assert!(matches!(err, StorageError::DeviceMounted { .. }), "{err}");
        crate::storage::unmount(&mnt).unwrap();

        std::fs::remove_file(&image).unwrap();
        release(&dev).unwrap();
        let ours = PathBuf::from(format!("{} (deleted)", image.display()));
        assert_ne!(loopdev::backing_file(&dev.path).unwrap(), Some(ours));
        release(&dev).unwrap();
    }

    /// A loop device standing in for a cloud disk, with a fake by-id dir and
    /// a fake sysfs where it reports `serial`.
    struct FakeDisk {
        dev: crate::storage::testutil::LoopGuard,
        by_id: PathBuf,
        sys: PathBuf,
        name: String,
    }

    fn fake_disk(scratch: &Scratch, serial: &str) -> FakeDisk {
        let dev = scratch.loop_image("disk.img", 8);
        let name = dev.path.file_name().unwrap().to_string_lossy().into_owned();
        let by_id = scratch.path().join("by-id");
        let sys = scratch.path().join("sys");
        std::fs::create_dir_all(&by_id).unwrap();
        std::fs::create_dir_all(sys.join(&name).join("device")).unwrap();
        std::fs::write(
            sys.join(&name).join("device/serial"),
            format!("{serial}   \n"),
        )
        .unwrap();
        symlink(
            &dev.path,
            by_id.join(format!("nvme-Amazon_Elastic_Block_Store_{serial}")),
        )
        .unwrap();
        FakeDisk {
            dev,
            by_id,
            sys,
            name,
        }
    }

    #[test]
    fn a_device_reporting_another_serial_is_refused() {
        let Some(scratch) = require_loop("a_device_reporting_another_serial_is_refused") else {
            return;
        };
        let disk = fake_disk(&scratch, "vol0abc");
        let roots = Roots {
            dev: Path::new("/dev"),
            sys_block: &disk.sys,
        };
        let discovery = Discovery {
            by_id_dir: disk.by_id.clone(),
        };
        let by_id = vec!["nvme-Amazon_Elastic_Block_Store_vol0abc".to_string()];

        let ok = BlockSource {
            serial: Some("vol-0abc".into()),
            by_id: by_id.clone(),
            ..source()
        };
        let found = find_block_in(&ok, scratch.path(), &discovery, &roots).unwrap();
        assert_eq!(
            found,
            Device {
                path: disk.dev.path.clone(),
                loop_of: None
            }
        );

        // A disk device mapper has claimed is refused even with the right serial.
        let holders = disk.sys.join(&disk.name).join("holders");
        std::fs::create_dir_all(holders.join("dm-7")).unwrap();
        let err = find_block_in(&ok, scratch.path(), &discovery, &roots).unwrap_err();
        assert!(matches!(err, StorageError::DeviceHeld { .. }), "{err}");
        assert!(err.to_string().contains("dm-7"), "{err}");
        std::fs::remove_dir_all(holders).unwrap();

        // The link is stale: it points at a disk that reports another volume.
        let stale = BlockSource {
            serial: Some("vol-0def".into()),
            by_id,
            ..source()
        };
        let err = find_block_in(&stale, scratch.path(), &discovery, &roots).unwrap_err();
        assert!(matches!(err, StorageError::SerialMismatch { .. }), "{err}");
        assert!(err.to_string().contains("vol0abc"), "{err}");
    }

    #[test]
    fn a_gce_link_to_a_disk_reporting_another_device_name_is_refused() {
        let Some(scratch) =
            require_loop("a_gce_link_to_a_disk_reporting_another_device_name_is_refused")
        else {
            return;
        };
        let disk = fake_disk(&scratch, "unused");
        std::fs::remove_file(disk.sys.join(&disk.name).join("device/serial")).unwrap();
        let page = |serial: &str| {
            let mut bytes = vec![0u8, 0x80, 0, serial.len() as u8];
            bytes.extend_from_slice(serial.as_bytes());
            std::fs::write(disk.sys.join(&disk.name).join("device/vpd_pg80"), bytes).unwrap();
        };
        for link in ["google-pgdata", "scsi-0Google_PersistentDisk_pgdata"] {
            symlink(&disk.dev.path, disk.by_id.join(link)).unwrap();
        }
        let roots = Roots {
            dev: Path::new("/dev"),
            sys_block: &disk.sys,
        };
        let discovery = Discovery {
            by_id_dir: disk.by_id.clone(),
        };
        let asked = BlockSource {
            by_id: vec![
                "google-pgdata".into(),
                "scsi-0Google_PersistentDisk_pgdata".into(),
            ],
            ..source()
        };

        // No VPD serial (as on a loop device): the link is trusted.
        let found = find_block_in(&asked, scratch.path(), &discovery, &roots).unwrap();
        assert_eq!(found.path, disk.dev.path);
        page("pgdata");
        let found = find_block_in(&asked, scratch.path(), &discovery, &roots).unwrap();
        assert_eq!(found.path, disk.dev.path);
        // The device behind the link is another disk now: refused.
        page("orders");
        let err = find_block_in(&asked, scratch.path(), &discovery, &roots).unwrap_err();
        assert!(matches!(err, StorageError::SerialMismatch { .. }), "{err}");
        assert!(err.to_string().contains("orders"), "{err}");
        assert_eq!(
            gce_device_name("nvme-Amazon_Elastic_Block_Store_vol0abc"),
            None
        );
    }

    #[test]
    fn a_loop_device_reports_its_backing_file_as_serial() {
        let Some(scratch) = require_loop("a_loop_device_reports_its_backing_file_as_serial") else {
            return;
        };
        // As the cloud simulator backs a volume: vol-<id>.img, linked by-id.
        let dev = scratch.loop_image("vol-0aaa111.img", 8);
        let by_id = scratch.path().join("by-id");
        std::fs::create_dir_all(&by_id).unwrap();
        let link = "nvme-Amazon_Elastic_Block_Store_vol0bbb222";
        symlink(&dev.path, by_id.join(link)).unwrap();
        let discovery = Discovery { by_id_dir: by_id };
        let asked = |serial: &str| BlockSource {
            serial: Some(serial.into()),
            by_id: vec![link.into()],
            ..source()
        };

        // The link claims vol-0bbb222 but the device is vol-0aaa111's: stale.
        let err = find_block(&asked("vol-0bbb222"), scratch.path(), &discovery).unwrap_err();
        assert!(matches!(err, StorageError::SerialMismatch { .. }), "{err}");
        let found = find_block(&asked("vol-0aaa111"), scratch.path(), &discovery).unwrap();
        assert_eq!(found.path, dev.path);
    }

    #[test]
    fn a_serial_finds_the_device_when_links_are_missing() {
        let Some(scratch) = require_loop("a_serial_finds_the_device_when_links_are_missing") else {
            return;
        };
        let disk = fake_disk(&scratch, "vol0feed");
        let roots = Roots {
            dev: Path::new("/dev"),
            sys_block: &disk.sys,
        };
        let discovery = Discovery {
            by_id_dir: scratch.path().join("empty"),
        };
        let src = BlockSource {
            serial: Some("vol-0feed".into()),
            by_id: vec!["nvme-missing".into()],
            device_hint: Some("xvdf".into()),
            ..source()
        };
        let found = find_block_in(&src, scratch.path(), &discovery, &roots).unwrap();
        assert_eq!(found.path, disk.dev.path);
        // A partition reporting the same serial is not a whole disk: skipped.
        std::fs::write(disk.sys.join(&disk.name).join("partition"), "1").unwrap();
        let err = find_block_in(&src, scratch.path(), &discovery, &roots).unwrap_err();
        assert!(matches!(err, StorageError::DeviceNotFound { .. }), "{err}");
    }

    #[test]
    fn a_device_hint_is_accepted_in_its_usual_forms() {
        let Some(scratch) = require_loop("a_device_hint_is_accepted_in_its_usual_forms") else {
            return;
        };
        let dev = scratch.loop_image("hint.img", 8);
        let name = dev.path.file_name().unwrap().to_string_lossy().into_owned();
        let fake_dev = scratch.path().join("dev");
        std::fs::create_dir(&fake_dev).unwrap();
        symlink(&dev.path, fake_dev.join("sdq")).unwrap();
        let sys = scratch.path().join("sys");
        let discovery = Discovery {
            by_id_dir: scratch.path().join("none"),
        };
        for (hint, dev_dir) in [
            (name.clone(), Path::new("/dev")),
            (format!("/dev/{name}"), Path::new("/dev")),
            ("xvdq".into(), fake_dev.as_path()),
            ("/dev/sdq".into(), fake_dev.as_path()),
        ] {
            let roots = Roots {
                dev: dev_dir,
                sys_block: &sys,
            };
            let src = BlockSource {
                device_hint: Some(hint.clone()),
                ..source()
            };
            let found = find_block_in(&src, scratch.path(), &discovery, &roots).unwrap();
            assert_eq!(found.path, dev.path, "{hint}");
        }
        // A regular file is not a device even when a hint names it.
        std::fs::write(fake_dev.join("xvdr"), b"").unwrap();
        let roots = Roots {
            dev: &fake_dev,
            sys_block: &sys,
        };
        let src = BlockSource {
            device_hint: Some("xvdr".into()),
            ..source()
        };
        assert!(find_block_in(&src, scratch.path(), &discovery, &roots).is_err());
    }
}
