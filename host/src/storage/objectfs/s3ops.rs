//! Every S3 request the object filesystem makes, each bounded by the
//! configured request timeout, with S3 errors turned into errnos.
//!
//! Keys here are relative to the volume prefix ("" is the volume root); this
//! module adds the prefix. It must never retry on its own (the client has its
//! retry policy) nor wait without a bound: a dead endpoint becomes EIO.

use std::future::Future;
use std::time::{Duration, SystemTime};

use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, MetadataDirective};
use fuser::Errno;

pub type Res<T> = Result<T, Errno>;

/// Keys a lookup's listing asks for: enough to reach `name/` past a few
/// siblings like `name.bak` that sort before it.
const LOOKUP_KEYS: i32 = 16;

/// What a lookup found at one key.
#[derive(Debug, Clone)]
pub struct Found {
    pub file: Option<ObjectMeta>,
    pub is_dir: bool,
}

/// What a HEAD or a listing says about one object.
#[derive(Debug, Clone)]
pub struct ObjectMeta {
    pub size: u64,
    pub mtime: SystemTime,
    pub etag: Option<String>,
}

/// One page of a delimited listing, keys relative to the listed directory.
#[derive(Debug, Default)]
pub struct ListPage {
    pub files: Vec<(String, ObjectMeta)>,
    /// Sub-directory names (common prefixes), without the trailing '/'.
    pub dirs: Vec<String>,
    /// The listed directory's own marker object ("dir/"), when present.
    pub marker: Option<ObjectMeta>,
    pub next: Option<String>,
}

#[derive(Clone)]
pub struct S3 {
    client: Client,
    bucket: String,
    prefix: String,
    timeout: Duration,
}

impl S3 {
    pub fn new(client: Client, bucket: &str, prefix: &str, timeout: Duration) -> Self {
        S3 {
            client,
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
            timeout,
        }
    }

