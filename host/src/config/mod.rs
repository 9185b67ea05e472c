//! Host configuration: a TOML file, then environment overrides, then
//! defaults. With no file at all the host runs the embedded `local` backend.
//!
//! ```toml
//! data_dir = "/var/lib/ballast"
//!
//! [runtime]
//! memory_limit_mib = 64
//!
//! [backends.local]
//! module = "builtin:local"
//! capabilities = ["log", "kv", "local-disk"]
//! settings = { default_size = "1GiB" }
//!
//! [backends.ebs.aws]          # the AWS client of the `ec2` capability
//! region = "eu-west-1"        # else EBS_REGION in settings, else the SDK's chain
//! max_attempts = 8
//! ```
//!
//! Environment: `BALLAST_<KEY>` overrides a top-level key and
//! `BALLAST_<SECTION>__<KEY>` a nested one, e.g. `BALLAST_RUNTIME__CALL_TIMEOUT_SECS=30`
//! or `BALLAST_BACKENDS__LOCAL__SETTINGS__DEFAULT_SIZE=2GiB`.
//! This module only reads and checks settings; it never touches the machine.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub mod managed;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::capabilities::Capability;

/// Where the host looks for a config file when none is named.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/ballast/config.toml";
/// `module` value that selects the `local` backend built into the binary.
pub const BUILTIN_LOCAL: &str = "builtin:local";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Persistent state: per-backend kv stores and disk images.
    pub data_dir: PathBuf,
    /// Compiled-module cache; defaults to `<data_dir>/cache`.
    pub cache_dir: Option<PathBuf>,
    pub runtime: RuntimeLimits,
    pub plugin: PluginConfig,
    /// Backends by name. Empty means: the embedded `local` backend.
    pub backends: BTreeMap<String, BackendConfig>,
}

/// How the host meets Docker and the machine.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct PluginConfig {
    /// Where dockerd looks for legacy plugin sockets: `<socket_dir>/<driver>.sock`.
    pub socket_dir: PathBuf,
    /// Volumes are mounted at `<mount_root>/<name>`; Docker gets its `data` directory.
    pub mount_root: PathBuf,
    /// Where block devices' stable links appear.
    pub by_id_dir: PathBuf,
    /// Serve Prometheus metrics at `http://<addr>/metrics` (off when unset).
    pub metrics_addr: Option<std::net::SocketAddr>,
}

impl Default for PluginConfig {
    fn default() -> Self {
        PluginConfig {
            socket_dir: PathBuf::from("/run/docker/plugins"),
            mount_root: PathBuf::from("/var/lib/ballast/volumes"),
            by_id_dir: PathBuf::from("/dev/disk/by-id"),
            metrics_addr: None,
        }
    }
}

/// Bounds on every guest call.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RuntimeLimits {
    /// Linear memory a guest instance may grow to.
    pub memory_limit_mib: u64,
    /// CPU time a guest may spend running wasm in one call (host calls it
    /// waits on do not count).
    pub cpu_limit_ms: u64,
    /// Wall-clock limit for one call, host calls included.
    pub call_timeout_secs: u64,
}

#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct BackendConfig {
    /// Path of the backend's `.wasm` component, or `builtin:<name>` (see
    /// `runtime::builtin`).
    pub module: String,
    /// Docker volume driver name (the socket's name); `ballast-<backend>` by default.
    pub driver: Option<String>,
    /// Capabilities granted to the module, by interface name.
    pub capabilities: Vec<String>,
    /// Settings handed to the backend's `init` (keys case-insensitive).
    pub settings: BTreeMap<String, String>,
    /// Largest disk image the `local-disk` capability creates, in GiB.
    pub max_image_gib: u64,
    /// This machine's identity for the `instance` capability.
    pub instance: InstanceConfig,
    /// How the AWS capabilities (`ec2`) reach AWS: region, endpoint, keys,
    /// retries. REX-Ray settings (`EBS_REGION` ...) fill what this leaves out.
    pub aws: AwsConfig,
    /// The `http` capability's policy: allow-list, limits, credentials.
    pub http: HttpConfig,
}

