//! `http`: outgoing HTTP requests of a backend, to the hosts its config
//! allows, with credentials the host adds by name (see wit/http.wit).
//!
//! Checks, in order: the URL parses, its scheme is http or https, the
//! method is allowed, the origin is in the allow-list, no guest header
//! carries credentials, the credential asked for exists and is configured
//! for the origin; then every address the host resolves to (or the
//! literal IP) is checked before connecting to exactly those addresses.
//! Redirects are returned to the guest, never followed. A response that
//! repeats the token the host added (a server echoing the request's
//! headers, an error quoting the token) is refused: the guest never
//! receives a credential, whoever would hand it over.

pub mod client;
pub mod credentials;
pub mod policy;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use url::Url;

use super::{Capability, granted};
use crate::config::BackendConfig;
use crate::runtime::bindings::BackendError;
use crate::runtime::bindings::ballast::backend::http::{Host, Request, Response};
use crate::runtime::store::HostState;
use credentials::Credential;
use policy::{AddressPolicy, Origin};

/// The `http` capability of one backend.
pub struct Http {
    backend: String,
    allow: Vec<Origin>,
    addresses: AddressPolicy,
    timeout: Duration,
    max_timeout: Duration,
    max_response_bytes: u64,
    slots: Semaphore,
    credentials: BTreeMap<String, (Credential, Vec<Origin>)>,
    client: reqwest::Client,
}

impl Http {
    pub fn from_config(backend: &str, config: &BackendConfig) -> anyhow::Result<Http> {
        let http = &config.http;
        let allow = http
            .allow
            .iter()
            .map(|e| Origin::parse_entry(e).map_err(anyhow::Error::msg))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let addresses = AddressPolicy {
            allow_loopback: http.allow_loopback,
            allow_private: http.allow_private,
        };
        let host_client = client::host_client()?;
        let mut credentials = BTreeMap::new();
        for (name, cred) in &http.credentials {
            let hosts = cred
                .hosts
                .iter()
                .map(|e| Origin::parse_entry(e).map_err(anyhow::Error::msg))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let credential = Credential::new(name, cred, &config.settings, host_client.clone())?;
            credentials.insert(name.clone(), (credential, hosts));
        }
        Ok(Http {
            backend: backend.into(),
            allow,
            addresses,
            timeout: Duration::from_secs(http.timeout_secs),
            max_timeout: Duration::from_secs(http.max_timeout_secs),
            max_response_bytes: http.max_response_bytes,
            slots: Semaphore::new(http.max_connections as usize),
            credentials,
            client: client::guest_client(addresses, http.max_connections)?,
        })
    }

    pub fn backend(&self) -> &str {
        &self.backend
    }

    /// Tokens the named credential fetched so far (tests check caching).
    pub fn token_fetches(&self, credential: &str) -> Option<u64> {
        self.credentials.get(credential).map(|(c, _)| c.fetches())
    }

