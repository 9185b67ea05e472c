//! Amazon S3 (or an S3-compatible store) control calls (the `s3`
//! capability, WIT 0.1.2), made for the backend by the AWS SDK in the host
//! with the host's credentials, region, endpoint and retries. The guest
//! never sees a credential, and never moves file data: `attach` answers an
//! `object` mount source and the host's FUSE filesystem does the I/O.
//!
//! Thin wrappers over the generated imports, plus small pure helpers
//! ([`join_key`], [`dir_prefix`], [`object_source`]). Errors follow the
//! interface's docs: throttling and 5xx come back (after the host's
//! retries) as `unavailable`; a missing bucket or key as `not-found`;
//! `AccessDenied` as `permission-denied`; a bucket name someone else owns as
//! `already-exists`; a bucket that still holds objects as `conflict`; every
//! message starts with the action and S3's error code. Calling any of the
//! functions makes the component import `s3`; the helpers alone do not.

use crate::bindings::ballast::backend::s3 as raw;
use crate::{MountSource, ObjectSource, Result};

pub use raw::{Bucket, ObjectPage, ObjectSummary, PrefixUsage};

/// The largest body [`put_object`] and [`get_object`] move (1 MiB).
pub const SMALL_OBJECT_MAX: usize = 1 << 20;

/// The most keys one [`list_objects`] page holds.
pub const MAX_KEYS: u32 = 1000;

/// ListBuckets: the buckets the host's credentials own.
pub fn list_buckets() -> Result<Vec<Bucket>> {
    raw::list_buckets()
}

/// HeadBucket: the bucket's region; `not-found` when there is no such
/// bucket (or, as S3 answers for a bucket of another account,
/// `permission-denied`).
pub fn head_bucket(bucket: &str) -> Result<String> {
    raw::head_bucket(bucket)
}

/// CreateBucket in `region` (none: the host client's region). A bucket the
/// credentials already own is a success; one someone else owns is
/// `already-exists`.
pub fn create_bucket(bucket: &str, region: Option<&str>) -> Result<()> {
    raw::create_bucket(bucket, region)
}

/// DeleteBucket; `conflict` while it still holds objects.
pub fn delete_bucket(bucket: &str) -> Result<()> {
    raw::delete_bucket(bucket)
}

/// One page of ListObjectsV2 under `prefix` (at most `max_keys`, clamped
/// to 1–1000 by the host), with an optional `delimiter` ("/" gives the
/// "directories" one level down in `common_prefixes`). Pass the page's
/// `next_token` back as `continuation` for the next page.
pub fn list_objects(
    bucket: &str,
    prefix: &str,
    delimiter: Option<&str>,
    continuation: Option<&str>,
    max_keys: u32,
) -> Result<ObjectPage> {
    raw::list_objects(bucket, prefix, delimiter, continuation, max_keys)
}

/// Every common prefix under `prefix` with `delimiter` ("/"), all pages.
pub fn list_common_prefixes(bucket: &str, prefix: &str, delimiter: &str) -> Result<Vec<String>> {
    let mut found = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = list_objects(bucket, prefix, Some(delimiter), token.as_deref(), MAX_KEYS)?;
        found.extend(page.common_prefixes);
        match page.next_token {
            Some(next) => token = Some(next),
            None => return Ok(found),
        }
    }
}

/// Objects and bytes under `prefix`, counted by the host and stopping after
/// `max_objects` (`truncated` then).
pub fn usage(bucket: &str, prefix: &str, max_objects: u64) -> Result<PrefixUsage> {
    raw::usage(bucket, prefix, max_objects)
}

/// Delete every object under `prefix` (an empty prefix: the whole bucket);
/// how many were deleted. Keys S3 refuses fail the call, naming them.
pub fn delete_prefix(bucket: &str, prefix: &str) -> Result<u64> {
    raw::delete_prefix(bucket, prefix)
}

/// PutObject of a small body (markers, metadata): at most
/// [`SMALL_OBJECT_MAX`], else `invalid-argument`.
pub fn put_object(bucket: &str, key: &str, body: &[u8]) -> Result<()> {
    raw::put_object(bucket, key, body)
}

/// GetObject of a small object; `not-found` when absent, `invalid-argument`
/// when larger than [`SMALL_OBJECT_MAX`] (refused before it is read).
pub fn get_object(bucket: &str, key: &str) -> Result<Vec<u8>> {
    raw::get_object(bucket, key)
}

/// A small object's bytes, or `None` when the key (not the bucket) is
/// absent. A missing bucket stays `not-found`.
pub fn get_object_if_exists(bucket: &str, key: &str) -> Result<Option<Vec<u8>>> {
    match get_object(bucket, key) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(err) if err.kind() == "not-found" && !err.message().contains("NoSuchBucket") => {
            Ok(None)
        }
        Err(err) => Err(err),
    }
}

/// DeleteObject; a missing key is a success.
pub fn delete_object(bucket: &str, key: &str) -> Result<()> {
    raw::delete_object(bucket, key)
}

/// `prefix` as a "directory": empty stays empty, anything else ends in
/// exactly one "/" (`"a"` and `"a/"` give `"a/"`).
pub fn dir_prefix(prefix: &str) -> String {
    let trimmed = prefix.trim_end_matches('/');
    if trimmed.is_empty() {
        String::new()
    } else {
        format!("{trimmed}/")
    }
}

/// A key under a directory prefix: `join_key("base/vol/", "file")` is
/// `"base/vol/file"`; with an empty prefix the key alone.
pub fn join_key(prefix: &str, key: &str) -> String {
    format!("{}{}", dir_prefix(prefix), key.trim_start_matches('/'))
}

/// The `object` mount source for `bucket` under `prefix`.
pub fn object_source(
    bucket: &str,
    prefix: &str,
    region: &str,
    endpoint: Option<&str>,
    options: Vec<(String, String)>,
) -> MountSource {
    MountSource::Object(ObjectSource {
        bucket: bucket.to_owned(),
        prefix: prefix.to_owned(),
        region: region.to_owned(),
        endpoint: endpoint.map(str::to_owned),
        options,
    })
}

#[cfg(test)]
mod tests {
    //! The pure helpers only; the imports are never called natively.
    use super::*;

    #[test]
    fn prefixes_end_in_one_slash() {
        assert_eq!(dir_prefix(""), "");
        assert_eq!(dir_prefix("/"), "");
        assert_eq!(dir_prefix("a"), "a/");
        assert_eq!(dir_prefix("a/b//"), "a/b/");
        assert_eq!(join_key("", "x"), "x");
        assert_eq!(join_key("base", "vol/"), "base/vol/");
        assert_eq!(join_key("base/", "/x"), "base/x");
    }

    #[test]
    fn object_sources_carry_every_field() {
        let MountSource::Object(source) = object_source(
            "b",
            "p/",
            "eu-west-1",
            Some("http://127.0.0.1:9000"),
            vec![("uid".into(), "1000".into())],
        ) else {
            panic!("not an object source");
        };
        assert_eq!(
            (source.bucket.as_str(), source.prefix.as_str()),
            ("b", "p/")
        );
        assert_eq!(source.region, "eu-west-1");
        assert_eq!(source.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(source.options, [("uid".to_string(), "1000".to_string())]);
    }
}