/// `[backends.<name>.aws]`: the AWS SDK client of the backend's AWS
/// capabilities. Unset region, endpoint and keys come from the backend's
/// REX-Ray settings, then from the SDK's default chain (environment,
/// profile, instance role). The keys never reach the guest, and `Debug`
/// never prints the secret.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AwsConfig {
    pub region: Option<String>,
    /// A custom endpoint (a simulator, moto, a VPC endpoint).
    pub endpoint: Option<String>,
    /// Static keys; both or neither. Never serialized back out.
    #[serde(skip_serializing)]
    pub access_key: Option<String>,
    #[serde(skip_serializing)]
    pub secret_key: Option<String>,
    pub retry_mode: AwsRetryMode,
    /// Tries per AWS call, the first included (throttling, 5xx, timeouts).
    pub max_attempts: u32,
    /// Wall-clock bound on one AWS call, retries included.
    pub operation_timeout_secs: u64,
    /// How long a background relocation (snapshot, copy to another zone)
    /// may take before it is given up.
    pub relocation_timeout_secs: u64,
}

/// The AWS SDK's retry strategies.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum AwsRetryMode {
    #[default]
    Standard,
    /// Standard plus client-side rate limiting when throttled.
    Adaptive,
}

impl Default for AwsConfig {
    fn default() -> Self {
        AwsConfig {
            region: None,
            endpoint: None,
            access_key: None,
            secret_key: None,
            retry_mode: AwsRetryMode::Standard,
            max_attempts: 8,
            operation_timeout_secs: 30,
            relocation_timeout_secs: 3600,
        }
    }
}

/// Like a derived `Debug`, but credential settings (`EBS_SECRETKEY` ...)
/// show as redacted.
impl std::fmt::Debug for BackendConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let settings: BTreeMap<&str, &str> = self
            .settings
            .iter()
            .map(
                |(k, v)| match crate::capabilities::aws::is_secret_setting(k) {
                    true => (k.as_str(), "<redacted>"),
                    false => (k.as_str(), v.as_str()),
                },
            )
            .collect();
        f.debug_struct("BackendConfig")
            .field("module", &self.module)
            .field("driver", &self.driver)
            .field("capabilities", &self.capabilities)
            .field("settings", &settings)
            .field("max_image_gib", &self.max_image_gib)
            .field("instance", &self.instance)
            .field("aws", &self.aws)
            .field("http", &self.http)
            .finish()
    }
}

impl std::fmt::Debug for AwsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsConfig")
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("access_key", &self.access_key)
            .field(
                "secret_key",
                &self.secret_key.as_ref().map(|_| "<redacted>"),
            )
            .field("retry_mode", &self.retry_mode)
            .field("max_attempts", &self.max_attempts)
            .field("operation_timeout_secs", &self.operation_timeout_secs)
            .field("relocation_timeout_secs", &self.relocation_timeout_secs)
            .finish()
    }
}

/// Identity served by the `instance` capability: static (from here, else
/// this machine's id) or read from the cloud's metadata service.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(default, deny_unknown_fields)]
pub struct InstanceConfig {
    pub source: InstanceSource,
    /// Metadata service address for `aws-imds` and `gce-metadata` (default
    /// the link-local http://169.254.169.254; a simulator's URL in tests).
    pub metadata_endpoint: Option<String>,
    pub provider: Option<String>,
    pub instance_id: Option<String>,
    pub region: Option<String>,
    pub zone: Option<String>,
    pub instance_type: Option<String>,
}

/// Where the `instance` capability's answer comes from.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum InstanceSource {
    /// The fields of `InstanceConfig`, else this machine's id, provider "local".
    #[default]
    Static,
    /// AWS instance metadata (IMDSv2): id, zone, region, instance type.
    AwsImds,
    /// Compute Engine metadata: id, zone, region, machine type, and the
    /// instance name and project.
    GceMetadata,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("/var/lib/ballast"),
            cache_dir: None,
            runtime: RuntimeLimits::default(),
            plugin: PluginConfig::default(),
            backends: BTreeMap::new(),
        }
    }
}

