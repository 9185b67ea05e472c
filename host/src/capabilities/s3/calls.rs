//! One method per WIT function of `s3`. (Being written: every call answers
//! `internal` until it is.)

use super::S3;
use crate::runtime::bindings::BackendError;
use crate::runtime::bindings::ballast::backend::s3::{Bucket, ObjectPage, PrefixUsage};

fn pending(action: &str) -> BackendError {
    BackendError::Internal(format!("{action}: not written yet"))
}

impl S3 {
    pub async fn list_buckets(&self) -> Result<Vec<Bucket>, BackendError> {
        Err(pending("ListBuckets"))
    }
    pub async fn head_bucket(&self, _bucket: &str) -> Result<String, BackendError> {
        Err(pending("HeadBucket"))
    }
    pub async fn create_bucket(
        &self,
        _bucket: &str,
        _region: Option<&str>,
    ) -> Result<(), BackendError> {
        Err(pending("CreateBucket"))
    }
    pub async fn delete_bucket(&self, _bucket: &str) -> Result<(), BackendError> {
        Err(pending("DeleteBucket"))
    }
    pub async fn list_objects(
        &self,
        _bucket: &str,
        _prefix: &str,
        _delimiter: Option<&str>,
        _continuation: Option<String>,
        _max_keys: u32,
    ) -> Result<ObjectPage, BackendError> {
        Err(pending("ListObjectsV2"))
    }
    pub async fn usage(
        &self,
        _bucket: &str,
        _prefix: &str,
        _max: u64,
    ) -> Result<PrefixUsage, BackendError> {
        Err(pending("ListObjectsV2"))
    }
    pub async fn delete_prefix(&self, _bucket: &str, _prefix: &str) -> Result<u64, BackendError> {
        Err(pending("DeleteObjects"))
    }
    pub async fn put_object(
        &self,
        _bucket: &str,
        _key: &str,
        _body: Vec<u8>,
    ) -> Result<(), BackendError> {
        Err(pending("PutObject"))
    }
    pub async fn get_object(&self, _bucket: &str, _key: &str) -> Result<Vec<u8>, BackendError> {
        Err(pending("GetObject"))
    }
    pub async fn delete_object(&self, _bucket: &str, _key: &str) -> Result<(), BackendError> {
        Err(pending("DeleteObject"))
    }
}
