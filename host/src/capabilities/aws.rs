//! What the AWS capabilities (`ec2`, `efs`, `s3`) share: the SDK client
//! configuration (region, endpoint, static keys or the SDK's default
//! credential chain, retry mode and attempts, timeouts), the mapping of
//! SDK errors, SDK times as milliseconds, one view over SDK types that
//! carry the same members, and bounded waits (`wait`).
//!
//! Sources, first wins: the backend's `[backends.<name>.aws]` table, then
//! its REX-Ray settings under the capability's prefix (`EBS_REGION`,
//! `EBS_ENDPOINT`, `EBS_ACCESSKEY`, `EBS_SECRETKEY`, any case), then the
//! SDK's defaults (environment, profile, instance role).
//!
//! This module must never log or print a secret key, and it decides which
//! settings are secret so that they never reach a guest.

pub mod wait;

use std::collections::BTreeMap;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ec2::config::Credentials;
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ec2::primitives::DateTime;

use crate::config::{AwsConfig, AwsRetryMode};
use crate::runtime::bindings::BackendError;

/// Where a capability's AWS client comes from, resolved from config and
/// settings. `Debug` redacts the secret key.
#[derive(Clone, Debug, PartialEq)]
pub struct AwsSettings {
    /// None: the SDK's region chain (AWS_REGION, profile, instance metadata).
    pub region: Option<String>,
    /// None: AWS's own endpoint for the region.
    pub endpoint: Option<String>,
    keys: Option<StaticKeys>,
    pub retry_mode: AwsRetryMode,
    pub max_attempts: u32,
    pub operation_timeout: Duration,
    pub relocation_timeout: Duration,
}

#[derive(Clone, PartialEq)]
struct StaticKeys {
    access_key: String,
    secret_key: String,
}

impl std::fmt::Debug for StaticKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticKeys")
            .field("access_key", &self.access_key)
            .field("secret_key", &"<redacted>")
            .finish()
    }
}

/// Settings that cannot make a client.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum AwsSettingsError {
    #[error(
        "an AWS access key is given ({given_in}) but no secret key: set aws.secret_key or {prefix}_SECRETKEY too, or neither key to use the SDK's default credentials"
    )]
    MissingSecretKey { given_in: String, prefix: String },
    #[error(
        "an AWS secret key is given ({given_in}) but no access key: set aws.access_key or {prefix}_ACCESSKEY too, or neither key to use the SDK's default credentials"
    )]
    MissingAccessKey { given_in: String, prefix: String },
}

impl AwsSettings {
    /// Resolve a backend's `aws` table and its settings under `prefix`
    /// (e.g. "EBS" for `EBS_REGION`); the table wins over the settings.
    pub fn resolve(
        config: &AwsConfig,
        settings: &BTreeMap<String, String>,
        prefix: &str,
    ) -> Result<AwsSettings, AwsSettingsError> {
        // (value, where it was given) from the table field, else the setting.
        let pick = |table: &Option<String>, field: &str, suffix: &str| match table
            .as_deref()
            .filter(|v| !v.trim().is_empty())
        {
            Some(v) => Some((v.trim().to_string(), format!("aws.{field}"))),
            None => setting(settings, &format!("{prefix}_{suffix}"))
                .map(|(k, v)| (v.trim().to_string(), k.to_string())),
        };
        let region = pick(&config.region, "region", "REGION").map(|(v, _)| v);
        let endpoint = pick(&config.endpoint, "endpoint", "ENDPOINT").map(|(v, _)| v);
        let access_key = pick(&config.access_key, "access_key", "ACCESSKEY");
        let secret_key = pick(&config.secret_key, "secret_key", "SECRETKEY");
        let keys = match (access_key, secret_key) {
            (Some((access_key, _)), Some((secret_key, _))) => Some(StaticKeys {
                access_key,
                secret_key,
            }),
            (None, None) => None,
            (Some((_, given_in)), None) => {
                return Err(AwsSettingsError::MissingSecretKey {
                    given_in,
                    prefix: prefix.into(),
                });
            }
            (None, Some((_, given_in))) => {
                return Err(AwsSettingsError::MissingAccessKey {
                    given_in,
                    prefix: prefix.into(),
                });
            }
        };
        Ok(AwsSettings {
            region,
            endpoint,
            keys,
            retry_mode: config.retry_mode,
            max_attempts: config.max_attempts.max(1),
            operation_timeout: Duration::from_secs(config.operation_timeout_secs),
            relocation_timeout: Duration::from_secs(config.relocation_timeout_secs),
        })
    }

