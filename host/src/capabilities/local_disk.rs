//! `local-disk`: sparse image files in one backend's own directory. The
//! guest names an image; the host alone builds the path (after checking the
//! name), so a backend can never reach a file outside its directory.
//! Images only grow: shrinking would cut the filesystem inside.

use std::fs::{self, OpenOptions};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{Capability, blocking, granted};
use crate::fsutil;
use crate::names;
use crate::runtime::bindings::BackendError;
use crate::runtime::bindings::ballast::backend::local_disk::{Host, Image};
use crate::runtime::store::HostState;

const MIB: u64 = 1024 * 1024;
const GIB: u64 = 1024 * MIB;
const SUFFIX: &str = ".img";

pub struct LocalDisk {
    dir: PathBuf,
    max_bytes: u64,
}

impl LocalDisk {
    /// Images live in `dir` (created 0700); none may exceed `max_gib`.
    pub fn open(dir: &Path, max_gib: u64) -> io::Result<LocalDisk> {
        fsutil::create_private_dir(dir)?;
        Ok(LocalDisk {
            dir: dir.to_owned(),
            max_bytes: max_gib.saturating_mul(GIB),
        })
    }

    /// The directory every image of this backend lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Create a sparse image; the size is rounded up to a whole MiB so that
    /// loop devices and mkfs get whole sectors.
    pub fn create(&self, name: &str, size_bytes: u64) -> Result<Image, BackendError> {
        let path = self.path(name)?;
        let size = self.check_size(size_bytes)?;
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| match e.kind() {
                io::ErrorKind::AlreadyExists => {
                    BackendError::AlreadyExists(format!("image {name:?} exists already"))
                }
                _ => unavailable(&path, e),
            })?;
        if let Err(e) = file.set_len(size).and_then(|()| file.sync_all()) {
            let _ = fs::remove_file(&path);
            return Err(unavailable(&path, e));
        }
        self.image(name, &path)
    }

    pub fn resize(&self, name: &str, size_bytes: u64) -> Result<Image, BackendError> {
        let path = self.path(name)?;
        let size = self.check_size(size_bytes)?;
        let current = self
            .get(name)?
            .ok_or_else(|| BackendError::NotFound(format!("image {name:?} does not exist")))?;
        if size < current.size_bytes {
            return Err(BackendError::InvalidArgument(format!(
                "image {name:?} is {} bytes; shrinking it to {size} would destroy data",
                current.size_bytes
            )));
        }
        let file = OpenOptions::new()
            .write(true)
            .open(&path)
            .map_err(|e| unavailable(&path, e))?;
        file.set_len(size)
            .and_then(|()| file.sync_all())
            .map_err(|e| unavailable(&path, e))?;
        self.image(name, &path)
    }

    pub fn remove(&self, name: &str) -> Result<bool, BackendError> {
        let path = self.path(name)?;
        match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(unavailable(&path, e)),
        }
    }

    pub fn get(&self, name: &str) -> Result<Option<Image>, BackendError> {
        let path = self.path(name)?;
        match fs::symlink_metadata(&path) {
            Ok(_) => self.image(name, &path).map(Some),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(unavailable(&path, e)),
        }
    }

    pub fn list(&self) -> Result<Vec<Image>, BackendError> {
        let entries = fs::read_dir(&self.dir).map_err(|e| unavailable(&self.dir, e))?;
        let mut images = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| unavailable(&self.dir, e))?;
            let file_name = entry.file_name();
            let Some(name) = file_name.to_str().and_then(|n| n.strip_suffix(SUFFIX)) else {
                continue;
            };
            if names::check("image", name).is_ok() {
                images.push(self.image(name, &entry.path())?);
            }
        }
        images.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(images)
    }

    fn path(&self, name: &str) -> Result<PathBuf, BackendError> {
        names::check("image", name).map_err(|e| BackendError::InvalidArgument(e.to_string()))?;
        Ok(self.dir.join(format!("{name}{SUFFIX}")))
    }

    fn check_size(&self, size_bytes: u64) -> Result<u64, BackendError> {
        if size_bytes == 0 {
            return Err(BackendError::InvalidArgument(
                "image size must be above 0".into(),
            ));
        }
        if size_bytes > self.max_bytes {
            return Err(BackendError::InvalidArgument(format!(
                "image size {size_bytes} bytes is over this host's limit of {} GiB (max_image_gib)",
                self.max_bytes / GIB
            )));
        }
        Ok(size_bytes.div_ceil(MIB) * MIB)
    }

    /// Describe an image; a name that is not a regular file (a link an
    /// operator placed there, say) is refused rather than followed.
    fn image(&self, name: &str, path: &Path) -> Result<Image, BackendError> {
        let meta = fs::symlink_metadata(path).map_err(|e| unavailable(path, e))?;
        if !meta.file_type().is_file() {
            return Err(BackendError::Conflict(format!(
                "{} is not a regular file",
                path.display()
            )));
        }
        Ok(Image {
            name: name.to_string(),
            path: path.to_string_lossy().into_owned(),
            size_bytes: meta.len(),
            allocated_bytes: meta.blocks() * 512,
        })
    }
}

