//! Credentials the host adds to a backend's requests, by name: a GCE
//! metadata token, a service account key exchanged for a token, a static
//! bearer token. Tokens are cached and refreshed a minute before they
//! expire. A token is never logged, printed or put in an error.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use tokio::sync::Mutex;

use crate::config::{CredentialProvider, HttpCredential};

/// How long before its expiry a token is replaced.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(60);
const DEFAULT_METADATA: &str = "http://169.254.169.254";

/// A token; `Debug` never shows it.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    pub fn header_value(&self) -> String {
        format!("Bearer {}", self.0)
    }

    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// One configured credential and its cached token.
pub struct Credential {
    name: String,
    config: HttpCredential,
    /// The bearer token, read at start (from the setting or env variable).
    bearer: Option<Token>,
    cached: Mutex<Option<(Token, Instant)>>,
    client: reqwest::Client,
    /// Token fetches made (tests check caching).
    fetches: std::sync::atomic::AtomicU64,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct KeyFile {
    client_email: String,
    private_key: String,
    #[serde(default)]
    token_uri: Option<String>,
}

#[derive(serde::Serialize)]
struct Claims<'a> {
    iss: &'a str,
    scope: String,
    aud: &'a str,
    iat: u64,
    exp: u64,
}

impl Credential {
    pub fn new(
        name: &str,
        config: &HttpCredential,
        settings: &BTreeMap<String, String>,
        client: reqwest::Client,
    ) -> anyhow::Result<Credential> {
        let bearer = match config.provider {
            CredentialProvider::Bearer => {
                let setting = config.setting.as_deref().unwrap_or_default();
                let value = settings
                    .iter()
                    .find(|(k, v)| k.eq_ignore_ascii_case(setting) && !v.trim().is_empty())
                    .map(|(_, v)| v.trim().to_string())
                    .or_else(|| std::env::var(setting).ok().filter(|v| !v.trim().is_empty()));
                Some(Token(value.ok_or_else(|| {
                    anyhow::anyhow!(
                        "http.credentials.{name}: the setting or environment variable {setting} is not set"
                    )
                })?))
            }
            _ => None,
        };
        Ok(Credential {
            name: name.into(),
            config: config.clone(),
            bearer,
            cached: Mutex::new(None),
            client,
            fetches: Default::default(),
        })
    }

    pub fn config(&self) -> &HttpCredential {
        &self.config
    }

    /// Tokens fetched from the provider so far.
    pub fn fetches(&self) -> u64 {
        self.fetches.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A valid token: the cached one, else a new one. The error never
    /// holds a token.
    pub async fn token(&self) -> Result<Token, String> {
        if let Some(token) = &self.bearer {
            return Ok(token.clone());
        }
        let mut cached = self.cached.lock().await;
        if let Some((token, until)) = &*cached
            && Instant::now() + REFRESH_MARGIN < *until
        {
            return Ok(token.clone());
        }
        self.fetches
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let answer = match self.config.provider {
            CredentialProvider::GceMetadata => self.token_from_metadata().await,
            CredentialProvider::ServiceAccount => self.token_from_key_file().await,
            CredentialProvider::Bearer => unreachable!("bearer tokens are static"),
        }
        .map_err(|e| format!("credential {:?}: {e}", self.name))?;
        let lifetime = Duration::from_secs(answer.expires_in.unwrap_or(3600));
        let token = Token(answer.access_token);
        *cached = Some((token.clone(), Instant::now() + lifetime));
        tracing::debug!(credential = %self.name, expires_in_s = lifetime.as_secs(), "http credential token fetched");
        Ok(token)
    }

    async fn token_from_metadata(&self) -> Result<TokenAnswer, String> {
        let endpoint = self
            .config
            .metadata_endpoint
            .as_deref()
            .unwrap_or(DEFAULT_METADATA)
            .trim_end_matches('/');
        let url = format!("{endpoint}/computeMetadata/v1/instance/service-accounts/default/token");
        let request = self.client.get(&url).header("Metadata-Flavor", "Google");
        token_answer(request, "the metadata server").await
    }

    async fn token_from_key_file(&self) -> Result<TokenAnswer, String> {
        let path = self
            .config
            .key_file
            .as_deref()
            .unwrap_or(std::path::Path::new(""));
        let text = tokio::fs::read(path)
            .await
            .map_err(|e| format!("reading {}: {e}", path.display()))?;
        let key: KeyFile = serde_json::from_slice(&text)
            .map_err(|e| format!("{} is not a service account key: {e}", path.display()))?;
        let token_uri = key
            .token_uri
            .clone()
            .unwrap_or_else(|| "https://oauth2.googleapis.com/token".into());
        let iat = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let claims = Claims {
            iss: &key.client_email,
            scope: self.config.scopes.join(" "),
            aud: &token_uri,
            iat,
            exp: iat + 3600,
        };
        let signing = jsonwebtoken::EncodingKey::from_rsa_pem(key.private_key.as_bytes())
            .map_err(|e| format!("the private key of {}: {e}", path.display()))?;
        let assertion = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
            &claims,
            &signing,
        )
        .map_err(|e| format!("signing the token request: {e}"))?;
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer")
            .append_pair("assertion", &assertion)
            .finish();
        let request = self
            .client
            .post(&token_uri)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        token_answer(request, &token_uri).await
    }
}

/// Send a token request; the answer's body is never quoted in errors.
async fn token_answer(request: reqwest::RequestBuilder, from: &str) -> Result<TokenAnswer, String> {
    let response = request
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .map_err(|e| format!("no token from {from}: {}", super::client::error_chain(&e)))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("no token from {from}: HTTP {status}"));
    }
    let body = response
        .bytes()
        .await
        .map_err(|e| format!("no token from {from}: {}", super::client::error_chain(&e)))?;
    serde_json::from_slice(&body).map_err(|_| format!("no token from {from}: not a token answer"))
}

impl super::Http {
    /// For `ballast doctor`: each credential's provider and whether a token
    /// can be had now (its hosts, never the token).
    pub async fn check_credentials(&self) -> Vec<(String, Result<String, String>)> {
        let mut checks = Vec::new();
        for (name, (credential, hosts)) in &self.credentials {
            let hosts: Vec<String> = hosts.iter().map(ToString::to_string).collect();
            let provider = match credential.config.provider {
                CredentialProvider::GceMetadata => "gce-metadata",
                CredentialProvider::ServiceAccount => "service-account",
                CredentialProvider::Bearer => "bearer",
            };
            let outcome = credential
                .token()
                .await
                .map(|_| format!("{provider}: token ready, for {}", hosts.join(", ")));
            checks.push((name.clone(), outcome));
        }
        checks
    }

    /// For `ballast doctor`: the allow-list and the address classes allowed.
    pub fn policy_summary(&self) -> String {
        let origins: Vec<String> = self.allow.iter().map(ToString::to_string).collect();
        let allowed = |on: bool| if on { "allowed" } else { "refused" };
        format!(
            "{} (loopback {}, private {}; link-local always refused)",
            if origins.is_empty() {
                "nothing allowed".to_string()
            } else {
                origins.join(", ")
            },
            allowed(self.addresses.allow_loopback),
            allowed(self.addresses.allow_private),
        )
    }
}
