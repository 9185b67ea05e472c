//! Namespace operations with S3 semantics: lookup, getattr, directory
//! listings, mkdir, rmdir, unlink, rename. Directories are either marker
//! objects ("dir/") or implicit prefixes ("a/b/c" with no "a/"); both read
//! the same. What S3 cannot do atomically is refused with a clear errno:
//! renaming a non-empty directory is EXDEV (so `mv` copies and deletes),
//! as is renaming a file beyond CopyObject's 5 GiB (no UploadPartCopy yet).

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Instant, SystemTime};

use fuser::{Errno, FileAttr, RenameFlags};

use super::ObjectFsConfig;
use super::handle::Handles;
use super::inode::{AttrPolicy, Entry, Kind, Listing, MARKER, Node, ROOT, Table, child_key};
use super::read::Memory;
use super::s3ops::{Found, ObjectMeta, Res, S3};
use super::write::StagingBudget;

const COPY_LIMIT: u64 = 5 * 1024 * 1024 * 1024;
const PAGE: i32 = 1000;

/// Everything one mount shares between its FUSE requests.
pub struct Inner {
    pub cfg: ObjectFsConfig,
    pub s3: S3,
    pub table: Mutex<Table>,
    pub policy: AttrPolicy,
    pub memory: Memory,
    pub staging: Arc<StagingBudget>,
    pub handles: Handles,
    pub mount_time: SystemTime,
}

