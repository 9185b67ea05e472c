//! Who this machine is, per its provider's metadata (the `instance`
//! capability). Calling [`identity`] or [`details`] makes the component
//! import `instance`.

use crate::Result;
use crate::bindings::ballast::backend::instance as raw;

pub use raw::{Details, Identity};

/// This machine's identity; `unavailable` when the metadata service does not
/// answer.
pub fn identity() -> Result<Identity> {
    raw::get_identity()
}

/// This machine's name and project where the provider has them (Compute
/// Engine; none elsewhere); `unavailable` when the metadata service does
/// not answer. Since 0.1.4.
pub fn details() -> Result<Details> {
    raw::get_details()
}
