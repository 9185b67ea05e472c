//! Open file handles: the table of them (bounded by `max_handles`, ENFILE
//! beyond), and per handle its reader and its write state. Data written
//! through a handle becomes visible in S3 only when the handle is flushed
//! (close), fsynced or released, never before.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use fuser::Errno;
use tokio::sync::Mutex as AsyncMutex;

use super::inode::{Kind, Node};
use super::ops::Inner;
use super::read::{Limits, Prefetcher, ReadOut};
use super::s3ops::{ObjectMeta, Res};
use super::write::{StagedFile, StreamLimits, StreamWriter, Uploader, upload_file};

pub enum WriteState {
    /// Nothing written: the object in S3 is the truth.
    Clean,
    /// New or truncated file streaming to S3 (boxed: it is much larger
    /// than the other states).
    Stream(Box<StreamWriter>),
    /// A local copy; `dirty` when it differs from S3.
    Staged { file: StagedFile, dirty: bool },
}

pub struct Handle {
    ino: u64,
    reader: Option<Prefetcher>,
    write: WriteState,
}

pub type Shared = Arc<AsyncMutex<Handle>>;

#[derive(Default)]
pub struct Handles {
    map: Mutex<HashMap<u64, Shared>>,
    next: AtomicU64,
}

impl Handles {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Shared>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn get(&self, fh: u64) -> Res<Shared> {
        self.map().get(&fh).cloned().ok_or(Errno::EBADF)
    }

    pub fn len(&self) -> usize {
        self.map().len()
    }

    fn insert(&self, handle: Handle, max: usize) -> Res<u64> {
        let mut map = self.map();
        if map.len() >= max {
            return Err(Errno::ENFILE);
        }
        let fh = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        map.insert(fh, Arc::new(AsyncMutex::new(handle)));
        Ok(fh)
    }

    fn remove(&self, fh: u64) -> Option<Shared> {
        self.map().remove(&fh)
    }
}

impl Inner {
    fn new_stream(&self, key: &str) -> WriteState {
        let limits = StreamLimits {
            part_size: self.cfg.part_size,
            staging: self.staging.clone(),
        };
        WriteState::Stream(Box::new(StreamWriter::new(limits, self.uploader(key))))
    }

    fn uploader(&self, key: &str) -> Uploader {
        let c = &self.cfg;
        Uploader::new(
            self.s3.clone(),
            key.to_string(),
            self.memory.clone(),
            c.upload_concurrency,
            c.request_timeout,
        )
    }

    fn set_dirty_size(&self, ino: u64, size: u64) {
        if let Some(node) = self.table().get_mut(ino) {
            node.dirty_size = Some(size);
        }
    }

    /// open(2) of an existing file; O_TRUNC (atomic with open) starts a
    /// fresh stream, so the object is replaced at close even if unwritten.
    pub fn open(&self, ino: u64, flags: i32) -> Res<u64> {
        let node = self.node(ino)?;
        if node.kind == Kind::Dir {
            return Err(Errno::EISDIR);
        }
        let writable = flags & libc_accmode() != 0;
        let write = if writable && flags & O_TRUNC != 0 {
            self.new_stream(&node.key)
        } else {
            WriteState::Clean
        };
        let handle = Handle {
            ino,
            reader: None,
            write,
        };
        let fh = self.handles.insert(handle, self.cfg.max_handles)?;
        let mut table = self.table();
        table.opened(ino);
        if writable
            && flags & O_TRUNC != 0
            && let Some(node) = table.get_mut(ino)
        {
            node.dirty_size = Some(0);
        }
        Ok(fh)
    }

    /// create(2): the file exists locally until its first flush uploads it.
    pub fn create(&self, parent: u64, name: &str) -> Res<(u64, u64)> {
        if Self::hidden(parent, name) {
            return Err(Errno::EPERM);
        }
        if self.handles.len() >= self.cfg.max_handles {
            return Err(Errno::ENFILE);
        }
        // The reply hands the kernel a reference, and the handle is open:
        // both counted under the lock that created the inode.
        let (ino, key) = {
            let mut table = self.table();
            let ino = table.create_local(parent, name).ok_or(Errno::ENOENT)?;
            table.remember(ino);
            table.opened(ino);
            let node = table.get_mut(ino).ok_or(Errno::ENOENT)?;
            node.dirty_size = Some(0);
            (ino, node.key.clone())
        };
        let handle = Handle {
            ino,
            reader: None,
            write: self.new_stream(&key),
        };
        match self.handles.insert(handle, self.cfg.max_handles) {
            Ok(fh) => Ok((ino, fh)),
            Err(e) => {
                let mut table = self.table();
                table.closed(ino);
                table.forget(ino, 1);
                table.remove(ino);
                Err(e)
            }
        }
    }

