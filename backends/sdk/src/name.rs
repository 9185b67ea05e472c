//! Volume names, checked once at the boundary.
//!
//! Backends turn names into file names, cloud tags and kv keys, so the SDK
//! refuses anything that could escape a directory or confuse a provider
//! before a backend sees it. The rule is Docker's (`[a-zA-Z0-9][a-zA-Z0-9_.-]*`)
//! plus a length cap; Docker's anonymous volumes (64 hex digits) pass.

use core::fmt;
use core::ops::Deref;

use crate::{Error, Result};

/// Longest name accepted, in characters (all ASCII, so also bytes).
pub const MAX_NAME_LEN: usize = 200;

/// A volume name that follows the rule above. Derefs to `&str`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VolumeName(String);

impl VolumeName {
    /// Check `name`; `invalid-argument` saying what is allowed when it fails.
    pub fn new(name: &str) -> Result<VolumeName> {
        if is_valid(name) {
            Ok(VolumeName(name.to_owned()))
        } else {
            Err(Error::invalid_argument(format!(
                "invalid volume name {}: use 1-{MAX_NAME_LEN} letters, digits, '_', '.', '-', \
                 starting with a letter or digit",
                quote_short(name)
            )))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_valid(name: &str) -> bool {
    let bytes = name.as_bytes();
    let Some(first) = bytes.first() else {
        return false;
    };
    bytes.len() <= MAX_NAME_LEN
        && first.is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// The name quoted and escaped for a message, cut short when it is long so
/// a 10 KB name does not become a 10 KB error.
fn quote_short(name: &str) -> String {
    const SHOWN: usize = 40;
    match name.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!(
            "{:?}... ({} characters)",
            &name[..cut],
            name.chars().count()
        ),
        None => format!("{name:?}"),
    }
}

impl Deref for VolumeName {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for VolumeName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for VolumeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<VolumeName> for String {
    fn from(name: VolumeName) -> String {
        name.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_docker_style_names() {
        for name in [
            "a",
            "pgdata",
            "my-volume_1.backup",
            "0start-with-digit",
            "A.b-C_d",
            // Docker's anonymous volume names.
            "3f2a1b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708",
            &"x".repeat(MAX_NAME_LEN),
        ] {
            assert_eq!(VolumeName::new(name).unwrap().as_str(), name);
        }
    }

    #[test]
    fn refuses_names_that_could_escape_or_confuse() {
        for name in [
            "",
            "../x",
            "a/b",
            "/abs",
            ".hidden",
            "-dash",
            "_under",
            "with space",
            "nul\0byte",
            "tab\t",
            "ünïcode",
            "emoji🙂",
            "a\\b",
            &"x".repeat(MAX_NAME_LEN + 1),
            &"y".repeat(300),
        ] {
            let err = VolumeName::new(name).unwrap_err();
            assert_eq!(err.kind(), "invalid-argument", "{name:?}");
        }
    }

    #[test]
    fn message_names_the_input_and_the_rule() {
        let err = VolumeName::new("a/b").unwrap_err();
        assert_eq!(
            err.message(),
            "invalid volume name \"a/b\": use 1-200 letters, digits, '_', '.', '-', \
             starting with a letter or digit"
        );
    }

    #[test]
    fn message_escapes_control_characters_and_shortens_long_names() {
        assert!(
            VolumeName::new("a\0b")
                .unwrap_err()
                .message()
                .contains(r#""a\0b""#)
        );
        let long = VolumeName::new(&"z".repeat(300)).unwrap_err();
        assert!(
            long.message().contains("(300 characters)"),
            "{}",
            long.message()
        );
        assert!(long.message().len() < 200);
    }
}