    /// Where credentials come from, for people (never the keys themselves).
    pub fn credentials_source(&self) -> &'static str {
        match self.keys {
            Some(_) => "static keys from the config",
            None => "the SDK's default chain (environment, profile, instance role)",
        }
    }

    /// The SDK configuration these settings describe. Nothing is fetched
    /// here except what the SDK's region chain needs when no region is set.
    pub async fn sdk_config(&self) -> SdkConfig {
        let retry = match self.retry_mode {
            AwsRetryMode::Standard => RetryConfig::standard(),
            AwsRetryMode::Adaptive => RetryConfig::adaptive(),
        }
        .with_max_attempts(self.max_attempts);
        let timeouts = TimeoutConfig::builder()
            .operation_timeout(self.operation_timeout)
            .build();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .retry_config(retry)
            .timeout_config(timeouts);
        if let Some(region) = &self.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(endpoint) = &self.endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        if let Some(keys) = &self.keys {
            loader = loader.credentials_provider(Credentials::new(
                &keys.access_key,
                &keys.secret_key,
                None,
                None,
                "ballast-config",
            ));
        }
        loader.load().await
    }
}

/// The setting named `name`, compared without regard to case (as REX-Ray
/// does); empty values count as unset.
fn setting<'a>(settings: &'a BTreeMap<String, String>, name: &str) -> Option<(&'a str, &'a str)> {
    settings
        .iter()
        .find(|(k, v)| k.eq_ignore_ascii_case(name) && !v.trim().is_empty())
        .map(|(k, v)| (k.as_str(), v.as_str()))
}

/// Settings that hold credentials: `*_ACCESSKEY`, `*_SECRETKEY`,
/// `access_key`, `secret_key` (any case; bare `accesskey`/`secretkey`
/// too), and tokens, secrets and passwords (`*_TOKEN`, `*_SECRET`,
/// `*_PASSWORD` and the bare names), e.g. the setting an `http` bearer
/// credential reads. They stay in the host.
pub fn is_secret_setting(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    [
        "accesskey",
        "secretkey",
        "access_key",
        "secret_key",
        "token",
        "secret",
        "password",
    ]
    .contains(&key.as_str())
        || ["_accesskey", "_secretkey", "_token", "_secret", "_password"]
            .iter()
            .any(|suffix| key.ends_with(suffix))
}

/// How an AWS capability names one service error: its code, message and
/// HTTP status, for an action.
pub type Classify = fn(&str, Option<&str>, Option<&str>, Option<u16>) -> BackendError;

/// How every AWS capability's error message reads: "<Action>: <Code>:
/// <message>" (guests may match on it), with the code it names ("Unknown"
/// and "(no message)" stand in for what the answer left out).
pub fn error_text<'a>(
    action: &str,
    code: Option<&'a str>,
    message: Option<&str>,
) -> (&'a str, String) {
    let code = code.filter(|c| !c.is_empty()).unwrap_or("Unknown");
    let message = message.filter(|m| !m.is_empty()).unwrap_or("(no message)");
    (code, format!("{action}: {code}: {message}"))
}

/// The contract's name of an error's case ("not-found" ...), for tests
/// that check a mapping.
#[cfg(test)]
pub fn case_name(err: &BackendError) -> &'static str {
    match err {
        BackendError::NotFound(_) => "not-found",
        BackendError::AlreadyExists(_) => "already-exists",
        BackendError::InvalidArgument(_) => "invalid-argument",
        BackendError::Conflict(_) => "conflict",
        BackendError::Unavailable(_) => "unavailable",
        BackendError::PermissionDenied(_) => "permission-denied",
        BackendError::Internal(_) => "internal",
    }
}

/// An SDK operation's error type, for any AWS service.
pub trait ServiceError: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static {}

impl<E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static> ServiceError for E {}

/// A `map_err` adapter mapping a service's errors with its `classify`:
/// `call.send().await.map_err(mapper("CreateFileSystem", classify))`.
pub fn mapper<E: ServiceError>(
    action: &'static str,
    classify: Classify,
) -> impl Fn(SdkError<E>) -> BackendError {
    move |err| sdk_error(action, &err, classify)
}

