//! Compute Engine's REST API through the host's `http` capability: URLs,
//! the error document, disks and operations as the API spells them.
//!
//! Errors: `{"error":{"code":…,"message":…,"errors":[{"reason":…}]}}` by
//! reason, then status: notFound → not-found, alreadyExists →
//! already-exists, resourceNotReady, rateLimitExceeded, 429 and 5xx →
//! unavailable (never not-found), resourceInUseByAnotherResource →
//! conflict, 401/403 → permission-denied, other 4xx → invalid-argument.

use ballast_sdk::http::{Request, Response, encode_component};
use ballast_sdk::{Error, Result};
use serde::Deserialize;
use serde_json::Value;

use crate::settings::Config;

/// Where calls go: the endpoint, project and credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Api {
    pub endpoint: String,
    pub project: String,
    pub credential: String,
    /// Longest single request, ms.
    pub timeout_ms: u32,
    /// Tries of a call answered `unavailable` (429, 5xx, no answer).
    pub tries: u32,
}

/// The first pause between tries, doubled after each (ms), and its cap.
const BACKOFF_MS: (u64, u64) = (250, 4_000);
/// The longest `Retry-After` honoured (ms); longer is capped.
const RETRY_AFTER_MAX_MS: u64 = 10_000;

impl Api {
    pub fn new(config: &Config, project: String) -> Api {
        Api {
            endpoint: config.endpoint.clone(),
            project,
            credential: config.credential.clone(),
            timeout_ms: 30_000,
            tries: config.tries,
        }
    }

    /// `{endpoint}/projects/{project}/zones/{zone}/{rest}`.
    pub fn zone_url(&self, zone: &str, rest: &str) -> String {
        format!(
            "{}/projects/{}/zones/{}/{rest}",
            self.endpoint,
            encode_component(&self.project),
            encode_component(zone)
        )
    }

    /// `{endpoint}/projects/{project}/{rest}` (aggregated lists).
    pub fn project_url(&self, rest: &str) -> String {
        format!(
            "{}/projects/{}/{rest}",
            self.endpoint,
            encode_component(&self.project)
        )
    }

    pub fn disk_url(&self, zone: &str, disk: &str) -> String {
        self.zone_url(zone, &format!("disks/{}", encode_component(disk)))
    }

    pub fn instance_url(&self, zone: &str, instance: &str) -> String {
        self.zone_url(zone, &format!("instances/{}", encode_component(instance)))
    }

    /// Send `request` with the credential and the default timeout.
    pub fn call(&self, what: &str, request: Request) -> Result<Value> {
        self.call_within(what, request, self.timeout_ms)
    }

    /// Send `request` with the credential, each try given `timeout_ms`; a
    /// non-2xx answer is the error its document says (see the module docs),
    /// `what` naming the call. Throttling, 5xx and transport failures are
    /// tried again, `tries` times in all, pausing 250 ms, 500 ms, … (or as
    /// `Retry-After` says). Mutating calls carry a `requestId`, so a retry
    /// after a lost answer is the same change, not a second one.
    pub fn call_within(&self, what: &str, request: Request, timeout_ms: u32) -> Result<Value> {
        let request = request
            .credential(self.credential.clone())
            .timeout_ms(timeout_ms);
        let mut pause = BACKOFF_MS.0;
        let mut tried = 0;
        loop {
            tried += 1;
            let (result, retry_after) = match request.clone().send() {
                Ok(response) => (answer(what, &response), retry_after_ms(&response)),
                Err(e) => (Err(prefix(what, e)), None),
            };
            match result {
                Err(Error::Unavailable(message)) if tried < self.tries => {
                    let wait = retry_after.unwrap_or(pause);
                    ballast_sdk::log::debug(
                        "retrying",
                        &[
                            ("call", what),
                            ("after_ms", &wait.to_string()),
                            ("why", &message),
                        ],
                    );
                    std::thread::sleep(std::time::Duration::from_millis(wait));
                    pause = (pause * 2).min(BACKOFF_MS.1);
                }
                Err(Error::Unavailable(message)) if tried > 1 => {
                    return Err(Error::unavailable(format!(
                        "{message} (after {tried} tries; retry later)"
                    )));
                }
                other => return other,
            }
        }
    }
}

