//! Loop devices over image files: attach (reusing the device that already
//! backs the file), refresh the size after the file grew, detach.
//!
//! Owns the rule "one image file, one loop device": two loop devices over one
//! file would let two filesystems instances write the same blocks. Lookup and
//! attach run under one process-wide lock, and `losetup --nooverlap` repeats
//! the check inside losetup, so a concurrent attach from another process
//! gets the same device too.
//!
//! Never: detach a loop device unless it still backs the very image file we
//! were handed (loop numbers are recycled), or attach with partition scanning
//! (the host mounts whole devices only).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::{Result, StorageError, tools};

/// Serializes lookup-then-attach and check-then-detach within this process.
static LOOP_LOCK: Mutex<()> = Mutex::new(());

/// The loop device backing `image`, attaching one if none does.
/// `image` must be canonical (the caller resolved it).
pub fn attach(image: &Path) -> Result<PathBuf> {
    let _guard = LOOP_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(existing) = backing_loop(image)? {
        tracing::debug!(image = %image.display(), device = %existing.display(), "reusing loop device");
        return Ok(existing);
    }
    let args = [
        "--find".as_ref(),
        "--show".as_ref(),
        "--nooverlap".as_ref(),
        image.as_os_str(),
    ];
    let device = first_line(&tools::run("losetup", &args)?).ok_or_else(|| StorageError::Parse {
        what: "losetup --show output",
        expected: "the attached loop device's path",
        found: String::new(),
    })?;
    tracing::info!(image = %image.display(), device = %device.display(), "attached loop device");
    Ok(device)
}

/// Detach `device` if it still backs `image`; a device that is gone or now
/// backs something else is left alone (Ok: there is nothing of ours to undo).
pub fn detach(device: &Path, image: &Path) -> Result<()> {
    let _guard = LOOP_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    match backing_file(device)? {
        // "(deleted)": the kernel's mark for a backing file since unlinked.
        Some(file) if file == image || file == deleted(image) || same_file(device, image)? => {
            tools::run("losetup", &["--detach".as_ref(), device.as_os_str()])?;
            tracing::info!(image = %image.display(), device = %device.display(), "detached loop device");
        }
        Some(other) => tracing::warn!(
            device = %device.display(), expected = %image.display(), found = %other.display(),
            "loop device now backs another file; not detaching it"
        ),
        None => {}
    }
    Ok(())
}

/// Whether `device` is attached to the very file `image` is, by device
/// and inode. The path sysfs shows is the one the attaching process saw:
/// a plugin restarted in a new mount namespace (`docker plugin disable -f`,
/// then `enable`) sees its own device under another path.
fn same_file(device: &Path, image: &Path) -> Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::metadata(image) else {
        return Ok(false);
    };
    let args = [
        "--list".as_ref(),
        "--noheadings".as_ref(),
        "--output".as_ref(),
        "BACK-INO,BACK-MAJ:MIN".as_ref(),
        device.as_os_str(),
    ];
    let dev = meta.dev();
    let expected = format!(
        "{} {}:{}",
        meta.ino(),
        rustix::fs::major(dev),
        rustix::fs::minor(dev)
    );
    let listed = tools::run("losetup", &args)?;
    Ok(listed.split_whitespace().collect::<Vec<_>>().join(" ") == expected)
}

/// Make the loop device pick up a new size of its backing file.
pub fn refresh(device: &Path) -> Result<()> {
    tools::run("losetup", &["--set-capacity".as_ref(), device.as_os_str()]).map(drop)
}

/// The loop device already attached to `image`, if any.
pub fn backing_loop(image: &Path) -> Result<Option<PathBuf>> {
    let args = [
        "--noheadings".as_ref(),
        "--output".as_ref(),
        "NAME".as_ref(),
        "--associated".as_ref(),
        image.as_os_str(),
    ];
    Ok(first_line(&tools::run("losetup", &args)?))
}

/// The file a loop device is attached to, read from sysfs (None when the
/// device is not attached or does not exist).
pub fn backing_file(device: &Path) -> Result<Option<PathBuf>> {
    let Some(name) = device.file_name() else {
        return Ok(None);
    };
    let sysfs = Path::new("/sys/class/block")
        .join(name)
        .join("loop/backing_file");
    match std::fs::read_to_string(&sysfs) {
        Ok(text) => Ok(Some(PathBuf::from(text.trim_end_matches('\n')))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StorageError::io("reading loop backing file", sysfs, e)),
    }
}

fn deleted(image: &Path) -> PathBuf {
    let mut marked = image.as_os_str().to_owned();
    marked.push(" (deleted)");
    marked.into()
}

fn first_line(text: &str) -> Option<PathBuf> {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::testutil::require_loop;

    /// Another path to the same file (here a hard link; in a restarted
    /// plugin, the path its new mount namespace gives) still detaches;
    /// a different file with the same content does not.
    #[test]
    fn detach_matches_the_file_not_its_path() {
        let Some(scratch) = require_loop("detach_matches_the_file_not_its_path") else {
            return;
        };
        let image = scratch.image("vol.img", 16).canonicalize().unwrap();
        let linked = scratch.path().join("linked.img");
        std::fs::hard_link(&image, &linked).unwrap();
        let other = scratch.image("other.img", 16);
        let device = attach(&image).unwrap();

        detach(&device, &other).unwrap();
        assert_eq!(backing_loop(&image).unwrap(), Some(device.clone()));
        detach(&device, &linked).unwrap();
        let left = backing_file(&device).unwrap();
        assert!(
            left.is_none() || left.as_deref() != Some(image.as_path()),
            "detached through the other path: {left:?}"
        );
    }
}
