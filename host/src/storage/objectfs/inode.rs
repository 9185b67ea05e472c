//! The inode table and the metadata cache: which inode number names which
//! key, what we last learned about it (size, mtime, etag) and when, and the
//! cached directory listings. Pure bookkeeping under one std mutex: nothing
//! here awaits or calls S3, so it is never held across an await.
//!
//! Keys are relative to the volume prefix, without a trailing '/' ("" is the
//! root). Inode numbers are never reused within a mount. The table holds an
//! inode only while something needs it: the kernel's references (the FUSE
//! lookup count: every entry we hand out counts one, `forget` gives them
//! back), open handles, or a local file not uploaded yet. So it stays
//! bounded by what the kernel caches, not by what was ever listed.
//!
//! A listing is the metadata cache of a whole directory: while it is fresh
//! it answers lookups in that directory, positive and negative, without a
//! request; its entries are timed from when the listing finished.

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
    /// When S3 last confirmed this node (for a listing: when it finished);
    /// `None` or older than the TTL → ask again.
    pub validated: Option<Instant>,
    /// Created through this mount and not uploaded yet: S3 does not know it.
    pub local: bool,
    pub unlinked: bool,
    /// Size as written through an open handle, not yet uploaded: what stat
    /// must show until the upload lands (the kernel trusts our answer).
    pub dirty_size: Option<u64>,
    /// The kernel's references (FUSE lookup count).
    lookups: u64,
    /// Open file handles on this inode.
    open: u32,
}

impl Node {
    pub fn fresh(&self, ttl: Duration) -> bool {
        self.local || self.validated.is_some_and(|at| at.elapsed() < ttl)
    }
}

/// One entry of a cached directory listing.
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    pub kind: Kind,
    /// What the listing said; `None` for a local file not in S3 yet.
    pub meta: Option<ObjectMeta>,
}

/// A directory's complete listing, as of `at` (when it finished).
#[derive(Debug)]
pub struct Listing {
    pub at: Instant,
    pub entries: Vec<Entry>,
    index: HashMap<String, usize>,
}

impl Listing {
    pub fn get(&self, name: &str) -> Option<&Entry> {
        self.index.get(name).map(|i| &self.entries[*i])
    }
}

