//! Reads a component's imports and exports before anything is compiled, and
//! decides whether this host may load it: right WIT version, a `driver`
//! export, and only capabilities the config grants.

use semver::Version;
use wasmparser::{Encoding, Parser, Payload};

use super::bindings::{WIT_PACKAGE, WIT_VERSION};
use crate::capabilities::Capability;

/// What a component file declares, as `ballast module inspect` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ModuleInfo {
    pub size_bytes: u64,
    /// The `ballast:backend` version the module was built against.
    pub wit_version: Option<Version>,
    /// Ballast capabilities the module imports (its permission list).
    pub capabilities: Vec<Capability>,
    /// `ballast:backend` interfaces this host does not know (a newer module).
    pub unknown_interfaces: Vec<String>,
    /// WASI interfaces imported (linked with nothing granted).
    pub wasi_imports: Vec<String>,
    /// Imports from any other package: no Ballast host provides these.
    pub foreign_imports: Vec<String>,
    pub exports: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ModuleError {
    #[error("not a WebAssembly component: {0}")]
    Malformed(String),
    #[error(
        "this is a core WebAssembly module, not a component; build the backend for wasm32-wasip2"
    )]
    CoreModule,
    #[error(
        "module was built against {WIT_PACKAGE}@{found}, but this host implements {WIT_PACKAGE}@{WIT_VERSION} \
         and loads only {compatible}; rebuild the module with a matching SDK or run a matching Ballast"
    )]
    IncompatibleVersion { found: Version, compatible: String },
    #[error("module mixes {WIT_PACKAGE} versions {0} and {1}")]
    MixedVersions(Version, Version),
    #[error("module does not export {WIT_PACKAGE}/driver; is it a Ballast backend?")]
    NoDriver,
    #[error(
        "module imports capability `{capability}`, which is not granted (granted: {granted}); \
         add \"{capability}\" to the backend's `capabilities` in the config to allow it"
    )]
    NotGranted {
        capability: &'static str,
        granted: String,
    },
    #[error(
        "module imports `{0}`, which this host ({WIT_PACKAGE}@{WIT_VERSION}) does not provide; it needs a newer Ballast"
    )]
    UnknownInterface(String),
    #[error("module imports `{0}`, which no Ballast host provides")]
    ForeignImport(String),
}

/// The worlds of `wit/worlds.wit` and the capabilities each imports, smallest
/// first. (A unit test checks this table against the WIT file.)
pub const WORLDS: &[(&str, &[Capability])] = &[
    (
        "local-backend",
        &[Capability::Log, Capability::Kv, Capability::LocalDisk],
    ),
    (
        "provider-backend",
        &[Capability::Log, Capability::Kv, Capability::Instance],
    ),
    (
        "ebs-backend",
        &[
            Capability::Log,
            Capability::Kv,
            Capability::Instance,
            Capability::Ec2,
        ],
    ),
    (
        "s3-backend",
        &[
            Capability::Log,
            Capability::Kv,
            Capability::Instance,
            Capability::S3,
        ],
    ),
    (
        "efs-backend",
        &[
            Capability::Log,
            Capability::Kv,
            Capability::Instance,
            Capability::Efs,
        ],
    ),
    (
        "http-backend",
        &[
            Capability::Log,
            Capability::Kv,
            Capability::Instance,
            Capability::Http,
        ],
    ),
    ("backend", &Capability::ALL),
];