impl Inner {
    pub fn table(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn node(&self, ino: u64) -> Res<Node> {
        self.table().get(ino).cloned().ok_or(Errno::ENOENT)
    }

    pub fn attr_of(&self, ino: u64) -> Res<FileAttr> {
        Ok(self.policy.attr(&self.node(ino)?))
    }

    /// The backend's marker is invisible at the volume root.
    pub fn hidden(parent: u64, name: &str) -> bool {
        parent == ROOT && name == MARKER
    }

    fn dir_meta(&self) -> ObjectMeta {
        ObjectMeta {
            size: 0,
            mtime: self.mount_time,
            etag: None,
        }
    }

    /// FUSE lookup: `resolve`, and the entry handed to the kernel counts
    /// one reference, taken under the same lock that found the inode (so a
    /// concurrent forget cannot drop it in between).
    pub async fn lookup(&self, parent: u64, name: &str) -> Res<FileAttr> {
        self.resolve(parent, name, true).await
    }

    /// The node at `parent/name` (no kernel reference taken).
    async fn existing(&self, parent: u64, name: &str) -> Res<Node> {
        let attr = self.resolve(parent, name, false).await?;
        self.node(attr.ino.0)
    }

    /// A fresh node answers; else a fresh listing of `parent` answers,
    /// positive or negative; else S3.
    async fn resolve(&self, parent: u64, name: &str, count: bool) -> Res<FileAttr> {
        if Self::hidden(parent, name) || name.contains('/') {
            return Err(Errno::ENOENT);
        }
        let ttl = self.cfg.metadata_ttl;
        let parent_key = {
            let mut table = self.table();
            let p = table.get(parent).ok_or(Errno::ENOENT)?;
            if p.kind != Kind::Dir {
                return Err(Errno::ENOTDIR);
            }
            let parent_key = p.key.clone();
            let cached = table
                .child(parent, name)
                .filter(|n| n.fresh(ttl))
                .map(|n| n.ino);
            let ino = match (cached, table.listing(parent, ttl)) {
                (Some(ino), _) => Some(ino),
                (None, Some(listing)) => {
                    let entry = listing.get(name).ok_or(Errno::ENOENT)?;
                    match &entry.meta {
                        Some(meta) => {
                            Some(table.upsert(parent, name, entry.kind, Some(meta), listing.at))
                        }
                        // A local file: its inode is held until uploaded.
                        None => table.child(parent, name).map(|n| n.ino),
                    }
                }
                (None, None) => None,
            };
            if let Some(ino) = ino {
                return self.answer(&mut table, ino, count);
            }
            parent_key
        };
        let key = child_key(&parent_key, name);
        let found = self.find(&key).await?;
        let at = Instant::now();
        let mut table = self.table();
        let ino = if found.is_dir {
            table.upsert(parent, name, Kind::Dir, Some(&self.dir_meta()), at)
        } else if let Some(meta) = &found.file {
            table.upsert(parent, name, Kind::File, Some(meta), at)
        } else {
            if let Some(stale) = table.child(parent, name).filter(|n| !n.local) {
                let stale = stale.ino;
                table.remove(stale);
            }
            return Err(Errno::ENOENT);
        };
        self.answer(&mut table, ino, count)
    }

    fn answer(&self, table: &mut Table, ino: u64, count: bool) -> Res<FileAttr> {
        if count {
            table.remember(ino);
        }
        Ok(self.policy.attr(table.get(ino).ok_or(Errno::ENOENT)?))
    }

    /// What S3 holds at `key`: one delimited listing normally; when that
    /// page could not answer, a HEAD and a prefix probe. A directory wins
    /// when both exist (its children would be unreachable otherwise), and
    /// a failed HEAD does not matter when the directory is there (some
    /// servers answer HEAD of a directory-backed key with an error).
    async fn find(&self, key: &str) -> Res<Found> {
        if let Some(found) = self.s3.lookup(key).await? {
            return Ok(found);
        }
        let dir_prefix = format!("{key}/");
        let (file, dir) = tokio::join!(self.s3.head(key), self.s3.dir_exists(&dir_prefix));
        if dir? {
            return Ok(Found {
                file: None,
                is_dir: true,
            });
        }
        Ok(Found {
            file: file?,
            is_dir: false,
        })
    }

    pub async fn getattr(&self, ino: u64) -> Res<FileAttr> {
        let node = self.node(ino)?;
        if node.fresh(self.cfg.metadata_ttl) || node.dirty_size.is_some() || node.kind == Kind::Dir
        {
            return Ok(self.policy.attr(&node));
        }
        let head = self.s3.head(&node.key).await?;
        let at = Instant::now();
        match head {
            Some(meta) => {
                let mut table = self.table();
                table.upsert(node.parent, &node.name, Kind::File, Some(&meta), at);
                let fresh = table.get(ino).ok_or(Errno::ENOENT)?;
                Ok(self.policy.attr(fresh))
            }
            // Gone or replaced by another kind: the kernel must look it up again.
            None => Err(Errno::ENOENT),
        }
    }

    /// The entries of directory `ino`: cached for the TTL, else every page
    /// of a delimited ListObjectsV2, plus files created here and not yet
    /// uploaded. The listing is the metadata cache of its entries (no HEAD
    /// per entry), timed from when its last page arrived.
    pub async fn list_dir(&self, ino: u64) -> Res<Arc<Listing>> {
        let node = self.node(ino)?;
        if node.kind != Kind::Dir {
            return Err(Errno::ENOTDIR);
        }
        if let Some(listing) = self.table().listing(ino, self.cfg.metadata_ttl) {
            return Ok(listing);
        }
        let dir = if node.key.is_empty() {
            String::new()
        } else {
            format!("{}/", node.key)
        };
        let (mut files, mut dirs, mut token) = (Vec::new(), Vec::new(), None);
        loop {
            let page = self.s3.list_page(&dir, token, PAGE).await?;
            files.extend(page.files);
            dirs.extend(page.dirs);
            token = page.next;
            if token.is_none() {
                break;
            }
        }
        let at = Instant::now();
        let mut seen = HashSet::new();
        let mut entries = Vec::with_capacity(files.len() + dirs.len());
        let dir_meta = self.dir_meta();
        let kinds = dirs.into_iter().map(|d| (d, Kind::Dir, dir_meta.clone()));
        for (name, kind, meta) in kinds.chain(files.into_iter().map(|(n, m)| (n, Kind::File, m))) {
            if Self::hidden(ino, &name) || !seen.insert(name.clone()) {
                continue;
            }
            entries.push(Entry {
                name,
                kind,
                meta: Some(meta),
            });
        }
        Ok(self.table().set_listing(ino, entries, at))
    }

    pub async fn mkdir(&self, parent: u64, name: &str) -> Res<FileAttr> {
        if Self::hidden(parent, name) {
            return Err(Errno::EPERM);
        }
        // The kernel looked the name up (negative) before calling mkdir.
        let key = child_key(&self.node(parent)?.key, name);
        self.s3.put(&format!("{key}/"), Vec::new()).await?;
        let mut table = self.table();
        let meta = ObjectMeta {
            mtime: SystemTime::now(),
            ..self.dir_meta()
        };
        let ino = table.upsert(parent, name, Kind::Dir, Some(&meta), Instant::now());
        table.invalidate_listing(parent);
        self.answer(&mut table, ino, true)
    }

    pub async fn unlink(&self, parent: u64, name: &str) -> Res<()> {
        if Self::hidden(parent, name) {
            return Err(Errno::EPERM);
        }
        let node = self.existing(parent, name).await?;
        if node.kind == Kind::Dir {
            return Err(Errno::EISDIR);
        }
        if !node.local {
            self.s3.delete(&node.key).await?;
        }
        self.table().remove(node.ino);
        Ok(())
    }

    /// True when nothing but its own marker lives under directory `node`.
    async fn dir_is_empty(&self, node: &Node) -> Res<bool> {
        if !self.table().local_children(node.ino).is_empty() {
            return Ok(false);
        }
        let keys = self.s3.keys_under(&format!("{}/", node.key), 2).await?;
        Ok(keys.iter().all(String::is_empty))
    }

    pub async fn rmdir(&self, parent: u64, name: &str) -> Res<()> {
        let node = self.existing(parent, name).await?;
        if node.kind != Kind::Dir {
            return Err(Errno::ENOTDIR);
        }
        if !self.dir_is_empty(&node).await? {
            return Err(Errno::ENOTEMPTY);
        }
        self.s3.delete(&format!("{}/", node.key)).await?;
        self.table().remove(node.ino);
        Ok(())
    }

    pub async fn rename(
        &self,
        parent: u64,
        name: &str,
        to_parent: u64,
        to_name: &str,
        flags: RenameFlags,
    ) -> Res<()> {
        if Self::hidden(parent, name) || Self::hidden(to_parent, to_name) {
            return Err(Errno::EPERM);
        }
        if flags.contains(RenameFlags::RENAME_EXCHANGE)
            || flags.contains(RenameFlags::RENAME_WHITEOUT)
        {
            return Err(Errno::EINVAL);
        }
        let node = self.existing(parent, name).await?;
        let target = match self.existing(to_parent, to_name).await {
            Ok(t) => Some(t),
            Err(e) if e == Errno::ENOENT => None,
            Err(e) => return Err(e),
        };
        if target.is_some() && flags.contains(RenameFlags::RENAME_NOREPLACE) {
            return Err(Errno::EEXIST);
        }
        let to_key = child_key(&self.node(to_parent)?.key, to_name);
        match node.kind {
            Kind::File => self.rename_file(&node, target.as_ref(), &to_key).await?,
            Kind::Dir => self.rename_dir(&node, target.as_ref(), &to_key).await?,
        }
        self.table().rekey(node.ino, to_parent, to_name);
        Ok(())
    }

    async fn rename_file(&self, node: &Node, target: Option<&Node>, to_key: &str) -> Res<()> {
        if target.is_some_and(|t| t.kind == Kind::Dir) {
            return Err(Errno::EISDIR);
        }
        if node.local {
            // Not uploaded yet: the upload at close goes to the new key.
            return Ok(());
        }
        if node.size > COPY_LIMIT {
            return Err(Errno::EXDEV);
        }
        self.s3.copy(&node.key, to_key).await?;
        self.s3.delete(&node.key).await
    }

    async fn rename_dir(&self, node: &Node, target: Option<&Node>, to_key: &str) -> Res<()> {
        if let Some(t) = target {
            if t.kind != Kind::Dir {
                return Err(Errno::ENOTDIR);
            }
            if !self.dir_is_empty(t).await? {
                return Err(Errno::ENOTEMPTY);
            }
        }
        if !self.dir_is_empty(node).await? {
            // S3 has no directory rename; copying every key is not atomic.
            return Err(Errno::EXDEV);
        }
        self.s3.put(&format!("{to_key}/"), Vec::new()).await?;
        self.s3.delete(&format!("{}/", node.key)).await
    }
}