/// Map one SDK error of `action` for any AWS service: service errors by the
/// service's own `classify`; timeouts, unsendable requests and unreadable
/// 5xx answers are `unavailable` (the SDK has retried them already).
pub fn sdk_error<E>(action: &str, err: &SdkError<E>, classify: Classify) -> BackendError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let context = || error_chain(err);
    match err {
        SdkError::ServiceError(service) => classify(
            action,
            service.err().code(),
            service.err().message(),
            Some(service.raw().status().as_u16()),
        ),
        SdkError::TimeoutError(_) => BackendError::Unavailable(format!(
            "{action}: Timeout: no answer in time ({})",
            context()
        )),
        SdkError::DispatchFailure(_) => BackendError::Unavailable(format!(
            "{action}: DispatchFailure: the request could not be sent ({})",
            context()
        )),
        SdkError::ResponseError(response) if response.raw().status().is_server_error() => {
            BackendError::Unavailable(format!(
                "{action}: HTTP {}: unreadable answer ({})",
                response.raw().status().as_u16(),
                context()
            ))
        }
        _ => BackendError::Internal(format!("{action}: {}", context())),
    }
}

/// An SDK client made on first use from a capability's settings: loading
/// the SDK config may ask the region chain, which must not happen before a
/// call needs it. Keeps the region the config settled on.
pub struct LazyClient<C> {
    settings: AwsSettings,
    make: Box<dyn Fn(&SdkConfig) -> C + Send + Sync>,
    made: tokio::sync::OnceCell<(C, Option<String>)>,
}

impl<C> LazyClient<C> {
    /// `make` builds the service's client from the shared config, e.g.
    /// `aws_sdk_efs::Client::new` (or a closure adding service settings).
    pub fn new(
        settings: AwsSettings,
        make: impl Fn(&SdkConfig) -> C + Send + Sync + 'static,
    ) -> LazyClient<C> {
        LazyClient {
            settings,
            make: Box::new(make),
            made: tokio::sync::OnceCell::new(),
        }
    }

    pub fn settings(&self) -> &AwsSettings {
        &self.settings
    }

    pub async fn client(&self) -> &C {
        &self.made().await.0
    }

    /// The region the client uses (configured, or found by the SDK's chain).
    pub async fn region(&self) -> Option<String> {
        self.made().await.1.clone()
    }

    async fn made(&self) -> &(C, Option<String>) {
        self.made
            .get_or_init(|| async {
                let config = self.settings.sdk_config().await;
                let region = config.region().map(|r| r.as_ref().to_string());
                ((self.make)(&config), region)
            })
            .await
    }
}

/// An SDK time as milliseconds since the Unix epoch (0 when unknown or
/// before 1970).
pub fn millis(time: Option<&DateTime>) -> u64 {
    time.and_then(|t| t.to_millis().ok())
        .and_then(|ms| u64::try_from(ms).ok())
        .unwrap_or(0)
}

/// A trait over SDK types that carry the same members (a described
/// resource and the flattened output of the call that created it), so one
/// function converts both:
/// `sdk_view!(FileSystemView for [FileSystemDescription, CreateFileSystemOutput] { fn encrypted -> Option<bool>; })`.
macro_rules! sdk_view {
    ($trait:ident for [$($ty:ty),+] $fns:tt) => {
        $crate::capabilities::aws::sdk_view!(@trait $trait $fns);
        $($crate::capabilities::aws::sdk_view!(@impl $trait $ty $fns);)+
    };
    (@trait $trait:ident { $(fn $name:ident -> $ret:ty;)+ }) => {
        pub trait $trait {
            $(fn $name(&self) -> $ret;)+
        }
    };
    (@impl $trait:ident $ty:ty { $(fn $name:ident -> $ret:ty;)+ }) => {
        impl $trait for $ty {
            $(fn $name(&self) -> $ret {
                <$ty>::$name(self)
            })+
        }
    };
}
pub(crate) use sdk_view;

