//! Namespace operations with S3 semantics: lookup, getattr, directory
//! listings, mkdir, rmdir, unlink, rename. Directories are either marker
//! objects ("dir/") or implicit prefixes ("a/b/c" with no "a/"); both read
//! the same. What S3 cannot do atomically is refused with a clear errno:
//! renaming a non-empty directory is EXDEV (so `mv` copies and deletes),
//! as is renaming a file beyond CopyObject's 5 GiB (no UploadPartCopy yet).

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use fuser::{Errno, FileAttr, RenameFlags};

use super::ObjectFsConfig;
use super::handle::Handles;
use super::inode::{AttrPolicy, Entry, Kind, Listing, MARKER, Node, ROOT, Table, child_key};
use super::read::Memory;
use super::s3ops::{ObjectMeta, Res, S3};
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

    pub async fn lookup(&self, parent: u64, name: &str) -> Res<FileAttr> {
        if Self::hidden(parent, name) || name.contains('/') {
            return Err(Errno::ENOENT);
        }
        let ttl = self.cfg.metadata_ttl;
        let (parent_key, cached, listing) = {
            let table = self.table();
            let p = table.get(parent).ok_or(Errno::ENOENT)?;
            if p.kind != Kind::Dir {
                return Err(Errno::ENOTDIR);
            }
            let cached = table.child(parent, name).filter(|n| n.fresh(ttl)).cloned();
            (p.key.clone(), cached, table.listing(parent, ttl))
        };
        if let Some(node) = cached {
            return Ok(self.policy.attr(&node));
        }
        if let Some(listing) = listing {
            // A fresh listing is authoritative for both answers.
            let entry = listing
                .iter()
                .find(|e| e.name == name)
                .ok_or(Errno::ENOENT)?;
            return self.attr_of(entry.ino);
        }
        self.lookup_remote(parent, name, &child_key(&parent_key, name))
            .await
    }

    /// HEAD the key and probe the prefix at once; a directory wins when
    /// both exist (its children would be unreachable otherwise).
    async fn lookup_remote(&self, parent: u64, name: &str, key: &str) -> Res<FileAttr> {
        let dir_prefix = format!("{key}/");
        let (file, dir) = tokio::join!(self.s3.head(key), self.s3.dir_exists(&dir_prefix));
        let mut table = self.table();
        let ino = if dir? {
            table.upsert(parent, name, Kind::Dir, Some(&self.dir_meta()))
        } else if let Some(meta) = file? {
            table.upsert(parent, name, Kind::File, Some(&meta))
        } else {
            if let Some(stale) = table.child(parent, name).map(|n| n.ino) {
                table.remove(stale);
            }
            return Err(Errno::ENOENT);
        };
        let node = table.get(ino).ok_or(Errno::ENOENT)?;
        Ok(self.policy.attr(node))
    }

    pub async fn getattr(&self, ino: u64) -> Res<FileAttr> {
        let node = self.node(ino)?;
        if node.fresh(self.cfg.metadata_ttl) || node.dirty_size.is_some() || node.kind == Kind::Dir
        {
            return Ok(self.policy.attr(&node));
        }
        match self.s3.head(&node.key).await? {
            Some(meta) => {
                let mut table = self.table();
                table.upsert(node.parent, &node.name, Kind::File, Some(&meta));
                let fresh = table.get(ino).ok_or(Errno::ENOENT)?;
                Ok(self.policy.attr(fresh))
            }
            // Gone or replaced by another kind: the kernel must look it up again.
            None => Err(Errno::ENOENT),
        }
    }

    /// The entries of directory `ino`: cached for the TTL, else every page
    /// of a delimited ListObjectsV2, plus files created here and not yet
    /// uploaded. Attributes come from the listing (no HEAD per entry).
    pub async fn list_dir(&self, ino: u64) -> Res<Listing> {
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
        let mut table = self.table();
        let mut seen = HashSet::new();
        let mut entries = Vec::with_capacity(files.len() + dirs.len());
        let dir_meta = self.dir_meta();
        let kinds = dirs.iter().map(|d| (d, Kind::Dir, &dir_meta));
        for (name, kind, meta) in kinds.chain(files.iter().map(|(n, m)| (n, Kind::File, m))) {
            if Self::hidden(ino, name) || !seen.insert(name.clone()) {
                continue;
            }
            let child = table.upsert(ino, name, kind, Some(meta));
            entries.push(Entry {
                name: name.clone(),
                ino: child,
            });
        }
        for local in table.local_children(ino) {
            if seen.insert(local.name.clone()) {
                entries.push(local);
            }
        }
        Ok(table.set_listing(ino, entries))
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
        let ino = table.upsert(parent, name, Kind::Dir, Some(&meta));
        table.invalidate_listing(parent);
        Ok(self.policy.attr(table.get(ino).ok_or(Errno::EIO)?))
    }

    async fn existing(&self, parent: u64, name: &str) -> Res<Node> {
        let attr = self.lookup(parent, name).await?;
        self.node(attr.ino.0)
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
