//! Outgoing HTTP requests (the `http` capability, WIT 0.1.4), for backends
//! of providers that have no typed capability (Compute Engine, and clouds
//! third parties write backends for).
//!
//! The host makes the request under its config's policy: only allow-listed
//! hosts, no link-local, loopback or private addresses unless allowed, no
//! `authorization`, `cookie`, `proxy-*` or `host` header from the guest.
//! Credentials are added by the host, by the config's name for them
//! ([`Request::credential`]); the guest never sees a token.
//!
//! Errors: a refused request is `permission-denied`, a malformed one
//! `invalid-argument`, no connection, a timeout or a credential the host
//! cannot get now `unavailable`. An HTTP error status is not an error: it
//! comes back as a [`Response`]; see [`Response::status_error`] for the
//! usual mapping. Building requests and reading responses is pure; only
//! [`Request::send`] (or [`send`]) makes the component import `http`.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::bindings::ballast::backend::http as raw;
use crate::{Error, Result};

/// A request being built: `Request::get(url).credential("gce").send()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub credential: Option<String>,
    pub timeout_ms: Option<u32>,
}

impl Request {
    /// A request with `method` (GET, HEAD, POST, PUT, PATCH or DELETE) to
    /// the absolute URL `url`.
    pub fn new(method: &str, url: impl Into<String>) -> Request {
        Request {
            method: method.to_ascii_uppercase(),
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
            credential: None,
            timeout_ms: None,
        }
    }

    pub fn get(url: impl Into<String>) -> Request {
        Request::new("GET", url)
    }

    pub fn post(url: impl Into<String>) -> Request {
        Request::new("POST", url)
    }

    pub fn put(url: impl Into<String>) -> Request {
        Request::new("PUT", url)
    }

    pub fn patch(url: impl Into<String>) -> Request {
        Request::new("PATCH", url)
    }

    pub fn delete(url: impl Into<String>) -> Request {
        Request::new("DELETE", url)
    }

    /// Add a header (the host refuses auth, cookie, proxy and host headers).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Request {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Append `key=value` to the URL's query, both percent-encoded.
    pub fn query(mut self, key: &str, value: &str) -> Request {
        let separator = if self.url.contains('?') { '&' } else { '?' };
        self.url = format!(
            "{}{separator}{}={}",
            self.url,
            encode_component(key),
            encode_component(value)
        );
        self
    }

    /// The body, as is.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Request {
        self.body = body.into();
        self
    }

    /// `value` as a JSON body, with `content-type: application/json`.
    pub fn json<T: Serialize + ?Sized>(mut self, value: &T) -> Result<Request> {
        self.body = serde_json::to_vec(value)
            .map_err(|e| Error::internal(format!("encoding a JSON request body: {e}")))?;
        self.headers
            .retain(|(name, _)| !name.eq_ignore_ascii_case("content-type"));
        Ok(self.header("content-type", "application/json"))
    }

    /// The config's name of the credential the host adds (e.g. "gce").
    pub fn credential(mut self, name: impl Into<String>) -> Request {
        self.credential = Some(name.into());
        self
    }

    /// At most this long (the host caps it at its config's maximum).
    pub fn timeout_ms(mut self, ms: u32) -> Request {
        self.timeout_ms = Some(ms);
        self
    }

    /// Make the request (imports `http`).
    pub fn send(self) -> Result<Response> {
        send(self)
    }
}

/// Make `request` through the host.
pub fn send(request: Request) -> Result<Response> {
    let raw = raw::Request {
        method: request.method,
        url: request.url,
        headers: request.headers,
        body: request.body,
        credential: request.credential,
        timeout_ms: request.timeout_ms,
    };
    raw::send(&raw).map(|r| Response {
        status: r.status,
        headers: r.headers,
        body: r.body,
    })
}