/// An error and its sources, "outer: inner: innermost" (no Debug dumps).
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        let part = e.to_string();
        if !text.contains(&part) {
            text = format!("{text}: {part}");
        }
        source = e.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn rexray_settings_fill_what_the_table_leaves_out() {
        let table = AwsConfig {
            region: Some("eu-west-1".into()),
            ..Default::default()
        };
        let resolved = AwsSettings::resolve(
            &table,
            &settings(&[
                ("ebs_region", "us-east-1"),
                ("EBS_Endpoint", "http://127.0.0.1:4566"),
                ("EBS_ACCESSKEY", "AKID"),
                ("ebs_secretkey", "s3cr3t"),
            ]),
            "EBS",
        )
        .unwrap();
        assert_eq!(resolved.region.as_deref(), Some("eu-west-1"), "table wins");
        assert_eq!(resolved.endpoint.as_deref(), Some("http://127.0.0.1:4566"));
        assert_eq!(resolved.credentials_source(), "static keys from the config");
        assert_eq!(resolved.max_attempts, 8);
        assert_eq!(resolved.operation_timeout, Duration::from_secs(30));
        assert_eq!(resolved.relocation_timeout, Duration::from_secs(3600));
    }

    #[test]
    fn one_key_without_the_other_names_the_missing_one() {
        let err = AwsSettings::resolve(
            &AwsConfig::default(),
            &settings(&[("EBS_ACCESSKEY", "AKID")]),
            "EBS",
        )
        .unwrap_err();
        assert!(err.to_string().contains("no secret key"), "{err}");
        assert!(err.to_string().contains("EBS_SECRETKEY"), "{err}");
        let table = AwsConfig {
            secret_key: Some("s".into()),
            ..Default::default()
        };
        let err = AwsSettings::resolve(&table, &BTreeMap::new(), "EBS").unwrap_err();
        assert_eq!(
            err,
            AwsSettingsError::MissingAccessKey {
                given_in: "aws.secret_key".into(),
                prefix: "EBS".into()
            }
        );
    }

    #[test]
    fn no_keys_means_the_default_chain() {
        let resolved =
            AwsSettings::resolve(&AwsConfig::default(), &BTreeMap::new(), "EBS").unwrap();
        assert!(resolved.credentials_source().contains("default chain"));
        assert_eq!(resolved.region, None);
    }

    #[test]
    fn debug_output_never_shows_the_secret() {
        let table = AwsConfig {
            access_key: Some("AKIDVISIBLE".into()),
            secret_key: Some("hunter2-secret".into()),
            ..Default::default()
        };
        let resolved = AwsSettings::resolve(&table, &BTreeMap::new(), "EBS").unwrap();
        for text in [format!("{table:?}"), format!("{resolved:?}")] {
            assert!(!text.contains("hunter2-secret"), "{text}");
            assert!(text.contains("<redacted>"), "{text}");
        }
    }

    #[test]
    fn secret_settings_are_recognised_in_any_case() {
        for key in [
            "EBS_ACCESSKEY",
            "ebs_secretkey",
            "EFS_SecretKey",
            "access_key",
            "SECRET_KEY",
            "GCE_TOKEN",
            "api_password",
        ] {
            assert!(is_secret_setting(key), "{key}");
        }
        for key in [
            "EBS_REGION",
            "accesskey_hint",
            "default_size",
            "keys",
            "tokens_per_s",
        ] {
            assert!(!is_secret_setting(key), "{key}");
        }
    }

    #[tokio::test]
    async fn the_sdk_config_carries_region_endpoint_and_retries() {
        let table = AwsConfig {
            region: Some("eu-central-1".into()),
            endpoint: Some("http://127.0.0.1:9".into()),
            max_attempts: 3,
            retry_mode: AwsRetryMode::Adaptive,
            ..Default::default()
        };
        let sdk = AwsSettings::resolve(&table, &BTreeMap::new(), "EBS")
            .unwrap()
            .sdk_config()
            .await;
        assert_eq!(sdk.region().map(|r| r.as_ref()), Some("eu-central-1"));
        assert_eq!(sdk.endpoint_url(), Some("http://127.0.0.1:9"));
        let retry = sdk.retry_config().unwrap();
        assert_eq!(retry.max_attempts(), 3);
        assert_eq!(retry.mode(), aws_config::retry::RetryMode::Adaptive);
        assert_eq!(
            sdk.timeout_config().unwrap().operation_timeout(),
            Some(Duration::from_secs(30))
        );
    }
}
