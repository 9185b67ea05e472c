//! Sparse disk image files in the backend's data directory on this host
//! (the `local-disk` capability).
//!
//! The host creates, grows and deletes the files; the backend only names
//! them (names follow the volume-name rules) and hands [`Image::path`] back
//! in `BlockSource::image_file`. An image's size is its quota.
//! Calling any of these makes the component import `local-disk`.

use crate::Result;
use crate::bindings::ballast::backend::local_disk as raw;

pub use raw::Image;

/// Create a new sparse image of `size_bytes`; `already-exists` when one of
/// that name exists, `invalid-argument` for zero or over the host's limit.
pub fn create(name: &str, size_bytes: u64) -> Result<Image> {
    raw::create(name, size_bytes)
}

/// Grow an image; shrinking is `invalid-argument`.
pub fn resize(name: &str, size_bytes: u64) -> Result<Image> {
    raw::resize(name, size_bytes)
}

/// Delete an image; true when it existed.
pub fn remove(name: &str) -> Result<bool> {
    raw::remove(name)
}

/// One image, if it exists.
pub fn get(name: &str) -> Result<Option<Image>> {
    raw::get(name)
}

/// All images of this backend, sorted by name.
pub fn list() -> Result<Vec<Image>> {
    raw::list()
}