impl ModuleInfo {
    /// The smallest declared world whose imports cover this module's.
    pub fn world(&self) -> Option<&'static str> {
        WORLDS
            .iter()
            .find(|(_, caps)| self.capabilities.iter().all(|c| caps.contains(c)))
            .map(|(name, _)| *name)
    }

    /// Refuse what this host must not load, with a message naming the cause.
    pub fn check(&self, granted: &[Capability]) -> Result<(), ModuleError> {
        let host = Version::parse(WIT_VERSION).expect("WIT_VERSION is semver");
        match &self.wit_version {
            Some(found) if !compatible(&host, found) => {
                return Err(ModuleError::IncompatibleVersion {
                    found: found.clone(),
                    compatible: compatible_range(&host),
                });
            }
            Some(_) => {}
            None => return Err(ModuleError::NoDriver),
        }
        if let Some(name) = self.foreign_imports.first() {
            return Err(ModuleError::ForeignImport(name.clone()));
        }
        if let Some(name) = self.unknown_interfaces.first() {
            return Err(ModuleError::UnknownInterface(name.clone()));
        }
        if !self
            .exports
            .iter()
            .any(|e| interface_of(e).is_some_and(|(iface, _)| iface == "driver"))
        {
            return Err(ModuleError::NoDriver);
        }
        if let Some(missing) = self.capabilities.iter().find(|c| !granted.contains(c)) {
            let granted = granted
                .iter()
                .map(|c| c.name())
                .collect::<Vec<_>>()
                .join(", ");
            let granted = if granted.is_empty() {
                "none".into()
            } else {
                granted
            };
            return Err(ModuleError::NotGranted {
                capability: missing.name(),
                granted,
            });
        }
        Ok(())
    }
}

/// Semver compatibility as cargo reads it: while the major is 0 the minor
/// decides.
fn compatible(host: &Version, module: &Version) -> bool {
    if host.major == 0 {
        module.major == 0 && module.minor == host.minor
    } else {
        module.major == host.major
    }
}

fn compatible_range(host: &Version) -> String {
    if host.major == 0 {
        format!("{}.{}.x", host.major, host.minor)
    } else {
        format!("{}.x", host.major)
    }
}

/// Split `ballast:backend/kv@0.1.0` into ("kv", 0.1.0).
fn interface_of(name: &str) -> Option<(&str, Version)> {
    let rest = name.strip_prefix(WIT_PACKAGE)?.strip_prefix('/')?;
    let (iface, version) = rest.split_once('@')?;
    Some((iface, Version::parse(version).ok()?))
}

/// Read the top-level imports and exports of a component.
pub fn inspect(bytes: &[u8]) -> Result<ModuleInfo, ModuleError> {
    let (imports, exports) = top_level_names(bytes)?;
    let mut info = ModuleInfo {
        size_bytes: bytes.len() as u64,
        wit_version: None,
        capabilities: Vec::new(),
        unknown_interfaces: Vec::new(),
        wasi_imports: Vec::new(),
        foreign_imports: Vec::new(),
        exports,
    };
    let exported_versions: Vec<Version> = info
        .exports
        .iter()
        .filter_map(|e| interface_of(e))
        .map(|(_, v)| v)
        .collect();
    let mut versions = exported_versions;
    for name in imports {
        if name.starts_with("wasi:") {
            info.wasi_imports.push(name);
        } else if let Some((iface, version)) = interface_of(&name) {
            versions.push(version);
            match Capability::from_name(iface) {
                Some(cap) => info.capabilities.push(cap),
                None if iface == "types" => {}
                None => info.unknown_interfaces.push(name),
            }
        } else {
            info.foreign_imports.push(name);
        }
    }
    info.capabilities.sort();
    info.wit_version = single_version(versions)?;
    Ok(info)
}

fn single_version(versions: Vec<Version>) -> Result<Option<Version>, ModuleError> {
    let mut iter = versions.into_iter();
    let Some(first) = iter.next() else {
        return Ok(None);
    };
    for other in iter {
        if other != first {
            return Err(ModuleError::MixedVersions(first, other));
        }
    }
    Ok(Some(first))
}

