//! The guest SDK for Ballast storage backends.
//!
//! A backend is a Rust crate built as a `cdylib` for `wasm32-wasip2`. It
//! implements the small [`Backend`] trait and registers it with
//! [`export_backend!`]; the SDK does the rest: it binds the WIT contract
//! (`ballast:backend@0.1.4`, see [`WIT_VERSION`]), keeps the value `init`
//! returned for the one operation that follows it, and checks every volume
//! name before the backend sees it.
//!
//! ```ignore
//! use ballast_sdk::{Backend, BackendInfo, Options, Result, Settings, VolumeName};
//!
//! struct Hello;
//!
//! impl Backend for Hello {
//!     fn init(settings: Settings) -> Result<(Self, BackendInfo)> { /* ... */ }
//!     // create, get, list, remove, resize, attach, detach
//! }
//!
//! ballast_sdk::export_backend!(Hello);
//! ```
//!
//! Capabilities the host offers are thin wrappers here: [`kv`],
//! [`local_disk`], [`instance`], [`log`], [`ec2`] (Amazon EBS calls made
//! by the host's AWS SDK, since 0.1.1), [`s3`] (Amazon S3 control calls,
//! since 0.1.2), [`efs`] (Amazon EFS control calls, since 0.1.3) and
//! [`http`] (outgoing requests to allow-listed hosts, credentials added by
//! the host, since 0.1.4; [`instance::details`] is also 0.1.4). A
//! component imports only the capabilities its code calls, so its imports
//! are its permission list. The generated bindings stay private to this
//! crate.
//!
//! Pure helpers every cloud backend shares: [`cluster`] (the cluster tag
//! setting, the tags that make a resource a volume, idempotency tokens),
//! [`wait`] (REX-Ray's `*_STATUS*` settings and durations) and [`kms`]
//! (comparing KMS key names).

pub mod cluster;
pub mod ec2;
pub mod efs;
mod error;
mod glue;
pub mod http;
pub mod instance;
pub mod kms;
pub mod kv;
pub mod local_disk;
pub mod log;
mod name;
mod properties;
pub mod s3;
mod size;
pub mod wait;

#[doc(hidden)]
pub mod bindings {
    //! Generated from `wit/`: one copy for every backend, so backends never
    //! run wit-bindgen themselves. Not a stable API; use the crate root.
    wit_bindgen::generate!({
        world: "backend",
        path: "../../wit",
        // Backends expand the export macro in their own crate; it must be
        // public and must find these bindings through the SDK's path.
        pub_export_macro: true,
        export_macro_name: "__export_backend_world",
        default_bindings_module: "ballast_sdk::bindings",
        additional_derives: [PartialEq, Eq, Clone],
    });
}

pub use bindings::ballast::backend::types::{
    BlockSource, Error, MountSource, NfsSource, ObjectSource, Volume,
};
pub use bindings::exports::ballast::backend::driver::{
    AttachOptions, BackendInfo, Scope, VolumeKind,
};
pub use name::VolumeName;
pub use properties::{Options, Properties, Settings};
pub use size::{format_size, parse_bool, parse_size};

/// The version of the `ballast:backend` WIT package this SDK binds. A host
/// for 0.1.x loads modules built with any 0.1.y SDK.
pub const WIT_VERSION: &str = "0.1.4";

/// The result of every backend operation.
pub type Result<T> = core::result::Result<T, Error>;

/// A storage backend.
///
/// The host runs every request in a fresh instance: it calls [`Backend::init`]
/// with the backend's settings, then exactly one operation on the value `init`
/// returned. Nothing survives between requests except what the backend stores
/// through [`kv`] or its provider, so every operation must be idempotent.
///
/// Errors: use [`Error::unavailable`] for anything transient (throttling,
/// timeouts, 5xx) and never [`Error::not_found`], which makes Docker create a
/// new volume.
pub trait Backend: Sized + 'static {
    /// Check the settings and describe the backend. Runs before every
    /// operation, so keep it cheap and do not call the provider here.
    fn init(settings: Settings) -> Result<(Self, BackendInfo)>;

    /// Create the volume, or return it when it exists with compatible options.
    /// Call [`Options::finish`] after taking the options you know.
    fn create(&self, name: &VolumeName, options: Options) -> Result<Volume>;

    /// Look a volume up; `None` only when it certainly does not exist.
    fn get(&self, name: &VolumeName) -> Result<Option<Volume>>;

    /// Every volume this backend sees.
    fn list(&self) -> Result<Vec<Volume>>;

    /// Delete a volume and its data; `conflict` when attached unless `force`,
    /// `not-found` when absent.
    fn remove(&self, name: &VolumeName, force: bool) -> Result<()>;

    /// Grow a volume to `size_bytes`; shrinking is `invalid-argument`.
    fn resize(&self, name: &VolumeName, size_bytes: u64) -> Result<Volume>;

    /// Make the volume available here and say how the host finds it.
    fn attach(&self, name: &VolumeName, options: AttachOptions) -> Result<MountSource>;

    /// Release the volume here; a volume not attached here is a success.
    fn detach(&self, name: &VolumeName) -> Result<()>;
}

/// Register a [`Backend`] implementation as this component's `driver` export.
/// Use it once, in the backend crate's root.
#[macro_export]
macro_rules! export_backend {
    ($backend:ty) => {
        // The generated export macro takes a plain identifier, so name the
        // SDK's adapter for this backend with an alias.
        #[doc(hidden)]
        type __BallastDriver = $crate::__private::Driver<$backend>;
        $crate::bindings::__export_backend_world!(
            __BallastDriver with_types_in $crate::bindings
        );
    };
}

#[doc(hidden)]
pub mod __private {
    //! Used by `export_backend!`; not an API.
    pub use crate::glue::Driver;
}
