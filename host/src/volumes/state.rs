//! What the volume manager must not forget across a crash: which volumes
//! are mounted, for which Docker mount IDs, on which device. One JSON file
//! per backend, replaced atomically after every change.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::fsutil;
use crate::storage::Device;

/// A volume mounted on this host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mounted {
    /// Docker mount IDs using it; it stays mounted while any remain.
    pub ids: BTreeSet<String>,
    /// Where the filesystem is mounted (Docker gets its `data` directory).
    pub mountpoint: PathBuf,
    pub device: Device,
    pub fs_type: String,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub mounted: BTreeMap<String, Mounted>,
}

pub struct StateFile {
    path: PathBuf,
    state: Mutex<State>,
}

impl StateFile {
    /// Load the state in `path` (an absent file is an empty state).
    pub fn open(path: &Path) -> io::Result<StateFile> {
        let state = match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{} is corrupt: {e}", path.display()),
                )
            })?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => State::default(),
            Err(e) => return Err(e),
        };
        if let Some(dir) = path.parent() {
            fsutil::create_private_dir(dir)?;
        }
        Ok(StateFile {
            path: path.to_owned(),
            state: Mutex::new(state),
        })
    }

    /// A copy of the current state.
    pub fn read(&self) -> State {
        self.state.lock().unwrap().clone()
    }

    /// Change the state and write it durably before returning. If the write
    /// fails, the change is rolled back in memory too: memory never claims
    /// what the disk does not hold.
    pub fn update<R>(&self, change: impl FnOnce(&mut State) -> R) -> io::Result<R> {
        let mut state = self.state.lock().unwrap();
        let mut next = state.clone();
        let result = change(&mut next);
        if next != *state {
            let json = serde_json::to_vec_pretty(&next).map_err(io::Error::other)?;
            fsutil::write_atomic(&self.path, &json)?;
            *state = next;
        }
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_survives_reopen_and_failed_writes_roll_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/mounts.json");
        let file = StateFile::open(&path).unwrap();
        file.update(|s| {
            s.mounted.insert(
                "v1".into(),
                Mounted {
                    ids: ["abc".to_string()].into(),
                    mountpoint: "/mnt/v1".into(),
                    device: Device {
                        path: "/dev/loop7".into(),
                        loop_of: Some("/img/v1.img".into()),
                    },
                    fs_type: "ext4".into(),
                },
            )
        })
        .unwrap();
        let reopened = StateFile::open(&path).unwrap();
        assert_eq!(reopened.read().mounted["v1"].ids.len(), 1);

        std::fs::remove_dir_all(dir.path().join("state")).unwrap();
        let err = reopened.update(|s| s.mounted.clear());
        assert!(err.is_err());
        assert_eq!(
            reopened.read().mounted.len(),
            1,
            "a change that was not written is not kept"
        );
    }
}