fn top_level_names(bytes: &[u8]) -> Result<(Vec<String>, Vec<String>), ModuleError> {
    let malformed =
        |e: wasmparser::BinaryReaderError| ModuleError::Malformed(e.message().to_string());
    let (mut imports, mut exports) = (Vec::new(), Vec::new());
    // Nested modules and components have sections of their own; only the
    // outermost component's imports and exports are its interface.
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(bytes) {
        match payload.map_err(malformed)? {
            Payload::Version { encoding, .. } => {
                if depth == 0 && encoding == Encoding::Module {
                    return Err(ModuleError::CoreModule);
                }
                depth += 1;
            }
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentImportSection(reader) if depth == 1 => {
                for import in reader {
                    imports.push(import.map_err(malformed)?.name.name.to_string());
                }
            }
            Payload::ComponentExportSection(reader) if depth == 1 => {
                for export in reader {
                    exports.push(export.map_err(malformed)?.name.name.to_string());
                }
            }
            _ => {}
        }
    }
    Ok((imports, exports))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(version: &str, caps: &[Capability]) -> ModuleInfo {
        ModuleInfo {
            size_bytes: 1,
            wit_version: Some(Version::parse(version).unwrap()),
            capabilities: caps.to_vec(),
            unknown_interfaces: vec![],
            wasi_imports: vec![],
            foreign_imports: vec![],
            exports: vec![format!("ballast:backend/driver@{version}")],
        }
    }

    #[test]
    fn versions_follow_semver_with_minor_as_major_below_one() {
        let v = |s| Version::parse(s).unwrap();
        assert!(compatible(&v("0.1.0"), &v("0.1.7")));
        assert!(!compatible(&v("0.1.0"), &v("0.2.0")));
        assert!(!compatible(&v("0.1.0"), &v("1.0.0")));
        assert!(compatible(&v("1.2.0"), &v("1.0.3")));
    }

    #[test]
    fn wrong_major_names_both_versions() {
        let err = info("1.0.0", &[]).check(&[]).unwrap_err().to_string();
        assert!(
            err.contains("ballast:backend@1.0.0")
                && err.contains(&format!("ballast:backend@{WIT_VERSION}")),
            "{err}"
        );
    }

    #[test]
    fn ungranted_capability_is_named() {
        let err = info("0.1.0", &[Capability::Log, Capability::Kv])
            .check(&[Capability::Log])
            .unwrap_err();
        assert_eq!(
            err,
            ModuleError::NotGranted {
                capability: "kv",
                granted: "log".into()
            }
        );
        assert!(
            info("0.1.0", &[Capability::Log])
                .check(&[Capability::Log, Capability::Kv])
                .is_ok()
        );
    }

    #[test]
    fn world_is_the_smallest_that_covers_the_imports() {
        assert_eq!(
            info("0.1.0", &[Capability::Kv, Capability::LocalDisk]).world(),
            Some("local-backend")
        );
        assert_eq!(
            info("0.1.0", &[Capability::Instance]).world(),
            Some("provider-backend")
        );
        assert_eq!(
            info("0.1.0", &[Capability::Instance, Capability::LocalDisk]).world(),
            Some("backend")
        );
    }

    #[test]
    fn world_table_matches_the_wit() {
        let wit = include_str!("../../../wit/worlds.wit");
        for (world, caps) in WORLDS {
            let body = wit
                .split(&format!("world {world} {{"))
                .nth(1)
                .expect("world in worlds.wit");
            let body = body.split('}').next().unwrap();
            let mut imported: Vec<Capability> = body
                .lines()
                .filter_map(|l| l.trim().strip_prefix("import ")?.strip_suffix(';'))
                .map(|name| Capability::from_name(name).expect("known capability"))
                .collect();
            imported.sort();
            let mut expected = caps.to_vec();
            expected.sort();
            assert_eq!(imported, expected, "world {world}");
        }
    }

    #[test]
    fn garbage_and_core_modules_are_refused() {
        assert!(matches!(
            inspect(b"not wasm at all"),
            Err(ModuleError::Malformed(_))
        ));
        let core = b"\0asm\x01\0\0\0";
        assert_eq!(inspect(core), Err(ModuleError::CoreModule));
    }
}
