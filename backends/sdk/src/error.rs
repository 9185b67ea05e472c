//! Constructors and accessors for the contract's `error` variant.
//!
//! The type itself is generated from the WIT (so it crosses the boundary
//! as is); this only adds short ways to build and read it. wit-bindgen
//! already implements `Display` (as the `Debug` form, e.g.
//! `Error::NotFound("...")`) and `std::error::Error`; [`Error::message`] and
//! [`Error::kind`] give the parts separately.

use crate::Error;

impl Error {
    /// The named volume (or a resource it needs) does not exist. Never for
    /// transient trouble: Docker takes it as "create a new volume".
    pub fn not_found(message: impl Into<String>) -> Error {
        Error::NotFound(message.into())
    }

    /// The thing to create exists already and cannot be adopted.
    pub fn already_exists(message: impl Into<String>) -> Error {
        Error::AlreadyExists(message.into())
    }

    /// The caller's input is wrong (name, option, size). Not retried.
    pub fn invalid_argument(message: impl Into<String>) -> Error {
        Error::InvalidArgument(message.into())
    }

    /// The request clashes with the current state (attached elsewhere,
    /// exists with other options).
    pub fn conflict(message: impl Into<String>) -> Error {
        Error::Conflict(message.into())
    }

    /// Transient: retrying later may succeed.
    pub fn unavailable(message: impl Into<String>) -> Error {
        Error::Unavailable(message.into())
    }

    /// The provider or the host's policy refused the request.
    pub fn permission_denied(message: impl Into<String>) -> Error {
        Error::PermissionDenied(message.into())
    }

    /// A bug or an unexpected answer; not the caller's fault.
    pub fn internal(message: impl Into<String>) -> Error {
        Error::Internal(message.into())
    }

    /// The message for a person, without the kind.
    pub fn message(&self) -> &str {
        match self {
            Error::NotFound(m)
            | Error::AlreadyExists(m)
            | Error::InvalidArgument(m)
            | Error::Conflict(m)
            | Error::Unavailable(m)
            | Error::PermissionDenied(m)
            | Error::Internal(m) => m,
        }
    }

    /// The case's WIT name, e.g. `"not-found"`.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::NotFound(_) => "not-found",
            Error::AlreadyExists(_) => "already-exists",
            Error::InvalidArgument(_) => "invalid-argument",
            Error::Conflict(_) => "conflict",
            Error::Unavailable(_) => "unavailable",
            Error::PermissionDenied(_) => "permission-denied",
            Error::Internal(_) => "internal",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors_pick_the_case_and_keep_the_message() {
        let err = Error::conflict("volume x is attached");
        assert_eq!(err, Error::Conflict("volume x is attached".into()));
        assert_eq!(err.kind(), "conflict");
        assert_eq!(err.message(), "volume x is attached");
        assert!(err.to_string().contains("volume x is attached"));
    }
}