impl Default for RuntimeLimits {
    fn default() -> Self {
        RuntimeLimits {
            memory_limit_mib: 64,
            cpu_limit_ms: 5_000,
            call_timeout_secs: 90,
        }
    }
}

impl Default for BackendConfig {
    fn default() -> Self {
        BackendConfig {
            module: String::new(),
            driver: None,
            capabilities: Vec::new(),
            settings: BTreeMap::new(),
            max_image_gib: 16 * 1024,
            instance: InstanceConfig::default(),
            aws: AwsConfig::default(),
            http: HttpConfig::default(),
        }
    }
}

impl BackendConfig {
    /// The embedded default: the `local` backend with what it needs.
    pub fn builtin_local() -> Self {
        BackendConfig {
            module: BUILTIN_LOCAL.into(),
            capabilities: ["log", "kv", "local-disk"].map(String::from).to_vec(),
            ..Default::default()
        }
    }

    /// The Docker driver name this backend serves under.
    pub fn driver_name(&self, backend: &str) -> String {
        self.driver
            .clone()
            .unwrap_or_else(|| format!("ballast-{backend}"))
    }

    /// The granted capabilities, parsed. Unknown names are an error that
    /// lists the known ones.
    pub fn granted(&self) -> Result<Vec<Capability>, ConfigError> {
        self.capabilities
            .iter()
            .map(|name| {
                Capability::from_name(name)
                    .ok_or_else(|| ConfigError::UnknownCapability(name.clone()))
            })
            .collect()
    }
}

impl AwsConfig {
    fn check(&self) -> Result<(), String> {
        if self.max_attempts == 0 {
            return Err("aws.max_attempts must be at least 1".into());
        }
        if self.operation_timeout_secs == 0 || self.relocation_timeout_secs == 0 {
            return Err(
                "aws.operation_timeout_secs and aws.relocation_timeout_secs must be above 0".into(),
            );
        }
        Ok(())
    }
}

/// `[backends.<name>.http]`: what the `http` capability lets the backend
/// reach, and the credentials the host adds for it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Origins (`scheme://host[:port]`) requests may go to.
    pub allow: Vec<String>,
    /// Let resolved addresses be loopback (tests, local simulators).
    pub allow_loopback: bool,
    /// Let resolved addresses be private (RFC 1918, ULA, CGNAT).
    pub allow_private: bool,
    pub timeout_secs: u64,
    pub max_timeout_secs: u64,
    pub max_response_bytes: u64,
    /// Concurrent requests of the backend.
    pub max_connections: u32,
    /// Credentials by the name guests ask for.
    pub credentials: BTreeMap<String, HttpCredential>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            allow: Vec::new(),
            allow_loopback: false,
            allow_private: false,
            timeout_secs: 30,
            max_timeout_secs: 120,
            max_response_bytes: 16 << 20,
            max_connections: 8,
            credentials: BTreeMap::new(),
        }
    }
}

/// Where a credential's token comes from.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum CredentialProvider {
    /// The GCE metadata server's default service account token.
    GceMetadata,
    /// A service account key file, exchanged for a token (JWT bearer grant).
    ServiceAccount,
    /// A static token from a (secret) backend setting or an env variable.
    Bearer,
}

/// `[backends.<name>.http.credentials.<cred>]`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HttpCredential {
    pub provider: CredentialProvider,
    /// Allow-listed origins the credential is added for.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// gce-metadata: the metadata server (default http://169.254.169.254).
    #[serde(default)]
    pub metadata_endpoint: Option<String>,
    /// service-account: the JSON key file.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// bearer: the backend setting (else env variable) holding the token.
    #[serde(default)]
    pub setting: Option<String>,
}

fn default_scopes() -> Vec<String> {
    vec!["https://www.googleapis.com/auth/cloud-platform".into()]
}

