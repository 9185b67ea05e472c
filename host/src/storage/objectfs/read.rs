//! The per-handle read path: a sequential prefetcher that keeps ranged GETs
//! in flight ahead of the reader, growing its window while reads stay
//! sequential and falling back to a small window when the reader jumps.
//!
//! Memory is bounded twice: per handle by `read_window_max`, and in total by
//! the shared byte semaphore (`Memory`). Prefetch beyond the part the reader
//! needs right now only happens when memory is free; when it is not, the
//! needed bytes come from one small unaccounted GET, so a reader never waits
//! on memory held by another handle's idle prefetch.

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::Arc;

use fuser::Errno;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;

use super::s3ops::{Res, S3};

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;
/// Window after open or a jump: small, so random reads stay cheap.
const INITIAL_WINDOW: usize = MIB;
/// A read this far before the queued range is a straggler of the same
/// sequential stream (the kernel sends readahead concurrently), not a jump.
const STRAGGLER_SLACK: u64 = 4 * MIB as u64;

/// The byte budget shared by all handles' read and write buffers, in KiB
/// permits (a semaphore counts in u32).
#[derive(Clone)]
pub struct Memory(Arc<Semaphore>);

impl Memory {
    pub fn new(limit: usize) -> Self {
        Memory(Arc::new(Semaphore::new(limit / KIB)))
    }

    pub fn try_take(&self, bytes: usize) -> Option<OwnedSemaphorePermit> {
        self.0.clone().try_acquire_many_owned(permits(bytes)).ok()
    }

    pub async fn take(&self, bytes: usize) -> OwnedSemaphorePermit {
        self.0
            .clone()
            .acquire_many_owned(permits(bytes))
            .await
            .expect("the memory semaphore is never closed")
    }
}

fn permits(bytes: usize) -> u32 {
    bytes.div_ceil(KIB).max(1) as u32
}

/// Bytes for one read reply, without copying when one part covers it.
pub enum ReadOut {
    Slice(Arc<Vec<u8>>, Range<usize>),
    Owned(Vec<u8>),
}

impl ReadOut {
    pub fn bytes(&self) -> &[u8] {
        match self {
            ReadOut::Slice(data, range) => &data[range.clone()],
            ReadOut::Owned(data) => data,
        }
    }
}

enum State {
    Pending(JoinHandle<Res<Vec<u8>>>),
    Ready(Arc<Vec<u8>>),
    /// The GET failed: every later read of this part gets the same error
    /// (the task's handle must not be polled again).
    Failed(Errno),
}

struct Part {
    start: u64,
    end: u64,
    state: State,
    _memory: OwnedSemaphorePermit,
}

impl Part {
    async fn data(&mut self) -> Res<Arc<Vec<u8>>> {
        if let State::Pending(task) = &mut self.state {
            let expected = self.end - self.start;
            self.state = match task.await.map_err(|_| Errno::EIO).and_then(|r| r) {
                Ok(data) if data.len() as u64 == expected => State::Ready(Arc::new(data)),
                Ok(_) => State::Failed(Errno::EIO),
                Err(e) => State::Failed(e),
            };
        }
        match &self.state {
            State::Ready(data) => Ok(data.clone()),
            State::Failed(e) => Err(*e),
            State::Pending(_) => unreachable!("resolved above"),
        }
    }
}

impl Drop for Part {
    fn drop(&mut self) {
        if let State::Pending(task) = &self.state {
            task.abort();
        }
    }
}

pub struct Limits {
    pub part_size: usize,
    pub window_max: usize,
    pub concurrency: usize,
}

pub struct Prefetcher {
    s3: S3,
    memory: Memory,
    limits: Limits,
    key: String,
    size: u64,
    etag: Option<String>,
    parts: VecDeque<Part>,
    /// End of the last part requested.
    next: u64,
    window: usize,
}

impl Prefetcher {
    pub fn new(
        s3: S3,
        memory: Memory,
        limits: Limits,
        key: String,
        size: u64,
        etag: Option<String>,
    ) -> Self {
        Prefetcher {
            s3,
            memory,
            limits,
            key,
            size,
            etag,
            parts: VecDeque::new(),
            next: 0,
            window: INITIAL_WINDOW,
        }
    }

