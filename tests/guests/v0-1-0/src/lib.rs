//! A test guest built against `ballast:backend@0.1.0` as released: `wit/`
//! here is a frozen copy of that package, never to be edited. A host of any
//! later 0.1.x must load it and call it (wasmtime matches 0.1.0 imports and
//! exports to 0.1.x by semver), or the versioning promise in wit/types.wit
//! is broken. It keeps one volume name in `kv` so a call reaches a
//! capability too.

wit_bindgen::generate!({
    world: "provider-backend",
    path: "wit",
});

use ballast::backend::kv;
use ballast::backend::types::{Error, MountSource, Volume};
use exports::ballast::backend::driver::{AttachOptions, BackendInfo, Guest, Scope, VolumeKind};

struct Old;

fn volume(name: String) -> Volume {
    Volume {
        id: name.clone(),
        name,
        size_bytes: 0,
        zone: None,
        attached_to: Vec::new(),
        status: vec![("built-against".into(), "0.1.0".into())],
    }
}

fn unsupported<T>() -> Result<T, Error> {
    Err(Error::InvalidArgument(
        "the 0.1.0 test guest only creates and gets".into(),
    ))
}

impl Guest for Old {
    fn init(_settings: Vec<(String, String)>) -> Result<BackendInfo, Error> {
        Ok(BackendInfo {
            name: "v0-1-0".into(),
            version: "0.1.0".into(),
            kind: VolumeKind::Block,
            scope: Scope::Local,
            description: "built against ballast:backend@0.1.0".into(),
        })
    }

    fn create(name: String, _options: Vec<(String, String)>) -> Result<Volume, Error> {
        kv::set(&name, b"1")?;
        Ok(volume(name))
    }

    fn get(name: String) -> Result<Option<Volume>, Error> {
        Ok(kv::get(&name)?.map(|_| volume(name)))
    }

    fn list() -> Result<Vec<Volume>, Error> {
        unsupported()
    }

    fn remove(_name: String, _force: bool) -> Result<(), Error> {
        unsupported()
    }

    fn resize(_name: String, _size_bytes: u64) -> Result<Volume, Error> {
        unsupported()
    }

    fn attach(_name: String, _options: AttachOptions) -> Result<MountSource, Error> {
        unsupported()
    }

    fn detach(_name: String) -> Result<(), Error> {
        unsupported()
    }
}

export!(Old);