    fn full(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// HEAD of `key`; `Ok(None)` when it does not exist.
    pub async fn head(&self, key: &str) -> Res<Option<ObjectMeta>> {
        let request = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(self.full(key));
        match timed(self.timeout, request.send()).await? {
            Ok(out) => Ok(Some(meta(
                out.content_length(),
                out.last_modified(),
                out.e_tag(),
            ))),
            Err(e) if errno_of(&e) == Errno::ENOENT => Ok(None),
            Err(e) => Err(log_error("HeadObject", key, &e)),
        }
    }

    /// One page of the listing of directory `dir` ("" or "a/b/"), up to
    /// `max` entries, with '/' as delimiter.
    pub async fn list_page(&self, dir: &str, token: Option<String>, max: i32) -> Res<ListPage> {
        let full_dir = self.full(dir);
        let request = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(&full_dir)
            .delimiter("/")
            .max_keys(max)
            .set_continuation_token(token);
        let out = timed(self.timeout, request.send())
            .await?
            .map_err(|e| log_error("ListObjectsV2", dir, &e))?;
        let mut page = ListPage {
            next: out.next_continuation_token().map(str::to_string),
            ..ListPage::default()
        };
        for object in out.contents() {
            let Some(name) = object.key().and_then(|k| k.strip_prefix(&full_dir)) else {
                continue;
            };
            let m = meta(object.size(), object.last_modified(), object.e_tag());
            if name.is_empty() {
                page.marker = Some(m);
            } else {
                page.files.push((name.to_string(), m));
            }
        }
        for common in out.common_prefixes() {
            let name = common.prefix().and_then(|p| p.strip_prefix(&full_dir));
            if let Some(name) = name.and_then(|n| n.strip_suffix('/'))
                && !name.is_empty()
            {
                page.dirs.push(name.to_string());
            }
        }
        Ok(page)
    }

    /// What exists at `key`: a file `key`, a directory `key/` (marker or
    /// implicit prefix), both or neither, answered by one delimited
    /// ListObjectsV2 with prefix `key`. `None` when the page was cut short
    /// before answering both (many siblings sorting between `key` and
    /// `key/`, like `key.1` ... `key.99`): the caller probes directly.
    pub async fn lookup(&self, key: &str) -> Res<Option<Found>> {
        let full = self.full(key);
        let dir = format!("{full}/");
        let request = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(&full)
            .delimiter("/")
            .max_keys(LOOKUP_KEYS);
        let out = timed(self.timeout, request.send())
            .await?
            .map_err(|e| log_error("ListObjectsV2", key, &e))?;
        let file = out
            .contents()
            .iter()
            .find(|o| o.key() == Some(full.as_str()))
            .map(|o| meta(o.size(), o.last_modified(), o.e_tag()));
        let is_dir = out
            .common_prefixes()
            .iter()
            .any(|p| p.prefix() == Some(&dir))
            || out
                .contents()
                .iter()
                .any(|o| o.key().is_some_and(|k| k.starts_with(&dir)));
        let complete = !out.is_truncated().unwrap_or(false);
        Ok((complete || (file.is_some() && is_dir)).then_some(Found { file, is_dir }))
    }

    /// True when anything exists under `dir` ("a/b/"), marker included.
    pub async fn dir_exists(&self, dir: &str) -> Res<bool> {
        let request = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(self.full(dir))
            .max_keys(1);
        let out = timed(self.timeout, request.send())
            .await?
            .map_err(|e| log_error("ListObjectsV2", dir, &e))?;
        Ok(!out.contents().is_empty())
    }

    /// Keys under `dir` ("a/b/"), at most `max`, relative to `dir`.
    pub async fn keys_under(&self, dir: &str, max: i32) -> Res<Vec<String>> {
        let full_dir = self.full(dir);
        let request = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(&full_dir)
            .max_keys(max);
        let out = timed(self.timeout, request.send())
            .await?
            .map_err(|e| log_error("ListObjectsV2", dir, &e))?;
        Ok(out
            .contents()
            .iter()
            .filter_map(|o| o.key()?.strip_prefix(&full_dir).map(str::to_string))
            .collect())
    }

    /// Bytes `start..end` of `key`; `etag`, when known, guards against the
    /// object changing under an open reader (412 becomes EIO, not mixed data).
    pub async fn get_range(
        &self,
        key: &str,
        start: u64,
        end: u64,
        etag: Option<&str>,
    ) -> Res<Vec<u8>> {
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(self.full(key))
            .range(format!("bytes={start}-{}", end - 1))
            .set_if_match(etag.map(str::to_string));
        let body = async {
            let out = request
                .send()
                .await
                .map_err(|e| log_error("GetObject", key, &e))?;
            let data = out.body.collect().await.map_err(|e| {
                tracing::warn!(key, error = %e, "GetObject body failed");
                Errno::EIO
            })?;
            Ok(data.to_vec())
        };
        timed(self.timeout, body).await?
    }

    pub async fn put(&self, key: &str, body: Vec<u8>) -> Res<ObjectMeta> {
        let size = body.len() as u64;
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(self.full(key))
            .body(ByteStream::from(body));
        let out = timed(self.timeout, request.send())
            .await?
            .map_err(|e| log_error("PutObject", key, &e))?;
        Ok(ObjectMeta {
            size,
            mtime: SystemTime::now(),
            etag: out.e_tag().map(str::to_string),
        })
    }

    pub async fn create_upload(&self, key: &str) -> Res<String> {
        let request = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(self.full(key));
        let out = timed(self.timeout, request.send())
            .await?
            .map_err(|e| log_error("CreateMultipartUpload", key, &e))?;
        out.upload_id().map(str::to_string).ok_or(Errno::EIO)
    }

    pub async fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        number: i32,
        body: Vec<u8>,
    ) -> Res<CompletedPart> {
        let request = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(self.full(key))
            .upload_id(upload_id)
            .part_number(number)
            .body(ByteStream::from(body));
        let out = timed(self.timeout, request.send())
            .await?
            .map_err(|e| log_error("UploadPart", key, &e))?;
        Ok(CompletedPart::builder()
            .set_e_tag(out.e_tag().map(str::to_string))
            .set_checksum_crc32(out.checksum_crc32().map(str::to_string))
            .set_checksum_crc32_c(out.checksum_crc32_c().map(str::to_string))
            .set_checksum_crc64_nvme(out.checksum_crc64_nvme().map(str::to_string))
            .part_number(number)
            .build())
    }