    pub async fn read(&mut self, offset: u64, len: usize) -> Res<ReadOut> {
        if offset >= self.size || len == 0 {
            return Ok(ReadOut::Owned(Vec::new()));
        }
        let end = self.size.min(offset + len as u64);
        if !self.queued(offset) {
            if self.is_straggler(offset) {
                return self.direct(offset, end).await;
            }
            self.reset(offset);
        }
        self.consume_before(offset);
        self.top_up(offset);
        if self.parts.is_empty() {
            // No memory for even one part: serve just this read.
            return self.direct(offset, end).await;
        }
        self.collect(offset, end).await
    }

    fn queued(&self, offset: u64) -> bool {
        let start = self.parts.front().map(|p| p.start);
        start.is_some_and(|s| s <= offset) && offset < self.next
    }

    fn is_straggler(&self, offset: u64) -> bool {
        let start = self.parts.front().map(|p| p.start);
        start.is_some_and(|s| offset < s && offset + STRAGGLER_SLACK >= s)
    }

    fn reset(&mut self, offset: u64) {
        self.parts.clear();
        self.next = offset;
        self.window = INITIAL_WINDOW;
    }

    /// Drops parts the reader has passed; each one consumed in order is
    /// evidence of a sequential reader, so the window grows.
    fn consume_before(&mut self, offset: u64) {
        while self.parts.front().is_some_and(|p| p.end <= offset) {
            self.parts.pop_front();
            self.window = (self.window * 2).min(self.limits.window_max.max(INITIAL_WINDOW));
        }
    }

    fn part_len(&self) -> usize {
        (self.window / 2).clamp(INITIAL_WINDOW, self.limits.part_size.max(INITIAL_WINDOW))
    }

    fn top_up(&mut self, offset: u64) {
        while self.next < self.size
            && self.next < offset + self.window as u64
            && self.parts.len() < self.limits.concurrency.max(1)
        {
            let len = (self.part_len() as u64).min(self.size - self.next);
            let Some(memory) = self.memory.try_take(len as usize) else {
                break;
            };
            let (start, end) = (self.next, self.next + len);
            let (s3, key, etag) = (self.s3.clone(), self.key.clone(), self.etag.clone());
            let task =
                tokio::spawn(async move { s3.get_range(&key, start, end, etag.as_deref()).await });
            self.parts.push_back(Part {
                start,
                end,
                state: State::Pending(task),
                _memory: memory,
            });
            self.next = end;
        }
    }

    async fn collect(&mut self, offset: u64, end: u64) -> Res<ReadOut> {
        let mut out: Option<ReadOut> = None;
        let mut pos = offset;
        for part in self.parts.iter_mut() {
            if pos >= end {
                break;
            }
            if part.end <= pos {
                continue;
            }
            let data = part.data().await?;
            let range = (pos - part.start) as usize..(end.min(part.end) - part.start) as usize;
            pos = part.start + range.end as u64;
            out = Some(match out {
                None => ReadOut::Slice(data, range),
                Some(prev) => {
                    let mut joined = prev.bytes().to_vec();
                    joined.extend_from_slice(&data[range]);
                    ReadOut::Owned(joined)
                }
            });
        }
        let out = out.ok_or(Errno::EIO)?;
        if pos < end {
            // The queue ended early (memory ran out mid-window): fetch the tail.
            let mut joined = out.bytes().to_vec();
            joined.extend_from_slice(self.direct(pos, end).await?.bytes());
            return Ok(ReadOut::Owned(joined));
        }
        Ok(out)
    }

    async fn direct(&self, start: u64, end: u64) -> Res<ReadOut> {
        let data = self
            .s3
            .get_range(&self.key, start, end, self.etag.as_deref())
            .await?;
        if data.len() as u64 != end - start {
            return Err(Errno::EIO);
        }
        Ok(ReadOut::Owned(data))
    }
}