    pub async fn read(&self, fh: u64, offset: u64, len: usize) -> Res<ReadOut> {
        let shared = self.handles.get(fh)?;
        let mut h = shared.lock().await;
        match &h.write {
            WriteState::Stream(w) => return w.read(offset, len).map(ReadOut::Owned),
            WriteState::Staged { file, .. } => {
                return file.read_at(offset, len).map(ReadOut::Owned);
            }
            WriteState::Clean => {}
        }
        if h.reader.is_none() {
            let node = self.node(h.ino)?;
            h.reader = Some(self.prefetcher(&node));
        }
        h.reader.as_mut().ok_or(Errno::EIO)?.read(offset, len).await
    }

    fn prefetcher(&self, node: &Node) -> Prefetcher {
        let c = &self.cfg;
        let limits = Limits {
            part_size: c.part_size,
            window_max: c.read_window_max,
            concurrency: c.read_concurrency,
        };
        Prefetcher::new(
            self.s3.clone(),
            self.memory.clone(),
            limits,
            node.key.clone(),
            node.size,
            node.etag.clone(),
        )
    }

    pub async fn write(&self, fh: u64, offset: u64, data: &[u8]) -> Res<()> {
        let shared = self.handles.get(fh)?;
        let mut h = shared.lock().await;
        h.reader = None;
        let ino = h.ino;
        if matches!(h.write, WriteState::Clean) {
            h.write = self.start_writing(ino).await?;
        }
        let streamed = match &mut h.write {
            WriteState::Stream(w) => Some(w.write(offset, data).await?.map(|()| w.size())),
            _ => None,
        };
        let size = match (streamed, &mut h.write) {
            (Some(Ok(size)), _) => size,
            (Some(Err(_)), state) => {
                let file = self.to_staged(state)?;
                file.write_at(offset, data)?;
                file.size()
            }
            (None, WriteState::Staged { file, dirty }) => {
                file.write_at(offset, data)?;
                *dirty = true;
                file.size()
            }
            (None, _) => return Err(Errno::EIO),
        };
        self.set_dirty_size(ino, size);
        Ok(())
    }

    /// First write to an existing object: an empty one can stream; anything
    /// else is downloaded into staging (overwrite, append, random writes).
    async fn start_writing(&self, ino: u64) -> Res<WriteState> {
        let node = self.node(ino)?;
        if node.size == 0 {
            return Ok(self.new_stream(&node.key));
        }
        let file = StagedFile::download(
            &self.staging,
            &self.s3,
            &node.key,
            node.size,
            self.cfg.part_size,
        )
        .await?;
        Ok(WriteState::Staged { file, dirty: false })
    }

