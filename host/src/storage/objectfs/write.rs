//! The write path. Two shapes:
//!
//! - `StreamWriter`: a new or truncated file written sequentially streams
//!   to S3 as a multipart upload with up to `upload_concurrency` parts in
//!   flight; a file that ends below one part is a single PutObject. Nothing
//!   becomes visible before `finish` (close/fsync) completes the upload.
//!   Once the first part ships, the bytes are also teed into a staging file
//!   while the file is at most `TEE_LIMIT` long (and the staging budget
//!   allows), so that a later non-sequential write (backwards into a part
//!   already uploaded, like patching a header) can switch to staging without
//!   losing data. Past that the tee is dropped: teeing every byte of a large
//!   file would double the local disk traffic of every big sequential write
//!   for a pattern that is rare there, so such a write fails (ENOTSUP past
//!   the limit, ENOSPC when the budget ran out). Forward jumps are filled
//!   with zeros (sparse writes), and rewrites inside the not-yet-shipped
//!   buffer are patched in place.
//! - `StagedFile`: overwrite, append, truncate and random writes of an
//!   existing object go through a local file under `staging_dir` (downloaded
//!   first), uploaded whole on close/fsync (`upload_file`).
//!
//! Bounded: part buffers take permits from the shared memory budget, staging
//! files reserve bytes from the staging budget (ENOSPC beyond it).

use std::collections::VecDeque;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_sdk_s3::types::CompletedPart;
use fuser::Errno;
use tokio::sync::OwnedSemaphorePermit;
use tokio::task::JoinHandle;

use super::read::Memory;
use super::s3ops::{ObjectMeta, Res, S3, timed};

/// Bytes of local staging files across the mount.
pub struct StagingBudget {
    dir: PathBuf,
    limit: u64,
    used: AtomicU64,
    counter: AtomicU64,
}

impl StagingBudget {
    pub fn new(dir: &Path, limit: u64) -> Arc<Self> {
        Arc::new(StagingBudget {
            dir: dir.to_path_buf(),
            limit,
            used: AtomicU64::new(0),
            counter: AtomicU64::new(0),
        })
    }

    fn reserve(&self, bytes: u64) -> Res<()> {
        let mut used = self.used.load(Ordering::Relaxed);
        loop {
            let want = used.checked_add(bytes).ok_or(Errno::ENOSPC)?;
            if want > self.limit {
                return Err(Errno::ENOSPC);
            }
            match self
                .used
                .compare_exchange(used, want, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return Ok(()),
                Err(now) => used = now,
            }
        }
    }

    fn release(&self, bytes: u64) {
        self.used.fetch_sub(bytes, Ordering::AcqRel);
    }
}

/// A local file holding a whole object's bytes, unlinked at creation so it
/// never outlives the process. Its reservation follows its size.
pub struct StagedFile {
    file: File,
    size: u64,
    reserved: u64,
    budget: Arc<StagingBudget>,
}

impl StagedFile {
    pub fn new(budget: &Arc<StagingBudget>) -> Res<Self> {
        let n = budget.counter.fetch_add(1, Ordering::Relaxed);
        let path = budget
            .dir
            .join(format!(".ballast-stage-{}-{n}", std::process::id()));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| io_errno("create staging file", &e))?;
        let _ = std::fs::remove_file(&path);
        Ok(StagedFile {
            file,
            size: 0,
            reserved: 0,
            budget: budget.clone(),
        })
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    fn grow_reservation(&mut self, size: u64) -> Res<()> {
        if size > self.reserved {
            self.budget.reserve(size - self.reserved)?;
            self.reserved = size;
        }
        Ok(())
    }

    pub fn write_at(&mut self, offset: u64, data: &[u8]) -> Res<()> {
        let end = offset + data.len() as u64;
        self.grow_reservation(end)?;
        self.file
            .write_all_at(data, offset)
            .map_err(|e| io_errno("write staging file", &e))?;
        self.size = self.size.max(end);
        Ok(())
    }

