//! Validation of names that become paths or keys on this host: volume names,
//! backend names, image names. Checked in the host even when a backend (or
//! the SDK) checked them already, because the host builds paths from them
//! and a module's word is not trusted.

use thiserror::Error;

/// The longest name accepted (Docker's anonymous volumes use 64).
pub const MAX_NAME_LEN: usize = 200;

#[derive(Debug, Error, PartialEq, Eq)]
#[error(
    "invalid {what} name {name:?}: use 1-{MAX_NAME_LEN} letters, digits, '_', '.', '-', starting with a letter or digit"
)]
pub struct InvalidName {
    pub what: &'static str,
    pub name: String,
}

/// Check `name` against Docker's volume-name rule (plus a length cap):
/// `[A-Za-z0-9][A-Za-z0-9_.-]*`, so it can never hold `/`, `..` as a
/// whole component, NUL, or start with a dot.
pub fn check(what: &'static str, name: &str) -> Result<(), InvalidName> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if first_ok && rest_ok && name.len() <= MAX_NAME_LEN {
        Ok(())
    } else {
        // Cap what we echo back: the name came from outside.
        let shown: String = name.chars().take(MAX_NAME_LEN + 8).collect();
        Err(InvalidName { what, name: shown })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_docker_names() {
        for ok in [
            "v1",
            "pg-data",
            "my_vol.2",
            "a",
            &"f".repeat(64),
            &"x".repeat(MAX_NAME_LEN),
        ] {
            assert_eq!(check("volume", ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn refuses_hostile_names() {
        let long = "x".repeat(MAX_NAME_LEN + 1);
        for bad in [
            "", "../x", "a/b", ".hidden", "-x", "_x", "a b", "a\0b", "é", &long, "..",
        ] {
            let err = check("volume", bad).unwrap_err();
            assert!(
                err.to_string().starts_with("invalid volume name"),
                "{bad}: {err}"
            );
        }
    }
}
