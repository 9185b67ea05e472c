//! EFS's answers turned into the contract's errors. The SDK has already
//! retried what it could (throttling, 5xx, timeouts) when an error gets
//! here. Transient trouble must come back as `unavailable`, never as
//! `not-found` (Docker would take a failed lookup for a missing volume and
//! create another), so only EFS's own "no such resource" codes are
//! `not-found`. Every message reads "<Action>: <Code>: <message>", which
//! guests may match on.

use aws_sdk_efs::error::SdkError;

use crate::capabilities::aws::{self, ServiceError};
use crate::runtime::bindings::BackendError;

/// A `map_err` adapter: `call.send().await.map_err(sdk("CreateFileSystem"))`.
pub fn sdk<E: ServiceError>(action: &'static str) -> impl Fn(SdkError<E>) -> BackendError {
    aws::mapper(action, classify)
}

/// Map one SDK error of `action`.
pub fn from_sdk<E: ServiceError>(action: &str, err: &SdkError<E>) -> BackendError {
    aws::sdk_error(action, err, classify)
}

/// Map EFS's error `code` (with its `message` and HTTP `status`) for `action`.
pub fn classify(
    action: &str,
    code: Option<&str>,
    message: Option<&str>,
    status: Option<u16>,
) -> BackendError {
    let (code, text) = aws::error_text(action, code, message);
    if is_transient(code, status) {
        BackendError::Unavailable(text)
    } else if NOT_FOUND.contains(&code) {
        BackendError::NotFound(text)
    } else if PERMISSION_DENIED.contains(&code) {
        BackendError::PermissionDenied(text)
    } else if matches!(code, "FileSystemAlreadyExists" | "AccessPointAlreadyExists") {
        BackendError::AlreadyExists(text)
    } else if CONFLICT.contains(&code) {
        BackendError::Conflict(text)
    } else if INVALID_ARGUMENT.contains(&code) {
        BackendError::InvalidArgument(text)
    } else if status == Some(403) {
        BackendError::PermissionDenied(text)
    } else {
        // An unknown code: not `not-found` even on a 404 (a proxy's or a
        // wrong endpoint's 404 says nothing about the resource).
        BackendError::Internal(text)
    }
}

/// The resource named does not exist. `SubnetNotFound` and
/// `SecurityGroupNotFound` are not here: they name a parameter.
const NOT_FOUND: &[&str] = &[
    "FileSystemNotFound",
    "MountTargetNotFound",
    "AccessPointNotFound",
    "PolicyNotFound",
    "ReplicationNotFound",
];

const PERMISSION_DENIED: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "IncompleteSignatureException",
    "MissingAuthenticationTokenException",
    "ExpiredTokenException",
    "InvalidClientTokenId",
];

/// States that forbid the call, and quotas reached.
const CONFLICT: &[&str] = &[
    "IncorrectFileSystemLifeCycleState",
    "IncorrectMountTargetState",
    "FileSystemInUse",
    "MountTargetConflict",
    "ConflictException",
    "AccessPointLimitExceeded",
    "FileSystemLimitExceeded",
    "SecurityGroupLimitExceeded",
    "IpAddressInUse",
    "NoFreeAddressesInSubnet",
    "NetworkInterfaceLimitExceeded",
    "ReplicationAlreadyExists",
];

/// Parameters EFS rejected.
const INVALID_ARGUMENT: &[&str] = &[
    "BadRequest",
    "ValidationException",
    "SubnetNotFound",
    "SecurityGroupNotFound",
    "UnsupportedAvailabilityZone",
    "AvailabilityZonesMismatch",
    "InvalidPolicyException",
    "SerializationException",
];

/// Throttling, EFS's own trouble, capacity it lacks for now, and any 5xx
/// or 429 answer.
fn is_transient(code: &str, status: Option<u16>) -> bool {
    matches!(
        code,
        "ThrottlingException"
            | "Throttling"
            | "TooManyRequests"
            | "TooManyRequestsException"
            | "InternalServerError"
            | "InternalFailure"
            | "ServiceUnavailable"
            | "ServiceUnavailableException"
            | "DependencyTimeout"
            | "RequestTimeout"
            | "RequestTimeoutException"
            | "InsufficientThroughputCapacity"
            | "ThroughputLimitExceeded"
    ) || status.is_some_and(|s| s >= 500 || s == 429)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(code: &str, status: u16) -> &'static str {
        aws::case_name(&classify(
            "CreateMountTarget",
            Some(code),
            Some("m"),
            Some(status),
        ))
    }

    #[test]
    fn codes_map_to_the_contracts_errors() {
        let cases = [
            ("ThrottlingException", 429, "unavailable"),
            ("TooManyRequests", 429, "unavailable"),
            ("InternalServerError", 500, "unavailable"),
            ("DependencyTimeout", 504, "unavailable"),
            ("InsufficientThroughputCapacity", 503, "unavailable"),
            ("ThroughputLimitExceeded", 400, "unavailable"),
            ("SomethingNew", 502, "unavailable"),
            ("SomethingNew", 429, "unavailable"),
            ("FileSystemNotFound", 404, "not-found"),
            ("MountTargetNotFound", 404, "not-found"),
            ("AccessPointNotFound", 404, "not-found"),
            ("AccessDenied", 403, "permission-denied"),
            ("AccessDeniedException", 403, "permission-denied"),
            ("UnrecognizedClientException", 403, "permission-denied"),
            ("SomethingElse", 403, "permission-denied"),
            ("FileSystemAlreadyExists", 409, "already-exists"),
            ("AccessPointAlreadyExists", 409, "already-exists"),
            ("IncorrectFileSystemLifeCycleState", 409, "conflict"),
            ("IncorrectMountTargetState", 409, "conflict"),
            ("FileSystemInUse", 409, "conflict"),
            ("MountTargetConflict", 409, "conflict"),
            // EFS answers its quotas with 403; still a conflict.
            ("AccessPointLimitExceeded", 403, "conflict"),
            ("FileSystemLimitExceeded", 403, "conflict"),
            ("SecurityGroupLimitExceeded", 400, "conflict"),
            ("IpAddressInUse", 409, "conflict"),
            ("NoFreeAddressesInSubnet", 409, "conflict"),
            ("NetworkInterfaceLimitExceeded", 409, "conflict"),
            ("BadRequest", 400, "invalid-argument"),
            ("ValidationException", 400, "invalid-argument"),
            ("SubnetNotFound", 400, "invalid-argument"),
            ("SecurityGroupNotFound", 400, "invalid-argument"),
            ("UnsupportedAvailabilityZone", 400, "invalid-argument"),
            ("AvailabilityZonesMismatch", 400, "invalid-argument"),
            ("SomethingElse", 404, "internal"),
            ("SomethingElse", 400, "internal"),
        ];
        for (code, status, expected) in cases {
            assert_eq!(kind(code, status), expected, "{code} {status}");
        }
    }

    #[test]
    fn the_message_keeps_action_and_code() {
        assert_eq!(
            classify(
                "CreateMountTarget",
                Some("MountTargetConflict"),
                Some("a mount target already exists in us-east-1a"),
                Some(409)
            ),
            BackendError::Conflict(
                "CreateMountTarget: MountTargetConflict: a mount target already exists in us-east-1a"
                    .into()
            )
        );
        assert_eq!(
            classify("DescribeFileSystems", None, Some(""), None),
            BackendError::Internal("DescribeFileSystems: Unknown: (no message)".into())
        );
    }
}