impl HttpConfig {
    fn check(&self) -> Result<(), String> {
        let mut allowed = Vec::new();
        for entry in &self.allow {
            let origin = crate::capabilities::http::policy::Origin::parse_entry(entry)
                .map_err(|e| format!("http.allow: {e}"))?;
            allowed.push(origin);
        }
        if self.timeout_secs == 0 || self.max_timeout_secs == 0 {
            return Err("http.timeout_secs and http.max_timeout_secs must be above 0".into());
        }
        if self.timeout_secs > self.max_timeout_secs {
            return Err("http.timeout_secs must not exceed http.max_timeout_secs".into());
        }
        if self.max_response_bytes == 0 || self.max_connections == 0 {
            return Err("http.max_response_bytes and http.max_connections must be above 0".into());
        }
        for (name, cred) in &self.credentials {
            let key = format!("http.credentials.{name}");
            if cred.hosts.is_empty() {
                return Err(format!(
                    "{key}.hosts is empty: list the allowed origins the credential is for"
                ));
            }
            for host in &cred.hosts {
                let origin = crate::capabilities::http::policy::Origin::parse_entry(host)
                    .map_err(|e| format!("{key}.hosts: {e}"))?;
                if !allowed.contains(&origin) {
                    return Err(format!("{key}.hosts: {host} is not in http.allow"));
                }
            }
            match cred.provider {
                CredentialProvider::GceMetadata => {
                    if let Some(endpoint) = &cred.metadata_endpoint {
                        url::Url::parse(endpoint)
                            .map_err(|e| format!("{key}.metadata_endpoint: {e}"))?;
                    }
                }
                CredentialProvider::ServiceAccount => {
                    if cred.key_file.is_none() {
                        return Err(format!(
                            "{key}.key_file is required by provider service-account"
                        ));
                    }
                    if cred.scopes.is_empty() {
                        return Err(format!("{key}.scopes must not be empty"));
                    }
                }
                CredentialProvider::Bearer => match &cred.setting {
                    None => {
                        return Err(format!("{key}.setting is required by provider bearer"));
                    }
                    Some(setting) if !crate::capabilities::aws::is_secret_setting(setting) => {
                        return Err(format!(
                            "{key}.setting: {setting:?} is not a secret setting name (end it in _TOKEN, _SECRET, _PASSWORD, _ACCESSKEY or _SECRETKEY, so it never reaches the guest)"
                        ));
                    }
                    Some(_) => {}
                },
            }
        }
        Ok(())
    }
}

