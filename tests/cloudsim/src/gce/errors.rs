//! Compute Engine's error document, for errors answered at once
//! (`{"error":{"code":404,"message":…,"errors":[{"domain":"global","reason":"notFound","message":…}]}}`)
//! and for errors recorded in an operation (`operation.error.errors[]`
//! with an upper-case code such as `RESOURCE_IN_USE_BY_ANOTHER_RESOURCE`).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

#[derive(Debug, Clone, PartialEq)]
pub struct GceError {
    pub status: StatusCode,
    /// `errors[0].reason`: notFound, alreadyExists, invalid, …
    pub reason: String,
    pub message: String,
    /// `errors[0].domain`: "global" except for quota errors.
    pub domain: &'static str,
    /// The canonical status some errors carry (`UNAUTHENTICATED`, …).
    pub canonical: Option<&'static str>,
}

pub type GceResult<T> = Result<T, GceError>;

impl GceError {
    pub fn new(status: u16, reason: impl Into<String>, message: impl Into<String>) -> GceError {
        GceError {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            reason: reason.into(),
            message: message.into(),
            domain: "global",
            canonical: None,
        }
    }

    /// 404: `path` is a resource path, `projects/p/zones/z/disks/d`.
    pub fn not_found(path: &str) -> GceError {
        GceError::new(
            404,
            "notFound",
            format!("The resource '{path}' was not found"),
        )
    }

    pub fn already_exists(path: &str) -> GceError {
        GceError::new(
            409,
            "alreadyExists",
            format!("The resource '{path}' already exists"),
        )
    }

    /// 400 invalid: a field's value breaks a rule.
    pub fn invalid(message: impl Into<String>) -> GceError {
        GceError::new(400, "invalid", message)
    }

    pub fn invalid_field(field: &str, value: &str, why: &str) -> GceError {
        GceError::invalid(format!(
            "Invalid value for field '{field}': '{value}'. {why}"
        ))
    }

    pub fn required(field: &str) -> GceError {
        GceError::new(
            400,
            "required",
            format!("Required field '{field}' not specified"),
        )
    }

    /// 400: the JSON body is not JSON, or has a field the resource lacks.
    pub fn bad_request(message: impl Into<String>) -> GceError {
        let mut error = GceError::new(400, "badRequest", message);
        error.canonical = Some("INVALID_ARGUMENT");
        error
    }

    pub fn in_use(disk_path: &str, user_path: &str) -> GceError {
        GceError::new(
            400,
            "resourceInUseByAnotherResource",
            format!("The disk resource '{disk_path}' is already being used by '{user_path}'"),
        )
    }

    pub fn not_ready(path: &str) -> GceError {
        GceError::new(
            400,
            "resourceNotReady",
            format!("The resource '{path}' is not ready"),
        )
    }

    pub fn condition_not_met(message: impl Into<String>) -> GceError {
        GceError::new(412, "conditionNotMet", message)
    }

    pub fn unauthenticated() -> GceError {
        let mut error = GceError::new(
            401,
            "authError",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or \
             other valid authentication credential.",
        );
        error.canonical = Some("UNAUTHENTICATED");
        error
    }

    pub fn forbidden(permission: &str, path: &str) -> GceError {
        let mut error = GceError::new(
            403,
            "forbidden",
            format!("Required '{permission}' permission for '{path}'"),
        );
        error.canonical = Some("PERMISSION_DENIED");
        error
    }

    pub fn rate_limited() -> GceError {
        let mut error = GceError::new(
            429,
            "rateLimitExceeded",
            "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute' of service \
             'compute.googleapis.com'.",
        );
        error.domain = "usageLimits";
        error.canonical = Some("RESOURCE_EXHAUSTED");
        error
    }

    pub fn internal(message: impl Into<String>) -> GceError {
        GceError::new(500, "backendError", message)
    }

    /// The JSON document answered for this error.
    pub fn body(&self) -> Value {
        let mut error = json!({
            "code": self.status.as_u16(),
            "message": self.message,
            "errors": [{"message": self.message, "domain": self.domain, "reason": self.reason}],
        });
        if let Some(canonical) = self.canonical {
            error["status"] = json!(canonical);
        }
        if self.reason == "authError" {
            error["errors"][0]["location"] = json!("Authorization");
            error["errors"][0]["locationType"] = json!("header");
        }
        json!({ "error": error })
    }

    /// The code this error has inside an operation's `error.errors[]`.
    pub fn operation_code(&self) -> String {
        match self.reason.as_str() {
            "notFound" => "RESOURCE_NOT_FOUND".into(),
            "alreadyExists" => "RESOURCE_ALREADY_EXISTS".into(),
            "invalid" => "INVALID_FIELD_VALUE".into(),
            "backendError" => "INTERNAL_ERROR".into(),
            other => screaming_snake(other),
        }
    }
}

impl IntoResponse for GceError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body())).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                "www-authenticate",
                "Bearer realm=\"https://accounts.google.com/\", error=\"invalid_token\""
                    .parse()
                    .unwrap(),
            );
        }
        response
    }
}

/// `resourceInUseByAnotherResource` → `RESOURCE_IN_USE_BY_ANOTHER_RESOURCE`.
fn screaming_snake(camel: &str) -> String {
    let mut out = String::new();
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_document_and_operation_codes() {
        let error = GceError::not_found("projects/p/zones/z/disks/d");
        assert_eq!(
            error.body(),
            json!({"error": {"code": 404, "message": "The resource 'projects/p/zones/z/disks/d' was not found",
                "errors": [{"message": "The resource 'projects/p/zones/z/disks/d' was not found",
                    "domain": "global", "reason": "notFound"}]}})
        );
        assert_eq!(error.operation_code(), "RESOURCE_NOT_FOUND");
        assert_eq!(
            GceError::in_use("a", "b").operation_code(),
            "RESOURCE_IN_USE_BY_ANOTHER_RESOURCE"
        );
        assert_eq!(
            GceError::not_ready("a").operation_code(),
            "RESOURCE_NOT_READY"
        );
    }
}
