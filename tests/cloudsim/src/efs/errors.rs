//! EFS's errors as EFS sends them: the code in the `x-amzn-ErrorType`
//! header (which the SDK reads) and a JSON body with `ErrorCode`,
//! `Message` and, for some errors, the id of the resource in the way.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::auth::AuthError;
use crate::faults::Injected;

#[derive(Debug, Clone, PartialEq)]
pub struct EfsError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    /// Extra members of the error body, e.g. `FileSystemId`.
    pub extra: Vec<(&'static str, String)>,
}

impl EfsError {
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> EfsError {
        EfsError {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            code: code.into(),
            message: message.into(),
            extra: Vec::new(),
        }
    }

    fn with(mut self, key: &'static str, value: &str) -> EfsError {
        self.extra.push((key, value.into()));
        self
    }

    pub fn bad_request(message: impl Into<String>) -> EfsError {
        EfsError::new(400, "BadRequest", message)
    }

    pub fn file_system_not_found(id: &str) -> EfsError {
        EfsError::new(
            404,
            "FileSystemNotFound",
            format!("File system '{id}' does not exist."),
        )
    }

    pub fn file_system_already_exists(id: &str, token: &str) -> EfsError {
        EfsError::new(
            409,
            "FileSystemAlreadyExists",
            format!("File system '{id}' already exists with creation token '{token}'"),
        )
        .with("FileSystemId", id)
    }

    pub fn file_system_in_use(id: &str) -> EfsError {
        EfsError::new(
            409,
            "FileSystemInUse",
            format!("File system '{id}' has mount targets; delete them first."),
        )
    }

    pub fn incorrect_file_system_state(id: &str, state: &str) -> EfsError {
        EfsError::new(
            409,
            "IncorrectFileSystemLifeCycleState",
            format!("File system '{id}' is in state '{state}'; it must be 'available'."),
        )
    }

    pub fn mount_target_not_found(id: &str) -> EfsError {
        EfsError::new(
            404,
            "MountTargetNotFound",
            format!("Mount target '{id}' does not exist."),
        )
    }

    pub fn mount_target_conflict(message: impl Into<String>) -> EfsError {
        EfsError::new(409, "MountTargetConflict", message)
    }

    pub fn access_point_not_found(id: &str) -> EfsError {
        EfsError::new(
            404,
            "AccessPointNotFound",
            format!("Access point '{id}' does not exist."),
        )
    }

    pub fn access_point_already_exists(id: &str, token: &str) -> EfsError {
        EfsError::new(
            409,
            "AccessPointAlreadyExists",
            format!("Access point '{id}' already exists with client token '{token}'"),
        )
        .with("AccessPointId", id)
    }

    /// EFS's throttling answer (modeled as `ThrottlingException`, 429).
    pub fn throttling() -> EfsError {
        EfsError::new(429, "ThrottlingException", "Rate exceeded")
    }

    /// An injected fault, in EFS's words. EC2's generic `InternalError`
    /// (the fault plan's default) becomes EFS's `InternalServerError`.
    pub fn injected(injected: Injected) -> EfsError {
        match injected {
            Injected::Throttle => EfsError::throttling(),
            Injected::Fail { code, status } => {
                let code = if code == "InternalError" {
                    "InternalServerError".to_string()
                } else {
                    code
                };
                EfsError::new(status, &code, "Injected failure (cloudsim fault plan).")
            }
        }
    }

    /// An authentication failure, as AWS's REST-JSON front end answers it.
    pub fn auth(error: AuthError) -> EfsError {
        let message = error.message.to_lowercase();
        let code = match error.code {
            "MissingAuthenticationToken" => "MissingAuthenticationTokenException",
            "RequestExpired" => "InvalidSignatureException",
            _ if message.contains("malformed") => "IncompleteSignatureException",
            _ if message.contains("signature") => "InvalidSignatureException",
            _ => "UnrecognizedClientException",
        };
        EfsError::new(403, code, error.message)
    }
}

impl IntoResponse for EfsError {
    fn into_response(self) -> Response {
        let mut body = serde_json::Map::new();
        body.insert("ErrorCode".into(), self.code.clone().into());
        body.insert("Message".into(), self.message.into());
        for (key, value) in self.extra {
            body.insert(key.into(), value.into());
        }
        let mut response =
            super::call::json_response(self.status, &serde_json::Value::Object(body));
        if let Ok(value) = HeaderValue::from_str(&self.code) {
            response.headers_mut().insert("x-amzn-ErrorType", value);
        }
        response
    }
}