    /// Stream → staged for a write the stream cannot take; when the
    /// stream has no way back to its uploaded parts the write fails and
    /// the stream goes on unchanged.
    fn to_staged<'a>(&self, state: &'a mut WriteState) -> Res<&'a mut StagedFile> {
        if let WriteState::Stream(w) = state {
            w.can_stage()?;
        }
        let old = std::mem::replace(state, WriteState::Clean);
        let WriteState::Stream(w) = old else {
            *state = old;
            return Err(Errno::EIO);
        };
        *state = WriteState::Staged {
            file: w.into_staged()?,
            dirty: true,
        };
        match state {
            WriteState::Staged { file, .. } => Ok(file),
            _ => Err(Errno::EIO),
        }
    }

    /// ftruncate through a handle.
    pub async fn truncate_handle(&self, fh: u64, size: u64) -> Res<()> {
        let shared = self.handles.get(fh)?;
        let mut h = shared.lock().await;
        h.reader = None;
        let ino = h.ino;
        if matches!(h.write, WriteState::Clean) {
            h.write = if size == 0 {
                self.new_stream(&self.node(ino)?.key)
            } else {
                self.start_writing(ino).await?
            };
        }
        let streamed = match &mut h.write {
            WriteState::Stream(w) => Some(w.truncate(size).await?.is_ok()),
            _ => None,
        };
        match (streamed, &mut h.write) {
            (Some(true), _) => {}
            (Some(false), state) => self.to_staged(state)?.set_len(size)?,
            (None, WriteState::Staged { file, dirty }) => {
                file.set_len(size)?;
                *dirty = true;
            }
            (None, _) => return Err(Errno::EIO),
        }
        self.set_dirty_size(ino, size);
        Ok(())
    }

    /// truncate(2) by path, no handle: done and uploaded right away.
    pub async fn truncate_path(&self, ino: u64, size: u64) -> Res<()> {
        let node = self.node(ino)?;
        let meta = if size == 0 {
            self.s3.put(&node.key, Vec::new()).await?
        } else {
            let mut file = StagedFile::download(
                &self.staging,
                &self.s3,
                &node.key,
                node.size,
                self.cfg.part_size,
            )
            .await?;
            file.set_len(size)?;
            upload_file(&file, self.uploader(&node.key), self.cfg.part_size).await?
        };
        self.table().committed(ino, &meta);
        Ok(())
    }

    /// close/fsync: upload what the handle wrote, if anything.
    pub async fn flush(&self, fh: u64) -> Res<()> {
        let shared = self.handles.get(fh)?;
        let mut h = shared.lock().await;
        self.commit(&mut h).await
    }

    async fn commit(&self, h: &mut Handle) -> Res<()> {
        let result = self.upload(h).await;
        if result.is_err() && matches!(h.write, WriteState::Clean) {
            // What the handle wrote went with the failed upload: S3 is the
            // truth again (the next stat asks it).
            self.table().expire(h.ino);
        }
        result
    }

    async fn upload(&self, h: &mut Handle) -> Res<()> {
        let node = self.node(h.ino)?;
        if node.unlinked {
            h.write = WriteState::Clean;
            return Ok(());
        }
        let meta = match &mut h.write {
            WriteState::Clean | WriteState::Staged { dirty: false, .. } => return Ok(()),
            WriteState::Stream(_) => {
                let WriteState::Stream(w) = std::mem::replace(&mut h.write, WriteState::Clean)
                else {
                    return Err(Errno::EIO);
                };
                self.finish_stream(*w, &node).await?
            }
            WriteState::Staged { file, dirty } => {
                let meta = upload_file(file, self.uploader(&node.key), self.cfg.part_size).await?;
                *dirty = false;
                meta
            }
        };
        self.committed(&node, &meta);
        Ok(())
    }

    /// The stream's upload went to the key at open; a rename since then
    /// moves the finished object (a local file has no other copy).
    async fn finish_stream(&self, mut w: StreamWriter, node: &Node) -> Res<ObjectMeta> {
        let written_to = w.key().to_string();
        if written_to == node.key || w.rekey(&node.key) {
            return w.finish().await;
        }
        let meta = w.finish().await?;
        self.s3.copy(&written_to, &node.key).await?;
        self.s3.delete(&written_to).await?;
        Ok(meta)
    }

    fn committed(&self, node: &Node, meta: &ObjectMeta) {
        let mut table = self.table();
        table.committed(node.ino, meta);
        table.invalidate_listing(node.parent);
    }

    /// The last close: upload anything still pending, then forget the handle.
    pub async fn release(&self, fh: u64) -> Res<()> {
        let Some(shared) = self.handles.remove(fh) else {
            return Err(Errno::EBADF);
        };
        let mut h = shared.lock().await;
        let result = self.commit(&mut h).await;
        if result.is_err() {
            // Nothing else will upload it: the handle's bytes are dropped.
            h.write = WriteState::Clean;
            self.table().expire(h.ino);
        }
        self.table().closed(h.ino);
        result
    }
}

const O_TRUNC: i32 = 0o1000;

fn libc_accmode() -> i32 {
    // O_WRONLY | O_RDWR: any write access.
    0o3
}
