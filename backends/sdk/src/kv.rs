//! The backend's small persistent key-value store (the `kv` capability).
//!
//! Private to one backend on one host and kept across host restarts. For
//! metadata, not data: the host caps key length, value size and key count
//! (`invalid-argument`) and says `unavailable` when it cannot write.
//! Calling any of these makes the component import `kv`.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::bindings::ballast::backend::kv as raw;
use crate::{Error, Result};

/// The value under `key`, if any.
pub fn get(key: &str) -> Result<Option<Vec<u8>>> {
    raw::get(key)
}

/// Store `value` under `key`, replacing what was there.
pub fn set(key: &str, value: &[u8]) -> Result<()> {
    raw::set(key, value)
}

/// Remove `key`; true when it existed.
pub fn delete(key: &str) -> Result<bool> {
    raw::delete(key)
}

/// Keys starting with `prefix`, sorted.
pub fn list_keys(prefix: &str) -> Result<Vec<String>> {
    raw::list_keys(prefix)
}

/// Replace the value under `key` with `new` (`None` deletes) only if it is
/// `expected` now (`None`: absent). True when the swap happened.
pub fn compare_and_swap(key: &str, expected: Option<&[u8]>, new: Option<&[u8]>) -> Result<bool> {
    raw::compare_and_swap(key, expected, new)
}

/// The JSON value under `key`, decoded; `internal` when it does not decode
/// (someone else's data, or a format this version does not know).
pub fn get_json<T: DeserializeOwned>(key: &str) -> Result<Option<T>> {
    let Some(bytes) = get(key)? else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes).map(Some).map_err(|err| {
        Error::internal(format!(
            "kv value under {key:?} is not what this backend stores: {err}"
        ))
    })
}

/// Store `value` as JSON under `key`.
pub fn set_json<T: Serialize>(key: &str, value: &T) -> Result<()> {
    set(key, &to_json(key, value)?)
}

/// Encode `value` as JSON, e.g. for [`compare_and_swap`].
pub fn to_json<T: Serialize>(key: &str, value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value)
        .map_err(|err| Error::internal(format!("cannot encode the value for {key:?}: {err}")))
}