/// A 429/503 answer's `Retry-After` in seconds, as ms (capped).
fn retry_after_ms(response: &Response) -> Option<u64> {
    if !matches!(response.status, 429 | 503) {
        return None;
    }
    let secs: u64 = response.header("retry-after")?.trim().parse().ok()?;
    Some((secs * 1000).min(RETRY_AFTER_MAX_MS))
}

/// The JSON of a 2xx response (an empty body is `null`), or its error.
pub fn answer(what: &str, response: &Response) -> Result<Value> {
    if response.is_success() {
        if response.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        return response.json().map_err(|e| prefix(what, e));
    }
    Err(status_error(what, response))
}

fn prefix(what: &str, error: Error) -> Error {
    let message = format!("{what}: {}", error.message());
    match error {
        Error::NotFound(_) => Error::not_found(message),
        Error::AlreadyExists(_) => Error::already_exists(message),
        Error::InvalidArgument(_) => Error::invalid_argument(message),
        Error::Conflict(_) => Error::conflict(message),
        Error::Unavailable(_) => Error::unavailable(message),
        Error::PermissionDenied(_) => Error::permission_denied(message),
        Error::Internal(_) => Error::internal(message),
    }
}

#[derive(Debug, Deserialize, Default)]
struct ErrorDocument {
    #[serde(default)]
    error: ErrorBody,
}

#[derive(Debug, Deserialize, Default)]
struct ErrorBody {
    #[serde(default)]
    message: String,
    #[serde(default)]
    errors: Vec<ErrorItem>,
}

#[derive(Debug, Deserialize, Default)]
struct ErrorItem {
    #[serde(default)]
    reason: String,
}

/// The error a non-2xx response stands for.
pub fn status_error(what: &str, response: &Response) -> Error {
    let document: ErrorDocument = serde_json::from_slice(&response.body).unwrap_or_default();
    let reason = document
        .error
        .errors
        .first()
        .map(|e| e.reason.as_str())
        .unwrap_or("");
    let detail = if document.error.message.is_empty() {
        response.text().trim().chars().take(300).collect()
    } else {
        document.error.message.clone()
    };
    let message = format!("{what}: HTTP {} {reason}: {detail}", response.status);
    match (reason, response.status) {
        ("notFound", _) | ("", 404) => Error::not_found(message),
        ("alreadyExists", _) | ("", 409) => Error::already_exists(message),
        ("resourceNotReady" | "rateLimitExceeded" | "userRateLimitExceeded", _) => {
            Error::unavailable(message)
        }
        (_, 408 | 429 | 500..=599) => Error::unavailable(message),
        ("resourceInUseByAnotherResource", _) => Error::conflict(message),
        (_, 401 | 403) => Error::permission_denied(message),
        (_, 404) => Error::not_found(message),
        (_, 409) => Error::conflict(message),
        (_, 400..=499) => Error::invalid_argument(message),
        _ => Error::internal(message),
    }
}

/// A persistent disk, the fields this backend reads.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Disk {
    pub name: String,
    /// GB, as a decimal string.
    #[serde(default)]
    pub size_gb: String,
    /// The zone's URL.
    #[serde(default)]
    pub zone: String,
    /// The disk type's URL.
    #[serde(rename = "type", default)]
    pub disk_type: String,
    /// CREATING, RESTORING, READY, FAILED, DELETING.
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub labels: std::collections::BTreeMap<String, String>,
    /// URLs of the instances it is attached to.
    #[serde(default)]
    pub users: Vec<String>,
    #[serde(default)]
    pub provisioned_iops: Option<String>,
    /// RFC 3339; the oldest of two disks of one volume wins.
    #[serde(default)]
    pub creation_timestamp: String,
}

impl Disk {
    pub fn size_gb(&self) -> Option<u64> {
        self.size_gb.parse().ok()
    }

    /// The zone's name (the URL's last segment).
    pub fn zone_name(&self) -> &str {
        last_segment(&self.zone)
    }