    pub fn read_at(&self, offset: u64, len: usize) -> Res<Vec<u8>> {
        let end = self.size.min(offset + len as u64);
        let mut buf = vec![0; end.saturating_sub(offset) as usize];
        self.file
            .read_exact_at(&mut buf, offset)
            .map_err(|e| io_errno("read staging file", &e))?;
        Ok(buf)
    }

    pub fn set_len(&mut self, size: u64) -> Res<()> {
        self.grow_reservation(size)?;
        self.file
            .set_len(size)
            .map_err(|e| io_errno("truncate staging file", &e))?;
        self.size = size;
        Ok(())
    }

    /// Downloads `key` (`size` bytes) into a new staging file, part by part.
    pub async fn download(
        budget: &Arc<StagingBudget>,
        s3: &S3,
        key: &str,
        size: u64,
        part: usize,
    ) -> Res<Self> {
        let mut staged = StagedFile::new(budget)?;
        staged.grow_reservation(size)?;
        let mut offset = 0;
        while offset < size {
            let end = size.min(offset + part as u64);
            let data = s3.get_range(key, offset, end, None).await?;
            if data.len() as u64 != end - offset {
                return Err(Errno::EIO);
            }
            staged.write_at(offset, &data)?;
            offset = end;
        }
        Ok(staged)
    }
}

impl Drop for StagedFile {
    fn drop(&mut self) {
        self.budget.release(self.reserved);
    }
}

fn io_errno(what: &str, e: &std::io::Error) -> Errno {
    tracing::warn!(what, error = %e, "staging I/O failed");
    match e.raw_os_error() {
        Some(code) if code == Errno::ENOSPC.code() => Errno::ENOSPC,
        _ => Errno::EIO,
    }
}

/// Where parts go: bounded in-flight uploads of one multipart upload.
pub struct Uploader {
    s3: S3,
    key: String,
    memory: Memory,
    concurrency: usize,
    wait: Duration,
    upload_id: Option<String>,
    inflight: VecDeque<JoinHandle<Res<CompletedPart>>>,
    done: Vec<CompletedPart>,
}

impl Uploader {
    pub fn new(s3: S3, key: String, memory: Memory, concurrency: usize, wait: Duration) -> Self {
        Uploader {
            s3,
            key,
            memory,
            concurrency: concurrency.max(1),
            wait,
            upload_id: None,
            inflight: VecDeque::new(),
            done: Vec::new(),
        }
    }

