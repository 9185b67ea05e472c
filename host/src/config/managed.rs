//! Managed mode: the config of a Docker managed plugin that serves one
//! built-in backend (`ballast serve --managed ebs`), made from the
//! plugin's environment as `docker plugin install … KEY=VALUE` and
//! `docker plugin set` give it, the way REX-Ray's plugins read theirs.
//!
//! - The backend's settings are the environment variables with its
//!   prefixes (`EBS_*`, `REXRAY_*`, …) and its bare setting names
//!   (`DEFAULT_SIZE` → `default_size`); empty values count as unset, since
//!   a plugin declares every variable it may be given.
//! - The socket is `/run/docker/plugins/ballast.sock` (`interface.socket`
//!   in config.json). Volumes are mounted under the plugin's propagated
//!   mount, `/var/lib/ballast/volumes`, so dockerd sees the mountpoints.
//!   State goes to `/var/lib/ballast/state`, which config.json binds from
//!   the machine: the propagated mount survives `docker plugin upgrade` but
//!   not `docker plugin rm` (plugins-dist/NOTES.md).
//! - `BALLAST_*` variables override any key afterwards, as in
//!   [`Config::load`]; `BALLAST_METADATA_ENDPOINT` points the instance
//!   identity and a GCE metadata credential at another metadata server.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::{
    BackendConfig, Config, ConfigError, CredentialProvider, HttpConfig, HttpCredential,
    InstanceConfig, InstanceSource,
};

/// The propagated mount of every Ballast plugin: the mount root.
pub const PROPAGATED_MOUNT: &str = "/var/lib/ballast/volumes";
/// The state directory, bound from the machine by config.json.
pub const STATE_DIR: &str = "/var/lib/ballast/state";
/// The socket name config.json declares (`interface.socket`), without `.sock`.
pub const SOCKET: &str = "ballast";
/// Compute Engine's API root, as gcepd defaults to it.
const GCE_ENDPOINT: &str = "https://compute.googleapis.com/compute/v1";

/// One built-in backend as a managed plugin.
pub struct Profile {
    pub backend: &'static str,
    pub capabilities: &'static [&'static str],
    /// Environment prefixes that are the backend's settings.
    pub prefixes: &'static [&'static str],
    /// Lower-case setting names given as upper-case variables.
    pub bare: &'static [&'static str],
    pub instance: InstanceSource,
}

pub const PROFILES: &[Profile] = &[
    Profile {
        backend: "local",
        capabilities: &["log", "kv", "local-disk"],
        prefixes: &[],
        bare: &["default_size", "default_fstype"],
        instance: InstanceSource::Static,
    },
    Profile {
        backend: "ebs",
        capabilities: &["log", "kv", "instance", "ec2"],
        prefixes: &["EBS_", "REXRAY_"],
        bare: &["default_size", "default_type", "attach_timeout"],
        instance: InstanceSource::AwsImds,
    },
    Profile {
        backend: "efs",
        capabilities: &["log", "instance", "efs"],
        prefixes: &["EFS_", "REXRAY_"],
        bare: &[],
        instance: InstanceSource::AwsImds,
    },
    Profile {
        backend: "s3fs",
        capabilities: &["log", "kv", "s3"],
        prefixes: &["S3FS_"],
        bare: &[],
        instance: InstanceSource::Static,
    },
    Profile {
        backend: "gcepd",
        capabilities: &["log", "instance", "http"],
        prefixes: &["GCEPD_", "REXRAY_"],
        bare: &["default_size"],
        instance: InstanceSource::GceMetadata,
    },
];

