//! One method per WIT function of `s3`: build the SDK call from the
//! contract's values, send it (the SDK retries), convert the answer.
//!
//! Bounded on purpose: `list-objects` answers one page, `usage` stops at
//! the count asked for, small objects are at most [`SMALL_OBJECT_MAX`]
//! both ways (a larger `get-object` is refused from its length, before its
//! body is read). `delete-prefix` is the one call that walks a whole
//! prefix, a page (and one DeleteObjects batch) at a time.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, Delete, ObjectIdentifier,
};

use super::errors::{classify, sdk};
use super::{S3, SMALL_OBJECT_MAX};
use crate::capabilities::aws::millis;
use crate::runtime::bindings::BackendError;
use crate::runtime::bindings::ballast::backend::s3::{
    Bucket, ObjectPage, ObjectSummary, PrefixUsage,
};

/// S3's largest page of ListObjectsV2 and batch of DeleteObjects.
pub const MAX_PAGE: u32 = 1000;

/// How many failed keys a `delete-prefix` error names.
const FAILED_KEYS_SHOWN: usize = 5;

impl S3 {
    /// ListBuckets, every page.
    pub async fn list_buckets(&self) -> Result<Vec<Bucket>, BackendError> {
        let buckets = self
            .client()
            .await
            .list_buckets()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(sdk("ListBuckets"))?;
        Ok(buckets
            .iter()
            .filter_map(|b| {
                Some(Bucket {
                    name: b.name()?.to_string(),
                    created_ms: millis(b.creation_date()),
                })
            })
            .collect())
    }

    /// HeadBucket: the bucket's region (as S3 reports it, else the
    /// client's); `not-found` when there is no such bucket.
    pub async fn head_bucket(&self, bucket: &str) -> Result<String, BackendError> {
        let output = self
            .client()
            .await
            .head_bucket()
            .bucket(bucket)
            .send()
            .await
            .map_err(sdk("HeadBucket"))?;
        match output.bucket_region() {
            Some(region) if !region.is_empty() => Ok(region.to_string()),
            _ => Ok(self.region().await.unwrap_or_else(|| "us-east-1".into())),
        }
    }

