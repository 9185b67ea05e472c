//! What the volume manager must not forget across a crash: which volumes
//! are mounted, for which Docker mount IDs, on which device. One JSON file
//! per backend, replaced atomically after every change.
//!
//! Why a count per ID and a session: dockerd pairs every Mount(ID) with one
//! Unmount(ID), and it repeats an ID (`docker cp` into a running container
//! mounts again under the container's ID), so an ID is counted. But after its
//! own restart, dockerd (live-restore) sends Mount again with the IDs of the
//! containers still running, once each, with no Unmount for the old count.
//! It activates the plugin first, so every Activate starts a new session, and
//! an ID counted in an earlier session is re-affirmed (count 1), not added to.

use std::collections::BTreeMap;
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
    pub ids: BTreeMap<String, IdUse>,
    /// Where the filesystem is mounted (Docker gets its `data` directory).
    pub mountpoint: PathBuf,
    pub device: Device,
    pub fs_type: String,
}

/// How often one Docker mount ID holds a volume, and in which session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdUse {
    pub count: u32,
    pub session: u64,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// Bumped each time dockerd activates the plugin (a new dockerd process).
    #[serde(default)]
    pub session: u64,
    pub mounted: BTreeMap<String, Mounted>,
}

impl State {
    /// Record one more Mount of `name` by `id`.
    pub fn add_use(&mut self, name: &str, id: &str) {
        let session = self.session;
        let Some(mounted) = self.mounted.get_mut(name) else {
            return;
        };
        let fresh = IdUse { count: 1, session };
        mounted
            .ids
            .entry(id.to_string())
            .and_modify(|u| {
                *u = if u.session == session {
                    IdUse {
                        count: u.count + 1,
                        session,
                    }
                } else {
                    fresh
                }
            })
            .or_insert(fresh);
    }

    /// Record one Unmount of `name` by `id`; how many IDs still hold it.
    pub fn drop_use(&mut self, name: &str, id: &str) -> usize {
        let Some(mounted) = self.mounted.get_mut(name) else {
            return 0;
        };
        if let Some(used) = mounted.ids.get_mut(id) {
            used.count = used.count.saturating_sub(1);
            if used.count == 0 {
                mounted.ids.remove(id);
            }
        }
        mounted.ids.len()
    }
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
        self.with(State::clone)
    }

    /// Look at the current state without copying it.
    pub fn with<R>(&self, look: impl FnOnce(&State) -> R) -> R {
        look(&self.state.lock().unwrap())
    }

    /// The record of one mounted volume, if it is mounted.
    pub fn mounted(&self, name: &str) -> Option<Mounted> {
        self.with(|s| s.mounted.get(name).cloned())
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

    fn mounted_state() -> State {
        let mut state = State::default();
        state.mounted.insert(
            "v".into(),
            Mounted {
                ids: BTreeMap::new(),
                mountpoint: "/mnt/v".into(),
                device: Device {
                    path: "/dev/loop7".into(),
                    loop_of: None,
                },
                fs_type: "ext4".into(),
            },
        );
        state
    }

    #[test]
    fn a_repeated_id_is_counted_within_a_session() {
        // docker cp into a running container: Mount(A) again, then Unmount(A).
        let mut state = mounted_state();
        state.add_use("v", "A");
        state.add_use("v", "A");
        assert_eq!(state.drop_use("v", "A"), 1, "the container still holds it");
        assert_eq!(state.drop_use("v", "A"), 0);
    }

    #[test]
    fn a_new_dockerd_session_reaffirms_an_id_instead_of_adding() {
        // dockerd restarts (live-restore): Activate, then Mount(A) once more.
        let mut state = mounted_state();
        state.add_use("v", "A");
        state.session += 1;
        state.add_use("v", "A");
        assert_eq!(state.drop_use("v", "A"), 0, "one Unmount ends it");
    }

    #[test]
    fn an_unknown_id_changes_nothing() {
        let mut state = mounted_state();
        state.add_use("v", "A");
        assert_eq!(state.drop_use("v", "B"), 1);
    }

    #[test]
    fn state_survives_reopen_and_failed_writes_roll_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/mounts.json");
        let file = StateFile::open(&path).unwrap();
        file.update(|s| {
            s.mounted.insert(
                "v1".into(),
                Mounted {
                    ids: [(
                        "abc".to_string(),
                        IdUse {
                            count: 1,
                            session: 0,
                        },
                    )]
                    .into(),
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