    pub async fn send(&self, request: Request) -> Result<Response, BackendError> {
        let started = Instant::now();
        let method = request.method.to_ascii_uppercase();
        let invalid = |why: String| BackendError::InvalidArgument(format!("http: {why}"));
        let denied = |why: String| BackendError::PermissionDenied(format!("http: {why}"));
        let url = Url::parse(&request.url)
            .map_err(|e| invalid(format!("{:?} is not a URL: {e}", request.url)))?;
        let origin = Origin::of(&url).map_err(|e| invalid(format!("{}: {e}", request.url)))?;
        if !policy::METHODS.contains(&method.as_str()) {
            return Err(invalid(format!(
                "method {:?} is not one of {}",
                request.method,
                policy::METHODS.join(", ")
            )));
        }
        if !self.allow.contains(&origin) {
            let list: Vec<String> = self.allow.iter().map(Origin::to_string).collect();
            return Err(denied(format!(
                "{origin} is not in the backend's allow-list [{}]",
                list.join(", ")
            )));
        }
        let mut headers = reqwest::header::HeaderMap::new();
        for (name, value) in &request.headers {
            if let Some(why) = policy::refused_header(name) {
                return Err(denied(format!("header {name:?} refused: {why}")));
            }
            let name = reqwest::header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| invalid(format!("{name:?} is not a header name")))?;
            let value = reqwest::header::HeaderValue::from_str(value)
                .map_err(|_| invalid(format!("the value of header {name} is not valid")))?;
            headers.append(name, value);
        }
        let credential = match &request.credential {
            None => None,
            Some(name) => {
                let (credential, hosts) = self.credentials.get(name).ok_or_else(|| {
                    denied(format!(
                        "no credential {name:?} is configured for this backend"
                    ))
                })?;
                if !hosts.contains(&origin) {
                    return Err(denied(format!(
                        "credential {name:?} is not configured for {origin}"
                    )));
                }
                Some(credential)
            }
        };
        if let Some(host) = url.host() {
            let ip = match host {
                url::Host::Ipv4(v4) => Some(std::net::IpAddr::V4(v4)),
                url::Host::Ipv6(v6) => Some(std::net::IpAddr::V6(v6)),
                url::Host::Domain(_) => None,
            };
            if let Some(ip) = ip
                && let Some(why) = self.addresses.refusal(ip)
            {
                return Err(denied(format!("{origin}: {ip} is {why}")));
            }
        }
        let timeout = request
            .timeout_ms
            .map_or(self.timeout, |ms| Duration::from_millis(ms.into()))
            .min(self.max_timeout);
        let _slot = self
            .slots
            .acquire()
            .await
            .map_err(|_| BackendError::Internal("http: closed".into()))?;
        let exchange = async {
            let mut added = None;
            if let Some(credential) = credential {
                let token = credential
                    .token()
                    .await
                    .map_err(|e| BackendError::Unavailable(format!("http: {e}")))?;
                let mut value = reqwest::header::HeaderValue::from_str(&token.header_value())
                    .map_err(|_| {
                        BackendError::Unavailable("http: the token is not a header value".into())
                    })?;
                value.set_sensitive(true);
                headers.insert(reqwest::header::AUTHORIZATION, value);
                added = Some(token);
            }
            let method = reqwest::Method::from_bytes(method.as_bytes())
                .map_err(|_| invalid(format!("bad method {method}")))?;
            let mut response = self
                .client
                .request(method, url.clone())
                .headers(headers)
                .body(request.body)
                .send()
                .await
                .map_err(|e| self.transport_error(&origin, &e))?;
            let status = response.status().as_u16();
            let headers: Vec<(String, String)> = response
                .headers()
                .iter()
                .map(|(k, v)| {
                    (
                        k.to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
            let too_big = || {
                denied(format!(
                    "the response of {origin} is larger than max_response_bytes ({})",
                    self.max_response_bytes
                ))
            };
            if response
                .content_length()
                .is_some_and(|n| n > self.max_response_bytes)
            {
                return Err(too_big());
            }
            let mut body = Vec::new();
            while let Some(chunk) = response
                .chunk()
                .await
                .map_err(|e| self.transport_error(&origin, &e))?
            {
                if body.len() as u64 + chunk.len() as u64 > self.max_response_bytes {
                    return Err(too_big());
                }
                body.extend_from_slice(&chunk);
            }
            if let Some(token) = &added
                && repeats(token.secret().as_bytes(), &headers, &body)
            {
                return Err(denied(format!(
                    "the response of {origin} repeats the credential {:?} the host added; refused so the guest never sees it",
                    request.credential.as_deref().unwrap_or_default()
                )));
            }
            Ok(Response {
                status,
                headers,
                body,
            })
        };
        let result = match tokio::time::timeout(timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(BackendError::Unavailable(format!(
                "http: {method} {origin}: no complete answer within {} ms",
                timeout.as_millis()
            ))),
        };
        let (status, bytes) = match &result {
            Ok(r) => (r.status.to_string(), r.body.len()),
            Err(e) => (format!("error {e:?}").chars().take(200).collect(), 0),
        };
        tracing::debug!(
            backend = %self.backend,
            method = %method,
            origin = %origin,
            path = %url.path(),
            status = %status,
            bytes,
            ms = started.elapsed().as_millis() as u64,
            "http request"
        );
        result
    }

    fn transport_error(&self, origin: &Origin, err: &reqwest::Error) -> BackendError {
        match client::refusal(err) {
            Some(why) => BackendError::PermissionDenied(format!("http: {origin}: {why}")),
            None if err.is_timeout() => {
                BackendError::Unavailable(format!("http: {origin}: timed out"))
            }
            None => {
                BackendError::Unavailable(format!("http: {origin}: {}", client::error_chain(err)))
            }
        }
    }
}

/// Whether a response's headers or body contain `secret` byte for byte.
fn repeats(secret: &[u8], headers: &[(String, String)], body: &[u8]) -> bool {
    let contains = |haystack: &[u8]| haystack.windows(secret.len()).any(|w| w == secret);
    !secret.is_empty()
        && (headers
            .iter()
            .any(|(k, v)| contains(k.as_bytes()) || contains(v.as_bytes()))
            || contains(body))
}

impl HostState {
    fn http(&self) -> wasmtime::Result<Arc<Http>> {
        granted(&self.caps.http, Capability::Http)
    }
}

impl Host for HostState {
    async fn send(&mut self, request: Request) -> wasmtime::Result<Result<Response, BackendError>> {
        Ok(self.http()?.send(request).await)
    }
}

#[cfg(test)]
mod tests {
    use super::repeats;

    #[test]
    fn a_response_repeating_the_secret_is_recognized() {
        let secret = b"ya29.s3cr3t";
        let headers = |v: &str| vec![("x-echo".to_string(), v.to_string())];
        assert!(repeats(secret, &headers("Bearer ya29.s3cr3t"), b""));
        assert!(repeats(secret, &[], b"{\"auth\": \"Bearer ya29.s3cr3t\"}"));
        assert!(repeats(secret, &[], b"ya29.s3cr3t"));
        assert!(!repeats(
            secret,
            &headers("Bearer ya29.s3cr3"),
            b"ya29.s3cr4t"
        ));
        assert!(!repeats(secret, &[], b""));
        assert!(!repeats(b"", &headers("x"), b"x"));
    }
}
