//! Backends built into the binary, named `builtin:<name>` in config.
//! `local` is the default when no config names any backend; host/build.rs
//! builds them for wasm32-wasip2 first.

/// The `local` backend component.
pub static LOCAL_WASM: &[u8] =
    include_bytes!(concat!(env!("BALLAST_WASM_DIR"), "/ballast_local.wasm"));

/// Every built-in component by name.
pub static BUILTINS: &[(&str, &[u8])] = &[
    ("local", LOCAL_WASM),
    (
        "ebs",
        include_bytes!(concat!(env!("BALLAST_WASM_DIR"), "/ballast_ebs.wasm")),
    ),
    (
        "s3fs",
        include_bytes!(concat!(env!("BALLAST_WASM_DIR"), "/ballast_s3fs.wasm")),
    ),
    (
        "efs",
        include_bytes!(concat!(env!("BALLAST_WASM_DIR"), "/ballast_efs.wasm")),
    ),
    (
        "gcepd",
        include_bytes!(concat!(env!("BALLAST_WASM_DIR"), "/ballast_gcepd.wasm")),
    ),
];

/// The component a `module` value names when it is `builtin:<name>`:
/// `None` for a path, `Some(Err(known names))` for an unknown built-in.
pub fn lookup(module: &str) -> Option<Result<&'static [u8], String>> {
    let name = module.strip_prefix("builtin:")?;
    Some(
        BUILTINS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, bytes)| *bytes)
            .ok_or_else(|| {
                let known: Vec<String> = BUILTINS
                    .iter()
                    .map(|(n, _)| format!("builtin:{n}"))
                    .collect();
                format!(
                    "no built-in module {module:?}; built in: {}",
                    known.join(", ")
                )
            }),
    )
}

/// Where this build put the backend modules it built (the shipped ones and
/// the test guests). For tests and development; a deployed host reads
/// modules from the paths in its config.
pub const BUILT_MODULES_DIR: &str = env!("BALLAST_WASM_DIR");

#[cfg(test)]
mod tests {
    #[test]
    fn builtins_by_name() {
        assert!(super::lookup("/x/ballast_ebs.wasm").is_none());
        assert!(super::lookup("builtin:ebs").unwrap().is_ok());
        assert!(super::lookup("builtin:s3fs").unwrap().is_ok());
        assert!(super::lookup("builtin:efs").unwrap().is_ok());
        assert!(super::lookup("builtin:gcepd").unwrap().is_ok());
        let err = super::lookup("builtin:nfs").unwrap().unwrap_err();
        assert!(
            err.contains("builtin:local, builtin:ebs, builtin:s3fs, builtin:efs, builtin:gcepd"),
            "{err}"
        );
    }
}
