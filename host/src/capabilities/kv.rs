//! `kv`: a small persistent key-value store per backend, kept as one JSON
//! file replaced atomically on every change. A lock file serialises
//! processes (`ballast serve` and the `ballast volume` CLI may share it), and
//! every operation rereads the file, so no process works from a stale copy.
//!
//! Bounded on purpose: it holds metadata, not data.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{Capability, blocking, granted};
use crate::fsutil;
use crate::runtime::bindings::BackendError;
use crate::runtime::bindings::ballast::backend::kv::Host;
use crate::runtime::store::HostState;

pub const MAX_KEY_BYTES: usize = 512;
pub const MAX_VALUE_BYTES: usize = 64 * 1024;
pub const MAX_KEYS: usize = 10_000;

pub struct KvStore {
    data: PathBuf,
    lock: PathBuf,
}

/// File format: values hex-encoded so the file stays valid JSON and diffable.
type Entries = BTreeMap<String, String>;

impl KvStore {
    /// Open (creating) the store in directory `dir`.
    pub fn open(dir: &Path) -> io::Result<KvStore> {
        fsutil::create_private_dir(dir)?;
        Ok(KvStore {
            data: dir.join("kv.json"),
            lock: dir.join("kv.lock"),
        })
    }

    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
        check_key(key)?;
        self.locked(false, |entries| Ok((lookup(entries, key)?, false)))
    }

    pub fn set(&self, key: &str, value: Vec<u8>) -> Result<(), BackendError> {
        self.compare_and_swap_inner(key, None, Some(value))
            .map(|_| ())
    }

    pub fn delete(&self, key: &str) -> Result<bool, BackendError> {
        check_key(key)?;
        self.locked(true, |entries| {
            let existed = entries.remove(key).is_some();
            Ok((existed, existed))
        })
    }

    pub fn list_keys(&self, prefix: &str) -> Result<Vec<String>, BackendError> {
        self.locked(false, |entries| {
            Ok((
                entries
                    .keys()
                    .filter(|k| k.starts_with(prefix))
                    .cloned()
                    .collect(),
                false,
            ))
        })
    }

    /// Swap when the current value is `expected`; `expected` of `None`
    /// means "absent". True when the swap happened.
    pub fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<Vec<u8>>,
        new: Option<Vec<u8>>,
    ) -> Result<bool, BackendError> {
        self.compare_and_swap_inner(key, Some(expected), new)
    }

    /// `expected: None` is an unconditional write (set/delete).
    fn compare_and_swap_inner(
        &self,
        key: &str,
        expected: Option<Option<Vec<u8>>>,
        new: Option<Vec<u8>>,
    ) -> Result<bool, BackendError> {
        check_key(key)?;
        if let Some(value) = &new
            && value.len() > MAX_VALUE_BYTES
        {
            return Err(BackendError::InvalidArgument(format!(
                "kv value for {key:?} is {} bytes; the limit is {MAX_VALUE_BYTES}",
                value.len()
            )));
        }
        self.locked(true, |entries| {
            if let Some(expected) = &expected
                && lookup(entries, key)? != *expected
            {
                return Ok((false, false));
            }
            match new {
                Some(value) => {
                    if !entries.contains_key(key) && entries.len() >= MAX_KEYS {
                        return Err(BackendError::InvalidArgument(format!(
                            "kv store is full ({MAX_KEYS} keys)"
                        )));
                    }
                    entries.insert(key.to_string(), hex::encode(value));
                }
                None => {
                    entries.remove(key);
                }
            }
            Ok((true, true))
        })
    }

    /// Run `f` on the entries under the lock; write them back if it says so.
    fn locked<R>(
        &self,
        exclusive: bool,
        f: impl FnOnce(&mut Entries) -> Result<(R, bool), BackendError>,
    ) -> Result<R, BackendError> {
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&self.lock)
            .map_err(unavailable)?;
        if exclusive {
            lock.lock()
        } else {
            lock.lock_shared()
        }
        .map_err(unavailable)?;
        let mut entries = self.read()?;
        let (result, changed) = f(&mut entries)?;
        if changed {
            let json = serde_json::to_vec_pretty(&entries)
                .map_err(|e| BackendError::Internal(e.to_string()))?;
            fsutil::write_atomic(&self.data, &json).map_err(unavailable)?;
        }
        drop(lock);
        Ok(result)
    }

    fn read(&self) -> Result<Entries, BackendError> {
        match fs::read(&self.data) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                BackendError::Internal(format!("kv store {} is corrupt: {e}", self.data.display()))
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Entries::new()),
            Err(e) => Err(unavailable(e)),
        }
    }
}