pub struct Table {
    nodes: HashMap<u64, Node>,
    by_key: HashMap<String, u64>,
    listings: HashMap<u64, Arc<Listing>>,
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
            validated: Some(Instant::now()),
            local: false,
            unlinked: false,
            dirty_size: None,
            lookups: 1,
            open: 0,
        };
        Table {
            nodes: HashMap::from([(ROOT, root)]),
            by_key: HashMap::from([(String::new(), ROOT)]),
            listings: HashMap::new(),
            local: HashSet::new(),
            next: ROOT + 1,
        }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.nodes.len()
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

    /// Records what S3 said at `at` about `parent/name`, creating the
    /// inode when new or when the kind changed (an inode never changes
    /// kind). Older news than what the node holds, and anything about a
    /// local file, is ignored. A new inode has no references yet: the
    /// caller counts the one it hands out (`remember`) under the same lock.
    pub fn upsert(
        &mut self,
        parent: u64,
        name: &str,
        kind: Kind,
        meta: Option<&ObjectMeta>,
        at: Instant,
    ) -> u64 {
        let Some(parent_key) = self.nodes.get(&parent).map(|p| p.key.clone()) else {
            return 0;
        };
        let key = child_key(&parent_key, name);
        let existing = self.by_key.get(&key).copied();
        let ino = match existing.and_then(|i| self.nodes.get(&i)) {
            Some(node) if node.local => return node.ino,
            Some(node) if node.kind == kind => node.ino,
            Some(node) => {
                let old = node.ino;
                self.remove(old);
                self.insert(parent, name, key, kind)
            }
            None => self.insert(parent, name, key, kind),
        };
        let node = self.nodes.get_mut(&ino).expect("just inserted");
        if node.validated.is_none_or(|v| v <= at) {
            node.validated = Some(at);
            if let Some(meta) = meta {
                node.size = meta.size;
                node.mtime = meta.mtime;
                node.etag = meta.etag.clone();
            }
        }
        ino
    }

    /// One more kernel reference to `ino` (an entry we reply with).
    pub fn remember(&mut self, ino: u64) {
        if let Some(node) = self.nodes.get_mut(&ino) {
            node.lookups += 1;
        }
    }

    /// FUSE forget: the kernel dropped `n` references.
    pub fn forget(&mut self, ino: u64, n: u64) {
        if let Some(node) = self.nodes.get_mut(&ino) {
            node.lookups = node.lookups.saturating_sub(n);
        }
        self.collect(ino);
    }

    pub fn opened(&mut self, ino: u64) {
        if let Some(node) = self.nodes.get_mut(&ino) {
            node.open += 1;
        }
    }

    pub fn closed(&mut self, ino: u64) {
        if let Some(node) = self.nodes.get_mut(&ino) {
            node.open = node.open.saturating_sub(1);
        }
        self.collect(ino);
    }

    /// Drops `ino` when nothing holds it any more.
    pub fn collect(&mut self, ino: u64) {
        let unheld = self
            .nodes
            .get(&ino)
            .is_some_and(|n| n.ino != ROOT && n.lookups == 0 && n.open == 0 && !n.local);
        if !unheld {
            return;
        }
        if let Some(node) = self.nodes.remove(&ino) {
            if self.by_key.get(&node.key) == Some(&ino) {
                self.by_key.remove(&node.key);
            }
            self.listings.remove(&ino);
            self.local.remove(&ino);
        }
    }

    /// The inode number to show for `parent/name` in a plain readdir: the
    /// known one, else a fresh number (no inode is kept for it).
    pub fn ino_hint(&mut self, parent: u64, name: &str) -> u64 {
        if let Some(node) = self.child(parent, name) {
            return node.ino;
        }
        self.next += 1;
        self.next - 1
    }

    /// A new file created through the mount, not yet in S3.
    pub fn create_local(&mut self, parent: u64, name: &str) -> Option<u64> {
        let key = child_key(&self.nodes.get(&parent)?.key, name);
        if let Some(old) = self.by_key.get(&key).copied() {
            self.remove(old);
        }
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
            validated: None,
            local: false,
            unlinked: false,
            dirty_size: None,
            lookups: 0,
            open: 0,
        };
        self.nodes.insert(ino, node);
        self.by_key.insert(key, ino);
        ino
    }

    /// The key is gone from S3 (unlink, rmdir, or found missing). The
    /// inode stays (unlinked) while the kernel or a handle holds it.
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
        self.collect(ino);
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

    /// The upload of a file finished: S3 now holds it.
    pub fn committed(&mut self, ino: u64, meta: &ObjectMeta) {
        if let Some(node) = self.nodes.get_mut(&ino) {
            node.size = meta.size;
            node.mtime = meta.mtime;
            node.etag = meta.etag.clone();
            node.validated = Some(Instant::now());
            node.local = false;
            node.dirty_size = None;
            self.local.remove(&ino);
        }
    }

    /// What we hold about `ino` may be wrong (an upload failed): drop the
    /// local state and ask S3 at the next stat.
    pub fn expire(&mut self, ino: u64) {
        if let Some(node) = self.nodes.get_mut(&ino) {
            node.validated = None;
            node.local = false;
            node.dirty_size = None;
            self.local.remove(&ino);
            let parent = node.parent;
            self.invalidate_listing(parent);
        }
    }

    pub fn listing(&self, dir: u64, ttl: Duration) -> Option<Arc<Listing>> {
        let listing = self.listings.get(&dir)?;
        (listing.at.elapsed() < ttl).then(|| listing.clone())
    }

    /// Stores the listing of `dir` that finished at `at`, with the local
    /// files of `dir` (not in S3 yet) added.
    pub fn set_listing(&mut self, dir: u64, mut entries: Vec<Entry>, at: Instant) -> Arc<Listing> {
        let mut index: HashMap<String, usize> = entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.name.clone(), i))
            .collect();
        for name in self.local_children(dir) {
            if !index.contains_key(&name) {
                index.insert(name.clone(), entries.len());
                entries.push(Entry {
                    name,
                    kind: Kind::File,
                    meta: None,
                });
            }
        }
        let listing = Arc::new(Listing { at, entries, index });
        if self.nodes.contains_key(&dir) {
            self.listings.insert(dir, listing.clone());
        }
        listing
    }

    pub fn invalidate_listing(&mut self, dir: u64) {
        self.listings.remove(&dir);
    }

    /// Names of the local (not yet uploaded) files directly in `dir`.
    pub fn local_children(&self, dir: u64) -> Vec<String> {
        self.local
            .iter()
            .filter_map(|ino| self.nodes.get(ino))
            .filter(|n| n.parent == dir && !n.unlinked)
            .map(|n| n.name.clone())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(size: u64) -> ObjectMeta {
        ObjectMeta {
            size,
            mtime: SystemTime::UNIX_EPOCH,
            etag: None,
        }
    }

    #[test]
    fn forget_bounds_the_table_by_kernel_references() {
        let mut t = Table::new(SystemTime::now());
        let at = Instant::now();
        let inos: Vec<u64> = (0..100)
            .map(|i| {
                let ino = t.upsert(ROOT, &format!("f{i}"), Kind::File, Some(&meta(i)), at);
                t.remember(ino);
                ino
            })
            .collect();
        assert_eq!(t.len(), 101);
        // Looked up twice: one forget of 1 keeps it.
        t.remember(inos[0]);
        for ino in &inos {
            t.forget(*ino, 1);
        }
        assert_eq!(t.len(), 2);
        t.forget(inos[0], 1);
        assert_eq!(t.len(), 1);
        assert!(t.child(ROOT, "f0").is_none());
        // A new lookup of a forgotten name gets a new inode number.
        let again = t.upsert(ROOT, "f0", Kind::File, Some(&meta(0)), at);
        assert!(again > inos[99]);
    }

    #[test]
    fn open_handles_keep_a_forgotten_inode() {
        let mut t = Table::new(SystemTime::now());
        let ino = t.create_local(ROOT, "new").unwrap();
        t.remember(ino);
        t.opened(ino);
        t.forget(ino, 1);
        assert!(t.get(ino).is_some(), "open and local: kept");
        t.committed(ino, &meta(3));
        t.collect(ino);
        assert!(t.get(ino).is_some(), "still open: kept");
        t.closed(ino);
        assert!(t.get(ino).is_none(), "closed and forgotten: dropped");
    }

    #[test]
    fn listing_answers_lookups_and_older_news_is_ignored() {
        let mut t = Table::new(SystemTime::now());
        let before = Instant::now();
        let ino = t.upsert(ROOT, "a", Kind::File, Some(&meta(1)), Instant::now());
        t.remember(ino);
        let entries = vec![Entry {
            name: "a".into(),
            kind: Kind::File,
            meta: Some(meta(7)),
        }];
        let listing = t.set_listing(ROOT, entries, before);
        assert!(listing.get("a").is_some());
        assert!(listing.get("b").is_none());
        // The listing started before the node was confirmed: not applied.
        t.upsert(ROOT, "a", Kind::File, Some(&meta(7)), before);
        assert_eq!(t.get(ino).unwrap().size, 1);
        assert!(t.listing(ROOT, Duration::from_secs(5)).is_some());
        assert!(t.listing(ROOT, Duration::ZERO).is_none());
    }
}
