//! The inode table and the metadata cache: which inode number names which
//! key, what we last learned about it (size, mtime, etag) and when, and the
//! cached directory listings. Pure bookkeeping under one std mutex: nothing
//! here awaits or calls S3, so it is never held across an await.
//!
//! Keys are relative to the volume prefix, without a trailing '/' ("" is the
//! root). Inodes are never reused within a mount; an inode whose key was
//! removed stays (unlinked) for handles that still use it.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use fuser::{FileAttr, FileType, INodeNo};

use super::s3ops::ObjectMeta;

pub const ROOT: u64 = 1;
/// The backend's volume marker at the volume root: hidden, never created or
/// deleted through the mount.
pub const MARKER: &str = ".ballast-volume.json";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File,
}

#[derive(Debug, Clone)]
pub struct Node {
    pub ino: u64,
    pub parent: u64,
    pub name: String,
    pub key: String,
    pub kind: Kind,
    pub size: u64,
    pub mtime: SystemTime,
    pub etag: Option<String>,
    /// When S3 last confirmed this node; older than the TTL → ask again.
    pub validated: Instant,
    /// Created through this mount and not uploaded yet: S3 does not know it.
    pub local: bool,
    pub unlinked: bool,
    /// Size as written through an open handle, not yet uploaded: what stat
    /// must show until the upload lands (the kernel trusts our answer).
    pub dirty_size: Option<u64>,
}

impl Node {
    pub fn fresh(&self, ttl: Duration) -> bool {
        self.local || self.validated.elapsed() < ttl
    }
}

/// One entry of a cached directory listing.
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    pub ino: u64,
}

pub type Listing = Arc<Vec<Entry>>;

pub struct Table {
    nodes: HashMap<u64, Node>,
    by_key: HashMap<String, u64>,
    listings: HashMap<u64, (Instant, Listing)>,
    local: HashSet<u64>,
    next: u64,
}

impl Table {
    pub fn new(mount_time: SystemTime) -> Self {
        let root = Node {
            ino: ROOT,
            parent: ROOT,
            name: String::new(),
            key: String::new(),
            kind: Kind::Dir,
            size: 0,
            mtime: mount_time,
            etag: None,
            validated: Instant::now(),
            local: false,
            unlinked: false,
            dirty_size: None,
        };
        Table {
            nodes: HashMap::from([(ROOT, root)]),
            by_key: HashMap::from([(String::new(), ROOT)]),
            listings: HashMap::new(),
            local: HashSet::new(),
            next: ROOT + 1,
        }
    }

    pub fn get(&self, ino: u64) -> Option<&Node> {
        self.nodes.get(&ino)
    }

    pub fn get_mut(&mut self, ino: u64) -> Option<&mut Node> {
        self.nodes.get_mut(&ino)
    }

    /// The live child `name` of `parent`, if we know it.
    pub fn child(&self, parent: u64, name: &str) -> Option<&Node> {
        let key = child_key(&self.nodes.get(&parent)?.key, name);
        self.nodes.get(self.by_key.get(&key)?)
    }

    /// Records what S3 said about `parent/name`, creating the inode when
    /// new or when the kind changed (an inode never changes kind).
    pub fn upsert(
        &mut self,
        parent: u64,
        name: &str,
        kind: Kind,
        meta: Option<&ObjectMeta>,
    ) -> u64 {
        let Some(parent_key) = self.nodes.get(&parent).map(|p| p.key.clone()) else {
            return 0;
        };
        let key = child_key(&parent_key, name);
        let existing = self.by_key.get(&key).copied();
        let ino = match existing.and_then(|i| self.nodes.get(&i)) {
            Some(node) if node.kind == kind => node.ino,
            _ => self.insert(parent, name, key, kind),
        };
        let node = self.nodes.get_mut(&ino).expect("just inserted");
        node.validated = Instant::now();
        node.local = false;
        self.local.remove(&ino);
        if let Some(meta) = meta {
            node.size = meta.size;
            node.mtime = meta.mtime;
            node.etag = meta.etag.clone();
        }
        ino
    }

    /// A new file created through the mount, not yet in S3.
    pub fn create_local(&mut self, parent: u64, name: &str) -> Option<u64> {
        let key = child_key(&self.nodes.get(&parent)?.key, name);
        let ino = self.insert(parent, name, key, Kind::File);
        let node = self.nodes.get_mut(&ino)?;
        node.local = true;
        node.mtime = SystemTime::now();
        self.local.insert(ino);
        self.invalidate_listing(parent);
        Some(ino)
    }