    /// The type's name.
    pub fn type_name(&self) -> &str {
        last_segment(&self.disk_type)
    }

    /// The names of the instances it is attached to.
    pub fn user_names(&self) -> Vec<&str> {
        self.users.iter().map(|u| last_segment(u)).collect()
    }
}

/// `.../zones/us-central1-a` → `us-central1-a`.
pub fn last_segment(url: &str) -> &str {
    url.trim_end_matches('/').rsplit('/').next().unwrap_or(url)
}

/// An aggregated list page: disks by scope (`zones/<zone>`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AggregatedDiskList {
    #[serde(default)]
    pub items: std::collections::BTreeMap<String, ScopedDisks>,
    #[serde(default)]
    pub next_page_token: Option<String>,
}

/// One scope of an aggregated list (a scope without disks has a warning).
#[derive(Debug, Default, Deserialize)]
pub struct ScopedDisks {
    #[serde(default)]
    pub disks: Vec<Disk>,
}

/// An operation, the fields this backend reads.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Operation {
    pub name: String,
    /// PENDING, RUNNING, DONE.
    pub status: String,
    #[serde(default)]
    pub error: Option<OperationErrors>,
    #[serde(default)]
    pub http_error_status_code: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct OperationErrors {
    #[serde(default)]
    pub errors: Vec<OperationError>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct OperationError {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub message: String,
}

impl Operation {
    pub fn is_done(&self) -> bool {
        self.status == "DONE"
    }

    /// What a DONE operation's error means: `Ok` when it has none.
    pub fn outcome(&self, what: &str) -> Result<()> {
        let Some(first) = self.error.as_ref().and_then(|e| e.errors.first()) else {
            return Ok(());
        };
        let message = format!(
            "{what}: operation {}: {}: {}",
            self.name, first.code, first.message
        );
        Err(match first.code.as_str() {
            "RESOURCE_NOT_FOUND" => Error::not_found(message),
            "RESOURCE_ALREADY_EXISTS" => Error::already_exists(message),
            "RESOURCE_NOT_READY" | "RATE_LIMIT_EXCEEDED" | "INTERNAL_ERROR" | "QUOTA_EXCEEDED" => {
                Error::unavailable(message)
            }
            "RESOURCE_IN_USE_BY_ANOTHER_RESOURCE" => Error::conflict(message),
            "INVALID_FIELD_VALUE" | "INVALID_USAGE" | "BAD_REQUEST" => {
                Error::invalid_argument(message)
            }
            _ => match self.http_error_status_code {
                Some(429 | 500..=599) => Error::unavailable(message),
                Some(403) => Error::permission_denied(message),
                Some(409) => Error::conflict(message),
                _ => Error::internal(message),
            },
        })
    }
}

/// Parse a JSON value into `T`; an unexpected shape is `internal`.
pub fn parse<T: for<'de> Deserialize<'de>>(what: &str, value: Value) -> Result<T> {
    serde_json::from_value(value)
        .map_err(|e| Error::internal(format!("{what}: unexpected answer: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn response(status: u16, body: Value) -> Response {
        Response {
            status,
            headers: vec![],
            body: body.to_string().into_bytes(),
        }
    }

    fn gce_error(status: u16, reason: &str) -> Response {
        response(
            status,
            json!({"error": {"code": status, "message": "m", "errors": [{"domain": "global", "reason": reason, "message": "m"}]}}),
        )
    }

    #[test]
    fn errors_map_by_reason_then_status() {
        for (status, reason, kind) in [
            (404, "notFound", "not-found"),
            (409, "alreadyExists", "already-exists"),
            (400, "resourceNotReady", "unavailable"),
            (403, "rateLimitExceeded", "unavailable"),
            (429, "rateLimitExceeded", "unavailable"),
            (503, "backendError", "unavailable"),
            (500, "", "unavailable"),
            (400, "resourceInUseByAnotherResource", "conflict"),
            (401, "authError", "permission-denied"),
            (403, "forbidden", "permission-denied"),
            (400, "invalid", "invalid-argument"),
        ] {
            let error = status_error("disks.get", &gce_error(status, reason));
            assert_eq!(error.kind(), kind, "{status} {reason}");
            assert!(error.message().starts_with("disks.get: HTTP"), "{error}");
        }
        // Not a GCE document: the status decides, never not-found for a 5xx.
        let html = Response {
            status: 502,
            headers: vec![],
            body: b"<html>bad gateway</html>".to_vec(),
        };
        assert_eq!(status_error("x", &html).kind(), "unavailable");
    }

    #[test]
    fn disks_parse_with_names_from_urls() {
        let value = json!({
            "kind": "compute#disk", "id": "123", "name": "pgdata", "sizeGb": "20",
            "zone": "https://compute.googleapis.com/compute/v1/projects/p/zones/us-central1-a",
            "type": "https://compute.googleapis.com/compute/v1/projects/p/zones/us-central1-a/diskTypes/pd-ssd",
            "status": "READY", "description": "ballast volume: pgdata",
            "labels": {"ballast-cluster": "ballast"},
            "users": ["https://x/projects/p/zones/us-central1-a/instances/node-1"]
        });
        let disk: Disk = parse("disks.get", value).unwrap();
        assert_eq!(disk.size_gb(), Some(20));
        assert_eq!(disk.zone_name(), "us-central1-a");
        assert_eq!(disk.type_name(), "pd-ssd");
        assert_eq!(disk.user_names(), vec!["node-1"]);
        assert_eq!(disk.labels["ballast-cluster"], "ballast");
        let list: AggregatedDiskList = parse(
            "list",
            json!({"items": {
                "zones/a": {"warning": {"code": "NO_RESULTS_ON_PAGE"}},
                "zones/b": {"disks": [{"name": "d1"}, {"name": "d2"}]},
            }, "nextPageToken": "t2"}),
        )
        .unwrap();
        assert_eq!(list.items["zones/a"].disks.len(), 0);
        assert_eq!(list.items["zones/b"].disks[1].name, "d2");
        assert_eq!(list.next_page_token.as_deref(), Some("t2"));
        assert_eq!(
            parse::<Disk>("x", json!({"id": 1})).unwrap_err().kind(),
            "internal"
        );
    }

    #[test]
    fn operations_parse_with_their_outcome() {
        let running: Operation =
            parse("op", json!({"name": "operation-1", "status": "RUNNING"})).unwrap();
        assert!(!running.is_done());
        assert!(running.outcome("attach").is_ok());
        for (code, status, kind) in [
            ("RESOURCE_NOT_FOUND", 404, "not-found"),
            ("RESOURCE_IN_USE_BY_ANOTHER_RESOURCE", 400, "conflict"),
            ("RESOURCE_NOT_READY", 400, "unavailable"),
            ("SOMETHING_NEW", 503, "unavailable"),
            ("SOMETHING_NEW", 400, "internal"),
        ] {
            let done: Operation = parse(
                "op",
                json!({"name": "operation-2", "status": "DONE", "httpErrorStatusCode": status,
                       "error": {"errors": [{"code": code, "message": "why"}]}}),
            )
            .unwrap();
            assert!(done.is_done());
            let err = done.outcome("attach").unwrap_err();
            assert_eq!(err.kind(), kind, "{code}");
            assert!(err.message().contains(code), "{err}");
        }
    }

    #[test]
    fn urls_are_built_and_encoded() {
        let api = Api {
            endpoint: "http://sim/compute/v1".into(),
            project: "p".into(),
            credential: "gce".into(),
            timeout_ms: 1,
            tries: 1,
        };
        assert_eq!(
            api.disk_url("us-central1-a", "pgdata"),
            "http://sim/compute/v1/projects/p/zones/us-central1-a/disks/pgdata"
        );
        assert_eq!(
            api.instance_url("z", "node 1"),
            "http://sim/compute/v1/projects/p/zones/z/instances/node%201"
        );
        assert_eq!(
            answer("x", &response(204, Value::Null)).unwrap(),
            Value::Null
        );
    }
}