    pub fn started(&self) -> bool {
        self.upload_id.is_some()
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    /// Points a not yet started upload at another key (after a rename).
    pub fn rekey(&mut self, key: &str) -> bool {
        if self.started() {
            return false;
        }
        self.key = key.to_string();
        true
    }

    /// Memory for one part buffer; bounded wait, EIO if it never frees up.
    pub async fn memory_for(&self, bytes: usize) -> Res<OwnedSemaphorePermit> {
        timed(self.wait, self.memory.take(bytes)).await
    }

    /// Starts uploading `body` as the next part; waits first when
    /// `concurrency` parts are already in flight.
    pub async fn ship(&mut self, body: Vec<u8>, permit: OwnedSemaphorePermit) -> Res<()> {
        if self.upload_id.is_none() {
            self.upload_id = Some(self.s3.create_upload(&self.key).await?);
        }
        while self.inflight.len() >= self.concurrency {
            self.reap_one().await?;
        }
        let number = (self.done.len() + self.inflight.len() + 1) as i32;
        let (s3, key) = (self.s3.clone(), self.key.clone());
        let id = self.upload_id.clone().unwrap_or_default();
        self.inflight.push_back(tokio::spawn(async move {
            let _permit = permit;
            s3.upload_part(&key, &id, number, body).await
        }));
        Ok(())
    }

    async fn reap_one(&mut self) -> Res<()> {
        if let Some(task) = self.inflight.pop_front() {
            self.done.push(task.await.map_err(|_| Errno::EIO)??);
        }
        Ok(())
    }

    /// Waits for every part and completes the upload of `size` bytes.
    pub async fn complete(&mut self, size: u64) -> Res<ObjectMeta> {
        while !self.inflight.is_empty() {
            self.reap_one().await?;
        }
        let id = self.upload_id.clone().ok_or(Errno::EIO)?;
        let parts = std::mem::take(&mut self.done);
        let meta = self.s3.complete_upload(&self.key, &id, parts, size).await?;
        self.upload_id = None;
        Ok(meta)
    }

    /// Abandons the upload (in the background).
    pub fn abort(&mut self) {
        for task in self.inflight.drain(..) {
            task.abort();
        }
        self.done.clear();
        if let Some(id) = self.upload_id.take() {
            let (s3, key) = (self.s3.clone(), self.key.clone());
            tokio::spawn(async move { s3.abort_upload(&key, &id).await });
        }
    }
}

impl Drop for Uploader {
    fn drop(&mut self) {
        self.abort();
    }
}

/// The largest streamed file that keeps a way back to its uploaded parts
/// (see the module doc).
const TEE_LIMIT: u64 = 64 * 1024 * 1024;

/// What a streaming writer needs to know.
pub struct StreamLimits {
    pub part_size: usize,
    pub staging: Arc<StagingBudget>,
}

/// A new or truncated file being written front to back.
pub struct StreamWriter {
    limits: StreamLimits,
    uploader: Uploader,
    buf: Vec<u8>,
    buf_permit: Option<OwnedSemaphorePermit>,
    size: u64,
    tee: Option<StagedFile>,
    /// Why there is no tee, once it was dropped.
    tee_lost: Errno,
}

/// A write the stream cannot take: the caller switches to staging.
pub struct NeedStaging;

impl StreamWriter {
    pub fn new(limits: StreamLimits, uploader: Uploader) -> Self {
        StreamWriter {
            limits,
            uploader,
            buf: Vec::new(),
            buf_permit: None,
            size: 0,
            tee: None,
            tee_lost: Errno::ENOTSUP,
        }
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn key(&self) -> &str {
        self.uploader.key()
    }

    pub fn rekey(&mut self, key: &str) -> bool {
        self.uploader.rekey(key)
    }

    pub async fn write(&mut self, offset: u64, data: &[u8]) -> Res<Result<(), NeedStaging>> {
        let buf_start = self.size - self.buf.len() as u64;
        if offset > self.size {
            self.zero_fill(offset).await?;
        }
        if offset == self.size {
            self.append(data).await?;
            return Ok(Ok(()));
        }
        if offset >= buf_start && offset + data.len() as u64 <= self.size {
            let at = (offset - buf_start) as usize;
            self.buf[at..at + data.len()].copy_from_slice(data);
            self.tee_write(offset, data);
            return Ok(Ok(()));
        }
        Ok(Err(NeedStaging))
    }

    /// Truncating to the current size or beyond is still a stream.
    pub async fn truncate(&mut self, size: u64) -> Res<Result<(), NeedStaging>> {
        if size < self.size {
            return Ok(Err(NeedStaging));
        }
        self.zero_fill(size).await?;
        Ok(Ok(()))
    }

    async fn zero_fill(&mut self, to: u64) -> Res<()> {
        let zeros = vec![0u8; 1024 * 1024];
        while self.size < to {
            let n = (to - self.size).min(zeros.len() as u64) as usize;
            self.append(&zeros[..n]).await?;
        }
        Ok(())
    }

    async fn append(&mut self, data: &[u8]) -> Res<()> {
        if self.buf_permit.is_none() {
            let bytes = self.limits.part_size + 1024 * 1024;
            self.buf_permit = Some(self.uploader.memory_for(bytes).await?);
            self.buf.reserve(bytes);
        }
        self.tee_write(self.size, data);
        self.buf.extend_from_slice(data);
        self.size += data.len() as u64;
        while self.buf.len() >= self.limits.part_size {
            self.ship_part().await?;
        }
        Ok(())
    }

    async fn ship_part(&mut self) -> Res<()> {
        if !self.uploader.started() {
            self.start_tee();
        }
        let rest = self.buf.split_off(self.limits.part_size);
        let part = std::mem::replace(&mut self.buf, rest);
        let permit = self.buf_permit.take().ok_or(Errno::EIO)?;
        self.uploader.ship(part, permit).await
    }

    /// The first part is about to leave memory: from now on the tee is the
    /// only way back to these bytes. All written so far is still in `buf`.
    fn start_tee(&mut self) {
        if self.buf.len() as u64 > TEE_LIMIT {
            return;
        }
        let tee = StagedFile::new(&self.limits.staging).and_then(|mut f| {
            f.write_at(0, &self.buf)?;
            Ok(f)
        });
        match tee {
            Ok(tee) => self.tee = Some(tee),
            Err(e) => self.tee_lost = e,
        }
    }

    /// Ok when everything written so far can still move to staging.
    pub fn can_stage(&self) -> Res<()> {
        if self.uploader.started() && self.tee.is_none() {
            return Err(self.tee_lost);
        }
        Ok(())
    }

    fn tee_write(&mut self, offset: u64, data: &[u8]) {
        let Some(tee) = &mut self.tee else {
            return;
        };
        if offset + data.len() as u64 > TEE_LIMIT {
            tracing::debug!(
                key = self.uploader.key(),
                "streamed file past the tee limit"
            );
            self.tee = None;
            self.tee_lost = Errno::ENOTSUP;
        } else if tee.write_at(offset, data).is_err() {
            // Over the staging budget: keep streaming without a way back.
            self.tee = None;
            self.tee_lost = Errno::ENOSPC;
        }
    }

    /// Reads back bytes written so far (from the buffer or the tee).
    pub fn read(&self, offset: u64, len: usize) -> Res<Vec<u8>> {
        let buf_start = self.size - self.buf.len() as u64;
        let end = self.size.min(offset + len as u64);
        if offset >= end {
            return Ok(Vec::new());
        }
        if offset >= buf_start {
            let range = (offset - buf_start) as usize..(end - buf_start) as usize;
            return Ok(self.buf[range].to_vec());
        }
        match &self.tee {
            Some(tee) => tee.read_at(offset, len),
            None => Err(self.tee_lost),
        }
    }

    /// Switches to staging: everything written so far, in a staging file.
    pub fn into_staged(mut self) -> Res<StagedFile> {
        if !self.uploader.started() {
            let mut staged = StagedFile::new(&self.limits.staging)?;
            staged.write_at(0, &self.buf)?;
            return Ok(staged);
        }
        let tee = self.tee.take().ok_or(self.tee_lost)?;
        self.uploader.abort();
        Ok(tee)
    }

    /// Makes the object visible: one PutObject when it never reached a
    /// part, else the last part and CompleteMultipartUpload.
    pub async fn finish(mut self) -> Res<ObjectMeta> {
        if !self.uploader.started() {
            let body = std::mem::take(&mut self.buf);
            return self.uploader.s3.put(&self.uploader.key, body).await;
        }
        if !self.buf.is_empty() {
            let part = std::mem::take(&mut self.buf);
            let permit = match self.buf_permit.take() {
                Some(p) => p,
                None => self.uploader.memory_for(part.len()).await?,
            };
            self.uploader.ship(part, permit).await?;
        }
        self.uploader.complete(self.size).await
    }
}

/// Uploads a staged file whole: PutObject below one part, else multipart
/// with parts read from the file as they go out (bounded memory).
pub async fn upload_file(
    staged: &StagedFile,
    mut uploader: Uploader,
    part_size: usize,
) -> Res<ObjectMeta> {
    let size = staged.size();
    if size < part_size as u64 {
        let body = staged.read_at(0, size as usize)?;
        return uploader.s3.put(&uploader.key, body).await;
    }
    let mut offset = 0;
    while offset < size {
        let len = (size - offset).min(part_size as u64) as usize;
        let permit = uploader.memory_for(len).await?;
        let body = staged.read_at(offset, len)?;
        uploader.ship(body, permit).await?;
        offset += len as u64;
    }
    uploader.complete(size).await
}