fn unavailable(path: &Path, e: io::Error) -> BackendError {
    BackendError::Unavailable(format!("{}: {e}", path.display()))
}

impl HostState {
    fn local_disk(&self) -> wasmtime::Result<Arc<LocalDisk>> {
        granted(&self.caps.local_disk, Capability::LocalDisk)
    }
}

impl Host for HostState {
    async fn create(
        &mut self,
        name: String,
        size_bytes: u64,
    ) -> wasmtime::Result<Result<Image, BackendError>> {
        let disk = self.local_disk()?;
        blocking(move || disk.create(&name, size_bytes)).await
    }

    async fn resize(
        &mut self,
        name: String,
        size_bytes: u64,
    ) -> wasmtime::Result<Result<Image, BackendError>> {
        let disk = self.local_disk()?;
        blocking(move || disk.resize(&name, size_bytes)).await
    }

    async fn remove(&mut self, name: String) -> wasmtime::Result<Result<bool, BackendError>> {
        let disk = self.local_disk()?;
        blocking(move || disk.remove(&name)).await
    }

    async fn get(&mut self, name: String) -> wasmtime::Result<Result<Option<Image>, BackendError>> {
        let disk = self.local_disk()?;
        blocking(move || disk.get(&name)).await
    }

    async fn list(&mut self) -> wasmtime::Result<Result<Vec<Image>, BackendError>> {
        let disk = self.local_disk()?;
        blocking(move || disk.list()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn disk() -> (tempfile::TempDir, LocalDisk) {
        let dir = tempfile::tempdir().unwrap();
        let disk = LocalDisk::open(&dir.path().join("images"), 1).unwrap();
        (dir, disk)
    }

    #[test]
    fn images_are_sparse_rounded_and_grow_only() {
        let (_dir, disk) = disk();
        let image = disk.create("v1", 64 * MIB + 1).unwrap();
        assert_eq!(image.size_bytes, 65 * MIB);
        assert!(
            image.allocated_bytes < MIB,
            "sparse: {} allocated",
            image.allocated_bytes
        );
        assert!(matches!(
            disk.create("v1", MIB),
            Err(BackendError::AlreadyExists(_))
        ));
        assert_eq!(disk.resize("v1", 128 * MIB).unwrap().size_bytes, 128 * MIB);
        assert!(matches!(
            disk.resize("v1", MIB),
            Err(BackendError::InvalidArgument(_))
        ));
        assert_eq!(
            disk.list()
                .unwrap()
                .iter()
                .map(|i| i.name.as_str())
                .collect::<Vec<_>>(),
            ["v1"]
        );
        assert!(disk.remove("v1").unwrap());
        assert!(!disk.remove("v1").unwrap());
        assert_eq!(disk.get("v1").unwrap(), None);
    }

    #[test]
    fn bad_names_and_sizes_create_nothing() {
        let (_dir, disk) = disk();
        for name in ["../x", "a/b", "", ".x"] {
            assert!(
                matches!(
                    disk.create(name, MIB),
                    Err(BackendError::InvalidArgument(_))
                ),
                "{name}"
            );
        }
        assert!(matches!(
            disk.create("big", 2 * GIB),
            Err(BackendError::InvalidArgument(_))
        ));
        assert!(matches!(
            disk.create("zero", 0),
            Err(BackendError::InvalidArgument(_))
        ));
        assert!(disk.list().unwrap().is_empty());
        assert_eq!(fs::read_dir(disk.dir()).unwrap().count(), 0);
    }

    #[test]
    fn a_symlink_in_the_directory_is_not_followed() {
        let (dir, disk) = disk();
        std::os::unix::fs::symlink(dir.path().join("elsewhere"), disk.dir().join("evil.img"))
            .unwrap();
        assert!(matches!(disk.get("evil"), Err(BackendError::Conflict(_))));
        assert!(matches!(
            disk.create("evil", MIB),
            Err(BackendError::AlreadyExists(_))
        ));
    }
}