/// `BALLAST_*` variables naming a config key (`BALLAST_DATA_DIR`,
/// `BALLAST_PLUGIN__SOCKET_DIR`, …). BALLAST_CONFIG, BALLAST_LOG and others
/// belong to the CLI or the build, not to the config.
fn ballast_env() -> Env {
    Env::prefixed("BALLAST_")
        .filter(|key| {
            let key = key.as_str().to_ascii_lowercase();
            ["data_dir", "cache_dir"].contains(&key.as_str())
                || key.starts_with("runtime__")
                || key.starts_with("plugin__")
                || key.starts_with("backends__")
        })
        .split("__")
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading configuration: {0}")]
    Load(#[from] Box<figment::Error>),
    #[error("config file {0} does not exist")]
    MissingFile(PathBuf),
    #[error("unknown capability {0:?}; known: {known}", known = Capability::known_names())]
    UnknownCapability(String),
    #[error("backend {name:?}: {problem}")]
    Backend { name: String, problem: String },
}

impl Config {
    /// Load from `path` (or the default path if it exists), then the environment.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let file = match path {
            Some(p) if !p.exists() => return Err(ConfigError::MissingFile(p.to_owned())),
            Some(p) => Some(p.to_owned()),
            None => Some(PathBuf::from(DEFAULT_CONFIG_PATH)).filter(|p| p.exists()),
        };
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            figment = figment.merge(Toml::file(file));
        }
        let mut config: Config = figment.merge(ballast_env()).extract().map_err(Box::new)?;
        config.fill_defaults();
        config.check()?;
        Ok(config)
    }

    /// The config of a managed plugin serving built-in `backend`, from
    /// this process's environment (see [`managed`]).
    pub fn load_managed(backend: &str) -> Result<Config, ConfigError> {
        let env: BTreeMap<String, String> = std::env::vars().collect();
        let base = managed::config(backend, &env)?;
        let figment = Figment::from(Serialized::defaults(base)).merge(ballast_env());
        let config: Config = figment.extract().map_err(Box::new)?;
        config.check()?;
        Ok(config)
    }

    /// Parse a TOML string (tests, `--config -`), with the same checks.
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        let figment =
            Figment::from(Serialized::defaults(Config::default())).merge(Toml::string(text));
        let mut config: Config = figment.extract().map_err(Box::new)?;
        config.fill_defaults();
        config.check()?;
        Ok(config)
    }

    /// No backends means the built-in `local`; a `local` section without a
    /// module (e.g. only settings from the environment) means it too.
    fn fill_defaults(&mut self) {
        if self.backends.is_empty() {
            self.backends
                .insert("local".into(), BackendConfig::builtin_local());
        }
        if let Some(local) = self.backends.get_mut("local")
            && local.module.is_empty()
        {
            let builtin = BackendConfig::builtin_local();
            local.module = builtin.module;
            if local.capabilities.is_empty() {
                local.capabilities = builtin.capabilities;
            }
        }
    }

    fn check(&self) -> Result<(), ConfigError> {
        for (name, backend) in &self.backends {
            let problem = |p: String| ConfigError::Backend {
                name: name.clone(),
                problem: p,
            };
            crate::names::check("backend", name).map_err(|e| problem(e.to_string()))?;
            if backend.module.is_empty() {
                return Err(problem(
                    "no `module` given (a .wasm path, or builtin:<name>: local, ebs, s3fs, efs, gcepd)".into(),
                ));
            }
            backend.granted()?;
            crate::names::check("driver", &backend.driver_name(name))
                .map_err(|e| problem(e.to_string()))?;
            backend.aws.check().map_err(problem)?;
            backend.http.check().map_err(problem)?;
        }
        let limits = &self.runtime;
        if limits.memory_limit_mib == 0 || limits.cpu_limit_ms == 0 || limits.call_timeout_secs == 0
        {
            return Err(ConfigError::Backend {
                name: "runtime".into(),
                problem: "memory_limit_mib, cpu_limit_ms and call_timeout_secs must be above 0"
                    .into(),
            });
        }
        Ok(())
    }

    pub fn cache_dir(&self) -> PathBuf {
        self.cache_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("cache"))
    }

    /// Where one backend keeps its kv store and images.
    pub fn backend_dir(&self, backend: &str) -> PathBuf {
        self.data_dir.join("backends").join(backend)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_config_runs_the_builtin_local_backend() {
        let config = Config::from_toml("").unwrap();
        assert_eq!(config.backends.len(), 1);
        assert_eq!(config.backends["local"], BackendConfig::builtin_local());
        assert_eq!(config.cache_dir(), PathBuf::from("/var/lib/ballast/cache"));
    }

    #[test]
    fn file_selects_backends_and_limits() {
        let config = Config::from_toml(
            r#"
            data_dir = "/srv/b"
            [runtime]
            memory_limit_mib = 32
            [backends.mine]
            module = "/opt/mine.wasm"
            capabilities = ["log", "instance"]
            settings = { REGION = "eu-west-1" }
            "#,
        )
        .unwrap();
        assert_eq!(config.runtime.memory_limit_mib, 32);
        assert_eq!(
            config.runtime.cpu_limit_ms,
            RuntimeLimits::default().cpu_limit_ms
        );
        let mine = &config.backends["mine"];
        assert_eq!(
            mine.granted().unwrap(),
            vec![Capability::Log, Capability::Instance]
        );
        assert_eq!(mine.settings["REGION"], "eu-west-1");
        assert!(!config.backends.contains_key("local"));
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail closure returns its own error type
    fn environment_overrides_the_file() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "ballast.toml",
                "data_dir = \"/srv/a\"\n[runtime]\ncpu_limit_ms = 100\n",
            )?;
            jail.set_env("BALLAST_DATA_DIR", "/srv/b");
            jail.set_env("BALLAST_RUNTIME__CPU_LIMIT_MS", "250");
            jail.set_env("BALLAST_BACKENDS__LOCAL__SETTINGS__DEFAULT_SIZE", "2GiB");
            jail.set_env("BALLAST_SOMETHING_ELSE", "ignored, not a config key");
            let config = Config::load(Some(Path::new("ballast.toml"))).unwrap();
            assert_eq!(config.data_dir, PathBuf::from("/srv/b"));
            assert_eq!(config.runtime.cpu_limit_ms, 250);
            let local = &config.backends["local"];
            assert_eq!(local.module, BUILTIN_LOCAL);
            assert_eq!(local.settings["default_size"], "2GiB");
            Ok(())
        });
    }

    #[test]
    fn instance_identity_may_come_from_aws_metadata() {
        let config = Config::from_toml(
            "[backends.ebs]\nmodule = \"/x.wasm\"\n[backends.ebs.instance]\nsource = \"aws-imds\"\nmetadata_endpoint = \"http://127.0.0.1:9\"\n",
        )
        .unwrap();
        let instance = &config.backends["ebs"].instance;
        assert_eq!(instance.source, InstanceSource::AwsImds);
        assert_eq!(
            instance.metadata_endpoint.as_deref(),
            Some("http://127.0.0.1:9")
        );
        let err = Config::from_toml(
            "[backends.x]\nmodule = \"/x.wasm\"\ninstance = { source = \"azure\" }\n",
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("found `azure`, expected `one of `static`, `aws-imds`, `gce-metadata``"),
            "{err}"
        );
        let gce = Config::from_toml(
            "[backends.gcepd]\nmodule = \"/x.wasm\"\ninstance = { source = \"gce-metadata\" }\n",
        )
        .unwrap();
        assert_eq!(
            gce.backends["gcepd"].instance.source,
            InstanceSource::GceMetadata
        );
    }

    #[test]
    fn the_aws_table_has_defaults_and_keeps_its_secret() {
        let config = Config::from_toml(
            "[backends.ebs]\nmodule = \"/x.wasm\"\ncapabilities = [\"ec2\"]\nsettings = { EBS_SECRETKEY = \"hunter3\" }\n[backends.ebs.aws]\nregion = \"eu-west-1\"\nretry_mode = \"adaptive\"\naccess_key = \"AKID\"\nsecret_key = \"hunter2\"\n",
        )
        .unwrap();
        let aws = &config.backends["ebs"].aws;
        assert_eq!(aws.region.as_deref(), Some("eu-west-1"));
        assert_eq!(aws.retry_mode, AwsRetryMode::Adaptive);
        assert_eq!(
            (
                aws.max_attempts,
                aws.operation_timeout_secs,
                aws.relocation_timeout_secs
            ),
            (8, 30, 3600)
        );
        let printed = format!("{config:?}");
        assert!(
            !printed.contains("hunter2") && !printed.contains("hunter3"),
            "{printed}"
        );
        for (text, expected) in [
            (
                "[backends.x]\nmodule = \"a.wasm\"\naws = { regoin = \"x\" }",
                "unknown field",
            ),
            (
                "[backends.x]\nmodule = \"a.wasm\"\naws = { max_attempts = 0 }",
                "at least 1",
            ),
            (
                "[backends.x]\nmodule = \"a.wasm\"\naws = { retry_mode = \"eager\" }",
                "eager",
            ),
        ] {
            let err = Config::from_toml(text).unwrap_err().to_string();
            assert!(err.contains(expected), "{text:?} gave {err:?}");
        }
    }

    #[test]
    fn the_http_table_has_defaults_and_checks_its_keys() {
        let config = Config::from_toml(
            r#"
            [backends.gce]
            module = "/x.wasm"
            capabilities = ["http"]
            settings = { GCE_TOKEN = "tok-secret" }
            [backends.gce.http]
            allow = ["https://compute.googleapis.com", "http://127.0.0.1:4566"]
            [backends.gce.http.credentials.gce]
            provider = "gce-metadata"
            hosts = ["https://compute.googleapis.com:443"]
            [backends.gce.http.credentials.tok]
            provider = "bearer"
            setting = "GCE_TOKEN"
            hosts = ["http://127.0.0.1:4566"]
            "#,
        )
        .unwrap();
        let http = &config.backends["gce"].http;
        assert_eq!(
            (
                http.timeout_secs,
                http.max_timeout_secs,
                http.max_response_bytes,
                http.max_connections
            ),
            (30, 120, 16 << 20, 8)
        );
        assert!(!http.allow_loopback && !http.allow_private);
        let gce = &http.credentials["gce"];
        assert_eq!(gce.provider, CredentialProvider::GceMetadata);
        assert_eq!(gce.scopes, default_scopes());
        assert!(!format!("{config:?}").contains("tok-secret"));
        let base = "[backends.x]\nmodule = \"a.wasm\"\n";
        for (text, expected) in [
            ("[backends.x.http]\nallow = [\"ftp://a\"]", "http.allow"),
            (
                "[backends.x.http]\nallow = [\"https://a/path\"]",
                "http.allow",
            ),
            ("[backends.x.http]\ntimeout_secs = 500", "http.timeout_secs"),
            (
                "[backends.x.http]\nmax_connections = 0",
                "http.max_connections",
            ),
            ("[backends.x.http]\nalow = []", "unknown field"),
            (
                "[backends.x.http]\nallow = [\"https://b\"]\n[backends.x.http.credentials.c]\nprovider = \"bearer\"\nsetting = \"REGION\"\nhosts = [\"https://b\"]",
                "http.credentials.c.setting",
            ),
            (
                "[backends.x.http]\nallow = [\"https://b\"]\n[backends.x.http.credentials.c]\nprovider = \"service-account\"\nhosts = [\"https://b\"]",
                "http.credentials.c.key_file",
            ),
            (
                "[backends.x.http.credentials.c]\nprovider = \"gce-metadata\"",
                "http.credentials.c.hosts is empty",
            ),
            (
                "[backends.x.http.credentials.c]\nprovider = \"gce-metadata\"\nhosts = [\"https://b\"]",
                "http.credentials.c.hosts",
            ),
            (
                "[backends.x.http.credentials.c]\nprovider = \"kerberos\"",
                "kerberos",
            ),
        ] {
            let text = format!("{base}{text}");
            let err = Config::from_toml(&text).unwrap_err().to_string();
            assert!(err.contains(expected), "{text:?} gave {err:?}");
        }
    }

    #[test]
    fn a_named_file_that_is_missing_is_an_error() {
        let err = Config::load(Some(Path::new("/nonexistent/ballast.toml"))).unwrap_err();
        assert!(
            err.to_string()
                .contains("/nonexistent/ballast.toml does not exist"),
            "{err}"
        );
    }

    #[test]
    fn bad_configs_say_what_is_wrong() {
        let cases = [
            (
                "[backends.x]\nmodule = \"a.wasm\"\ncapabilities = [\"network\"]",
                "unknown capability \"network\"",
            ),
            (
                "[backends.x]\ncapabilities = [\"log\"]",
                "no `module` given",
            ),
            (
                "[backends.\"../x\"]\nmodule = \"a.wasm\"",
                "invalid backend name",
            ),
            ("colour = \"blue\"", "unknown field"),
            ("[runtime]\ncpu_limit_ms = 0", "must be above 0"),
        ];
        for (text, expected) in cases {
            let err = Config::from_toml(text).unwrap_err().to_string();
            assert!(err.contains(expected), "{text:?} gave {err:?}");
        }
    }
}
