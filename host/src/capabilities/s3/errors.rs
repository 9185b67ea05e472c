//! S3's answers turned into the contract's errors. The SDK has already
//! retried what it could (throttling, 5xx, timeouts) when an error gets
//! here. Transient trouble must come back as `unavailable`, never as
//! `not-found` (Docker would take a failed lookup for a missing volume and
//! create another). Every message reads "<Action>: <Code>: <message>",
//! which guests may match on.
//!
//! S3 answers some calls without a body (HeadBucket, HeadObject): there is
//! no code then, and the HTTP status decides (404 not-found, 403
//! permission-denied, 5xx unavailable).

use aws_sdk_s3::error::SdkError;

use crate::capabilities::aws::{self, ServiceError};
use crate::runtime::bindings::BackendError;

/// A `map_err` adapter: `call.send().await.map_err(sdk("CreateBucket"))`.
pub fn sdk<E: ServiceError>(action: &'static str) -> impl Fn(SdkError<E>) -> BackendError {
    aws::mapper(action, classify)
}

/// Map S3's error `code` (with its `message` and HTTP `status`) for
/// `action`. Without a code (a bodiless answer) the status decides.
pub fn classify(
    action: &str,
    code: Option<&str>,
    message: Option<&str>,
    status: Option<u16>,
) -> BackendError {
    // A bodiless answer has no code: its status names one.
    let by_status = status.map(|s| match s {
        404 => "NotFound".to_string(),
        403 => "Forbidden".to_string(),
        s => format!("HTTP{s}"),
    });
    let code = code.filter(|c| !c.is_empty()).or(by_status.as_deref());
    let (code, text) = aws::error_text(action, code, message);
    if is_transient(code, status) {
        BackendError::Unavailable(text)
    } else if matches!(
        code,
        "NoSuchBucket" | "NoSuchKey" | "NotFound" | "NoSuchUpload" | "NoSuchVersion"
    ) {
        BackendError::NotFound(text)
    } else if matches!(
        code,
        "AccessDenied"
            | "Forbidden"
            | "InvalidAccessKeyId"
            | "SignatureDoesNotMatch"
            | "AllAccessDisabled"
            | "AccountProblem"
            | "InvalidSecurity"
            | "ExpiredToken"
            | "InvalidToken"
    ) {
        BackendError::PermissionDenied(text)
    } else if matches!(code, "BucketAlreadyExists" | "BucketAlreadyOwnedByYou") {
        BackendError::AlreadyExists(text)
    } else if matches!(
        code,
        "BucketNotEmpty" | "InvalidBucketState" | "TooManyBuckets" | "PreconditionFailed"
    ) {
        BackendError::Conflict(text)
    } else if matches!(
        code,
        "InvalidBucketName"
            | "InvalidArgument"
            | "InvalidRequest"
            | "EntityTooLarge"
            | "KeyTooLongError"
            | "InvalidLocationConstraint"
            | "IllegalLocationConstraintException"
            | "MalformedXML"
            | "InvalidObjectName"
            | "InvalidRange"
    ) {
        BackendError::InvalidArgument(text)
    } else {
        // An unknown code: fall back on what the status says.
        match status {
            Some(404) => BackendError::NotFound(text),
            Some(403 | 401) => BackendError::PermissionDenied(text),
            Some(409) => BackendError::Conflict(text),
            _ => BackendError::Internal(text),
        }
    }
}

/// Throttling, S3's own trouble, and any 5xx answer.
fn is_transient(code: &str, status: Option<u16>) -> bool {
    matches!(
        code,
        "SlowDown"
            | "Throttling"
            | "ThrottlingException"
            | "RequestLimitExceeded"
            | "TooManyRequests"
            | "InternalError"
            | "ServiceUnavailable"
            | "RequestTimeout"
            | "RequestTimeoutException"
            | "OperationAborted"
    ) || status.is_some_and(|s| s >= 500 || s == 429)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_the_contracts_errors() {
        let cases = [
            ("SlowDown", 503, "unavailable"),
            ("Throttling", 400, "unavailable"),
            ("InternalError", 500, "unavailable"),
            ("ServiceUnavailable", 503, "unavailable"),
            ("RequestTimeout", 400, "unavailable"),
            ("OperationAborted", 409, "unavailable"),
            ("SomethingNew", 502, "unavailable"),
            ("NoSuchKey", 404, "not-found"),
            ("NoSuchBucket", 404, "not-found"),
            ("NotFound", 404, "not-found"),
            ("AccessDenied", 403, "permission-denied"),
            ("InvalidAccessKeyId", 403, "permission-denied"),
            ("SignatureDoesNotMatch", 403, "permission-denied"),
            ("BucketAlreadyExists", 409, "already-exists"),
            ("BucketAlreadyOwnedByYou", 409, "already-exists"),
            ("BucketNotEmpty", 409, "conflict"),
            ("TooManyBuckets", 400, "conflict"),
            ("InvalidBucketName", 400, "invalid-argument"),
            ("InvalidArgument", 400, "invalid-argument"),
            ("EntityTooLarge", 400, "invalid-argument"),
            ("InvalidLocationConstraint", 400, "invalid-argument"),
            ("SomethingElse", 404, "not-found"),
            ("SomethingElse", 403, "permission-denied"),
            ("SomethingElse", 409, "conflict"),
            ("SomethingElse", 400, "internal"),
        ];
        for (code, status, expected) in cases {
            let err = classify("PutObject", Some(code), Some("m"), Some(status));
            assert_eq!(aws::case_name(&err), expected, "{code} {status}");
        }
    }

    #[test]
    fn a_bodiless_answer_is_judged_by_its_status() {
        assert_eq!(
            classify("HeadBucket", None, None, Some(404)),
            BackendError::NotFound("HeadBucket: NotFound: (no message)".into())
        );
        assert_eq!(
            classify("HeadBucket", Some(""), None, Some(403)),
            BackendError::PermissionDenied("HeadBucket: Forbidden: (no message)".into())
        );
        assert_eq!(
            aws::case_name(&classify("HeadBucket", None, None, Some(503))),
            "unavailable"
        );
        assert_eq!(
            classify("ListBuckets", None, None, None),
            BackendError::Internal("ListBuckets: Unknown: (no message)".into())
        );
    }

    #[test]
    fn the_message_keeps_action_and_code() {
        assert_eq!(
            classify(
                "CreateBucket",
                Some("BucketAlreadyExists"),
                Some("The requested bucket name is not available"),
                Some(409)
            ),
            BackendError::AlreadyExists(
                "CreateBucket: BucketAlreadyExists: The requested bucket name is not available"
                    .into()
            )
        );
    }
}