/// The profile of `backend`, or an error naming those there are.
pub fn profile(backend: &str) -> Result<&'static Profile, ConfigError> {
    PROFILES
        .iter()
        .find(|p| p.backend == backend)
        .ok_or_else(|| ConfigError::Backend {
            name: backend.into(),
            problem: format!(
                "no managed profile; there are {}",
                PROFILES
                    .iter()
                    .map(|p| p.backend)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
}

/// The managed config of `backend` from `env` (before `BALLAST_*`
/// overrides, which [`Config::load_managed`] applies).
pub fn config(backend: &str, env: &BTreeMap<String, String>) -> Result<Config, ConfigError> {
    let profile = profile(backend)?;
    let settings = settings(profile, env);
    let metadata = env
        .get("BALLAST_METADATA_ENDPOINT")
        .filter(|v| !v.trim().is_empty())
        .cloned();
    let http = match profile.backend {
        "gcepd" => gce_http(&settings, metadata.clone())?,
        _ => HttpConfig::default(),
    };
    let backend_config = BackendConfig {
        module: format!("builtin:{backend}"),
        driver: Some(SOCKET.into()),
        capabilities: profile.capabilities.iter().map(|c| c.to_string()).collect(),
        settings,
        instance: InstanceConfig {
            source: profile.instance,
            metadata_endpoint: metadata,
            ..Default::default()
        },
        http,
        ..Default::default()
    };
    let mut config = Config {
        data_dir: PathBuf::from(STATE_DIR),
        ..Default::default()
    };
    config.plugin.socket_dir = PathBuf::from("/run/docker/plugins");
    config.plugin.mount_root = PathBuf::from(PROPAGATED_MOUNT);
    config.backends = BTreeMap::from([(backend.to_string(), backend_config)]);
    Ok(config)
}

/// The backend's settings among `env`: its prefixes (names kept), its bare
/// names (lower-cased); empty values left out.
fn settings(profile: &Profile, env: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    env.iter()
        .filter(|(_, value)| !value.trim().is_empty())
        .filter_map(|(key, value)| {
            let upper = key.to_ascii_uppercase();
            if profile.prefixes.iter().any(|p| upper.starts_with(p)) {
                Some((key.clone(), value.clone()))
            } else {
                let lower = key.to_ascii_lowercase();
                profile
                    .bare
                    .contains(&lower.as_str())
                    .then(|| (lower, value.clone()))
            }
        })
        .collect()
}

/// gcepd's `http`: the API's origin allowed, and the credential it names
/// (`GCEPD_CREDENTIAL`, default "gce"): a service-account key when
/// `GCEPD_KEYFILE` is set, else the metadata server's token.
fn gce_http(
    settings: &BTreeMap<String, String>,
    metadata: Option<String>,
) -> Result<HttpConfig, ConfigError> {
    let get = |name: &str| {
        settings
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_string())
    };
    let endpoint = get("GCEPD_ENDPOINT").unwrap_or_else(|| GCE_ENDPOINT.into());
    let url = url::Url::parse(&endpoint).map_err(|e| ConfigError::Backend {
        name: "gcepd".into(),
        problem: format!("GCEPD_ENDPOINT {endpoint:?}: {e}"),
    })?;
    let origin = url.origin().ascii_serialization();
    let key_file = get("GCEPD_KEYFILE").map(PathBuf::from);
    let credential = HttpCredential {
        provider: if key_file.is_some() {
            CredentialProvider::ServiceAccount
        } else {
            CredentialProvider::GceMetadata
        },
        hosts: vec![origin.clone()],
        metadata_endpoint: metadata,
        key_file,
        scopes: super::default_scopes(),
        setting: None,
    };
    let name = get("GCEPD_CREDENTIAL").unwrap_or_else(|| "gce".into());
    let (allow_loopback, allow_private) = named_address(&url);
    Ok(HttpConfig {
        allow: vec![origin],
        allow_loopback,
        allow_private,
        credentials: BTreeMap::from([(name, credential)]),
        ..Default::default()
    })
}

/// Whether an endpoint the operator gave as a loopback or private IP
/// address (a local emulator, a private API gateway) is that kind of
/// address: the `http` policy refuses those unless allowed, and naming one
/// is the allowing. Host names still get the policy's checks.
fn named_address(url: &url::Url) -> (bool, bool) {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => (ip.is_loopback(), ip.is_private()),
        Some(url::Host::Ipv6(ip)) => (ip.is_loopback(), ip.is_unique_local()),
        _ => (false, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn settings_come_from_the_backends_variables_only() {
        let config = config(
            "ebs",
            &env(&[
                ("EBS_REGION", "eu-west-1"),
                ("REXRAY_PREEMPT", "true"),
                ("EBS_KMSKEYID", ""),
                ("DEFAULT_SIZE", "20"),
                ("EFS_REGION", "us-east-1"),
                ("PATH", "/bin"),
                ("HOME", "/root"),
            ]),
        )
        .unwrap();
        let ebs = &config.backends["ebs"];
        assert_eq!(
            ebs.settings,
            env(&[
                ("EBS_REGION", "eu-west-1"),
                ("REXRAY_PREEMPT", "true"),
                ("default_size", "20")
            ])
        );
        assert_eq!(ebs.module, "builtin:ebs");
        assert_eq!(ebs.driver_name("ebs"), "ballast");
        assert_eq!(ebs.instance.source, InstanceSource::AwsImds);
        assert_eq!(
            config.plugin.socket_dir,
            PathBuf::from("/run/docker/plugins")
        );
        assert_eq!(
            config.plugin.mount_root,
            PathBuf::from("/var/lib/ballast/volumes")
        );
        assert_eq!(config.data_dir, PathBuf::from("/var/lib/ballast/state"));
    }

    #[test]
    fn gcepd_gets_its_api_and_credential() {
        let config = config(
            "gcepd",
            &env(&[
                ("GCEPD_ENDPOINT", "http://127.0.0.1:4566/compute/v1"),
                ("BALLAST_METADATA_ENDPOINT", "http://127.0.0.1:4567"),
            ]),
        )
        .unwrap();
        let gcepd = &config.backends["gcepd"];
        assert_eq!(gcepd.http.allow, vec!["http://127.0.0.1:4566".to_string()]);
        assert!(
            gcepd.http.allow_loopback,
            "a loopback endpoint named is allowed"
        );
        assert!(!gcepd.http.allow_private);
        let gce = &gcepd.http.credentials["gce"];
        assert_eq!(gce.provider, CredentialProvider::GceMetadata);
        assert_eq!(
            gce.metadata_endpoint.as_deref(),
            Some("http://127.0.0.1:4567")
        );
        assert_eq!(
            gcepd.instance.metadata_endpoint.as_deref(),
            Some("http://127.0.0.1:4567")
        );
        let keyed = super::config(
            "gcepd",
            &env(&[("GCEPD_KEYFILE", "/etc/k.json"), ("GCEPD_CREDENTIAL", "sa")]),
        )
        .unwrap();
        let sa = &keyed.backends["gcepd"].http.credentials["sa"];
        assert_eq!(sa.provider, CredentialProvider::ServiceAccount);
        assert_eq!(sa.hosts, vec!["https://compute.googleapis.com".to_string()]);
        let http = &keyed.backends["gcepd"].http;
        assert!(!http.allow_loopback && !http.allow_private);
    }

    #[test]
    fn an_unknown_backend_names_the_profiles() {
        let err = config("nfs", &BTreeMap::new()).unwrap_err().to_string();
        assert!(err.contains("local, ebs, efs, s3fs, gcepd"), "{err}");
    }
}