    /// CreateBucket in `region` (else the client's), idempotent for the
    /// owner: a bucket these credentials already own is a success.
    pub async fn create_bucket(
        &self,
        bucket: &str,
        region: Option<&str>,
    ) -> Result<(), BackendError> {
        let region = match region.filter(|r| !r.is_empty()) {
            Some(region) => Some(region.to_string()),
            None => self.region().await,
        };
        // us-east-1 is S3's default and refuses being named as a constraint.
        let configuration = region.filter(|r| r != "us-east-1").map(|r| {
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(r.as_str()))
                .build()
        });
        let result = self
            .client()
            .await
            .create_bucket()
            .bucket(bucket)
            .set_create_bucket_configuration(configuration)
            .send()
            .await;
        let err = match result {
            Ok(_) => return Ok(()),
            Err(err) => err,
        };
        if err
            .as_service_error()
            .is_some_and(|e| e.is_bucket_already_owned_by_you())
        {
            return Ok(());
        }
        let mapped = sdk("CreateBucket")(err);
        // Some S3-compatible servers (and AWS outside us-east-1 for a
        // retried call) answer BucketAlreadyExists to the owner too:
        // believe ListBuckets, which shows only the buckets we own.
        if matches!(mapped, BackendError::AlreadyExists(_))
            && let Ok(owned) = self.list_buckets().await
            && owned.iter().any(|b| b.name == bucket)
        {
            return Ok(());
        }
        Err(mapped)
    }

    /// DeleteBucket; `conflict` (BucketNotEmpty) while it holds objects.
    pub async fn delete_bucket(&self, bucket: &str) -> Result<(), BackendError> {
        self.client()
            .await
            .delete_bucket()
            .bucket(bucket)
            .send()
            .await
            .map_err(sdk("DeleteBucket"))?;
        Ok(())
    }

    /// One page of ListObjectsV2 (`max_keys` clamped to 1–1000).
    pub async fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
        continuation: Option<String>,
        max_keys: u32,
    ) -> Result<ObjectPage, BackendError> {
        let output = self
            .client()
            .await
            .list_objects_v2()
            .bucket(bucket)
            .set_prefix((!prefix.is_empty()).then(|| prefix.to_string()))
            .set_delimiter(delimiter.filter(|d| !d.is_empty()).map(str::to_string))
            .set_continuation_token(continuation.filter(|c| !c.is_empty()))
            .max_keys(max_keys.clamp(1, MAX_PAGE) as i32)
            .send()
            .await
            .map_err(sdk("ListObjectsV2"))?;
        let next_token = match output.is_truncated() {
            Some(true) => output.next_continuation_token().map(str::to_string),
            _ => None,
        };
        Ok(ObjectPage {
            objects: output
                .contents()
                .iter()
                .filter_map(|o| {
                    Some(ObjectSummary {
                        key: o.key()?.to_string(),
                        size: o.size().unwrap_or(0).max(0) as u64,
                        modified_ms: millis(o.last_modified()),
                    })
                })
                .collect(),
            common_prefixes: output
                .common_prefixes()
                .iter()
                .filter_map(|p| p.prefix().map(str::to_string))
                .collect(),
            next_token,
        })
    }

    /// Objects and bytes under `prefix`, page by page, stopping once
    /// `max` objects are counted (`truncated` when more remain).
    pub async fn usage(
        &self,
        bucket: &str,
        prefix: &str,
        max: u64,
    ) -> Result<PrefixUsage, BackendError> {
        let mut usage = PrefixUsage {
            objects: 0,
            bytes: 0,
            truncated: false,
        };
        let mut token = None;
        loop {
            // One more than still wanted tells whether the count stops early.
            let want = (max - usage.objects).saturating_add(1).min(MAX_PAGE.into()) as u32;
            let page = self.list_objects(bucket, prefix, None, token, want).await?;
            for object in &page.objects {
                if usage.objects == max {
                    usage.truncated = true;
                    return Ok(usage);
                }
                usage.objects += 1;
                usage.bytes += object.size;
            }
            match page.next_token {
                Some(next) if usage.objects < max => token = Some(next),
                Some(_) => {
                    usage.truncated = true;
                    return Ok(usage);
                }
                None => return Ok(usage),
            }
        }
    }

    /// Delete every object under `prefix` (empty: the whole bucket), a
    /// page of ListObjectsV2 and one DeleteObjects batch at a time; how
    /// many were deleted. Keys S3 refuses to delete make the call fail,
    /// naming the first few and S3's code for them.
    pub async fn delete_prefix(&self, bucket: &str, prefix: &str) -> Result<u64, BackendError> {
        let mut deleted = 0u64;
        let mut failed: Vec<(String, String, String)> = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .list_objects(bucket, prefix, None, token, MAX_PAGE)
                .await?;
            if !page.objects.is_empty() {
                let (done, errors) = self
                    .delete_batch(bucket, page.objects.iter().map(|o| o.key.as_str()))
                    .await?;
                deleted += done;
                failed.extend(errors);
            }
            match page.next_token {
                Some(next) => token = Some(next),
                None => break,
            }
        }
        if failed.is_empty() {
            return Ok(deleted);
        }
        let (_, first_code, first_message) = &failed[0];
        let shown: Vec<String> = failed
            .iter()
            .take(FAILED_KEYS_SHOWN)
            .map(|(key, code, message)| format!("{key:?} ({code}: {message})"))
            .collect();
        let more = failed.len().saturating_sub(FAILED_KEYS_SHOWN);
        let more = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        // The kind follows S3's code for the first failure; the message
        // keeps the counts and the keys.
        let kind = classify("DeleteObjects", Some(first_code), Some(first_message), None);
        let message = format!(
            "DeleteObjects: {first_code}: {} of {} objects under {prefix:?} in bucket {bucket} \
             were not deleted: {}{more}",
            failed.len(),
            failed.len() as u64 + deleted,
            shown.join(", "),
        );
        Err(with_message(kind, message))
    }

    /// One DeleteObjects call (at most 1000 keys): how many were deleted
    /// and (key, code, message) of each refused.
    async fn delete_batch(
        &self,
        bucket: &str,
        keys: impl Iterator<Item = &str>,
    ) -> Result<(u64, Vec<(String, String, String)>), BackendError> {
        let objects = keys
            .map(|key| ObjectIdentifier::builder().key(key).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| BackendError::Internal(format!("DeleteObjects: {e}")))?;
        let count = objects.len() as u64;
        let delete = Delete::builder()
            .set_objects(Some(objects))
            .quiet(true)
            .build()
            .map_err(|e| BackendError::Internal(format!("DeleteObjects: {e}")))?;
        let output = self
            .client()
            .await
            .delete_objects()
            .bucket(bucket)
            .delete(delete)
            .send()
            .await
            .map_err(sdk("DeleteObjects"))?;
        let errors: Vec<(String, String, String)> = output
            .errors()
            .iter()
            // Deleting a missing key is not an error in S3's own terms.
            .filter(|e| e.code() != Some("NoSuchKey"))
            .map(|e| {
                (
                    e.key().unwrap_or_default().to_string(),
                    e.code().unwrap_or("Unknown").to_string(),
                    e.message().unwrap_or("(no message)").to_string(),
                )
            })
            .collect();
        Ok((count - errors.len() as u64, errors))
    }

    /// PutObject of a small body (at most [`SMALL_OBJECT_MAX`]).
    pub async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
    ) -> Result<(), BackendError> {
        if body.len() > SMALL_OBJECT_MAX {
            return Err(too_large("PutObject", key, body.len() as u64));
        }
        self.client()
            .await
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(sdk("PutObject"))?;
        Ok(())
    }

    /// GetObject of a small object; `invalid-argument` when it is larger
    /// than [`SMALL_OBJECT_MAX`], decided from its length (or, when the
    /// server gives none, after reading one byte past the limit).
    pub async fn get_object(&self, bucket: &str, key: &str) -> Result<Vec<u8>, BackendError> {
        let output = self
            .client()
            .await
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(sdk("GetObject"))?;
        if let Some(length) = output.content_length()
            && length > SMALL_OBJECT_MAX as i64
        {
            // Dropping the body closes the connection unread.
            return Err(too_large("GetObject", key, length as u64));
        }
        let mut body = output.body;
        let mut bytes = Vec::new();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| {
                BackendError::Unavailable(format!("GetObject: ReadFailure: {key:?}: {e}"))
            })?;
            bytes.extend_from_slice(&chunk);
            if bytes.len() > SMALL_OBJECT_MAX {
                return Err(too_large("GetObject", key, bytes.len() as u64));
            }
        }
        Ok(bytes)
    }

    /// DeleteObject; a missing key is a success, as in S3.
    pub async fn delete_object(&self, bucket: &str, key: &str) -> Result<(), BackendError> {
        match self
            .client()
            .await
            .delete_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(sdk("DeleteObject"))
        {
            Ok(_) => Ok(()),
            Err(BackendError::NotFound(m)) if m.contains("NoSuchKey") => Ok(()),
            Err(e) => Err(e),
        }
    }
}

fn too_large(action: &str, key: &str, size: u64) -> BackendError {
    BackendError::InvalidArgument(format!(
        "{action}: EntityTooLarge: object {key:?} is {size} bytes; small objects through \
         this capability are at most {SMALL_OBJECT_MAX} bytes"
    ))
}

/// `err` with its text replaced.
fn with_message(err: BackendError, message: String) -> BackendError {
    match err {
        BackendError::NotFound(_) => BackendError::NotFound(message),
        BackendError::AlreadyExists(_) => BackendError::AlreadyExists(message),
        BackendError::InvalidArgument(_) => BackendError::InvalidArgument(message),
        BackendError::Conflict(_) => BackendError::Conflict(message),
        BackendError::Unavailable(_) => BackendError::Unavailable(message),
        BackendError::PermissionDenied(_) => BackendError::PermissionDenied(message),
        BackendError::Internal(_) => BackendError::Internal(message),
    }
}
