//! A test guest that misbehaves on demand, to prove the host survives it.
//!
//! `create` picks its misdeed from the volume name:
//! - `loop`: spins forever (the host's CPU deadline must stop it),
//! - `bomb`: allocates until memory runs out (the memory cap must trap it),
//! - `panic`: panics (the message goes to stderr, which the host captures),
//! - `sleep`: blocks in a host call for an hour (the wall-clock timeout),
//! - `trap`: executes `unreachable`.
//!
//! Any other name behaves: a small record in `kv`, so the module imports
//! `kv` and `log` and the tests can check the host still serves after the
//! misdeeds. Never use it for anything but tests.

use std::hint::black_box;
use std::time::Duration;

use ballast_sdk::{
    AttachOptions, Backend, BackendInfo, BlockSource, Error, MountSource, Options, Result, Scope,
    Settings, Volume, VolumeKind, VolumeName, kv, log,
};
use serde::{Deserialize, Serialize};

struct Misbehave;

/// What a well-behaved volume keeps in `kv`.
#[derive(Serialize, Deserialize)]
struct Record {
    size_bytes: u64,
}

const PREFIX: &str = "volume/";
const SIZE: u64 = 1 << 30;

impl Backend for Misbehave {
    fn init(_settings: Settings) -> Result<(Self, BackendInfo)> {
        let info = BackendInfo {
            name: "misbehave".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: VolumeKind::Block,
            scope: Scope::Local,
            description: "Test guest that loops, bombs memory, panics, sleeps or traps on demand"
                .into(),
        };
        Ok((Misbehave, info))
    }

    fn create(&self, name: &VolumeName, _options: Options) -> Result<Volume> {
        match name.as_str() {
            "loop" => spin(),
            "bomb" => bomb(),
            "panic" => panic!("deliberate panic in create"),
            "sleep" => std::thread::sleep(Duration::from_secs(3600)),
            "trap" => trap(),
            _ => {}
        }
        kv::set_json(&key(name), &Record { size_bytes: SIZE })?;
        log::info("created volume", &[("volume", name.as_str())]);
        Ok(volume(name, SIZE))
    }

    fn get(&self, name: &VolumeName) -> Result<Option<Volume>> {
        let record: Option<Record> = kv::get_json(&key(name))?;
        Ok(record.map(|r| volume(name, r.size_bytes)))
    }

    fn list(&self) -> Result<Vec<Volume>> {
        let mut volumes = Vec::new();
        for key in kv::list_keys(PREFIX)? {
            let name = VolumeName::new(key.trim_start_matches(PREFIX))?;
            if let Some(volume) = self.get(&name)? {
                volumes.push(volume);
            }
        }
        Ok(volumes)
    }

    fn remove(&self, name: &VolumeName, _force: bool) -> Result<()> {
        if kv::delete(&key(name))? {
            Ok(())
        } else {
            Err(Error::not_found(format!("no volume named {name}")))
        }
    }

    fn resize(&self, _name: &VolumeName, _size_bytes: u64) -> Result<Volume> {
        Err(Error::invalid_argument(
            "the misbehave test guest does not resize",
        ))
    }

    fn attach(&self, _name: &VolumeName, _options: AttachOptions) -> Result<MountSource> {
        Ok(MountSource::Block(BlockSource {
            serial: None,
            by_id: Vec::new(),
            device_hint: None,
            image_file: None,
            fs_type: "ext4".into(),
            mkfs_options: Vec::new(),
            mount_options: Vec::new(),
        }))
    }

    fn detach(&self, _name: &VolumeName) -> Result<()> {
        Ok(())
    }
}

ballast_sdk::export_backend!(Misbehave);

fn key(name: &VolumeName) -> String {
    format!("{PREFIX}{name}")
}

fn volume(name: &VolumeName, size_bytes: u64) -> Volume {
    Volume {
        name: name.to_string(),
        id: name.to_string(),
        size_bytes,
        zone: None,
        attached_to: Vec::new(),
        status: Vec::new(),
    }
}

/// Burn CPU forever; `black_box` keeps the optimizer from proving the loop
/// does nothing.
fn spin() -> ! {
    let mut counter = 0u64;
    loop {
        counter = black_box(counter.wrapping_add(1));
    }
}

/// Allocate 16 MiB chunks of nonzero bytes (so every page is touched) and
/// keep them all, up to 4 GiB, more than wasm32 can address.
fn bomb() -> ! {
    const CHUNK: usize = 16 << 20;
    let mut kept: Vec<Vec<u8>> = Vec::new();
    for _ in 0..256 {
        kept.push(black_box(vec![0xA5u8; CHUNK]));
    }
    panic!(
        "allocated {} chunks of 16 MiB without running out of memory",
        kept.len()
    );
}

/// Execute the wasm `unreachable` instruction.
fn trap() -> ! {
    #[cfg(target_arch = "wasm32")]
    core::arch::wasm32::unreachable();
    #[cfg(not(target_arch = "wasm32"))]
    std::process::abort();
}
