//! The adapter between the generated `driver` export and a [`Backend`].
//!
//! The host calls `init` and then one operation in the same fresh instance,
//! so `init` parks the backend value in a thread-local (a wasm instance has
//! one thread) and the operation picks it up. Every name is checked into a
//! [`VolumeName`] here, before the backend sees it. This module must stay
//! free of backend logic: it only converts and forwards.

use core::any::Any;
use core::marker::PhantomData;
use std::cell::RefCell;
use std::rc::Rc;

use crate::bindings::exports::ballast::backend::driver::Guest;
use crate::{
    AttachOptions, Backend, BackendInfo, Error, MountSource, Properties, Result, Volume, VolumeName,
};

thread_local! {
    /// The value the last `init` returned, if any.
    static BACKEND: RefCell<Option<Rc<dyn Any>>> = const { RefCell::new(None) };
}

/// Implements the generated `Guest` trait for any backend `B`;
/// `export_backend!` names it for the generated export macro.
pub struct Driver<B>(PhantomData<B>);

/// Run `op` with the backend `init` stored.
fn with_backend<B: Backend, T>(op: impl FnOnce(&B) -> Result<T>) -> Result<T> {
    let stored = BACKEND.with(|slot| slot.borrow().clone());
    let backend = stored
        .ok_or_else(|| Error::internal("init was not called"))?
        .downcast::<B>()
        .map_err(|_| Error::internal("init stored a different backend type"))?;
    op(&backend)
}

/// Check the name, then run `op` with the backend.
fn on_volume<B: Backend, T>(
    name: &str,
    op: impl FnOnce(&B, &VolumeName) -> Result<T>,
) -> Result<T> {
    let name = VolumeName::new(name)?;
    with_backend(|backend: &B| op(backend, &name))
}

impl<B: Backend> Guest for Driver<B> {
    fn init(settings: Vec<(String, String)>) -> Result<BackendInfo> {
        let (backend, info) = B::init(Properties::settings(settings))?;
        BACKEND.with(|slot| *slot.borrow_mut() = Some(Rc::new(backend)));
        Ok(info)
    }

    fn create(name: String, options: Vec<(String, String)>) -> Result<Volume> {
        on_volume(&name, |b: &B, name| {
            b.create(name, Properties::options(options))
        })
    }

    fn get(name: String) -> Result<Option<Volume>> {
        on_volume(&name, |b: &B, name| b.get(name))
    }

    fn list() -> Result<Vec<Volume>> {
        with_backend(|b: &B| b.list())
    }

    fn remove(name: String, force: bool) -> Result<()> {
        on_volume(&name, |b: &B, name| b.remove(name, force))
    }

    fn resize(name: String, size_bytes: u64) -> Result<Volume> {
        on_volume(&name, |b: &B, name| b.resize(name, size_bytes))
    }

    fn attach(name: String, options: AttachOptions) -> Result<MountSource> {
        on_volume(&name, |b: &B, name| b.attach(name, options))
    }

    fn detach(name: String) -> Result<()> {
        on_volume(&name, |b: &B, name| b.detach(name))
    }
}

#[cfg(test)]
mod tests {
    //! The glue's own logic, driven natively through the `Guest` trait.
    use super::*;
    use crate::{Scope, VolumeKind};

    struct Echo;

    impl Backend for Echo {
        fn init(mut settings: crate::Settings) -> Result<(Self, BackendInfo)> {
            if settings.take_bool(&["fail"])? == Some(true) {
                return Err(Error::invalid_argument("asked to fail"));
            }
            let info = BackendInfo {
                name: "echo".into(),
                version: "0".into(),
                kind: VolumeKind::Block,
                scope: Scope::Local,
                description: "test".into(),
            };
            Ok((Echo, info))
        }
        fn create(&self, name: &VolumeName, options: crate::Options) -> Result<Volume> {
            options.finish()?;
            Ok(Volume {
                name: name.to_string(),
                id: format!("id-{name}"),
                size_bytes: 1,
                zone: None,
                attached_to: vec![],
                status: vec![],
            })
        }
        fn get(&self, _: &VolumeName) -> Result<Option<Volume>> {
            Ok(None)
        }
        fn list(&self) -> Result<Vec<Volume>> {
            Ok(vec![])
        }
        fn remove(&self, name: &VolumeName, _: bool) -> Result<()> {
            Err(Error::not_found(format!("no volume {name}")))
        }
        fn resize(&self, _: &VolumeName, _: u64) -> Result<Volume> {
            Err(Error::invalid_argument("no"))
        }
        fn attach(&self, _: &VolumeName, _: AttachOptions) -> Result<MountSource> {
            Err(Error::internal("no"))
        }
        fn detach(&self, _: &VolumeName) -> Result<()> {
            Ok(())
        }
    }

    type D = Driver<Echo>;

    fn forget_backend() {
        BACKEND.with(|slot| *slot.borrow_mut() = None);
    }

    #[test]
    fn operations_before_init_are_internal_errors() {
        forget_backend();
        assert_eq!(
            D::list().unwrap_err(),
            Error::internal("init was not called")
        );
        assert_eq!(D::detach("x".into()).unwrap_err().kind(), "internal");
    }

    #[test]
    fn init_then_operation_reaches_the_backend() {
        forget_backend();
        assert_eq!(D::init(vec![]).unwrap().name, "echo");
        let volume = D::create("pgdata".into(), vec![]).unwrap();
        assert_eq!(volume.id, "id-pgdata");
        let err = D::create("pgdata".into(), vec![("sise".into(), "1".into())]).unwrap_err();
        assert!(
            err.message().starts_with("unknown option \"sise\""),
            "{err}"
        );
    }

    #[test]
    fn a_failed_init_stores_nothing() {
        forget_backend();
        assert!(D::init(vec![("fail".into(), "yes".into())]).is_err());
        assert_eq!(D::list().unwrap_err().kind(), "internal");
    }

    #[test]
    fn bad_names_never_reach_the_backend() {
        forget_backend();
        D::init(vec![]).unwrap();
        for name in ["../x", "a/b", "", ".hidden"] {
            let err = D::remove(name.into(), false).unwrap_err();
            assert_eq!(err.kind(), "invalid-argument", "{name:?}");
        }
        assert_eq!(
            D::remove("ok".into(), false).unwrap_err().kind(),
            "not-found"
        );
    }
}