/// What the server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// A 2xx status.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The first header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON of type `T`; an unexpected body is `internal`
    /// (the provider answered something the backend does not understand).
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.body).map_err(|e| {
            Error::internal(format!(
                "unexpected response body (HTTP {}): {e}: {}",
                self.status,
                excerpt(&self.text())
            ))
        })
    }

    /// The usual error for a non-2xx status, `what` naming the call:
    /// 404 `not-found`, 409 `already-exists`, 400/412/422 `invalid-argument`,
    /// 401/403 `permission-denied`, 408/429/5xx `unavailable`, anything
    /// else `internal`; `None` for a 2xx. The message carries an excerpt of
    /// the body. Providers with an error document of their own (Compute
    /// Engine's `error.errors[].reason`) should read that first.
    pub fn status_error(&self, what: &str) -> Option<Error> {
        if self.is_success() {
            return None;
        }
        let message = format!("{what}: HTTP {}: {}", self.status, excerpt(&self.text()));
        Some(match self.status {
            404 => Error::not_found(message),
            409 => Error::already_exists(message),
            400 | 412 | 422 => Error::invalid_argument(message),
            401 | 403 => Error::permission_denied(message),
            408 | 429 | 500..=599 => Error::unavailable(message),
            _ => Error::internal(message),
        })
    }
}

/// At most 300 characters of `text`, on one line.
fn excerpt(text: &str) -> String {
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let trimmed = one_line.trim();
    match trimmed.char_indices().nth(300) {
        Some((end, _)) => format!("{}…", &trimmed[..end]),
        None => trimmed.to_string(),
    }
}

/// Percent-encode everything but RFC 3986's unreserved characters, for a
/// path segment or a query key or value.
pub fn encode_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_built_with_query_json_credential_and_timeout() {
        let request = Request::post("https://api.example/v1/disks")
            .query("requestId", "a b&c")
            .query("x", "1")
            .header("content-type", "text/plain")
            .json(&serde_json::json!({"name": "d"}))
            .unwrap()
            .credential("gce")
            .timeout_ms(5_000);
        assert_eq!(request.method, "POST");
        assert_eq!(
            request.url,
            "https://api.example/v1/disks?requestId=a%20b%26c&x=1"
        );
        assert_eq!(
            request.headers,
            vec![("content-type".into(), "application/json".into())]
        );
        assert_eq!(request.body, br#"{"name":"d"}"#);
        assert_eq!(request.credential.as_deref(), Some("gce"));
        assert_eq!(request.timeout_ms, Some(5_000));
        assert_eq!(Request::new("delete", "u").method, "DELETE");
    }

    #[test]
    fn responses_read_headers_json_and_statuses() {
        let response = Response {
            status: 200,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: br#"{"a": 1}"#.to_vec(),
        };
        assert!(response.is_success());
        assert_eq!(response.header("content-type"), Some("application/json"));
        assert_eq!(
            response.json::<serde_json::Value>().unwrap()["a"],
            serde_json::json!(1)
        );
        assert!(response.status_error("get").is_none());
        assert_eq!(response.json::<Vec<u8>>().unwrap_err().kind(), "internal");

        for (status, kind) in [
            (404, "not-found"),
            (409, "already-exists"),
            (400, "invalid-argument"),
            (403, "permission-denied"),
            (429, "unavailable"),
            (503, "unavailable"),
            (302, "internal"),
        ] {
            let error = Response {
                status,
                headers: vec![],
                body: b"nope\n".to_vec(),
            }
            .status_error("disks.get")
            .unwrap();
            assert_eq!(error.kind(), kind, "{status}");
            assert_eq!(
                error.message(),
                format!("disks.get: HTTP {status}: nope"),
                "{status}"
            );
        }
    }

    #[test]
    fn long_bodies_are_cut_in_messages() {
        let text = "é".repeat(400);
        let cut = excerpt(&text);
        assert_eq!(cut.chars().count(), 301);
        assert!(cut.ends_with('…'));
    }
}
