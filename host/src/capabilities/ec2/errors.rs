//! EC2's answers turned into the contract's errors. The SDK has already
//! retried what it could (throttling, 5xx, timeouts) when an error gets
//! here. Transient trouble must come back as `unavailable`, never as
//! `not-found` (Docker would take a failed lookup for a missing volume and
//! create another). Every message reads "<Action>: <Code>: <message>",
//! which guests may match on (e.g. "already in use" after AttachVolume).

use aws_sdk_ec2::error::SdkError;

use crate::capabilities::aws::{self, ServiceError};
use crate::runtime::bindings::BackendError;

/// A `map_err` adapter: `call.send().await.map_err(sdk("CreateVolume"))`.
pub fn sdk<E: ServiceError>(action: &'static str) -> impl Fn(SdkError<E>) -> BackendError {
    aws::mapper(action, classify)
}

/// Map one SDK error of `action`.
pub fn from_sdk<E: ServiceError>(action: &str, err: &SdkError<E>) -> BackendError {
    aws::sdk_error(action, err, classify)
}

/// Map EC2's error `code` (with its `message` and HTTP `status`) for `action`.
/// Unlike [`aws::error_text`], an empty code or message is kept as EC2 sent
/// it (only a missing one reads "Unknown" or "(no message)").
pub fn classify(
    action: &str,
    code: Option<&str>,
    message: Option<&str>,
    status: Option<u16>,
) -> BackendError {
    let code = code.unwrap_or("Unknown");
    let message = message.unwrap_or("(no message)");
    let text = format!("{action}: {code}: {message}");
    if is_transient(code, status) {
        BackendError::Unavailable(text)
    } else if code.ends_with(".NotFound") {
        BackendError::NotFound(text)
    } else if matches!(code, "UnauthorizedOperation" | "AuthFailure" | "Blocked")
        || code.starts_with("UnauthorizedOperation")
    {
        BackendError::PermissionDenied(text)
    } else if is_conflict(code, message) {
        BackendError::Conflict(text)
    } else if code.starts_with("InvalidParameter")
        || matches!(code, "MissingParameter" | "InvalidParameterCombination")
    {
        BackendError::InvalidArgument(text)
    } else {
        BackendError::Internal(text)
    }
}

/// Throttling, EC2's own trouble, and any 5xx answer.
fn is_transient(code: &str, status: Option<u16>) -> bool {
    matches!(
        code,
        "Throttling"
            | "ThrottlingException"
            | "RequestLimitExceeded"
            | "InternalError"
            | "InternalFailure"
            | "ServiceUnavailable"
            | "Unavailable"
            | "RequestTimeout"
            | "RequestTimeoutException"
    ) || status.is_some_and(|s| s >= 500)
}

/// States that forbid the call, and device names already taken.
fn is_conflict(code: &str, message: &str) -> bool {
    matches!(
        code,
        "IncorrectState"
            | "VolumeInUse"
            | "InvalidVolume.ZoneMismatch"
            | "IncorrectInstanceState"
            | "IncorrectModificationState"
            | "AttachmentLimitExceeded"
            | "IdempotentParameterMismatch"
    ) || (code == "InvalidParameterValue" && message.contains("already in use"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(code: &str, status: u16) -> &'static str {
        aws::case_name(&classify(
            "AttachVolume",
            Some(code),
            Some("m"),
            Some(status),
        ))
    }

    #[test]
    fn codes_map_to_the_contracts_errors() {
        let cases = [
            ("RequestLimitExceeded", 503, "unavailable"),
            ("Throttling", 400, "unavailable"),
            ("InternalError", 500, "unavailable"),
            ("ServiceUnavailable", 503, "unavailable"),
            ("Unavailable", 503, "unavailable"),
            ("SomethingNew", 502, "unavailable"),
            ("InvalidVolume.NotFound", 400, "not-found"),
            ("InvalidInstanceID.NotFound", 400, "not-found"),
            ("InvalidSnapshot.NotFound", 400, "not-found"),
            ("UnauthorizedOperation", 403, "permission-denied"),
            ("AuthFailure", 401, "permission-denied"),
            ("Blocked", 403, "permission-denied"),
            ("IncorrectState", 400, "conflict"),
            ("VolumeInUse", 400, "conflict"),
            ("InvalidVolume.ZoneMismatch", 400, "conflict"),
            ("IncorrectInstanceState", 400, "conflict"),
            ("IncorrectModificationState", 400, "conflict"),
            ("AttachmentLimitExceeded", 400, "conflict"),
            ("IdempotentParameterMismatch", 400, "conflict"),
            ("InvalidParameterValue", 400, "invalid-argument"),
            ("InvalidParameter", 400, "invalid-argument"),
            ("InvalidParameterCombination", 400, "invalid-argument"),
            ("MissingParameter", 400, "invalid-argument"),
            ("DryRunOperation", 412, "internal"),
            ("TagLimitExceeded", 400, "internal"),
        ];
        for (code, status, expected) in cases {
            assert_eq!(kind(code, status), expected, "{code}");
        }
    }

    #[test]
    fn a_device_name_in_use_is_a_conflict_and_the_message_keeps_the_code() {
        assert_eq!(
            classify(
                "AttachVolume",
                Some("InvalidParameterValue"),
                Some("Attachment point /dev/sdf is already in use"),
                Some(400)
            ),
            BackendError::Conflict(
                "AttachVolume: InvalidParameterValue: Attachment point /dev/sdf is already in use"
                    .into()
            )
        );
    }

    #[test]
    fn missing_code_and_status_are_internal() {
        assert_eq!(
            classify("DescribeVolumes", None, None, None),
            BackendError::Internal("DescribeVolumes: Unknown: (no message)".into())
        );
    }
}
