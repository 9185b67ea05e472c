//! Who this machine is, per its provider's metadata (the `instance`
//! capability). Calling [`identity`] makes the component import `instance`.

use crate::Result;
use crate::bindings::ballast::backend::instance as raw;

pub use raw::Identity;

/// This machine's identity; `unavailable` when the metadata service does not
/// answer.
pub fn identity() -> Result<Identity> {
    raw::get_identity()
}
