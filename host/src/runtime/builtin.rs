//! Backends built into the binary. `local` is the default when no config
//! names any backend; host/build.rs builds it for wasm32-wasip2 first.

/// The `local` backend component.
pub static LOCAL_WASM: &[u8] =
    include_bytes!(concat!(env!("BALLAST_WASM_DIR"), "/ballast_local.wasm"));

/// Where this build put the backend modules it built (the shipped ones and
/// the test guests). For tests and development; a deployed host reads
/// modules from the paths in its config.
pub const BUILT_MODULES_DIR: &str = env!("BALLAST_WASM_DIR");
