//! The FUSE glue: fuser's `Filesystem` callbacks. Each callback that may
//! touch S3 spawns a task on the host's tokio runtime that replies when done,
//! so a fuser thread never waits on the network and one slow request does
//! not stall others. Semantics live in `ops` and `handle`; this file only
//! decodes arguments, refuses what S3 cannot represent, and encodes replies.
//!
//! Refusals (never a silent wrong answer): link → EPERM; symlink and
//! non-regular mknod → ENOTSUP; chown to another uid/gid → EPERM; chmod
//! that changes the mode → EPERM; xattrs → ENOTSUP. Times: mtime is the
//! object's LastModified, so `touch` (set to now) is honoured by copying the
//! object onto itself, while an explicit time (touch -d, cp -p) is EPERM.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::future::Future;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use fuser::{
    AccessFlags, BsdFileFlags, Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags,
    Generation, INodeNo, InitFlags, KernelConfig, LockOwner, OpenFlags, RenameFlags, ReplyAttr,
    ReplyCreate, ReplyData, ReplyDirectory, ReplyDirectoryPlus, ReplyEmpty, ReplyEntry, ReplyOpen,
    ReplyStatfs, ReplyWrite, ReplyXattr, Request, TimeOrNow, WriteFlags,
};
use tokio::runtime::Handle as Runtime;

use super::inode::{Entry, Kind, Listing};
use super::ops::Inner;
use super::s3ops::Res;

const MAX_WRITE: u32 = 1024 * 1024;

pub struct ObjectFs {
    pub inner: Arc<Inner>,
    pub rt: Runtime,
    dirs: Arc<Mutex<HashMap<u64, Arc<Listing>>>>,
    next_dir: std::sync::atomic::AtomicU64,
}

impl ObjectFs {
    pub fn new(inner: Arc<Inner>, rt: Runtime) -> Self {
        ObjectFs {
            inner,
            rt,
            dirs: Arc::new(Mutex::new(HashMap::new())),
            next_dir: std::sync::atomic::AtomicU64::new(1),
        }
    }

    /// Runs `op` on the runtime and hands its result to `reply`.
    fn spawn<T, F, R>(&self, op: impl FnOnce(Arc<Inner>) -> F, reply: R)
    where
        T: Send + 'static,
        F: Future<Output = Res<T>> + Send + 'static,
        R: FnOnce(Res<T>) + Send + 'static,
    {
        let fut = op(self.inner.clone());
        self.rt.spawn(async move { reply(fut.await) });
    }

    fn ttl(&self) -> Duration {
        self.inner.cfg.metadata_ttl
    }

    fn read_only(&self) -> bool {
        self.inner.cfg.read_only
    }