fn lookup(entries: &Entries, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
    entries
        .get(key)
        .map(|v| {
            hex::decode(v).map_err(|e| {
                BackendError::Internal(format!("kv value for {key:?} is corrupt: {e}"))
            })
        })
        .transpose()
}

fn check_key(key: &str) -> Result<(), BackendError> {
    if key.is_empty() || key.len() > MAX_KEY_BYTES {
        return Err(BackendError::InvalidArgument(format!(
            "kv keys must be 1-{MAX_KEY_BYTES} bytes; got {}",
            key.len()
        )));
    }
    Ok(())
}

fn unavailable(e: io::Error) -> BackendError {
    BackendError::Unavailable(format!("kv store: {e}"))
}

impl HostState {
    fn kv(&self) -> wasmtime::Result<Arc<KvStore>> {
        granted(&self.caps.kv, Capability::Kv)
    }
}

impl Host for HostState {
    async fn get(
        &mut self,
        key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, BackendError>> {
        let kv = self.kv()?;
        blocking(move || kv.get(&key)).await
    }

    async fn set(
        &mut self,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), BackendError>> {
        let kv = self.kv()?;
        blocking(move || kv.set(&key, value)).await
    }

    async fn delete(&mut self, key: String) -> wasmtime::Result<Result<bool, BackendError>> {
        let kv = self.kv()?;
        blocking(move || kv.delete(&key)).await
    }

    async fn list_keys(
        &mut self,
        prefix: String,
    ) -> wasmtime::Result<Result<Vec<String>, BackendError>> {
        let kv = self.kv()?;
        blocking(move || kv.list_keys(&prefix)).await
    }

    async fn compare_and_swap(
        &mut self,
        key: String,
        expected: Option<Vec<u8>>,
        new: Option<Vec<u8>>,
    ) -> wasmtime::Result<Result<bool, BackendError>> {
        let kv = self.kv()?;
        blocking(move || kv.compare_and_swap(&key, expected, new)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, KvStore) {
        let dir = tempfile::tempdir().unwrap();
        let kv = KvStore::open(&dir.path().join("kv")).unwrap();
        (dir, kv)
    }

    #[test]
    fn values_persist_across_reopen() {
        let (dir, kv) = store();
        kv.set("volume/a", b"{\"size\":1}".to_vec()).unwrap();
        kv.set("volume/b", vec![0, 255]).unwrap();
        kv.set("other", vec![1]).unwrap();
        let again = KvStore::open(&dir.path().join("kv")).unwrap();
        assert_eq!(again.get("volume/b").unwrap(), Some(vec![0, 255]));
        assert_eq!(
            again.list_keys("volume/").unwrap(),
            vec!["volume/a", "volume/b"]
        );
        assert!(again.delete("volume/a").unwrap());
        assert!(!again.delete("volume/a").unwrap());
        assert_eq!(again.get("volume/a").unwrap(), None);
    }

    #[test]
    fn compare_and_swap_only_swaps_on_match() {
        let (_dir, kv) = store();
        assert!(kv.compare_and_swap("k", None, Some(vec![1])).unwrap());
        assert!(
            !kv.compare_and_swap("k", None, Some(vec![2])).unwrap(),
            "absent expected, present found"
        );
        assert!(
            !kv.compare_and_swap("k", Some(vec![9]), Some(vec![2]))
                .unwrap()
        );
        assert_eq!(kv.get("k").unwrap(), Some(vec![1]));
        assert!(kv.compare_and_swap("k", Some(vec![1]), None).unwrap());
        assert_eq!(kv.get("k").unwrap(), None);
    }

    #[test]
    fn oversized_keys_and_values_are_refused() {
        let (_dir, kv) = store();
        assert!(matches!(
            kv.set("", vec![]),
            Err(BackendError::InvalidArgument(_))
        ));
        assert!(matches!(
            kv.set(&"k".repeat(MAX_KEY_BYTES + 1), vec![]),
            Err(BackendError::InvalidArgument(_))
        ));
        assert!(matches!(
            kv.set("k", vec![0; MAX_VALUE_BYTES + 1]),
            Err(BackendError::InvalidArgument(_))
        ));
        assert_eq!(kv.get("k").unwrap(), None);
    }

    #[test]
    fn concurrent_compare_and_swap_has_one_winner() {
        let (_dir, kv) = store();
        let kv = Arc::new(kv);
        let winners: usize = (0..8)
            .map(|i| {
                let kv = kv.clone();
                std::thread::spawn(move || {
                    kv.compare_and_swap("claim", None, Some(vec![i])).unwrap()
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| t.join().unwrap() as usize)
            .sum();
        assert_eq!(winners, 1);
    }
}