    /// Completes the upload of `size` bytes. An error answer is not taken
    /// at its word: the upload may be done even so (a lost or unreadable
    /// response; moto answers with a `CompleteMultipartUploadResponse` root
    /// the SDK refuses to parse). When the upload no longer exists and the
    /// key holds an object of exactly `size` bytes, that object is ours.
    pub async fn complete_upload(
        &self,
        key: &str,
        upload_id: &str,
        parts: Vec<CompletedPart>,
        size: u64,
    ) -> Res<ObjectMeta> {
        let request = self
            .client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(self.full(key))
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            );
        let error = match timed(self.timeout, request.send()).await {
            Ok(Ok(out)) => {
                return Ok(ObjectMeta {
                    size,
                    mtime: SystemTime::now(),
                    etag: out.e_tag().map(str::to_string),
                });
            }
            Ok(Err(e)) => log_error("CompleteMultipartUpload", key, &e),
            Err(timeout) => timeout,
        };
        if !self.upload_pending(key, upload_id).await?
            && let Some(done) = self.head(key).await?
            && done.size == size
        {
            tracing::info!(
                key,
                "CompleteMultipartUpload failed, but the upload is done"
            );
            return Ok(done);
        }
        Err(error)
    }

    /// Whether multipart upload `upload_id` still exists (not completed,
    /// not aborted): asked after CompleteMultipartUpload answered with an
    /// error, which may have happened after the upload was done.
    pub async fn upload_pending(&self, key: &str, upload_id: &str) -> Res<bool> {
        let request = self
            .client
            .list_parts()
            .bucket(&self.bucket)
            .key(self.full(key))
            .upload_id(upload_id)
            .max_parts(1);
        match timed(self.timeout, request.send()).await? {
            Ok(_) => Ok(true),
            Err(e) if errno_of(&e) == Errno::ENOENT => Ok(false),
            Err(e) => Err(log_error("ListParts", key, &e)),
        }
    }

    /// Best effort: an abandoned upload only costs storage until the
    /// bucket's lifecycle rule reaps it.
    pub async fn abort_upload(&self, key: &str, upload_id: &str) {
        let request = self
            .client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(self.full(key))
            .upload_id(upload_id);
        if let Ok(Err(e)) = timed(self.timeout, request.send()).await {
            log_error("AbortMultipartUpload", key, &e);
        }
    }

    /// Server-side copy (objects up to 5 GiB; the caller checks the size).
    /// Copying a key onto itself refreshes its LastModified.
    pub async fn copy(&self, from: &str, to: &str) -> Res<()> {
        let source = format!("{}/{}", self.bucket, encode_key(&self.full(from)));
        let request = self
            .client
            .copy_object()
            .bucket(&self.bucket)
            .key(self.full(to))
            .copy_source(source)
            .metadata_directive(MetadataDirective::Replace);
        timed(self.timeout, request.send())
            .await?
            .map_err(|e| log_error("CopyObject", from, &e))?;
        Ok(())
    }

    pub async fn delete(&self, key: &str) -> Res<()> {
        let request = self
            .client
            .delete_object()
            .bucket(&self.bucket)
            .key(self.full(key));
        timed(self.timeout, request.send())
            .await?
            .map_err(|e| log_error("DeleteObject", key, &e))?;
        Ok(())
    }
}

/// Bounds `fut` by `limit`; expiry is EIO for the FUSE request.
pub async fn timed<T>(limit: Duration, fut: impl Future<Output = T>) -> Res<T> {
    tokio::time::timeout(limit, fut).await.map_err(|_| {
        tracing::warn!(?limit, "S3 request timed out");
        Errno::EIO
    })
}

fn meta(
    size: Option<i64>,
    mtime: Option<&aws_sdk_s3::primitives::DateTime>,
    etag: Option<&str>,
) -> ObjectMeta {
    ObjectMeta {
        size: size.unwrap_or(0).max(0) as u64,
        mtime: mtime
            .and_then(|t| SystemTime::try_from(*t).ok())
            .unwrap_or(SystemTime::UNIX_EPOCH),
        etag: etag.map(str::to_string),
    }
}

/// 404 → ENOENT, 403 → EACCES, anything else (5xx, 412, network) → EIO.
fn errno_of<E: ProvideErrorMetadata>(e: &SdkError<E, HttpResponse>) -> Errno {
    let status = e.raw_response().map(|r| r.status().as_u16());
    match (status, e.code()) {
        (Some(404), _) | (_, Some("NoSuchKey" | "NotFound" | "NoSuchUpload")) => Errno::ENOENT,
        (Some(403), _) | (_, Some("AccessDenied")) => Errno::EACCES,
        _ => Errno::EIO,
    }
}

fn log_error<E>(op: &'static str, key: &str, e: &SdkError<E, HttpResponse>) -> Errno
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let errno = errno_of(e);
    if errno != Errno::ENOENT {
        let error = aws_sdk_s3::error::DisplayErrorContext(e);
        tracing::warn!(op, key, code = ?e.code(), %error, "S3 request failed");
    }
    errno
}

/// Percent-encodes a key for x-amz-copy-source, keeping '/' and unreserved.
fn encode_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