    fn dirs(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Listing>>> {
        self.dirs.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn name_of(name: &OsStr) -> Option<String> {
    name.to_str().map(str::to_string)
}

fn entry(reply: ReplyEntry, ttl: Duration) -> impl FnOnce(Res<FileAttr>) {
    move |r| match r {
        Ok(attr) => reply.entry(&ttl, &attr, Generation(0)),
        Err(e) => reply.error(e),
    }
}

fn empty(reply: ReplyEmpty) -> impl FnOnce(Res<()>) {
    move |r| match r {
        Ok(()) => reply.ok(),
        Err(e) => reply.error(e),
    }
}

fn attr_reply(reply: ReplyAttr, ttl: Duration) -> impl FnOnce(Res<FileAttr>) {
    move |r| match r {
        Ok(attr) => reply.attr(&ttl, &attr),
        Err(e) => reply.error(e),
    }
}

/// What setattr asks that S3 cannot store, checked before anything runs.
fn refused_setattr(
    inner: &Inner,
    kind: Kind,
    mode: Option<u32>,
    uid: Option<u32>,
    gid: Option<u32>,
) -> Option<Errno> {
    let cfg = &inner.cfg;
    let expected = match kind {
        Kind::Dir => cfg.dir_mode,
        Kind::File => cfg.file_mode,
    };
    let chown = uid.is_some_and(|u| u != cfg.uid) || gid.is_some_and(|g| g != cfg.gid);
    let chmod = mode.is_some_and(|m| (m & 0o7777) as u16 != expected);
    (chown || chmod).then_some(Errno::EPERM)
}

fn explicit_time(t: Option<TimeOrNow>) -> bool {
    matches!(t, Some(TimeOrNow::SpecificTime(_)))
}

async fn setattr_async(
    inner: Arc<Inner>,
    ino: u64,
    size: Option<u64>,
    touch: bool,
    fh: Option<u64>,
) -> Res<FileAttr> {
    let node = inner.node(ino)?;
    if let Some(size) = size {
        if node.kind == Kind::Dir {
            return Err(Errno::EISDIR);
        }
        match fh {
            Some(fh) => inner.truncate_handle(fh, size).await?,
            None => inner.truncate_path(ino, size).await?,
        }
    } else if touch && node.kind == Kind::File && !node.local && node.dirty_size.is_none() {
        // LastModified is our mtime: a copy onto itself sets it to now.
        inner.s3.copy(&node.key, &node.key).await?;
        if let Some(meta) = inner.s3.head(&node.key).await? {
            inner.table().committed(ino, &meta);
        }
    }
    inner.attr_of(ino)
}

impl Filesystem for ObjectFs {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        let _ = config.set_max_write(MAX_WRITE);
        if let Err(max) = config.set_max_readahead(MAX_WRITE) {
            let _ = config.set_max_readahead(max);
        }
        let _ = config.set_max_background(64);
        for flag in [
            InitFlags::FUSE_ASYNC_READ,
            InitFlags::FUSE_BIG_WRITES,
            InitFlags::FUSE_ATOMIC_O_TRUNC,
            InitFlags::FUSE_DO_READDIRPLUS,
            InitFlags::FUSE_PARALLEL_DIROPS,
            InitFlags::FUSE_MAX_PAGES,
        ] {
            let _ = config.add_capabilities(flag);
        }
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let Some(name) = name_of(name) else {
            return reply.error(Errno::ENOENT);
        };
        let ttl = self.ttl();
        self.spawn(
            move |i| async move { i.lookup(parent.0, &name).await },
            entry(reply, ttl),
        );
    }

    fn forget(&self, _req: &Request, ino: INodeNo, nlookup: u64) {
        self.inner.table().forget(ino.0, nlookup);
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        let ttl = self.ttl();
        self.spawn(
            move |i| async move { i.getattr(ino.0).await },
            attr_reply(reply, ttl),
        );
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let node = match self.inner.node(ino.0) {
            Ok(node) => node,
            Err(e) => return reply.error(e),
        };
        if let Some(e) = refused_setattr(&self.inner, node.kind, mode, uid, gid) {
            return reply.error(e);
        }
        if explicit_time(atime) || explicit_time(mtime) {
            return reply.error(Errno::EPERM);
        }
        if size.is_some() && self.read_only() {
            return reply.error(Errno::EROFS);
        }
        let touch = mtime.is_some() || atime.is_some();
        let ttl = self.ttl();
        let fh = fh.map(|f| f.0);
        self.spawn(
            move |i| setattr_async(i, ino.0, size, touch, fh),
            attr_reply(reply, ttl),
        );
    }

    fn mknod(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        _umask: u32,
        _rdev: u32,
        reply: ReplyEntry,
    ) {
        if mode & 0o170000 != 0o100000 {
            return reply.error(Errno::ENOTSUP);
        }
        let _ = req;
        let Some(name) = name_of(name) else {
            return reply.error(Errno::EINVAL);
        };
        let ttl = self.ttl();
        self.spawn(
            move |i| async move {
                let (ino, fh) = i.create(parent.0, &name)?;
                let result = i.release(fh).await;
                result.and_then(|()| i.attr_of(ino))
            },
            entry(reply, ttl),
        );
    }

    fn mkdir(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        _mode: u32,
        _umask: u32,
        reply: ReplyEntry,
    ) {
        let Some(name) = name_of(name) else {
            return reply.error(Errno::EINVAL);
        };
        let ttl = self.ttl();
        self.spawn(
            move |i| async move { i.mkdir(parent.0, &name).await },
            entry(reply, ttl),
        );
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let Some(name) = name_of(name) else {
            return reply.error(Errno::ENOENT);
        };
        self.spawn(
            move |i| async move { i.unlink(parent.0, &name).await },
            empty(reply),
        );
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let Some(name) = name_of(name) else {
            return reply.error(Errno::ENOENT);
        };
        self.spawn(
            move |i| async move { i.rmdir(parent.0, &name).await },
            empty(reply),
        );
    }

    fn symlink(
        &self,
        _req: &Request,
        _parent: INodeNo,
        _name: &OsStr,
        _target: &Path,
        reply: ReplyEntry,
    ) {
        reply.error(Errno::ENOTSUP);
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        let (Some(name), Some(newname)) = (name_of(name), name_of(newname)) else {
            return reply.error(Errno::EINVAL);
        };
        self.spawn(
            move |i| async move {
                i.rename(parent.0, &name, newparent.0, &newname, flags)
                    .await
            },
            empty(reply),
        );
    }

    fn link(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _newparent: INodeNo,
        _newname: &OsStr,
        reply: ReplyEntry,
    ) {
        reply.error(Errno::EPERM);
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        match self.inner.open(ino.0, flags.0) {
            Ok(fh) => reply.opened(FileHandle(fh), FopenFlags::empty()),
            Err(e) => reply.error(e),
        }
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let inner = self.inner.clone();
        self.rt.spawn(async move {
            match inner.read(fh.0, offset, size as usize).await {
                Ok(out) => reply.data(out.bytes()),
                Err(e) => reply.error(e),
            }
        });
    }

    fn write(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        let data = data.to_vec();
        self.spawn(
            move |i| async move {
                i.write(fh.0, offset, &data).await?;
                Ok(data.len() as u32)
            },
            move |r| match r {
                Ok(n) => reply.written(n),
                Err(e) => reply.error(e),
            },
        );
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        self.spawn(move |i| async move { i.flush(fh.0).await }, empty(reply));
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        self.spawn(move |i| async move { i.release(fh.0).await }, empty(reply));
    }

    fn fsync(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        self.spawn(move |i| async move { i.flush(fh.0).await }, empty(reply));
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        let id = self
            .next_dir
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let inner = self.inner.clone();
        let dirs = self.dirs.clone();
        self.rt.spawn(async move {
            match inner.list_dir(ino.0).await {
                Ok(listing) => {
                    dirs.lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(id, listing);
                    reply.opened(FileHandle(id), FopenFlags::empty());
                }
                Err(e) => reply.error(e),
            }
        });
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let Some(listing) = self.dirs().get(&fh.0).cloned() else {
            return reply.error(Errno::EBADF);
        };
        let mut table = self.inner.table();
        let parent = table.get(ino.0).map(|n| n.parent).unwrap_or(ino.0);
        for (i, (name, kind)) in with_dots(&listing).enumerate().skip(offset as usize) {
            let child = match name {
                "." => ino.0,
                ".." => parent,
                _ => table.ino_hint(ino.0, name),
            };
            let kind = match kind {
                Kind::Dir => FileType::Directory,
                Kind::File => FileType::RegularFile,
            };
            if reply.add(INodeNo(child), i as u64 + 1, kind, name) {
                break;
            }
        }
        reply.ok();
    }

    /// Each entry carries its attributes from the listing, so `ls -l` needs
    /// no request per entry; each one handed out is a kernel reference.
    fn readdirplus(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectoryPlus,
    ) {
        let Some(listing) = self.dirs().get(&fh.0).cloned() else {
            return reply.error(Errno::EBADF);
        };
        let ttl = self.ttl();
        let mut table = self.inner.table();
        let parent = table.get(ino.0).map(|n| n.parent).unwrap_or(ino.0);
        let entries = [(".", None), ("..", None)]
            .into_iter()
            .chain(listing.entries.iter().map(|e| (e.name.as_str(), Some(e))));
        for (i, (name, entry)) in entries.enumerate().skip(offset as usize) {
            let (child, counted) = match (name, entry) {
                (".", None) => (ino.0, false),
                ("..", None) => (parent, false),
                (
                    _,
                    Some(Entry {
                        kind,
                        meta: Some(meta),
                        ..
                    }),
                ) => (
                    table.upsert(ino.0, name, *kind, Some(meta), listing.at),
                    true,
                ),
                // A local file (held until uploaded), or gone since.
                _ => match table.child(ino.0, name) {
                    Some(node) => (node.ino, true),
                    None => continue,
                },
            };
            let Some(node) = table.get(child) else {
                continue;
            };
            let attr = self.inner.policy.attr(node);
            if reply.add(
                INodeNo(child),
                i as u64 + 1,
                name,
                &ttl,
                &attr,
                Generation(0),
            ) {
                table.collect(child);
                break;
            }
            if counted {
                table.remember(child);
            }
        }
        reply.ok();
    }

    fn releasedir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        reply: ReplyEmpty,
    ) {
        self.dirs().remove(&fh.0);
        reply.ok();
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        reply.ok();
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        // S3 has no capacity: report a large, stable figure so df and
        // free-space checks in applications do not refuse to write.
        let blocks = 1u64 << 40;
        reply.statfs(blocks, blocks, blocks, 1 << 32, 1 << 32, 4096, 1024, 4096);
    }

    fn setxattr(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _name: &OsStr,
        _value: &[u8],
        _flags: i32,
        _position: u32,
        reply: ReplyEmpty,
    ) {
        reply.error(Errno::ENOTSUP);
    }

    fn getxattr(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _name: &OsStr,
        _size: u32,
        reply: ReplyXattr,
    ) {
        reply.error(Errno::ENOTSUP);
    }

    fn listxattr(&self, _req: &Request, _ino: INodeNo, _size: u32, reply: ReplyXattr) {
        reply.error(Errno::ENOTSUP);
    }

    fn removexattr(&self, _req: &Request, _ino: INodeNo, _name: &OsStr, reply: ReplyEmpty) {
        reply.error(Errno::ENOTSUP);
    }

    fn access(&self, _req: &Request, _ino: INodeNo, _mask: AccessFlags, reply: ReplyEmpty) {
        // default_permissions: the kernel checks modes; this is only
        // reached for existence checks.
        reply.ok();
    }

    fn create(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        _mode: u32,
        _umask: u32,
        _flags: i32,
        reply: ReplyCreate,
    ) {
        if self.read_only() {
            return reply.error(Errno::EROFS);
        }
        let Some(name) = name_of(name) else {
            return reply.error(Errno::EINVAL);
        };
        let ttl = self.ttl();
        self.spawn(
            move |i| async move {
                // The kernel calls create only after a failed lookup.
                let (ino, fh) = i.create(parent.0, &name)?;
                Ok((i.attr_of(ino)?, fh))
            },
            move |r| match r {
                Ok((attr, fh)) => reply.created(
                    &ttl,
                    &attr,
                    Generation(0),
                    FileHandle(fh),
                    FopenFlags::empty(),
                ),
                Err(e) => reply.error(e),
            },
        );
    }
}

fn with_dots(listing: &Listing) -> impl Iterator<Item = (&str, Kind)> {
    [(".", Kind::Dir), ("..", Kind::Dir)]
        .into_iter()
        .chain(listing.entries.iter().map(|e| (e.name.as_str(), e.kind)))
}