    fn insert(&mut self, parent: u64, name: &str, key: String, kind: Kind) -> u64 {
        let ino = self.next;
        self.next += 1;
        let node = Node {
            ino,
            parent,
            name: name.to_string(),
            key: key.clone(),
            kind,
            size: 0,
            mtime: SystemTime::UNIX_EPOCH,
            etag: None,
            validated: Instant::now(),
            local: false,
            unlinked: false,
            dirty_size: None,
        };
        self.nodes.insert(ino, node);
        self.by_key.insert(key, ino);
        ino
    }

    /// The key is gone from S3 (unlink, rmdir, or found missing).
    pub fn remove(&mut self, ino: u64) {
        if let Some(node) = self.nodes.get_mut(&ino) {
            node.unlinked = true;
            node.local = false;
            self.local.remove(&ino);
            if self.by_key.get(&node.key) == Some(&ino) {
                self.by_key.remove(&node.key);
            }
            let parent = node.parent;
            self.invalidate_listing(parent);
        }
    }

    /// After a rename: the inode now names `new_parent/new_name`.
    pub fn rekey(&mut self, ino: u64, new_parent: u64, new_name: &str) {
        let Some(parent_key) = self.nodes.get(&new_parent).map(|p| p.key.clone()) else {
            return;
        };
        let key = child_key(&parent_key, new_name);
        if let Some(old) = self.by_key.get(&key).copied()
            && old != ino
        {
            self.remove(old);
        }
        let Some(node) = self.nodes.get_mut(&ino) else {
            return;
        };
        let old_parent = node.parent;
        if self.by_key.get(&node.key) == Some(&ino) {
            self.by_key.remove(&node.key);
        }
        node.parent = new_parent;
        node.name = new_name.to_string();
        node.key = key.clone();
        self.by_key.insert(key, ino);
        self.invalidate_listing(old_parent);
        self.invalidate_listing(new_parent);
    }

    /// The upload of a local file finished: S3 now holds it.
    pub fn committed(&mut self, ino: u64, meta: &ObjectMeta) {
        if let Some(node) = self.nodes.get_mut(&ino) {
            node.size = meta.size;
            node.mtime = meta.mtime;
            node.etag = meta.etag.clone();
            node.validated = Instant::now();
            node.local = false;
            node.dirty_size = None;
            self.local.remove(&ino);
        }
    }

    pub fn listing(&self, dir: u64, ttl: Duration) -> Option<Listing> {
        let (at, listing) = self.listings.get(&dir)?;
        (at.elapsed() < ttl).then(|| listing.clone())
    }

    pub fn set_listing(&mut self, dir: u64, entries: Vec<Entry>) -> Listing {
        let listing = Arc::new(entries);
        self.listings.insert(dir, (Instant::now(), listing.clone()));
        listing
    }

    pub fn invalidate_listing(&mut self, dir: u64) {
        self.listings.remove(&dir);
    }

    /// Local (not yet uploaded) files directly in `dir`.
    pub fn local_children(&self, dir: u64) -> Vec<Entry> {
        self.local
            .iter()
            .filter_map(|ino| self.nodes.get(ino))
            .filter(|n| n.parent == dir && !n.unlinked)
            .map(|n| Entry {
                name: n.name.clone(),
                ino: n.ino,
            })
            .collect()
    }
}

pub fn child_key(parent_key: &str, name: &str) -> String {
    if parent_key.is_empty() {
        name.to_string()
    } else {
        format!("{parent_key}/{name}")
    }
}

/// What stat shows: ownership and modes come from the mount's config, size
/// and mtime from S3 (mtime is the object's LastModified).
pub struct AttrPolicy {
    pub uid: u32,
    pub gid: u32,
    pub file_mode: u16,
    pub dir_mode: u16,
}

impl AttrPolicy {
    pub fn attr(&self, node: &Node) -> FileAttr {
        let (kind, perm, nlink, size) = match node.kind {
            Kind::Dir => (FileType::Directory, self.dir_mode, 2, 4096),
            Kind::File => (
                FileType::RegularFile,
                self.file_mode,
                1,
                node.dirty_size.unwrap_or(node.size),
            ),
        };
        FileAttr {
            ino: INodeNo(node.ino),
            size,
            blocks: size.div_ceil(512),
            atime: node.mtime,
            mtime: node.mtime,
            ctime: node.mtime,
            crtime: node.mtime,
            kind,
            perm,
            nlink,
            uid: self.uid,
            gid: self.gid,
            rdev: 0,
            blksize: 1024 * 1024,
            flags: 0,
        }
    }
}
